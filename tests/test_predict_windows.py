"""`fgsgl predict --windows` on SynthMG long videos: a model trained on SynthMG clips spots
gestures in continuous recordings of the same people, scored against the exact segments
the generator put there; and what it refuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from train_fixtures import TINY_DEMO

from fgsgl.cli import main
from fgsgl.errors import FgsglError, UsageError
from fgsgl.predict import predict
from fgsgl.predict.scoring import score
from fgsgl.predict.spotting import Segment
from fgsgl.synth.config import LongConfig
from fgsgl.synth.generate import SynthConfig, generate
from fgsgl.synth.long import generate_long
from fgsgl.text.encode import encode_texts
from fgsgl.train import train
from fgsgl.video.extract import extract

pytestmark = pytest.mark.slow  # trains a tiny model once

TINY = TINY_DEMO
SEGMENT_COLUMNS = [
    "video", "start_frame", "end_frame", "start_s", "end_s", "label", "class_name", "score",
]  # fmt: skip


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("spot")
    config = SynthConfig(classes=4, clips_per_class=6, subjects=3, size=32, frames=8, seed=5)
    generate(root / "clips", config, workers=1, progress=False)
    generate_long(root / "long", config, LongConfig(videos=3, gestures=(2, 3)), workers=1,
                  progress=False)  # fmt: skip
    extract(str(root / "clips"), str(root / "frames"), frames=4, size=32, workers=1)
    encode_texts(str(root / "clips"), str(root / "texts"))
    frames, texts = str(root / "frames"), str(root / "texts")
    train(frames, texts, str(root / "stage1"), stage=1, overrides=TINY)
    train(frames, texts, str(root / "model"), stage=2, init=str(root / "stage1"), overrides=TINY)
    return {"root": root, "model": root / "model", "long": root / "long"}


def test_spotting_writes_segments_timelines_and_a_scored_report(setup, capsys) -> None:
    out = setup["root"] / "spotted"
    args = ["predict", str(setup["model"]), str(setup["long"]), str(out)]
    assert main([*args, "--windows", "8:2", "--threshold", "0", "--score"]) == 0
    printed = capsys.readouterr().out
    assert "segment F1" in printed and "segments in 3 videos (0 failed)" in printed
    found = pd.read_csv(out / "segments.csv")
    assert list(found.columns) == SEGMENT_COLUMNS
    manifest = pd.read_csv(setup["long"] / "manifest.csv")
    truth_table = pd.read_csv(setup["long"] / "segments.csv")
    lengths = truth_table.groupby("video")["video_frames"].first()
    fps = truth_table.groupby("video")["fps"].first()
    assert set(found["video"]) <= set(manifest["video"])
    for row in found.itertuples():
        assert 0 <= row.start_frame <= row.end_frame < lengths[row.video]
        assert row.start_s == pytest.approx(row.start_frame / fps[row.video], abs=1e-3)
    # threshold 0: every window has a class, so the segments tile every video
    for video, rows in found.groupby("video"):
        rows = rows.sort_values("start_frame")
        assert rows["start_frame"].iloc[0] == 0 and rows["end_frame"].iloc[-1] == lengths[video] - 1
        assert (rows["start_frame"].iloc[1:].to_numpy() == rows["end_frame"].iloc[:-1] + 1).all()
    windows = pd.read_csv(out / "windows.csv")
    assert set(windows["video"]) == set(manifest["video"])
    # the report's F1 is the scoring of segments.csv against the manifest's segments
    predicted = [Segment(r.video, r.start_frame, r.end_frame, r.label, r.score)
                 for r in found.itertuples()]  # fmt: skip
    truth = [Segment(r.video, r.start_frame, r.end_frame, r.label, 1.0)
             for r in manifest.itertuples()]  # fmt: skip
    expected = score(predicted, truth, iou=0.5)["overall"]
    report = (out / "spotting.md").read_text()
    assert f"**Segment F1 {expected.f1:.3f}**" in report
    assert "temporal IoU" in report and "Matching: per video and class" in report
    assert len(list((out / "timelines").glob("*.png"))) == 3
    assert report.count("](timelines/") == 3


def test_no_gesture_below_the_threshold(setup) -> None:
    out = setup["root"] / "silent"
    summary = predict(str(setup["model"]), [str(setup["long"])], str(out), windows="8:4",
                      threshold=1.0)  # fmt: skip
    assert summary["segments"] == 0
    assert pd.read_csv(out / "segments.csv").empty
    assert (pd.read_csv(out / "windows.csv")["prob"] < 1.0).all()


def test_a_corrupt_video_is_a_failure_and_the_others_go_on(setup, tmp_path: Path) -> None:
    long = tmp_path / "long"
    shutil.copytree(setup["long"], long)
    first = sorted((long / "videos").iterdir())[0]
    first.write_bytes(b"\x00" * 100)
    summary = predict(str(setup["model"]), [str(long)], str(tmp_path / "out"), windows="8:4")
    assert summary["videos"] == 3 and summary["failed"] == 1
    failures = pd.read_csv(tmp_path / "out" / "failures.csv")
    assert failures["video"].tolist() == [f"videos/{first.name}"]


def test_a_video_shorter_than_a_window_is_one_window_with_a_note(setup, tmp_path) -> None:
    clip = sorted((setup["root"] / "clips" / "videos").iterdir())[0]  # 8 frames
    summary = predict(str(setup["model"]), [str(clip)], str(tmp_path / "out"), windows="20:5",
                      threshold=0.0)  # fmt: skip
    assert summary["notes"] == [f"{clip}: 8 frames, shorter than one window of 20: one window"]
    assert len(pd.read_csv(tmp_path / "out" / "windows.csv")) == 1


def test_what_spotting_refuses(setup, tmp_path: Path) -> None:
    model, long = str(setup["model"]), str(setup["long"])
    with pytest.raises(UsageError, match="give the videos, their folder or the dataset"):
        predict(model, [str(setup["root"] / "frames")], str(tmp_path / "a"), windows="8:2")
    clip = sorted((setup["root"] / "clips" / "videos").iterdir())[0]
    with pytest.raises(UsageError, match="the input has no labelled segments"):
        predict(model, [str(clip)], str(tmp_path / "b"), windows="8:2", score=True)
    with pytest.raises(FgsglError) as e:
        predict(model, [long], str(tmp_path / "c"), score=True, threshold=0.5)
    assert "--score scores spotted segments: give --windows LEN:STRIDE too" in e.value.problems
    with pytest.raises(FgsglError) as e:
        predict(model, [long], str(tmp_path / "d"), windows="4:8", iou=0)
    assert any("--windows '4:8'" in p for p in e.value.problems)
    assert "--iou must be in (0, 1] (got 0)" in e.value.problems


def test_the_batch_prediction_pipeline_runs_under_kfp_local(setup, tmp_path: Path) -> None:
    """The KFP pipeline of `fgsgl compile --pipeline predict`: the model imported by its URI,
    predict-videos spotting in the long videos; the same segments as `fgsgl predict`."""
    from fgsgl.pipelines.local import execute, task_environment
    from fgsgl.pipelines.pipeline import BuildOptions
    from fgsgl.pipelines.predict import build_predict_pipeline
    from fgsgl.runtime.runs import RunRecord

    pipeline = build_predict_pipeline(BuildOptions(gpu_retries=0))
    arguments = {"model_uri": str(setup["model"]), "inputs": str(setup["long"]),
                 "windows": "8:2", "threshold": 0.0, "score": True}  # fmt: skip
    record = RunRecord("predict", "predict", None, "", arguments, root=str(tmp_path),
                       log=str(tmp_path / "log"))  # fmt: skip
    (tmp_path / "tmp").mkdir()
    with task_environment(tmp_path / "tmp"):
        execute(lambda: pipeline(**arguments), record, pipeline_root=tmp_path / "out",
                cache=False, show_logs=False, echo=lambda line: None)  # fmt: skip
    assert record.status == "succeeded", Path(record.log).read_text()[-3000:]
    task = record.task("predict_videos")
    got = pd.read_csv(Path(task.outputs["predictions"]) / "segments.csv")
    direct = setup["root"] / "direct"
    predict(str(setup["model"]), [str(setup["long"])], str(direct), windows="8:2",
            threshold=0.0, score=True)  # fmt: skip
    pd.testing.assert_frame_equal(got, pd.read_csv(direct / "segments.csv"))
    metrics = json.loads(Path(task.outputs["metrics"]).read_text())
    assert set(metrics) >= {"videos", "segments", "failed", "precision", "recall", "f1"}
    assert Path(task.outputs["report"]).read_text().startswith("# Spotting")


def test_shared_frame_features_score_windows_as_whole_clips_do(setup, tmp_path: Path) -> None:
    """A model whose backbone sees each frame alone (no frame residuals): every frame goes
    through the backbone once and overlapping windows share it, with the same scores as
    running each window through the model as a clip."""
    from fgsgl.predict import Predictor
    from fgsgl.predict.spot import LongVideo, spot
    from fgsgl.predict.windows import parse_windows

    root = setup["root"]
    frames, texts = str(root / "frames"), str(root / "texts")
    model = tmp_path / "model"
    train(frames, texts, str(model), stage=1,
          overrides={**TINY, "model.subtract_clip_mean": False, "stage1.epochs": 1})  # fmt: skip

    class PerWindow(Predictor):
        frames_independent = False  # every window through the whole model

    shared = Predictor.open(str(model), device="cpu", batch_size=4)
    alone = PerWindow.open(str(model), device="cpu", batch_size=4)
    assert shared.frames_independent and not alone.frames_independent
    videos = [LongVideo(p.name, str(p)) for p in sorted((setup["long"] / "videos").iterdir())]
    spec = parse_windows("8:2")
    for name, predictor in (("shared", shared), ("alone", alone)):
        spot(predictor, videos, tmp_path / name, spec, threshold=0.0, progress=False)
    a = pd.read_csv(tmp_path / "shared" / "windows.csv")
    b = pd.read_csv(tmp_path / "alone" / "windows.csv")
    assert len(a) > 50 and (a["label"] == b["label"]).all()
    assert (a["prob"] - b["prob"]).abs().max() < 1e-5
    # and a window is a training clip: the clip read as extraction reads [start, end]
    for row in a.iloc[[0, len(a) // 2, -1]].itertuples():
        path = str(setup["long"] / "videos" / row.video)
        clip = shared.clip_frames(path, row.start_frame, row.end_frame)
        probs = shared.probabilities(clip[None])[0]
        assert probs.max() == pytest.approx(row.prob, abs=1e-5)
        assert shared.class_ids[int(probs.argmax())] == row.label
