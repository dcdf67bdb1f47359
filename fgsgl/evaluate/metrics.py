"""Classification metrics on arrays of labels and scores: pure numpy, no model, no files.

Conventions (the same for every variant and backbone, so numbers line up in a compare):
- Ties in the scores go to the lower class id, for top-1 and for top-k alike (a stable sort
  of the negated scores), so a prediction never depends on the sort implementation.
- top-k with k larger than the number of classes is top-C (always 1.0).
- The confusion matrix has one row per true class and one column per predicted class.
- mean class accuracy averages over the classes present in the split (support > 0); a class
  absent from the split has no accuracy (NaN in the per-class table) rather than 0 or 1.
- macro-F1 averages F1 = 2TP / (2TP + FP + FN) over the classes that occur as a label or as
  a prediction (scikit-learn's default label set), so predicting an absent class costs F1.
Every count takes optional per-clip `weights`: a bootstrap resample is the same metric with
integer weights (how often each clip was drawn), computed without copying the clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fgsgl.errors import FgsglError

# The headline keys: same set, same order, for every evaluation (KFP Metrics, compare tables).
METRIC_KEYS: tuple[str, ...] = ("top1", "top5", "macro_f1", "mean_class_acc")
METRIC_LABELS: dict[str, str] = {
    "top1": "top-1",
    "top5": "top-5",
    "macro_f1": "macro-F1",
    "mean_class_acc": "mean class acc.",
}


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """(n, min(k, C)) class ids by decreasing score; ties to the lower class id."""
    scores = np.asarray(scores)
    k = min(k, scores.shape[1])
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def check_inputs(labels: np.ndarray, scores: np.ndarray, num_classes: int) -> None:
    """Refuse shapes and values that would give silently wrong metrics."""
    problems = []
    if scores.ndim != 2 or scores.shape[1] != num_classes:
        problems.append(f"scores have shape {scores.shape}, expected (n, {num_classes})")
    if labels.ndim != 1 or (scores.ndim == 2 and labels.shape[0] != scores.shape[0]):
        problems.append(f"labels have shape {labels.shape}, scores {scores.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        problems.append(f"labels outside 0..{num_classes - 1}")
    if not np.isfinite(scores).all():
        problems.append(f"{int((~np.isfinite(scores)).sum())} scores are NaN or infinite")
    if problems:
        raise FgsglError("cannot compute metrics", problems)


def confusion_matrix(
    labels: np.ndarray,
    predictions: np.ndarray,
    num_classes: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class. With weights of shape
    (B, n), B weighted matrices (B, C, C) at once (one per bootstrap resample)."""
    cells = np.asarray(labels, dtype=np.int64) * num_classes + np.asarray(predictions)
    size = num_classes * num_classes
    if weights is None:
        return np.bincount(cells, minlength=size).reshape(num_classes, num_classes)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim == 1:
        return np.bincount(cells, weights, minlength=size).reshape(num_classes, num_classes)
    # one bincount over all B resamples: resample b's cells are shifted by b * C * C
    b = weights.shape[0]
    shifted = (cells[None, :] + size * np.arange(b)[:, None]).ravel()
    counts = np.bincount(shifted, weights.ravel(), minlength=b * size)
    return counts.reshape(b, num_classes, num_classes)


# The functions below take one confusion matrix (C, C) or a stack of them (..., C, C).


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Recall of each class; NaN for classes with no clip in the split."""
    support = confusion.sum(axis=-1)
    correct = np.diagonal(confusion, axis1=-2, axis2=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, correct / support, np.nan)


def per_class_f1(confusion: np.ndarray) -> np.ndarray:
    """F1 = 2TP / (2TP + FP + FN); 0 where the class has TP = 0, NaN where it never occurs."""
    tp = np.diagonal(confusion, axis1=-2, axis2=-1).astype(np.float64)
    denom = confusion.sum(axis=-2) + confusion.sum(axis=-1)  # (TP + FP) + (TP + FN)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


def _nanmean(values: np.ndarray) -> np.ndarray | float:
    """Mean over the last axis ignoring NaN; NaN (no warning) where all are NaN."""
    counted = (~np.isnan(values)).sum(axis=-1)
    total = np.where(np.isnan(values), 0.0, values).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counted > 0, total / np.maximum(counted, 1), np.nan)
    return float(mean) if mean.ndim == 0 else mean


def mean_class_accuracy(confusion: np.ndarray) -> np.ndarray | float:
    return _nanmean(per_class_accuracy(confusion))


def macro_f1(confusion: np.ndarray) -> np.ndarray | float:
    return _nanmean(per_class_f1(confusion))


def headline_batch(
    labels: np.ndarray,
    predictions: np.ndarray,
    in_top5: np.ndarray,
    num_classes: int,
    weights: np.ndarray,
) -> np.ndarray:
    """(B, 4) headline metrics (METRIC_KEYS order) under B weightings (B, n) of the clips:
    the bootstrap's inner loop, vectorised over resamples."""
    weights = np.asarray(weights, dtype=np.float64)
    total = weights.sum(axis=1)
    confusion = confusion_matrix(labels, predictions, num_classes, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        top1 = np.trace(confusion, axis1=-2, axis2=-1) / total
        top5 = weights @ np.asarray(in_top5, dtype=np.float64) / total
    return np.stack([top1, top5, macro_f1(confusion), mean_class_accuracy(confusion)], axis=1)


def headline(
    labels: np.ndarray,
    predictions: np.ndarray,
    in_top5: np.ndarray,
    num_classes: int,
    weights: np.ndarray | None = None,
) -> dict[str, float]:
    """The four headline metrics from per-clip predictions and top-5 hits (no scores needed:
    a compare recomputes them from predictions.csv under bootstrap weights)."""
    n = np.asarray(labels).shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.sum() <= 0:
        return dict.fromkeys(METRIC_KEYS, float("nan"))
    values = headline_batch(labels, predictions, in_top5, num_classes, w[None, :])[0]
    return {k: float(v) for k, v in zip(METRIC_KEYS, values, strict=True)}


@dataclass(frozen=True)
class ConfusedPair:
    true: int
    predicted: int
    count: int
    fraction: float  # of the true class's clips


def most_confused_pairs(confusion: np.ndarray, limit: int = 10) -> list[ConfusedPair]:
    """Off-diagonal cells with at least one clip, most clips first (ties: higher fraction of
    the true class, then lower ids)."""
    support = confusion.sum(axis=1)
    pairs = [
        ConfusedPair(int(t), int(p), int(confusion[t, p]), float(confusion[t, p] / support[t]))
        for t, p in zip(*np.nonzero(confusion), strict=True)
        if t != p
    ]
    pairs.sort(key=lambda x: (-x.count, -x.fraction, x.true, x.predicted))
    return pairs[:limit]


@dataclass(frozen=True)
class Metrics:
    """Everything the evaluation reports about one model on one split."""

    num_classes: int
    predictions: np.ndarray  # (n,) top-1 class id
    top5: np.ndarray  # (n, min(5, C)) class ids, best first
    confusion: np.ndarray  # (C, C) int, rows = true, columns = predicted
    headline: dict[str, float]  # METRIC_KEYS

    @property
    def support(self) -> np.ndarray:
        return self.confusion.sum(axis=1)

    @property
    def correct(self) -> np.ndarray:
        return np.diag(self.confusion)

    @property
    def per_class_accuracy(self) -> np.ndarray:
        return per_class_accuracy(self.confusion)

    @property
    def per_class_f1(self) -> np.ndarray:
        return per_class_f1(self.confusion)

    def most_confused(self, limit: int = 10) -> list[ConfusedPair]:
        return most_confused_pairs(self.confusion, limit)


def compute_metrics(labels: np.ndarray, scores: np.ndarray, num_classes: int) -> Metrics:
    """All metrics of one split from the true labels (n,) and the class scores (n, C)."""
    labels = np.asarray(labels, dtype=np.int64)
    scores = np.asarray(scores)
    check_inputs(labels, scores, num_classes)
    ranked = top_k(scores, 5)
    predictions = ranked[:, 0] if len(labels) else np.zeros(0, dtype=np.int64)
    in_top5 = (ranked == labels[:, None]).any(axis=1)
    return Metrics(
        num_classes=num_classes,
        predictions=predictions,
        top5=ranked,
        confusion=confusion_matrix(labels, predictions, num_classes),
        headline=headline(labels, predictions, in_top5, num_classes),
    )
