"""Grokking times with right-censoring: Kaplan-Meier curves and medians, and ratios of
censored medians with bootstrap CIs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._common import _as_1d, _as_events, _check_boot, _fields_dict, _fmt, _interval
from .estimates import Estimate

# Survival values within this distance of 0.5 count as "exactly 0.5".
_S_TOL = 1e-9


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


def geometric_mean_ratio(pairs: list[tuple[Any, Any, Any, Any]], *, n_boot: int = 2000, ci: float = 0.95,
                         seed: int = 0) -> Estimate:
    """Geometric mean over several pairs of groups of the ratio of KM medians ``median(b) / median(a)``.

    ``pairs`` holds ``(a_times, a_events, b_times, b_events)`` per pair (e.g. the slow and the
    fast learning rate at each held norm). Every group is resampled independently in each
    bootstrap replicate; replicates with a non-finite ratio are dropped.
    """
    _check_boot(n_boot, ci)
    if not pairs:
        raise ValueError("pairs: at least one pair of groups is needed")
    rng = np.random.default_rng(seed)
    logs, boots = [], []
    for i, (at, ae, bt, be) in enumerate(pairs):
        at = _as_1d(at, f"pairs[{i}] a_times", positive=True)
        ae = _as_events(ae, at.size, f"pairs[{i}] a_events", f"pairs[{i}] a_times")
        bt = _as_1d(bt, f"pairs[{i}] b_times", positive=True)
        be = _as_events(be, bt.size, f"pairs[{i}] b_events", f"pairs[{i}] b_times")
        logs.append(np.log(_ratio(_km_median_rows(bt[None, :], be[None, :]), _km_median_rows(at[None, :], ae[None, :]))[0]))
        with np.errstate(divide="ignore", invalid="ignore"):
            boots.append(np.log(_ratio(_boot_km_medians(bt, be, n_boot, rng), _boot_km_medians(at, ae, n_boot, rng))))
    value = float(np.exp(np.mean(logs)))
    boot = np.exp(np.mean(np.vstack(boots), axis=0))
    lo, hi = _interval(boot[np.isfinite(boot)], ci) if np.isfinite(boot).any() else (np.nan, np.nan)
    return Estimate(value, lo, hi, float(ci))
