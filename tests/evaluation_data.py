"""Evaluation artifacts for tests, written by the real writer from chosen predictions
(no model: the scores are one-hot on the prediction, so every metric is hand-computable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fgsgl.artifacts import staged_dir, write_metadata
from fgsgl.evaluate.artifact import KIND, write_data
from fgsgl.evaluate.metrics import compute_metrics
from fgsgl.evaluate.run import write_evaluation

CLASS_NAMES = ["rubbing eyes", "touching neck", "scratching head"]


def scores_for(predictions: list[int], num_classes: int) -> np.ndarray:
    """Scores whose top-1 is `predictions` and whose top-5 order is then by class id."""
    scores = np.zeros((len(predictions), num_classes))
    scores[np.arange(len(predictions)), predictions] = 1.0
    return scores


def write_eval(
    out: Path,
    labels: list[int],
    predictions: list[int],
    *,
    variant: str | None = None,
    seed: int | None = None,
    clip_ids: list[str] | None = None,
    class_names: list[str] | None = None,
    split: str = "test",
    fingerprint: str = "f" * 64,
    history: list[dict[str, Any]] | None = None,
    report: bool = True,
    with_prototypes: float | None = None,
) -> Path:
    """An evaluation directory; without `report` only its data files and metadata (what
    compare reads; drawing the report's charts is the slow part)."""
    names = class_names or CLASS_NAMES
    ids = clip_ids or [f"c{i:03d}" for i in range(len(labels))]
    meta = {
        "split": split,
        "model": "models/m",
        "frames": "frames",
        "dataset_fingerprint": fingerprint,
        "variant": variant,
        "seed": seed,
        "with_prototypes": with_prototypes,
        "model_info": {"family": "fgsgl", "backbone": "tiny-clip", "stage": 2},
    }
    data = {
        "clip_ids": ids,
        "labels": np.array(labels),
        "scores": scores_for(predictions, len(names)),
        "class_names": names,
        "history": history or [],
        "timing": {"seconds": 1.5, "predict_seconds": 1.0, "clips_per_s": len(labels) / 1.0},
    }
    with staged_dir(out) as tmp:
        if report:
            write_evaluation(tmp, meta=meta, **data)
        else:
            metrics = compute_metrics(data["labels"], data["scores"], len(names))
            write_data(tmp, metrics=metrics, **data)
            write_metadata(tmp, KIND, **meta)
    return out


def correct_on(n: int, k: int, labels: list[int], num_classes: int = 3) -> list[int]:
    """Predictions right on the first k clips, wrong (next class) on the rest."""
    return [lab if i < k else (lab + 1) % num_classes for i, lab in enumerate(labels)]
