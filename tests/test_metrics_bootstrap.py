"""The paired bootstrap interval on cases whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fgsgl.evaluate.bootstrap import paired_bootstrap, resample_weights


def binomial_quantile(n: int, p: float, q: float) -> int:
    """Smallest k with P(Binomial(n, p) <= k) >= q, from the exact pmf."""
    cdf = 0.0
    for k in range(n + 1):
        cdf += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if cdf >= q - 1e-12:
            return k
    return n


def test_weights_are_draws_of_n_clips() -> None:
    draws = np.concatenate(list(resample_weights(7, 50, seed=3, chunk=16)))
    assert draws.shape == (50, 7)
    assert (draws.sum(axis=1) == 7).all() and (draws >= 0).all()
    again = np.concatenate(list(resample_weights(7, 50, seed=3, chunk=16)))
    np.testing.assert_array_equal(draws, again)
    # every clip is as likely as any other: over many draws each is drawn ~once per draw
    many = np.concatenate(list(resample_weights(7, 4000, seed=4)))
    np.testing.assert_allclose(many.mean(axis=0), 1.0, atol=0.05)


def test_interval_of_a_proportion_is_the_binomial_one() -> None:
    # 6 of 60 paired differences are 1, the rest 0: a resampled mean is Binomial(60, 0.1)/60
    # exactly, so the 95 % percentile interval is the binomial's 2.5 % and 97.5 % quantiles.
    # (n and p chosen so that neither quantile sits on a step of the binomial CDF: the
    # empirical quantile of 20000 resamples is then exactly the binomial one.)
    n = 60
    d = np.zeros(n)
    d[:6] = 1
    assert (binomial_quantile(n, 0.1, 0.025), binomial_quantile(n, 0.1, 0.975)) == (2, 11)

    ci = paired_bootstrap(lambda w: w @ d / n, n, replicates=20000, seed=1)
    assert float(ci.estimate) == pytest.approx(0.1)
    assert float(ci.low) == pytest.approx(2 / n, abs=1e-12)
    assert float(ci.high) == pytest.approx(11 / n, abs=1e-12)
    assert ci.level == 0.95 and ci.replicates == 20000


def test_identical_runs_differ_by_exactly_zero_and_a_constant_shift_by_itself() -> None:
    rng = np.random.default_rng(0)
    a = (rng.random(40) < 0.6).astype(float)
    ci = paired_bootstrap(lambda w: w @ (a - a) / 40, 40, replicates=300)
    assert (float(ci.low), float(ci.high)) == (0.0, 0.0)
    # b right on every clip, c wrong on every clip: the difference is 1 in every resample
    ones, zeros = np.ones(40), np.zeros(40)
    ci = paired_bootstrap(lambda w: w @ (ones - zeros) / 40, 40, replicates=300)
    assert (float(ci.low), float(ci.high)) == (1.0, 1.0)


def test_pairing_removes_the_shared_clip_difficulty() -> None:
    # Two runs that disagree on 10 of 400 clips: the paired interval of their difference is
    # far narrower than either run's own interval (sd sqrt(10)/400 against sqrt(.25/400)).
    rng = np.random.default_rng(2)
    a = rng.random(400) < 0.5
    b = a.copy()
    flip = rng.choice(400, 10, replace=False)
    b[flip] = ~b[flip]

    def stats(w: np.ndarray) -> np.ndarray:
        return np.stack([w @ a, w @ b, w @ (a.astype(float) - b)], axis=1) / 400

    ci = paired_bootstrap(stats, 400, replicates=2000)
    width = ci.high - ci.low
    assert ci.estimate.shape == (3,)
    assert width[2] < 0.5 * width[0]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        paired_bootstrap(lambda w: w.sum(axis=1), 0)
    with pytest.raises(ValueError):
        paired_bootstrap(lambda w: w.sum(axis=1), 3, level=1.5)
