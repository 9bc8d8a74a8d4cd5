"""Chapter 1, the critical norm W_c (paper 1, §4): free AdamW runs grok when their weight norm
has come down to one value, concentrated across seeds, training fractions and learning rates,
set by the weight decay and growing as a power law in p.

The chapter's parameters and presets, the paper's figures and the tolerances (fixed before any
result was read), its design of free runs, the analysis of their table and its verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...analysis import cells, stats
from ...analysis.stats import Estimate
from ...engine.protocols import paper1
from ...runs.design import Design
from .. import parameters as pm
from ..text import fmt_ci, fmt_num, levels, scaled
from ..verdicts import at_most, at_paper_condition, combine, compare, Verdicts

CHAPTER, TITLE = "01_critical_norm", "1. The critical norm"

PARAMETERS = pm.Parameters(
    seeds=pm.count("seeds per cell"),
    p=pm.prime("modulus of the main experiments"),
    main_fraction=pm.fraction("training fraction of the main cell"),
    fractions=pm.fraction("training fractions (concentration across data)", many=True),
    weight_decays=pm.positive("weight decays lambda at learning rate `lr`", many=True),
    lr=pm.positive("base learning rate"),
    lrs=pm.positive("learning rates of the lr scan", many=True),
    lr_scan_weight_decay=pm.positive("lambda of the lr scan (the paper uses 3)"),
    lr_scan_fraction=pm.fraction("training fraction of the lr and lambda scans"),
    moduli=pm.prime("moduli of the scaling law", many=True),
    budget=pm.steps("step budget of every run (runs stop when they grok)"),
    post_grok_steps=pm.steps("threshold runs continue this long after T_grok, to reach higher thresholds"),
    eval_schedule=pm.schedule('"every:K" or "log:K"'),
    d_embed=pm.count("embedding width"),
    d_hidden=pm.count("hidden width"),
)
BOOK = dict(seeds=8, p=59, main_fraction=0.4, fractions=[0.30, 0.35, 0.40, 0.50, 0.65], weight_decays=[0.3, 1.0, 3.0],
            lr=1e-3, lrs=[3e-4, 1e-3, 3e-3], lr_scan_weight_decay=3.0, lr_scan_fraction=0.5,
            moduli=[29, 41, 59, 79, 97], budget=40_000, post_grok_steps=2000, eval_schedule="every:25",
            d_embed=128, d_hidden=256)
PRESETS = PARAMETERS.presets(
    smoke=dict(BOOK, seeds=2, p=41, fractions=[0.4, 0.5], weight_decays=[1.0, 3.0], lr=1e-2, lrs=[5e-3, 1e-2],
               moduli=[31, 41], budget=2500, post_grok_steps=300, d_embed=32, d_hidden=64),
    book=BOOK,
    paper=dict(BOOK, seeds=20, budget=60_000, post_grok_steps=3000, eval_schedule="log:360"),
)

#: The paper's figures (paper 1, §4; W_c per modulus pooled over training fractions).
PAPER = dict(wc=54.6, t_grok=5131, cv_seeds=(0.4, 4.0), cv_fracs=2.0, cv_lrs=2.0, threshold_dev=2.0,
             wd={0.3: 63.0, 1.0: 55.0, 3.0: 49.0}, lr_wc={3e-4: 48.9, 1e-3: 48.7, 3e-3: 49.1},
             wc_per_p={29: 42.1, 41: 47.6, 59: 54.6, 79: 61.2, 97: 67.1}, power=0.38, power_scan=0.44)
#: Tolerances, fixed before any result was read.
TOL = dict(wc=0.03, wc_per_level=0.04, spread=0.5, power=0.10)
#: Test-accuracy thresholds of the threshold comparison (the middle one is the chapter's).
THRESHOLDS = ("0.8", "0.9", "0.95")
#: The experiments and the labels their analysis reads.
LABELS = {"fractions": ["train_frac"], "weight decay": ["weight_decay"], "learning rate": ["lr"], "moduli": ["p"],
          "thresholds": ["p"]}


def tolerances() -> pd.DataFrame:
    """The tolerance of each kind of verdict row, in words."""
    return pd.DataFrame([
        ("W_c in the main cell", f"{TOL['wc']:.0%} of the paper's value"),
        ("W_c per weight decay and per modulus", f"{TOL['wc_per_level']:.0%}"),
        ("spreads claimed to be at most a bound (CVs, threshold deviation)", f"{TOL['spread']:.0%} above the bound"),
        ("power-law exponent", f"{TOL['power']:.0%}"),
    ], columns=["quantity", "tolerance"])


# ---------------------------------------------------------------------------- design
def design(P: pm.Values) -> Design:
    """Five families of free runs: training fractions at p, a weight-decay scan, a learning-rate
    scan (at the paper's λ = 3), one cell per modulus, and the threshold runs (the main cell and
    the largest modulus again, trained ``post_grok_steps`` past T_grok)."""

    def free(p=P.p, frac=P.main_fraction, lr=P.lr, wd=1.0, seed=0):
        return paper1(p=p, train_frac=frac, lr=lr, weight_decay=wd, seed=seed, max_steps=P.budget,
                      eval_schedule=P.eval_schedule, d_embed=P.d_embed, d_hidden=P.d_hidden)

    d = Design()
    for s in range(P.seeds):
        for f in sorted(set(P.fractions) | {P.main_fraction}):
            d.add("fractions", free(frac=f, seed=s), train_frac=f)
        for wd in P.weight_decays:
            d.add("weight decay", free(frac=P.lr_scan_fraction, wd=wd, seed=s), weight_decay=wd)
        for lr in P.lrs:
            d.add("learning rate", free(frac=P.lr_scan_fraction, wd=P.lr_scan_weight_decay, lr=lr, seed=s), lr=lr)
        for q in P.moduli:
            d.add("moduli", free(p=q, seed=s), p=q)
        for q in sorted({P.p, max(P.moduli)}):
            d.add("thresholds", free(p=q, seed=s).replace(extra_steps=P.post_grok_steps), p=q)
    return d


# ---------------------------------------------------------------------------- analysis
@dataclass
class Results:
    """Everything the page shows and the verdicts judge, computed from the design's runs."""

    runs: dict[str, pd.DataFrame]
    main: pd.DataFrame
    wc: Estimate
    t_main: Any
    peak: Estimate
    frac_cells: pd.DataFrame
    lr_cells: pd.DataFrame
    wd_cells: pd.DataFrame
    mod_cells: pd.DataFrame
    cv_seeds: Estimate | None
    cv_fracs: Estimate | None
    cv_lrs: Estimate | None
    t_ratio_frac: float
    t_ratio_lr: float
    thresholds: pd.DataFrame
    threshold_dev: dict[int, Estimate]
    wd_est: dict[float, Estimate]
    mod_est: dict[int, Estimate]
    power: Any
    power_upper: Any


def analyse(P: pm.Values, d: Design) -> Results:
    """The chapter's numbers from the runs of :func:`design` (after ``d.run(...)``)."""
    runs = {name: d.table(name, cols) for name, cols in LABELS.items()}
    main = runs["fractions"][np.isclose(runs["fractions"]["train_frac"].astype(float), P.main_fraction)]
    grokked_main = main.loc[main.status == "grokked", "norm_grok"]
    frac_cells = cells.cell_table(runs["fractions"], "train_frac")
    lr_cells = cells.cell_table(runs["learning rate"], "lr")
    wd_cells = cells.cell_table(runs["weight decay"], "weight_decay")
    mod_cells = cells.cell_table(runs["moduli"], "p")
    thr_table, thr_dev = threshold_table(runs["thresholds"], sorted({P.p, max(P.moduli)}))
    mod = runs["moduli"][runs["moduli"].status == "grokked"]
    return Results(
        runs=runs, main=main,
        wc=cells.median_ci(grokked_main),
        t_main=stats.censored_median(*cells.grok_times(main)) if len(main) else None,
        peak=cells.median_ci(main["norm_peak"]),
        frac_cells=frac_cells, lr_cells=lr_cells, wd_cells=wd_cells, mod_cells=mod_cells,
        cv_seeds=stats.coefficient_of_variation(grokked_main.to_numpy()) if len(grokked_main) > 1 else None,
        cv_fracs=cells.spread_of_medians(runs["fractions"], "train_frac"),
        cv_lrs=cells.spread_of_medians(runs["learning rate"], "lr"),
        t_ratio_frac=_fold(frac_cells), t_ratio_lr=_fold(lr_cells),
        thresholds=thr_table, threshold_dev=thr_dev,
        wd_est={r.weight_decay: Estimate(r.norm_median, r.norm_lo, r.norm_hi) for r in wd_cells.itertuples()},
        mod_est={r.p: Estimate(r.norm_median, r.norm_lo, r.norm_hi) for r in mod_cells.itertuples()},
        power=cells.power_fit(mod, "p", "norm_grok"),
        power_upper=cells.power_fit(mod[mod["p"] > mod["p"].min()], "p", "norm_grok"),
    )


def threshold_table(runs: pd.DataFrame, moduli: list[int]) -> tuple[pd.DataFrame, dict[int, Estimate]]:
    """W_c read at each of :data:`THRESHOLDS` per modulus (runs that crossed all of them), and the
    largest relative deviation of the medians from the middle threshold's, with a bootstrap CI."""
    rows, dev = [], {}
    cols = [f"norm_test_{t}" for t in THRESHOLDS]
    for q in moduli:
        tab = runs[runs["p"] == q].dropna(subset=cols)
        if len(tab) == 0:
            continue
        vals = tab[cols].to_numpy(float)
        dev[q] = stats.bootstrap_ci(vals, lambda v: np.max(np.abs(np.median(v, axis=0) / np.median(v[:, 1]) - 1)))
        rows.append({"p": q, **{f"W_c at test accuracy {t}": m for t, m in zip(THRESHOLDS, np.median(vals, axis=0))},
                     "largest deviation from 0.9": fmt_ci(dev[q], ".2f", " %", scale=100), "runs": len(tab)})
    return pd.DataFrame(rows), dev


def _fold(cell_table: pd.DataFrame) -> float:
    """How many times the median T_grok moves across a scan's cells."""
    return cell_table["t_median"].max() / cell_table["t_median"].min() if len(cell_table) else float("nan")


def texts(P: pm.Values, r: Results) -> dict[str, str]:
    """The numbers the prose glues, by name, as the page writes them."""
    small = r.mod_cells.iloc[0] if len(r.mod_cells) else None
    nan = float("nan")
    return {
        "wc_main": fmt_ci(r.wc, ".1f"),
        "t_main": fmt_num(r.t_main.median if r.t_main else nan, ",.0f"),
        "peak_main": fmt_num(r.peak.value, ".1f"),
        "t_peak_main": fmt_num(float(np.median(r.main["t_norm_peak"])) if len(r.main) else nan, ",.0f"),
        "n_main": f"{int((r.main.status == 'grokked').sum())}/{len(r.main)}",
        "p_main": str(P.p),
        "frac_main": fmt_num(P.main_fraction, ".2f"),
        "cv_seeds": fmt_ci(r.cv_seeds, ".2f", " %", scale=100),
        "cv_fracs": fmt_ci(r.cv_fracs, ".2f", " %", scale=100),
        "cv_lrs": fmt_ci(r.cv_lrs, ".2f", " %", scale=100),
        "t_ratio_frac": fmt_num(r.t_ratio_frac, ".1f"),
        "t_ratio_lr": fmt_num(r.t_ratio_lr, ".1f"),
        "thr_dev_main": fmt_ci(r.threshold_dev.get(P.p), ".2f", " %", scale=100),
        "wd_list": levels([r.wd_est[w].value for w in sorted(r.wd_est)], ".1f"),
        "wd_values": levels(sorted(r.wd_est), "g"),
        "power_exp": fmt_ci(r.power.exponent if r.power else None, ".2f"),
        "power_r2": fmt_num(r.power.r2 if r.power else nan, ".3f"),
        "power_upper": fmt_ci(r.power_upper.exponent if r.power_upper else None, ".2f"),
        "power_upper_r2": fmt_num(r.power_upper.r2 if r.power_upper else nan, ".3f"),
        "p_min": str(min(P.moduli)),
        "small_p_grokked": f"{small.n_grokked}/{small.n}" if small is not None else "n/a",
        "small_p_t": fmt_num(small.t_median if small is not None else nan, ",.0f"),
    }


# ---------------------------------------------------------------------------- verdicts
def verdicts(P: pm.Values, r: Results) -> Verdicts:
    """One row per claim of paper 1, §4, judged under :data:`TOL`."""
    V = Verdicts(CHAPTER, TITLE, P.preset)
    runs = r.runs
    scale_main = cells.scale_note(r.main)
    pct = lambda e: scaled(e, 100)  # noqa: E731
    here = lambda j: at_paper_condition(j, P.p, 59)  # noqa: E731
    V.add(f"W_c at p = 59, train fraction {P.main_fraction:.2f} (free AdamW, λ = 1)",
          here(compare(PAPER["wc"], r.wc, tol=TOL["wc"], fmt=".1f")), paper="54.6 (54.8 at fraction 0.40)",
          scale=scale_main, section="sec-ch1-wc")
    V.add("W_c concentrated across seeds (CV within a cell)",
          compare(PAPER["cv_seeds"], pct(r.cv_seeds), tol=TOL["spread"], fmt=".2f", unit=" %"),
          paper="0.4–4 % per cell", scale=scale_main, section="sec-ch1-concentration")
    V.add(f"W_c flat across training fractions {min(P.fractions):.2f}–{max(P.fractions):.2f} (CV of the medians)",
          at_most(PAPER["cv_fracs"], pct(r.cv_fracs), tol=TOL["spread"], fmt=".2f", unit=" %"),
          paper="1–2 % (1.0 % at p = 59)", note=f"T_grok moves {r.t_ratio_frac:.1f}×",
          scale=cells.scale_note(runs["fractions"], "train_frac"), section="sec-ch1-concentration")
    V.add(f"W_c flat across a {max(P.lrs) / min(P.lrs):.0f}× learning-rate range at λ = {P.lr_scan_weight_decay:g}",
          at_most(PAPER["cv_lrs"], pct(r.cv_lrs), tol=TOL["spread"], fmt=".2f", unit=" %"),
          paper="48.9 / 48.7 / 49.1 (CV < 1 %) while T_grok moves 7×", note=f"T_grok moves {r.t_ratio_lr:.1f}×",
          scale=cells.scale_note(runs["learning rate"], "lr"), section="sec-ch1-concentration")
    V.add("W_c robust to the threshold (largest deviation of 0.8 / 0.95 from 0.9)",
          at_most(PAPER["threshold_dev"], pct(r.threshold_dev.get(P.p)), tol=TOL["spread"], fmt=".2f", unit=" %"),
          paper="55.0 / 54.6 / 54.2: within 2 %", scale=scale_main, section="sec-ch1-threshold")
    wd_parts = {f"λ = {w:g}": compare(PAPER["wd"][w], r.wd_est[w], tol=TOL["wc_per_level"], fmt=".1f")
                for w in sorted(r.wd_est) if w in PAPER["wd"]}
    V.add("W_c set by weight decay (λ = 0.3 / 1 / 3)", combine(wd_parts), paper="≈ 63 / 55 / 49",
          ours=levels([r.wd_est[w] for w in sorted(r.wd_est)], ".1f"),
          scale=cells.scale_note(runs["weight decay"], "weight_decay"), section="sec-ch1-weight-decay")
    mod = runs["moduli"][runs["moduli"].status == "grokked"]
    V.add(f"W_c grows as a power law in p ({min(P.moduli)}–{max(P.moduli)}): exponent",
          compare(PAPER["power"], r.power.exponent if r.power else None, tol=TOL["power"], fmt=".2f"),
          paper="0.38 (0.44 in its p-scan over 31–71)",
          note=(f"R² {r.power.r2:.3f}; without p = {mod['p'].min()}: {r.power_upper.exponent.value:.2f}"
                if r.power and r.power_upper else ""),
          scale=cells.scale_note(runs["moduli"], "p"), section="sec-ch1-power-law")
    mod_parts = {f"p = {q}": compare(PAPER["wc_per_p"][q], r.mod_est[q], tol=TOL["wc_per_level"], fmt=".1f")
                 for q in sorted(r.mod_est) if q in PAPER["wc_per_p"]}
    V.add("W_c per modulus", combine(mod_parts),
          paper=levels([PAPER["wc_per_p"][q] for q in sorted(PAPER["wc_per_p"])], "g") + " (p = 29…97)",
          ours=levels([r.mod_est[q] for q in sorted(r.mod_est)], ".1f") + f" (fraction {P.main_fraction:.2f})",
          scale=cells.scale_note(runs["moduli"], "p"), section="sec-ch1-power-law")
    return V


def scale_all(r: Results) -> str:
    """The scale of every run of the chapter, for the page's closing line."""
    return cells.scale_note(pd.concat(list(r.runs.values()), ignore_index=True).drop_duplicates("key"))
