"""The evaluation report: one Markdown file a person can read alone.

Rendered from an `Evaluation` (the data files of the evaluation directory) and nothing
else, so the KFP Markdown artifact, `fgsgl evaluate` and a later re-render all say the same.
The charts are embedded as compact base64 PNG (the file stands alone) and also written
beside it; where that would pass KFP's Markdown limit (many classes) they are linked.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np

from fgsgl.evaluate import charts
from fgsgl.evaluate.artifact import CONFUSION_PNG, CURVES, REPORT, Evaluation
from fgsgl.evaluate.metrics import (
    METRIC_KEYS,
    METRIC_LABELS,
    most_confused_pairs,
    per_class_accuracy,
    per_class_f1,
)

EXAMPLES_PER_PAIR = 3


def pct(value: float, digits: int = 2) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{100 * value:.{digits}f} %"


def cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


# KFP's UI cuts a Markdown visualisation at about 400,000 characters; the report stays under
# MARKDOWN_BUDGET, with its charts embedded as compact (palette) PNGs, or linked to the
# PNG files beside it where even those would not fit (many classes)
KFP_MARKDOWN_LIMIT = 400_000
MARKDOWN_BUDGET = 350_000


def compact_png(png: bytes, colors: int = 64) -> bytes:
    """The chart as a palette PNG (charts have few colours), when that is smaller."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        if image.mode == "P":
            return png  # already a palette image
        small = image.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(png) else png


def embed_png(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def image(png: bytes | None, alt: str, file: str, embed: bool) -> str:
    """The chart embedded, or a link to its file in the evaluation artifact."""
    if embed and png is not None:
        return embed_png(png, alt)
    return f"![{alt}]({file}) ({file} in the evaluation artifact; too large to embed)"


def table(header: list[str], rows: list[list[Any]], align: str = "") -> list[str]:
    """Markdown table lines; `align` has one of l/r per column (default: left)."""
    align = align or "l" * len(header)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def title_of(ev: Evaluation) -> str:
    name = ev.meta.get("variant") or Path(str(ev.meta.get("model", "model"))).name
    return f"{name}, {ev.meta.get('split', '?')} split"


def _model_line(ev: Evaluation) -> str:
    info = ev.meta.get("model_info") or {}
    parts = [str(info[k]) for k in ("family", "backbone") if info.get(k)]
    if info.get("stage") is not None:
        parts.append(f"stage {info['stage']}")
    if info.get("best_epoch") is not None:
        best = f"best epoch {info['best_epoch']}"
        if info.get("best_val_top1") is not None:
            best += f", val top-1 {pct(info['best_val_top1'], 1)}"
        parts.append(best)
    path = f"`{ev.meta.get('model', '?')}`"
    return f"{path}: {'; '.join(parts)}" if parts else path


def fg_text_line(ev: Evaluation) -> str | None:
    """Which kind of FG-Text the model was trained with: clips per source of their T_fg."""
    fg = (ev.meta.get("model_info") or {}).get("texts_fg")
    if not fg:
        return None
    if not fg.get("fine_grained"):
        return "none (class texts only: the dataset had no fine-grained attributes)"
    sources = fg.get("sources") or {}
    total = sum(sources.values()) or 1
    return ", ".join(
        f"{name} {n} ({100 * n / total:.0f} %)"
        for name, n in sorted(sources.items(), key=lambda kv: -kv[1])
    )


def _scoring_line(ev: Evaluation) -> str:
    alpha = ev.meta.get("with_prototypes")
    if alpha is None:
        return "classifier logits"
    tau = ev.meta.get("tau")
    scale = f" / τ (τ = {tau})" if tau is not None else ""
    return (
        f"classifier logits + {alpha} × cosine(z_high, class prototype){scale}; "
        f"prototypes from `{ev.meta.get('texts', '?')}`"
    )


def summary_section(ev: Evaluation) -> list[str]:
    m, meta = ev.metrics, ev.meta
    support = ev.confusion.sum(axis=1)
    absent = [ev.class_names[i] for i in np.flatnonzero(support == 0)]
    split = f"{meta.get('split', '?')}: {m['clips']} clips, {ev.num_classes} classes"
    if absent:
        split += f" ({len(absent)} without clips in this split: {', '.join(absent)})"
    fingerprint = str(meta.get("dataset_fingerprint", "?"))[:16]
    rows = [
        ["model", _model_line(ev)],
        ["frames", f"`{meta.get('frames', '?')}` (dataset `{fingerprint}`)"],
        ["split", split],
        ["scoring", _scoring_line(ev)],
    ]
    fg = fg_text_line(ev)
    if fg is not None:  # annotated / derived / class tables / class text, per clip
        rows.append(["FG-Text (T_fg per clip)", fg])
    if meta.get("variant") is not None or meta.get("seed") is not None:
        rows.append(["variant, seed", f"{meta.get('variant') or '—'}, {meta.get('seed', '—')}"])
    if "seconds" in m:
        speed = f"{m['seconds']:.1f} s in all"
        if "clips_per_s" in m:
            speed += f"; the model saw {m['clips_per_s']:.1f} clips/s"
        if meta.get("device"):
            speed += f" on {meta['device']}"
        rows.append(["run", speed])
    if meta.get("created"):
        rows.append(["written", meta["created"]])
    headline = " · ".join(f"{METRIC_LABELS[k]} {pct(m[k])}" for k in METRIC_KEYS[1:])
    return [
        f"# Evaluation: {title_of(ev)}",
        "",
        f"**top-1 {pct(m['top1'])}** · {headline}",
        "",
        *table(["", ""], rows),
    ]


def metrics_section(ev: Evaluation) -> list[str]:
    m = ev.metrics
    n = int(m["clips"])
    correct = int(np.trace(ev.confusion))
    present = int((ev.confusion.sum(axis=1) > 0).sum())
    seen = int(((ev.confusion.sum(axis=1) > 0) | (ev.confusion.sum(axis=0) > 0)).sum())
    rows = [
        ["top-1", pct(m["top1"]), f"{correct} of {n} clips"],
        ["top-5", pct(m["top5"]), f"true class among the {min(5, ev.num_classes)} best scores"],
        ["macro-F1", pct(m["macro_f1"]), f"mean F1 over the {seen} classes labelled or predicted"],
        ["mean class accuracy", pct(m["mean_class_acc"]), f"over the {present} classes present"],
    ]
    return [
        "## Metrics",
        "",
        *table(["metric", "value", "how"], rows, "lrl"),
        "",
        f"Chance level: top-1 {pct(1 / ev.num_classes)} (1 of {ev.num_classes} classes). "
        "Ties between scores go to the lower class id.",
    ]


def per_class_section(ev: Evaluation) -> list[str]:
    conf = ev.confusion
    support = conf.sum(axis=1)
    acc = per_class_accuracy(conf)
    f1 = per_class_f1(conf)
    tp = np.diag(conf)
    rows = []
    for c, name in enumerate(ev.class_names):
        off = conf[c].copy()
        off[c] = 0
        mistaken = (
            f"{ev.class_names[int(off.argmax())]} ({int(off.max())})" if off.max() > 0 else "—"
        )
        rows.append([c, name, int(support[c]), int(tp[c]), pct(acc[c], 1), pct(f1[c], 1), mistaken])
    lines = ["## Per-class accuracy", ""]
    present = np.flatnonzero(support > 0)
    if len(present) > 1:
        order = present[np.argsort(acc[present], kind="stable")]
        k = min(3, len(present) // 2)  # hardest and easiest never overlap
        low, high = acc[present].min(), acc[present].max()
        hardest = [c for c in order[:k] if acc[c] < high]
        easiest = [c for c in order[::-1][:k] if acc[c] > low]
        if hardest and easiest:

            def named(classes: list[int]) -> str:
                return ", ".join(f"{ev.class_names[c]} ({pct(acc[c], 1)})" for c in classes)

            lines += [f"Hardest: {named(hardest)}. Easiest: {named(easiest)}.", ""]
    header = ["id", "class", "clips", "correct", "accuracy", "F1", "most often predicted instead"]
    return lines + table(header, rows, "rlrrrrl")


def confused_section(ev: Evaluation, limit: int = 10) -> list[str]:
    pairs = most_confused_pairs(ev.confusion, limit)
    lines = ["## Most confused pairs", ""]
    if not pairs:
        return [*lines, "No clip of this split was misclassified."]
    p = ev.predictions
    rows = []
    for pair in pairs:
        ids = p.clip_id[(p.label == pair.true) & (p.prediction == pair.predicted)]
        examples = ", ".join(f"`{c}`" for c in ids.iloc[:EXAMPLES_PER_PAIR])
        rows.append(
            [
                f"{ev.class_names[pair.true]} ({pair.true})",
                f"{ev.class_names[pair.predicted]} ({pair.predicted})",
                pair.count,
                pct(pair.fraction, 1),
                examples,
            ]
        )
    header = ["true class", "predicted as", "clips", "of the true class", "example clips"]
    return lines + table(header, rows, "llrrl")


def history_summary(history: list[dict[str, Any]]) -> str:
    stages = sorted({str(e["stage"]) for e in history if e.get("stage") is not None})
    text = f"{len(history)} epochs" + (
        f" over stages {', '.join(stages)}." if len(stages) > 1 else "."
    )
    best = charts.best_validation(history)
    if best is not None:
        text += (
            f" Best validation top-1 {pct(best[1], 1)} at {charts.epoch_name(history, best[0])}."
        )
    return text


def curves_section(
    history: list[dict[str, Any]], curves_png: bytes | None, embed: bool = True
) -> list[str]:
    lines = ["## Training curves", ""]
    if curves_png is None:
        return [*lines, "The model artifact has no training history (history.json)."]
    return [
        *lines,
        image(curves_png, "training curves", CURVES, embed),
        "",
        f"{history_summary(history)} Also in `{CURVES}` beside this report.",
    ]


def confusion_section(confusion_png: bytes, embed: bool = True) -> list[str]:
    return [
        "## Confusion matrix",
        "",
        image(confusion_png, "confusion matrix", CONFUSION_PNG, embed),
        "",
        "Rows: true class; columns: predicted class; colour: share of the true class's clips. "
        f"Counts in `confusion.json`, the image in `{CONFUSION_PNG}`.",
    ]


def render_report(
    ev: Evaluation,
    *,
    curves_png: bytes | None,
    confusion_png: bytes | None,
    budget: int = MARKDOWN_BUDGET,
) -> str:
    """The whole Markdown report of one evaluation, at most `budget` characters where the
    text allows (the charts embedded compactly, else linked)."""
    curves_png = compact_png(curves_png) if curves_png is not None else None
    confusion_png = compact_png(confusion_png) if confusion_png is not None else None
    text = ""
    for embed in (True, False):
        sections = [
            summary_section(ev),
            metrics_section(ev),
            per_class_section(ev),
            confused_section(ev),
        ]
        if confusion_png is not None:
            sections.append(confusion_section(confusion_png, embed))
        sections.append(curves_section(ev.history, curves_png, embed))
        text = "\n\n".join("\n".join(s) for s in sections) + "\n"
        if len(text) <= budget:
            break
    return text


def write_report(directory: str | Path, ev: Evaluation) -> Path:
    """Draw the charts, write them and report.md into `directory`; return the report path."""
    directory = Path(directory)
    name = ev.meta.get("variant") or Path(str(ev.meta.get("model", "model"))).name
    curves_png = charts.training_curves(ev.history, title=f"training of {name}")
    curves_png = compact_png(curves_png) if curves_png is not None else None
    confusion_png = compact_png(charts.confusion_heatmap(ev.confusion, ev.class_names))
    if curves_png is not None:
        (directory / CURVES).write_bytes(curves_png)
    (directory / CONFUSION_PNG).write_bytes(confusion_png)
    path = directory / REPORT
    path.write_text(render_report(ev, curves_png=curves_png, confusion_png=confusion_png))
    return path
