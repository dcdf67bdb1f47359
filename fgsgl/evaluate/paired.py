"""Paired analysis of a variant against the reference, over training seeds and test clips
together, with the minimum detectable effect (MDE) a null result excludes.

Why: `fgsgl compare` reports clip-sampling noise (bootstrap over clips) and seed noise
(pooled std) apart, and compares means of unpaired seeds. In the study, seed s of `full`,
`no_fg_sa` and `class_text` share stage 1, and every run sees the same test clips, so a
difference is best measured seed by seed and clip by clip, and a null needs a number: the
smallest effect the study would have caught.

Pairing. Only seeds both variants ran are used (the others are left out, with a note);
d_s = m(variant, s) - m(reference, s) is the per-seed difference of a metric m on all test
clips, and D = mean_s d_s over the K paired seeds.

Variance components (derivation). Think of the per-clip difference (for top-1, right minus
right) as d_si = mu + a_s + b_i + e_si: a_s the seed (training) effect, variance sa2; b_i the
clip effect shared by all seeds (a clip one variant gets right more often), variance sb2;
e_si the seed x clip interaction, variance se2. Over n clips,
    Var(D) = sa2 / K + sb2 / n + se2 / (K n).
The estimates come from B bootstrap draws w of the clips (the same draw for every run) of
d_s(w), so they hold for any metric computed under clip weights, not only for per-clip means:
- clip component, V_clip = Var_w[mean_s d_s(w)] ~ (sb2 + se2 / K) / n: the test-sampling
  part of Var(D) for the K seeds run.
- per-seed unshared clip noise, W = K / (K - 1) * mean_s Var_w[d_s(w) - mean_s' d_s'(w)]
  ~ se2 / n: the deviation of one seed from the seed mean is a_s + mean_i w_i e_si / n (b_i
  cancels), whose bootstrap variance is mean_i e_si^2 / n, of expectation (K - 1) / K se2/n.
- seed component: the spread of d_s over seeds, Var_s(d_s) (ddof 1) ~ sa2 + se2 / n (the
  shared b_i cancels, the unshared part does not), so sa2 = max(0, Var_s(d_s) - W): "var of
  d_s across seeds minus its per-seed clip part, floored at 0".
- the clip main part, C = max(0, V_clip - W / K) ~ sb2 / n.
Hence SE^2(K', n') = sa2 / K' + (n / n') (W / K' + C) for K' seeds and n' clips; at the
measured K, n it is sa2 / K + V_clip (= max(Var_s d_s, W) / K + C).

The two other intervals shown, and why neither is the headline:
- the seed-paired t interval, D +- t(K-1) sd(d_s) / sqrt(K), has SE^2 = Var_s(d_s) / K: seed
  and seed x clip noise, not sb2 / n. It treats the test clips as fixed (would these
  variants differ on these clips with new seeds?).
- the two-way bootstrap (seeds and clips drawn with replacement together; the same seed draw
  for both variants and the same clip draw for every run) has variance, exactly,
  S_R / K + S_C / n + S_RC / (K n) (S_R, S_C: population variances of the seed and clip
  means of d_si, S_RC: mean square of the interaction residual), of expectation about
  sa2 (K-1) / K^2 + sb2 / n + (3 - 2/K) se2 / (K n): a row-and-column bootstrap counts the
  seed x clip term nearly three times (Owen 2007, "the pigeonhole bootstrap"), conservative
  where that term dominates (top-1 on a few thousand clips), and its seed term shrinks by
  (K-1)/K with few seeds. It is reported as a cross-check.

MDE. A two-sided level-alpha test with standard error SE has power 1 - beta against a true
difference delta ~ (z(1 - alpha/2) + z(1 - beta)) SE, so MDE = 2.80 SE at 5 % and 80 %
(`mde(t=False)`). SE is itself estimated, its seed part from K seeds (K - 1 degrees of
freedom): with few seeds the interval needs t quantiles, and the honest MDE is
(t(1 - alpha/2, nu) + t(1 - beta, nu)) SE (the usual approximation to the noncentral t),
nu by Satterthwaite from the two parts: nu = (T_s + T_c)^2 / (T_s^2 / (K-1) + T_c^2 / (n-1)),
T_s = (sa2 + W) / K, T_c = C. With 3 seeds and seed noise dominating, nu ~ 2 and the factor
is 4.30 + 1.06 = 5.36 instead of 2.80. The headline is this t MDE (HEADLINE names it); it
tends to the normal one as seeds grow or when clip noise dominates.

Verdict: "differs" when the headline interval D +- t(1 - alpha/2, nu) SE excludes 0; "null"
otherwise, with the MDE: an effect of MDE or more would have been detected with 80 % power.
A null does not say the effect is smaller than the MDE, only that one that large would
probably have shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fgsgl.errors import FgsglError
from fgsgl.evaluate.bootstrap import DEFAULT_LEVEL, DEFAULT_REPLICATES, resample_weights
from fgsgl.evaluate.compare import (
    REFERENCE,
    Run,
    aligned_predictions,
    check_same_test_set,
    variant_order,
)
from fgsgl.evaluate.metrics import METRIC_KEYS, headline_batch
from fgsgl.evaluate.quantiles import t_quantile, z_quantile

POWER = 0.8
HEADLINE = "seeds+clips interval and MDE with t quantiles (Satterthwaite df)"
MAX_SEEDS = 10_000  # seeds_needed gives up beyond this


@dataclass(frozen=True)
class Components:
    """The noise of a mean paired difference, split so that it can be predicted for other
    numbers of seeds and clips (module docstring: sa2, W, C). NaN where one seed was run."""

    seeds: int  # K, the paired seeds measured
    clips: int  # n, the test clips measured
    seed: float  # sa2: variance of one seed's difference around the mean (training noise)
    seed_by_clip: float  # W = se2 / n: one seed's clip noise not shared with other seeds
    clip: float  # C = sb2 / n: clip noise shared by every seed
    clip_measured: float  # V_clip, the clip-bootstrap variance of the seed mean (as measured)

    @property
    def var_seed(self) -> float:
        """The seed (training) component of Var(D) for the seeds run: sa2 / K."""
        return self.seed / self.seeds

    @property
    def var_clip(self) -> float:
        """The clip (test-sampling) component of Var(D) for the seeds run: W / K + C."""
        return self.seed_by_clip / self.seeds + self.clip

    def _parts(self, seeds: int | None, clips: int | None) -> tuple[float, float, int, int]:
        k = self.seeds if seeds is None else seeds
        n = self.clips if clips is None else clips
        if k < 1 or n < 1:
            raise ValueError(f"need at least one seed and one clip, got {k} seeds, {n} clips")
        scale = self.clips / n
        return (self.seed + scale * self.seed_by_clip) / k, scale * self.clip, k, n

    def variance(self, seeds: int | None = None, clips: int | None = None) -> float:
        """Var(D) for `seeds` paired seeds and `clips` test clips (default: as measured)."""
        t_seed, t_clip, _, _ = self._parts(seeds, clips)
        return t_seed + t_clip

    def se(self, seeds: int | None = None, clips: int | None = None) -> float:
        return math.sqrt(self.variance(seeds, clips))

    def df(self, seeds: int | None = None, clips: int | None = None) -> float:
        """Satterthwaite's degrees of freedom of SE^2: seed part K-1, clip part n-1."""
        t_seed, t_clip, k, n = self._parts(seeds, clips)
        if math.isnan(t_seed + t_clip):
            return math.nan
        if t_seed + t_clip == 0:
            return math.inf
        denominator = (t_seed**2 / (k - 1) if k > 1 else math.inf) + t_clip**2 / max(n - 1, 1)
        return (t_seed + t_clip) ** 2 / denominator

    def mde(
        self,
        seeds: int | None = None,
        clips: int | None = None,
        *,
        t: bool = True,
        level: float = DEFAULT_LEVEL,
        power: float = POWER,
    ) -> float:
        """Minimum detectable effect (two-sided test at 1 - level, given power) for `seeds`
        and `clips`: (q(1 - alpha/2) + q(power)) SE, q normal or t(Satterthwaite df)."""
        se = self.se(seeds, clips)
        return factor(self.df(seeds, clips) if t else math.inf, level, power) * se

    def seeds_needed(
        self,
        target: float,
        clips: int | None = None,
        *,
        t: bool = True,
        level: float = DEFAULT_LEVEL,
        power: float = POWER,
    ) -> int | None:
        """The fewest paired seeds (>= 2) whose MDE is <= target at `clips` test clips; None
        when no number of seeds reaches it (the clip part alone is larger)."""

        def mde(k: int) -> float:
            return self.mde(k, clips, t=t, level=level, power=power)

        if math.isnan(self.variance()) or not mde(MAX_SEEDS) <= target:
            return None
        low, high = 1, MAX_SEEDS  # mde(low) > target (or low = 1) and mde(high) <= target
        while high - low > 1:  # the MDE falls with seeds: bisect
            mid = (low + high) // 2
            low, high = (low, mid) if mde(mid) <= target else (mid, high)
        return high


def factor(df: float, level: float = DEFAULT_LEVEL, power: float = POWER) -> float:
    """(q(1 - alpha/2) + q(power)): 2.80 for the normal at 95 % / 80 %, 5.36 for t with 2 df."""
    if math.isnan(df):
        return math.nan
    if math.isinf(df):
        return z_quantile((1 + level) / 2) + z_quantile(power)
    return t_quantile((1 + level) / 2, df) + t_quantile(power, df)


@dataclass(frozen=True)
class PairedDifference:
    """One metric, one variant against the reference, paired by seed and clip."""

    variant: str
    reference: str
    metric: str
    seeds: tuple[int | None, ...]  # the paired seeds, in order
    per_seed: tuple[float, ...]  # d_s
    mean: float  # D
    sd: float  # sd of d_s over seeds (ddof 1); NaN with one seed
    seed_t: tuple[float, float]  # seed-paired t interval (test clips fixed)
    bootstrap: tuple[float, float]  # two-way bootstrap percentile interval
    bootstrap_se: float
    components: Components
    level: float
    power: float = POWER

    @property
    def se(self) -> float:
        return self.components.se()

    @property
    def df(self) -> float:
        return self.components.df()

    @property
    def interval(self) -> tuple[float, float]:
        """The headline interval: D +- t((1 + level) / 2, Satterthwaite df) SE (NaN with
        one seed: no seed noise to put in it)."""
        se = self.se
        if math.isnan(se):
            return math.nan, math.nan
        half = t_quantile((1 + self.level) / 2, self.df) * se if se > 0 else 0.0
        return self.mean - half, self.mean + half

    @property
    def mde(self) -> float:
        """The headline MDE (t quantiles, Satterthwaite df) at the seeds and clips run."""
        return self.components.mde(level=self.level, power=self.power)

    @property
    def mde_normal(self) -> float:
        return self.components.mde(t=False, level=self.level, power=self.power)

    @property
    def verdict(self) -> str:
        """ "differs", "null" (see the MDE) or "one seed" (seed noise unknown)."""
        if len(self.seeds) < 2:
            return "one seed"
        low, high = self.interval
        return "differs" if low > 0 or high < 0 else "null"

    def to_json(self) -> dict[str, Any]:
        c = self.components
        return _finite(
            {
                "variant": self.variant,
                "reference": self.reference,
                "metric": self.metric,
                "seeds": list(self.seeds),
                "per_seed": list(self.per_seed),
                "mean": self.mean,
                "sd": self.sd,
                "seed_t": list(self.seed_t),
                "bootstrap": list(self.bootstrap),
                "bootstrap_se": self.bootstrap_se,
                "se": self.se,
                "df": self.df,
                "interval": list(self.interval),
                "mde": self.mde,
                "mde_normal": self.mde_normal,
                "verdict": self.verdict,
                "components": {
                    "seed": c.seed,
                    "seed_by_clip": c.seed_by_clip,
                    "clip": c.clip,
                    "clip_measured": c.clip_measured,
                    "var_seed": c.var_seed,
                    "var_clip": c.var_clip,
                },
            }
        )


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: None instead."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# values(weights (b, n)) -> (b, runs, metrics): every run's metrics under b clip weightings
Values = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Pairing:
    """Which runs pair: reference_runs[j] and variant_runs[j] are seed seeds[j]."""

    variant: str
    reference: str
    seeds: tuple[int | None, ...]
    reference_runs: tuple[int, ...]
    variant_runs: tuple[int, ...]


def paired_differences(
    values: Values,
    clips: int,
    pairings: Sequence[Pairing],
    metrics: Sequence[str],
    *,
    replicates: int = DEFAULT_REPLICATES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> list[dict[str, PairedDifference]]:
    """Every pairing's PairedDifference per metric, from one pass of clip draws shared by all
    runs (so the same clip draw for every run) and, per pairing, seed draws shared by its two
    variants. The same `seed` gives the same numbers."""
    if clips <= 0:
        raise FgsglError("paired analysis needs at least one test clip")
    if replicates < 2:
        raise ValueError(f"need at least 2 replicates, got {replicates}")
    point = np.asarray(values(np.ones((1, clips))), dtype=np.float64)[0]  # (runs, metrics)
    drawn: list[list[np.ndarray]] = [[] for _ in pairings]
    for w in resample_weights(clips, replicates, seed):
        block = np.asarray(values(w), dtype=np.float64)
        for store, p in zip(drawn, pairings, strict=True):
            store.append(block[:, list(p.variant_runs)] - block[:, list(p.reference_runs)])
    out = []
    for index, (p, store) in enumerate(zip(pairings, drawn, strict=True)):
        d_point = point[list(p.variant_runs)] - point[list(p.reference_runs)]  # (K, M)
        d_clip = np.concatenate(store)  # (B, K, M)
        k = len(p.seeds)
        rng = np.random.default_rng((seed, 1, index))
        seed_counts = rng.multinomial(k, np.full(k, 1 / k), size=replicates)  # (B, K)
        two_way = np.einsum("bk,bkm->bm", seed_counts, d_clip) / k
        out.append(
            {
                m: _difference(p, m, clips, d_point[:, j], d_clip[:, :, j], two_way[:, j], level)
                for j, m in enumerate(metrics)
            }
        )
    return out


def _difference(
    p: Pairing,
    metric: str,
    clips: int,
    d: np.ndarray,
    d_clip: np.ndarray,
    two_way: np.ndarray,
    level: float,
) -> PairedDifference:
    """The estimates of the module docstring from d_s (K,), its clip draws (B, K) and the
    two-way draws (B,)."""
    k = len(d)
    mean = float(d.mean())
    seed_mean = d_clip.mean(axis=1)
    clip_measured = float(np.nanvar(seed_mean, ddof=1))  # NaN draws: a metric undefined there
    tail = (1 - level) / 2
    if k >= 2:
        sd = float(np.std(d, ddof=1))
        half = t_quantile(1 - tail, k - 1) * sd / math.sqrt(k)
        seed_t = (mean - half, mean + half)
        deviation = d_clip - seed_mean[:, None]
        unshared = k / (k - 1) * float(np.nanvar(deviation, axis=0, ddof=1).mean())
        seed_var = max(0.0, sd**2 - unshared)
        clip_main = max(0.0, clip_measured - unshared / k)
    else:
        sd, seed_t = math.nan, (math.nan, math.nan)
        unshared = seed_var = clip_main = math.nan
    low, high = np.nanquantile(two_way, [tail, 1 - tail])
    return PairedDifference(
        variant=p.variant,
        reference=p.reference,
        metric=metric,
        seeds=p.seeds,
        per_seed=tuple(float(x) for x in d),
        mean=mean,
        sd=sd,
        seed_t=seed_t,
        bootstrap=(float(low), float(high)),
        bootstrap_se=float(np.nanstd(two_way, ddof=1)),
        components=Components(
            seeds=k,
            clips=clips,
            seed=seed_var,
            seed_by_clip=unshared,
            clip=clip_main,
            clip_measured=clip_measured,
        ),
        level=level,
    )


def paired_per_clip(
    reference: np.ndarray,
    variant: np.ndarray,
    *,
    seeds: Sequence[int] | None = None,
    replicates: int = DEFAULT_REPLICATES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    names: tuple[str, str] = (REFERENCE, "variant"),
) -> PairedDifference:
    """The paired analysis of a per-clip-mean metric from plain arrays: `reference` and
    `variant` are (K, n), row s one seed's per-clip score (1/0 for right/wrong: top-1)."""
    ref = np.asarray(reference, dtype=np.float64)
    var = np.asarray(variant, dtype=np.float64)
    if ref.ndim != 2 or ref.shape != var.shape:
        raise FgsglError(
            f"paired scores must be two (seeds, clips) arrays of one shape, got {ref.shape} "
            f"and {var.shape}"
        )
    k, n = ref.shape
    scores = np.concatenate([ref, var])  # runs: reference seeds, then variant seeds

    def values(w: np.ndarray) -> np.ndarray:
        return (w @ scores.T / w.sum(axis=1, keepdims=True))[:, :, None]

    pairing = Pairing(
        variant=names[1],
        reference=names[0],
        seeds=tuple(range(k)) if seeds is None else tuple(seeds),
        reference_runs=tuple(range(k)),
        variant_runs=tuple(range(k, 2 * k)),
    )
    (result,) = paired_differences(
        values, n, [pairing], ["score"], replicates=replicates, level=level, seed=seed
    )
    return result["score"]


@dataclass
class PairedAnalysis:
    """Every variant against the reference on the runs' shared clips (optionally only the
    clips of some classes: `classes`), per metric."""

    reference: str
    clips: int
    classes: tuple[int, ...] | None  # the class ids the clips are restricted to, if any
    class_names: list[str]  # the names of those classes (all classes without `classes`)
    metrics: tuple[str, ...]
    level: float
    replicates: int
    values: dict[str, dict[str, list[float]]]  # variant -> metric -> one value per run
    seeds: dict[str, list[int | None]]  # variant -> its runs' seeds (all, paired or not)
    differences: dict[str, dict[str, PairedDifference]]  # variant -> metric
    notes: list[str] = field(default_factory=list)
    headline: str = HEADLINE
    power: float = POWER

    def to_json(self) -> dict[str, Any]:
        return _finite(
            {
                "reference": self.reference,
                "clips": self.clips,
                "classes": None if self.classes is None else list(self.classes),
                "class_names": self.class_names,
                "metrics": list(self.metrics),
                "level": self.level,
                "power": self.power,
                "replicates": self.replicates,
                "headline": self.headline,
                "values": self.values,
                "seeds": self.seeds,
                "notes": self.notes,
                "differences": {
                    v: {m: d.to_json() for m, d in by_metric.items()}
                    for v, by_metric in self.differences.items()
                },
            }
        )


def analyse_runs(
    runs: Sequence[Run],
    *,
    reference: str | None = None,
    classes: Sequence[int] | None = None,
    metrics: Sequence[str] = METRIC_KEYS,
    replicates: int = DEFAULT_REPLICATES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> PairedAnalysis:
    """Pair every variant with the reference (`full` when present) by seed and clip.

    `classes`: restrict to the test clips of these class ids (e.g. the low-shot classes):
    their accuracy, its paired difference, interval and MDE, with the clips of the group
    resampled. Runs without a seed, and seeds only one side ran, are left out with a note."""
    runs = list(runs)
    if not runs:
        raise FgsglError("paired analysis: no evaluation runs")
    unknown = [m for m in metrics if m not in METRIC_KEYS]
    if unknown:
        raise FgsglError(f"paired analysis: unknown metrics {unknown}", [f"known: {METRIC_KEYS}"])
    check_same_test_set(runs)
    reference, names = variant_order(runs, reference)
    first = runs[0].evaluation
    order = first.predictions.clip_id.tolist()
    group, class_names = None, list(first.class_names)
    if classes is not None:
        group = tuple(sorted({int(c) for c in classes}))
        bad = [c for c in group if not 0 <= c < first.num_classes]
        if bad or not group:
            raise FgsglError(
                f"paired analysis: group classes {bad or '(none)'} are not class ids of "
                f"{runs[0].path} (0..{first.num_classes - 1})"
            )
        keep = np.isin(first.predictions.label.to_numpy(), group)
        if not keep.any():
            raise FgsglError(
                f"paired analysis: no test clip of classes {list(group)} in {runs[0].path}"
            )
        order = [c for c, k in zip(order, keep, strict=True) if k]
        class_names = [first.class_names[c] for c in group]
    values = run_values(
        [aligned_predictions(r.evaluation, order) for r in runs], first.num_classes, metrics
    )
    pairings, notes = pairings_of(runs, reference)
    results = paired_differences(
        values, len(order), pairings, metrics, replicates=replicates, level=level, seed=seed
    )
    point = values(np.ones((1, len(order))))[0]
    by_variant: dict[str, list[int]] = {n: [] for n in names}
    for i, r in enumerate(runs):
        by_variant[r.variant].append(i)
    return PairedAnalysis(
        reference=reference,
        clips=len(order),
        classes=group,
        class_names=class_names,
        metrics=tuple(metrics),
        level=level,
        replicates=replicates,
        values={
            n: {m: [float(point[i, j]) for i in idx] for j, m in enumerate(metrics)}
            for n, idx in by_variant.items()
        },
        seeds={n: [runs[i].seed for i in idx] for n, idx in by_variant.items()},
        differences={p.variant: r for p, r in zip(pairings, results, strict=True)},
        notes=notes,
    )


def run_values(
    aligned: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    num_classes: int,
    metrics: Sequence[str],
) -> Values:
    """values(weights) for runs given as (labels, predictions, top-5 hits) in clip order.
    top-1 and top-5 are weighted means of per-clip hits (one matrix product for all runs);
    the class-averaged metrics need the weighted confusion matrices."""
    if set(metrics) <= {"top1", "top5"}:
        hits = np.stack(
            [[p == lab if m == "top1" else top5 for m in metrics] for lab, p, top5 in aligned]
        ).astype(np.float64)  # (runs, metrics, n)

        def means(w: np.ndarray) -> np.ndarray:
            return np.einsum("bn,rmn->brm", w, hits) / w.sum(axis=1)[:, None, None]

        return means
    index = [METRIC_KEYS.index(m) for m in metrics]

    def headline(w: np.ndarray) -> np.ndarray:
        return np.stack([headline_batch(*a, num_classes, w)[:, index] for a in aligned], axis=1)

    return headline


def pairings_of(runs: Sequence[Run], reference: str) -> tuple[list[Pairing], list[str]]:
    """Pair each variant's runs with the reference's of the same seed; say what is left out."""
    notes: list[str] = []
    by_seed: dict[str, dict[int, int]] = {}
    problems = []
    for i, r in enumerate(runs):
        if r.seed is None:
            continue
        seen = by_seed.setdefault(r.variant, {})
        if r.seed in seen:
            problems.append(
                f"{r.path} and {runs[seen[r.seed]].path}: both {r.variant} seed {r.seed}"
            )
        seen[r.seed] = i
    if problems:
        raise FgsglError("paired analysis: two runs of one variant and seed", problems)
    names = list(dict.fromkeys(r.variant for r in runs))
    for name in names:
        unseeded = sum(r.seed is None for r in runs if r.variant == name)
        if unseeded and name in by_seed:
            notes.append(f"{name}: {unseeded} run(s) without a seed, left out of the pairing")
        elif unseeded:
            notes.append(f"{name}: no run with a seed; not paired")
    ref = by_seed.get(reference, {})
    pairings = []
    for name in names:
        if name == reference or name not in by_seed:
            continue
        mine = by_seed[name]
        common = sorted(mine.keys() & ref.keys())
        only_mine, only_ref = sorted(mine.keys() - ref.keys()), sorted(ref.keys() - mine.keys())
        left = []
        if only_mine:
            left.append(f"seeds only {name} ran: {', '.join(map(str, only_mine))}")
        if only_ref:
            left.append(f"seeds only {reference} ran: {', '.join(map(str, only_ref))}")
        if not common:
            notes.append(f"{name}: no seed in common with {reference}; not paired")
            continue
        if left:
            notes.append(f"{name} vs {reference}: left out of the pairing: {'; '.join(left)}")
        pairings.append(
            Pairing(
                variant=name,
                reference=reference,
                seeds=tuple(common),
                reference_runs=tuple(ref[s] for s in common),
                variant_runs=tuple(mine[s] for s in common),
            )
        )
    return pairings, notes
