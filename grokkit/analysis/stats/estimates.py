"""One number with a confidence interval: :class:`Estimate`, the percentile bootstrap,
the coefficient of variation, Pearson's r and a binomial proportion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._common import _as_1d, _check_boot, _check_same_length, _fmt, _interval


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval.

    Attributes
    ----------
    value : float
        The point estimate (the statistic on the full data).
    lo, hi : float
        Lower and upper bounds of the confidence interval.
    ci : float
        Confidence level of ``[lo, hi]`` (e.g. 0.95).
    """

    value: float
    lo: float
    hi: float
    ci: float = 0.95

    def contains(self, x: float) -> bool:
        """Whether ``lo <= x <= hi`` (False if a bound is NaN)."""
        return bool(self.lo <= x <= self.hi)

    @property
    def width(self) -> float:
        """Width ``hi - lo`` of the interval."""
        return float(self.hi - self.lo)

    def format(self, digits: int = 3) -> str:
        """Render as ``"value [lo, hi]"`` with ``digits`` significant digits."""
        return f"{_fmt(self.value, digits)} [{_fmt(self.lo, digits)}, {_fmt(self.hi, digits)}]"

    def __str__(self) -> str:
        return self.format()

    def as_dict(self) -> dict[str, float]:
        """Plain-dict form for JSON."""
        return {"value": float(self.value), "lo": float(self.lo), "hi": float(self.hi), "ci": float(self.ci)}


def bootstrap_ci(
    data: Any,
    statistic: Callable[[np.ndarray], float] = np.median,
    *,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Percentile-bootstrap confidence interval of ``statistic(data)``.

    Parameters
    ----------
    data : array_like, shape (n,) or (n, k)
        Observations; resampling is over the first axis (rows are kept whole).
    statistic : callable, default numpy.median
        Maps an array shaped like ``data`` to a scalar.
    n_boot : int, default 2000
        Number of bootstrap resamples.
    ci : float, default 0.95
        Confidence level, in (0, 1).
    seed : int, default 0
        Seed for ``np.random.default_rng``.

    Returns
    -------
    Estimate
        ``value = statistic(data)``; ``lo``/``hi`` are percentiles of the
        statistic over resamples.  NaN resample statistics are dropped; if all
        are NaN, ``lo = hi = nan``.

    Examples
    --------
    >>> est = bootstrap_ci([1.0, 2.0, 3.0, 4.0], np.mean, n_boot=500)
    >>> est.value
    2.5
    """
    _check_boot(n_boot, ci)
    try:
        arr = np.asarray(data, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"data must be numeric ({exc})") from None
    if arr.ndim not in (1, 2):
        raise ValueError(f"data must be 1-D or 2-D (got shape {arr.shape})")
    if arr.shape[0] == 0:
        raise ValueError("data must be non-empty")
    if not callable(statistic):
        raise ValueError("statistic must be callable")

    def stat(a: np.ndarray) -> float:
        out = np.asarray(statistic(a), dtype=float)
        if out.size != 1:
            raise ValueError(f"statistic must return a scalar (got shape {out.shape})")
        return float(out.reshape(()))

    rng = np.random.default_rng(seed)
    n = arr.shape[0]
    idx = rng.integers(0, n, size=(n_boot, n))
    boot = np.array([stat(arr[i]) for i in idx])
    lo, hi = _interval(boot, ci)
    return Estimate(stat(arr), lo, hi, float(ci))


def coefficient_of_variation(
    values: Any,
    *,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Coefficient of variation ``std(values, ddof=1) / mean(values)`` with a bootstrap CI.

    Parameters
    ----------
    values : array_like, shape (n,)
        At least two observations with a non-zero mean.
    n_boot : int, default 2000
        Number of bootstrap resamples (resamples with zero mean are dropped).
    ci : float, default 0.95
        Confidence level, in (0, 1).
    seed : int, default 0
        Seed for ``np.random.default_rng``.

    Returns
    -------
    Estimate
    """
    _check_boot(n_boot, ci)
    v = _as_1d(values, "values", min_size=2)
    if v.mean() == 0:
        raise ValueError("values must have a non-zero mean")
    rng = np.random.default_rng(seed)
    b = v[rng.integers(0, v.size, size=(n_boot, v.size))]
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = b.std(axis=1, ddof=1) / b.mean(axis=1)
    boot[~np.isfinite(boot)] = np.nan
    lo, hi = _interval(boot, ci)
    return Estimate(float(v.std(ddof=1) / v.mean()), lo, hi, float(ci))


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each row pair of ``x``/``y`` (shape ``(B, n)``); NaN if undefined."""
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sum(xc * yc, axis=-1) / np.sqrt(np.sum(xc**2, axis=-1) * np.sum(yc**2, axis=-1))
    r[~np.isfinite(r)] = np.nan
    return np.clip(r, -1.0, 1.0)


def pearson_r(
    x: Any,
    y: Any,
    *,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Pearson correlation coefficient with a pairs-bootstrap CI.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Paired observations (n >= 2, neither constant).
    n_boot : int, default 2000
        Number of bootstrap resamples; resamples where ``r`` is undefined
        (a constant resample) are dropped.
    ci : float, default 0.95
        Confidence level, in (0, 1).
    seed : int, default 0
        Seed for ``np.random.default_rng``.

    Returns
    -------
    Estimate
        ``r`` (clipped to [-1, 1]) with its percentile-bootstrap interval.
    """
    _check_boot(n_boot, ci)
    x = _as_1d(x, "x", min_size=2)
    y = _as_1d(y, "y")
    _check_same_length(x, y, "x", "y")
    if np.ptp(x) == 0:
        raise ValueError("x must not be constant (correlation undefined)")
    if np.ptp(y) == 0:
        raise ValueError("y must not be constant (correlation undefined)")
    r = float(_pearson_rows(x[None, :], y[None, :])[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    lo, hi = _interval(_pearson_rows(x[idx], y[idx]), ci)
    return Estimate(r, lo, hi, float(ci))


def proportion_ci(k: int, n: int, *, ci: float = 0.95) -> Estimate:
    """A binomial proportion ``k / n`` with its exact (Clopper-Pearson) confidence interval.

    Used for counts such as "8 of 10 seeds grokked": with ``k = 0`` the interval is
    ``[0, 1 - (alpha/2)^(1/n)]``, so 0/8 is consistent with any rate up to about 37 %.

    >>> proportion_ci(0, 8).hi > 0.3
    True
    """
    from scipy.stats import beta

    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"n: must be a positive integer, got {n!r}")
    if not (isinstance(k, (int, np.integer)) and 0 <= k <= n):
        raise ValueError(f"k: must be an integer in [0, n={n}], got {k!r}")
    _check_boot(1, ci)
    a = (1 - ci) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return Estimate(k / n, lo, hi, float(ci))
