"""The acceptance of FG-Text for datasets that have none: an iMiGUE-layout release with
skeletons and no annotations goes through `fgsgl import imigue --skeletons` and
`run-local --variant all`: every variant runs, the fine-grained ones on attributes derived
from the OpenPose skeletons, and a second run executes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skeleton_helpers import as_openpose

from fgsgl.cli import main
from fgsgl.dataset import load_dataset

pytestmark = pytest.mark.slow

FOLDERS = {"train": "train", "val": "validate", "test": "test"}
VIDEO_FOLDERS = {"train": "train_data", "val": "validation_data", "test": "test_data"}
TINY = {
    "num_frames": 4,
    "frame_size": 32,
    "stage1.epochs": 1,
    "stage2.epochs": 1,
    "optim.batch_size": 4,
    "model.proj_hidden": 16,
    "backbone": "tiny-clip:image=32,patch=8,width=32,layers=2,heads=2",
}


def imigue_release(src: Path, synthmg: Path) -> None:
    """SynthMG clips as an iMiGUE (MiGA) release: one video per clip, its label file
    (gesture id = label + 1, the whole video), its OpenPose `_light_hand.csv`, in the tree
    of its split; the manifest's attributes are not part of it."""
    m = pd.read_csv(synthmg / "manifest.csv")
    for i, clip in enumerate(m.itertuples()):
        vid = f"{i + 1:04d}"
        split = FOLDERS[clip.split]
        labels = src / f"imigue_skeleton_{split}" / vid
        labels.mkdir(parents=True)
        k = np.load(synthmg / clip.keypoints)
        (labels / f"{vid}_label.csv").write_text(f"{clip.label + 1},0,{len(k) - 1}\n")
        points = as_openpose(k)
        lines = [
            ",".join([str(f), *(f"{v:g}" for v in p.reshape(-1))]) for f, p in enumerate(points)
        ]
        (labels / f"{vid}_light_hand.csv").write_text("\n".join(lines) + "\n")
        video = src / "imigue_rgb_phase1" / VIDEO_FOLDERS[clip.split] / vid / f"{vid}.mp4"
        video.parent.mkdir(parents=True)
        shutil.copy(synthmg / clip.video, video)


def test_imigue_with_skeletons_and_no_annotations_runs_every_variant(tmp_path, capsys):
    from fgsgl.pipelines.local import run_local
    from fgsgl.synth import SynthConfig
    from fgsgl.synth.generate import generate

    config = SynthConfig(classes=4, clips_per_class=4, subjects=3, size=64, keypoints=True)
    generate(tmp_path / "synthmg", config, workers=1, progress=False)
    imigue_release(tmp_path / "release", tmp_path / "synthmg")
    data = tmp_path / "imigue"
    assert main(["import", "imigue", str(tmp_path / "release"), str(data), "--skeletons"]) == 0
    capsys.readouterr()
    manifest = load_dataset(str(data)).manifest
    assert manifest["initiator"].isna().all() and manifest["keypoints"].notna().all()

    cold = run_local(data, "all", tmp_path / "runs", TINY, echo=lambda line: None)
    assert [r.status for r in cold.runs] == ["succeeded"] * 6
    full = cold.runs[0]
    texts = json.loads(
        (Path(full.task("encode_text").outputs["texts"]) / "metadata.json").read_text()
    )
    assert texts["fine_grained"] and sum(texts["fg_sources"].values()) == 16
    assert texts["fg_sources"].get("derived", 0) >= 12  # the rest: mixed with class values
    report = Path(full.evaluation) / "report.md"
    assert "FG-Text (T_fg per clip) | derived" in report.read_text()
    for run in cold.runs:
        assert set(run.metrics()) == {"top1", "top5", "macro_f1", "mean_class_acc"}

    warm = run_local(data, "all", tmp_path / "runs", TINY, echo=lambda line: None)
    assert not warm.executions


def test_no_annotations_and_no_skeletons_runs_what_can_run_and_refuses_the_rest(tmp_path, capsys):
    """Videos only: the variants without T_fg run at once (clip_mg after the pose step);
    full, no_cp_a and no_ml_co are refused before any task starts, saying how to get T_fg."""
    from fgsgl.errors import FgsglError
    from fgsgl.pipelines.local import run_local
    from fgsgl.pose.runtime import PoseRuntimeError, find_pose_python
    from fgsgl.synth import SynthConfig
    from fgsgl.synth.generate import generate

    try:
        find_pose_python()
    except PoseRuntimeError as e:  # `make test` builds the pose runtime
        pytest.skip(str(e))
    config = SynthConfig(classes=3, clips_per_class=3, subjects=3, keypoints=True)
    generate(tmp_path / "synthmg", config, workers=1, progress=False)
    videos = tmp_path / "videos-only"
    shutil.copytree(tmp_path / "synthmg", videos, ignore=shutil.ignore_patterns("keypoints"))
    m = pd.read_csv(videos / "manifest.csv")
    m = m[["clip_id", "video", "label", "split", "subject"]]
    m.to_csv(videos / "manifest.csv", index=False)
    (videos / "synthmg.json").unlink()  # its record of keypoints that are gone

    root = tmp_path / "runs"
    for fine in ("full", "no_cp_a", "no_ml_co"):
        with pytest.raises(FgsglError) as e:
            run_local(videos, fine, root, TINY, echo=lambda line: None)
        assert e.value.message.startswith(f"run(s) {fine} train FG-SA on fine-grained texts")
        assert sum("to get fine-grained texts" in p for p in e.value.problems) == 3
    with pytest.raises(FgsglError, match="need per-frame keypoints"):
        run_local(videos, "clip_mg", root, TINY, echo=lambda line: None)
    assert not (root / "runs").exists()  # refused at planning time: no task ran

    coarse = run_local(videos, "no_fg_sa,class_text", root, TINY, echo=lambda line: None)
    assert [r.status for r in coarse.runs] == ["succeeded"] * 2
    texts = Path(coarse.runs[0].task("encode_text").outputs["texts"])
    assert json.loads((texts / "metadata.json").read_text())["fine_grained"] is False
    report = (Path(coarse.runs[0].evaluation) / "report.md").read_text()
    assert "FG-Text (T_fg per clip) | none" in report

    posed = tmp_path / "posed"
    assert main(["pose", str(videos), str(posed), "--no-progress"]) == 0
    assert "keypoints for 9 of 9 videos" in capsys.readouterr().out
    baseline = run_local(posed, "clip_mg", root, TINY, echo=lambda line: None)
    assert baseline.runs[0].status == "succeeded"
    assert set(baseline.runs[0].metrics()) == {"top1", "top5", "macro_f1", "mean_class_acc"}
