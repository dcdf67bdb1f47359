"""The compare step's output: a `Comparison` (built by fgsgl.evaluate.compare) rendered as
Markdown tables, sentences and a bar chart, and written as a comparison directory; with it the
paired analysis by seed and clip (fgsgl.evaluate.paired), whose table the study page uses."""

from __future__ import annotations

import math
from pathlib import Path

from fgsgl.artifacts import staged_dir, write_json, write_metadata
from fgsgl.evaluate import charts
from fgsgl.evaluate.bootstrap import DEFAULT_LEVEL, DEFAULT_REPLICATES
from fgsgl.evaluate.compare import (
    COMPARISON_KIND,
    Comparison,
    VariantResult,
    build_comparison,
    load_runs,
)
from fgsgl.evaluate.metrics import METRIC_KEYS, METRIC_LABELS
from fgsgl.evaluate.paired import PairedAnalysis, PairedDifference, analyse_runs
from fgsgl.evaluate.report import embed_png, table

REPORT = "compare.md"
CHART = "compare.png"
MARKS = {
    "larger than seed noise and test-clip sampling noise": "●",
    "larger than seed noise, but within test-clip sampling noise": "◐",
    "within seed noise (though outside the test-clip sampling interval)": "◐",
}


def points(x: float, signed: bool = False, digits: int = 2) -> str:
    """A fraction as percent / percentage points."""
    if x is None or not math.isfinite(x):
        return "—"
    return f"{100 * x:+.{digits}f}" if signed else f"{100 * x:.{digits}f}"


def mean_std(v: VariantResult, k: str) -> str:
    if len(v.values[k]) < 2:
        return f"{points(v.mean[k])} (1 seed)"
    return f"{points(v.mean[k])} ± {points(v.std[k])}"


def mark(text: str) -> str:
    return MARKS.get(text, "○")


def seeds_text(v: VariantResult) -> str:
    known = [s for s in v.seeds if s is not None]
    if len(known) == len(v.seeds):
        return ", ".join(map(str, known))
    return str(len(v.seeds))


def sentence(c: Comparison, v: VariantResult, k: str) -> str:
    ref = c.variants[0]
    lo, hi = v.ci[k]
    se = v.seed_se[k]
    label = METRIC_LABELS[k]
    text = (
        f"**{v.variant}**: {label} {points(v.mean[k])} vs {points(ref.mean[k])} for "
        f"{c.reference}, a difference of {points(v.diff[k], True)} points "
        f"({round(100 * c.level)} % CI {points(lo, True)} to {points(hi, True)})."
    )
    inside = lo <= 0 <= hi
    text += (
        " The interval includes 0: the test clips cannot tell them apart."
        if inside
        else " The interval excludes 0."
    )
    if se is None:
        text += " Seed noise is unknown (one seed per variant): run more seeds to judge it."
    elif abs(v.diff[k]) > 2 * se:
        text += (
            f" It is larger than seed noise (|difference| > 2 × {points(se)} points, the "
            "standard error of a difference of seed means)."
        )
    else:
        text += (
            f" It is within seed noise (|difference| ≤ 2 × {points(se)} points, the "
            "standard error of a difference of seed means): not a real difference yet."
        )
    return text


def interval_text(lo: float, hi: float) -> str:
    return f"[{points(lo, True)}, {points(hi, True)}]"


def paired_verdict(d: PairedDifference) -> str:
    """The verdict word, with the MDE a null would have caught."""
    if d.verdict == "null":
        return f"null (MDE {points(d.mde)})"
    return "one seed: seed noise unknown" if d.verdict == "one seed" else d.verdict


def paired_table(a: PairedAnalysis, metric: str = "top1", target: float | None = None) -> list[str]:
    """variant, mean ± std, paired difference to the reference with its intervals, the noise
    components, MDE and verdict; with `target` (a fraction, e.g. 0.02) also the paired seeds
    this clip count needs for MDE <= target."""
    level = round(100 * a.level)
    header = [
        "variant",
        "paired seeds",
        f"{METRIC_LABELS[metric]} mean ± std",
        f"Δ vs {a.reference}",
        f"{level} % interval",
        "seed-paired t",
        "bootstrap seeds × clips",
        "sd seed / clip",
        "MDE",
        "verdict",
    ]
    if target is not None:
        header.append(f"seeds for MDE ≤ {points(target)}")
    rows = []
    for name, values in a.values.items():
        spread = values[metric]
        summary = (
            f"{points(float(sum(spread) / len(spread)))} (1 seed)"
            if len(spread) < 2
            else f"{points(_mean(spread))} ± {points(_std(spread))}"
        )
        d = a.differences.get(name, {}).get(metric)
        if d is None:
            reason = "reference" if name == a.reference else "not paired"
            row = [name, _seed_list(a.seeds[name]), summary, *["—"] * 6, reason]
            rows.append(row + (["—"] if target is not None else []))
            continue
        c = d.components
        row = [
            name,
            _seed_list(list(d.seeds)),
            summary,
            points(d.mean, True),
            interval_text(*d.interval),
            interval_text(*d.seed_t),
            interval_text(*d.bootstrap),
            f"{points(math.sqrt(c.var_seed))} / {points(math.sqrt(c.var_clip))}",
            points(d.mde),
            paired_verdict(d),
        ]
        if target is not None:
            needed = c.seeds_needed(target, level=a.level, power=a.power)
            row.append("—" if needed is None else str(needed))
        rows.append(row)
    return table(header, rows, "ll" + "r" * 7 + "l" + "r" * (target is not None))


def paired_section(
    a: PairedAnalysis,
    metric: str = "top1",
    *,
    title: str | None = None,
    target: float | None = None,
) -> list[str]:
    """A Markdown section: heading, what the columns mean, the table, the notes."""
    level = round(100 * a.level)
    power = round(100 * a.power)
    if a.classes is None:
        scope = f"the {a.clips} shared test clips"
    else:
        names = ", ".join(f"{i} {n}" for i, n in zip(a.classes, a.class_names, strict=True))
        scope = f"the {a.clips} test clips of classes {names}"
    lines = [
        f"## {title or f'Paired by seed and clip: {METRIC_LABELS[metric]}'}",
        "",
        f"Each variant against {a.reference} on the seeds both ran (d_s = variant − "
        f"{a.reference} for seed s; Δ is their mean) and {scope}. The {level} % interval is "
        "Δ ± t·SE, with SE from the seed (training) and clip (test-sampling) variance "
        "components and t at Satterthwaite's degrees of freedom; *sd seed / clip* are those "
        f"components as standard deviations of Δ. MDE: the smallest true difference this "
        f"design detects with {power} % power at the two-sided {100 - level} % level (t "
        "quantiles, the same degrees of freedom). Also shown: the seed-paired t interval "
        "(the test clips held fixed) and the percentile interval of the bootstrap over seeds "
        f"and clips together ({a.replicates} resamples; conservative). Derivations: "
        "`fgsgl/evaluate/paired.py`.",
        "",
        *paired_table(a, metric, target),
        "",
        f"differs: the {level} % interval excludes 0. null (MDE m): it includes 0; a true "
        f"difference of m points or more would have been detected with {power} % power, so "
        "effects that large are unlikely, but smaller ones are not excluded.",
    ]
    if target is not None:
        lines[-1] += (
            f" *seeds for MDE ≤ {points(target)}*: paired seeds needed at this clip count, "
            "from the measured components (— if no number of seeds gets there)."
        )
    if a.notes:
        lines += ["", "Left out:", "", *(f"- {n}" for n in a.notes)]
    return lines


def has_seed_pairs(a: PairedAnalysis) -> bool:
    """Whether some variant shares two or more seeds with the reference (else the paired
    section would only repeat the clip bootstrap)."""
    return any(len(d.seeds) >= 2 for by in a.differences.values() for d in by.values())


def _mean(v: list[float]) -> float:
    return sum(v) / len(v)


def _std(v: list[float]) -> float:
    m = _mean(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


def _seed_list(seeds: list[int | None]) -> str:
    known = [s for s in seeds if s is not None]
    return ", ".join(map(str, known)) if known else "—"


def render(c: Comparison, chart_png: bytes | None, paired: PairedAnalysis | None = None) -> str:
    labels = [METRIC_LABELS[k] for k in METRIC_KEYS]
    lines = [
        f"# Compare: {len(c.variants)} variants on the {c.split} split",
        "",
        f"{c.clips} shared test clips (dataset `{c.dataset_fingerprint[:16]}`), "
        f"{sum(len(v.runs) for v in c.variants)} runs; reference variant: **{c.reference}**. "
        "All numbers in % (differences in percentage points).",
        "",
        "## Metrics: mean ± std over seeds",
        "",
        *table(
            ["variant", "seeds", *labels],
            [
                [v.variant, seeds_text(v), *(mean_std(v, k) for k in METRIC_KEYS)]
                for v in c.variants
            ],
            "lr" + "r" * len(labels),
        ),
    ]
    if len(c.variants) > 1:
        level = round(100 * c.level)
        lines += [
            "",
            f"## Difference to {c.reference}",
            "",
            f"Mean over seeds minus {c.reference}'s mean, with the paired bootstrap {level} % "
            f"interval over the {c.clips} shared clips ({c.replicates} resamples; every run "
            "sees the same resampled clips).",
            "",
            *table(
                ["variant", *labels],
                [
                    [
                        v.variant,
                        *(
                            f"{points(v.diff[k], True)} [{points(v.ci[k][0], True)}, "
                            f"{points(v.ci[k][1], True)}] {mark(v.verdict[k])}"
                            for k in METRIC_KEYS
                        ),
                    ]
                    for v in c.variants[1:]
                ],
                "l" + "r" * len(labels),
            ),
            "",
            "● larger than seed noise and outside the clip-sampling interval; "
            "◐ beyond one of the two only; ○ within noise.",
            "",
            "## In words",
            "",
            *(f"- {sentence(c, v, 'top1')}" for v in c.variants[1:]),
            "",
            _noise_paragraph(c),
        ]
    if paired is not None and has_seed_pairs(paired):
        lines += ["", *paired_section(paired)]
    if chart_png is not None:
        lines += [
            "",
            "## Chart",
            "",
            embed_png(chart_png, "compare chart"),
            "",
            f"Bars: mean over seeds; whiskers: std; dots: single seeds. Also `{CHART}`.",
        ]
    lines += ["", "## Runs", ""]
    rows = [
        [
            v.variant,
            "—" if r.seed is None else r.seed,
            *(points(r_values) for r_values in _run_values(v, i)),
            f"`{r.path}`",
        ]
        for v in c.variants
        for i, r in enumerate(v.runs)
    ]
    lines += table(["variant", "seed", *labels, "evaluation"], rows, "lr" + "r" * len(labels) + "l")
    if c.notes:
        lines += ["", "Notes:", "", *(f"- {n}" for n in c.notes)]
    return "\n".join(lines) + "\n"


def _run_values(v: VariantResult, i: int) -> list[float]:
    return [v.values[k][i] for k in METRIC_KEYS]


def _noise_paragraph(c: Comparison) -> str:
    std = c.pooled_std["top1"]
    if std is None:
        return (
            "Seed noise: every variant has one seed, so seed noise is unknown; the intervals "
            "above only cover which test clips were drawn. Run several seeds per variant "
            "(`--seeds 0,1,2`) before trusting a difference of a point or two."
        )
    with_seeds = [v.variant for v in c.variants if len(v.runs) > 1]
    return (
        f"Seed noise: the top-1 std over seeds, pooled over {', '.join(with_seeds)}, is "
        f"{points(std)} points (assumed the same for every variant). The bootstrap intervals "
        "cover only the sampling of test clips, for the seeds that were run."
    )


def chart(c: Comparison) -> bytes:
    return charts.compare_bars(
        [v.variant for v in c.variants],
        list(METRIC_KEYS),
        METRIC_LABELS,
        {v.variant: v.values for v in c.variants},
        {
            v.variant: {k: (v.diff[k], *v.ci[k], v.seed_se[k]) for k in METRIC_KEYS}
            for v in c.variants[1:]
        },
        title=f"{c.split} split, {c.clips} clips: mean over seeds",
        level=c.level,
    )


def compare(
    runs: list[str],
    out: str | None = None,
    *,
    reference: str | None = None,
    replicates: int = DEFAULT_REPLICATES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> dict:
    """Compare evaluation runs (directories, or roots to search). With `out`, write
    compare.md (chart embedded), compare.png and compare.json there. Returns the
    comparison as JSON-able data plus the Markdown (without the chart when no `out`)."""
    loaded, notes = load_runs(runs)
    comparison = build_comparison(
        loaded, reference=reference, replicates=replicates, level=level, seed=seed, notes=notes
    )
    paired = analyse_runs(
        loaded, reference=comparison.reference, replicates=replicates, level=level, seed=seed
    )
    summary = comparison.to_json()
    summary["paired"] = paired.to_json()
    if out is None:
        summary["markdown"] = render(comparison, chart_png=None, paired=paired)
        return summary
    with staged_dir(out) as tmp:
        png = chart(comparison)
        (tmp / CHART).write_bytes(png)
        markdown = render(comparison, chart_png=png, paired=paired)
        (tmp / REPORT).write_text(markdown)
        write_json(tmp / "compare.json", summary)
        write_metadata(
            tmp,
            COMPARISON_KIND,
            runs=[str(r.path) for r in loaded],
            reference=comparison.reference,
            split=comparison.split,
            dataset_fingerprint=comparison.dataset_fingerprint,
        )
    summary["markdown"] = markdown
    summary["out"] = str(out)
    summary["report"] = str(Path(out) / REPORT)
    return summary
