"""Normal and Student-t quantiles, in the standard library's math only.

Why here: the paired analysis needs t quantiles at few (and, with Satterthwaite's degrees of
freedom, non-integer) degrees of freedom, and scipy is not a dependency of fgsgl. The t CDF
is the regularised incomplete beta function, P(T <= t) = 1 - I_x(df/2, 1/2) / 2 for t >= 0,
x = df / (df + t^2), evaluated by its continued fraction (modified Lentz); the quantile
inverts it by bisection (relative error below 1e-7 at any df).
"""

from __future__ import annotations

import math
from statistics import NormalDist

_NORMAL = NormalDist()
_LARGE_DF = 1e7  # beyond this the t quantile is the normal one to < 1e-7


def z_quantile(p: float) -> float:
    """The standard normal quantile: z_quantile(0.975) = 1.95996..."""
    return _NORMAL.inv_cdf(p)


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (Numerical Recipes' betacf), modified Lentz."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for num in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df > 0 degrees of freedom (df may be non-integer)."""
    if df <= 0 or math.isnan(df):
        raise ValueError(f"degrees of freedom must be > 0, got {df}")
    if math.isinf(df):
        return _NORMAL.cdf(t)
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The Student-t quantile: t_quantile(0.975, 2) = 4.3027...; the normal one as df -> inf.
    Infinite for df -> 0 (no degrees of freedom: no finite interval)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if math.isnan(df) or df <= 0:
        return math.copysign(math.inf, p - 0.5)
    if df >= _LARGE_DF:
        return z_quantile(p)
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    low, high = 0.0, max(1.0, 2.0 * z_quantile(p))
    while t_cdf(high, df) < p:
        low, high = high, 2.0 * high
        if high > 1e300:
            return math.inf
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low <= 1e-13 * max(1.0, high):
            break
    return 0.5 * (low + high)
