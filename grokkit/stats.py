"""Statistics for grokking-time experiments.

Every training run yields a *grokking time* ``T`` (the step at which it
grokked) or is right-censored at its step budget (``event=False`` and
``T = budget``).  This module turns such per-run data into the numbers a
chapter reports:

* :func:`kaplan_meier`, :func:`km_median`, :func:`censored_median` --
  survival curves and medians that handle censored runs correctly;
* :func:`fit_exponential` -- the law ``ln(median T) = a + alpha * x`` across
  levels ``x`` (e.g. a data fraction ``rho``), with a bootstrap CI on ``alpha``;
* :func:`fit_shared_slope` -- the same law with one common slope and one
  intercept per group (e.g. per operation or per architecture);
* :func:`fit_power_law` -- ``y = c * x**k`` fitted in log-log space;
* :func:`bootstrap_ci`, :func:`pearson_r`, :func:`coefficient_of_variation`,
  :func:`ratio_ci`, :func:`fit_line`, :func:`r_squared` -- general helpers.

Conventions
-----------
* Everything is a pure function of numpy arrays (or array-likes); nothing here
  does I/O, trains a model, or imports torch.
* All randomness goes through ``np.random.default_rng(seed)`` with a ``seed``
  argument (default 0), so every result is reproducible.
* Confidence intervals are *percentile bootstrap* intervals: with
  ``ci = 0.95`` they are the 2.5% and 97.5% quantiles (numpy's default
  "linear" quantile) of the bootstrap distribution.  Resamples whose statistic
  is NaN are dropped; infinite values (e.g. an unreachable censored median) are
  kept, so a bound can legitimately be ``inf``.
* Results are small frozen dataclasses with a readable ``__str__`` and an
  ``as_dict()`` method returning plain Python objects for ``json.dumps``
  (non-finite floats are kept as ``inf``/``nan``, which Python's json module
  writes as ``Infinity``/``NaN``).

Kaplan-Meier median
-------------------
:func:`km_median` returns the smallest event time ``t`` with ``S(t) <= 0.5``
(the standard KM median), with one refinement: if ``S(t) == 0.5`` *exactly*
(up to 1e-9) at that time, the survival curve is flat at 0.5 until the next
event time ``t'`` and every point of ``[t, t')`` is "a median"; we then return
the midpoint ``(t + t') / 2``.  Without censoring this makes ``km_median``
equal to :func:`numpy.median` for both odd and even sample sizes (ties
included).  If there is no later event time (only censored runs remain), ``t``
itself is returned.  If ``S`` never drops to 0.5 (at least half of the runs
are censored before their would-be median) the median is ``np.inf``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

import numpy as np
import pandas as pd
from scipy import stats as _sps

__all__ = [
    "Estimate",
    "LineFit",
    "MedianSummary",
    "ExpFit",
    "SharedSlopeFit",
    "PowerFit",
    "bootstrap_ci",
    "kaplan_meier",
    "km_median",
    "censored_median",
    "fit_line",
    "r_squared",
    "fit_exponential",
    "fit_shared_slope",
    "fit_power_law",
    "pearson_r",
    "coefficient_of_variation",
    "ratio_ci",
]

# Survival values within this distance of 0.5 count as "exactly 0.5".
_S_TOL = 1e-9


# -----------------------------------------------------------------------------
# formatting / serialisation helpers


def _fmt(x: float, digits: int = 3) -> str:
    """Format a number with ``digits`` significant digits (integers if large)."""
    x = float(x)
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    if abs(x) >= 10**digits:
        return f"{x:.0f}"
    text = f"{x:#.{digits}g}"  # '#' keeps trailing zeros: 7.60, not 7.6
    return text[:-1] if text.endswith(".") else text


def _jsonable(obj: Any) -> Any:
    """Recursively convert results to plain Python objects for ``json.dumps``."""
    if hasattr(obj, "as_dict") and dataclasses.is_dataclass(obj):
        return obj.as_dict()
    if isinstance(obj, pd.DataFrame):
        return [_jsonable(r) for r in obj.to_dict(orient="records")]
    if isinstance(obj, dict):
        return {_jsonable(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _fields_dict(obj: Any) -> dict[str, Any]:
    return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


# -----------------------------------------------------------------------------
# input validation


def _as_1d(values: Any, name: str, *, positive: bool = False, min_size: int = 1) -> np.ndarray:
    """Return ``values`` as a finite 1-D float array, or raise ``ValueError``."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric ({exc})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (got shape {arr.shape})")
    if arr.size == 0:
        raise ValueError(f"{name} must be non-empty")
    if arr.size < min_size:
        raise ValueError(f"{name} needs at least {min_size} values (got {arr.size})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN/inf)")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be strictly positive (a logarithm is taken); min is {arr.min()!r}")
    return arr


def _as_events(events: Any, n: int, name: str = "events", times_name: str = "times") -> np.ndarray:
    """Return ``events`` as a boolean array of length ``n`` (``None`` -> all True)."""
    if events is None:
        return np.ones(n, dtype=bool)
    arr = np.asarray(events)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (got shape {arr.shape})")
    if arr.size != n:
        raise ValueError(f"{name} must have the same length as {times_name} (got {arr.size} and {n})")
    if arr.dtype != bool:
        try:
            num = arr.astype(float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be boolean or 0/1") from None
        if not np.all((num == 0) | (num == 1)):
            raise ValueError(f"{name} must be boolean or 0/1")
        arr = num.astype(bool)
    return arr


def _check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{name_b} must have the same length as {name_a} (got {b.shape[0]} and {a.shape[0]})")


def _check_boot(n_boot: int, ci: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be an integer >= 1 (got {n_boot!r})")
    if not isinstance(ci, (int, float, np.floating)) or not 0.0 < float(ci) < 1.0:
        raise ValueError(f"ci must be in the open interval (0, 1) (got {ci!r})")


def _labels(values: Any, n: int, name: str) -> tuple[np.ndarray, list[Hashable]]:
    """Factorize group labels: (integer codes, list of distinct labels)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (got shape {arr.shape})")
    if arr.size != n:
        raise ValueError(f"{name} must have the same length as times (got {arr.size} and {n})")
    try:
        codes, uniques = pd.factorize(arr, sort=True)
    except TypeError:  # unorderable mix of label types: keep first-appearance order
        codes, uniques = pd.factorize(arr, sort=False)
    if np.any(codes < 0):
        raise ValueError(f"{name} must not contain missing values")
    labels = [u.item() if isinstance(u, np.generic) else u for u in uniques]
    return codes, labels


# -----------------------------------------------------------------------------
# bootstrap machinery


def _quantile_keep_inf(values: np.ndarray, q: float) -> float:
    """Linear-interpolated quantile that drops NaN and propagates infinities.

    Unlike :func:`numpy.quantile`, interpolating between a finite value and
    ``inf`` gives ``inf`` (never NaN).
    """
    v = np.asarray(values, dtype=float)
    v = np.sort(v[~np.isnan(v)])
    if v.size == 0:
        return float("nan")
    h = (v.size - 1) * q
    i = int(np.floor(h))
    j = min(i + 1, v.size - 1)
    frac = h - i
    a, b = v[i], v[j]
    if frac == 0 or a == b:
        return float(a)
    if np.isinf(a) and np.isinf(b):  # -inf and +inf
        return float("nan")
    if np.isinf(a):
        return float(a)
    if np.isinf(b):
        return float(b)
    return float(a + (b - a) * frac)


def _interval(boot: np.ndarray, ci: float) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (NaN dropped, inf kept)."""
    alpha = (1.0 - ci) / 2.0
    return _quantile_keep_inf(boot, alpha), _quantile_keep_inf(boot, 1.0 - alpha)


def _km_median_rows(times: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Kaplan-Meier median of each row of ``times``/``events`` (shape ``(B, n)``).

    Vectorised over rows so that thousands of bootstrap resamples cost one
    call.  Implements exactly the convention documented in :func:`km_median`.
    """
    times = np.atleast_2d(np.asarray(times, dtype=float))
    events = np.atleast_2d(np.asarray(events, dtype=bool))
    n_rows, n = times.shape
    # Sort by time; at tied times events come before censorings, so censored
    # runs are still at risk at their own censoring time (standard KM).
    order = np.lexsort((~events, times), axis=-1)
    t = np.take_along_axis(times, order, axis=1)
    e = np.take_along_axis(events, order, axis=1)

    # Processing observations one at a time, the product of (1 - 1/at_risk)
    # over a block of tied events telescopes to the grouped KM factor
    # (1 - d/n_at_risk), so the value at the *end* of each tie block is S(t).
    at_risk = n - np.arange(n)
    surv = np.cumprod(1.0 - e / at_risk, axis=1)
    idx = np.arange(n)
    last_of_tie = np.ones((n_rows, n), dtype=bool)
    last_of_tie[:, :-1] = t[:, 1:] != t[:, :-1]
    block_end = np.minimum.accumulate(np.where(last_of_tie, idx, n)[:, ::-1], axis=1)[:, ::-1]
    s_at_t = np.take_along_axis(surv, block_end, axis=1)

    reached = s_at_t <= 0.5 + _S_TOL
    has = reached.any(axis=1)
    first = reached.argmax(axis=1)
    rows = np.arange(n_rows)
    med = np.where(has, t[rows, first], np.inf)

    # S(t) == 0.5 exactly: the curve is flat at 0.5 until the next event time.
    exact = has & (np.abs(s_at_t[rows, first] - 0.5) <= _S_TOL)
    if exact.any():
        next_event = np.minimum.accumulate(np.where(e, idx, n)[:, ::-1], axis=1)[:, ::-1]
        next_event = np.concatenate([next_event, np.full((n_rows, 1), n)], axis=1)
        j = next_event[rows, block_end[rows, first] + 1]
        use_mid = exact & (j < n)
        t_next = t[rows, np.minimum(j, n - 1)]
        med = np.where(use_mid, 0.5 * (med + t_next), med)
    return med


def _boot_km_medians(times: np.ndarray, events: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """KM medians of ``n_boot`` resamples (with replacement) of one set of runs."""
    n = times.size
    idx = rng.integers(0, n, size=(n_boot, n))
    return _km_median_rows(times[idx], events[idx])


def _within_group_slopes(x: np.ndarray, group: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Common OLS slope of ``y ~ slope * x + intercept[group]`` for each row.

    Parameters
    ----------
    x, group : ndarray, shape (C,)
        Predictor and integer group code of each cell (point).
    y, mask : ndarray, shape (B, C)
        Responses and which cells take part, one row per (bootstrap) fit.

    Returns
    -------
    ndarray, shape (B,)
        Slopes; NaN for rows where the slope is not identifiable (no group has
        two usable cells with different ``x``).  By Frisch-Waugh-Lovell this is
        the within-group regression ``sum(xc * yc) / sum(xc**2)`` with ``x``
        and ``y`` centred on their per-group means.
    """
    n_groups = int(group.max()) + 1
    onehot = np.zeros((x.size, n_groups))
    onehot[np.arange(x.size), group] = 1.0
    w = mask.astype(float)
    y0 = np.where(mask, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sw = w @ onehot
        xbar = ((w * x) @ onehot) / sw
        ybar = (y0 @ onehot) / sw
    xc = np.where(mask, x - xbar[:, group], 0.0)
    yc = np.where(mask, y0 - ybar[:, group], 0.0)
    num = np.sum(xc * yc, axis=1)
    den = np.sum(xc * xc, axis=1)
    tol = 1e-12 * (np.ptp(x) ** 2 + np.finfo(float).tiny)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > tol, num / np.where(den > tol, den, 1.0), np.nan)


# -----------------------------------------------------------------------------
# result types


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


@dataclass(frozen=True)
class LineFit:
    """Ordinary least-squares line ``y = intercept + slope * x``.

    Attributes
    ----------
    slope, intercept : float
        OLS coefficients.
    r2 : float
        Coefficient of determination (see :func:`r_squared`).
    stderr : float
        Classical standard error of the slope (NaN when ``n <= 2``).
    n : int
        Number of points.
    """

    slope: float
    intercept: float
    r2: float
    stderr: float
    n: int

    def predict(self, x: Any) -> np.ndarray:
        """``intercept + slope * x``."""
        return self.intercept + self.slope * np.asarray(x, dtype=float)

    def __str__(self) -> str:
        return (
            f"slope={_fmt(self.slope, 4)} ± {_fmt(self.stderr, 2)}, "
            f"intercept={_fmt(self.intercept, 4)}, R²={self.r2:.4f} (n={self.n})"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form for JSON."""
        return _fields_dict(self)


@dataclass(frozen=True)
class MedianSummary:
    """Kaplan-Meier median of a set of runs with a bootstrap CI.

    Attributes
    ----------
    median : float
        KM median (``inf`` if not reached, see :func:`km_median`).
    lo, hi : float
        Percentile-bootstrap interval (``hi`` may be ``inf``).
    n, n_events, n_censored : int
        Number of runs, of runs that grokked, and of censored runs.
    max_time : float
        Largest observed time (normally the step budget); only used to print
        ``"≥max_time"`` when the median is not reached.
    ci : float
        Confidence level of ``[lo, hi]``.
    """

    median: float
    lo: float
    hi: float
    n: int
    n_events: int
    n_censored: int
    max_time: float = float("nan")
    ci: float = 0.95

    @property
    def reached(self) -> bool:
        """Whether the median is finite (at most half of the runs censored early)."""
        return bool(np.isfinite(self.median))

    def __str__(self) -> str:
        counts = f"({self.n_events}/{self.n} grokked)"
        if self.reached:
            return f"{_fmt(self.median, 4)} [{_fmt(self.lo, 4)}, {_fmt(self.hi, 4)}] {counts}"
        bound = f"≥{_fmt(self.max_time, 4)}" if np.isfinite(self.max_time) else "not reached"
        return f"{bound} (censored) [{_fmt(self.lo, 4)}, {_fmt(self.hi, 4)}] {counts}"

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form for JSON."""
        return _fields_dict(self)


@dataclass(frozen=True, eq=False)
class ExpFit:
    """Fit of ``ln(median T) = intercept + alpha * x`` across levels ``x``.

    Attributes
    ----------
    alpha : Estimate
        Slope with its bootstrap CI.
    intercept : float
        Intercept ``a`` of the point fit.
    r2 : float
        R² of the point fit on the log-medians of the fitted levels.
    levels : ndarray
        All level values, sorted (including excluded ones).
    medians : ndarray
        KM median of ``T`` at each level (``inf`` for excluded levels).
    n_levels : int
        Number of levels used in the point fit (finite medians).
    excluded_levels : tuple of float
        Levels left out because their median is infinite.
    n_per_level : ndarray
        Number of runs at each level.
    n_boot_used : int
        Bootstrap resamples that produced a slope (at least 2 finite levels).
    """

    alpha: Estimate
    intercept: float
    r2: float
    levels: np.ndarray
    medians: np.ndarray
    n_levels: int
    excluded_levels: tuple[float, ...] = ()
    n_per_level: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    n_boot_used: int = 0

    def predict(self, x: Any) -> np.ndarray:
        """Predicted median time ``exp(intercept + alpha * x)``."""
        return np.exp(self.intercept + self.alpha.value * np.asarray(x, dtype=float))

    def __str__(self) -> str:
        excl = f", excluded {list(self.excluded_levels)}" if self.excluded_levels else ""
        return (
            f"alpha={self.alpha}, a={_fmt(self.intercept, 4)}, R²={self.r2:.4f} "
            f"({self.n_levels} levels{excl})"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form for JSON."""
        return _fields_dict(self)


@dataclass(frozen=True, eq=False)
class SharedSlopeFit:
    """Fit of ``ln(median T) = alpha * x + f(group)`` over (group, level) cells.

    Attributes
    ----------
    alpha : Estimate
        Common slope with its bootstrap CI.
    intercepts : dict
        Intercept ``f(group)`` per group (NaN for a group with no finite cell).
    r2 : float
        ``1 - SSE/SST`` of the shared model over all finite cell log-medians.
    sse_shared : float
        Residual sum of squares of the shared-slope model.
    sse_separate : float
        Sum over groups of the SSE of separate per-group lines.
    per_group : dict
        :class:`ExpFit` for every group with at least two finite levels.
    cells : pandas.DataFrame
        One row per cell: group, x, median, n, n_events, used.
    f_stat, p_value : float
        Extra-sum-of-squares F test of "common slope" against "separate slopes"
        on the cell log-medians (NaN when the test has no degrees of freedom).
        It treats cell medians as exact-variance points, so read it as a rough
        guide; the bootstrap CIs of the per-group slopes are more robust.
    n_boot_used : int
        Bootstrap resamples that produced a slope.
    """

    alpha: Estimate
    intercepts: dict[Hashable, float]
    r2: float
    sse_shared: float
    sse_separate: float
    per_group: dict[Hashable, ExpFit]
    cells: pd.DataFrame
    f_stat: float = float("nan")
    p_value: float = float("nan")
    n_boot_used: int = 0

    def predict(self, x: Any, group: Hashable) -> np.ndarray:
        """Predicted median time ``exp(intercepts[group] + alpha * x)``."""
        return np.exp(self.intercepts[group] + self.alpha.value * np.asarray(x, dtype=float))

    def __str__(self) -> str:
        inter = ", ".join(f"{g}: {_fmt(v, 4)}" for g, v in self.intercepts.items())
        return (
            f"alpha={self.alpha} (shared), R²={self.r2:.4f}, "
            f"SSE shared={_fmt(self.sse_shared)} vs separate={_fmt(self.sse_separate)}; intercepts {{{inter}}}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form for JSON."""
        return _fields_dict(self)


@dataclass(frozen=True, eq=False)
class PowerFit:
    """Fit of ``y = prefactor * x**exponent`` by OLS in log-log space.

    Attributes
    ----------
    exponent : Estimate
        Exponent ``k`` with its bootstrap CI.
    prefactor : float
        ``c = exp(intercept)`` of the log-log fit.
    r2 : float
        R² of the log-log point fit.
    x, y : ndarray
        The points fitted (distinct ``x`` and per-``x`` median ``y`` when ``x``
        had repeated values).
    n_points : int
        Number of points in the fit.
    per_run : bool
        Whether the per-``x`` median / within-``x`` bootstrap form was used.
    n_boot_used : int
        Bootstrap resamples that produced an exponent.
    """

    exponent: Estimate
    prefactor: float
    r2: float
    x: np.ndarray
    y: np.ndarray
    n_points: int
    per_run: bool = False
    n_boot_used: int = 0

    def predict(self, x: Any) -> np.ndarray:
        """``prefactor * x**exponent``."""
        return self.prefactor * np.asarray(x, dtype=float) ** self.exponent.value

    def __str__(self) -> str:
        return f"k={self.exponent}, c={_fmt(self.prefactor, 4)}, R²={self.r2:.4f} ({self.n_points} points)"

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form for JSON."""
        return _fields_dict(self)


# -----------------------------------------------------------------------------
# generic bootstrap


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


# -----------------------------------------------------------------------------
# Kaplan-Meier


def kaplan_meier(times: Any, events: Any = None) -> pd.DataFrame:
    """Kaplan-Meier estimate of the survival function ``S(t) = P(T > t)``.

    Parameters
    ----------
    times : array_like, shape (n,)
        Grokking time of each run, or its budget if the run was censored.
    events : array_like of bool, shape (n,), optional
        True if the run grokked at ``times[i]``; False if it was censored
        there.  Defaults to all True.

    Returns
    -------
    pandas.DataFrame
        One row per distinct event time, sorted, with columns ``time``,
        ``n_at_risk`` (runs with ``T >= time``; a run censored at an event
        time counts as at risk), ``n_events`` and ``survival`` (the value of
        the right-continuous step function from ``time`` on).  Empty (but with
        these columns) when no run grokked.
    """
    t = _as_1d(times, "times")
    e = _as_events(events, t.size)
    event_times, n_events = np.unique(t[e], return_counts=True)
    t_sorted = np.sort(t)
    n_at_risk = t.size - np.searchsorted(t_sorted, event_times, side="left")
    survival = np.cumprod(1.0 - n_events / n_at_risk)
    return pd.DataFrame(
        {
            "time": event_times.astype(float),
            "n_at_risk": n_at_risk.astype(int),
            "n_events": n_events.astype(int),
            "survival": survival.astype(float),
        }
    )


def km_median(times: Any, events: Any = None) -> float:
    """Kaplan-Meier median time.

    The smallest event time ``t`` with ``S(t) <= 0.5``; if ``S(t) == 0.5``
    exactly, the midpoint between ``t`` and the next event time (``t`` itself
    if there is none).  With no censoring this equals ``np.median(times)``
    for odd and even ``n``.  See the module docstring for the rationale.

    Parameters
    ----------
    times : array_like, shape (n,)
        Grokking or censoring time of each run.
    events : array_like of bool, shape (n,), optional
        True where the run grokked; defaults to all True.

    Returns
    -------
    float
        The median, or ``np.inf`` if the survival curve never drops to 0.5.

    Examples
    --------
    >>> km_median([1.0, 2.0, 3.0, 4.0])
    2.5
    >>> km_median([5.0, 6.0, 7.0, 8.0], [True, False, False, False])
    inf
    """
    t = _as_1d(times, "times")
    e = _as_events(events, t.size)
    return float(_km_median_rows(t[None, :], e[None, :])[0])


def censored_median(
    times: Any,
    events: Any = None,
    *,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> MedianSummary:
    """KM median of right-censored run times with a bootstrap CI.

    Runs are resampled with replacement and the KM median recomputed;
    resamples whose median is infinite are kept as ``inf``, so the upper (or
    even lower) bound can be ``inf``.

    Parameters
    ----------
    times : array_like, shape (n,)
        Grokking or censoring time of each run.
    events : array_like of bool, shape (n,), optional
        True where the run grokked; defaults to all True.
    n_boot : int, default 2000
        Number of bootstrap resamples.
    ci : float, default 0.95
        Confidence level, in (0, 1).
    seed : int, default 0
        Seed for ``np.random.default_rng``.

    Returns
    -------
    MedianSummary
    """
    _check_boot(n_boot, ci)
    t = _as_1d(times, "times")
    e = _as_events(events, t.size)
    rng = np.random.default_rng(seed)
    med = float(_km_median_rows(t[None, :], e[None, :])[0])
    lo, hi = _interval(_boot_km_medians(t, e, n_boot, rng), ci)
    n_events = int(e.sum())
    return MedianSummary(
        median=med,
        lo=lo,
        hi=hi,
        n=int(t.size),
        n_events=n_events,
        n_censored=int(t.size - n_events),
        max_time=float(t.max()),
        ci=float(ci),
    )


# -----------------------------------------------------------------------------
# lines and R²


def r_squared(y: Any, y_pred: Any) -> float:
    """Coefficient of determination ``1 - SSE/SST``.

    Parameters
    ----------
    y, y_pred : array_like, shape (n,)
        Observed and predicted values.

    Returns
    -------
    float
        ``1 - sum((y - y_pred)**2) / sum((y - mean(y))**2)``.  When ``y`` is
        constant (SST = 0) returns 1.0 for a perfect prediction and 0.0
        otherwise (the scikit-learn convention).
    """
    y = _as_1d(y, "y")
    y_pred = _as_1d(y_pred, "y_pred")
    _check_same_length(y, y_pred, "y", "y_pred")
    sse = float(np.sum((y - y_pred) ** 2))
    sst = float(np.sum((y - y.mean()) ** 2))
    if sst == 0.0:
        return 1.0 if sse == 0.0 else 0.0
    return 1.0 - sse / sst


def fit_line(x: Any, y: Any) -> LineFit:
    """Ordinary least-squares fit of ``y = intercept + slope * x``.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        At least two points, with at least two distinct ``x``.

    Returns
    -------
    LineFit
    """
    x = _as_1d(x, "x", min_size=2)
    y = _as_1d(y, "y")
    _check_same_length(x, y, "x", "y")
    xm, ym = x.mean(), y.mean()
    sxx = float(np.sum((x - xm) ** 2))
    if np.ptp(x) == 0:
        raise ValueError("x must contain at least two distinct values")
    slope = float(np.sum((x - xm) * (y - ym)) / sxx)
    intercept = float(ym - slope * xm)
    resid = y - (intercept + slope * x)
    sse = float(np.sum(resid**2))
    n = int(x.size)
    stderr = float(np.sqrt(sse / (n - 2) / sxx)) if n > 2 else float("nan")
    return LineFit(slope, intercept, r_squared(y, intercept + slope * x), stderr, n)


# -----------------------------------------------------------------------------
# exponential law across levels


def fit_exponential(
    x: Any,
    times: Any,
    events: Any = None,
    *,
    groups: Any = None,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> ExpFit:
    """Fit ``ln(median T) = a + alpha * x`` from per-run data.

    Runs are grouped into levels (one per distinct ``x``); the KM median of
    ``T`` is computed per level and ``ln(median)`` is regressed on the level
    value by OLS, one point per level.  Levels whose median is infinite (more
    than half censored early) are excluded from the fit and listed in
    ``excluded_levels``.

    The CI on ``alpha`` is a percentile bootstrap that resamples runs *within
    each fitted level* with replacement, recomputes the level medians and
    refits.  In a resample, a level whose median becomes infinite is dropped
    for that resample; resamples left with fewer than 2 levels are skipped.
    Levels excluded from the point fit never enter the bootstrap.

    Parameters
    ----------
    x : array_like, shape (n,)
        Level of each run (e.g. the data fraction ``rho``).
    times : array_like, shape (n,)
        Grokking time, or budget for censored runs; must be > 0.
    events : array_like of bool, shape (n,), optional
        True where the run grokked; defaults to all True.
    groups : array_like, shape (n,), optional
        Level label of each run.  Use this when ``x`` is not exactly
        repeated within a level (e.g. a measured rho that varies slightly,
        or floating-point noise like ``0.1 * 3 != 0.3``): runs sharing a label
        form one level whose value is the mean of their ``x``.  By default
        each distinct ``x`` value is its own level.
    n_boot : int, default 2000
        Number of bootstrap resamples.
    ci : float, default 0.95
        Confidence level, in (0, 1).
    seed : int, default 0
        Seed for ``np.random.default_rng``.

    Returns
    -------
    ExpFit

    Raises
    ------
    ValueError
        For malformed input, or when fewer than 2 levels have a finite median.
    """
    _check_boot(n_boot, ci)
    x = _as_1d(x, "x")
    t = _as_1d(times, "times", positive=True)
    _check_same_length(x, t, "x", "times")
    e = _as_events(events, t.size)
    if groups is None:
        level_values, codes = np.unique(x, return_inverse=True)
    else:
        codes, _ = _labels(groups, t.size, "groups")
        level_values = np.array([x[codes == k].mean() for k in range(codes.max() + 1)])
        order = np.argsort(level_values, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        codes, level_values = rank[codes], level_values[order]
    members = [np.flatnonzero(codes == k) for k in range(level_values.size)]
    medians = np.array([_km_median_rows(t[m][None, :], e[m][None, :])[0] for m in members])
    finite = np.isfinite(medians)
    if finite.sum() < 2:
        raise ValueError(
            f"need at least 2 levels with a finite median to fit (got {int(finite.sum())} of "
            f"{level_values.size}); check x/times/events"
        )
    line = fit_line(level_values[finite], np.log(medians[finite]))

    rng = np.random.default_rng(seed)
    used = np.flatnonzero(finite)
    boot_log = np.empty((n_boot, used.size))
    for j, k in enumerate(used):
        m = members[k]
        with np.errstate(divide="ignore"):
            boot_log[:, j] = np.log(_boot_km_medians(t[m], e[m], n_boot, rng))
    mask = np.isfinite(boot_log)
    slopes = _within_group_slopes(level_values[used], np.zeros(used.size, dtype=int), boot_log, mask)
    lo, hi = _interval(slopes, ci)
    return ExpFit(
        alpha=Estimate(line.slope, lo, hi, float(ci)),
        intercept=line.intercept,
        r2=line.r2,
        levels=level_values,
        medians=medians,
        n_levels=int(finite.sum()),
        excluded_levels=tuple(float(v) for v in level_values[~finite]),
        n_per_level=np.array([m.size for m in members]),
        n_boot_used=int(np.sum(~np.isnan(slopes))),
    )


def fit_shared_slope(
    x: Any,
    times: Any,
    events: Any,
    groups: Any,
    *,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> SharedSlopeFit:
    """Fit ``ln(median T) = alpha * x + f(group)``: one slope, one intercept per group.

    For every (group, level) cell the KM median of ``T`` is computed; cells
    with an infinite median are left out.  The common slope and the group
    intercepts are fitted by OLS on the cell log-medians.  The CI on
    ``alpha`` resamples runs within each cell (cells whose resampled median
    is infinite drop out of that resample; resamples where the slope is not
    identifiable are skipped).  For comparison, separate per-group lines are
    fitted too (``sse_separate``, ``per_group``).

    Parameters
    ----------
    x : array_like, shape (n,)
        Level of each run; a level is a distinct ``x`` value within a group.
    times : array_like, shape (n,)
        Grokking time, or budget for censored runs; must be > 0.
    events : array_like of bool, shape (n,) or None
        True where the run grokked; None means all True.
    groups : array_like, shape (n,)
        Group label of each run (any hashable values, e.g. strings).
    n_boot : int, default 2000
        Number of bootstrap resamples.
    ci : float, default 0.95
        Confidence level, in (0, 1).
    seed : int, default 0
        Seed for ``np.random.default_rng``; also used for the ``per_group`` fits.

    Returns
    -------
    SharedSlopeFit

    Raises
    ------
    ValueError
        For malformed input, or when no group has two finite-median levels
        (the slope is then not identifiable).
    """
    _check_boot(n_boot, ci)
    x = _as_1d(x, "x")
    t = _as_1d(times, "times", positive=True)
    _check_same_length(x, t, "x", "times")
    e = _as_events(events, t.size)
    gcodes, glabels = _labels(groups, t.size, "groups")

    # cells: (group, distinct x) pairs, sorted by group then x
    cell_keys = sorted({(int(g), float(v)) for g, v in zip(gcodes, x)})
    cell_group = np.array([g for g, _ in cell_keys])
    cell_x = np.array([v for _, v in cell_keys])
    members = [np.flatnonzero((gcodes == g) & (x == v)) for g, v in cell_keys]
    medians = np.array([_km_median_rows(t[m][None, :], e[m][None, :])[0] for m in members])
    finite = np.isfinite(medians)

    cells = pd.DataFrame(
        {
            "group": [glabels[g] for g in cell_group],
            "x": cell_x,
            "median": medians,
            "n": [m.size for m in members],
            "n_events": [int(e[m].sum()) for m in members],
            "used": finite,
        }
    )

    # point fit on finite cells
    fx, fg, fy = cell_x[finite], cell_group[finite], np.log(medians[finite])
    if fx.size == 0:
        raise ValueError("no (group, level) cell has a finite median; check times/events")
    alpha = float(_within_group_slopes(fx, fg, fy[None, :], np.ones((1, fx.size), dtype=bool))[0])
    if np.isnan(alpha):
        raise ValueError("need at least one group with 2 levels of finite median to fit a slope (check x/groups)")
    intercepts: dict[Hashable, float] = {}
    pred = np.empty_like(fy)
    for g, label in enumerate(glabels):
        sel = fg == g
        intercepts[label] = float(np.mean(fy[sel] - alpha * fx[sel])) if sel.any() else float("nan")
        pred[sel] = intercepts[label] + alpha * fx[sel]
    sse_shared = float(np.sum((fy - pred) ** 2))
    r2 = r_squared(fy, pred)

    # separate per-group lines (groups with a single usable level fit exactly)
    sse_separate = 0.0
    n_sloped = 0
    for g in np.unique(fg):
        sel = fg == g
        if np.unique(fx[sel]).size >= 2:
            line = fit_line(fx[sel], fy[sel])
            sse_separate += float(np.sum((fy[sel] - line.predict(fx[sel])) ** 2))
            n_sloped += 1
    n_groups_used = int(np.unique(fg).size)
    df1 = n_sloped - 1  # extra slopes of the separate model
    df2 = fx.size - (n_groups_used + n_sloped)
    if df1 > 0 and df2 > 0 and sse_separate > 0:
        f_stat = ((sse_shared - sse_separate) / df1) / (sse_separate / df2)
        p_value = float(_sps.f.sf(f_stat, df1, df2))
    elif df1 > 0 and df2 > 0 and sse_shared > 0:  # separate lines fit exactly
        f_stat, p_value = float("inf"), 0.0
    else:
        f_stat, p_value = float("nan"), float("nan")

    # bootstrap: resample runs within each finite cell
    rng = np.random.default_rng(seed)
    used = np.flatnonzero(finite)
    boot_log = np.empty((n_boot, used.size))
    for j, c in enumerate(used):
        m = members[c]
        with np.errstate(divide="ignore"):
            boot_log[:, j] = np.log(_boot_km_medians(t[m], e[m], n_boot, rng))
    slopes = _within_group_slopes(fx, fg, boot_log, np.isfinite(boot_log))
    lo, hi = _interval(slopes, ci)

    per_group: dict[Hashable, ExpFit] = {}
    for g, label in enumerate(glabels):
        sel = gcodes == g
        if np.sum(finite & (cell_group == g)) >= 2:
            per_group[label] = fit_exponential(x[sel], t[sel], e[sel], n_boot=n_boot, ci=ci, seed=seed)

    return SharedSlopeFit(
        alpha=Estimate(alpha, lo, hi, float(ci)),
        intercepts=intercepts,
        r2=r2,
        sse_shared=sse_shared,
        sse_separate=sse_separate,
        per_group=per_group,
        cells=cells,
        f_stat=float(f_stat),
        p_value=float(p_value),
        n_boot_used=int(np.sum(~np.isnan(slopes))),
    )


# -----------------------------------------------------------------------------
# power law


def fit_power_law(
    x: Any,
    y: Any,
    *,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> PowerFit:
    """Fit ``y = c * x**k`` by OLS of ``ln y`` on ``ln x``.

    Two forms, chosen automatically:

    * **One point per x** (all ``x`` distinct): the fit uses the points as
      given and the bootstrap resamples the ``(x, y)`` pairs with replacement
      (resamples with fewer than 2 distinct ``x`` are skipped).
    * **Per-run data** (some ``x`` repeated, e.g. several seeds per modulus):
      the point fit uses the per-``x`` median of ``y``, and the bootstrap
      resamples runs *within each x* and recomputes the medians, so the set
      of ``x`` values stays fixed.  An ``x`` with a single run then contributes
      no resampling noise.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Strictly positive values.
    n_boot : int, default 2000
        Number of bootstrap resamples.
    ci : float, default 0.95
        Confidence level, in (0, 1).
    seed : int, default 0
        Seed for ``np.random.default_rng``.

    Returns
    -------
    PowerFit
    """
    _check_boot(n_boot, ci)
    x = _as_1d(x, "x", positive=True, min_size=2)
    y = _as_1d(y, "y", positive=True)
    _check_same_length(x, y, "x", "y")
    ux, codes = np.unique(x, return_inverse=True)
    if ux.size < 2:
        raise ValueError("x must contain at least two distinct values")
    per_run = ux.size < x.size
    rng = np.random.default_rng(seed)
    if per_run:
        members = [np.flatnonzero(codes == k) for k in range(ux.size)]
        px = ux
        py = np.array([np.median(y[m]) for m in members])
        boot_ly = np.empty((n_boot, ux.size))
        for k, m in enumerate(members):
            idx = rng.integers(0, m.size, size=(n_boot, m.size))
            boot_ly[:, k] = np.log(np.median(y[m][idx], axis=1))
        lx = np.log(px)
        slopes = _within_group_slopes(lx, np.zeros(lx.size, dtype=int), boot_ly, np.ones_like(boot_ly, dtype=bool))
    else:
        px, py = x, y
        lx_all, ly_all = np.log(x), np.log(y)
        idx = rng.integers(0, x.size, size=(n_boot, x.size))
        bx, by = lx_all[idx], ly_all[idx]
        bxc = bx - bx.mean(axis=1, keepdims=True)
        den = np.sum(bxc**2, axis=1)
        tol = 1e-12 * (np.ptp(lx_all) ** 2 + np.finfo(float).tiny)
        with np.errstate(invalid="ignore", divide="ignore"):
            slopes = np.where(den > tol, np.sum(bxc * by, axis=1) / np.where(den > tol, den, 1.0), np.nan)
    line = fit_line(np.log(px), np.log(py))
    lo, hi = _interval(slopes, ci)
    return PowerFit(
        exponent=Estimate(line.slope, lo, hi, float(ci)),
        prefactor=float(np.exp(line.intercept)),
        r2=line.r2,
        x=np.asarray(px, dtype=float),
        y=np.asarray(py, dtype=float),
        n_points=int(px.size),
        per_run=bool(per_run),
        n_boot_used=int(np.sum(~np.isnan(slopes))),
    )


# -----------------------------------------------------------------------------
# correlation, dispersion, ratios


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


def _ratio(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``b / a`` for medians, with inf/inf -> NaN (dropped) and x/inf -> 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(b, dtype=float) / np.asarray(a, dtype=float)


def ratio_ci(
    a_times: Any,
    a_events: Any,
    b_times: Any,
    b_events: Any,
    *,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Ratio of KM medians ``median(b) / median(a)`` with a bootstrap CI.

    The two groups are resampled independently (runs with replacement).  An
    infinite median in ``b`` gives a ratio of ``inf``, one in ``a`` gives 0,
    and both infinite give NaN (dropped from the bootstrap).

    Parameters
    ----------
    a_times, b_times : array_like
        Grokking/censoring times of the reference group ``a`` and group ``b``
        (strictly positive).
    a_events, b_events : array_like of bool or None
        Event indicators (None means all grokked).
    n_boot : int, default 2000
        Number of bootstrap resamples.
    ci : float, default 0.95
        Confidence level, in (0, 1).
    seed : int, default 0
        Seed for ``np.random.default_rng``.

    Returns
    -------
    Estimate
        E.g. ``value = 2`` means group ``b`` takes twice as long as ``a``.
    """
    _check_boot(n_boot, ci)
    at = _as_1d(a_times, "a_times", positive=True)
    ae = _as_events(a_events, at.size, "a_events", "a_times")
    bt = _as_1d(b_times, "b_times", positive=True)
    be = _as_events(b_events, bt.size, "b_events", "b_times")
    rng = np.random.default_rng(seed)
    value = float(_ratio(_km_median_rows(bt[None, :], be[None, :]), _km_median_rows(at[None, :], ae[None, :]))[0])
    boot_a = _boot_km_medians(at, ae, n_boot, rng)
    boot_b = _boot_km_medians(bt, be, n_boot, rng)
    lo, hi = _interval(_ratio(boot_b, boot_a), ci)
    return Estimate(value, lo, hi, float(ci))
