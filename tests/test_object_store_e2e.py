"""A dataset and outputs in S3 (moto's server on loopback, the way MinIO is used): run-local
end to end from s3://, and a killed extraction or training pod that resumes from the store.

The pod of a Kubeflow task writes its outputs to a local staging folder that KFP uploads
when the task succeeds; what survives a killed pod is what fgsgl put in the store itself:
the extraction's shards (OUT in the store) and the training checkpoints mirrored to
`<output URI>.resume/` (fgsgl.runtime.tasks).
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from video_helpers import assert_same_artifact

from fgsgl import storage
from fgsgl.cli import main

pytestmark = pytest.mark.slow
pytest_plugins = ("object_stores",)  # the `s3` fixture

TINY = {
    "extract.num_frames": 4,
    "extract.frame_size": 32,
    "stage1.epochs": 1,
    "stage2.epochs": 1,
    "optim.batch_size": 4,
    "model.proj_hidden": 32,
}


def synth_dataset(out: Path, *, classes: int = 4, clips_per_class: int = 3) -> Path:
    from fgsgl.synth import SynthConfig
    from fgsgl.synth.generate import generate

    config = SynthConfig(
        classes=classes,
        clips_per_class=clips_per_class,
        subjects=3,
        size=32,
        frames=8,
        seed=3,
        keypoints=True,
    )
    generate(out, config, workers=1, progress=False)
    return out


def wait_until(predicate, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the process ended before {what} (exit {proc.returncode})")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_run_local_reads_a_dataset_in_s3_end_to_end(s3, tmp_path: Path, capsys) -> None:
    local = synth_dataset(tmp_path / "synthmg")
    storage.upload_dir(local, s3.uri("datasets/synthmg"))
    sets = [f"--set={k}={v}" for k, v in TINY.items()]
    root = tmp_path / "root"
    args = ["run-local", "--dataset", s3.uri("datasets/synthmg"), "--root", str(root)]
    assert main([*args, "--variant", "full", *sets]) == 0
    assert "full" in capsys.readouterr().out
    from fgsgl.runtime.runs import find_run

    run = find_run(root / "runs" / "full")
    assert run.status == "succeeded"
    frames = Path(run.task("extract_frames").outputs["frames"])
    meta = json.loads((frames / "metadata.json").read_text())
    assert meta["dataset"] == s3.uri("datasets/synthmg")
    from fgsgl.video.frames import FramesArtifact

    assert len(FramesArtifact.open(frames).index) == 12  # every clip, read from S3
    assert set(run.metrics()) == {"top1", "top5", "macro_f1", "mean_class_acc"}


def test_a_killed_extraction_into_s3_resumes_from_the_store(s3, tmp_path: Path) -> None:
    from fgsgl.video.extract import extract

    local = synth_dataset(tmp_path / "synthmg", classes=4, clips_per_class=6)
    dataset, out = s3.uri("datasets/synthmg"), s3.uri("artifacts/frames")
    storage.upload_dir(local, dataset)
    settings = ["--frames", "4", "--size", "32", "--clips-per-shard", "2", "--workers", "1"]
    cmd = [sys.executable, "-m", "fgsgl", "extract", dataset, out, *settings]
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        sidecars = lambda: [n for n in storage.list_files(out) if n.endswith(".json")]  # noqa: E731
        wait_until(lambda: len(sidecars()) >= 2, proc, "two shards were in the store")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not storage.exists(storage.join(out, "metadata.json"))  # cut short

    summary = extract(dataset, out, frames=4, size=32, clips_per_shard=2, workers=1)
    assert summary["skipped_shards"] >= 1 and summary["extracted"] == 24
    extract(str(local), str(tmp_path / "reference"), frames=4, size=32, clips_per_shard=2)
    got = tmp_path / "got"
    for name in storage.list_files(out):
        storage.download(storage.join(out, name), got / name)
    assert_same_artifact(got, tmp_path / "reference")


def test_a_killed_training_pod_resumes_from_checkpoints_mirrored_to_s3(s3, tmp_path: Path) -> None:
    """Two pods of one KFP task: the same output URI in S3, each its own empty local
    staging folder. The first is killed after an epoch checkpoint reached the store; the
    second restores it and ends where an uninterrupted run ends."""
    import os

    from train_fixtures import make_artifacts, read_scalars, tiny_clip_backbone

    from fgsgl.runtime.tasks import train_task
    from fgsgl.train import train
    from fgsgl.train.artifact import read_history

    frames, texts = make_artifacts(tmp_path, per_class={"train": 4, "val": 2, "test": 0})
    params = {
        "backbone": tiny_clip_backbone(tmp_path / "clip32"),
        "proj_hidden": 32,
        "batch_size": 4,
        "grad_accum": 2,
        "stage1_epochs": 3,
        "stage1_lr": 5e-3,
    }
    uri = s3.uri("v2/artifacts/fgsgl/run-1/train-stage1/model")  # every retry's URI
    board = s3.uri("v2/artifacts/fgsgl/run-1/train-stage1/tensorboard")
    task = {"stage": 1, "frames": str(frames), "texts": str(texts), "params": params}

    def pod(name: str) -> dict:
        return {
            **task,
            "out": str(tmp_path / name / "model"),
            "out_uri": uri,
            "tensorboard": str(tmp_path / name / "tensorboard"),
            "tensorboard_uri": board,
        }

    script = "import json, sys; from fgsgl.runtime.tasks import train_task; "
    script += "train_task(**json.loads(sys.argv[1]))"
    env = {**os.environ, "FGSGL_MIRROR_INTERVAL_S": "0.1"}
    cmd = [sys.executable, "-c", script, json.dumps(pod("pod1"))]
    resume = uri + ".resume/checkpoints/"
    with subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        wait_until(lambda: "last.pt" in storage.list_files(resume), proc, "a checkpoint in S3")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    summary = train_task(**pod("pod2"))  # a fresh pod: nothing local
    assert summary["resumed_from_epoch"] >= 1 and not summary["already_finished"]
    reference = tmp_path / "reference"
    overrides = {
        "model.backbone": params["backbone"],
        "model.proj_hidden": 32,
        "optim.batch_size": 4,
        "optim.grad_accum": 2,
        "stage1.epochs": 3,
        "stage1.lr": 5e-3,
    }
    train(str(frames), str(texts), str(reference), stage=1, overrides=overrides)
    timing = ("seconds", "samples_per_s")

    def history(out: Path) -> list[dict]:
        return [{k: v for k, v in e.items() if k not in timing} for e in read_history(out)]

    assert history(tmp_path / "pod2" / "model") == history(reference)
    assert storage.list_files(resume) == {}  # done: the resume copy is gone
    # the curve in the store is whole: the killed pod's steps and the resumed ones, once each
    got = tmp_path / "board"
    for name in storage.list_files(board):
        storage.download(storage.join(board, name), got / name)
    curves, ref = read_scalars(got), read_scalars(reference / "tensorboard")
    assert [s for s, _ in curves["loss/total"]] == [s for s, _ in ref["loss/total"]]
