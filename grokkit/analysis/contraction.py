"""Free contraction of the squared weight norm after memorization (paper 3), and a delay predictor.

Paper 3 says that once a network has memorized, weight decay shrinks ``V = ‖θ‖²`` (all
parameters) geometrically, ``V_t ≈ A·e^{k t} + C``, and that the network groks when ``V`` has
come down from ``V_mem`` (at memorization) to the norm of the generalizing solution,
``V_post``, so that

    T_grok − T_mem ≈ γ⁻¹ · ln(V_mem / V_post),   γ = 1 − e^{k}.

The naive rate of ``V`` under decoupled weight decay is ``2ηλ`` (the norm shrinks by ``ηλ`` per
step, its square by twice that); paper 3 reports the fitted ``γ`` and computes its escape times
with ``2ηλ``. This module measures both, per run:

- :func:`fit_decay` fits ``V_t = A·e^{k (t − t0)} + C`` after ``t0`` (paper 3's bounds);
- :func:`run_quantities` gives each run's ``T_mem``, ``T_grok``, delay, ``V_mem``, ``V_post``,
  fitted rate and both escape times;
- :class:`DelayPredictor` predicts the delay from what is known at memorization: ``V_mem``, a
  rate read from a short window of the norm trace right after ``T_mem``, and an estimate of
  ``V_post`` taken from calibration runs (paper 3 does not publish its estimator; this one is
  the median ``V_post`` of the calibration seeds). It can also learn one multiplicative
  correction on the calibration seeds. :func:`prediction_errors` scores it on other seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .stats import Estimate, bootstrap_ci

#: The rates a prediction can use: the fitted local rate of V, or the naive 2ηλ.
RATES = ("fitted", "2ηλ")


@dataclass(frozen=True)
class DecayFit:
    """``V_t = A·e^{k (t − t0)} + C`` fitted for ``t ≥ t0`` (steps).

    ``rate = e^k`` is the per-step factor and ``gamma = 1 − e^k`` the per-step contraction rate;
    ``r2`` is the fit's R² on the points used (``n``).
    """

    A: float
    k: float
    C: float
    t0: float
    r2: float
    n: int

    @property
    def rate(self) -> float:
        return math.exp(self.k)

    @property
    def gamma(self) -> float:
        return -math.expm1(self.k)

    def predict(self, t: Any) -> np.ndarray:
        return self.A * np.exp(self.k * (np.asarray(t, dtype=float) - self.t0)) + self.C


def fit_decay(steps: Any, values: Any, t0: float) -> DecayFit:
    """Fit ``V_t = A·e^{k (t − t0)} + C`` to the points with ``t ≥ t0``, with paper 3's bounds
    (``A ∈ [0, 1e7]``, ``k ∈ [−1, 0]``, ``C ∈ [0, 1.1·V(t0)]``). Needs at least 4 points."""
    from scipy.optimize import curve_fit

    t = np.asarray(steps, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.shape != v.shape:
        raise ValueError(f"steps and values differ in length ({t.size} and {v.size})")
    keep = (t >= t0) & np.isfinite(v)
    t, v = t[keep] - t0, v[keep]
    if t.size < 4:
        raise ValueError(f"fit_decay needs at least 4 points at or after t0={t0:g}; got {t.size}")
    c0 = max(0.0, float(v.min()) * 0.9)
    guess = (max(float(v[0]) - c0, 1e-9), _log_slope(t, v), c0)
    bounds = ([0.0, -1.0, 0.0], [1e7, 0.0, max(1.1 * float(v[0]), 1e-9)])
    guess = tuple(float(np.clip(g, lo, hi)) for g, lo, hi in zip(guess, *bounds))
    (A, k, C), _ = curve_fit(lambda x, a, kk, c: a * np.exp(kk * x) + c, t, v, p0=guess, bounds=bounds,
                             maxfev=20_000)
    pred = A * np.exp(k * t) + C
    ss = float(np.sum((v - v.mean()) ** 2))
    r2 = 1.0 - float(np.sum((v - pred) ** 2)) / ss if ss > 0 else float("nan")
    return DecayFit(float(A), float(k), float(C), float(t0), r2, int(t.size))


def _peak(steps: Any, values: Any, start: float, stop: float) -> tuple[float, float]:
    """Step and value of the largest finite ``values`` with ``start ≤ step ≤ stop`` (the first
    such step on ties); NaNs when there is none."""
    t = np.asarray(steps, dtype=float)
    v = np.asarray(values, dtype=float)
    keep = (t >= start) & (t <= stop) & np.isfinite(v)
    if not keep.any():
        return float("nan"), float("nan")
    i = int(np.argmax(v[keep]))
    return float(t[keep][i]), float(v[keep][i])


def _log_slope(t: np.ndarray, v: np.ndarray) -> float:
    """Least-squares slope of ``ln v`` against ``t`` (negative while v shrinks)."""
    if t.size < 2 or np.ptp(t) == 0 or np.any(v <= 0):
        return float("nan")
    return float(np.polyfit(t, np.log(v), 1)[0])


def local_rate(steps: Any, values: Any, t0: float, window: float) -> float:
    """The contraction rate of ``V`` just after ``t0``: minus the least-squares slope of
    ``ln V`` over ``[t0, t0 + window]`` (per step). NaN with fewer than 3 points there."""
    t = np.asarray(steps, dtype=float)
    v = np.asarray(values, dtype=float)
    keep = (t >= t0) & (t <= t0 + window) & np.isfinite(v)
    if keep.sum() < 3:
        return float("nan")
    return -_log_slope(t[keep], v[keep])


def run_quantities(runs: pd.DataFrame, traces: pd.DataFrame, *, window: float | None = None) -> pd.DataFrame:
    """One row per run of ``runs`` (a run table with ``key``, ``lr``, ``weight_decay``, ``t_mem``,
    ``t_grok``, ``sq_norm_all_mem``, ``sq_norm_all_final``, ``status``) with paper 3's quantities:

    ``delay`` (T_grok − T_mem), ``v_mem``, ``v_post`` (V at the end of the run, about
    ``extra_steps`` after T_grok), ``log_ratio`` = ln(V_mem / V_post), the decay fit over the
    trace after T_mem (``gamma_fit``, ``r2_fit``), ``t_esc_2el`` = log_ratio / (2ηλ),
    ``t_esc_fit`` = log_ratio / gamma_fit, and, with ``window``, ``gamma_window``: the local
    rate over ``window`` steps after T_mem (what a predictor may use).

    Where ``V`` still grows after memorization, the contraction starts later, at the largest
    ``V`` of the trace between ``T_mem`` and ``T_grok`` (the end of the run if it did not grok):
    ``t_peak``, ``v_peak``, ``delay_peak`` (T_grok − t_peak), ``log_ratio_peak`` =
    ln(V_peak / V_post) and ``t_esc_peak`` = log_ratio_peak / (2ηλ). Where ``V`` shrinks from
    ``T_mem`` on, these equal the quantities from ``T_mem``.
    ``traces`` is :meth:`grokkit.RunStore.traces` of the same runs.
    """
    by_key = {k: g.sort_values("step") for k, g in traces.groupby("key")} if len(traces) else {}
    rows = []
    for _, run in runs.iterrows():
        row = {"key": run["key"], "grokked": run["status"] == "grokked", "t_mem": run["t_mem"],
               "t_grok": run["t_grok"], "v_mem": run["sq_norm_all_mem"], "v_post": run["sq_norm_all_final"]}
        row["delay"] = row["t_grok"] - row["t_mem"] if row["grokked"] else np.nan
        ok = np.isfinite(row["v_mem"]) and np.isfinite(row["v_post"]) and row["v_post"] > 0 and row["v_mem"] > 0
        row["log_ratio"] = math.log(row["v_mem"] / row["v_post"]) if ok else np.nan
        two_el = 2.0 * run["lr"] * run["weight_decay"]
        row["t_esc_2el"] = row["log_ratio"] / two_el if two_el > 0 else np.nan
        row["gamma_fit"] = row["r2_fit"] = row["gamma_window"] = np.nan
        row["t_peak"] = row["v_peak"] = np.nan
        trace = by_key.get(run["key"])
        if trace is not None and np.isfinite(row["t_mem"]):
            row["t_peak"], row["v_peak"] = _peak(trace["step"], trace["sq_norm_all"], row["t_mem"],
                                                 row["t_grok"] if row["grokked"] else np.inf)
            try:
                fit = fit_decay(trace["step"], trace["sq_norm_all"], row["t_mem"])
                row["gamma_fit"], row["r2_fit"] = fit.gamma, fit.r2
            except (ValueError, RuntimeError):  # too few points, or no convergence: left NaN
                pass
            if window:
                row["gamma_window"] = local_rate(trace["step"], trace["sq_norm_all"], row["t_mem"], window)
        row["t_esc_fit"] = row["log_ratio"] / row["gamma_fit"] if row["gamma_fit"] > 0 else np.nan
        row["delay_peak"] = row["t_grok"] - row["t_peak"] if row["grokked"] else np.nan
        ok = np.isfinite(row["v_peak"]) and row["v_peak"] > 0 and np.isfinite(row["v_post"]) and row["v_post"] > 0
        row["log_ratio_peak"] = math.log(row["v_peak"] / row["v_post"]) if ok else np.nan
        row["t_esc_peak"] = row["log_ratio_peak"] / two_el if two_el > 0 else np.nan
        rows.append(row)
    out = pd.DataFrame(rows, columns=["key", "grokked", "t_mem", "t_grok", "v_mem", "v_post", "delay", "log_ratio",
                                      "t_esc_2el", "gamma_fit", "r2_fit", "gamma_window", "t_esc_fit", "t_peak",
                                      "v_peak", "delay_peak", "log_ratio_peak", "t_esc_peak"])
    keep = [c for c in runs.columns if c not in out.columns or c == "key"]
    return runs[keep].merge(out.drop_duplicates("key"), on="key", how="left")


@dataclass(frozen=True)
class DelayPrediction:
    """What :meth:`DelayPredictor.explain` predicts for one run, and from what: the predicted
    delay ``T_grok − T_mem`` (steps; NaN when the rate is not positive), its inputs ``v_mem``,
    ``gamma`` (per step), ``v_post`` (the calibrated ``V̂_post``) and ``scale``, whether paper
    3's check ``V_mem > 2·V̂_post`` predicts grokking at all, ``t_mem`` and the last step it
    looked at (``known_until``)."""

    delay: float
    v_mem: float
    gamma: float
    v_post: float
    scale: float
    will_grok: bool
    t_mem: float
    known_until: float

    @property
    def t_grok(self) -> float:
        """The predicted grokking step, ``T_mem + delay``."""
        return self.t_mem + self.delay


@dataclass(frozen=True)
class DelayPredictor:
    """Predict ``T_grok − T_mem`` at memorization: ``scale · ln(V_mem / v_post) / γ̂``.

    Parameters
    ----------
    v_post:
        The estimate of the post-grokking ``V`` (paper 3's ``V̂_post``).
    window:
        Steps after ``T_mem`` whose norm trace gives the rate ``γ̂`` (``rate="fitted"``).
    rate:
        ``"fitted"``: ``γ̂`` is the local rate of ``V`` over the window (:func:`local_rate`);
        ``"2ηλ"``: ``γ̂ = 2ηλ`` (nothing measured).
    scale:
        A multiplicative correction learned on calibration runs (1: paper 3's algorithm).

    Build one with :meth:`calibrate`; :meth:`predict` takes the memorization-time inputs,
    :meth:`will_grok` is paper 3's check ``V_mem > 2·V̂_post``.
    """

    v_post: float
    window: float
    rate: str = "fitted"
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.rate not in RATES:
            raise ValueError(f"rate must be one of {RATES}; got {self.rate!r}")
        if not (self.v_post > 0):
            raise ValueError(f"v_post must be positive; got {self.v_post!r}")
        if not (self.window > 0):
            raise ValueError(f"window must be positive (steps); got {self.window!r}")

    def gamma(self, gamma_window: Any, lr: Any, weight_decay: Any) -> np.ndarray:
        """The rate the prediction uses, per run."""
        if self.rate == "2ηλ":
            return 2.0 * np.asarray(lr, dtype=float) * np.asarray(weight_decay, dtype=float)
        return np.asarray(gamma_window, dtype=float)

    def predict(self, v_mem: Any, gamma: Any) -> np.ndarray:
        """``scale · ln(v_mem / v_post) / gamma`` (NaN where gamma ≤ 0)."""
        v_mem = np.asarray(v_mem, dtype=float)
        gamma = np.asarray(gamma, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self.scale * np.log(v_mem / self.v_post) / gamma
        return np.where(gamma > 0, out, np.nan)

    def will_grok(self, v_mem: Any) -> np.ndarray:
        """Paper 3's grokking check: ``V_mem > 2·V̂_post``."""
        return np.asarray(v_mem, dtype=float) > 2.0 * self.v_post

    def predict_runs(self, quantities: pd.DataFrame) -> pd.Series:
        """Predictions for the rows of :func:`run_quantities` (computed with the same window)."""
        g = self.gamma(quantities["gamma_window"], quantities["lr"], quantities["weight_decay"])
        return pd.Series(self.predict(quantities["v_mem"], g), index=quantities.index, name="predicted")

    def explain(self, steps: Any, values: Any, t_mem: float, lr: float, weight_decay: float) -> "DelayPrediction":
        """Predict one run's delay from its norm trajectory, using only what is known by
        ``t_mem + window``: ``steps`` and ``values`` are its ``V = ‖θ‖²`` trace (later points are
        ignored), ``t_mem`` its memorization step, ``lr`` and ``weight_decay`` its η and λ.

        >>> p = DelayPredictor(v_post=300.0, window=300.0, rate="2ηλ")
        >>> p.explain([800, 900], [3900.0, 3100.0], 800, 1e-3, 1.0).delay  # ln(13) / 0.002
        1282.4...
        """
        t = np.asarray(steps, dtype=float)
        v = np.asarray(values, dtype=float)
        known = t <= t_mem + self.window
        at_mem = v[known & (t >= t_mem)]
        if not at_mem.size:
            raise ValueError(f"t_mem: the trace has no point at or after step {t_mem!r}")
        v_mem = float(at_mem[0])
        g_window = local_rate(t[known], v[known], t_mem, self.window)
        gamma = float(self.gamma(g_window, lr, weight_decay))
        return DelayPrediction(delay=float(self.predict(v_mem, gamma)), v_mem=v_mem, gamma=gamma,
                               v_post=self.v_post, scale=self.scale, will_grok=bool(self.will_grok(v_mem)),
                               t_mem=float(t_mem), known_until=float(t_mem + self.window))

    @classmethod
    def calibrate(cls, calibration: pd.DataFrame, *, window: float, rate: str = "fitted",
                  learn_scale: bool = False) -> DelayPredictor:
        """``V̂_post`` = the median ``v_post`` of the calibration runs that grokked; with
        ``learn_scale``, ``scale`` = the median of (actual delay / uncorrected prediction) there."""
        grokked = calibration[calibration["grokked"]]
        if grokked.empty:
            raise ValueError("no calibration run grokked: V_post cannot be estimated")
        pred = cls(float(np.median(grokked["v_post"])), window, rate)
        if learn_scale:
            ratio = grokked["delay"].to_numpy(float) / pred.predict_runs(grokked).to_numpy(float)
            ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
            if ratio.size:
                pred = replace(pred, scale=float(np.median(ratio)))
        return pred


@dataclass(frozen=True)
class PredictionErrors:
    """How a predictor did on held-out runs (relative errors ``(predicted − actual) / actual``)."""

    n: int
    mae: Estimate            # mean |relative error|, in percent, bootstrap CI
    median_abs: float        # median |relative error|, percent
    mean_signed: float       # mean relative error, percent (positive: overestimates)
    over: int                # predictions above the actual delay
    within_2x: int           # predictions within a factor 2 of the actual delay


def prediction_errors(predicted: Any, actual: Any, *, n_boot: int = 10_000, seed: int = 0) -> PredictionErrors:
    """Score predictions of the delay against the measured delays (runs that grokked, with a
    positive delay and a finite prediction; the rest are not scored)."""
    p = np.asarray(predicted, dtype=float)
    a = np.asarray(actual, dtype=float)
    ok = np.isfinite(p) & np.isfinite(a) & (a > 0)
    p, a = p[ok], a[ok]
    if p.size < 2:
        nan = float("nan")
        return PredictionErrors(int(p.size), Estimate(nan, nan, nan), nan, nan, 0, 0)
    rel = 100.0 * (p - a) / a
    mae = bootstrap_ci(np.abs(rel), np.mean, n_boot=n_boot, seed=seed)
    ratio = p / a
    within = int(np.sum((ratio >= 0.5) & (ratio <= 2.0)))
    return PredictionErrors(int(p.size), mae, float(np.median(np.abs(rel))), float(rel.mean()),
                            int(np.sum(p > a)), within)


def delays_as_times(quantities: pd.DataFrame) -> pd.DataFrame:
    """The runs that memorized, with their clock started at T_mem: ``t_grok`` becomes the delay
    and ``final_step`` the steps trained after T_mem, so that the survival statistics of
    :mod:`grokkit.analysis.cells` (Kaplan–Meier medians, censored ratios) apply to delays; a run that
    memorized but did not grok is censored at its last step."""
    out = quantities[np.isfinite(quantities["t_mem"].astype(float))].copy()
    out["t_grok"] = out["t_grok"] - out["t_mem"]
    out["final_step"] = out["final_step"] - out["t_mem"]
    return out
