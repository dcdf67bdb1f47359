"""PNG charts for the reports: training curves, the confusion heatmap, the compare bars.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global backend switch,
no display), returned as PNG bytes so that a report can embed them and a step can write
them beside it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

SKIP_KEYS = {"epoch", "stage", "step", "steps", "seconds", "time", "samples_per_s"}
PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3"]


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _tidy(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)


def flatten(entry: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """{'losses': {'cls': 1.2}, 'val_top1': 0.5} -> {'losses.cls': 1.2, 'val_top1': 0.5}."""
    out: dict[str, float] = {}
    for key, value in entry.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def curve_panels(history: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Group the numeric history keys into panels: losses, accuracy, learning rate."""
    keys: list[str] = []
    for entry in history:
        keys += [k for k in flatten(entry) if k not in keys]
    panels: dict[str, list[str]] = {"loss": [], "accuracy": [], "learning rate": []}
    for k in keys:
        leaf = k.rsplit(".", 1)[-1].lower()
        if k.lower() in SKIP_KEYS or leaf in SKIP_KEYS:
            continue
        if leaf == "lr" or leaf.endswith("_lr") or leaf.startswith("lr"):
            panels["learning rate"].append(k)
        elif "loss" in k.lower() or k.lower().startswith("losses."):
            panels["loss"].append(k)
        elif any(s in leaf for s in ("top1", "top5", "acc", "f1")):
            panels["accuracy"].append(k)
    return {name: ks for name, ks in panels.items() if ks}


def curve_label(key: str) -> str:
    """History key -> legend label: loss -> total, loss_cls -> cls, val_top1 -> val."""
    names = {"loss": "total", "val_loss": "val (cls)", "train_top1": "train", "val_top1": "val"}
    if key in names:
        return names[key]
    return key.removeprefix("losses.").removeprefix("loss.").removeprefix("loss_")


def epoch_name(history: Sequence[Mapping[str, Any]], i: int) -> str:
    """Where entry i sits: "stage 2, epoch 3" when the history spans stages, else "epoch 4"."""
    entry = history[i]
    epoch = entry.get("epoch", i + 1)
    if len({e.get("stage") for e in history}) > 1 and entry.get("stage") is not None:
        return f"stage {entry['stage']}, epoch {epoch}"
    return f"epoch {epoch}"


def best_validation(history: Sequence[Mapping[str, Any]]) -> tuple[int, float] | None:
    """(entry index, value) of the best validation top-1, if the history has one."""
    values = [(i, flatten(e).get("val_top1")) for i, e in enumerate(history)]
    values = [(i, v) for i, v in values if v is not None and math.isfinite(v)]
    return max(values, key=lambda iv: iv[1]) if values else None


def training_curves(history: Sequence[Mapping[str, Any]], title: str = "") -> bytes | None:
    """Losses, validation accuracy and learning rate per epoch; None without a history.
    Stage changes (ML-CO) are drawn as a dashed line, the best validation epoch as a star."""
    if not history:
        return None
    panels = curve_panels(history)
    if not panels:
        return None
    rows = [flatten(e) for e in history]
    epochs = np.arange(1, len(rows) + 1)
    stages = [e.get("stage") for e in history]
    cuts = [i for i in range(1, len(stages)) if stages[i] != stages[i - 1]]
    segments = [slice(a, b) for a, b in zip([0, *cuts], [*cuts, len(stages)], strict=True)]
    fig = _figure(4.2 * len(panels), 3.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, keys) in zip(axes, panels.items(), strict=True):
        for i, key in enumerate(keys):
            y = np.array([r.get(key, np.nan) for r in rows], dtype=float)
            if name == "accuracy" and np.nanmax(y) <= 1.0:
                y = y * 100
            dashed = key.startswith("val") and name == "loss"
            color = PALETTE[i % len(PALETTE)]
            for n, part in enumerate(segments):  # no line across a stage change
                ax.plot(
                    epochs[part],
                    y[part],
                    marker="o",
                    markersize=3.5,
                    color=color,
                    linestyle="--" if dashed else "-",
                    label=curve_label(key) if n == 0 else None,
                )
        best = best_validation(history)
        if name == "accuracy" and best is not None:
            i, value = best
            ax.plot(
                epochs[i],
                100 * value,
                marker="*",
                markersize=13,
                color="#222222",
                linestyle="none",
                label=f"best val: {100 * value:.1f}%\n({epoch_name(history, i)})",
            )
        for i in range(1, len(stages)):
            if stages[i] is not None and stages[i - 1] is not None and stages[i] != stages[i - 1]:
                ax.axvline(i + 0.5, color="#888888", linestyle="--", linewidth=1)
                ax.text(
                    i + 0.6,
                    0.98,
                    f"stage {stages[i]}",
                    transform=ax.get_xaxis_transform(),
                    va="top",
                    fontsize=8,
                    color="#555555",
                )
        ax.set_title(name)
        ax.set_xlabel("epoch" + (" (all stages)" if len(set(stages)) > 1 else ""))
        if name == "accuracy":
            ax.set_ylabel("%")
        if name == "learning rate":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        ax.xaxis.get_major_locator().set_params(integer=True)
        if len(ax.get_legend_handles_labels()[1]) > 1:
            ax.legend(fontsize=8, frameon=False)
        _tidy(ax)
    if title:
        fig.suptitle(title, fontsize=11)
    return _png(fig)


def _short(name: str, width: int = 22) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def confusion_heatmap(confusion: np.ndarray, class_names: Sequence[str], title: str = "") -> bytes:
    """Row-normalised confusion (share of each true class), counts written in small matrices."""
    c = len(class_names)
    support = confusion.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(support > 0, confusion / support, np.nan)
    side = min(max(4.5, 0.38 * c + 2.5), 16)
    fig = _figure(side + 1.2, side)
    ax = fig.subplots()
    image = ax.imshow(share * 100, cmap="Blues", vmin=0, vmax=100)
    fig.colorbar(image, ax=ax, shrink=0.8, label="% of the true class")
    labels = [f"{i} {_short(n)}" for i, n in enumerate(class_names)]
    ax.set_xticks(range(c), labels, rotation=60, ha="right", fontsize=7 if c > 20 else 8)
    ax.set_yticks(range(c), labels, fontsize=7 if c > 20 else 8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if c <= 20:
        for t in range(c):
            for p in range(c):
                if confusion[t, p]:
                    dark = share[t, p] > 0.55
                    ax.text(
                        p,
                        t,
                        str(confusion[t, p]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if dark else "#222222",
                    )
    if title:
        ax.set_title(title, fontsize=10)
    return _png(fig)


Difference = tuple[float, float, float, float | None]  # diff, ci low, ci high, seed se


def compare_bars(
    variants: Sequence[str],
    metrics: Sequence[str],
    metric_labels: Mapping[str, str],
    values: Mapping[str, Mapping[str, Sequence[float]]],
    differences: Mapping[str, Mapping[str, Difference]] | None = None,
    title: str = "",
    level: float = 0.95,
) -> bytes:
    """Top: grouped bars, one group per metric, one bar per variant (mean over seeds, in %),
    the std over seeds as whiskers and each seed as a dot. Bottom (when `differences` holds
    variant -> metric -> (diff, ci_low, ci_high, seed_se)): each variant's difference to
    the reference with its bootstrap interval, over a grey band of ±2 seed standard errors."""
    n = len(variants)
    width = 0.8 / n
    fig_width = max(7.0, 0.5 * len(metrics) * max(n, 2) + 3.0)
    fig = _figure(fig_width, 7.4 if differences else 4.4)
    if differences:
        ax, dax = fig.subplots(2, 1, height_ratios=[1.25, 1], sharex=True)
    else:
        ax, dax = fig.subplots(), None
    x = np.arange(len(metrics))
    low = math.inf
    for i, variant in enumerate(variants):
        color = PALETTE[i % len(PALETTE)]
        seeds = [np.asarray(values[variant][m], dtype=float) * 100 for m in metrics]
        means = np.array([s.mean() for s in seeds])
        stds = np.array([s.std(ddof=1) if len(s) > 1 else 0.0 for s in seeds])
        offset = x - 0.4 + width * (i + 0.5)
        ax.bar(
            offset,
            means,
            width * 0.92,
            color=color,
            label=f"{variant} ({len(seeds[0])} seed{'s' if len(seeds[0]) > 1 else ''})",
            yerr=stds if any(len(s) > 1 for s in seeds) else None,
            error_kw={"elinewidth": 1, "capsize": 3, "ecolor": "#333333"},
        )
        for j, s in enumerate(seeds):
            if len(s) > 1:
                ax.scatter(np.full(len(s), offset[j]), s, s=9, color="#222222", zorder=3)
            ax.text(
                offset[j],
                max(means[j] + stds[j], s.max()) + 0.8,
                f"{means[j]:.1f}",
                ha="center",
                va="bottom",
                fontsize=7,
                rotation=90 if n > 3 else 0,
            )
        low = min(low, float(np.min([s.min() for s in seeds])))
        if dax is not None and variant in differences:
            for j, m in enumerate(metrics):
                d, lo, hi, se = (np.nan if v is None else 100 * v for v in differences[variant][m])
                if np.isfinite(se):
                    dax.add_patch(_band(offset[j], width * 0.9, 2 * se))
                dax.errorbar(
                    offset[j],
                    d,
                    yerr=[[d - lo], [hi - d]],
                    fmt="o",
                    color=color,
                    markersize=5,
                    elinewidth=1.5,
                    capsize=3,
                )
    floor = max(0.0, math.floor((low - 10) / 10) * 10)
    ax.set_ylim(floor, 105)
    ax.set_ylabel("%" + (f" (axis from {floor:.0f})" if floor > 0 else ""))
    _tidy(ax)
    if title:
        ax.set_title(title, fontsize=11)
    fig.legend(
        *ax.get_legend_handles_labels(),
        loc="outside lower center",
        fontsize=8,
        frameon=False,
        ncols=min(n, 4),
    )
    if dax is not None:
        dax.axhline(0, color="#444444", linewidth=1)
        dax.set_ylabel(f"difference to {variants[0]}\n(points, {round(100 * level)} % CI)")
        dax.set_title(
            "difference to the reference; grey: ±2 standard errors of seed noise",
            fontsize=9,
            color="#444444",
        )
        _tidy(dax)
        dax.set_xticks(x, [metric_labels.get(m, m) for m in metrics])
    else:
        ax.set_xticks(x, [metric_labels.get(m, m) for m in metrics])
    return _png(fig)


def _band(center: float, width: float, half_height: float):
    from matplotlib.patches import Rectangle

    return Rectangle(
        (center - width / 2, -half_height),
        width,
        2 * half_height,
        color="#000000",
        alpha=0.1,
        linewidth=0,
    )


def timeline_chart(
    title: str,
    duration_s: float,
    rows: Mapping[str, Sequence[tuple[float, float, str]]],
) -> bytes:
    """Class bands over time, one row per source ("predicted", "truth"): (start s, end s,
    class name) each; a class keeps its colour across rows, and a legend names them."""
    from matplotlib import colormaps

    names = sorted({name for bands in rows.values() for _, _, name in bands})
    cmap = colormaps["tab20"]
    colour = {name: cmap(k % 20) for k, name in enumerate(names)}
    fig = _figure(10, 0.9 + 0.55 * len(rows))
    ax = fig.add_subplot()
    labels = list(rows)
    for y, label in enumerate(reversed(labels)):
        for start, end, name in rows[label]:
            ax.broken_barh([(start, max(end - start, 1e-3))], (y - 0.35, 0.7), color=colour[name])
    ax.set_yticks(range(len(labels)), list(reversed(labels)))
    ax.set_xlim(0, max(duration_s, 1e-3))
    ax.set_xlabel("seconds")
    ax.set_title(title, fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    if names:
        from matplotlib.patches import Patch

        handles = [Patch(color=colour[n], label=n) for n in names]
        fig.legend(handles=handles, fontsize=7, ncols=min(len(names), 6), frameon=False,
                   loc="outside lower center")  # fmt: skip
    return _png(fig)
