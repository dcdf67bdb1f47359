"""The evaluation artifact's files and its report: written, readable, images that decode."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from evaluation_data import CLASS_NAMES, write_eval
from PIL import Image

from fgsgl.artifacts import read_metadata
from fgsgl.evaluate.artifact import load_evaluation, ui_view
from fgsgl.evaluate.charts import curve_panels

LABELS = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
PREDS = [0, 0, 0, 1, 1, 1, 2, 2, 2, 1]  # 6 right; 1 -> 2 twice, 0 -> 1 once, 2 -> 1 once


def epoch(stage: int, n: int, cls: float, val: float, lr: float, fg: float | None = None):
    """One history entry as the trainer writes it, tagged with its stage by evaluation."""
    losses = {"loss_cls": cls, "loss_cp": cls * 0.9} | ({"loss_fg": fg} if fg else {})
    total = sum(losses.values())
    return {
        "stage": stage,
        "epoch": n,
        "loss": total,
        **losses,
        "train_top1": val + 0.1,
        "lr": lr,
        "samples_per_s": 50.0,
        "val_top1": val,
        "val_loss": cls * 1.1,
        "seconds": 2.0,
    }


HISTORY = [
    epoch(1, 1, 2.0, 0.3, 1e-4),
    epoch(1, 2, 1.5, 0.5, 8e-5),
    epoch(2, 1, 1.2, 0.7, 5e-5, fg=2.1),
    epoch(2, 2, 1.0, 0.6, 1e-5, fg=1.6),
]


def decode_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    return image


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    """Written once (drawing the charts is the slow part); the tests only read it."""
    out = tmp_path_factory.mktemp("evaluation") / "eval"
    return write_eval(out, LABELS, PREDS, variant="full", seed=1, history=HISTORY)


def test_data_files_hold_the_numbers(evaluation) -> None:
    metrics = json.loads((evaluation / "metrics.json").read_text())
    assert metrics["top1"] == pytest.approx(0.6)
    assert metrics["top5"] == 1.0  # 3 classes: top-5 is top-3
    assert metrics["mean_class_acc"] == pytest.approx((3 / 4 + 2 / 4 + 1 / 2) / 3)
    # F1: class0 2*3/(6+0+1)=6/7, class1 2*2/(4+2+2)=1/2, class2 2*1/(2+2+1)=2/5
    assert metrics["macro_f1"] == pytest.approx((6 / 7 + 1 / 2 + 2 / 5) / 3)
    assert (metrics["clips"], metrics["seconds"], metrics["clips_per_s"]) == (10, 1.5, 10.0)

    confusion = json.loads((evaluation / "confusion.json").read_text())
    assert confusion == {
        "class_names": CLASS_NAMES,
        "matrix": [[3, 1, 0], [0, 2, 2], [0, 1, 1]],
    }
    per_class = pd.read_csv(evaluation / "per_class.csv")
    assert per_class.columns.tolist()[:5] == ["class_id", "name", "support", "correct", "accuracy"]
    assert per_class.support.tolist() == [4, 4, 2]
    assert per_class.accuracy.tolist() == pytest.approx([0.75, 0.5, 0.5])

    preds = pd.read_csv(evaluation / "predictions.csv", dtype={"clip_id": str})
    assert preds.columns.tolist() == ["clip_id", "label", "prediction", "top5", "scores"]
    assert preds.prediction.tolist() == PREDS
    assert preds.top5[3] == "1 0 2"  # one-hot on 1, then ties by class id
    assert preds.scores[3] == "0 1 0"

    meta = read_metadata(evaluation, "fgsgl.evaluation")
    assert (meta["split"], meta["variant"], meta["seed"]) == ("test", "full", 1)


def test_load_evaluation_round_trip(evaluation) -> None:
    ev = load_evaluation(evaluation)
    assert ev.class_names == CLASS_NAMES
    assert ev.predictions.top5[3] == [1, 0, 2]
    assert ev.headline() == pytest.approx(
        {k: v for k, v in ev.metrics.items() if k in ev.headline()}
    )
    np.testing.assert_array_equal(ev.confusion, [[3, 1, 0], [0, 2, 2], [0, 1, 1]])
    assert ev.history == HISTORY


def test_report_is_readable_and_its_images_decode(evaluation) -> None:
    report = (evaluation / "report.md").read_text()
    assert report.startswith("# Evaluation: full, test split")
    assert "**top-1 60.00 %**" in report
    assert "| top-1 | 60.00 % | 6 of 10 clips |" in report
    # the most confused pair first, with its example clips
    assert "| touching neck (1) | scratching head (2) | 2 | 50.0 % | `c006`, `c007` |" in report
    # per-class row: id, name, clips, correct, accuracy, F1, most often predicted instead
    assert "| 0 | rubbing eyes | 4 | 3 | 75.0 % | 85.7 % | touching neck (1) |" in report
    assert "4 epochs over stages 1, 2. Best validation top-1 70.0 % at stage 2, epoch 1." in report

    embedded = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", report)
    assert len(embedded) == 2  # confusion matrix, training curves
    images = [base64.b64decode(e) for e in embedded]
    assert images[0] == (evaluation / "confusion.png").read_bytes()
    assert images[1] == (evaluation / "curves.png").read_bytes()
    for data in images:
        image = decode_png(data)
        assert image.width > 300 and image.height > 200


def test_report_without_history_and_with_an_absent_class(tmp_path) -> None:
    out = write_eval(tmp_path / "e", [0, 0, 1], [0, 2, 1])  # class 2 never a label
    report = (out / "report.md").read_text()
    assert not (out / "curves.png").exists()
    assert "no training history" in report
    assert "1 without clips in this split: scratching head" in report
    assert "| 2 | scratching head | 0 | 0 | — | 0.0 % | — |" in report
    assert "no training history" in report


def test_class_names_with_pipes_stay_inside_their_cell(tmp_path) -> None:
    names = ["a|b", "c", "d"]
    out = write_eval(tmp_path / "e", [0, 1, 2], [0, 1, 2], class_names=names)
    assert "| 0 | a\\|b | 1 | 1 |" in (out / "report.md").read_text()


def test_curve_panels_group_history_keys() -> None:
    panels = curve_panels(HISTORY)
    assert panels == {
        "loss": ["loss", "loss_cls", "loss_cp", "val_loss", "loss_fg"],
        "accuracy": ["train_top1", "val_top1"],
        "learning rate": ["lr"],
    }


def test_ui_view_is_what_the_kfp_component_logs(evaluation) -> None:
    view = ui_view(evaluation)
    assert list(view.metrics) == ["top1", "top5", "macro_f1", "mean_class_acc"]
    assert view.metrics["top1"] == pytest.approx(0.6)
    assert view.class_names == CLASS_NAMES
    assert view.confusion == [[3, 1, 0], [0, 2, 2], [0, 1, 1]]
    assert view.markdown == (evaluation / "report.md").read_text()


def fifty_two_classes():
    """An evaluation the size of MA-52's: 52 long class names, 2,600 clips, 15 epochs."""
    from fgsgl.evaluate.artifact import Evaluation
    from fgsgl.evaluate.metrics import METRIC_KEYS

    rng = np.random.default_rng(0)
    c, n = 52, 2600
    labels = rng.integers(0, c, n)
    pred = np.where(rng.random(n) < 0.6, labels, rng.integers(0, c, n))
    confusion = np.zeros((c, c), int)
    np.add.at(confusion, (labels, pred), 1)
    top5 = [[int(p), *map(int, rng.integers(0, c, 4))] for p in pred]
    predictions = pd.DataFrame(
        {"clip_id": [f"c{i}" for i in range(n)], "label": labels, "prediction": pred,
         "top5": top5}
    )  # fmt: skip
    history = [epoch(1 if e <= 5 else 2, e, 2 / e, 0.1 + e / 30, 1e-4) for e in range(1, 16)]
    return Evaluation(
        meta={"split": "test", "variant": "full"},
        metrics={k: 0.5 for k in METRIC_KEYS} | {"clips": n},
        class_names=[f"micro-action {i}: a long descriptive class name" for i in range(c)],
        confusion=confusion,
        predictions=predictions,
        history=history,
    )


def test_a_52_class_report_fits_kfps_markdown_limit_with_its_charts(tmp_path) -> None:
    from fgsgl.evaluate.report import KFP_MARKDOWN_LIMIT, render_report, write_report

    ev = fifty_two_classes()
    text = write_report(tmp_path, ev).read_text()
    assert len(text) < KFP_MARKDOWN_LIMIT  # was 459,615 characters with plain PNGs
    images = re.findall(r"!\[([^\]]*)\]\(data:image/png;base64,([^)]*)\)", text)
    assert [alt for alt, _ in images] == ["confusion matrix", "training curves"]
    original = Image.open(tmp_path / "confusion.png")
    assert decode_png(base64.b64decode(images[0][1])).size == original.size
    # where even the compact charts would not fit, they are linked to the files beside it
    small = render_report(
        ev,
        curves_png=(tmp_path / "curves.png").read_bytes(),
        confusion_png=(tmp_path / "confusion.png").read_bytes(),
        budget=50_000,
    )
    assert "data:image" not in small
    assert "![confusion matrix](confusion.png) (confusion.png in the evaluation artifact" in small
