"""`fgsgl predict` end to end on a tiny SynthMG: the full variant trained here (stage 1, then
stage 2), then predictions on the raw test videos must be evaluation's (same clips, same
preprocessing, the same class for every clip); and the refusals and failures of bad input.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from train_fixtures import TINY_DEMO
from video_helpers import coded_frames, write_video

import fgsgl
from fgsgl.artifacts import read_metadata, write_metadata
from fgsgl.cli import main
from fgsgl.errors import FgsglError
from fgsgl.predict import Predictor, Preprocessing, predict
from fgsgl.predict.inputs import resolve_inputs
from fgsgl.synth.generate import SynthConfig, generate
from fgsgl.text.encode import encode_texts
from fgsgl.train import train
from fgsgl.video.extract import extract
from fgsgl.video.frames import FramesArtifact

pytestmark = pytest.mark.slow  # trains a tiny model (two short stages) once

TINY = TINY_DEMO
COLUMNS = [
    "input", "clip_id", "video", "start_frame", "end_frame", "split", "frame_indices", "note",
    "label", "label_name", "correct",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """SynthMG (4 classes x 6 clips, 32 px) -> frames (T=4, S=32) -> texts -> stage 1 -> 2."""
    root = tmp_path_factory.mktemp("predict")
    config = SynthConfig(
        classes=4, clips_per_class=6, subjects=4, size=32, frames=8, nuisance=0, subtlety=0
    )
    generate(root / "ds", config, workers=1, progress=False)
    extract(str(root / "ds"), str(root / "frames"), frames=4, size=32, workers=1)
    encode_texts(str(root / "ds"), str(root / "texts"))
    frames, texts = str(root / "frames"), str(root / "texts")
    train(frames, texts, str(root / "stage1"), stage=1, overrides=TINY)
    train(frames, texts, str(root / "model"), stage=2, init=str(root / "stage1"), overrides=TINY)
    return root


def split_videos(root: Path) -> pd.DataFrame:
    m = pd.read_csv(root / "ds" / "manifest.csv")
    return m[m.split == "test"].reset_index(drop=True)


def softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_predict_on_raw_test_videos_matches_evaluate(trained: Path, capsys) -> None:
    """The acceptance check: `fgsgl evaluate` on the test split of the frames artifact and
    `fgsgl predict` on the test split's raw videos see the same clips the same way."""
    ev = trained / "eval"
    assert main(["evaluate", str(trained / "frames"), str(trained / "model"), str(ev),
                 "--workers", "0"]) == 0  # fmt: skip
    evaluated = pd.read_csv(ev / "predictions.csv", dtype={"clip_id": str})
    metrics = json.loads((ev / "metrics.json").read_text())
    test = split_videos(trained)
    videos = [str(trained / "ds" / v) for v in test.video]
    out = trained / "pred-videos"
    capsys.readouterr()
    assert main(["predict", str(trained / "model"), *videos, str(out), "--workers", "1"]) == 0
    assert f"predictions: {out / 'predictions.csv'}" in capsys.readouterr().out
    got = pd.read_csv(out / "predictions.csv", dtype={"clip_id": str})

    assert got.clip_id.tolist() == evaluated.clip_id.tolist() == test.clip_id.tolist()
    np.testing.assert_array_equal(got.top1_id, evaluated.prediction)  # clip by clip
    # the probabilities too: the same pixels reached the same model
    probs = softmax(np.array([[float(v) for v in s.split()] for s in evaluated.scores]))
    for rank in range(1, 5):
        picked = probs[np.arange(len(got)), got[f"top{rank}_id"].to_numpy()]
        np.testing.assert_allclose(got[f"top{rank}_prob"], picked, atol=1e-5)
    # unlabelled inputs (bare videos): the labels come from the manifest for the top-1
    assert got.label.isna().all() and got.correct.isna().all()
    top1 = float(np.mean(got.top1_id.to_numpy() == test.label.to_numpy()))
    assert top1 == pytest.approx(metrics["top1"])
    # the frame indices are extraction's, as the frames artifact records them
    art = FramesArtifact.open(trained / "frames")
    index = art.index.set_index("clip_id")
    assert got.frame_indices.tolist() == index.loc[got.clip_id, "frame_indices"].tolist()

    # the dataset directory, test split: labelled, so predict reports the same top-1 itself
    summary = predict(
        str(trained / "model"), [str(trained / "ds")], str(trained / "pred-ds"), split="test",
        workers=0,
    )  # fmt: skip
    assert (summary["clips"], summary["predicted"], summary["labelled"]) == (len(test),) * 3
    assert summary["top1"] == pytest.approx(metrics["top1"])
    ds_rows = pd.read_csv(trained / "pred-ds" / "predictions.csv", dtype={"clip_id": str})
    np.testing.assert_array_equal(ds_rows.top1_id, evaluated.prediction)
    assert ds_rows.correct.tolist() == (ds_rows.top1_id == ds_rows.label).tolist()
    assert (
        f"**Top-1 {100 * metrics['top1']:.2f} %**"
        in (trained / "pred-ds" / "summary.md").read_text()
    )

    # and the frames artifact itself (nothing decoded): the same again
    summary = predict(
        str(trained / "model"), [str(trained / "frames")], str(trained / "pred-frames"),
        split="test",
    )  # fmt: skip
    assert summary["top1"] == pytest.approx(metrics["top1"])
    rows = pd.read_csv(trained / "pred-frames" / "predictions.csv", dtype={"clip_id": str})
    np.testing.assert_allclose(rows.top1_prob, got.top1_prob, atol=1e-6)


def test_predictions_columns_and_top_k_order(trained: Path) -> None:
    out = trained / "pred-top2"
    summary = predict(str(trained / "model"), [str(trained / "ds")], str(out), top_k=2, workers=0)
    rows = pd.read_csv(out / "predictions.csv", dtype={"clip_id": str})
    tops = [f"top{r}_{f}" for r in (1, 2) for f in ("id", "name", "prob")]
    assert rows.columns.tolist() == [*COLUMNS, *tops, "scoring"]
    assert len(rows) == 24 and summary["k"] == 2 and summary["labelled"] == 24
    assert (rows.top1_prob >= rows.top2_prob).all()
    assert (rows.top1_id != rows.top2_id).all()
    names = json.loads((trained / "model" / "config.json").read_text())["class_names"]
    assert rows.top1_name.tolist() == [names[i] for i in rows.top1_id]
    assert set(rows.scoring) == {"classifier softmax"}
    assert rows.label_name.tolist() == [names[i] for i in rows.label]
    assert rows.split.value_counts().to_dict() == {"train": 12, "val": 6, "test": 6}
    # all classes: probabilities in order, summing to 1
    everything = predict(str(trained / "model"), [str(trained / "ds")], str(out), top_k=9)
    assert everything["k"] == 4
    rows = pd.read_csv(out / "predictions.csv")
    probs = rows[[f"top{r}_prob" for r in range(1, 5)]].to_numpy()
    assert (np.diff(probs, axis=1) <= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    meta = read_metadata(out, "fgsgl.predictions")
    assert meta["preprocessing"]["frames"] == 4 and meta["counts"]["predicted"] == 24


def test_corrupt_videos_go_to_failures_and_the_rest_go_on(trained: Path) -> None:
    """A folder with good, corrupt, truncated and empty files; and an unlabelled dataset
    directory (no label, split or classes.csv) with a missing video."""
    folder = trained / "mixed"
    folder.mkdir()
    good = split_videos(trained).video[:2]
    for v in good:
        shutil.copy(trained / "ds" / v, folder / Path(v).name)
    data = (folder / Path(good[0]).name).read_bytes()
    (folder / "corrupt.mp4").write_bytes(data[:48] + b"\x00garbage" * 200)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.txt").write_text("not a video, not picked up")
    unlabelled = trained / "unlabelled"
    unlabelled.mkdir()
    write_video(unlabelled / "a.mp4", coded_frames(20, 64, 48))
    pd.DataFrame({"clip_id": ["a", "gone"], "video": ["a.mp4", "missing.mp4"]}).to_csv(
        unlabelled / "manifest.csv", index=False
    )
    out = trained / "pred-bad"
    summary = predict(str(trained / "model"), [str(folder), str(unlabelled)], str(out), workers=1)
    assert (summary["clips"], summary["predicted"], summary["failed"]) == (6, 3, 3)
    assert summary["labelled"] == 0 and summary["top1"] is None
    failures = pd.read_csv(out / "failures.csv")
    assert failures.clip_id.tolist() == ["corrupt", "empty", "gone"]
    errors = dict(zip(failures.clip_id, failures.error, strict=True))
    assert errors["empty"] == "empty file (0 bytes)" and errors["gone"] == "file not found"
    assert errors["corrupt"]
    rows = pd.read_csv(out / "predictions.csv", dtype={"clip_id": str})
    assert rows.clip_id.tolist() == [Path(v).stem for v in good] + ["a"]
    assert rows.label.isna().all()
    text = (out / "summary.md").read_text()
    assert "## Failures (3, all in failures.csv)" in text and "empty file (0 bytes)" in text
    assert "No labels to compare with" in text


def test_frames_of_other_settings_are_refused_naming_both(trained: Path) -> None:
    other = trained / "frames-8"
    extract(str(trained / "ds"), str(other), frames=8, size=32, workers=1)
    with pytest.raises(FgsglError) as e:
        predict(str(trained / "model"), [str(other)], str(trained / "x"))
    (problem,) = e.value.problems
    assert "a frames artifact made with other frame settings than the model's" in problem
    assert "frames 8, the model's 4" in problem
    assert "the artifact: frames 8, size 32, resize squash" in problem
    assert "the model: 4 frames of 32 x 32 px, resize squash" in problem
    assert "--frames 4 --size 32 --resize squash" in problem
    assert not (trained / "x").exists()


def test_a_keypoints_model_refuses_inputs_without_keypoints(tmp_path: Path) -> None:
    video = write_video(tmp_path / "a.mp4", coded_frames(10))
    pre = Preprocessing(frames=4, size=32, resize="squash", keypoints=True, joints=18)
    with pytest.raises(FgsglError) as e:
        resolve_inputs([str(video), str(tmp_path)], pre, class_names=["x"], family="clip_mg")
    assert len(e.value.problems) == 2
    assert all("without keypoints; the clip_mg model reads per-frame keypoints" in p
               for p in e.value.problems)  # fmt: skip


def test_incomplete_or_foreign_model_artifacts_are_refused(trained: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(trained / "model", model, ignore=shutil.ignore_patterns("checkpoints"))
    (model / "heads.safetensors").unlink()
    (model / "config.yaml").unlink()
    with pytest.raises(FgsglError) as e:
        Predictor.open(model)
    assert e.value.problems == [
        "config.yaml: missing (the training config)",
        "heads.safetensors: missing (weights of the model)",
    ]
    # an artifact from before config.json: evaluation still loads it, predict refuses it
    old = tmp_path / "old"
    shutil.copytree(trained / "model", old, ignore=shutil.ignore_patterns("checkpoints"))
    (old / "config.json").unlink()
    fgsgl.load_model(old)
    with pytest.raises(FgsglError) as e:
        Predictor.open(old)
    made = f"config.json: missing (made by fgsgl {fgsgl.__version__} before model artifacts"
    assert made in str(e.value)
    # one from a newer fgsgl
    meta = read_metadata(trained / "model", "fgsgl.model")
    fields = {k: v for k, v in meta.items() if k not in ("kind", "format_version", "created")}
    newer = tmp_path / "newer"
    shutil.copytree(trained / "model", newer, ignore=shutil.ignore_patterns("checkpoints"))
    write_metadata(newer, "fgsgl.model", **{**fields, "fgsgl_version": "9.0.0"})
    with pytest.raises(FgsglError, match=r"made by fgsgl 9\.0\.0, newer than this fgsgl"):
        Predictor.open(newer)
    # not a model at all, through the CLI: exit 1 and the reason
    assert main(["predict", str(trained / "frames"), str(trained / "ds"), str(tmp_path / "o")]) == 1


def test_out_must_not_be_an_input_or_another_directory(trained: Path, tmp_path: Path) -> None:
    video = str(trained / "ds" / split_videos(trained).video[0])
    assert main(["predict", str(trained / "model"), video, video]) == 2  # a file as OUT
    assert Path(video).is_file()
    assert main(["predict", str(trained / "model"), str(trained / "ds"), str(trained)]) == 2
    assert main(["predict", str(trained / "model"), video, str(trained / "ds")]) == 2


def test_load_model_round_trip_gives_the_same_logits(trained: Path) -> None:
    """fgsgl.load_model and from_pretrained rebuild the model from config.json and its
    weights; the predictor's probabilities are the softmax of those logits."""
    from fgsgl.model import CLIPMGModel, FGSGLModel
    from fgsgl.train import load_model
    from fgsgl.train.data import ClipTransform

    model = fgsgl.load_model(trained / "model")
    same = FGSGLModel.from_pretrained(trained / "model")
    reference, _ = load_model(trained / "model")
    with pytest.raises(TypeError, match="holds a 'fgsgl' model, not CLIPMGModel"):
        CLIPMGModel.from_pretrained(trained / "model")
    assert not model.training and model.artifact["class_names"] == reference.artifact["class_names"]
    art = FramesArtifact.open(trained / "frames")
    clips = np.stack([art.array(i) for i in range(6)])
    transform = ClipTransform(model.image_size, model.image_mean, model.image_std)
    pixels = torch.stack([transform(c) for c in clips])
    with torch.no_grad():
        logits = [m(pixels).logits.numpy() for m in (model, same, reference)]
    np.testing.assert_array_equal(logits[0], logits[1])
    np.testing.assert_array_equal(logits[0], logits[2])
    predictor = Predictor.open(trained / "model", device="cpu", batch_size=4)
    assert predictor.preprocessing == Preprocessing(
        frames=4, size=32, resize="squash", keypoints=False, joints=None,
        sampler="segment-middle", image_size=32, subtract_clip_mean=True,
    )  # fmt: skip
    np.testing.assert_allclose(predictor.probabilities(clips), softmax(logits[0]), atol=1e-6)
    # clip_frames reads a video exactly as extraction stored it
    clip_id = art.index.clip_id[0]
    video = trained / "ds" / "videos" / f"{clip_id}.mp4"
    np.testing.assert_array_equal(predictor.clip_frames(str(video)), art.array(0))
    with pytest.raises(ValueError, match="frames must be uint8 N x 4 x 32 x 32 x 3"):
        predictor.probabilities(clips[:, :2])


def test_config_json_and_model_card_describe_the_model(trained: Path) -> None:
    model = trained / "model"
    config = json.loads((model / "config.json").read_text())
    assert config["backbone"]["name"] == TINY["model.backbone"]
    assert config["model"]["subtract_clip_mean"] is True and config["family"] == "fgsgl"
    assert sorted(config["heads"]) == ["classifier", "proj_high", "proj_mid"]
    assert config["heads"]["classifier"]["net.1.weight"] == [4, 32]
    assert config["class_ids"] == [0, 1, 2, 3] and len(config["class_names"]) == 4
    assert config["preprocessing"]["resize"] == "squash"
    assert sorted(config["files"]) == ["backbone.safetensors", "heads.safetensors"]
    meta = read_metadata(model, "fgsgl.model")
    card = (model / "README.md").read_text()
    assert card.startswith("# FG-SGL micro-gesture classifier: ds")
    assert f"fingerprint `{meta['dataset_fingerprint'][:16]}`" in card
    assert "**ds** (SynthMG, synthetic)" in card
    assert "variant `full`: fg_sa True, cp_a True, ml_co True, text_granularity fine" in card
    assert "stage 2 of the ML-CO curriculum" in card
    assert f"Best validation top-1: **{100 * meta['best_val_top1']:.1f} %**" in card
    assert "Source of each clip's T_fg (clips): annotated 24." in card
    assert "## Intended use and limits" in card and "not a mental state" in card
    stage1 = (trained / "stage1" / "README.md").read_text()
    assert "stage 1 of the ML-CO curriculum" in stage1


def test_clips_with_keypoints_are_read_as_extraction_stored_them(tmp_path: Path) -> None:
    """CLIP-MG's input path: a dataset with keypoints resolves (nothing refused), and each
    clip's frames and keypoints come out of the video exactly as the frames artifact
    holds them (the same sampling, resize and keypoint mapping)."""
    from video_helpers import synth_dataset

    from fgsgl.predict.predictor import open_video, read_clip

    ds = synth_dataset(tmp_path / "ds")
    extract(str(ds), str(tmp_path / "frames"), frames=4, size=32, workers=1)
    art = FramesArtifact.open(tmp_path / "frames")
    joints = art.meta["keypoints"]["joints"]
    pre = Preprocessing(frames=4, size=32, resize="squash", keypoints=True, joints=joints)
    names = list(art.class_names)
    clips = resolve_inputs([str(ds)], pre, class_names=names, family="clip_mg").videos
    assert [c.clip_id for c in clips] == art.index.clip_id.tolist()
    for i, clip in enumerate(clips):
        got = read_clip(open_video(clip.uri, pre), clip.start, clip.end, pre,
                        keypoints=clip.keypoints)  # fmt: skip
        np.testing.assert_array_equal(got.frames, art.array(i))
        np.testing.assert_allclose(got.keypoints, art.keypoints(i), atol=1e-6)
        assert got.indices == art.frame_indices(i) and clip.label == art.index.label[i]
