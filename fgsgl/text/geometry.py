"""Text geometry: can FG-SA (the in-batch fine-grained contrast L_fg) learn anything beyond
the class from these texts?

L_fg asks a clip's f_mid to pick its own T_fg among the batch's other texts. What it can
teach on top of L_cp (which already pulls f_high to the class text T_c) is the spread of
the T_fg *inside* a class: if the texts of one class all sit near one point, the contrast
is decided by the class and L_fg repeats L_cp; if they spread, the vision side must see the
attributes that make them differ. And only a spread that comes from the attributes is
learnable from a video: when the template sentence (FG_TEMPLATES, picked by a hash of the
attributes) decides much of it, L_fg partly asks the model to guess the wording.

Numbers (cosines of L2-normalised embeddings; "over clips": every pair of two different
clips counts once, so a text carried by many clips weighs as much as its clips):
- same_class_cos: mean cosine between the T_fg of two clips of the same class;
  same_class_distinct_cos: the same over pairs whose texts differ (the same-class
  negatives FG-SA actually sees: identical texts are not negatives of each other);
- different_class_cos: mean cosine between the T_fg of two clips of different classes;
- fg_to_class_cos: mean cosine of a clip's T_fg to its own class text T_c;
- unique_fg_per_class: distinct T_fg per class (min, mean, max, and by class id);
- within_class_spread = mean (1 - cos) over same-class pairs = 1 - same_class_cos; the same
  with every clip's attributes rendered by one fixed template; template_share = (spread -
  spread with one template) / spread: the share of the within-class spread the paraphrases
  make. None where it cannot be computed (texts written by hand in a manifest `fg_text`
  column, or no spread at all).

All sums use per-class totals of the vectors (sum over pairs of x_i . x_j = |sum x|^2 - the
self pairs), so the cost is linear in the clips, not quadratic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fgsgl.text.templates import ATTRIBUTES, fg_text

ONE_TEMPLATE = 0  # the paraphrase every clip gets for the one-template spread


def one_template_texts(manifest: pd.DataFrame) -> list[str] | None:
    """Each clip's T_fg rendered with FG_TEMPLATES[ONE_TEMPLATE], or None where any clip's
    text is not the template's (a hand-written `fg_text`) or lacks an attribute."""
    if "fg_text" in manifest and manifest["fg_text"].notna().any():
        return None
    if any(a not in manifest for a in ATTRIBUTES):
        return None
    columns = manifest[list(ATTRIBUTES)]
    if columns.isna().any(axis=None):
        return None
    keys = list(columns.astype(str).itertuples(index=False, name=None))
    built = {
        k: fg_text(dict(zip(ATTRIBUTES, k, strict=True)), template=ONE_TEMPLATE)
        for k in dict.fromkeys(keys)
    }
    return [built[k] for k in keys]


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _ratio(total: float, count: float) -> float | None:
    return float(total / count) if count > 0 else None


def _pair_means(
    fg: np.ndarray, labels: np.ndarray, text_ids: np.ndarray
) -> tuple[float | None, float | None, float | None]:
    """(same class, same class with different texts, different classes) mean cosines over
    pairs of distinct clips."""
    same = same_count = distinct = distinct_count = 0.0
    total = fg.sum(0)
    class_sq = class_n_sq = 0.0
    for c in np.unique(labels):
        rows = labels == c
        n = int(rows.sum())
        s = fg[rows].sum(0)
        sq = float(s @ s)
        # clips with the same text: identical vectors, cosine 1 (self pairs included)
        _, per_text = np.unique(text_ids[rows], return_counts=True)
        identical = float((per_text.astype(np.float64) ** 2).sum())
        same += sq - n
        same_count += n * (n - 1)
        distinct += sq - identical
        distinct_count += n * n - identical
        class_sq += sq
        class_n_sq += n * n
    n_all = len(fg)
    different = float(total @ total) - class_sq
    return (
        _ratio(same, same_count),
        _ratio(distinct, distinct_count),
        _ratio(different, n_all * n_all - class_n_sq),
    )


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def text_geometry(
    fg: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    classes: np.ndarray,
    text_ids: Sequence[Any] | np.ndarray,
    one_template: np.ndarray | None = None,
) -> dict[str, Any]:
    """The geometry of a dataset's texts (module docstring), as plain JSON-ready data.

    fg: (clips, dim) each clip's T_fg embedding; labels: (clips,) class ids; classes:
    (C, dim) T_c by class id; text_ids: (clips,) equal for identical texts; one_template:
    (clips, dim) each clip's attributes rendered with one fixed template, or None.
    """
    fg = _unit(fg)
    labels = np.asarray(labels, dtype=np.int64)
    text_ids = np.asarray(text_ids)
    classes = _unit(classes)
    if fg.shape[0] != labels.shape[0] or fg.shape[0] != text_ids.shape[0]:
        raise ValueError("fg, labels and text_ids need one entry per clip")
    same, distinct, different = _pair_means(fg, labels, text_ids)
    to_class = float(np.einsum("nd,nd->n", fg, classes[labels]).mean()) if len(fg) else None
    per_class = [len(np.unique(text_ids[labels == c])) for c in range(len(classes))]
    spread = None if same is None else 1.0 - same
    spread_one = share = None
    if one_template is not None and spread is not None:
        same_one = _pair_means(_unit(one_template), labels, text_ids)[0]
        spread_one = None if same_one is None else 1.0 - same_one
        if spread_one is not None and spread > 1e-9:
            share = (spread - spread_one) / spread
    return {
        "weighting": "clip pairs",
        "same_class_cos": _round(same),
        "same_class_distinct_cos": _round(distinct),
        "different_class_cos": _round(different),
        "fg_to_class_cos": _round(to_class),
        "unique_fg_per_class": {
            "min": min(per_class, default=0),
            "mean": round(float(np.mean(per_class)), 3) if per_class else 0.0,
            "max": max(per_class, default=0),
            "per_class": per_class,
        },
        "within_class_spread": _round(spread),
        "within_class_spread_one_template": _round(spread_one),
        "template_share": _round(share),
    }


def _f(x: float | None, pattern: str = "{:.3f}") -> str:
    return "n/a" if x is None else pattern.format(x)


def describe_geometry(g: dict[str, Any]) -> list[str]:
    """The geometry in three printed lines (fgsgl encode-text's summary)."""
    u = g["unique_fg_per_class"]
    lines = [
        f"text geometry (mean cosine over clip pairs): same class {_f(g['same_class_cos'])} "
        f"(different texts {_f(g['same_class_distinct_cos'])}), different classes "
        f"{_f(g['different_class_cos'])}, T_fg to its class text {_f(g['fg_to_class_cos'])}",
        f"unique fine-grained texts per class: min {u['min']} / mean {u['mean']:.1f} / "
        f"max {u['max']}",
    ]
    if g["template_share"] is None:
        if g["within_class_spread"] is None:
            why = "no class has two clips"
        elif g["within_class_spread_one_template"] is None:
            why = "the texts do not all come from the four attributes"
        else:
            why = "the texts of each class are all the same"
        lines.append(
            f"paraphrase templates' share of the within-class spread: not computable ({why})"
        )
    else:
        lines.append(
            f"paraphrase templates make {_f(g['template_share'], '{:.0%}')} of the within-class "
            f"spread (1 - cos: {_f(g['within_class_spread'])}, "
            f"{_f(g['within_class_spread_one_template'])} with one template)"
        )
    return lines
