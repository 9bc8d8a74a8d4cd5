"""Laws fitted across levels: lines and R², the exponential law ``ln T = a + alpha x`` on
censored medians (alone or with one slope shared by several groups), and power laws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable

import numpy as np
import pandas as pd
from scipy import stats as _sps

from ._common import (
    _as_1d,
    _as_events,
    _check_boot,
    _check_same_length,
    _fields_dict,
    _fmt,
    _interval,
    _labels,
)
from .estimates import Estimate
from .survival import _boot_km_medians, _km_median_rows


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


def fit_line_ci(x: Any, y: Any, *, n_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> tuple[LineFit, Estimate]:
    """:func:`fit_line` of ``y`` on ``x`` and a pairs-bootstrap CI of its slope (resampling the
    points; resamples with a single distinct ``x`` are skipped)."""
    x = _as_1d(x, "x", min_size=2)
    y = _as_1d(y, "y")
    _check_same_length(x, y, "x", "y")
    _check_boot(n_boot, ci)
    fit = fit_line(x, y)
    rng = np.random.default_rng(seed)
    slopes = []
    for _ in range(n_boot):
        i = rng.integers(0, x.size, x.size)
        if np.ptp(x[i]) > 0:
            slopes.append(fit_line(x[i], y[i]).slope)
    lo, hi = _interval(np.asarray(slopes), ci) if slopes else (float("nan"), float("nan"))
    return fit, Estimate(fit.slope, lo, hi, ci)
