"""Paired bootstrap confidence intervals over shared test clips.

Two models evaluated on the same clips are compared clip by clip: each replicate draws n
clips with replacement (the same draw for every run, hence "paired") and recomputes the
statistic, e.g. the difference of two top-1 accuracies. The percentile interval of the
replicates says how much the difference could move if the test set had been another sample
of the same population. It does not measure seed noise; the compare reports that apart.

A draw is represented by its per-clip counts (weights), so a statistic recomputes a metric
with weights instead of copying clips: see `fgsgl.evaluate.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

DEFAULT_REPLICATES = 2000
DEFAULT_LEVEL = 0.95


def resample_weights(
    n: int, replicates: int, seed: int = 0, chunk: int = 256
) -> Iterator[np.ndarray]:
    """Per-clip counts of `replicates` draws of n clips with replacement, in (b, n) blocks
    of at most `chunk` rows (each row sums to n). The same seed gives the same draws."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < replicates:
        b = min(chunk, replicates - done)
        drawn = rng.integers(0, n, size=(b, n)) + n * np.arange(b)[:, None]
        yield np.bincount(drawn.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        done += b


@dataclass(frozen=True)
class Interval:
    estimate: np.ndarray  # the statistic on the clips as they are
    low: np.ndarray
    high: np.ndarray
    level: float
    replicates: int


def paired_bootstrap(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    *,
    replicates: int = DEFAULT_REPLICATES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> Interval:
    """Percentile interval of a statistic over bootstrap draws of n shared clips.

    `statistic(weights)` takes a (b, n) block of per-clip weights and returns b values of
    any shape, (b, ...): several metrics and variants in one pass, vectorised over draws."""
    if n <= 0:
        raise ValueError("bootstrap needs at least one clip")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    estimate = np.asarray(statistic(np.ones((1, n))), dtype=np.float64)[0]
    draws = np.concatenate([statistic(w) for w in resample_weights(n, replicates, seed)])
    tail = (1 - level) / 2
    low, high = np.nanquantile(draws, [tail, 1 - tail], axis=0)
    return Interval(estimate, low, high, level, replicates)
