"""Compare evaluation runs: variant x metric, mean ± std over seeds, and the difference to
the reference variant (`full`) with a paired bootstrap interval on the shared test clips.

The local twin of the KFP compare view, with what that view cannot say: whether a
difference is larger than seed noise. Two kinds of noise are reported apart:
- test-clip sampling: the paired bootstrap interval (same resampled clips for every run);
- seed noise: the spread over seeds, pooled over the variants that have two or more seeds
  (three seeds give a poor std per variant; the pooled one assumes that every variant is
  about as seed-sensitive, which it says). A difference counts as larger than seed noise
  when it exceeds twice its standard error, pooled_std * sqrt(1/n_variant + 1/n_reference).
Runs are paired by clip_id; runs of different test sets are refused.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fgsgl.artifacts import METADATA, read_metadata
from fgsgl.errors import FgsglError
from fgsgl.evaluate.artifact import KIND, Evaluation, load_evaluation
from fgsgl.evaluate.bootstrap import DEFAULT_LEVEL, DEFAULT_REPLICATES, paired_bootstrap
from fgsgl.evaluate.metrics import METRIC_KEYS, headline_batch

COMPARISON_KIND = "fgsgl.comparison"
REFERENCE = "full"
SEED_NOISE_FACTOR = 2.0  # a difference beyond 2 standard errors of seed noise is "larger"


@dataclass
class Run:
    path: Path
    variant: str
    seed: int | None
    evaluation: Evaluation


@dataclass
class VariantResult:
    variant: str
    runs: list[Run]
    values: dict[str, list[float]]  # metric -> one value per run (seed)
    mean: dict[str, float]
    std: dict[str, float]  # NaN with one seed
    diff: dict[str, float] = field(default_factory=dict)  # mean - reference mean
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    seed_se: dict[str, float | None] = field(default_factory=dict)  # std. error of diff
    verdict: dict[str, str] = field(default_factory=dict)

    @property
    def seeds(self) -> list[int | None]:
        return [r.seed for r in self.runs]


@dataclass
class Comparison:
    reference: str
    split: str
    clips: int
    dataset_fingerprint: str
    variants: list[VariantResult]
    pooled_std: dict[str, float | None]  # seed noise per metric
    level: float
    replicates: int
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        def num(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {
            "reference": self.reference,
            "split": self.split,
            "clips": self.clips,
            "dataset_fingerprint": self.dataset_fingerprint,
            "level": self.level,
            "replicates": self.replicates,
            "pooled_seed_std": {k: num(v) for k, v in self.pooled_std.items()},
            "notes": self.notes,
            "variants": {
                v.variant: {
                    "seeds": v.seeds,
                    "runs": [str(r.path) for r in v.runs],
                    "values": v.values,
                    "mean": {k: num(x) for k, x in v.mean.items()},
                    "std": {k: num(x) for k, x in v.std.items()},
                    "diff": {k: num(x) for k, x in v.diff.items()},
                    "ci": {k: [num(lo), num(hi)] for k, (lo, hi) in v.ci.items()},
                    "seed_se": {k: num(x) for k, x in v.seed_se.items()},
                    "verdict": v.verdict,
                }
                for v in self.variants
            },
        }


def find_evaluations(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Evaluation directories: each path is one, or a root (e.g. a run-local root) searched
    for metadata.json of kind fgsgl.evaluation. Staged or hidden folders are skipped."""
    found: list[Path] = []
    problems: list[str] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            problems.append(f"{path}: does not exist")
        elif (path / METADATA).is_file():
            read_metadata(path, KIND)  # a single artifact must be an evaluation
            found.append(path)
        elif path.is_dir():
            inside = [
                m.parent
                for m in sorted(path.rglob(METADATA))
                if not any(part.startswith(".") for part in m.relative_to(path).parts)
                and _kind(m.parent) == KIND
            ]
            if not inside:
                problems.append(f"{path}: no evaluation artifact (metadata kind {KIND}) under it")
            found += inside
        else:
            problems.append(f"{path}: not a directory")
    if problems:
        raise FgsglError("cannot compare", problems)
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique


def _kind(directory: Path) -> str | None:
    try:
        return read_metadata(directory).get("kind")
    except FgsglError:
        return None


def _fallback_names(paths: list[Path]) -> dict[Path, str]:
    """Names for runs whose metadata has no variant: their path below the common parent."""
    if len(paths) <= 1:
        return {p: p.name for p in paths}
    common = Path(os.path.commonpath([str(p) for p in paths]))
    return {p: p.relative_to(common).as_posix() or p.name for p in paths}


def load_runs(paths: Sequence[str | os.PathLike]) -> tuple[list[Run], list[str]]:
    """Load every evaluation, name it by variant, drop exact duplicates (the same run found
    twice, e.g. through a cache), refuse two different results under one variant and seed."""
    dirs = find_evaluations(paths)
    evaluations = [load_evaluation(d) for d in dirs]
    unnamed = _fallback_names(
        [d for d, e in zip(dirs, evaluations, strict=True) if not e.meta.get("variant")]
    )
    found = []
    for d, ev in zip(dirs, evaluations, strict=True):
        name = ev.meta.get("variant") or unnamed[d]
        if ev.meta.get("with_prototypes") is not None:  # another scoring of the same model
            name += f"+proto{ev.meta['with_prototypes']:g}"
        found.append(Run(d, name, ev.meta.get("seed"), ev))
    check_same_test_set(found)  # the more basic refusal comes first
    runs, notes, problems = [], [], []
    seen: dict[tuple[str, int], Run] = {}
    for run in found:
        d, ev = run.path, run.evaluation
        key = (run.variant, run.seed)
        if run.seed is not None and key in seen:
            other = seen[key]
            if other.evaluation.predictions.equals(ev.predictions):
                notes.append(f"{d}: same predictions as {other.path}; counted once")
                continue
            problems.append(
                f"{d} and {other.path}: both variant {run.variant!r} seed {run.seed}, "
                "with different predictions (evaluate them with different --variant names)"
            )
        seen[key] = run
        runs.append(run)
    if problems:
        raise FgsglError("cannot compare: ambiguous runs", problems)
    return runs, notes


def check_same_test_set(runs: list[Run]) -> None:
    """All runs must hold the same clips with the same labels and class list."""
    first = runs[0]
    ref = first.evaluation
    ref_clips = dict(zip(ref.predictions.clip_id, ref.predictions.label, strict=True))
    problems = []
    for run in runs[1:]:
        ev = run.evaluation
        clips = dict(zip(ev.predictions.clip_id, ev.predictions.label, strict=True))
        what = []
        if ev.meta.get("dataset_fingerprint") != ref.meta.get("dataset_fingerprint"):
            what.append("another dataset")
        if ev.meta.get("split") != ref.meta.get("split"):
            what.append(f"split {ev.meta.get('split')!r} (first: {ref.meta.get('split')!r})")
        if ev.class_names != ref.class_names:
            what.append("another class list")
        extra, missing = clips.keys() - ref_clips.keys(), ref_clips.keys() - clips.keys()
        if extra or missing:
            what.append(
                f"{len(clips)} clips, {len(extra)} not in the first run, "
                f"{len(missing)} of the first run's missing"
            )
        relabelled = sum(clips[c] != ref_clips[c] for c in clips.keys() & ref_clips.keys())
        if relabelled:
            what.append(f"{relabelled} clips with another label")
        if what:
            problems.append(f"{run.path}: {'; '.join(what)}")
    if problems:
        raise FgsglError(
            f"cannot compare runs of different test sets (first run: {first.path}, "
            f"{ref.meta.get('split')!r} split, {len(ref_clips)} clips)",
            problems,
        )


def pooled_seed_std(groups: list[VariantResult]) -> dict[str, float | None]:
    """Within-variant std over seeds, pooled over variants with at least two seeds."""
    out: dict[str, float | None] = {}
    for k in METRIC_KEYS:
        ss = sum(float(np.sum((np.array(g.values[k]) - g.mean[k]) ** 2)) for g in groups)
        dof = sum(len(g.values[k]) - 1 for g in groups)
        out[k] = math.sqrt(ss / dof) if dof > 0 else None
    return out


def verdict(diff: float, ci: tuple[float, float], seed_se: float | None) -> str:
    """A difference in words, against clip sampling (the CI) and seed noise (the se)."""
    outside_ci = ci[0] > 0 or ci[1] < 0
    if seed_se is None:
        clip = "outside" if outside_ci else "within"
        return f"{clip} test-clip sampling noise; seed noise unknown (one seed per variant)"
    beyond_seed = abs(diff) > SEED_NOISE_FACTOR * seed_se
    if outside_ci and beyond_seed:
        return "larger than seed noise and test-clip sampling noise"
    if beyond_seed:
        return "larger than seed noise, but within test-clip sampling noise"
    if outside_ci:
        return "within seed noise (though outside the test-clip sampling interval)"
    return "within noise (seeds and test-clip sampling)"


def variant_order(runs: Sequence[Run], reference: str | None) -> tuple[str, list[str]]:
    """The reference variant (`full` when present, else the first) and every variant in
    the order found, the reference first; a named reference must be among the runs."""
    names = list(dict.fromkeys(r.variant for r in runs))
    if reference is None:
        reference = REFERENCE if REFERENCE in names else names[0]
    elif reference not in names:
        raise FgsglError(
            f"reference variant {reference!r} is not among the runs", [f"found: {names}"]
        )
    names.remove(reference)
    return reference, [reference, *names]


def build_comparison(
    runs: list[Run],
    *,
    reference: str | None = None,
    replicates: int = DEFAULT_REPLICATES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    notes: list[str] | None = None,
) -> Comparison:
    """Group runs by variant, summarise over seeds, bootstrap the differences."""
    if not runs:
        raise FgsglError("cannot compare: no evaluation runs")
    check_same_test_set(runs)
    reference, names = variant_order(runs, reference)

    order = runs[0].evaluation.predictions.clip_id.tolist()
    num_classes = runs[0].evaluation.num_classes
    aligned = [aligned_predictions(r.evaluation, order) for r in runs]

    def per_run(weights: np.ndarray) -> np.ndarray:
        """(b, runs, metrics) headline values under a (b, n) block of clip weights."""
        return np.stack([headline_batch(*a, num_classes, weights) for a in aligned], axis=1)

    point = per_run(np.ones((1, len(order))))[0]
    groups = []
    for name in names:
        members = [i for i, r in enumerate(runs) if r.variant == name]
        values = {k: [float(point[i, m]) for i in members] for m, k in enumerate(METRIC_KEYS)}
        groups.append(
            VariantResult(
                variant=name,
                runs=[runs[i] for i in members],
                values=values,
                mean={k: float(np.mean(v)) for k, v in values.items()},
                std={
                    k: float(np.std(v, ddof=1)) if len(v) > 1 else math.nan
                    for k, v in values.items()
                },
            )
        )
    member_index = [[i for i, r in enumerate(runs) if r.variant == g.variant] for g in groups]

    def differences(weights: np.ndarray) -> np.ndarray:
        """(b, variants, metrics): each variant's mean over seeds minus the reference's."""
        values = per_run(weights)
        means = np.stack([values[:, idx].mean(axis=1) for idx in member_index], axis=1)
        return means - means[:, :1]

    interval = paired_bootstrap(
        differences, len(order), replicates=replicates, level=level, seed=seed
    )
    pooled = pooled_seed_std(groups)
    n_ref = len(groups[0].runs)
    for gi, g in enumerate(groups[1:], start=1):
        for mi, k in enumerate(METRIC_KEYS):
            g.diff[k] = float(interval.estimate[gi, mi])
            g.ci[k] = (float(interval.low[gi, mi]), float(interval.high[gi, mi]))
            s = pooled[k]
            g.seed_se[k] = None if s is None else s * math.sqrt(1 / len(g.runs) + 1 / n_ref)
            g.verdict[k] = verdict(g.diff[k], g.ci[k], g.seed_se[k])
    ref_eval = runs[0].evaluation
    return Comparison(
        reference=reference,
        split=str(ref_eval.meta.get("split", "?")),
        clips=len(order),
        dataset_fingerprint=str(ref_eval.meta.get("dataset_fingerprint", "")),
        variants=groups,
        pooled_std=pooled,
        level=level,
        replicates=replicates,
        notes=list(notes or []),
    )


def aligned_predictions(
    ev: Evaluation, order: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, predictions, top-5 hits) in the given clip order: runs pair by clip_id."""
    position = {c: i for i, c in enumerate(ev.predictions.clip_id)}
    rows = np.array([position[c] for c in order])
    p = ev.predictions
    return p.label.to_numpy()[rows], p.prediction.to_numpy()[rows], ev.in_top5[rows]
