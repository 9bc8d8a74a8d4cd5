"""Chapter 2, the exponential pinned-norm law (paper 1, §5–6): clamp the weight norm at ρ·W_c from
``t_int`` on and the network still groks, later the higher the norm, ``T_grok ∝ exp(α ρ)`` with one
exponent shared across moduli; the held norm moves the delay far more than the learning rate, and
a one-shot rescale barely matters.

The chapter's parameters and presets, the paper's figures and the tolerances (fixed before any
result was read), its two designs (the free controls that measure W_c(p) and T_free(p), then the
clamped runs held at ρ·W_c(p)), the store checks of preset "auto" (:func:`complete`,
:func:`progress`), the analysis of their runs, the texts its prose glues, its verdicts under the
book's verdict policy (:mod:`grokkit.book.verdicts`) and the diagnoses of the rows that do not
simply agree, as registered in ``docs/why-we-differ.md`` (:data:`DIAGNOSES`, :func:`diagnose`), among them
experiment 2B, read from a store of its own beside the chapter's (:func:`kernels_off`).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from ...analysis import cells, stats
from ...analysis.stats import Estimate
from ...analysis.stats.survival import _km_median_rows
from ...engine.config import RunConfig
from ...engine.protocols import paper1
from ...runs.design import Design, exponential_budget, held_norm
from ...runs.store import RunStore
from .. import parameters as pm
from ..diagnoses import NEEDS_DIAGNOSIS, REGISTERED, Diagnosis, pending
from ..text import and_list, fmt_ci, fmt_num, levels, missing_runs_note
from ..verdicts import (at_least, at_paper_condition, before_policy, CLOSE, combine, compare, CONSISTENT, count,
    DIFFERS, INCONCLUSIVE, Judgement, NO_DATA, paper_rounded, Verdict, Verdicts)

CHAPTER, TITLE = "02_pinned_norm_law", "2. The exponential pinned-norm law"

# ---------------------------------------------------------------------------- parameters
PARAMETERS = pm.Parameters(
    seeds=pm.count("seeds per cell"),
    p=pm.prime("modulus of the dense sweep and the rho x lr matrix"),
    rhos=pm.positive("dense clamp levels (rho: held norm over W_c)", many=True),
    fit_range=pm.interval("[lo, hi]: rho range of the exponential fit"),
    rho_bend=pm.positive("a level beyond the fit range, where the paper sees the law bend"),
    scan_moduli=pm.prime("moduli of the shared-exponent scan", many=True),
    scan_rhos=pm.positive("clamp levels of the scan", many=True),
    floor_modulus=pm.prime("the small modulus where the paper's lowest level does not grok"),
    lr=pm.positive("base learning rate"),
    lrs=pm.positive("learning rates of the rho x lr matrix", many=True),
    matrix_rhos=pm.positive("clamp levels of the matrix", many=True),
    once_rhos=pm.positive("one-shot rescale controls", many=True),
    t_int=pm.steps("step at which the clamp (or the one-shot rescale) starts"),
    free_budget=pm.steps("budget of the free controls"),
    budget_scale=pm.positive("clamp budget: scale x T_free x exp(budget_alpha (rho - 1)), clipped"),
    budget_alpha=pm.positive("growth rate in rho of the clamp budget (per unit of rho)"),
    budget_floor=pm.steps("smallest clamp budget"),
    budget_cap=pm.steps("largest clamp budget"),
    eval_schedule=pm.schedule('"every:K" or "log:K"'),
    d_embed=pm.count("embedding width"),
    d_hidden=pm.count("hidden width"),
    rules=[
        pm.ordered("t_int", "budget_floor"),
        pm.ordered("budget_floor", "budget_cap", strict=False),
        pm.ordered("t_int", "free_budget"),
        pm.Rule("rho_bend, fit_range: rho_bend must lie beyond the fit range (rho_bend > fit_range[1])",
                lambda v: v["rho_bend"] > v["fit_range"][1]),
        pm.Rule("rhos, fit_range: at least two of rhos must lie in fit_range (the exponential fit needs two levels)",
                lambda v: sum(v["fit_range"][0] - 1e-9 <= r <= v["fit_range"][1] + 1e-9 for r in v["rhos"]) >= 2),
        pm.Rule("floor_modulus, scan_moduli: floor_modulus must not be one of scan_moduli "
                "(it is left out of the shared fit)",
                lambda v: v["floor_modulus"] not in v["scan_moduli"]),
    ],
)
BOOK = dict(seeds=8, p=59, rhos=[0.85, 0.90, 0.95, 1.00, 1.05, 1.10, 1.15, 1.20, 1.25], fit_range=[0.85, 1.25],
            rho_bend=1.30, scan_moduli=[41, 53, 59, 71], scan_rhos=[0.85, 1.00, 1.15], floor_modulus=31,
            lr=1e-3, lrs=[1e-3, 2e-3, 4e-3, 8e-3], matrix_rhos=[0.85, 1.00, 1.15, 1.30],
            once_rhos=[0.70, 0.85, 1.00, 1.15, 1.30], t_int=500, free_budget=40_000, budget_scale=4.0,
            budget_alpha=8.0, budget_floor=8_000, budget_cap=120_000, eval_schedule="every:25",
            d_embed=128, d_hidden=256)
PRESETS = PARAMETERS.presets(
    smoke=dict(BOOK, seeds=2, p=41, rhos=[0.9, 1.0, 1.1], fit_range=[0.9, 1.1], rho_bend=1.2, scan_moduli=[37, 41],
               scan_rhos=[0.9, 1.0, 1.1], lr=1e-2, lrs=[1e-2, 2e-2], matrix_rhos=[0.9, 1.1], once_rhos=[0.9, 1.1],
               t_int=100, free_budget=2500, budget_scale=2.0, budget_floor=1000, budget_cap=4000,
               d_embed=32, d_hidden=64),
    book=BOOK,
    paper=dict(BOOK, seeds=16, free_budget=60_000, budget_scale=5.0, budget_cap=200_000, eval_schedule="log:360"),
)

#: The paper's released ρ × learning-rate matrix (paper 1, Tab 1: p = 59, 16 seeds, 30k budget): median
#: T_grok by held norm ρ, one entry per learning rate 1e-3 / 2e-3 / 4e-3 / 8e-3.
TAB1_LRS = (1e-3, 2e-3, 4e-3, 8e-3)
TAB1 = {0.85: (1492, 916, 697, 587), 1.00: (4077, 2891, 1961, 1256), 1.15: (13426, 12317, 10221, 8007),
        1.30: (27925, 23168, 19501, 16893)}
#: The paper's free control at lr 1e-3 in the same table's runs (T_grok median).
TAB1_FREE = 5131
#: Tab 1's learning-rate lever at each ρ: T(lr 1e-3) / T(lr 8e-3), and their geometric mean.
TAB1_LR_LEVERS = {rho: t[0] / t[-1] for rho, t in TAB1.items()}
TAB1_LR_LEVER = math.exp(float(np.mean(np.log(list(TAB1_LR_LEVERS.values())))))

#: The paper's figures (paper 1; the dense medians are its 16-seed cells, 1.30 from its p-scan). Each is the
#: interval the verdict policy compares with: a CI as given, a range as given, a rounded value as the
#: interval of its rounding (``paper_rounded``); the released data beside the text where they differ.
PAPER = dict(
    alpha=7.64, alpha_ci=(7.47, 7.81), alpha_shared=7.49, alpha_shared_ci=(7.16, 7.69),
    alpha_per_p={41: 7.92, 53: 7.56, 59: 7.42, 71: 7.07},
    alpha_per_p_ci={41: (7.06, 8.47), 53: (7.02, 7.88), 59: (6.93, 7.86), 71: (6.57, 7.38)},
    bend=(0.69, 0.71), norm_lever=TAB1[1.30][0] / TAB1[0.85][0],
    lr_lever_text="2", lr_lever=paper_rounded("2"), lr_lever_data=TAB1_LR_LEVER,
    alpha_per_lr_text=paper_rounded("7.4"), alpha_per_lr_data=(7.32, 8.66, 8.95, 8.71),
    once=paper_rounded("1.23"), sustained=paper_rounded("7.28"),
    hold_vs_free=1.0, hold_vs_free_data=TAB1[1.00][0] / TAB1_FREE,
    collapse_r2={"norm": 0.9968, "rho": 0.9955},
    dense={0.85: 1495, 0.90: 1781, 0.95: 2469.5, 1.00: 3999, 1.05: 6380, 1.10: 9433, 1.15: 13030, 1.20: 19407,
           1.25: 26929, 1.30: 28205},
    scan={41: {0.85: 2850, 1.00: 9718, 1.15: 30661}, 53: {0.85: 1668, 1.00: 5010, 1.15: 16090},
          59: {0.85: 1439.5, 1.00: 4053.5, 1.15: 13323}, 71: {0.85: 1191, 1.00: 2767, 1.15: 9929}},
)
#: Tolerances, fixed before any result was read (relative unless marked absolute).
TOL = dict(alpha=0.05, alpha_shared=0.05, alpha_per_p=0.08, bend=0.10, norm_lever=0.20, lr_lever=0.30,
           alpha_per_lr=0.08, once=0.15, sustained=0.20, hold_vs_free=0.10, fraction_grokked=0.10,
           collapse=0.005)
#: The collapse row's bootstrap (resamples of the seeds within each cell, and its seed): fixed with its tolerance.
COLLAPSE_BOOT, COLLAPSE_SEED = 2000, 0
#: The paper's modulus: rows that depend on it are "no data" at another p.
PAPER_P = 59
#: The held norms the paper's controls compare (sustained hold ratio; hold against free).
SUSTAINED_RHOS, HOLD_RHO = (0.90, 1.15), 1.0
#: The largest ρ of the per-learning-rate fits (the paper fits ρ ≤ 1.15).
LR_FIT_MAX = 1.15
#: The clamped experiments and the labels their analysis reads.
LABELS = {"dense": ["rho"], "matrix": ["rho", "lr"], "once": ["rho"], "scan": ["p", "rho"]}


def tolerances() -> pd.DataFrame:
    """The tolerance of each kind of verdict row, in words."""
    return pd.DataFrame([
        ("α at p, and shared across moduli", f"{TOL['alpha']:.0%} of the paper's value"),
        ("α of each modulus, and at each learning rate", f"{TOL['alpha_per_p']:.0%}"),
        ("the bend at ρ beyond the fit range (observed / extrapolated)", f"{TOL['bend']:.0%}"),
        ("delay ratios: norm lever, held-norm ratio / one-shot ratio, learning-rate lever",
         f"{TOL['norm_lever']:.0%} / {TOL['sustained']:.0%} / {TOL['once']:.0%} / {TOL['lr_lever']:.0%}"),
        ("held at ρ = 1 against free training", f"{TOL['hold_vs_free']:.0%}"),
        ("fractions of runs that grok (exact binomial CI)", f"± {TOL['fraction_grokked']:.2f} absolute"),
        ("ΔR² of the collapse on ‖W‖/√p over that on ρ (at least 0)", f"± {TOL['collapse']:g} absolute"),
    ], columns=["quantity", "tolerance"])


# ---------------------------------------------------------------------------- designs
def moduli(P: pm.Values) -> list[int]:
    """Every modulus the chapter trains at: the scan's, the main one and the floor modulus."""
    return sorted(set(P.scan_moduli) | {P.p, P.floor_modulus})


def run_config(P: pm.Values, q: int, seed: int, lr: float | None = None, **kw: Any) -> RunConfig:
    """A paper-1 run at modulus ``q`` (train fraction 0.4, λ = 1), its clamp (if any) starting at
    ``t_int``; ``kw`` overrides (clamp target and mode, budget). The free controls carry
    ``clamp_start`` too, as they always have (a config's fields make its store key)."""
    base = dict(p=q, seed=seed, lr=P.lr if lr is None else lr, train_frac=0.4, weight_decay=1.0,
                eval_schedule=P.eval_schedule, d_embed=P.d_embed, d_hidden=P.d_hidden,
                clamp_start=P.t_int, max_steps=P.free_budget)
    return paper1(**{**base, **kw})


def controls(P: pm.Values) -> Design:
    """The free controls: one cell per modulus (they define W_c(p) and T_free(p)), and the main
    modulus at every learning rate of the matrix."""
    d = Design()
    for s in range(P.seeds):
        for q in moduli(P):
            d.add("free", run_config(P, q, s), p=q)
        for lr in P.lrs:
            d.add("free lr", run_config(P, P.p, s, lr=lr), lr=lr)
    return d


@dataclass
class Calibration:
    """What the free controls give the clamped design: W_c(p) and T_free(p) per modulus."""

    free: pd.DataFrame
    cells: pd.DataFrame
    wc: dict[int, float]
    t_free: dict[int, float]


def calibrate(d: Design) -> Calibration:
    """W_c(p) (median norm at T_grok) and T_free(p) (Kaplan–Meier median) from the free controls
    of :func:`controls` (after ``d.run(...)``)."""
    free = d.table("free", ["p"])
    free_cells = cells.cell_table(free, "p")
    return Calibration(free=free, cells=free_cells, wc=dict(zip(free_cells["p"], free_cells["norm_median"])),
                       t_free=dict(zip(free_cells["p"], free_cells["t_median"])))


def with_wc(P: pm.Values, cal: Calibration) -> list[int]:
    """The chapter's moduli that have a W_c (their free control grokked): only these get clamped runs."""
    return [q for q in moduli(P) if np.isfinite(cal.wc.get(q, np.nan))]


def budget(P: pm.Values, cal: Calibration, q: int, rho: float) -> int:
    """A clamped run's budget: ``budget_scale · T_free(q) · exp(budget_alpha (ρ − 1))`` rounded up to
    1000 and clipped to [budget_floor, budget_cap] (``free_budget`` stands in for a T_free that was
    not reached)."""
    t = cal.t_free.get(q, np.nan)
    if not np.isfinite(t):
        t = P.free_budget
    return exponential_budget(P.budget_scale * t, rho, P.budget_alpha, P.budget_floor, P.budget_cap)


def design(P: pm.Values, cal: Calibration) -> Design:
    """The clamped runs, held at ρ·W_c(q) from ``t_int`` on: the dense sweep at p (with the bend
    level), the ρ × learning-rate matrix, the one-shot rescales, and the modulus scan (the floor
    modulus included). A modulus without a W_c gets no clamped runs."""

    def clamped(q: int, rho: float, seed: int, lr: float | None = None, mode: str = "hold") -> RunConfig:
        return run_config(P, q, seed, lr=lr, clamp_target=held_norm(rho, cal.wc[q]), clamp_mode=mode,
                          max_steps=budget(P, cal, q, rho))

    d = Design()
    usable = with_wc(P, cal)
    for s in range(P.seeds):
        if P.p in usable:
            for rho in sorted(set(P.rhos) | {P.rho_bend}):
                d.add("dense", clamped(P.p, rho, s), rho=rho)
            for rho in P.matrix_rhos:
                for lr in P.lrs:
                    d.add("matrix", clamped(P.p, rho, s, lr=lr), rho=rho, lr=lr)
            for rho in P.once_rhos:
                d.add("once", clamped(P.p, rho, s, mode="once"), rho=rho)
        for q in usable:
            if q in set(P.scan_moduli) | {P.floor_modulus}:
                for rho in P.scan_rhos:
                    d.add("scan", clamped(q, rho, s), p=q, rho=rho)
    return d


def notes(P: pm.Values, cal: Calibration, *designs: Design) -> str:
    """What the page says above its results when something is missing (``""`` when nothing is):
    runs not in the store, and moduli without a W_c."""
    out = [missing_runs_note(*designs)]
    without_wc = sorted(set(moduli(P)) - set(with_wc(P, cal)))
    if without_wc:
        out.append(f"Moduli without a $W_c$ (their free control did not grok): {without_wc}.")
    return "\n\n".join(o for o in out if o)


# ---------------------------------------------------------------------------- the store
def _nominal(P: pm.Values) -> Calibration:
    """A stand-in calibration with a W_c at every modulus: what :func:`design` asks for when every
    free control groks (its runs' count; their clamp targets need the real W_c)."""
    empty = pd.DataFrame()
    return Calibration(free=empty, cells=empty, wc={q: 1.0 for q in moduli(P)}, t_free={})


def _stored(store: RunStore, d: Design) -> tuple[int, int]:
    """How many of ``d``'s runs the store holds, and how many it asks for."""
    configs = d.configs()
    return len(configs) - len(store.missing(configs)), len(configs)


def load(P: pm.Values, d: Design) -> Design:
    """``d`` with its stored runs read (training off, missing runs left out, quietly)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d.run(store=P.store, train=False, allow_missing=True, progress=False)
    return d


def progress(P: pm.Values) -> tuple[int, int]:
    """``(have, want)``: how many of the runs the chapter asks for at ``P`` are in the store (``P.store``).
    The clamped runs' targets come from the stored free controls; while some controls are not stored,
    every modulus counts its clamped runs as asked for (a modulus whose stored control did not grok
    asks for none). Nothing trains."""
    store = RunStore(P.store)
    c = controls(P)
    have_c, want_c = _stored(store, c)
    cal = calibrate(load(P, c))
    have_d, want_d = _stored(store, design(P, cal))
    if have_c < want_c:
        want_d = max(want_d, len(design(P, _nominal(P)).configs()))
    return have_c + have_d, want_c + want_d


def complete(P: pm.Values) -> bool:
    """True when every run the chapter asks for at ``P`` is in the store (preset "auto" renders the
    largest preset for which this holds). Nothing trains."""
    store = RunStore(P.store)
    c = controls(P)
    if store.missing(c.configs()):
        return False
    have, want = progress(P)
    return have == want


def from_store(P: pm.Values) -> tuple[Calibration, Design, Design]:
    """The calibration, controls and clamped design at ``P`` read from the store (nothing trains)."""
    c = load(P, controls(P))
    cal = calibrate(c)
    return cal, c, load(P, design(P, cal))


# ---------------------------------------------------------------------------- analysis
@dataclass
class Collapse:
    """The shared-slope model ``ln T = α·x + f(p)`` over the scan's fitted cells with x = ρ and with
    x = held norm / √p: R² of each on the cell medians, and ΔR² = R²(‖W‖/√p) − R²(ρ) with a bootstrap
    CI (seeds resampled within each cell, both fits on the same resample)."""

    r2_rho: float
    r2_norm: float
    delta: Estimate
    n_cells: int


def _shared_r2(x: np.ndarray, group: np.ndarray, y: np.ndarray) -> float:
    """R² of ``y = α·x + f(group)`` by OLS (one slope, one intercept per group); NaN when the slope
    cannot be identified."""
    xc, yc = x.astype(float).copy(), y.astype(float).copy()
    for g in np.unique(group):
        sel = group == g
        xc[sel] -= x[sel].mean()
        yc[sel] -= y[sel].mean()
    sxx = float(np.sum(xc * xc))
    sst = float(np.sum((y - y.mean()) ** 2))
    if not sxx > 0 or not sst > 0:
        return float("nan")
    alpha = float(np.sum(xc * yc)) / sxx
    return 1.0 - float(np.sum((yc - alpha * xc) ** 2)) / sst


def collapse(rows: pd.DataFrame, n_boot: int = COLLAPSE_BOOT, seed: int = COLLAPSE_SEED) -> Collapse | None:
    """:class:`Collapse` of the scan rows ``rows`` (columns p, rho, clamp_target and the run outcome);
    None with fewer than two moduli or too few finite cell medians."""
    if not len(rows) or rows["p"].nunique() < 2:
        return None
    rng = np.random.default_rng(seed)
    keys, medians, boot = [], [], []
    for (q, rho), g in rows.groupby(["p", "rho"], sort=True):
        t, ev = cells.grok_times(g)
        keys.append((q, rho, float(g["clamp_target"].iloc[0]) / math.sqrt(q)))
        medians.append(_km_median_rows(t[None, :], ev[None, :])[0])
        idx = rng.integers(0, len(t), size=(n_boot, len(t)))
        boot.append(_km_median_rows(t[idx], ev[idx]))
    group = np.array([k[0] for k in keys])
    xs = {"rho": np.array([k[1] for k in keys]), "norm": np.array([k[2] for k in keys])}
    medians, boot = np.array(medians), np.array(boot).T  # boot: (n_boot, cells)

    def r2s(m: np.ndarray) -> tuple[float, float]:
        ok = np.isfinite(m) & (m > 0)
        if ok.sum() < 3 or len(np.unique(group[ok])) < 2:
            return float("nan"), float("nan")
        y = np.log(m[ok])
        return _shared_r2(xs["rho"][ok], group[ok], y), _shared_r2(xs["norm"][ok], group[ok], y)

    r2_rho, r2_norm = r2s(medians)
    if not (math.isfinite(r2_rho) and math.isfinite(r2_norm)):
        return None
    deltas = np.array([b - a for a, b in map(r2s, boot)])
    deltas = deltas[np.isfinite(deltas)]
    lo, hi = np.quantile(deltas, [0.025, 0.975]) if len(deltas) else (np.nan, np.nan)
    return Collapse(r2_rho, r2_norm, Estimate(r2_norm - r2_rho, float(lo), float(hi)), int(np.isfinite(medians).sum()))


@dataclass
class Results:
    """Everything the page shows and the verdicts judge, computed from both designs' runs."""

    free: pd.DataFrame
    free_cells: pd.DataFrame
    free_lr_cells: pd.DataFrame
    wc: dict[int, float]
    t_free: dict[int, float]
    t_free_main: float
    runs: dict[str, pd.DataFrame]
    all_clamped: pd.DataFrame
    status_counts: pd.DataFrame
    held_dev: float
    in_range: pd.DataFrame
    n_grokked_in_range: int
    # the exponential law at p
    dense: pd.DataFrame
    dense_cells: pd.DataFrame
    fit_rows: pd.DataFrame
    fit: Any
    bend: pd.DataFrame
    bend_ratio: Estimate | None
    # one exponent across moduli
    scan: pd.DataFrame
    scan_cells: pd.DataFrame
    scan_fit_rows: pd.DataFrame
    shared: Any
    collapse: Collapse | None
    per_p: dict[int, Any]
    per_p_table: pd.DataFrame
    floor_cells: pd.DataFrame
    # the held norm against the learning rate
    matrix: pd.DataFrame
    mat_cells: pd.DataFrame
    matrix_delays: pd.DataFrame
    lr_alphas: dict[float, Any]
    norm_lever: Estimate | None
    lr_levers: dict[float, Estimate]
    lr_lever: Estimate | None
    # controls
    once: pd.DataFrame
    once_cells: pd.DataFrame
    held_cells: pd.DataFrame
    once_ratio: Estimate | None
    sustained: Estimate | None
    free_main: pd.DataFrame
    hold_vs_free: Estimate | None


def analyse(P: pm.Values, cal: Calibration, controls: Design, d: Design) -> Results:
    """The chapter's numbers from the runs of :func:`controls` and :func:`design` (after both ran)."""
    runs = {name: d.table(name, cols) for name, cols in LABELS.items()}
    all_clamped = pd.concat([t.assign(experiment=name) for name, t in runs.items() if name != "once"],
                            ignore_index=True)
    in_range = cells.between(all_clamped, "rho", *P.fit_range)
    in_range = in_range[in_range.p != P.floor_modulus]
    dense, scan, matrix, once = runs["dense"], runs["scan"], runs["matrix"], runs["once"]
    dense_cells = cells.cell_table(dense, "rho")
    fit_rows = cells.between(dense, "rho", *P.fit_range)
    fit = cells.exponential_fit(fit_rows, "rho")
    bend = dense[np.isclose(dense.rho, P.rho_bend)]
    scan_fit_rows = scan[scan.p.isin(P.scan_moduli)]
    scan_cells = cells.cell_table(scan, ["p", "rho"])
    shared = cells.shared_slope_fit(scan_fit_rows, "rho", "p")
    per_p = dict(shared.per_group) if shared is not None else {}
    mat_cells = cells.cell_table(matrix, ["rho", "lr"])
    low = cells.between(matrix, "rho", P.fit_range[0], min(P.fit_range[1], LR_FIT_MAX))
    lr_alphas = {lr: cells.exponential_fit(cells.select(low, lr=lr), "rho") for lr in P.lrs}
    at = lambda rho, lr: cells.select(matrix, rho=rho, lr=lr)  # noqa: E731
    lr_lo, lr_hi = min(P.lrs), max(P.lrs)
    lr_levers = {rho: cells.delay_ratio(at(rho, lr_hi), at(rho, lr_lo)) for rho in P.matrix_rhos}
    once_cells = cells.cell_table(once, "rho")
    free_main = cal.free[cal.free.p == P.p]
    return Results(
        free=cal.free, free_cells=cal.cells, wc=cal.wc, t_free=cal.t_free, t_free_main=cal.t_free.get(P.p, np.nan),
        free_lr_cells=cells.cell_table(controls.table("free lr", ["lr"]), "lr"),
        runs=runs, all_clamped=all_clamped, status_counts=status_counts(all_clamped),
        held_dev=held_deviation(all_clamped),
        in_range=in_range, n_grokked_in_range=int((in_range.status == "grokked").sum()),
        dense=dense, dense_cells=dense_cells, fit_rows=fit_rows, fit=fit, bend=bend,
        bend_ratio=observed_over_fit(bend, fit, P.rho_bend),
        scan=scan, scan_cells=scan_cells, scan_fit_rows=scan_fit_rows, shared=shared, per_p=per_p,
        collapse=collapse(cells.between(scan_fit_rows, "rho", *P.fit_range)),
        per_p_table=per_modulus_table(per_p, cal.wc),
        floor_cells=scan_cells[scan_cells.p == P.floor_modulus],
        matrix=matrix, mat_cells=mat_cells, matrix_delays=delay_pivot(mat_cells),
        lr_alphas={lr: f for lr, f in lr_alphas.items() if f is not None},
        norm_lever=cells.delay_ratio(at(min(P.matrix_rhos), lr_lo), at(max(P.matrix_rhos), lr_lo)),
        lr_levers={rho: e for rho, e in lr_levers.items() if e is not None},
        lr_lever=cells.mean_delay_ratio([(at(rho, lr_hi), at(rho, lr_lo)) for rho in P.matrix_rhos]),
        once=once, once_cells=once_cells,
        held_cells=cells.between(dense_cells, "rho", 0, P.fit_range[1]),
        once_ratio=extreme_cells_ratio(once, once_cells, "rho"),
        sustained=cells.delay_ratio(cells.select(dense, rho=SUSTAINED_RHOS[0]),
                                    cells.select(dense, rho=SUSTAINED_RHOS[1])),
        free_main=free_main, hold_vs_free=cells.delay_ratio(free_main, cells.select(dense, rho=HOLD_RHO)),
    )


def status_counts(runs: pd.DataFrame, by: str = "experiment") -> pd.DataFrame:
    """How many runs of each ``by`` group ended in each status (grokked, censored, diverged)."""
    return runs.groupby(by)["status"].value_counts().unstack(fill_value=0).reset_index()


def held_deviation(runs: pd.DataFrame) -> float:
    """The largest relative deviation of a grokked clamped run's norm at T_grok from its clamp
    target (NaN when none grokked)."""
    held = runs[runs.status == "grokked"]
    return float(np.max(np.abs(held["norm_grok"] / held["clamp_target"] - 1))) if len(held) else float("nan")


def observed_over_fit(runs: pd.DataFrame, fit: Any, x: float) -> Estimate | None:
    """The Kaplan–Meier median delay of ``runs`` (one level ``x``) over the fit's prediction at
    ``x``, with the median's CI scaled alike (None without a fit or runs)."""
    if fit is None or not len(runs):
        return None
    m = stats.censored_median(*cells.grok_times(runs))
    pred = float(fit.predict(np.array([x]))[0])
    return Estimate(m.median / pred, m.lo / pred, m.hi / pred)


def extreme_cells_ratio(runs: pd.DataFrame, cell_table: pd.DataFrame, x: str) -> Estimate | None:
    """The delay ratio of the slowest cell over the fastest one (None with fewer than two cells
    or a median not reached)."""
    if len(cell_table) < 2 or not np.isfinite(cell_table["t_median"]).all():
        return None
    fast, slow = cell_table["t_median"].idxmin(), cell_table["t_median"].idxmax()
    return cells.delay_ratio(cells.select(runs, **{x: cell_table.loc[fast, x]}),
                             cells.select(runs, **{x: cell_table.loc[slow, x]}))


def per_modulus_table(per_p: Mapping[int, Any], wc: Mapping[int, float]) -> pd.DataFrame:
    """W_c, the fitted exponent with its CI and R² of each modulus, beside the paper's exponent."""
    return pd.DataFrame([{"p": q, "W_c": wc[q], "α [95 % CI]": fmt_ci(f.alpha, ".2f"), "R²": f.r2,
                          "paper α": PAPER["alpha_per_p"].get(q, np.nan)} for q, f in sorted(per_p.items())],
                        columns=["p", "W_c", "α [95 % CI]", "R²", "paper α"])


def delay_pivot(mat_cells: pd.DataFrame) -> pd.DataFrame:
    """The matrix's median delays, one row per ρ and one column per learning rate."""
    return (mat_cells.pivot(index="rho", columns="lr", values="t_median").reset_index()
            .rename(columns=lambda c: f"T_grok at lr {c:g}" if isinstance(c, float) else c))


def matrix_formats(P: pm.Values) -> dict[str, str]:
    """The number formats of :func:`delay_pivot`'s columns."""
    return {f"T_grok at lr {lr:g}": ",.0f" for lr in P.lrs}


# ---------------------------------------------------------------------------- texts
def texts(P: pm.Values, r: Results) -> dict[str, str]:
    """The numbers the prose glues, by name, as the page writes them."""
    nan = float("nan")
    return {
        "held_dev": f"{r.held_dev:.1e}",  # as the page has always written it ("nan" without runs)
        "frac_grokked": f"{r.n_grokked_in_range}/{len(r.in_range)}",
        "alpha_dense": fmt_ci(r.fit.alpha if r.fit else None, ".2f"),
        "r2_dense": fmt_num(r.fit.r2 if r.fit else nan, ".3f"),
        "bend_ratio": fmt_ci(r.bend_ratio, ".2f"),
        "rho_bend": fmt_num(P.rho_bend, ".2f"),
        "fit_lo": fmt_num(P.fit_range[0], ".2f"),
        "fit_hi": fmt_num(P.fit_range[1], ".2f"),
        "p_main": str(P.p),
        "alpha_shared": fmt_ci(r.shared.alpha if r.shared is not None else None, ".2f"),
        "r2_shared": fmt_num(r.shared.r2 if r.shared is not None else nan, ".3f"),
        "scan_moduli": levels(sorted(r.per_p), "g", sep="/"),
        "floor_modulus": str(P.floor_modulus),
        "norm_lever": fmt_ci(r.norm_lever, ".1f"),
        "lr_levers": levels([r.lr_levers[rho] for rho in sorted(r.lr_levers)], ".2f"),
        "lr_lever_geo": fmt_ci(r.lr_lever, ".2f"),
        "lr_alphas": levels([r.lr_alphas[lr].alpha for lr in sorted(r.lr_alphas)], ".2f"),
        "once_ratio": fmt_ci(r.once_ratio, ".2f"),
        "sustained_ratio": fmt_ci(r.sustained, ".1f"),
        "hold_vs_free": fmt_ci(r.hold_vs_free, ".2f"),
        "paper_lr_levers": levels([TAB1_LR_LEVERS[rho] for rho in sorted(TAB1_LR_LEVERS)], ".2f"),
        "paper_lr_geo": fmt_num(TAB1_LR_LEVER, ".2f"),
        "r2_collapse_norm": fmt_num(r.collapse.r2_norm if r.collapse else nan, ".4f"),
        "r2_collapse_rho": fmt_num(r.collapse.r2_rho if r.collapse else nan, ".4f"),
        "delta_r2": fmt_ci(r.collapse.delta if r.collapse else None, ".4f"),
    }


# ---------------------------------------------------------------------------- verdicts
def _grokked(runs: pd.DataFrame) -> int:
    return int((runs.status == "grokked").sum())


def _seeds_said(j: Judgement, scale: Any) -> Judgement:
    """A judgement against the paper's released data that says, when inconclusive, about how many seeds
    per cell would decide it (as :meth:`Verdicts.add` says it of the row's own judgement)."""
    need = j.seeds_to_decide(getattr(scale, "seeds", None))
    return replace(j, reason=f"{j.reason}; about {need} seeds per cell would decide it") if need else j


def verdicts(P: pm.Values, r: Results) -> Verdicts:
    """One row per claim of paper 1, §5–6, judged under :data:`TOL` and the book's verdict policy: the
    paper's value as the interval of its own uncertainty, the claim as written (``basis="text"``) with
    the paper's released data beside it where the two disagree."""
    V = Verdicts(CHAPTER, TITLE, P.preset, claimant="paper 1")
    here = lambda j: at_paper_condition(j, P.p, PAPER_P)  # noqa: E731
    scale_scan = cells.scale_note(r.scan_fit_rows, ["p", "rho"])
    scale_matrix = cells.scale_note(r.matrix, ["rho", "lr"])
    fit, shared, per_p, lr_alphas = r.fit, r.shared, r.per_p, r.lr_alphas
    rho_lo, rho_hi, lr_lo, lr_hi = min(P.matrix_rhos), max(P.matrix_rhos), min(P.lrs), max(P.lrs)
    tol_count = TOL["fraction_grokked"]

    n_in, k_in = len(r.in_range), r.n_grokked_in_range
    V.add("Clamped at ρ·W_c, the network still groks (ρ in the fit range)",
          count(16, 16, k_in, n_in, atol=tol_count), paper="16/16 in every fitted cell", ours=f"{k_in}/{n_in}",
          note=f"held norm exact to {r.held_dev:.0e}", scale=cells.scale_note(r.in_range),
          section="sec-ch2-exponential")
    V.add(f"ln T_grok linear in ρ at p = 59, ρ ∈ [{P.fit_range[0]:.2f}, {P.fit_range[1]:.2f}]: α",
          here(compare(PAPER["alpha_ci"], fit.alpha if fit else None, tol=TOL["alpha"], fmt=".2f")),
          paper="α = 7.64 [7.47, 7.81], R² 0.994", note=f"R² {fit.r2:.3f}" if fit else "",
          scale=cells.scale_note(r.fit_rows, "rho"), section="sec-ch2-exponential")
    V.add(f"The law bends at ρ = {P.rho_bend:.2f} (observed / extrapolated median)",
          here(compare(PAPER["bend"], r.bend_ratio, tol=TOL["bend"], fmt=".2f")), paper="0.69–0.71",
          scale=cells.scale_note(r.bend), section="sec-ch2-exponential")
    V.add("One exponent shared across moduli " + "/".join(map(str, sorted(per_p))),
          compare(PAPER["alpha_shared_ci"], shared.alpha if shared is not None else None,
                  tol=TOL["alpha_shared"], fmt=".2f"),
          paper="α = 7.49 [7.16, 7.69], R² 0.996", note=f"R² {shared.r2:.3f}" if shared is not None else "",
          scale=scale_scan, section="sec-ch2-moduli")
    per_p_ci = PAPER["alpha_per_p_ci"]
    per_p_parts = {f"p = {q}": compare(per_p_ci[q], f.alpha, tol=TOL["alpha_per_p"], fmt=".2f")
                   for q, f in sorted(per_p.items()) if q in per_p_ci}
    V.add("Per-modulus exponents", combine(per_p_parts),
          paper=" / ".join(f"{PAPER['alpha_per_p'][q]:.2f} [{a:.2f}, {b:.2f}]"
                           for q, (a, b) in sorted(per_p_ci.items()))
          + " (p = " + "/".join(map(str, sorted(per_p_ci))) + "; bootstrap 95 % CIs)",
          ours=levels([f.alpha for _, f in sorted(per_p.items())], ".2f"), scale=scale_scan, section="sec-ch2-moduli")
    floor_low = r.scan[(r.scan.p == P.floor_modulus) & np.isclose(r.scan.rho, min(P.scan_rhos))]
    if len(floor_low):
        k = _grokked(floor_low)
        V.add(f"p = {P.floor_modulus} at ρ = {min(P.scan_rhos):.2f} does not grok (a 'norm floor')",
              count(0, 12, k, len(floor_low), atol=tol_count), paper="0/12 within 15k steps",
              ours=f"{k}/{len(floor_low)} within {int(floor_low.max_steps.max()):,} steps",
              scale=cells.scale_note(floor_low), section="sec-ch2-moduli")
    c = r.collapse
    V.add("ρ against ‖W‖/√p: the held norm over √p collapses the moduli at least as well as ρ (ΔR²)",
          at_least(0.0, c.delta if c is not None else None, atol=TOL["collapse"], fmt=".4f"),
          paper=f"R² {PAPER['collapse_r2']['norm']} (‖W‖/√p) vs {PAPER['collapse_r2']['rho']} (ρ)",
          note=f"R² {c.r2_norm:.4f} (‖W‖/√p) vs {c.r2_rho:.4f} (ρ)" if c is not None else "",
          scale=scale_scan, section="sec-ch2-moduli", basis="released data")
    V.add(f"The held norm moves the delay (ρ {rho_lo:.2f} → {rho_hi:.2f}, lr {lr_lo:g})",
          here(compare(PAPER["norm_lever"], r.norm_lever, tol=TOL["norm_lever"], fmt=".1f", unit="×")),
          paper=f"{PAPER['norm_lever']:.2f}× (Tab 1: {TAB1[1.30][0]} / {TAB1[0.85][0]}; text ≈ 19×)",
          scale=scale_matrix, section="sec-ch2-lr", basis="released data")
    lo_text, hi_text = PAPER["lr_lever"]
    V.add(f"…the learning rate much less (lr {lr_lo:g} → {lr_hi:g}; geometric mean over ρ)",
          here(compare(PAPER["lr_lever"], r.lr_lever, tol=TOL["lr_lever"], fmt=".2f", unit="×")),
          paper=f"'about {PAPER['lr_lever_text']}×' (its rounding: {lo_text:g}–{hi_text:g}×); Tab 1 per ρ "
                + levels([TAB1_LR_LEVERS[rho] for rho in sorted(TAB1_LR_LEVERS)], ".2f") + "×",
          note="per ρ: " + levels([r.lr_levers[rho] for rho in sorted(r.lr_levers)], ".2f"),
          scale=scale_matrix, section="sec-ch2-lr", basis="text",
          data=_seeds_said(here(compare(PAPER["lr_lever_data"], r.lr_lever, tol=TOL["lr_lever"], fmt=".2f",
                                        unit="×")), scale_matrix),
          data_paper=f"Tab 1's geometric mean over ρ {PAPER['lr_lever_data']:.2f}×")
    per_lr_text = {f"lr {lr:g}": compare(PAPER["alpha_per_lr_text"], f.alpha, tol=TOL["alpha_per_lr"], fmt=".2f")
                   for lr, f in sorted(lr_alphas.items())}
    per_lr_data = {f"lr {lr:g}": compare(d, lr_alphas[lr].alpha, tol=TOL["alpha_per_lr"], fmt=".2f")
                   for lr, d in zip(TAB1_LRS, PAPER["alpha_per_lr_data"]) if lr in lr_alphas}
    V.add("Exponent at each learning rate (ρ ≤ 1.15), against the paper's text",
          here(combine(per_lr_text)), paper="'≈ 7.4' at every lr",
          ours=levels([lr_alphas[lr].alpha for lr in sorted(lr_alphas)], ".2f"),
          scale=scale_matrix, section="sec-ch2-lr", basis="text", data=_seeds_said(here(combine(per_lr_data)),
                                                                                   scale_matrix),
          data_paper="per-lr refits of Tab 1 (" + levels(PAPER["alpha_per_lr_data"], ".2f") + ")")
    top = r.dense[np.isclose(r.dense.rho, r.dense.rho.max())] if len(r.dense) else r.dense
    if len(top):
        k = _grokked(top)
        V.add(f"Above W_c delays rather than prevents (ρ = {top.rho.iloc[0]:.2f})",
              count(12, 12, k, len(top), atol=tol_count), paper="12/12 grok with a 160k budget",
              ours=f"{k}/{len(top)} grok within {int(top.max_steps.max()):,} steps", scale=cells.scale_note(top),
              section="sec-ch2-exponential")
    V.add("A one-shot rescale barely matters; a sustained hold does",
          here(combine({"one-shot": compare(PAPER["once"], r.once_ratio, tol=TOL["once"], fmt=".2f", unit="×"),
                        "held": compare(PAPER["sustained"], r.sustained, tol=TOL["sustained"], fmt=".1f",
                                        unit="×")})),
          paper="one-shot 1.23× against held 7.28×",
          ours=f"one-shot {fmt_ci(r.once_ratio, '.2f')}× against held {fmt_ci(r.sustained, '.1f')}×",
          scale=cells.scale_note(r.once, "rho"), section="sec-ch2-controls")
    V.add("Held at ρ = 1 against free training (T_hold / T_free)",
          here(compare(PAPER["hold_vs_free"], r.hold_vs_free, tol=TOL["hold_vs_free"], fmt=".2f")),
          paper="'essentially the free-training timescale (no delay)': 1", scale=cells.scale_note(r.free_main),
          section="sec-ch2-controls", basis="text",
          data=_seeds_said(here(compare(PAPER["hold_vs_free_data"], r.hold_vs_free, tol=TOL["hold_vs_free"],
                                        fmt=".2f")), cells.scale_note(r.free_main)),
          data_paper=f"{TAB1[1.00][0]} / {TAB1_FREE} = {PAPER['hold_vs_free_data']:.2f}")
    return V


def scale_all(r: Results) -> str:
    """The scale of every run of the chapter (free controls and clamped runs), for the closing line."""
    return cells.scale_note(pd.concat([r.free, *r.runs.values()], ignore_index=True))


# ---------------------------------------------------------------------------- why we differ
#: The chapter's part of ``docs/why-we-differ.md`` (registered at :data:`grokkit.book.diagnoses.REGISTERED`,
#: before any deciding run was trained or read), restated: each row's candidate explanations, the
#: deciding experiment and its rule. :func:`diagnose` computes the outcomes.
EXPERIMENT_2A = "2A: the chapter at its paper preset (16 seeds, log:360, budgets to 200k)"
_SCALE = ("scale: 8 seeds, budgets capped at 120k, evaluation every 25 steps (the paper: 16 seeds, its log "
          "grid, budgets to 160k)")
_TEXT_DATA = "text against its released data"
DIAGNOSES = (
    Diagnosis("The law bends", (_SCALE, "a genuine difference"), EXPERIMENT_2A,
              "R1 (scale) with the chapter's 10 % tolerance on the bend"),
    Diagnosis("A one-shot rescale", (
        _SCALE,
        "the paper's 7.28 comes from a different run set (E5, 20k budget) than its dense sweep, whose own "
        "ratio 0.90 → 1.15 is 13030 / 1781 = 7.32",
        "a genuine difference"), EXPERIMENT_2A, "R1 (scale) with the chapter's 20 % tolerance on the held ratio"),
    Diagnosis("…the learning rate much less", (
        f"{_TEXT_DATA}: 'about 2×' against the table's per-ρ ratios (geometric mean 2.19)",),
        "no new runs", "R0 with the released data as the matched value, both verdicts shown"),
    Diagnosis("Exponent at each learning rate", (
        f"{_TEXT_DATA}: '≈ 7.4 at every lr' against the per-lr refits 7.32 / 8.66 / 8.95 / 8.71",),
        "no new runs", "R0 with the released data as the matched value, both verdicts shown"),
)


def deciding(P: pm.Values) -> pm.Values:
    """The parameters of deciding experiment 2A: the paper preset (with ``P``'s train, store and
    results folder). At the smoke preset, a tiny stand-in that smoke tests train: the smoke values on
    the paper preset's evaluation grid (its seeds and budgets would multiply a smoke test's time)."""
    common = dict(train=P.train, store=P.store, results_dir=P.results_dir)
    if P.preset != "smoke":
        return PARAMETERS.resolve("paper", **common)
    return PARAMETERS.resolve("smoke", **common, eval_schedule=PRESETS["paper"]["eval_schedule"])


def describe(P: pm.Values) -> str:
    """A preset's scale in words: "the paper preset (16 seeds, log:360, budgets to 200,000 steps)"."""
    return (f"the {P.preset} preset ({P.seeds} seeds, evaluation {P.eval_schedule}, budgets to "
            f"{P.budget_cap:,} steps)")


def deciding_note(P2: pm.Values, *designs: Design) -> str:
    """What the page says under the deciding experiment's run (``designs``, after they ran): how many of
    its runs are in the store, counted as :func:`progress` counts them."""
    have, want = progress(P2)
    if have == want:
        return f"Deciding experiment 2A, {describe(P2)}: all {want} of its runs are in the store."
    off = " (training was off)" if any(d.missing for d in designs) else ""
    return (f"**Deciding experiment 2A, {describe(P2)}: {have} of its {want} runs are in the store**{off}; "
            "each R1 row is judged from the runs behind it once those are stored, the rest waits for 2A.")


#: The experiments of 2A behind each R1 row (addendum of 2026-12-05 to ``docs/why-we-differ.md``):
#: once these and the free controls at the main modulus (their calibration) are in the store, the row
#: is judged at 2A's scale by the same rule, before the rest of 2A lands; nothing else enters it.
R1_CELLS: dict[str, tuple[str, ...]] = {"The law bends": ("dense",), "A one-shot rescale": ("dense", "once")}
_EXPERIMENT_NAMES = {"dense": "the dense ρ sweep", "once": "the one-shot rescales"}


def cells_stored(P2: pm.Values, experiments: tuple[str, ...]) -> tuple[int, int]:
    """``(have, want)`` for the runs of ``experiments`` of the design at ``P2`` with the free controls at
    ``P2.p`` they are calibrated on (while those are missing, the experiments' nominal count). Nothing trains."""
    store = RunStore(P2.store)
    c = controls(P2)
    free = [x for x in c.configs(["free"]) if x.p == P2.p]
    have_f = len(free) - len(store.missing(free))
    if have_f < len(free):
        return have_f, len(free) + len(design(P2, _nominal(P2)).configs(list(experiments)))
    configs = design(P2, calibrate(load(P2, c))).configs(list(experiments))
    return have_f + len(configs) - len(store.missing(configs)), len(free) + len(configs)


def _row(V: Verdicts | None, prefix: str) -> Verdict | None:
    return None if V is None else next((row for row in V.rows if row.claim.startswith(prefix)), None)


def _widths(judgement: Mapping[str, Any]) -> dict[str, float]:
    """The CI width of a row's judgement, or of each of its parts."""
    parts = judgement.get("parts") or [dict(judgement, name="")]
    return {j.get("name", ""): (j["ours"]["hi"] - j["ours"]["lo"]) if j.get("ours") else math.nan for j in parts}


def _r1(small: Verdict | None, large: Verdict | None, P_small: str, P_large: str) -> str:
    """Rule R1 (scale) on one row, measured at a smaller and a larger scale, in one sentence."""
    at = f"at {P_large} ({large.scale}) ours is {large.ours} and the row is {large.verdict} ({large.reason})"
    if small is None:
        return f"R1 cannot compare: {at}, and {P_small} has not all its runs in the store."
    if large.verdict == NO_DATA or small.verdict == NO_DATA:
        return f"R1 cannot decide: no data at {P_small if small.verdict == NO_DATA else P_large}."
    if large.verdict == CONSISTENT and small.verdict != CONSISTENT:
        return f"R1, scale: {at}, where at {P_small} it is {small.verdict}."
    wide_s, wide_l = _widths(small.judgement), _widths(large.judgement)
    no_wider = all(wide_l[n] <= wide_s.get(n, math.inf) for n in wide_l if math.isfinite(wide_l[n]))
    if large.verdict == "differs" and no_wider:
        return f"R1, not scale: {at}, with a CI no wider than at {P_small} ({small.verdict})."
    if large.verdict == CONSISTENT:
        return f"R1 has nothing to decide: {at}, as at {P_small}."
    return (f"R1 does not decide (neither consistent at the larger scale nor beyond the tolerance with a CI no "
            f"wider): {at}; at {P_small} it is {small.verdict}.")


def _r1_cells(P: pm.Values, P2: pm.Values, V: Verdicts, claim: str, have: int, want: int,
              partial: Callable[[], Verdicts]) -> str:
    """Rule R1 on one row while 2A is incomplete: judged at 2A's scale from the runs behind the row
    (:data:`R1_CELLS`) once those are all stored (``partial()``: 2A's verdicts from what the store
    holds), else pending."""
    exps = next((e for c, e in R1_CELLS.items() if claim.startswith(c)), None)
    if exps is None:
        return "R1 (scale) " + pending(have, want, f"runs of 2A at {describe(P2)}")
    have_c, want_c = cells_stored(P2, exps)
    names = and_list(_EXPERIMENT_NAMES[e] for e in exps) + f" at p = {P2.p}, with the free controls there"
    if have_c < want_c:
        return "R1 (scale) " + pending(have_c, want_c, f"runs behind this row in 2A ({names})")
    return (f"{_r1(_row(V, claim), _row(partial(), claim), describe(P), describe(P2))} (Read from 2A's runs behind "
            f"this row, {names}, all {want_c} in the store; {have} of 2A's {want} runs in all.)")


def _is(verdict: str) -> str:
    """"is consistent", "differs", "holds partly": a verdict as the predicate of a sentence."""
    return {"differs": "differs", "partly": "holds partly"}.get(verdict, f"is {verdict}")


#: The claims the rows judged against the text set beside the released data, as the paper writes them.
WRITTEN = {
    "…the learning rate much less": "'about {}×', read as its rounding {:g}–{:g}×".format(
        PAPER["lr_lever_text"], *PAPER["lr_lever"]),
    "Exponent at each learning rate": "'≈ 7.4' at every lr, read as its rounding {:g}–{:g}".format(
        *PAPER["alpha_per_lr_text"]),
    "Held at ρ = 1 against free": "'essentially the free-training timescale (no delay)', a ratio of {:g}".format(
        PAPER["hold_vs_free"]),
}


def _text_data(row: Verdict, written: str, point: Judgement | None = None) -> str:
    """Rule R0 (text against its released data) on a row judged as written with the data beside it."""
    if row.verdict == NO_DATA:
        return f"R0 cannot decide: no data ({row.reason})."
    agree = "ours agree with the data" if row.data_verdict in (CONSISTENT, "close") else (
        "too few seeds to tell against the data" if row.data_verdict == INCONCLUSIVE
        else "ours do not agree with the data either")
    was = f" (against the point it would be {point.verdict})" if point is not None else ""
    return (f"R0, text against its released data: as written ({written}) the row {_is(row.verdict)}{was}; "
            f"against the released {row.data_paper} it {_is(row.data_verdict)} ({row.data_reason}): {agree}.")


def _as_points(P: pm.Values, r: Results) -> dict[str, Judgement]:
    """The two learning-rate rows judged against the text's rounded value as a point (as they were before
    the verdict policy read a rounded value as the interval of its rounding), by the row's claim start."""
    if P.p != PAPER_P:
        return {}
    tol = TOL["lr_lever"]
    lever = compare(float(PAPER["lr_lever_text"]), r.lr_lever, tol=tol, fmt=".2f", unit="×")
    point = sum(PAPER["alpha_per_lr_text"]) / 2
    alphas = combine({f"lr {lr:g}": compare(point, f.alpha, tol=TOL["alpha_per_lr"], fmt=".2f")
                      for lr, f in sorted(r.lr_alphas.items())})
    return {"…the learning rate much less": lever, "Exponent at each learning rate": alphas}


# ---------------------------------------------------------------------------- experiment 2B
#: Deciding experiment 2B (``docs/why-we-differ.md``, addendum registered at commit :data:`REGISTERED_2B`,
#: after the two rows below moved at the paper preset and before any run of 2B): the scan cells at
#: :data:`P_2B` retrained with the fused CPU kernels off (``GROKKIT_KERNELS=0``), same configs and store
#: keys, into a store of their own beside the chapter's (:data:`STORE_2B`; the key does not name the
#: numerical path).
REGISTERED_2B, P_2B, STORE_2B = "dc52c2e", 41, "runs-2b-kernels-off"
EXPERIMENT_2B = (f"2B: the p = {P_2B} scan cells retrained with the fused CPU kernels off, in a store of their "
                 f"own (data/{STORE_2B})")
CANDIDATES_2B = (
    "numerical path: the fused CPU kernels (runs trained since 2026-11-30) round differently from torch's "
    "float32 operations, and the slow cell p = 41, ρ = 1.15 is rounding-sensitive",
    "seeds (the paper preset's seeds 8–15)", "evaluation grid (log:360 against every 25 steps)",
    f"a genuine difference at p = {P_2B}")
RULE_2B = (f"numerical path if, kernels off, the p = {P_2B} exponent is consistent or close where kernels on it "
           "differs; seeds or grid if it still differs kernels off and the book preset's 8 seeds, read on the log "
           "grid, agree; genuine otherwise")
#: The rows 2B decides (by their claim's start).
ROWS_2B = ("One exponent shared across moduli", "Per-modulus exponents")


@dataclass
class KernelsOff:
    """Experiment 2B read beside the chapter's runs: ``have`` of the ``want`` scan runs at :data:`P_2B` in
    2B's store; when all are there, the cells (kernels on and off, by ρ) and both fits' exponents."""

    have: int
    want: int
    cells: pd.DataFrame | None = None
    alpha_on: Estimate | None = None
    alpha_off: Estimate | None = None
    shared_on: Estimate | None = None
    shared_off: Estimate | None = None

    @property
    def complete(self) -> bool:
        return self.want > 0 and self.have == self.want


def store_2b(P: pm.Values) -> RunStore:
    """2B's store: :data:`STORE_2B` beside the chapter's store (``data/runs-2b-kernels-off``)."""
    return RunStore(RunStore(P.store).root.parent / STORE_2B)


def kernels_off(P: pm.Values, r: Results) -> KernelsOff:
    """Experiment 2B against the chapter's runs ``r`` at ``P``: the scan runs at :data:`P_2B` read again
    from 2B's store (:func:`store_2b`, same keys) in place of the chapter's, refitted by the chapter's
    fits (the shared exponent with the other moduli as stored, the exponent at :data:`P_2B` as its group).
    Incomplete (``have < want``) when 2B's store lacks some of them, or P's scan has none at P_2B."""
    on = r.scan[r.scan.p == P_2B]
    store = store_2b(P)
    keys = list(on.key)
    have = sum(k in store for k in keys)
    out = KernelsOff(have, len(keys))
    if not out.complete:
        return out
    off = on[["key", "p", "rho"]].merge(store.table(keys).drop(columns=["p"]), on="key")
    scan_off = pd.concat([r.scan[r.scan.p != P_2B], off], ignore_index=True)
    shared_off = cells.shared_slope_fit(scan_off[scan_off.p.isin(P.scan_moduli)], "rho", "p")
    group = lambda fit: dict(fit.per_group).get(P_2B) if fit is not None else None  # noqa: E731
    alpha = lambda fit: fit.alpha if fit is not None else None  # noqa: E731
    both = pd.concat([cells.cell_table(on, "rho").assign(path="kernels on"),
                      cells.cell_table(off, "rho").assign(path="kernels off")], ignore_index=True)
    return replace(out, cells=both, alpha_on=alpha(group(r.shared)), alpha_off=alpha(group(shared_off)),
                   shared_on=alpha(r.shared), shared_off=alpha(shared_off))


def _paper_2b() -> str:
    """Paper 1's exponent at :data:`P_2B` with its bootstrap CI, as the page writes it."""
    lo, hi = PAPER["alpha_per_p_ci"][P_2B]
    return f"{PAPER['alpha_per_p'][P_2B]:.2f} [{lo:.2f}, {hi:.2f}]"


def kernels_off_table(k: KernelsOff) -> pd.DataFrame:
    """2B's cells for the page: per ρ, the paper's median and ours (median [95 % CI], grokked / runs) with
    the fused kernels on (the chapter's runs) and off (2B's); a last row with the exponent at :data:`P_2B`."""
    if k.cells is None:
        return pd.DataFrame()
    fmt = lambda c: (f"{fmt_num(c.t_median, ',.0f')} [{fmt_num(c.t_lo, ',.0f')}, {fmt_num(c.t_hi, ',.0f')}]"  # noqa: E731
                     f" ({int(c.n_grokked)}/{int(c.n)})")
    rows = {}
    for c in k.cells.itertuples():
        row = rows.setdefault(c.rho, {"ρ": f"{c.rho:.2f}", "paper 1": fmt_num(PAPER["scan"][P_2B].get(
            round(c.rho, 2), np.nan), ",.0f")})
        row[f"ours, {c.path}"] = fmt(c)
    rows["alpha"] = {"ρ": "exponent α", "paper 1": _paper_2b(),
                     "ours, kernels on": fmt_ci(k.alpha_on, ".2f"), "ours, kernels off": fmt_ci(k.alpha_off, ".2f")}
    return pd.DataFrame(list(rows.values()))


def kernels_off_glue(k: KernelsOff) -> dict[str, str]:
    """The numbers the page's opening gives 2B: the shared and p = 41 exponents with the kernels off, the
    p = 41 exponent with them on ("not read" while 2B is incomplete at the chapter's parameters)."""
    ci = (lambda e: fmt_ci(e, ".2f")) if k.complete else (lambda e: "not read (2B incomplete)")  # noqa: E731
    return {"alpha_shared_off": ci(k.shared_off), "alpha_41_off": ci(k.alpha_off), "alpha_41_on": ci(k.alpha_on)}


def kernels_off_note(k: KernelsOff) -> str:
    """What the page says in place of 2B's table while 2B is not complete for the chapter's parameters."""
    if k.want == 0:
        return f"Experiment 2B: this run of the chapter has no scan cells at p = {P_2B}."
    return (f"Experiment 2B: its store holds {k.have} of the {k.want} runs it retrains at these parameters "
            "(2B retrains the paper preset's cells), so it is not read here.")


def _judged_2b(k: KernelsOff) -> dict[str, Judgement]:
    """2B's four judgements by the chapter's tolerances: the exponent at :data:`P_2B` and the shared one,
    kernels on and off."""
    at = lambda a: compare(PAPER["alpha_per_p_ci"][P_2B], a, tol=TOL["alpha_per_p"], fmt=".2f")  # noqa: E731
    shared = lambda a: compare(PAPER["alpha_shared_ci"], a, tol=TOL["alpha_shared"], fmt=".2f")  # noqa: E731
    return {"on": at(k.alpha_on), "off": at(k.alpha_off), "shared on": shared(k.shared_on),
            "shared off": shared(k.shared_off)}


def outcome_2b(k: KernelsOff, claim: str) -> str:
    """The outcome of 2B's rule (:data:`RULE_2B`, read by :func:`kernels_off`) for one of :data:`ROWS_2B`, in
    one sentence."""
    later = f"registered at commit {REGISTERED_2B}, after the row moved"
    if not k.complete:
        return (f"2B ({later}) is not complete: its store holds {k.have} of the {k.want} runs it retrains, so no "
                "explanation is claimed.")
    j = _judged_2b(k)
    if j["off"].verdict in (CONSISTENT, CLOSE) and j["on"].verdict == DIFFERS:
        word = "numerical path"
    elif j["off"].verdict == DIFFERS:
        word = ("undecided between seeds or grid and genuine (the exponent still differs with the kernels off, "
                "and the rule's second reading, the book preset's 8 seeds on the log grid, is not computed here)")
    else:
        word = "genuine (neither branch of the rule applies)"
    said = (f"with the fused CPU kernels off the p = {P_2B} exponent is {fmt_ci(k.alpha_off, '.2f')}, "
            f"{j['off'].verdict}, against {fmt_ci(k.alpha_on, '.2f')} with them on, {j['on'].verdict} (paper "
            f"{_paper_2b()})")
    if claim.startswith(ROWS_2B[0]):
        said += (f"; the shared exponent is {fmt_ci(k.shared_off, '.2f')} kernels off, {j['shared off'].verdict}, "
                 f"against {fmt_ci(k.shared_on, '.2f')} on, {j['shared on'].verdict}")
    return (f"{word}: 2B ({later}; {k.have} runs) by its rule: {said}. The row's verdict stays the one "
            "computed from the chapter's runs, trained with the kernels on.")


def _generic(row: Verdict) -> Diagnosis:
    """A row that the registration did not list and that now calls for a diagnosis: one the verdict
    policy moved (R2: too few seeds; R0: the text as written against its released data)."""
    before = before_policy(row.judgement)
    if row.verdict == INCONCLUSIVE:
        need = f"about {row.seeds_to_decide} seeds per cell" if row.seeds_to_decide else "more seeds"
        return Diagnosis(row.claim, ("too few seeds for the stated tolerance",), f"more seeds per cell ({need})",
                         "R2 (inconclusive)",
                         f"too few seeds: R2, our CI reaches the paper's value and leaves the tolerance band, so "
                         f"{need} would decide it; it moved from {before} by policy rule 5 (too wide to decide "
                         f"is inconclusive, never consistent).")
    written = next((w for c, w in WRITTEN.items() if row.claim.startswith(c)), row.paper)
    if row.data_verdict:
        return Diagnosis(row.claim, (_TEXT_DATA,), "no new runs", "R0 (text against its released data)",
                         _text_data(row, written) + " Before the verdict policy the row judged the data (then "
                         f"{before_policy({'verdict': row.data_verdict})}); policy rule 3 judges the claim as "
                         "written, the data beside it.")
    return Diagnosis(row.claim, ("none registered",), "none", "none",
                     f"not registered: the registration ({REGISTERED}) lists the rows that did not agree at the "
                     f"book preset, and this one did; here it {_is(row.verdict)} ({row.scale}).")



def diagnose(P: pm.Values, r: Results, V: Verdicts) -> list[Diagnosis]:
    """The diagnosis of every row of ``V`` (the verdicts at ``P`` of the results ``r``) that calls for one,
    each outcome computed from the data by its registered rule (the page then writes them into ``V`` with
    :func:`grokkit.book.diagnoses.apply`). The R1 rows compare ``P`` with deciding experiment 2A read from
    the store, training nothing (:func:`pending` until all its runs are there); the registered R0 rows
    judge the text against the released data; a row the policy moved and the registration did not list
    gets the common rule that applies (:func:`_generic`)."""
    P2 = deciding(P)
    if P.preset == "paper":
        P_small = PARAMETERS.resolve("book", train=False, store=P.store, results_dir=P.results_dir)
        small = verdicts(P_small, analyse(P_small, *from_store(P_small))) if complete(P_small) else None
        large, P_large = V, P
    else:
        P_small, small, P_large = P, V, P2
        large = verdicts(P2, analyse(P2, *from_store(P2))) if complete(P2) else None
    have, want = (0, 0) if large is not None else progress(P2)
    partial = functools.cache(lambda: verdicts(P2, analyse(P2, *from_store(P2))))  # read once, if a row needs it
    out = []
    for d in DIAGNOSES:
        row = _row(V, d.claim)
        if row is None:
            continue
        if d.rule.startswith("R1") and large is None:
            outcome = _r1_cells(P, P2, V, d.claim, have, want, partial)
        elif d.rule.startswith("R1"):
            outcome = _r1(_row(small, d.claim), _row(large, d.claim), describe(P_small), describe(P_large))
        else:
            outcome = _text_data(row, WRITTEN[d.claim], _as_points(P, r).get(d.claim)) if row.data_verdict else (
                f"R0: no data ({row.reason}).")
        out.append(d.decided(outcome))
    covered = tuple(d.claim for d in DIAGNOSES)
    k2b = functools.cache(lambda: kernels_off(P, r))  # 2B's store read once, if a row needs it
    for row in V.rows:
        if row.verdict not in NEEDS_DIAGNOSIS or row.claim.startswith(covered):
            continue
        out.append(Diagnosis(row.claim, CANDIDATES_2B, EXPERIMENT_2B, RULE_2B).decided(outcome_2b(k2b(), row.claim))
                   if row.claim.startswith(ROWS_2B) else _generic(row))
    return out

