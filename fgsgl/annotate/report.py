"""The agreement report: a Markdown page and its picture (alpha per attribute with its
interval; the confusion between two annotators on the attribute they agree on least)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fgsgl.annotate.consensus import DECISIONS
from fgsgl.text.templates import ATTRIBUTES

PICTURE = "agreement.png"


def write_report(
    out: Path,
    summary: dict[str, Any],
    agree: pd.DataFrame,
    raters: pd.DataFrame,
    answers: pd.DataFrame,
    decided: pd.DataFrame,
    problems: pd.DataFrame,
) -> None:
    worst = _worst(agree)
    _picture(out / PICTURE, agree, answers, worst)
    lines = [
        "# FG-Text agreement",
        "",
        f"{summary['tasks']} tasks, {summary['clips']} annotated clips, "
        f"{summary['annotators']} annotators, {summary['answers']} answers; "
        f"{summary['problems']} problems (problems.csv), {summary['disputed']} disputed "
        "attributes (disagreements.csv).",
        "",
        f"![agreement]({PICTURE})",
        "",
        "| attribute | clips (with 2+ answers) | Krippendorff's alpha [95 % CI] | "
        "percent agreement [95 % CI] |",
        "|---|---|---|---|",
    ]
    for r in agree.itertuples():
        lines.append(
            f"| {r.attribute} | {r.clips} ({r.paired_clips}) | "
            f"{_f(r.alpha)} [{_f(r.alpha_low)}, {_f(r.alpha_high)}] | "
            f"{_f(r.percent)} [{_f(r.percent_low)}, {_f(r.percent_high)}] |"
        )
    lines += [
        "",
        "Alpha is nominal (1 = perfect, 0 = what chance gives from the values' frequencies; "
        "n/a where every answer is the same value, so chance and agreement coincide); "
        "the intervals resample clips (1000 bootstrap draws).",
        "",
        "## How each attribute was decided",
        "",
        "| attribute | " + " | ".join(_decisions(summary)) + " |",
        "|---|" + "---|" * len(_decisions(summary)),
    ]
    for a in ATTRIBUTES:
        counts = summary["decisions"][a]
        lines.append(
            f"| {a} | " + " | ".join(str(counts.get(d, 0)) for d in _decisions(summary)) + " |"
        )
    lines += [
        "",
        "## Agreement with the consensus",
        "",
        "Share of each annotator's answers equal to what the other annotators decided "
        "(leave-one-out, or the adjudication), and of the `derived suggestions` (the "
        "pre-annotations from the keypoints) equal to the consensus: how good the "
        "derivation is on this footage.",
        "",
        "| rater | " + " | ".join(ATTRIBUTES) + " |",
        "|---|" + "---|" * len(ATTRIBUTES),
    ]
    for who, group in raters.groupby("rater"):
        by = group.set_index("attribute")
        cells = [f"{_f(by.loc[a, 'agreement'])} (n={by.loc[a, 'n']})" for a in ATTRIBUTES]
        lines.append(f"| {who} | " + " | ".join(cells) + " |")
    if not problems.empty:
        lines += ["", "## Problems", ""]
        for p, n in problems["problem"].value_counts().head(10).items():
            lines.append(f"- {n} x {p}")
    (out / "report.md").write_text("\n".join(lines) + "\n")


def _decisions(summary: dict[str, Any]) -> list[str]:
    seen = {d for counts in summary["decisions"].values() for d in counts}
    order = list(DECISIONS)
    return [d for d in order if d in seen] + sorted(seen - set(order))


def _f(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{x:.2f}"


def _worst(agree: pd.DataFrame) -> str | None:
    ok = agree.dropna(subset=["alpha"])
    return None if ok.empty else str(ok.sort_values("alpha").iloc[0]["attribute"])


def _picture(path: Path, agree: pd.DataFrame, answers: pd.DataFrame, worst: str | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), width_ratios=[1, 1.3])
    y = np.arange(len(agree))
    a = agree["alpha"].to_numpy(dtype=float)
    err = np.vstack([a - agree["alpha_low"], agree["alpha_high"] - a])
    left.barh(y, np.nan_to_num(a), xerr=np.nan_to_num(err), color="#4c72b0", capsize=4)
    for yi, value in zip(y, a, strict=True):
        if np.isnan(value):
            left.text(0.02, yi, "undefined: one value throughout", va="center", fontsize=8)
    left.set_yticks(y, agree["attribute"])
    left.invert_yaxis()
    left.axvline(0.667, color="grey", ls="--", lw=1)
    left.axvline(0.8, color="grey", ls=":", lw=1)
    left.set_xlim(min(0.0, float(np.nanmin(a, initial=0))) - 0.05, 1.0)
    left.set_xlabel("Krippendorff's alpha (95 % CI); dashed 0.667, dotted 0.8")
    left.set_title("agreement per attribute")
    if worst is not None:
        pair = _two_annotators(answers, worst)
        if pair is not None:
            table = pd.crosstab(pair.iloc[:, 0], pair.iloc[:, 1])
            right.imshow(table.to_numpy(), cmap="Blues")
            for (r, c), n in np.ndenumerate(table.to_numpy()):
                if n:
                    right.text(c, r, str(n), ha="center", va="center", fontsize=7)
            right.set_xticks(
                range(table.shape[1]), table.columns, rotation=60, ha="right", fontsize=7
            )
            right.set_yticks(range(table.shape[0]), table.index, fontsize=7)
            right.set_xlabel(str(pair.columns[1]))
            right.set_ylabel(str(pair.columns[0]))
            right.set_title(f"{worst}: the two annotators who share most clips")
    if not right.has_data():
        right.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _two_annotators(answers: pd.DataFrame, attribute: str) -> pd.DataFrame | None:
    mine = answers[(answers["attribute"] == attribute) & ~answers["review"]]
    wide = mine.pivot_table(index="clip_id", columns="annotator", values="value", aggfunc="last")
    if wide.shape[1] < 2:
        return None
    shared = wide.notna().astype(int)
    overlap = (shared.T @ shared).to_numpy().copy()
    np.fill_diagonal(overlap, -1)
    i, j = np.unravel_index(np.argmax(overlap), overlap.shape)
    pair = wide.iloc[:, [i, j]].dropna()
    return pair if len(pair) else None
