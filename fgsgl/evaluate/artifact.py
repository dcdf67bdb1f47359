"""The evaluation artifact: writing its data files and reading them back.

Layout (docs/artifacts.md, evaluation): metadata.json, metrics.json, per_class.csv,
confusion.json, predictions.csv, history.json (the model's, so the report can be redrawn
from this directory alone), report.md, curves.png, confusion.png. The data files are what
the KFP component logs (Metrics, ClassificationMetrics with class names); the report is
rendered from an `Evaluation` by `fgsgl.evaluate.report`, never from anything else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fgsgl.artifacts import read_metadata, write_json
from fgsgl.errors import FgsglError
from fgsgl.evaluate.metrics import METRIC_KEYS, Metrics, headline

KIND = "fgsgl.evaluation"
METRICS = "metrics.json"
PER_CLASS = "per_class.csv"
CONFUSION = "confusion.json"
PREDICTIONS = "predictions.csv"
HISTORY = "history.json"
REPORT = "report.md"
CURVES = "curves.png"
CONFUSION_PNG = "confusion.png"


@dataclass
class Evaluation:
    """One model on one split: what the files of an evaluation directory hold."""

    meta: dict[str, Any]  # metadata.json (split, model, dataset_fingerprint, variant, seed...)
    metrics: dict[str, float]  # metrics.json: METRIC_KEYS + clips, seconds, clips_per_s
    class_names: list[str]
    confusion: np.ndarray  # (C, C), rows = true class, columns = predicted
    predictions: pd.DataFrame  # clip_id, label, prediction, top5 (list of int)
    history: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def in_top5(self) -> np.ndarray:
        return np.array(
            [lab in t for lab, t in zip(self.predictions.label, self.predictions.top5, strict=True)]
        )

    def headline(self, weights: np.ndarray | None = None) -> dict[str, float]:
        """The headline metrics recomputed from the predictions (optionally reweighted)."""
        p = self.predictions
        return headline(
            p.label.to_numpy(), p.prediction.to_numpy(), self.in_top5, self.num_classes, weights
        )


def predictions_frame(
    clip_ids: list[str], labels: np.ndarray, metrics: Metrics, scores: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "clip_id": [str(c) for c in clip_ids],
            "label": np.asarray(labels, dtype=np.int64),
            "prediction": metrics.predictions,
            "top5": [list(map(int, r)) for r in metrics.top5],
            "scores": [" ".join(f"{v:.6g}" for v in row) for row in np.asarray(scores)],
        }
    )


def per_class_frame(metrics: Metrics, class_names: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "class_id": np.arange(metrics.num_classes),
            "name": class_names,
            "support": metrics.support,
            "correct": metrics.correct,
            "accuracy": metrics.per_class_accuracy,
            "f1": metrics.per_class_f1,
        }
    )


def write_data(
    directory: Path,
    *,
    metrics: Metrics,
    class_names: list[str],
    clip_ids: list[str],
    labels: np.ndarray,
    scores: np.ndarray,
    timing: dict[str, float],
    history: list[dict[str, Any]],
) -> Evaluation:
    """Write metrics.json, per_class.csv, confusion.json, predictions.csv and history.json;
    return the Evaluation they describe (metadata is the caller's)."""
    directory = Path(directory)
    summary = {**metrics.headline, "clips": len(clip_ids), **timing}
    write_json(directory / METRICS, summary)
    per_class_frame(metrics, class_names).to_csv(
        directory / PER_CLASS, index=False, float_format="%.6g"
    )
    write_json(
        directory / CONFUSION,
        {"class_names": class_names, "matrix": metrics.confusion.tolist()},
    )
    preds = predictions_frame(clip_ids, labels, metrics, scores)
    out = preds.assign(top5=[" ".join(map(str, t)) for t in preds.top5])
    out.to_csv(directory / PREDICTIONS, index=False)
    write_json(directory / HISTORY, history)
    return Evaluation(
        meta={},
        metrics=summary,
        class_names=list(class_names),
        confusion=metrics.confusion,
        predictions=preds.drop(columns="scores"),
        history=history,
        path=directory,
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as e:
        raise FgsglError(f"{path.parent}: evaluation is missing {path.name}") from e
    except json.JSONDecodeError as e:
        raise FgsglError(f"{path}: not valid JSON ({e})") from e


def load_evaluation(path: str | Path) -> Evaluation:
    """Read an evaluation directory back (compare, report re-rendering, the KFP component)."""
    path = Path(path)
    meta = read_metadata(path, KIND)
    metrics = _read_json(path / METRICS)
    confusion = _read_json(path / CONFUSION)
    try:
        preds = pd.read_csv(
            path / PREDICTIONS,
            usecols=["clip_id", "label", "prediction", "top5"],
            dtype={"clip_id": str, "top5": str},
            keep_default_na=False,
        )
    except (FileNotFoundError, ValueError) as e:
        raise FgsglError(f"{path / PREDICTIONS}: cannot read ({e})") from e
    preds["top5"] = [[int(v) for v in s.split()] for s in preds.top5]
    missing = [k for k in METRIC_KEYS if k not in metrics]
    if missing:
        raise FgsglError(f"{path / METRICS}: missing {', '.join(missing)}")
    history = _read_json(path / HISTORY) if (path / HISTORY).is_file() else []
    return Evaluation(
        meta=meta,
        metrics=metrics,
        class_names=list(confusion["class_names"]),
        confusion=np.asarray(confusion["matrix"], dtype=np.int64),
        predictions=preds,
        history=history,
        path=path,
    )


@dataclass(frozen=True)
class UiView:
    """What the KFP component logs, read from an evaluation directory (no kfp import here):
    Metrics (the headline keys, the same for every variant), ClassificationMetrics
    (class names + confusion matrix, rows = true class) and the Markdown report."""

    metrics: dict[str, float]
    class_names: list[str]
    confusion: list[list[int]]
    markdown: str


def ui_view(path: str | Path) -> UiView:
    ev = load_evaluation(path)
    return UiView(
        metrics={k: float(ev.metrics[k]) for k in METRIC_KEYS},
        class_names=ev.class_names,
        confusion=ev.confusion.tolist(),
        markdown=(Path(path) / REPORT).read_text(),
    )
