"""How far annotators agree, per attribute: Krippendorff's alpha and percent agreement.

Alpha (nominal, the `krippendorff` package) corrects for the agreement chance alone would
give from how often each value is used; percent agreement is the share of agreeing pairs
of answers on a clip, averaged over the clips with two answers or more. Both get a 95 %
bootstrap interval over clips (clips resampled with replacement, seeded; the resamples use
alpha's closed form, which is fast enough for tens of thousands of clips). Each annotator
is compared with the others (leave-one-out), the derived suggestions with the consensus:
the share of their answers that equal it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fgsgl.text.templates import ATTRIBUTES

BOOTSTRAP = 1000
PEOPLE = ("unanimous", "majority", "single annotator", "adjudicated")
DERIVED = "derived suggestions"  # the pre-annotations, as a rater


def reliability(answers: pd.DataFrame, attribute: str) -> tuple[np.ndarray, list[str]]:
    """(annotators x clips matrix of value codes, NaN where one did not answer; the clips)."""
    mine = answers[(answers["attribute"] == attribute) & ~answers["review"]]
    table = mine.pivot_table(index="annotator", columns="clip_id", values="value", aggfunc="last")
    codes = {v: i for i, v in enumerate(sorted(mine["value"].unique()))}
    matrix = table.apply(lambda col: col.map(codes)).to_numpy(dtype=float)
    return matrix, list(table.columns)


def alpha(matrix: np.ndarray) -> float:
    """Nominal Krippendorff's alpha; NaN when it is undefined (fewer than two pairable
    answers, or a single value used throughout)."""
    import krippendorff

    pairable = np.sum(np.sum(~np.isnan(matrix), axis=0) >= 2)
    values = np.unique(matrix[~np.isnan(matrix)])
    if pairable < 1 or len(values) < 2:
        return float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):  # a resample of one value: NaN
        return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))


def unit_counts(matrix: np.ndarray) -> np.ndarray:
    """Per clip with two answers or more, how many answers gave each value (clips x values)."""
    values = np.unique(matrix[~np.isnan(matrix)])
    counts = (
        np.stack([(matrix == v).sum(axis=0) for v in values], axis=1)
        if len(values)
        else (np.zeros((matrix.shape[1], 0)))
    )
    return counts[counts.sum(axis=1) >= 2].astype(float)


def _statistics(counts: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nominal alpha, percent agreement) for each row of `weights` (clip multiplicities).

    Alpha from the coincidence matrix in closed form: with m_u answers on clip u and n_uc
    of value c, n = sum m_u, the observed coincidences on the diagonal sum to
    sum_u sum_c n_uc (n_uc - 1) / (m_u - 1), n_c = sum_u n_uc, and
    alpha = 1 - (n - 1) (n - diagonal) / (n^2 - sum_c n_c^2): Krippendorff's nominal alpha
    (tests/test_annotate.py checks it against the krippendorff package)."""
    m = counts.sum(axis=1)
    same = (counts * (counts - 1)).sum(axis=1)
    n = weights @ m
    diagonal = weights @ (same / (m - 1))
    n_c = weights @ counts
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha_ = 1 - (n - 1) * (n - diagonal) / (n**2 - (n_c**2).sum(axis=1))
        percent = (weights @ (same / (m * (m - 1)))) / weights.sum(axis=1)
    return alpha_, percent


def percent_agreement(matrix: np.ndarray) -> float:
    """Mean over clips with >= 2 answers of the share of answer pairs that agree."""
    counts = unit_counts(matrix)
    if not len(counts):
        return float("nan")
    return float(_statistics(counts, np.ones((1, len(counts))))[1][0])


def intervals(matrix: np.ndarray, seed: int = 0) -> dict[str, tuple[float, float]]:
    """95 % bootstrap intervals of alpha and percent agreement over clips."""
    counts = unit_counts(matrix)
    nan = (float("nan"), float("nan"))
    if len(counts) < 2:
        return {"alpha": nan, "percent": nan}
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(counts), np.full(len(counts), 1 / len(counts)), BOOTSTRAP)
    out = {}
    for name, stats in zip(
        ("alpha", "percent"), _statistics(counts, weights.astype(float)), strict=True
    ):
        stats = stats[~np.isnan(stats)]
        out[name] = (
            tuple(float(x) for x in np.percentile(stats, [2.5, 97.5])) if len(stats) else nan
        )
    return out


def agreement(answers: pd.DataFrame) -> pd.DataFrame:
    """Per attribute: clips, clips with two answers or more, alpha and percent agreement
    with their intervals."""
    rows = []
    for a in ATTRIBUTES:
        matrix, clips = reliability(answers, a)
        paired = int(np.sum(np.sum(~np.isnan(matrix), axis=0) >= 2)) if clips else 0
        al = alpha(matrix) if clips else float("nan")
        pa = percent_agreement(matrix) if clips else float("nan")
        ci = intervals(matrix) if clips else {"alpha": (np.nan,) * 2, "percent": (np.nan,) * 2}
        al_ci, pa_ci = ci["alpha"], ci["percent"]
        rows.append(
            {
                "attribute": a,
                "clips": len(clips),
                "paired_clips": paired,
                "annotators": int(matrix.shape[0]) if clips else 0,
                "alpha": al,
                "alpha_low": al_ci[0],
                "alpha_high": al_ci[1],
                "percent": pa,
                "percent_low": pa_ci[0],
                "percent_high": pa_ci[1],
            }
        )
    return pd.DataFrame(rows)


def against_consensus(
    answers: pd.DataFrame, suggestions: pd.DataFrame, decided: pd.DataFrame
) -> pd.DataFrame:
    """Per rater and attribute: how many of its answers meet a reference, and the share
    that equal it. An annotator is held against the others (leave-one-out: the adjudication
    where there is one, else what the other answers decide), so nobody agrees with
    themselves; the derived suggestions against the consensus decided by people."""
    from fgsgl.annotate.consensus import decide

    people = answers[~answers["review"]]
    said: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for r in people.itertuples(index=False):
        said.setdefault((r.clip_id, r.attribute), []).append((r.annotator, r.value))
    adjudicated = answers[answers["review"]].groupby(["clip_id", "attribute"])["value"].agg(list)
    hits: dict[tuple[str, str], list[bool]] = {}
    for (clip, a), pairs in said.items():
        for who, value in pairs:
            others = [v for w, v in pairs if w != who]
            ref, _ = decide(others, adjudicated.get((clip, a), []))
            if ref is not None:
                hits.setdefault((who, a), []).append(value == ref)
    for a in ATTRIBUTES:
        ok = decided[decided[f"{a}_decided"].isin(PEOPLE)].set_index("clip_id")[a]
        mine = suggestions[suggestions["attribute"] == a]
        hits[(DERIVED, a)] = [
            ok[c] == v for c, v in zip(mine["clip_id"], mine["value"], strict=True) if c in ok
        ]
    rows = [
        {
            "rater": who,
            "attribute": a,
            "n": len(h),
            "agreement": float(np.mean(h)) if h else float("nan"),
        }
        for who in sorted({w for w, _ in hits})
        for a in ATTRIBUTES
        for h in [hits.get((who, a), [])]
    ]
    return pd.DataFrame(rows, columns=["rater", "attribute", "n", "agreement"])
