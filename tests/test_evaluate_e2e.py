"""`fgsgl evaluate` end to end on a tiny model trained here (stage 1, then stage 2), and the
refusals of bad inputs (which happen before any model is loaded)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from train_fixtures import CLASS_NAMES, make_artifacts

from fgsgl.artifacts import read_metadata, write_metadata
from fgsgl.cli import main
from fgsgl.errors import FgsglError, UsageError
from fgsgl.evaluate.run import evaluate
from fgsgl.text.bank import load_texts
from fgsgl.train import load_model, train
from fgsgl.train.data import ClipTransform

pytestmark = pytest.mark.slow  # trains a tiny model (two one-epoch stages) once

TINY = {
    "stage1.epochs": 1,
    "stage2.epochs": 1,
    "stage1.lr": 1e-3,
    "stage2.lr": 1e-3,
    "optim.batch_size": 8,
    "data.workers": 0,
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    frames, texts = make_artifacts(root, per_class={"train": 2, "val": 1, "test": 2})
    train(str(frames), str(texts), str(root / "stage1"), stage=1, overrides=TINY)
    train(
        str(frames),
        str(texts),
        str(root / "stage2"),
        stage=2,
        init=str(root / "stage1"),
        overrides=TINY,
    )
    return root


@pytest.fixture(scope="module")
def evaluated(trained):
    out = trained / "eval"
    summary = evaluate(
        str(trained / "frames"), str(trained / "stage2"), str(out), variant="full", workers=0
    )
    return out, summary


def reference_logits(trained) -> tuple[np.ndarray, np.ndarray]:
    """The test clips through the loaded model directly: (logits, z_high)."""
    from fgsgl.video.frames import FramesArtifact

    model, _ = load_model(trained / "stage2")
    frames = FramesArtifact.open(trained / "frames")
    rows = frames.clips("test")
    transform = ClipTransform(model.image_size, model.image_mean, model.image_std)
    pixels = torch.stack([transform(frames.array(i)) for i in rows.index])
    with torch.no_grad():
        out = model(pixels)
    return out.logits.numpy(), out.z_high.numpy()


def test_writes_every_file_and_the_numbers_of_the_model(trained, evaluated) -> None:
    out, summary = evaluated
    for name in (
        "metadata.json",
        "metrics.json",
        "per_class.csv",
        "confusion.json",
        "predictions.csv",
        "history.json",
        "report.md",
        "curves.png",
        "confusion.png",
    ):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {
        "top1",
        "top5",
        "macro_f1",
        "mean_class_acc",
        "clips",
        "seconds",
        "predict_seconds",
        "clips_per_s",
    }
    assert metrics["clips"] == 8 and metrics["clips_per_s"] > 0
    assert metrics["seconds"] >= metrics["predict_seconds"] > 0

    preds = pd.read_csv(out / "predictions.csv", dtype={"clip_id": str})
    assert preds.clip_id.tolist() == [f"test-{c}-{k}" for c in range(4) for k in range(2)]
    scores = np.array([[float(v) for v in s.split()] for s in preds.scores])
    logits, _ = reference_logits(trained)
    np.testing.assert_allclose(scores, logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(preds.prediction, logits.argmax(axis=1))
    assert metrics["top1"] == pytest.approx(np.mean(logits.argmax(axis=1) == preds.label))
    assert summary["top1"] == metrics["top1"]

    confusion = json.loads((out / "confusion.json").read_text())
    assert confusion["class_names"] == list(CLASS_NAMES)
    assert np.array(confusion["matrix"]).sum(axis=1).tolist() == [2, 2, 2, 2]

    meta = read_metadata(out, "fgsgl.evaluation")
    assert (meta["variant"], meta["seed"], meta["split"]) == ("full", 0, "test")
    assert meta["model_info"]["stage"] == 2


def test_training_curves_span_both_stages(evaluated) -> None:
    out, _ = evaluated
    history = json.loads((out / "history.json").read_text())
    assert [(e["stage"], e["epoch"]) for e in history] == [(1, 1), (2, 1)]
    assert "loss_fg" in history[1] and "loss_fg" not in history[0]
    report = (out / "report.md").read_text()
    assert "2 epochs over stages 1, 2." in report


def test_prototypes_add_alpha_times_scaled_cosine(trained, evaluated) -> None:
    out = trained / "eval-proto"
    evaluate(
        str(trained / "frames"),
        str(trained / "stage2"),
        str(out),
        with_prototypes=0.5,
        texts=str(trained / "texts"),
        workers=0,
    )
    preds = pd.read_csv(out / "predictions.csv")
    scores = np.array([[float(v) for v in s.split()] for s in preds.scores])
    logits, z_high = reference_logits(trained)
    protos = load_texts(trained / "texts").class_embeddings()
    z = z_high / np.linalg.norm(z_high, axis=1, keepdims=True)
    t = protos / np.linalg.norm(protos, axis=1, keepdims=True)
    np.testing.assert_allclose(scores, logits + 0.5 * (z @ t.T) / 0.07, rtol=1e-4, atol=1e-4)
    meta = read_metadata(out, "fgsgl.evaluation")
    assert (meta["with_prototypes"], meta["tau"]) == (0.5, 0.07)
    assert "classifier logits + 0.5 × cosine" in (out / "report.md").read_text()


def test_cli_evaluate_and_compare(trained, evaluated, capsys) -> None:
    out, _ = evaluated
    assert main(["compare", str(out), str(trained / "eval"), "--bootstrap", "100"]) == 0
    assert "| full | 0 |" in capsys.readouterr().out
    code = main(
        [
            "evaluate",
            str(trained / "frames"),
            str(trained / "stage2"),
            str(trained / "eval-cli"),
            "--split",
            "val",
            "--workers",
            "0",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("val: 4 clips in ")
    assert f"report: {trained / 'eval-cli' / 'report.md'}" in printed


def test_bad_split_lists_the_splits(trained) -> None:
    with pytest.raises(FgsglError) as e:
        evaluate(
            str(trained / "frames"), str(trained / "stage2"), str(trained / "x"), split="validation"
        )
    assert (
        "split 'validation' has no clips in the frames; splits: test (8 clips), "
        "train (8 clips), val (4 clips)"
    ) in str(e.value)
    assert not (trained / "x").exists()


def test_frames_of_another_dataset_and_class_list_are_refused(trained, tmp_path) -> None:
    other = tmp_path / "frames"
    shutil.copytree(trained / "frames", other)
    meta = read_metadata(other, "fgsgl.frames")
    fields = {
        k: v
        for k, v in meta.items()
        if k not in ("kind", "format_version", "fgsgl_version", "created")
    }
    fields.update(dataset_fingerprint="b" * 64, class_names=["a", "b", "c", "d", "e"])
    write_metadata(other, "fgsgl.frames", **fields)
    with pytest.raises(FgsglError) as e:
        evaluate(str(other), str(trained / "stage2"), str(tmp_path / "x"))
    problems = e.value.problems
    assert len(problems) == 2
    assert "was trained on dataset aaaaaaaaaaaaaaaa, the frames are of dataset bbbb" in problems[0]
    assert "class lists differ (4 classes in the model, 5 in the frames)" in problems[1]
    assert "class 0: 'touching nose' in the model, 'a' in the frames" in problems[1]


def test_texts_need_prototypes_and_must_match(trained, tmp_path) -> None:
    frames, model = str(trained / "frames"), str(trained / "stage2")
    with pytest.raises(UsageError, match="go together"):
        evaluate(frames, model, str(tmp_path / "x"), texts=str(trained / "texts"))
    with pytest.raises(UsageError, match="go together"):
        evaluate(frames, model, str(tmp_path / "x"), with_prototypes=1.0)
    other = tmp_path / "texts"
    make_artifacts(tmp_path / "other", fingerprint="c" * 64)
    shutil.copytree(tmp_path / "other" / "texts", other)
    with pytest.raises(FgsglError, match=r"texts .* are of another dataset than the frames"):
        evaluate(frames, model, str(tmp_path / "x"), with_prototypes=1.0, texts=str(other))
