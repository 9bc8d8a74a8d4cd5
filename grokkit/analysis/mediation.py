"""Paper 2's mediation analyses: does the weight norm act on grokking through the logit scale?

A *cell* here is a set of runs that differ only by seed; the seed index pairs runs across
cells (same initialization and split), so every bootstrap resamples **seed indices** and
recomputes all cells of a resample together (paper 2's paired bootstrap). Grokking times are
Kaplan-Meier medians: a censored run counts as "not yet grokked at its budget".

* :func:`critical_norms` -- ``w_c`` per cell of free controls (median norm at ``T_grok``);
* :func:`logit_cells` -- per-cell medians of ``T_grok`` and ``T_mem`` and the mean logit scale
  ``L`` at grokking;
* :func:`recovery_fraction` -- how much of the norm-raised delay a temperature that brings ``L``
  back to its baseline value recovers;
* :func:`collapse_regression` -- R² of ``ln T`` on ``L``, on ``ρ`` and on both, and what ``ρ``
  adds once ``L`` is known;
* :func:`fork_ratio` -- the same-state fork: ratio of the raised arm's median delay to the
  same-norm arm's, and in how many seeds the delays are ordered by the held norm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .cells import cell_table, critical_norm, grok_times
from .stats import Estimate
from .stats.survival import _km_median_rows


def critical_norms(free: pd.DataFrame, by: Sequence[str] = ("p", "loss")) -> dict[tuple, float]:
    """``w_c`` of each cell of free controls: the median norm at ``T_grok`` over the runs that
    grokked. Cells where fewer than half the runs grokked have no ``w_c`` and are left out."""
    out = {}
    for key, g in free.groupby(list(by), sort=True):
        w = critical_norm(g)
        if np.isfinite(w):
            out[key if isinstance(key, tuple) else (key,)] = w
    return out


def logit_cells(runs: pd.DataFrame, by: Sequence[str], n_boot: int = 2000) -> pd.DataFrame:
    """:func:`grokkit.analysis.cells.cell_table` plus ``t_mem_median`` (median ``T_mem`` of the runs that
    memorized), ``L`` (mean logit scale at ``T_grok`` over the runs that grokked) and ``ln_t``."""
    table = cell_table(runs, list(by), n_boot=n_boot)
    extra = []
    for key, g in runs.groupby(list(by), sort=True, dropna=False):
        grokked = g[g["status"] == "grokked"]
        extra.append({"t_mem_median": float(g["t_mem"].dropna().median()) if g["t_mem"].notna().any() else np.nan,
                      "L": float(grokked["logit_scale_grok"].mean()) if len(grokked) else np.nan,
                      "sc_frac_max": float(g["sc_frac_max"].mean()) if "sc_frac_max" in g else np.nan})
    table = pd.concat([table, pd.DataFrame(extra, columns=["t_mem_median", "L", "sc_frac_max"])], axis=1)
    table["ln_t"] = np.log(table["t_median"].astype(float))
    return table


def _seed_matrix(runs: pd.DataFrame, cell: str, cells: Sequence, time: str = "t_grok",
                 offset: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(times, events, seeds)`` as ``[n_cells, n_seeds]`` arrays over the seeds every cell has;
    ``offset`` is subtracted from the times (e.g. the fork step)."""
    seeds = sorted(set.intersection(*[set(runs.loc[runs[cell] == c, "seed"]) for c in cells]))
    t = np.empty((len(cells), len(seeds)))
    e = np.empty((len(cells), len(seeds)), dtype=bool)
    for i, c in enumerate(cells):
        g = runs[runs[cell] == c].set_index("seed").loc[seeds].reset_index()
        ti, ei = grok_times(g, time)
        t[i], e[i] = ti - offset, ei
    return t, e, np.asarray(seeds)


def _paired_medians(t: np.ndarray, e: np.ndarray, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """KM medians of each cell on the full data ``[n_cells]`` and on ``n_boot`` resamples of the
    seed indices, shared by all cells ``[n_boot, n_cells]``."""
    full = _km_median_rows(t, e)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, t.shape[1], size=(n_boot, t.shape[1]))
    boot = np.stack([_km_median_rows(t[i][idx], e[i][idx]) for i in range(t.shape[0])], axis=1)
    return full, boot


def _estimate(value: float, boot: np.ndarray) -> Estimate:
    boot = boot[~np.isnan(boot)]
    if not len(boot):
        return Estimate(float(value), float("nan"), float("nan"))
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return Estimate(float(value), float(lo), float(hi))


@dataclass(frozen=True)
class Recovery:
    """Paper 2's recovery fraction ``(T1 - T2) / (T1 - T0)`` at one modulus.

    ``T0``: the baseline's median ``T_grok`` (held at ``w_c``, τ = 1); ``T1``: the norm-raised cell at
    τ = 1; ``T2``: the raised cells' median ``T_grok`` interpolated at the baseline's logit scale
    ``L0`` along their curve of ``L`` against τ. ``inside`` says whether ``L0`` lies within the
    range of the raised cells' ``L`` (otherwise ``T2`` is the nearest end: no extrapolation).
    """

    fraction: Estimate
    t0: float
    t1: float
    t2: float
    l0: float
    inside: bool
    n_seeds: int


def recovery_fraction(base: pd.DataFrame, up: pd.DataFrame, *, n_boot: int = 4000, seed: int = 0) -> Recovery | None:
    """The recovery fraction with a paired bootstrap CI over seed indices (``n_boot`` resamples;
    each recomputes the cell medians and ``T2`` with the ``L`` curve held fixed, as paper 2 does).

    ``base``: the baseline runs; ``up``: the norm-raised runs, with a ``tau`` column. Returns
    None when a cell lacks runs or ``L`` (no run grokked).
    """
    taus = sorted(up["tau"].unique())
    if len(base) == 0 or len(taus) < 2 or 1.0 not in taus:
        return None
    both = pd.concat([base.assign(tau=-1.0), up], ignore_index=True)
    order = [-1.0, *taus]
    t, e, seeds = _seed_matrix(both, "tau", order)
    l_cells = [base] + [up[up["tau"] == tau] for tau in taus]
    L = np.array([g.loc[g["status"] == "grokked", "logit_scale_grok"].mean() for g in l_cells], dtype=float)
    if not np.isfinite(L).all() or len(seeds) < 2:
        return None
    full, boot = _paired_medians(t, e, n_boot, seed)
    l0, l_up = L[0], L[1:]
    srt = np.argsort(l_up)
    i1 = 1 + taus.index(1.0)

    def frac(med: np.ndarray) -> np.ndarray:
        t0, t1 = med[..., 0], med[..., i1]
        t2 = np.array([np.interp(l0, l_up[srt], row[1:][srt]) for row in np.atleast_2d(med)])
        with np.errstate(invalid="ignore", divide="ignore"):
            return (t1 - t2) / (t1 - t0)

    value = float(frac(full)[0])
    t2 = float(np.interp(l0, l_up[srt], full[1:][srt]))
    return Recovery(_estimate(value, frac(boot)), float(full[0]), float(full[i1]), t2, float(l0),
                    bool(l_up.min() <= l0 <= l_up.max()), len(seeds))


@dataclass(frozen=True)
class Collapse:
    """R² of ``ln T`` (cell medians) on the logit scale ``L``, on ``ρ`` and on both; ``delta`` is
    what ``ρ`` adds once ``L`` is in the model, ``R²(both) - R²(L)``. CIs: paired bootstrap over
    seed indices (cell medians recomputed, ``L`` held fixed)."""

    r2_logit: Estimate
    r2_rho: Estimate
    r2_both: Estimate
    delta: Estimate
    slope_logit: float
    n_cells: int


def _r2(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """R² of the least-squares fit of each row of ``y`` [B, n] on ``X`` [n, k] (with intercept)."""
    A = np.column_stack([np.ones(len(X)), X])
    coef, *_ = np.linalg.lstsq(A, y.T, rcond=None)
    resid = y.T - A @ coef
    tot = ((y.T - y.T.mean(axis=0)) ** 2).sum(axis=0)
    return 1 - (resid**2).sum(axis=0) / tot


def collapse_regression(runs: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> Collapse | None:
    """The collapse regression over the cells (``rho``, ``tau``) of ``runs``. Cells whose median is
    not reached (more than half censored) or without ``L`` are left out; None with fewer than 4."""
    runs = runs.assign(cell=list(zip(runs["rho"], runs["tau"])))
    cells, L = [], []
    for c, g in runs.groupby("cell", sort=True):
        lg = g.loc[g["status"] == "grokked", "logit_scale_grok"].mean()
        if np.isfinite(lg):
            cells.append(c)
            L.append(lg)
    if len(cells) < 4:
        return None
    t, e, _ = _seed_matrix(runs, "cell", cells)
    if t.shape[1] < 2:  # fewer than two seeds in every cell: nothing to regress or resample
        return None
    full, boot = _paired_medians(t, e, n_boot, seed)
    keep = np.isfinite(full)
    if keep.sum() < 4:
        return None
    L = np.asarray(L)[keep]
    rho = np.array([c[0] for c in cells])[keep]
    y_full, y_boot = np.log(full[keep])[None], np.log(boot[:, keep])
    y_boot = y_boot[np.isfinite(y_boot).all(axis=1)]

    def fits(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _r2(L[:, None], y), _r2(rho[:, None], y), _r2(np.column_stack([L, rho]), y)

    (a, b, c), (ab, bb, cb) = fits(y_full), fits(y_boot)
    slope = float(np.polyfit(L, y_full[0], 1)[0])
    return Collapse(_estimate(a[0], ab), _estimate(b[0], bb), _estimate(c[0], cb), _estimate(c[0] - a[0], cb - ab),
                    slope, int(keep.sum()))


@dataclass(frozen=True)
class ForkRatio:
    """The same-state fork at one modulus: ``ratio`` = median delay (from the fork) of the raised
    arm over the same-norm arm's, with a paired bootstrap CI; ``medians`` per arm; ``ordered``:
    the seeds whose delays increase strictly with the held norm (lowered < same < raised; a
    censored delay counts as longer than any finite one), out of ``n_seeds``."""

    ratio: Estimate
    medians: dict[str, float]
    ordered: int
    n_seeds: int


def fork_ratio(fork: pd.DataFrame, fork_step: int, arms: Sequence[str] = ("lowered", "free", "same", "raised"),
               *, n_boot: int = 4000, seed: int = 0) -> ForkRatio | None:
    """:class:`ForkRatio` of the fork runs ``fork`` (an ``arm`` column naming each arm)."""
    if any((fork["arm"] == a).sum() == 0 for a in arms):
        return None
    t, e, seeds = _seed_matrix(fork, "arm", list(arms), offset=fork_step)
    if len(seeds) < 2:
        return None
    full, boot = _paired_medians(t, e, n_boot, seed)
    i_same, i_raised, i_low = arms.index("same"), arms.index("raised"), arms.index("lowered")
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = _estimate(full[i_raised] / full[i_same], boot[:, i_raised] / boot[:, i_same])
    d = np.where(e, t, np.inf)
    ordered = int(((d[i_low] < d[i_same]) & (d[i_same] < d[i_raised])).sum())
    return ForkRatio(ratio, dict(zip(arms, map(float, full))), ordered, len(seeds))
