"""The pose step for real: MediaPipe Holistic in its own runtime (`make pose-venv`) on
SynthMG's drawn people, scored against the skeleton that drew them; bad videos, resuming,
the runtime's refusals, and the component under kfp.local."""

# No `from __future__ import annotations`: KFP reads the annotations of the pipeline
# function in the last test at run time.
import builtins
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from video_helpers import with_bad_files

from fgsgl.attributes.skeleton import find_layout
from fgsgl.dataset import load_dataset
from fgsgl.errors import FgsglError, UsageError
from fgsgl.pose import JOINTS, LAYOUT, estimate_pose
from fgsgl.pose.runtime import EstimatorProcess, PoseRuntimeError, find_pose_python
from fgsgl.pose.step import merge_ranges, to_pixels
from fgsgl.synth.body import JOINTS as DRAWN

BAD = 4  # with_bad_files adds a corrupt, a truncated, an empty and a missing video


@pytest.fixture(scope="module")
def pose_python() -> str:
    try:
        return find_pose_python()
    except PoseRuntimeError as e:  # `make test` builds it; a bare pytest may not have it
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def synthmg(tmp_path_factory) -> Path:
    """Default SynthMG (128 px, 24 frames) with its drawn skeleton: 6 clips, plus 4 bad."""
    from fgsgl.synth import SynthConfig
    from fgsgl.synth.generate import generate

    root = tmp_path_factory.mktemp("pose") / "synthmg"
    generate(root, SynthConfig(classes=3, clips_per_class=2, subjects=3, keypoints=True), workers=1)
    return with_bad_files(root, root.with_name("with-bad"))[0]


@pytest.fixture(scope="module")
def estimated(synthmg, pose_python) -> tuple[Path, dict]:
    out = synthmg.parent / "estimated"
    summary = estimate_pose(str(synthmg), str(out), max_failure_ratio=1.0, progress=False)
    return out, summary


def test_the_estimated_joints_land_on_the_drawn_skeleton(synthmg, estimated) -> None:
    out, summary = estimated
    truth, est = load_dataset(str(synthmg)), load_dataset(str(out))
    assert summary["videos"] == 6 + BAD and summary["done"] == 6 and summary["failed"] == BAD
    assert summary["found_share"] == 1.0  # a person in every frame of the good videos
    good = truth.manifest["keypoints"].notna() & (truth.manifest["keypoints"] != "")
    drawn = {name: i for i, name in enumerate(DRAWN)}
    found = {name: i for i, name in enumerate(JOINTS)}
    for t_rel, e_rel in zip(
        truth.manifest["keypoints"][good], est.manifest["keypoints"][good], strict=True
    ):
        t, e = np.load(truth.keypoints_uri(t_rel)), np.load(est.keypoints_uri(e_rel))
        assert e.shape == (24, len(JOINTS), 3) and e.dtype == np.float32
        head = np.linalg.norm(t[:, drawn["left_ear"], :2] - t[:, drawn["right_ear"], :2], axis=1)
        for joint in ("nose", "left_eye", "right_eye", "left_shoulder", "right_shoulder"):
            error = np.linalg.norm(e[:, found[joint], :2] - t[:, drawn[joint], :2], axis=1)
            assert np.mean(error <= 0.5 * head) >= 0.9, joint  # PCK@0.5 head width
    # the output reads as a dataset whose keypoints fgsgl knows how to read
    assert find_layout(est.keypoint_joints()).name == LAYOUT
    assert est.manifest["video"].map(lambda v: Path(v).is_absolute()).all()


def test_bad_videos_are_failures_and_the_others_go_on(estimated) -> None:
    out, _ = estimated
    failures = pd.read_csv(out / "failures.csv")
    assert sorted(failures["clip_id"]) == sorted(
        ["bad_corrupt", "bad_truncated", "bad_empty", "bad_missing"]
    )
    assert failures["error"].str.len().min() > 0
    manifest = pd.read_csv(out / "manifest.csv")
    assert manifest.set_index("clip_id").loc[failures["clip_id"], "keypoints"].isna().all()
    record = json.loads((out / "keypoints.json").read_text())
    assert record["made_by"] == "fgsgl pose" and record["keypoints"]["joints"] == list(JOINTS)


def test_a_rerun_resumes_and_too_many_failures_stop_it_after_writing(
    synthmg, estimated, pose_python
) -> None:
    out, _ = estimated
    files = sorted((out / "keypoints").glob("*.npy"))
    before = {p: p.stat().st_mtime_ns for p in files}
    with pytest.raises(FgsglError, match=r"4 of 10 videos failed .* --max-failure-ratio 0\.05"):
        estimate_pose(str(synthmg), str(out), progress=False)
    assert {p: p.stat().st_mtime_ns for p in files} == before  # nothing estimated again
    record = json.loads((out / "keypoints.json").read_text())
    assert record["summary"]["resumed"] == 6  # and the tables are written all the same


def test_out_must_not_be_the_input_or_another_dataset(synthmg, tmp_path) -> None:
    with pytest.raises(UsageError, match="OUT is the input dataset"):
        estimate_pose(str(synthmg), str(synthmg), progress=False)
    with pytest.raises(FgsglError, match="did not write"):
        estimate_pose(str(synthmg), str(synthmg.with_name("synthmg")), progress=False)
    with pytest.raises(UsageError) as e:
        estimate_pose(str(synthmg), str(tmp_path / "o"), model="x", frames="y", progress=False)
    assert len(e.value.problems) == 2  # every bad setting at once


def test_a_python_without_mediapipe_is_refused_with_how_to_get_one(tmp_path) -> None:
    with pytest.raises(PoseRuntimeError, match="has no MediaPipe; `make pose-venv`"):
        EstimatorProcess(sys.executable)  # fgsgl's own: kfp's protobuf, no MediaPipe
    with pytest.raises(PoseRuntimeError, match=r"--pose-python .*: not found"):
        find_pose_python(tmp_path / "no-python")


def test_clip_ranges_merge_into_tracks() -> None:
    assert merge_ranges([(100, 150), (0, 20), (30, 40), (160, 170)], gap=25) == [
        (0, 40),
        (100, 170),
    ]
    assert merge_ranges([(0, 10), (60, 70)], gap=25) == [(0, 10), (60, 70)]


def test_normalised_landmarks_become_pixels_and_missing_ones_stay_zero() -> None:
    k = np.zeros((1, len(JOINTS), 3), np.float32)
    k[0, 0] = (0.5, 0.25, 0.9)  # the nose, seen
    k[0, 33] = (0.0, 0.0, 1.0)  # the left hand's wrist at the frame's corner: tracked
    k[0, 34] = (0.1, 0.2, 1.0)
    px = to_pixels(k, width=200, height=100)
    assert px[0, 0].tolist() == [99.5, 24.5, pytest.approx(0.9)]
    assert px[0, 33].tolist() == [-0.5, -0.5, 1.0]  # a real point, not "not found"
    assert (px[0, 54:] == 0).all()  # the right hand was not tracked


@pytest.mark.filterwarnings("ignore:You may be attemping to run a task")  # kfp: the image
def test_the_component_runs_under_kfp_local(synthmg, pose_python, tmp_path, monkeypatch) -> None:
    from kfp import dsl, local

    from fgsgl.components import estimate_pose as component

    good = tmp_path / "good"
    good.mkdir()
    m = pd.read_csv(synthmg / "manifest.csv")
    m = m[~m["clip_id"].str.startswith("bad_")].head(2)
    m["video"] = [str(synthmg / v) for v in m["video"]]
    m.drop(columns=["keypoints"]).to_csv(good / "manifest.csv", index=False)
    (good / "classes.csv").write_bytes((synthmg / "classes.csv").read_bytes())

    @dsl.pipeline(name="pose")
    def pose(dataset: str) -> dsl.Dataset:
        return component(dataset=dataset, dataset_fingerprint="f", max_side=64).outputs["keypoints"]

    monkeypatch.setenv("FGSGL_POSE_PYTHON", pose_python)
    monkeypatch.setattr(builtins, "print", builtins.print)  # kfp.local swaps it
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "r"))
    out = pose(dataset=str(good)).output
    assert out.metadata["done"] == 2 and out.metadata["found_share"] == 1.0
    ds = load_dataset(out.path)
    assert len(ds.manifest) == 2 and ds.manifest["keypoints"].notna().all()
