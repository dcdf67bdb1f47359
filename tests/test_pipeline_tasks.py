"""What a training task does around the library in a pod: resume state that survives a
retried pod (a real GCS emulator), TensorBoard curves in the store while the task trains,
the DeepSpeed switch, the torchrun command line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fgsgl import storage
from fgsgl.runtime.parameters import training_overrides
from fgsgl.runtime.tasks import deepspeed_argument, resumable_output, torchrun_command

pytest_plugins = ("object_stores",)  # the `gcs`, `s3` and `store` fixtures


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_retried_pod_resumes_from_the_checkpoints_of_the_attempt_before(store, tmp_path: Path):
    uri = store.uri("root/run-1/train-stage2/model")  # KFP gives every retry this same URI
    resume = uri + ".resume/checkpoints"

    # attempt 1: two epochs written, then the node goes away
    first = tmp_path / "pod1" / "model"
    preempted = pytest.raises(RuntimeError, match="preempted")
    with preempted, resumable_output(str(first), uri, interval=0.05):
        ckpt = first / "checkpoints"
        (ckpt / "best").mkdir(parents=True)
        (ckpt / "best" / "heads.safetensors").write_bytes(b"heads after epoch 1")
        (ckpt / "last.pt").write_bytes(b"state after epoch 1")
        wait_for(lambda: "last.pt" in storage.list_files(resume))
        (ckpt / "last.pt").write_bytes(b"state after epoch 2")
        (ckpt / ".last.pt.tmp-7").write_bytes(b"half written")
        raise RuntimeError("preempted")
    assert sorted(storage.list_files(resume)) == ["best/heads.safetensors", "last.pt"]

    # attempt 2: a fresh pod, an empty staging folder; the checkpoints come back
    second = tmp_path / "pod2" / "model"
    with resumable_output(str(second), uri, interval=0.05):
        ckpt = second / "checkpoints"
        assert (ckpt / "last.pt").read_bytes() == b"state after epoch 2"
        assert (ckpt / "best" / "heads.safetensors").read_bytes() == b"heads after epoch 1"
        (ckpt / "last.pt").write_bytes(b"state after epoch 3")
    # finished: the output goes up with the artifact; the resume copy is gone
    assert storage.list_files(resume) == {}


def test_the_curves_reach_their_artifact_uri_while_training_and_survive_a_retry(
    store, tmp_path: Path
) -> None:
    from train_fixtures import read_scalars

    from fgsgl.train.events import TensorBoardLog

    uri = store.uri("root/run-1/train-stage1/model")
    tb_uri = store.uri("root/run-1/train-stage1/tensorboard")  # what Tensorboards is given

    def remote_curves(into: Path) -> dict:
        for name in storage.list_files(tb_uri + "/"):
            storage.download(storage.join(tb_uri, name), into / name)
        return read_scalars(into)

    first = tmp_path / "pod1"
    live = {str(first / "tensorboard"): tb_uri}
    with (
        pytest.raises(RuntimeError, match="preempted"),
        resumable_output(str(first / "model"), uri, live=live, interval=0.05, live_interval=0.05),
    ):
        curves = TensorBoardLog(first / "tensorboard")
        curves.step(1, {"total": 2.5}, lr=1e-3)
        wait_for(lambda: bool(storage.list_files(tb_uri + "/")))  # mid-training, in the store
        assert remote_curves(tmp_path / "seen")["loss/total"] == [(1, 2.5)]
        curves.step(2, {"total": 2.0}, lr=1e-3)
        curves.close()
        raise RuntimeError("preempted")

    second = tmp_path / "pod2"
    live = {str(second / "tensorboard"): tb_uri}
    with resumable_output(str(second / "model"), uri, live=live, interval=0.05):
        assert read_scalars(second / "tensorboard")["loss/total"] == [(1, 2.5), (2, 2.0)]
        curves = TensorBoardLog(second / "tensorboard", resume_step=1)
        curves.step(2, {"total": 1.5}, lr=1e-3)
        curves.close()
    # after success the artifact's URI holds both attempts' files: one curve, step 2 redone
    assert len(storage.list_files(tb_uri + "/")) == 2
    assert remote_curves(tmp_path / "after")["loss/total"] == [(1, 2.5), (2, 1.5)]


def test_local_outputs_need_no_mirror(tmp_path: Path) -> None:
    out = tmp_path / "model"
    with resumable_output(str(out), str(out), interval=0.01):
        pass
    assert not out.exists()  # nothing made: the trainer resumes from OUT itself


def test_deepspeed_parameter() -> None:
    assert deepspeed_argument("off") is None
    assert deepspeed_argument("") is None
    assert deepspeed_argument("on") == ""  # fgsgl.train.run: "" = the default config
    assert deepspeed_argument("/etc/ds/zero3.json") == "/etc/ds/zero3.json"


def test_the_torchrun_command_carries_the_same_config() -> None:
    from fgsgl.settings import load_config

    params = {
        "seed": 3, "backbone": "clip:/models/clip", "mid_layer": 0, "stage2_lr": 2e-5,
        "fg_sa": False, "text_granularity": "class", "precision": "bf16", "frames": "ignored",
    }  # fmt: skip
    overrides = training_overrides(params)
    assert overrides["model.mid_layer"] is None and "frames" not in overrides
    cmd = torchrun_command(4, 2, "F", "T", "O", "I", "W", overrides, "")
    assert cmd[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4", "-m"]
    assert cmd[6:13] == ["fgsgl", "train", "F", "T", "O", "--stage", "2"]
    assert cmd[13:17] == ["--init", "I", "--weights", "W"] and cmd[-1] == "--deepspeed"
    sets = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--set"]
    assert load_config(overrides=sets) == load_config(overrides=overrides)
