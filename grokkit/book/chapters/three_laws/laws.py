"""The rules every section of chapter 7 scores with: the common numerics (C2-C6: cells, stratified
bootstraps, log errors, MALE and the comparison of two predictors) and rule 1P, paper 1's clamped law
read as accumulated progress (:func:`clamp_law`, :func:`progress`), with the threshold time and
paper 3's log law (B2) beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields as _dc_fields
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ....analysis.stats import Estimate
from ....engine.config import RunConfig
from ...verdicts import Judgement, at_most, no_data
from .registration import BOOTSTRAP, CELL_IGNORES, CENSORED_LOG_ERROR, TOL, T_INT
from .designs import Series, _km


# ---------------------------------------------------------------------------- common numerics (C2-C6)

#: The config fields that make a cell (C2): every field but :data:`CELL_IGNORES`.
CELL_FIELDS = tuple(f.name for f in _dc_fields(RunConfig) if f.name not in CELL_IGNORES)


def cell_of(t: pd.DataFrame) -> pd.Series:
    """Each run's cell (C2) as a hashable text: the values of :data:`CELL_FIELDS` (a config table)."""
    if not len(t):
        return pd.Series([], index=t.index, dtype=object)
    vals = t[list(CELL_FIELDS)].astype(object).where(t[list(CELL_FIELDS)].notna(), None)
    return pd.Series([repr(tuple(_plain(v) for v in row)) for row in vals.itertuples(index=False)], index=t.index)


def _plain(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return round(float(v), 10)
    return v


def counts(runs: pd.DataFrame) -> bool:
    """C2: a cell counts when more than half of its runs grokked."""
    return bool(len(runs)) and 2 * int((runs["status"] == "grokked").sum()) > len(runs)


def boot_index(strata: Sequence[Any], n_boot: int = BOOTSTRAP["resamples"], seed: int = BOOTSTRAP["seed"]) -> np.ndarray:
    """C5: ``(n_boot, n)`` indices of runs resampled with replacement within each stratum (strata in
    sorted order, one generator ``default_rng(seed)``)."""
    strata = np.asarray(list(strata), dtype=object)
    rng = np.random.default_rng(seed)
    cols = []
    for s in sorted(set(strata.tolist()), key=repr):
        idx = np.flatnonzero(strata == s)
        cols.append(idx[rng.integers(0, len(idx), size=(n_boot, len(idx)))])
    return np.concatenate(cols, axis=1) if cols else np.zeros((n_boot, 0), int)


def _ci(point: float, boot: np.ndarray) -> Estimate:
    boot = np.asarray(boot, float)
    boot = boot[np.isfinite(boot)]
    if not np.isfinite(point) or not len(boot):
        return Estimate(float(point), float("nan"), float("nan"))
    lo, hi = np.quantile(boot, [(1 - BOOTSTRAP["ci"]) / 2, (1 + BOOTSTRAP["ci"]) / 2])
    return Estimate(float(point), float(lo), float(hi))


def log_errors(t_hat: Any, t: Any) -> np.ndarray:
    """C4: e = ln(T_hat / T); a prediction that never fires (infinite, or not positive) is late-censored,
    e = +CENSORED_LOG_ERROR."""
    t_hat, t = np.asarray(t_hat, float), np.asarray(t, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.log(t_hat / t)
    return np.where(np.isinf(t_hat) | (t_hat <= 0), CENSORED_LOG_ERROR, e)


def male(e: np.ndarray, axis: int | None = None) -> Any:
    """MALE: the median absolute log error."""
    return np.median(np.abs(e), axis=axis)


def male_diff(e_a: np.ndarray, e_b: np.ndarray, strata: Sequence[Any]) -> Estimate | None:
    """C6's d = MALE_A - MALE_B on the same runs, with its paired bootstrap CI (C5)."""
    e_a, e_b = np.asarray(e_a, float), np.asarray(e_b, float)
    ok = np.isfinite(e_a) & np.isfinite(e_b)
    if ok.sum() < 2:
        return None
    e_a, e_b, strata = e_a[ok], e_b[ok], np.asarray(list(strata), dtype=object)[ok]
    idx = boot_index(strata)
    return _ci(float(male(e_a) - male(e_b)), male(e_a[idx], axis=1) - male(e_b[idx], axis=1))


def median_boot(values: np.ndarray, strata: Sequence[Any]) -> Estimate | None:
    """A median with its stratified bootstrap CI (C5)."""
    v = np.asarray(values, float)
    ok = np.isfinite(v)
    if ok.sum() < 2:
        return None
    v, strata = v[ok], np.asarray(list(strata), dtype=object)[ok]
    return _ci(float(np.median(v)), np.median(v[boot_index(strata)], axis=1))


def decision(d: Estimate | None) -> str:
    """C6's decision word on d = MALE_A - MALE_B: better, worse or tie (:data:`DECISIONS`)."""
    if d is None or not np.isfinite(d.lo):
        return "undecided (no data)"
    return "better" if d.hi < 0 else "worse" if d.lo > 0 else "tie"


def c6(d: Estimate | None) -> Judgement:
    """C6's verdict on d: at_most(0, d, atol=TOL['male'])."""
    return at_most(0.0, d, atol=TOL["male"], fmt=".2f") if d is not None else no_data()


# ---------------------------------------------------------------------------- rule 1P: the clamped law as progress
@dataclass(frozen=True)
class ClampLaw:
    """Rule 1P's clamped delay D(N) (registration §1): ln D linear in the absolute norm N between the
    calibration levels, continued outside them with the OLS slope ``beta`` of ln D_i on N_i (0 when it
    is not positive); ``t_int`` is where the progress starts. ``literal`` (sensitivity S1): D_i is the
    level's T_clamp itself, not T_clamp - t_int."""

    levels: np.ndarray
    log_d: np.ndarray
    beta: float
    t_int: float
    literal: bool = False

    def log_delay(self, n: Any) -> np.ndarray:
        n = np.asarray(n, float)
        out = np.interp(n, self.levels, self.log_d)
        lo, hi = self.levels[0], self.levels[-1]
        out = np.where(n < lo, self.log_d[0] + self.beta * (n - lo), out)
        return np.where(n > hi, self.log_d[-1] + self.beta * (n - hi), out)

    def delay(self, n: Any) -> np.ndarray:
        return np.exp(self.log_delay(n))


def clamp_law(runs: pd.DataFrame, t_int: float = T_INT, literal: bool = False) -> ClampLaw | None:
    """D(N) from clamped runs (column ``clamp_target``): N_i each distinct target, D_i the level's
    Kaplan-Meier median T_grok minus ``t_int`` (counting levels only); None without a counting level."""
    if not len(runs):
        return None
    pts = []
    for target, g in runs.groupby(runs["clamp_target"].astype(float).round(4)):
        if not counts(g):
            continue
        d = _km(g) - (0.0 if literal else t_int)
        if np.isfinite(d) and d > 0:
            pts.append((float(target), math.log(d)))
    if not pts:
        return None
    n, y = (np.array(c) for c in zip(*sorted(pts)))
    beta = float(np.polyfit(n, y, 1)[0]) if len(n) >= 2 else 0.0
    return ClampLaw(n, y, max(beta, 0.0), float(t_int), literal)


@dataclass(frozen=True)
class EtaLaw:
    """Sensitivity S2: D(N; eta) from chapter 2's rho x eta matrix, ln D linear in ln eta between the
    bracketing learning rates (``laws``: one :class:`ClampLaw` per learning rate)."""

    laws: tuple[tuple[float, ClampLaw], ...]
    eta: float

    @property
    def t_int(self) -> float:
        return self.laws[0][1].t_int

    def log_delay(self, n: Any) -> np.ndarray:
        etas = np.array([e for e, _ in self.laws])
        j = int(np.clip(np.searchsorted(etas, self.eta), 1, len(etas) - 1))
        (ea, la), (eb, lb) = self.laws[j - 1], self.laws[j]
        w = (math.log(self.eta) - math.log(ea)) / (math.log(eb) - math.log(ea))
        return (1 - w) * la.log_delay(n) + w * lb.log_delay(n)

    def delay(self, n: Any) -> np.ndarray:
        return np.exp(self.log_delay(n))


@dataclass
class Curve:
    """A run's accumulated progress P(t) from ``t_int`` (rule 1P): the steps, N there and P."""

    t: np.ndarray
    n: np.ndarray
    p: np.ndarray
    law: Any

    def reach(self, kappa: Any) -> np.ndarray:
        """The first t with P(t) >= kappa, linear within its interval; past the last recorded step, N is
        held there: t_last + (kappa - P(t_last)) D(N(t_last))."""
        kappa = np.atleast_1d(np.asarray(kappa, float))
        t, p = self.t, self.p
        k = np.searchsorted(p, kappa, side="left")
        out = t[-1] + (kappa - p[-1]) * float(self.law.delay(self.n[-1]))
        if len(p) > 1:
            kk = np.clip(k, 1, len(p) - 1)
            step = p[kk] - p[kk - 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(step > 0, (kappa - p[kk - 1]) / step, 1.0)
            inside = t[kk - 1] + frac * (t[kk] - t[kk - 1])
            out = np.where(k < len(p), inside, out)
        return np.where(k == 0, t[0], out)

    def at(self, time: float) -> float:
        """P at ``time`` (0 before t_int; continued with N held past the last step)."""
        if time <= self.t[0]:
            return 0.0
        if time <= self.t[-1]:
            return float(np.interp(time, self.t, self.p))
        return float(self.p[-1] + (time - self.t[-1]) / float(self.law.delay(self.n[-1])))

    def norm_at(self, time: Any) -> np.ndarray:
        """N at ``time`` (held after the last recorded step)."""
        return np.interp(np.asarray(time, float), self.t, self.n)


def progress(s: Series, law: Any) -> Curve:
    """Rule 1P's P(t) = integral from t_int of ds / D(N(s)): the rate at the recorded steps after
    t_int (N at t_int interpolated), trapezoid rule."""
    ok = np.isfinite(s.N)
    steps, n = s.steps[ok], s.N[ok]
    t0 = law.t_int
    later = steps > t0
    t = np.concatenate([[t0], steps[later]])
    nn = np.concatenate([[np.interp(t0, steps, n)], n[later]])
    rate = 1.0 / law.delay(nn)
    p = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(t))])
    return Curve(t, nn, p, law)


def threshold_time(s: Series, t_mem: float, level: Any) -> np.ndarray:
    """Rule B3 (and 2a's P1 threshold): the first t after N's maximum over [T_mem, last step] with
    N(t) <= ``level`` (linear between recorded steps); infinite when N never gets there (held after
    the last step: late-censored)."""
    level = np.atleast_1d(np.asarray(level, float))
    ok = np.isfinite(s.N) & (s.steps >= (t_mem if np.isfinite(t_mem) else -np.inf))
    st, nn = s.steps[ok], s.N[ok]
    if not len(st):
        return np.full(len(level), np.inf)
    i0 = int(np.argmax(nn))
    st, nn = st[i0:], nn[i0:]
    cm = np.minimum.accumulate(nn)
    k = np.searchsorted(-cm, -level, side="left")
    out = np.full(len(level), np.inf)
    first = k == 0
    out[first] = st[0]
    mid = (k > 0) & (k < len(st))
    km = k[mid]
    frac = (nn[km - 1] - level[mid]) / (nn[km - 1] - nn[km])
    out[mid] = st[km - 1] + frac * (st[km] - st[km - 1])
    return out


def contraction_start(s: Series, t_mem: float) -> tuple[float, float]:
    """B2's t_s and V_s: the step and value of V's maximum over [T_mem, last step]."""
    ok = np.isfinite(s.V) & (s.steps >= t_mem)
    if not ok.any():
        return float("nan"), float("nan")
    i = int(np.argmax(s.V[ok]))
    return float(s.steps[ok][i]), float(s.V[ok][i])


def _two_eta_lambda(runs: pd.DataFrame) -> np.ndarray:
    return 2.0 * runs["lr"].astype(float).to_numpy() * runs["weight_decay"].astype(float).to_numpy()


@dataclass(frozen=True)
class LogLaw:
    """B2: paper 3's law calibrated its own way: T_hat = t_s + k ln(V_s / V_post_hat) / (2 eta lambda)."""

    v_post: float
    k: float
    n_cal: int

    def predict(self, runs: pd.DataFrame, series: Mapping[str, Series]) -> np.ndarray:
        out = []
        for (_, r), tel in zip(runs.iterrows(), _two_eta_lambda(runs)):
            s = series.get(r["key"])
            if s is None or not np.isfinite(r["t_mem"]):
                out.append(np.nan)
                continue
            t_s, v_s = contraction_start(s, float(r["t_mem"]))
            log = math.log(v_s / self.v_post) if v_s > 0 else -np.inf
            out.append(t_s + self.k * log / tel if log > 0 else t_s)
        return np.array(out, float)


def log_law(cal: pd.DataFrame, series: Mapping[str, Series]) -> LogLaw | None:
    """B2's calibration: V_post_hat = median V at the last step over the calibration runs with
    extra_steps >= 2000, k = median over them (grokked) of (T_grok - t_s) 2 eta lambda / ln(V_s / V_post_hat)."""
    post = cal[cal["extra_steps"].astype(float) >= 2000] if len(cal) else cal
    if not len(post):
        return None
    v_post = float(post["sq_norm_all_final"].astype(float).median())
    ks = []
    for (_, r), tel in zip(post.iterrows(), _two_eta_lambda(post)):
        s = series.get(r["key"])
        if r["status"] != "grokked" or s is None:
            continue
        t_s, v_s = contraction_start(s, float(r["t_mem"]))
        log = math.log(v_s / v_post) if v_s > 0 else float("nan")
        k = (float(r["t_grok"]) - t_s) * tel / log if log and np.isfinite(log) else float("nan")
        if np.isfinite(k):
            ks.append(k)
    return LogLaw(v_post, float(np.median(ks)), len(ks)) if ks else None

