"""Chapter 3, the logarithmic free-contraction law (paper 3): after memorization weight decay
contracts the squared norm V geometrically, and the network groks once V has come down from
V_mem to V_post, so that ``T_grok - T_mem = Θ((ηλ)^-1 ln(V_mem / V_post))``.

The chapter's parameters and presets, the paper's figures and the tolerances (fixed before any
result was read), its design (the main cell, sweeps over λ, η and the modulus, and the side tasks
multiplication and sparse parity) and the deciding experiments 3A (the λ sweep at 10 seeds and the
paper's budget) and 3B (multiplication as now and on the nonzero residues), the analysis of their
runs and norm traces, the delay predictor (with the paper's window and with ours), the tables and
numbers the page shows, its verdicts under the book's verdict policy (:mod:`grokkit.book.verdicts`)
and the diagnoses of the rows that do not simply agree, as registered in ``docs/why-we-differ.md``
(:mod:`grokkit.book.diagnoses`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import pandas as pd

from ...analysis import cells, contraction, stats
from ...analysis.contraction import DelayPredictor, PredictionErrors
from ...analysis.stats import Estimate
from ...engine.config import RunConfig, parse_schedule
from ...engine.protocols import paper3
from ...runs.design import Design
from ...runs.store import RunStore
from .. import parameters as pm
from ..diagnoses import apply, Diagnosis, fill, pending, REGISTERED
from ..text import and_list, fmt_ci, fmt_num, levels, scaled
from ..verdicts import (at_least, at_most, at_paper_condition, before_policy, CLOSE, combine, compare,
    CONSISTENT, count, DIFFERS, INCONCLUSIVE, Judgement, NO_DATA, no_data, paper_rounded, paper_sd, Verdicts)

CHAPTER, TITLE = "03_free_contraction_law", "3. The logarithmic free-contraction law"

PARAMETERS = pm.Parameters(
    p=pm.prime("modulus of every experiment but the modulus sweep"),
    seeds=pm.count("seeds of the main cell (lr 1e-3, lambda 1): the first `calibration_seeds` calibrate the predictor"),
    calibration_seeds=pm.count("seeds of the main cell that calibrate the predictor (the others evaluate it)"),
    lr=pm.positive("learning rate eta of the main cell and the lambda sweep"),
    weight_decay=pm.positive("lambda of the main cell and the eta sweep"),
    weight_decays=pm.positive("the lambda sweep ...", many=True),
    lambda_seeds=pm.count("... its seeds per lambda ...", many=True),
    lambda_budgets=pm.steps("... and its step budgets per lambda", many=True),
    lrs=pm.positive("the eta sweep ...", many=True),
    lr_seeds=pm.count("... its seeds per eta ...", many=True),
    lr_budgets=pm.steps("... and its step budgets per eta", many=True),
    moduli=pm.prime("the modulus sweep (norm ratio against delay) ...", many=True),
    moduli_seeds=pm.count("... and its seeds per modulus"),
    mul_moduli=pm.prime("modular multiplication (side claim): its moduli, among `moduli` ...", many=True),
    mul_seeds=pm.count("... and its seeds per modulus"),
    parity_bits=pm.count("sparse parity (side claim): input bits n, 3 relevant bits", many=True),
    parity_seeds=pm.count("... its seeds per n"),
    parity_train=pm.count("training examples (paper 3: 25,000)"),
    budget=pm.steps("step budget of the main cell, the moduli and multiplication"),
    post_grok_steps=pm.steps("runs continue this long after T_grok: V_post is measured there"),
    eval_schedule=pm.schedule('"every:K" (the page writes T_mem and T_grok on a K-step grid)', every_only=True),
    trace_every=pm.steps("the norm is also recorded every this many steps (the predictor's fitting window)"),
    fit_window=pm.steps("predictor: steps after T_mem whose norms it may use"),
    decide_lambdas=pm.positive("experiment 3A (registered): its lambdas ...", many=True),
    decide_lambda_seeds=pm.count("... its seeds per lambda ..."),
    decide_lambda_budget=pm.steps("... and its step budget (the main cell's lambda keeps `budget`)"),
    decide_mul_seeds=pm.count("experiment 3B (registered): seeds per modulus of `mul_moduli` and variant"),
    d_embed=pm.count("encoder width"),
    d_hidden=pm.count("encoder feed-forward width"),
    n_heads=pm.count("attention heads"),
    rules=[
        pm.ordered("calibration_seeds", "seeds"),  # leaves evaluation seeds
        pm.same_length("weight_decays", "lambda_seeds", "lambda_budgets"),
        pm.same_length("lrs", "lr_seeds", "lr_budgets"),
        pm.Rule("mul_moduli, moduli: each of mul_moduli must be among moduli (multiplication is compared with "
                "addition at the same moduli)",
                lambda v: set(v["mul_moduli"]) <= set(v["moduli"])),
        pm.Rule("parity_bits: each must be at least 3 (the 3 relevant bits are input bits)",
                lambda v: min(v["parity_bits"]) >= 3),
        pm.ordered("trace_every", "fit_window"),  # the predictor's window holds traced norms
        pm.divides("n_heads", "d_embed"),
        pm.Rule("decide_lambdas: each lambda at most once", lambda v: len(set(v["decide_lambdas"])) == len(
            v["decide_lambdas"])),
    ],
)
BOOK = dict(p=97, seeds=50, calibration_seeds=10, lr=1e-3, weight_decay=1.0,
            weight_decays=[0.001, 0.01, 0.1, 0.3, 0.5, 1.0, 2.0, 5.0], lambda_seeds=[4, 4, 6, 6, 6, 10, 4, 3],
            lambda_budgets=[15_000, 15_000, 40_000, 40_000, 40_000, 50_000, 50_000, 40_000],
            lrs=[2e-3, 1e-3, 5e-4, 2e-4], lr_seeds=[5, 5, 5, 4],  # eta = 1e-4 (T ~ 100k): paper preset
            lr_budgets=[50_000, 50_000, 100_000, 150_000],
            moduli=[53, 67, 89, 97, 101, 113, 127], moduli_seeds=7, mul_moduli=[53, 67, 89, 97], mul_seeds=4,
            parity_bits=[20, 30, 40], parity_seeds=5, parity_train=25_000,
            budget=50_000, post_grok_steps=2000, eval_schedule="every:200", trace_every=10, fit_window=300,
            decide_lambdas=[0.1, 0.3, 0.5, 1.0, 2.0], decide_lambda_seeds=10, decide_lambda_budget=80_000,
            decide_mul_seeds=5, d_embed=128, d_hidden=512, n_heads=4)
PRESETS = PARAMETERS.presets(
    smoke=dict(BOOK, p=31, seeds=6, calibration_seeds=2, lr=1e-2,
               weight_decays=[0.1, 0.3, 1.0], lambda_seeds=[2, 2, 2], lambda_budgets=[4000, 3000, 3000],
               lrs=[1e-2, 5e-3], lr_seeds=[2, 2], lr_budgets=[3000, 4000], moduli=[29, 31], moduli_seeds=2,
               mul_moduli=[31], mul_seeds=2, parity_bits=[8], parity_seeds=2, parity_train=1000,
               budget=3000, post_grok_steps=200, eval_schedule="every:50", fit_window=150,
               decide_lambdas=[0.1, 1.0], decide_lambda_seeds=2, decide_lambda_budget=4000, decide_mul_seeds=2,
               d_embed=32, d_hidden=64, n_heads=2),
    book=BOOK,
    paper=dict(BOOK, seeds=80, calibration_seeds=20, lambda_seeds=[10] * 8,
               lambda_budgets=[15_000, 15_000] + [80_000] * 6,
               lrs=[2e-3, 1e-3, 5e-4, 2e-4, 1e-4], lr_seeds=[5] * 5,
               lr_budgets=[50_000, 100_000, 200_000, 200_000, 200_000], mul_seeds=5),
)

#: Paper 3's per-modulus multiplication runs (its released S9 summary, 5 seeds each): T_grok and delay.
_MUL_T_GROK = {53: 4480, 67: 4440, 89: 4040, 97: 3920}
_MUL_DELAY = {53: 4280, 67: 4040, 89: 3440, 97: 3320}

#: Paper 3's figures (v2 tables; repo values where the paper's are not reproducible from its data), and
#: their uncertainty where the paper gives one (``*_sd``: standard deviations over ``*_seeds`` seeds).
PAPER = dict(
    p=97, gamma=0.00141, gamma_sd=0.00007, r2=0.9991, r2_sd=0.0003, t_mem=840, t_grok=1840, t_grok_sd=215,
    delay=1000, delay_sd=186, v_mem=3900, v_post=300, main_seeds=10, main_eval_every=200,
    t_esc=1251, esc_over_delay=1251 / 1000,
    lam_grokked={0.001: (0, 10), 0.01: (0, 10), 0.1: (10, 10), 0.3: (10, 10), 0.5: (10, 10), 1.0: (10, 10),
                 2.0: (3, 10), 5.0: (0, 10)},
    lam_t={0.1: 12700, 0.3: 4900, 0.5: 3150, 1.0: 2100, 2.0: 43667},
    lam_t_sd={0.1: 1229, 0.3: 539, 0.5: 320, 1.0: 374, 2.0: 11108}, lam_seeds=10, lam_eval_every=500,
    lam_budget=80_000,  # λ ≥ 0.1 (its λ = 2 grokkers average 43.7k ± 11.1k steps)
    lam_slope=1182, lam_slope_ci=(1082, 1271), lam_r2=0.971, lam_ratio=12700 / 2100,
    lam_log_ratio={0.1: "1.94", 0.3: "2.37", 0.5: "2.40", 1.0: "2.28"},  # as printed (rounded), Tab 3
    lam_t_tilde={0.1: 625, 0.3: 530, 0.5: 447, 1.0: 434}, lam_t_tilde_cv="0.18",
    eta_t={2e-3: 840, 1e-3: 1760, 5e-4: 5280, 2e-4: 35680, 1e-4: 100350},
    eta_t_sd={2e-3: 80, 1e-3: 150, 5e-4: 2010, 2e-4: 10189, 1e-4: 18500}, eta_seeds=5,
    eta_slope=10.62e3, eta_r2=0.921,
    mod_delay={53: 2086, 67: 1715, 89: 1328, 97: 950, 101: 942, 113: 671, 127: 585},
    mod_r=0.91, mod_r_repo=0.836, mod_slope=1.08, mod_slope_pm=0.15, mod_slope_repo=2.03,
    mul_grokked=(20, 20), mul_ratio=3.0, mul_ratio_text="3",
    mul_t_grok=_MUL_T_GROK, mul_t_mem={q: _MUL_T_GROK[q] - _MUL_DELAY[q] for q in _MUL_T_GROK},
    mul_v_mem={53: 10431, 67: 9337, 89: 8859, 97: 9622},
    parity_grokked=(15, 15), parity_post_over_mem=(1.64, 1.97),
    mae=34.6, mae_ci=(30.0, 39.4), over=(57, 60), within_2x=(60, 60), grok_check=(60, 60),
)
#: Tolerances, fixed before any result was read (relative unless marked absolute); ``log_ratio``
#: (relative), ``t_tilde_cv`` and ``grok_check`` (absolute) were fixed with the verdict policy
#: (issue 23), before their rows were first computed.
TOL = dict(gamma=0.10, r2=0.002, times=0.20, norms=0.20, esc_ratio=0.15, fraction=0.15, lam_slope=0.15,
           lam_ratio=0.20, eta_slope=0.25, r=0.10, mod_slope=0.25, mul_ratio=0.30, parity_ratio=0.30,
           parity_delay=100, mae=0.25, log_ratio=0.10, t_tilde_cv=0.10, grok_check=0.10)


def _matched_lambda_ratio() -> tuple[float, tuple[float, float]]:
    """T(λ = 0.1) / T(λ = 1) on the paper's 200-step grid: its λ = 0.1 mean over the mean T_grok of its
    main cell, 12700 / 1840 (its λ sweep, logged every 500 steps, puts λ = 1 at 2100), with the paper's
    uncertainty from the two seed SDs by the delta method (95 %)."""
    t01, t1 = PAPER["lam_t"][0.1], PAPER["t_grok"]
    ratio = t01 / t1
    rel = math.sqrt((PAPER["lam_t_sd"][0.1] / t01) ** 2 / PAPER["lam_seeds"]
                    + (PAPER["t_grok_sd"] / t1) ** 2 / PAPER["main_seeds"])
    half = ratio * rel * 1.96
    return ratio, (ratio - half, ratio + half)


#: The paper's figures as the intervals the verdict policy compares with (its rule 2): "± s over n
#: seeds" as the 95 % interval of a mean, a rounded value as the interval of its rounding, a CI or a
#: range as given.
INTERVALS = dict(
    gamma=paper_sd(PAPER["gamma"], PAPER["gamma_sd"], PAPER["main_seeds"]),
    r2=paper_sd(PAPER["r2"], PAPER["r2_sd"], PAPER["main_seeds"]),
    t_mem=paper_rounded("840"), t_grok=paper_sd(PAPER["t_grok"], PAPER["t_grok_sd"], PAPER["main_seeds"]),
    delay=paper_sd(PAPER["delay"], PAPER["delay_sd"], PAPER["main_seeds"]), v_mem=paper_rounded("3900"),
    v_post=paper_rounded("300"),
    lam_slope=PAPER["lam_slope_ci"], lam_ratio=_matched_lambda_ratio()[1],
    log_ratio={w: paper_rounded(t) for w, t in PAPER["lam_log_ratio"].items()},
    t_tilde_cv=paper_rounded(PAPER["lam_t_tilde_cv"]),
    mod_slope=(round(PAPER["mod_slope"] - PAPER["mod_slope_pm"], 6),
               round(PAPER["mod_slope"] + PAPER["mod_slope_pm"], 6)),  # "1.08 ± 0.15" as a range
    mul_ratio=paper_rounded(PAPER["mul_ratio_text"]), mae=PAPER["mae_ci"],
)
#: T(λ = 0.1) / T(λ = 1) matched to the 200-step grid (12700 / 1840, about 6.9).
MATCHED_LAMBDA_RATIO = _matched_lambda_ratio()[0]


def matched_eta_slope(lrs: list[float], *, n_boot: int = 2000,
                      seed: int = 0) -> tuple[float, tuple[float, float]] | None:
    """The paper's slope of T_grok on 1/η (η in units of 10⁻³, steps) over the η of ``lrs`` it also ran:
    over all five, its own fit (10.62 × 10³, a point); over fewer, the least-squares slope through its
    means there (about 8.09 × 10³ over 2e-3 … 2e-4), with an interval from a parametric bootstrap of
    those means (normal, SD / √5, ``n_boot`` draws, ``numpy.random.default_rng(seed)``). None with
    fewer than two of its η."""
    etas = [e for e in PAPER["eta_t"] if any(math.isclose(e, lr) for lr in lrs)]
    if len(etas) == len(PAPER["eta_t"]):
        return PAPER["eta_slope"], (PAPER["eta_slope"], PAPER["eta_slope"])
    if len(etas) < 2:
        return None
    x = 1e-3 / np.array(etas)
    y = np.array([PAPER["eta_t"][e] for e in etas], dtype=float)
    sd = np.array([PAPER["eta_t_sd"][e] for e in etas], dtype=float) / math.sqrt(PAPER["eta_seeds"])
    draws = np.random.default_rng(seed).normal(y, sd, size=(n_boot, len(etas)))
    slopes = np.polyfit(x, draws.T, 1)[0]
    lo, hi = np.quantile(slopes, [0.025, 0.975])
    return float(np.polyfit(x, y, 1)[0]), (float(lo), float(hi))


#: The paper's V_mem and V_post, as the main figure marks them.
PAPER_NORMS = {"V_mem": PAPER["v_mem"], "V_post": PAPER["v_post"]}
#: The λ window over which the paper fits T_grok against 1/λ.
LAMBDA_REGIME = (0.1, 1.0)
#: Sparse parity's protocol (paper 3's side experiment): a two-layer MLP, 3 relevant bits, 95 %.
PARITY = dict(task="parity", model="parity_mlp", parity_k=3, parity_test=5000, batch_size=256,
              grok_threshold=0.95, eval_schedule="every:20")
#: The deciding experiments registered in ``docs/why-we-differ.md`` (commit
#: :data:`grokkit.book.diagnoses.REGISTERED`): 3A, the λ sweep at 10 seeds and the paper's budget,
#: and 3B, multiplication as now and on the nonzero residues, by variant: its task.
DECIDE_LAMBDA, DECIDE_MUL = "lambda 10 seeds", "multiplication variants"
#: The λ sweep's count row (its λ = 2 part is judged again on 3A's runs at the paper's budget).
CLAIM_WHICH = "Which λ grok (fraction grokked per λ)"
MUL_VARIANTS = {"as now": "mul", "nonzero": "mul_nonzero"}
#: The experiments and the labels their analysis reads.
LABELS = {"main": ["seed_role"], "lambda": ["weight_decay"], "eta": ["lr"], "moduli": ["p"],
          "multiplication": ["p"], "parity": ["parity_n"], DECIDE_LAMBDA: ["weight_decay"],
          DECIDE_MUL: ["p", "variant"]}
#: Paper 3's window for the predictor's rate (registered as 3C): this many steps of the norm trace from
#: the first evaluated step with train accuracy at least :data:`PAPER_WINDOW_ACC` (its "50–100 steps
#: after T_mem, waiting for train accuracy > 99.5 %").
PAPER_WINDOW, PAPER_WINDOW_ACC = 100, 0.995
#: The delay predictors (paper 3's with the rate from its window, from ours or 2ηλ, and one with a
#: learned scale), by key: the keyword arguments of :meth:`DelayPredictor.calibrate` besides the window.
PREDICTORS = {"paper window": {}, "window": {}, "2ηλ": {"rate": "2ηλ"}, "corrected": {"learn_scale": True}}
#: Number formats of the per-cell median tables.
MEDIAN_FORMATS = {"T_mem": ",.0f", "T_grok": ",.0f", "delay": ",.0f", "paper delay": ",.0f",
                  "V_mem": ",.0f", "V_post": ",.0f"}
#: Number formats of the table that explains one prediction.
EXPLAIN_FORMATS = {**dict.fromkeys(["delay", "v_mem", "v_post", "t_mem", "known_until", "actual delay"], ",.0f"),
                   "gamma": ".5f", "scale": ".2f"}


def tolerances() -> pd.DataFrame:
    """The tolerance of each kind of verdict row, in words."""
    return pd.DataFrame([
        ("contraction rate γ_fit", f"{TOL['gamma']:.0%}"),
        ("fit quality R²", f"± {TOL['r2']} absolute"),
        ("T_mem, T_grok, delay; V_mem, V_post", f"{TOL['times']:.0%}; {TOL['norms']:.0%}"),
        ("escape time / delay", f"{TOL['esc_ratio']:.0%}"),
        ("1/λ slope, T(λ=0.1) / T(λ=1), 1/η slope",
         f"{TOL['lam_slope']:.0%}, {TOL['lam_ratio']:.0%}, {TOL['eta_slope']:.0%}"),
        ("Pearson r (delay against ln ratio); its slope", f"± {TOL['r']} absolute; {TOL['mod_slope']:.0%}"),
        ("multiplication / addition delay; parity V_post / V_mem",
         f"{TOL['mul_ratio']:.0%}; {TOL['parity_ratio']:.0%}"),
        ("parity delay (the paper's log interval is 200 steps)", f"{TOL['parity_delay']} steps"),
        ("predictor MAE", f"{TOL['mae']:.0%}"),
        ("fractions of runs (exact binomial CI)", f"± {TOL['fraction']:.2f} absolute"),
        ("ln(V_mem/V_post) per λ; CV of the norm-adjusted delay across λ",
         f"{TOL['log_ratio']:.0%}; ± {TOL['t_tilde_cv']:.2f} absolute"),
        ("grokking check V_mem > 2·V̂_post (fraction of grokking runs)", f"± {TOL['grok_check']:.2f} absolute"),
    ], columns=["quantity", "tolerance"])


# ---------------------------------------------------------------------------- design
def config(P: pm.Values, seed: int, *, p: int | None = None, lr: float | None = None, wd: float | None = None,
           budget: int | None = None, **kw: Any) -> RunConfig:
    """One run of paper 3's protocol at this chapter's scale: modulus ``p``, learning rate ``lr``,
    weight decay ``wd`` and step budget ``budget`` (default: the main cell's), continuing
    ``post_grok_steps`` after T_grok, evaluated on ``eval_schedule`` with its norm traced every
    ``trace_every`` steps."""
    return paper3(p=P.p if p is None else p, seed=seed, lr=P.lr if lr is None else lr,
                  weight_decay=P.weight_decay if wd is None else wd, max_steps=P.budget if budget is None else budget,
                  extra_steps=P.post_grok_steps, eval_schedule=P.eval_schedule, trace_every=P.trace_every,
                  d_embed=P.d_embed, d_hidden=P.d_hidden, n_heads=P.n_heads, **kw)


def design(P: pm.Values) -> Design:
    """Every run of the chapter with paper 3's protocol: the main cell (its first
    ``calibration_seeds`` calibrate the predictor, the others evaluate it), the λ sweep at ``lr``,
    the η sweep at ``weight_decay`` (each with its seeds and budgets per level; the level of the
    main cell keeps ``budget``, so its runs are the main cell's first seeds, trained once), the
    modulus sweep, multiplication and sparse parity."""
    d = Design()
    for s in range(P.seeds):
        d.add("main", config(P, s), seed_role="calibration" if s < P.calibration_seeds else "evaluation")
    for wd, n, b in zip(P.weight_decays, P.lambda_seeds, P.lambda_budgets):
        for s in range(n):
            d.add("lambda", config(P, s, wd=wd, budget=b if wd != P.weight_decay else P.budget), weight_decay=wd)
    for lr, n, b in zip(P.lrs, P.lr_seeds, P.lr_budgets):
        for s in range(n):
            d.add("eta", config(P, s, lr=lr, budget=b if lr != P.lr else P.budget), lr=lr)
    for q in P.moduli:
        for s in range(P.moduli_seeds):
            d.add("moduli", config(P, s, p=q), p=q)
    for q in P.mul_moduli:
        for s in range(P.mul_seeds):
            d.add("multiplication", config(P, s, p=q, task="mul"), p=q)
    for n_bits in P.parity_bits:
        for s in range(P.parity_seeds):
            cfg = paper3(**PARITY, parity_n=n_bits, parity_train=P.parity_train, seed=s, max_steps=P.budget,
                         extra_steps=P.post_grok_steps, trace_every=P.trace_every)
            d.add("parity", cfg, parity_n=n_bits)
    return d


def deciding_design(P: pm.Values) -> Design:
    """The deciding experiments registered in ``docs/why-we-differ.md``: :data:`DECIDE_LAMBDA` (3A),
    every λ of ``decide_lambdas`` with ``decide_lambda_seeds`` seeds and ``decide_lambda_budget`` steps
    (the main cell's λ keeps ``budget``: its runs are the main cell's; label ``weight_decay``), and
    :data:`DECIDE_MUL` (3B), multiplication at each of ``mul_moduli`` with ``decide_mul_seeds`` seeds,
    as now and on the nonzero residues (labels ``p`` and ``variant``, see :data:`MUL_VARIANTS`). The
    model, modulus, η, post-grok steps, grid and trace are the chapter's, so runs it shares with
    :func:`design` train once."""
    d = Design()
    for wd in P.decide_lambdas:
        for s in range(P.decide_lambda_seeds):
            budget = P.budget if wd == P.weight_decay else P.decide_lambda_budget
            d.add(DECIDE_LAMBDA, config(P, s, wd=wd, budget=budget), weight_decay=wd)
    for variant, task in MUL_VARIANTS.items():
        for q in P.mul_moduli:
            for s in range(P.decide_mul_seeds):
                d.add(DECIDE_MUL, config(P, s, p=q, task=task), p=q, variant=variant)
    return d


def complete(P: pm.Values) -> bool:
    """Whether every run the chapter asks for at ``P`` (its design and the deciding experiments) is
    in the store ``P.store`` (read only, nothing trains): what ``preset = "auto"`` asks of a preset."""
    return not RunStore(P.store).missing((design(P) | deciding_design(P)).configs())


# ---------------------------------------------------------------------------- analysis
@dataclass
class Results:
    """Everything the page shows and the verdicts judge, computed from the design's runs
    (``q*`` frames: paper 3's per-run quantities of :func:`grokkit.analysis.contraction.run_quantities`)."""

    runs: dict[str, pd.DataFrame]
    # the main cell: contraction, times and norms; the predictor's calibration and evaluation runs
    qm: pd.DataFrame
    calib: pd.DataFrame
    evals: pd.DataFrame
    est: dict[str, Estimate | None]
    ratio: dict[str, Estimate | None]
    n_main: int
    k_main: int
    # the λ sweep
    lam: pd.DataFrame
    lam_cells: pd.DataFrame
    ql: pd.DataFrame
    regime: pd.DataFrame
    lam_fit: Any
    lam_slope: Estimate | None
    lam_ratio: Estimate | None
    lam_log_ratio: dict[float, Estimate]  # median ln(V_mem/V_post) per λ of the paper's Tab 3 (grokked runs)
    t_tilde: pd.Series  # the mean norm-adjusted delay (T_grok − T_mem)·λ / ln(V_mem/V_post) per λ ...
    t_tilde_cv: Estimate | None  # ... and its CV across λ, with a bootstrap CI (runs resampled within λ)
    # the η sweep
    eta: pd.DataFrame
    eta_cells: pd.DataFrame
    eta_fit: Any
    eta_slope: Estimate | None
    # the modulus sweep
    qmod: pd.DataFrame
    mod_ok: pd.DataFrame
    mod_r: Estimate | None
    mod_fit: Any
    mod_slope: Estimate | None
    # multiplication and parity
    qmul: pd.DataFrame
    qpar: pd.DataFrame
    mul_ratio: Estimate | None
    mul_vmem: float | None
    par_delay: Estimate | None
    par_ratio: Estimate | None
    # the predictor: (held-out runs with their predictions, errors, label) per predictor, then the baseline
    predictors: dict[str, DelayPredictor]
    scored: list[tuple[pd.DataFrame, PredictionErrors, str]]
    errors: dict[str, PredictionErrors]
    # the deciding experiments: 3A (the λ sweep at 10 seeds, the paper's budget) ...
    dl: pd.DataFrame  # its runs in the store (label weight_decay)
    dl_want: int  # how many it asks for
    dl_law: pd.DataFrame  # its runs over λ ∈ [0.1, 1], the only ones its two rows read ...
    dl_law_want: int  # ... and how many of those it asks for
    dl_above: pd.DataFrame  # its runs above λ = 1 (λ = 2, the paper's 3 of 10 at 80k) ...
    dl_above_want: int  # ... and how many of those it asks for
    dl_fit: Any  # T_grok on 1/λ over λ ∈ [0.1, 1] (all those runs in the store only)
    dl_slope: Estimate | None
    dl_ratio: Estimate | None  # T(λ = 0.1) / T(λ = 1)
    # ... and 3B (multiplication as now and on the nonzero residues)
    dm: pd.DataFrame  # its runs in the store with paper 3's quantities (labels p, variant)
    dm_want: int
    dm_ratio: dict[str, Estimate | None]  # per variant: its delay over addition's (as :attr:`mul_ratio`)
    dm_vmem: dict[str, float | None]  # per variant: its V_mem over addition's


def analyse(P: pm.Values, d: Design, st: RunStore, deciding: Design | None = None) -> Results:
    """The chapter's numbers from the runs of :func:`design` and :func:`deciding_design` (after
    ``.run(...)`` of each; without ``deciding``, its part is empty) and their norm traces in ``st``."""
    runs = {name: d.table(name, LABELS[name]) for name in d.experiments}

    def quantities(table: pd.DataFrame) -> pd.DataFrame:
        if not len(table):
            return table
        return contraction.run_quantities(table, st.traces(table["key"]), window=P.fit_window)

    qm = paper_window(quantities(runs["main"]), st)
    calib = qm[qm["seed_role"] == "calibration"] if len(qm) else qm
    evals = qm[(qm["seed_role"] == "evaluation") & qm["grokked"]] if len(qm) else qm
    grokked = qm[qm["grokked"]] if len(qm) else qm
    est = {c: cells.mean_ci(grokked[c]) if len(grokked) else None
           for c in ("t_mem", "t_grok", "delay", "v_mem", "v_post", "gamma_fit", "r2_fit", "r2_grid", "t_esc_2el",
                     "t_esc_fit")}
    ratio = {c: cells.mean_ci(grokked[c] / grokked["delay"]) if len(grokked) else None
             for c in ("t_esc_2el", "t_esc_fit")}

    lam = runs["lambda"]
    lam_fit, lam_slope, lam_ratio = _lambda_law(lam)
    ql = quantities(lam)
    t_tilde, t_tilde_cv = norm_adjusted_delay(ql)

    eta = runs["eta"]
    eta_ok = eta[eta["status"] == "grokked"]
    eta_fit, eta_slope = _line(1.0 / eta_ok["lr"], eta_ok["t_grok"], eta_ok["lr"])

    qmod = quantities(runs["moduli"])
    mod_ok = qmod[qmod["grokked"] & np.isfinite(qmod["log_ratio"])] if len(qmod) else qmod
    enough = len(mod_ok) >= 3 and mod_ok["log_ratio"].nunique() >= 3

    qmul, qpar = quantities(runs["multiplication"]), quantities(runs["parity"])
    mul_ratio, mul_vmem = _multiplication_vs_addition(qmul, qmod, P.mul_moduli)
    if len(qpar):
        qpar = qpar.assign(post_over_mem=qpar["v_post"] / qpar["v_mem"])

    predictors, scored = _predict(calib, evals, P.fit_window)
    return Results(
        runs=runs, qm=qm, calib=calib, evals=evals, est=est, ratio=ratio,
        n_main=len(qm), k_main=int(qm["grokked"].sum()) if len(qm) else 0,
        lam=lam, lam_cells=cells.cell_table(lam, "weight_decay"), ql=ql, regime=_regime(lam),
        lam_fit=lam_fit, lam_slope=lam_slope, lam_ratio=lam_ratio, lam_log_ratio=log_ratio_per_lambda(ql),
        t_tilde=t_tilde, t_tilde_cv=t_tilde_cv,
        eta=eta, eta_cells=cells.cell_table(eta, "lr"), eta_fit=eta_fit, eta_slope=eta_slope,
        qmod=qmod, mod_ok=mod_ok,
        mod_r=stats.pearson_r(mod_ok["log_ratio"], mod_ok["delay"]) if enough else None,
        mod_fit=stats.fit_line(mod_ok["log_ratio"], mod_ok["delay"]) if enough else None,
        mod_slope=stats.fit_line_ci(mod_ok["t_esc_2el"], mod_ok["delay"])[1] if enough else None,
        qmul=qmul, qpar=qpar, mul_ratio=mul_ratio, mul_vmem=mul_vmem,
        par_delay=cells.median_ci(qpar["delay"]) if len(qpar) else None,
        par_ratio=cells.median_ci(qpar["post_over_mem"]) if len(qpar) else None,
        predictors=predictors, scored=scored,
        errors={k: e for k, (_, e, _) in zip(list(predictors) + ["baseline"], scored)},
        **_deciding(P, deciding or deciding_design(P), st, qmod, ran=deciding is not None),
    )


def with_deciding(P: pm.Values, r: Results, deciding: Design, st: RunStore) -> Results:
    """``r`` with the part of the deciding experiments, from :func:`deciding_design` after its
    ``.run(...)``, so that a page can run them where it shows them (the diagnoses read them)."""
    return replace(r, **_deciding(P, deciding, st, r.qmod, ran=True))


def _regime(lam: pd.DataFrame) -> pd.DataFrame:
    """The λ sweep's grokked runs over :data:`LAMBDA_REGIME`, where the paper fits 1/λ."""
    lo, hi = LAMBDA_REGIME
    return lam[(lam["weight_decay"] >= lo) & (lam["weight_decay"] <= hi) & (lam["status"] == "grokked")]


def _lambda_law(lam: pd.DataFrame) -> tuple[Any, Estimate | None, Estimate | None]:
    """T_grok against 1/λ over :data:`LAMBDA_REGIME` (the fit and its slope with a CI) and the ratio
    of the median T_grok at λ = 0.1 and λ = 1 (Kaplan–Meier, censored runs kept), from a λ sweep."""
    regime = _regime(lam)
    fit, slope = _line(1.0 / regime["weight_decay"], regime["t_grok"], regime["weight_decay"])
    ratio = cells.delay_ratio(cells.select(lam, weight_decay=1.0), cells.select(lam, weight_decay=0.1))
    return fit, slope, ratio


def log_ratio_per_lambda(ql: pd.DataFrame) -> dict[float, Estimate]:
    """The median ln(V_mem/V_post) with a bootstrap CI per λ of the paper's Tab 3 (0.1 … 1) that has
    grokked runs (V_post as everywhere here: V at the end of the run, ``post_grok_steps`` after T_grok)."""
    out = {}
    for w in PAPER["lam_log_ratio"]:
        cell = cells.select(ql, weight_decay=w) if len(ql) else ql
        values = cell.loc[cell["grokked"], "log_ratio"] if len(cell) else []
        if len(values):
            out[w] = cells.median_ci(values)
    return out


def norm_adjusted_delay(ql: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> tuple[pd.Series, Estimate | None]:
    """Paper 3's norm-adjusted delay T̃ = (T_grok − T_mem)·λ / ln(V_mem/V_post) per grokked run of the
    λ sweep at the λ of its Tab 3 (0.1 … 1): its mean per λ, and the CV (SD with ddof 1 over the
    mean) of those means across λ with a bootstrap CI (runs resampled within each λ); the CV is
    None with fewer than two λ of at least two runs."""
    empty = pd.Series(dtype=float, name="t_tilde")
    if not len(ql):
        return empty, None
    ok = ql[ql["grokked"] & (ql["log_ratio"] > 0)]
    ok = ok[np.isin(ok["weight_decay"].round(9), [round(w, 9) for w in PAPER["lam_log_ratio"]])]
    t_tilde = ok["delay"] * ok["weight_decay"] / ok["log_ratio"]
    groups = {w: g.to_numpy(float) for w, g in t_tilde.groupby(ok["weight_decay"])}
    means = pd.Series({w: float(np.mean(x)) for w, x in groups.items()}, name="t_tilde", dtype=float)
    groups = [x for x in groups.values() if len(x) >= 2]
    if len(groups) < 2:
        return means, None

    def cv(ms: np.ndarray) -> float:
        return float(np.std(ms, ddof=1) / np.mean(ms))

    rng = np.random.default_rng(seed)
    boots = [cv(np.array([np.mean(rng.choice(x, len(x))) for x in groups])) for _ in range(n_boot)]
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return means, Estimate(cv(np.array([np.mean(x) for x in groups])), float(lo), float(hi))


def paper_window(q: pd.DataFrame, st: RunStore) -> pd.DataFrame:
    """``q`` (paper 3's quantities of some runs) with what needs the runs' evaluated points:
    ``t_995``, the first evaluated step with train accuracy at least :data:`PAPER_WINDOW_ACC`;
    ``gamma_995``, the contraction rate of the norm trace over the :data:`PAPER_WINDOW` steps from
    there (paper 3's window, registered as 3C); and ``r2_grid``, the R² of paper 3's decay fit on
    the evaluated points from T_mem on (the points the paper fits) instead of the trace."""
    if not len(q):
        return q.assign(t_995=pd.Series(dtype=float), gamma_995=pd.Series(dtype=float),
                        r2_grid=pd.Series(dtype=float))
    traj, trace = st.trajectories(q["key"]), st.traces(q["key"])
    by_traj = {k: g.sort_values("step") for k, g in traj.groupby("key")}
    by_trace = {k: g.sort_values("step") for k, g in trace.groupby("key")} if len(trace) else {}
    rows = []
    for key, t_mem in zip(q["key"], q["t_mem"].astype(float)):
        t995 = gamma = r2 = np.nan
        tj, tr = by_traj.get(key), by_trace.get(key)
        if tj is not None:
            hit = tj.loc[tj["train_acc"] >= PAPER_WINDOW_ACC, "step"]
            t995 = float(hit.iloc[0]) if len(hit) else np.nan
            if np.isfinite(t_mem):
                try:
                    r2 = contraction.fit_decay(tj["step"], tj["sq_norm_all"], t_mem).r2
                except (ValueError, RuntimeError):  # too few points, or no convergence: left NaN
                    pass
        if tr is not None and np.isfinite(t995):
            gamma = contraction.local_rate(tr["step"], tr["sq_norm_all"], t995, PAPER_WINDOW)
        rows.append((t995, gamma, r2))
    t995, gamma, r2 = (np.array(c, dtype=float) for c in zip(*rows))
    return q.assign(t_995=t995, gamma_995=gamma, r2_grid=r2)


def _deciding(P: pm.Values, deciding: Design, st: RunStore, qmod: pd.DataFrame, ran: bool) -> dict[str, Any]:
    """The deciding experiments' part of :class:`Results` (empty when ``deciding`` was not run). 3A's
    fit and ratio are taken only once all its runs over λ ∈ [0.1, 1] (the only ones they read) are in
    the store: a reading from part of the seeds is not the one the registered rule asks for."""
    dl = deciding.table(DECIDE_LAMBDA, LABELS[DECIDE_LAMBDA]) if ran else pd.DataFrame()
    dm_runs = deciding.table(DECIDE_MUL, LABELS[DECIDE_MUL]) if ran else pd.DataFrame()
    dl_want = len(deciding.experiments.get(DECIDE_LAMBDA, []))
    lo, hi = LAMBDA_REGIME
    asked = [c.weight_decay for c, _ in deciding.experiments.get(DECIDE_LAMBDA, [])]
    law_want, above_want = sum(lo <= w <= hi for w in asked), sum(w > hi for w in asked)
    law = dl[(dl["weight_decay"] >= lo) & (dl["weight_decay"] <= hi)] if len(dl) else dl
    above = dl[dl["weight_decay"] > hi] if len(dl) else dl
    dm_want = len(deciding.experiments.get(DECIDE_MUL, []))
    dl_fit = dl_slope = dl_ratio = None
    if law_want and len(law) == law_want:
        dl_fit, dl_slope, dl_ratio = _lambda_law(law)
    dm = (contraction.run_quantities(dm_runs, st.traces(dm_runs["key"]), window=P.fit_window) if len(dm_runs)
          else dm_runs)
    ratios, vmems = {}, {}
    for variant in MUL_VARIANTS:
        sub = dm[dm["variant"] == variant] if len(dm) else dm
        ratios[variant], vmems[variant] = _multiplication_vs_addition(sub, qmod, P.mul_moduli)
    return dict(dl=dl, dl_want=dl_want, dl_law=law, dl_law_want=law_want, dl_above=above, dl_above_want=above_want,
                dl_fit=dl_fit, dl_slope=dl_slope, dl_ratio=dl_ratio, dm=dm, dm_want=dm_want,
                dm_ratio=ratios, dm_vmem=vmems)


def _line(x: pd.Series, y: pd.Series, levels_of: pd.Series) -> tuple[Any, Estimate | None]:
    """:func:`stats.fit_line_ci` of ``y`` on ``x`` when the runs span at least two levels, else
    ``(None, None)``."""
    return stats.fit_line_ci(x, y) if levels_of.nunique() >= 2 else (None, None)


def _multiplication_vs_addition(qmul: pd.DataFrame, qmod: pd.DataFrame,
                                mul_moduli: list[int]) -> tuple[Estimate | None, float | None]:
    """Multiplication against addition at the moduli where both have runs: the geometric mean of
    the ratios of their median delays (censored delays kept, with a CI) and of their median V_mem."""
    add_at = {q: qmod[qmod["p"] == q] if len(qmod) else qmod for q in mul_moduli}
    mul_at = {q: qmul[qmul["p"] == q] for q in mul_moduli} if len(qmul) else {}
    both = [q for q in mul_moduli if q in mul_at and len(add_at[q]) and len(mul_at[q])]
    pairs = [(contraction.delays_as_times(add_at[q]), contraction.delays_as_times(mul_at[q])) for q in both]
    vmem = [np.median(mul_at[q]["v_mem"]) / np.median(add_at[q]["v_mem"]) for q in both]
    return (cells.mean_delay_ratio(pairs) if pairs else None,
            float(np.exp(np.mean(np.log(vmem)))) if vmem else None)


def _predict(calib: pd.DataFrame, evals: pd.DataFrame, window: int) -> tuple[
        dict[str, DelayPredictor], list[tuple[pd.DataFrame, PredictionErrors, str]]]:
    """The :data:`PREDICTORS` calibrated on the calibration seeds and scored on the evaluation
    seeds (``V̂_post`` from the calibration seeds only), then the baseline that predicts the
    calibration seeds' median delay for every run; nothing without grokked calibration runs or
    evaluation runs. The paper-window predictor reads its rate from ``gamma_995`` (see
    :func:`paper_window`), the others from ``gamma_window`` (``window`` steps from T_mem)."""
    if not (len(calib) and calib["grokked"].any() and len(evals)):
        return {}, []
    labels = {"paper window": f"paper's, rate from {PAPER_WINDOW} steps after train accuracy {PAPER_WINDOW_ACC}",
              "window": f"paper's with our window: rate from the first {window} steps after T_mem",
              "2ηλ": "paper's, rate 2ηλ", "corrected": "rate from the window × a scale learned on calibration"}
    predictors, scored = {}, []
    for key, kw in PREDICTORS.items():
        c, e, w = (calib, evals, window) if key != "paper window" else (
            calib.assign(gamma_window=calib["gamma_995"]), evals.assign(gamma_window=evals["gamma_995"]), PAPER_WINDOW)
        pred = predictors[key] = DelayPredictor.calibrate(c, window=w, **kw)
        held_out = e.assign(predicted=pred.predict_runs(e).to_numpy())
        errors = contraction.prediction_errors(held_out["predicted"], held_out["delay"])
        scored.append((held_out, errors, labels[key]))
    base = evals.assign(predicted=float(calib.loc[calib["grokked"], "delay"].median()))
    scored.append((base, contraction.prediction_errors(base["predicted"], base["delay"]),
                   "baseline: calibration median delay"))
    return predictors, scored


# ---------------------------------------------------------------------------- tables
def main_table(r: Results) -> pd.DataFrame:
    """The main cell's means against paper 3's (means ± standard deviations over its 10 seeds)."""
    e, q = r.est, r.ratio
    rows = [("T_mem (steps)", "840", e["t_mem"], ",.0f"), ("T_grok (steps)", "1840 ± 215", e["t_grok"], ",.0f"),
            ("delay T_grok − T_mem", "1000 ± 186", e["delay"], ",.0f"), ("V_mem", "≈ 3900", e["v_mem"], ",.0f"),
            ("V_post", "≈ 300", e["v_post"], ",.0f"),
            ("γ_fit (per step)", "0.00141 ± 0.00007", e["gamma_fit"], ".5f"),
            ("R² of the fit", "0.9991 ± 0.0003", e["r2_fit"], ".4f"),
            ("R² of the fit on the evaluated points only", "(its fit's points)", e["r2_grid"], ".4f"),
            ("escape time ln(V_mem/V_post) / 2ηλ", "1251 ± 101", e["t_esc_2el"], ",.0f"),
            ("escape time ln(V_mem/V_post) / γ_fit", "(≈ 1790 from its numbers)", e["t_esc_fit"], ",.0f"),
            ("escape time (2ηλ) / delay", "1.25", q["t_esc_2el"], ".2f"),
            ("escape time (γ_fit) / delay", "≈ 1.8", q["t_esc_fit"], ".2f")]
    return pd.DataFrame([(name, paper, fmt_ci(est, f)) for name, paper, est, f in rows],
                        columns=["quantity", "paper 3", "ours: mean (95 % CI)"])


def main_note(r: Results) -> str:
    """What the main table averages."""
    return (f"Means over the {r.k_main} of {r.n_main} runs that grokked, with bootstrap 95 % CIs; the paper's are "
            "means ± standard deviations over its 10 seeds.")


def lambda_table(r: Results) -> pd.DataFrame:
    """The λ sweep's cells with their median V_mem and V_post and the paper's count of grokked runs
    (for :func:`grokkit.book.tables.cells_table`)."""
    norms = r.ql.groupby("weight_decay")[["v_mem", "v_post"]].median().reset_index() if len(r.ql) else None
    view = r.lam_cells.merge(norms, on="weight_decay", how="left") if norms is not None else r.lam_cells.copy()
    view["paper grokked"] = [f"{PAPER['lam_grokked'][w][0]}/{PAPER['lam_grokked'][w][1]}"
                             if w in PAPER["lam_grokked"] else "" for w in view["weight_decay"]]
    return view.rename(columns={"v_mem": "median V_mem", "v_post": "median V_post"})


def _medians(q: pd.DataFrame, by: str, **cols: str) -> pd.DataFrame:
    """Runs, runs grokked, and the median of each ``name=column`` per value of ``by``."""
    return q.groupby(by).agg(n=("key", "size"), grokked=("grokked", "sum"),
                             **{name: (col, "median") for name, col in cols.items()})


def moduli_table(r: Results) -> pd.DataFrame:
    """Medians per modulus, with the paper's delay (empty without runs)."""
    if not len(r.qmod):
        return pd.DataFrame()
    view = _medians(r.qmod, "p", T_mem="t_mem", T_grok="t_grok", delay="delay", V_mem="v_mem",
                    V_post="v_post").reset_index()
    view["paper delay"] = [PAPER["mod_delay"].get(q, np.nan) for q in view["p"]]
    return view


def tasks_table(r: Results) -> pd.DataFrame:
    """Medians per cell of multiplication (per modulus) and parity (per n)."""
    rows = []
    for name, q, by in (("multiplication", r.qmul, "p"), ("parity", r.qpar, "parity_n")):
        if len(q):
            g = _medians(q, by, T_mem="t_mem", delay="delay", V_mem="v_mem", V_post="v_post")
            rows += [(name, f"{by.replace('parity_', '')} = {k}", *v) for k, v in zip(g.index, g.to_numpy())]
    return pd.DataFrame(rows, columns=["task", "cell", "n", "grokked", "T_mem", "delay", "V_mem", "V_post"])


#: Number formats of :func:`tasks_table`.
TASK_FORMATS = {"T_mem": ",.0f", "delay": ",.0f", "V_mem": ",.0f", "V_post": ",.0f", "n": "d", "grokked": ".0f"}


def prediction_series(r: Results) -> list[tuple[pd.DataFrame, str, str]]:
    """Each predictor's held-out runs with their predictions, label and colour (for
    :func:`grokkit.book.plots.predicted_vs_actual`)."""
    colours = [f"C{i}" for i in range(len(r.scored) - 1)] + ["0.5"]  # the baseline last, in grey
    return [(frame, label, colour) for (frame, _, label), colour in zip(r.scored, colours)]


def predictor_table(r: Results) -> pd.DataFrame:
    """How each predictor and the baseline did on the evaluation seeds, and paper 3's figures."""
    rows = [(label, e.n, fmt_ci(e.mae, ".1f", " %"), f"{e.median_abs:.1f} %", f"{e.mean_signed:+.1f} %",
             f"{e.over}/{e.n}", f"{e.within_2x}/{e.n}") for _, e, label in r.scored]
    rows.append(("paper 3 (60 seeds)", 60, "34.6 [30.0, 39.4] %", "33.2 %", "+34.1 %", "57/60", "60/60"))
    return pd.DataFrame(rows, columns=["predictor", "runs", "MAE (95 % CI)", "median |error|", "mean signed error",
                                       "overestimates", "within 2×"])


# ---------------------------------------------------------------------------- texts
def inside(value: float, est: Estimate | None) -> str:
    """Whether ``value`` lies "inside" or "outside" the CI of ``est`` ("n/a" without one)."""
    return "n/a" if est is None else ("inside" if est.lo <= value <= est.hi else "outside")


def beats(a: Estimate, b: Estimate) -> bool:
    """An error ``a`` beats ``b`` when its whole CI lies below ``b``'s."""
    return a.hi < b.lo


def texts(P: pm.Values, r: Results) -> dict[str, str]:
    """The numbers and words the prose glues, by name, as the page writes them."""
    gamma, err = r.est["gamma_fit"], r.errors

    def mae(key: str) -> str:
        return fmt_ci(err[key].mae, ".1f", " %") if key in err else "n/a"

    def versus_base(key: str) -> str:
        if "corrected" not in err or "baseline" not in err:
            return "n/a"
        return "beats" if beats(err[key].mae, err["baseline"].mae) else "does not beat"

    window = r.predictors.get("window")
    return {
        "eval_every": str(parse_schedule(P.eval_schedule)[1]),
        "trace_every": f"{P.trace_every}",
        "post_grok": f"{P.post_grok_steps:,}",
        "p_main": f"{P.p}",
        "gamma": fmt_ci(gamma, ".5f"),
        "esc_ratio": fmt_ci(r.ratio["t_esc_2el"], ".2f"),
        "gamma_over": fmt_ci(scaled(gamma, 1 / (P.lr * P.weight_decay)), ".2f"),
        "gamma_over_2": fmt_ci(scaled(gamma, 1 / (2 * P.lr * P.weight_decay)), ".2f"),
        "lam_slope": fmt_ci(r.lam_slope, ",.0f"),
        "lam_r2": f"{r.lam_fit.r2:.3f}" if r.lam_fit else "n/a",
        "lam_ratio": fmt_ci(r.lam_ratio, ".1f"),
        "eta_slope": fmt_ci(r.eta_slope, ".2f"),  # steps × η; the paper writes it × 10³, η in 10⁻³
        "eta_r2": f"{r.eta_fit.r2:.3f}" if r.eta_fit else "n/a",
        "eta_min": f"{min(P.lrs):g}",
        "mod_r": fmt_ci(r.mod_r, ".2f"),
        "mod_slope": fmt_ci(r.mod_slope, ".2f"),
        "r_text": inside(PAPER["mod_r"], r.mod_r),
        "r_repo": inside(PAPER["mod_r_repo"], r.mod_r),
        "slope_text": inside(PAPER["mod_slope"], r.mod_slope),
        "slope_repo": inside(PAPER["mod_slope_repo"], r.mod_slope),
        "mul_ratio": fmt_ci(r.mul_ratio, ".1f"),
        "mul_vmem": f"{r.mul_vmem:.2f}" if r.mul_vmem is not None else "n/a",
        "par_delay": fmt_ci(r.par_delay, ",.0f"),
        "par_ratio": fmt_ci(r.par_ratio, ".2f"),
        "n_calib": f"{len(r.calib)}",
        "n_eval": f"{len(r.evals)}",
        "window": f"{P.fit_window}",
        "mae_window": mae("window"),
        "mae_2el": mae("2ηλ"),
        "mae_corrected": mae("corrected"),
        "mae_base": mae("baseline"),
        "pred_vs_base": versus_base("corrected"),
        "paper_vs_base": versus_base("2ηλ"),
        "v_post_hat": f"{window.v_post:,.0f}" if window else "n/a",
        "grok_check": f"{int(window.will_grok(r.evals['v_mem']).sum())}/{len(r.evals)}" if window else "n/a",
        "paper_window": f"{PAPER_WINDOW}",
        "window_acc": f"{PAPER_WINDOW_ACC}",
        "mae_paper_window": mae("paper window"),
        "lam_ratio_matched": f"{MATCHED_LAMBDA_RATIO:.1f}",
        "log_ratios": levels(r.lam_log_ratio.values(), ".2f"),
        "t_tilde_cv": fmt_ci(r.t_tilde_cv, ".2f"),
        "registered": REGISTERED,
        "preset_how": P.how_chosen,
    }


# ---------------------------------------------------------------------------- verdicts
#: The main cell's quantities, as its verdict row names them.
MAIN = {"T_mem": "t_mem", "T_grok": "t_grok", "delay": "delay", "V_mem": "v_mem", "V_post": "v_post"}


def eval_every(P: pm.Values) -> int:
    """The chapter's evaluation interval K (steps)."""
    return parse_schedule(P.eval_schedule)[1]


def _here(P: pm.Values) -> Callable[[Judgement], Judgement]:
    """A judgement where the chapter runs at the paper's modulus, else "no data" (policy rule 1)."""
    return lambda j: at_paper_condition(j, P.p, PAPER["p"])


def main_parts(est: dict[str, Estimate | None], paper: Callable[[str], Any]) -> dict[str, Judgement]:
    """The main cell's parts against ``paper(key)`` (an interval of :data:`INTERVALS` or a point of
    :data:`PAPER`), each within its :data:`TOL`."""
    return {name: compare(paper(k), est[k], tol=TOL["norms" if k.startswith("v_") else "times"], fmt=",.0f")
            for name, k in MAIN.items()}


def lambda_counts(r: Results) -> dict[str, Judgement]:
    """The fraction grokked per λ against the paper's Tab 3, each λ that has runs. The λ = 2 part is
    judged only on runs with the paper's 80,000-step budget: its grokkers average 43.7k ± 11.1k
    steps, so a smaller budget cannot test it (policy rule 1)."""
    counts = {}
    for w, (pk, pn) in PAPER["lam_grokked"].items():
        cell = cells.select(r.lam, weight_decay=w)
        if not len(cell):
            continue
        if w == 2.0:
            full = cell[cell["max_steps"] >= PAPER["lam_budget"]]
            if not len(full):
                counts[f"λ = {w:g}"] = no_data(f"budget {int(cell['max_steps'].max()):,} < the paper's "
                                               f"{PAPER['lam_budget']:,}: the check could not fail")
                continue
            cell = full
        counts[f"λ = {w:g}"] = count(pk, pn, int((cell["status"] == "grokked").sum()), len(cell), atol=TOL["fraction"])
    return counts


def lambda_ratio_judgement(P: pm.Values, ours: Estimate | None, *, matched: bool = True) -> Judgement:
    """T(λ = 0.1) / T(λ = 1) against the paper's value on our evaluation grid (policy rule 1): on a
    200-step grid 12700 / 1840 with its uncertainty (:data:`INTERVALS`), on a 500-step grid its
    12700 / 2100; on another grid (or with ``matched=False``, the paper's 6.0 as printed)."""
    k = eval_every(P)
    if not matched or k == PAPER["lam_eval_every"]:
        paper: Any = PAPER["lam_ratio"]
    elif k == PAPER["main_eval_every"]:
        paper = INTERVALS["lam_ratio"]
    else:
        return no_data(f"no matched value: ours is evaluated every {k} steps, the paper's λ = 1 on its "
                       f"{PAPER['main_eval_every']}- and {PAPER['lam_eval_every']}-step grids only")
    return compare(paper, ours, tol=TOL["lam_ratio"], fmt=".1f", unit="×")


def eta_slope_judgement(P: pm.Values, ours: Estimate | None, *, matched: bool = True) -> Judgement:
    """The slope of T_grok on 1/η (η in units of 10⁻³) against the paper's over our η
    (:func:`matched_eta_slope`), or with ``matched=False`` against its fit over all five."""
    paper: Any = PAPER["eta_slope"]
    if matched:
        m = matched_eta_slope(P.lrs)
        if m is None:
            return no_data("no matched value: fewer than two of our η are among the paper's")
        paper = m[1] if m[1][0] < m[1][1] else m[0]
    return compare(paper, scaled(ours, 1e3), tol=TOL["eta_slope"], fmt=",.0f")


def mul_judgement(ours: Estimate | None) -> Judgement:
    """Multiplication's delay over addition's against the paper's "about 3×" (its rounding)."""
    return compare(INTERVALS["mul_ratio"], ours, tol=TOL["mul_ratio"], fmt=".1f", unit="×")


def predictor_judgement(e: PredictionErrors, mae: Any = None) -> Judgement:
    """A predictor's MAE against the paper's bootstrap CI (or ``mae``), its overestimates and its
    predictions within 2× against the paper's counts."""
    return combine({"MAE": compare(INTERVALS["mae"] if mae is None else mae, e.mae, tol=TOL["mae"], fmt=".1f",
                                   unit=" %"),
                    "overestimates": count(*PAPER["over"], e.over, e.n, atol=TOL["fraction"]),
                    "within 2×": count(*PAPER["within_2x"], e.within_2x, e.n, atol=TOL["fraction"])})


def predictor_claim(P: pm.Values, key: str) -> str:
    """The verdict row of one predictor of :data:`PREDICTORS`."""
    what = {"paper window": f"rate from {PAPER_WINDOW} steps after train accuracy {PAPER_WINDOW_ACC}",
            "window": f"rate from the first {P.fit_window} steps after T_mem", "2ηλ": "rate 2ηλ"}[key]
    return f"Predictor at memorization ({what}): MAE, overestimates, within 2×"


def verdicts(P: pm.Values, r: Results) -> Verdicts:
    """One row per claim of paper 3 (and one of ours: the predictor with our window), judged under
    :data:`TOL` and the book's verdict policy: the paper's values with their own uncertainty
    (:data:`INTERVALS`), at our condition (the ratio on our grid, the η slope over our η, λ = 2 only
    at the paper's budget), text and released data both shown. The rows that depend on the modulus
    are "no data" at another p than the paper's 97. The diagnoses are added by :func:`diagnose`."""
    V = Verdicts(CHAPTER, TITLE, P.preset, claimant="paper 3")
    runs, est, here = r.runs, r.est, _here(P)
    main_scale = cells.scale_note(runs["main"])
    two_el = fmt_ci(scaled(est["gamma_fit"], 1 / (2 * P.lr * P.weight_decay)), ".2f")
    V.add("V contracts geometrically after memorization: γ_fit at ηλ = 0.001",
          here(compare(INTERVALS["gamma"], est["gamma_fit"], tol=TOL["gamma"], fmt=".5f")),
          paper="0.00141 ± 0.00007 (10 seeds)", note=f"{two_el} × 2ηλ", scale=main_scale,
          section="sec-ch3-contraction")
    V.add("The exponential fit describes V after T_mem (R²)",
          here(compare(INTERVALS["r2"], est["r2_fit"], atol=TOL["r2"], fmt=".4f")),
          paper="R² 0.9991 ± 0.0003 (10 seeds), 'R² > 0.999'",
          note=f"fitted to the norm trace (every {P.trace_every} steps)", scale=main_scale,
          section="sec-ch3-contraction")
    V.add("Main cell: T_mem, T_grok, delay, V_mem, V_post", here(combine(main_parts(est, INTERVALS.get))),
          paper="840 / 1840 ± 215 / 1000 ± 186 / ≈ 3900 / ≈ 300 (means over 10 seeds)",
          ours=levels([est[k] for k in MAIN.values()], ",.0f"), note=f"means over the {r.k_main} runs that grokked",
          scale=main_scale, section="sec-ch3-contraction")
    V.add("The escape time ln(V_mem/V_post)/(2ηλ) overstates the delay by about 25 %",
          here(compare(PAPER["esc_over_delay"], r.ratio["t_esc_2el"], tol=TOL["esc_ratio"], fmt=".2f", unit="×")),
          paper="1251 against 1000: 1.25×", note=f"with γ_fit instead: {fmt_ci(r.ratio['t_esc_fit'], '.2f')}×",
          scale=main_scale, section="sec-ch3-contraction")
    _lambda_rows(V, P, r, here)
    m = matched_eta_slope(P.lrs)
    matched = (f"; its means over our η ≥ {min(P.lrs):g}: {m[0] / 1e3:.2f} × 10³ [{m[1][0] / 1e3:.2f}, "
               f"{m[1][1] / 1e3:.2f}]" if m and m[1][0] < m[1][1] else "")
    V.add("T_grok ∝ 1/η: slope of T on 1/η", here(eta_slope_judgement(P, r.eta_slope)),
          paper="10.62 × 10³ (η in units of 10⁻³; its fit includes η = 1e-4), R² 0.921" + matched,
          note=(f"R² {r.eta_fit.r2:.3f}; η ≥ {min(P.lrs):g}" if r.eta_fit else ""),
          scale=cells.scale_note(r.eta, "lr"), section="sec-ch3-eta")
    mod_scale = cells.scale_note(runs["moduli"], "p")
    V.add("The delay follows ln(V_mem/V_post) across moduli: Pearson r",
          compare(PAPER["mod_r"], r.mod_r, atol=TOL["r"], fmt=".2f"), paper="0.91 (49 runs)", basis="text",
          data=compare(PAPER["mod_r_repo"], r.mod_r, atol=TOL["r"], fmt=".2f"),
          data_paper="r 0.836 (its released S3 runs)", scale=mod_scale, section="sec-ch3-ratio")
    V.add("…with slope about 1 in units of ln(ratio)/(2ηλ)",
          compare(INTERVALS["mod_slope"], r.mod_slope, tol=TOL["mod_slope"], fmt=".2f"), paper="1.08 ± 0.15",
          basis="text", data=compare(PAPER["mod_slope_repo"], r.mod_slope, tol=TOL["mod_slope"], fmt=".2f"),
          data_paper="slope 2.03 (its released S3 runs)", scale=mod_scale, section="sec-ch3-ratio")
    _task_rows(V, r)
    _predictor_rows(V, P, r, here, main_scale)
    return V


def _lambda_rows(V: Verdicts, P: pm.Values, r: Results, here: Callable[[Judgement], Judgement]) -> None:
    """The λ sweep's rows: which λ grok, the 1/λ slope, the ratio T(λ = 0.1) / T(λ = 1), the log norm
    ratio per λ and the spread of the norm-adjusted delay across λ."""
    lam_scale = cells.scale_note(r.lam, "weight_decay")
    V.add(CLAIM_WHICH, here(combine(lambda_counts(r))),
          paper="0, 0, 10, 10, 10, 10, 3, 0 of 10 (λ = 0.001 … 5; budget 80,000 for λ ≥ 0.1)",
          ours=", ".join(f"{int(c.n_grokked)}/{int(c.n)}" for c in r.lam_cells.itertuples()) or "n/a",
          scale=lam_scale, section="sec-ch3-lambda")
    V.add("T_grok ∝ 1/λ over λ ∈ [0.1, 1]: slope (steps)",
          here(compare(INTERVALS["lam_slope"], r.lam_slope, tol=TOL["lam_slope"], fmt=",.0f")),
          paper="1182 [1082, 1271], R² 0.971", note=f"R² {r.lam_fit.r2:.3f}" if r.lam_fit else "",
          scale=cells.scale_note(r.regime, "weight_decay"), section="sec-ch3-lambda")
    lo, hi = INTERVALS["lam_ratio"]
    V.add("…but only approximately: T(λ = 0.1) / T(λ = 1)", here(lambda_ratio_judgement(P, r.lam_ratio)),
          paper=(f"12700 / 2100 = 6.0× (not 10×) on its 500-step grid; on the 200-step grid of its main cell "
                 f"12700 / 1840 = {MATCHED_LAMBDA_RATIO:.1f}× [{lo:.1f}, {hi:.1f}]"),
          note=f"medians, our grid every {eval_every(P)} steps", scale=lam_scale, section="sec-ch3-lambda")
    logs = {f"λ = {w:g}": compare(INTERVALS["log_ratio"][w], e, tol=TOL["log_ratio"], fmt=".2f")
            for w, e in r.lam_log_ratio.items()}
    shown = cells.select(r.ql, weight_decay=0.1) if len(r.ql) else r.ql
    in_tab = r.ql[np.isin(r.ql["weight_decay"].round(9), [round(w, 9) for w in PAPER["lam_log_ratio"]])] if len(
        r.ql) else shown
    V.add("ln(V_mem/V_post) per λ (median, λ = 0.1, 0.3, 0.5, 1)", here(combine(logs)),
          paper="1.94 / 2.37 / 2.40 / 2.28", ours=levels(r.lam_log_ratio.values(), ".2f"),
          note="the runs that grokked", scale=cells.scale_note(in_tab, "weight_decay"), section="sec-ch3-lambda")
    V.add("The norm-adjusted delay T̃ is nearly constant across λ: CV",
          here(compare(INTERVALS["t_tilde_cv"], r.t_tilde_cv, atol=TOL["t_tilde_cv"], fmt=".2f")),
          paper="CV ≈ 0.18 (T̃ = 625 / 530 / 447 / 434 at λ = 0.1 … 1)",
          note=f"T̃ = (T_grok − T_mem)·λ / ln(V_mem/V_post), mean per λ: {levels(r.t_tilde.values, ',.0f')}",
          scale=cells.scale_note(in_tab, "weight_decay"), section="sec-ch3-lambda")


def _task_rows(V: Verdicts, r: Results) -> None:
    """Multiplication (groks, later than addition) and sparse parity (no delay, no contraction),
    each where it has runs."""
    qmul, qpar = r.qmul, r.qpar
    if len(qmul):
        k = int(qmul["grokked"].sum())
        V.add("Multiplication groks, about 3× later than addition",
              combine({"all grok": count(*PAPER["mul_grokked"], k, len(qmul), atol=TOL["fraction"]),
                       "delay ratio": mul_judgement(r.mul_ratio)}),
              paper="20/20 grok; delays about 3× addition's",
              ours=f"{k}/{len(qmul)} grok; {fmt_ci(r.mul_ratio, '.1f')}×",
              scale=cells.scale_note(r.runs["multiplication"], "p"), section="sec-ch3-tasks")
    if len(qpar):
        k = int(qpar["grokked"].sum())
        V.add("Sparse parity: no delay, and the norm grows instead of contracting",
              combine({"reaches 95 %": count(*PAPER["parity_grokked"], k, len(qpar), atol=TOL["fraction"]),
                       "delay under 200 steps": at_most(200, r.par_delay, atol=TOL["parity_delay"], fmt=",.0f"),
                       "V_post / V_mem": compare(PAPER["parity_post_over_mem"], r.par_ratio, tol=TOL["parity_ratio"],
                                                 fmt=".2f")}),
              paper="15/15; delay ≤ 0 on a 200-step grid; V_post/V_mem 1.64–1.97",
              ours=(f"{k}/{len(qpar)}; median delay {fmt_ci(r.par_delay, ',.0f')}; "
                    f"ratio {fmt_ci(r.par_ratio, '.2f')}"),
              scale=cells.scale_note(r.runs["parity"], "parity_n"), section="sec-ch3-tasks")


def _predictor_rows(V: Verdicts, P: pm.Values, r: Results, here: Callable[[Judgement], Judgement],
                    main_scale: str) -> None:
    """The predictor at memorization with the paper's window (the paper's claim), with ours (our
    hypothesis) and with 2ηλ: MAE, overestimates and predictions within 2× ("no data" without
    evaluation runs); then the grokking check V_mem > 2·V̂_post on the evaluation runs that grokked."""
    for key in ("paper window", "window", "2ηλ"):
        e, claimant = r.errors.get(key), ("ours (chapter 3)" if key == "window" else None)
        if e is None:
            V.add(predictor_claim(P, key), no_data("no evaluation runs"), paper="MAE 34.6 % [30.0, 39.4]",
                  scale=main_scale, section="sec-ch3-predictor", claimant=claimant)
            continue
        V.add(predictor_claim(P, key), here(predictor_judgement(e)),
              paper="MAE 34.6 % [30.0, 39.4]; 57/60 over; 60/60 within 2×",
              ours=f"MAE {fmt_ci(e.mae, '.1f', ' %')}; {e.over}/{e.n} over; {e.within_2x}/{e.n} within 2×",
              note=(f"V̂_post = {r.predictors[key].v_post:,.0f} from {len(r.calib)} calibration seeds; baseline "
                    f"(median calibration delay): MAE {fmt_ci(r.errors['baseline'].mae, '.1f', ' %')}"),
              scale=main_scale, section="sec-ch3-predictor", claimant=claimant)
    pred, n = r.predictors.get("paper window"), len(r.evals)
    k = int(pred.will_grok(r.evals["v_mem"]).sum()) if pred else 0
    V.add("The grokking check V_mem > 2·V̂_post holds on the runs that grok",
          here(count(*PAPER["grok_check"], k, n, atol=TOL["grok_check"]) if pred else no_data("no evaluation runs")),
          paper="on every grokking run (60/60 seeds)", ours=f"{k}/{n}" if pred else "n/a",
          note=(f"the evaluation seeds that grokked; V̂_post = {pred.v_post:,.0f} from the {len(r.calib)} calibration "
                "seeds" if pred else ""), scale=main_scale, section="sec-ch3-predictor", basis="text")


# ---------------------------------------------------------------------------- why we differ
#: The chapter's part of ``docs/why-we-differ.md``, restated (registered at commit
#: :data:`grokkit.book.diagnoses.REGISTERED`, before any run of 3A or 3B was trained or read).
_SCALE_3A = "scale: 4–10 seeds per λ, budgets 40–50k; the paper: 10 seeds, 80k"
_GRID_3A = ("evaluation grid: the paper's λ sweep was logged every 500 steps, which puts its λ = 1 cell at 2100 "
            "where its 200-step main cell has 1840 (on the 200-step grid the ratio is 12700 / 1840 = 6.9)")
_GENUINE = "a genuine difference"
_EXPERIMENT_3A = ("3A: λ ∈ {0.1, 0.3, 0.5, 1, 2} × 10 seeds × 80k budget at p = 97, η = 1e-3, evaluation every "
                  "200 steps (the chapter's paper-preset cells)")
_EXPERIMENT_3B = ("3B: multiplication at p ∈ {53, 67, 89, 97}, the paper's 5 seeds, (i) as now and (ii) on the "
                  "nonzero residues only (a, b ∈ 1…p−1), same budget")
_WINDOW_3C = ("definition of the window: ours fits the contraction over 300 steps from T_mem; paper 3 fits over "
              "50–100 steps after T_mem, waiting for train accuracy > 99.5 %")
_EXPERIMENT_3C = ("3C (stored traces, every 10 steps): the paper's window, 100 steps from the first evaluated step "
                  "with train accuracy ≥ 0.995; V̂_post calibrated on the calibration seeds only and scored on the "
                  "evaluation seeds")
_RULE_3C = "the verdict row uses the paper's window; ours is kept beside it"
_UNCERTAINTY = "the paper's uncertainty ignored"
_STATISTIC = "the statistic (the paper's means against our medians)"
_NO_RUNS = "none: no new runs"
_TEXT_DATA = "the paper's text against its released data (r 0.836 and slope 2.03 from the released S3 runs)"
DIAGNOSES = [
    Diagnosis("T_grok ∝ 1/λ", (_SCALE_3A, _GRID_3A, _GENUINE), _EXPERIMENT_3A,
              "the slope is judged against [1082, 1271] with the chapter's tolerance; scale if it holds at 10 seeds "
              "(R1); else genuine: our delays grow faster than 1/λ toward small λ"),
    Diagnosis("…but only approximately", (_SCALE_3A, _GRID_3A, _GENUINE), _EXPERIMENT_3A,
              "R0: the ratio against the matched 12700 / 1840 = 6.9 with the paper's seed SDs (1229 and 215 over 10 "
              "seeds); evaluation grid if the matched ratio holds"),
    Diagnosis("Multiplication groks",
              ("a smaller V_mem than the paper's (paper 3 attributes its 3× to V_mem ≈ 9,600 against 3,900 for "
               "addition)", "protocol: the residue 0 (a·0 = 0 for every a) makes a ninth of the table trivial, and "
               "many multiplication setups leave it out", "scale (4 seeds)", _GENUINE), _EXPERIMENT_3B,
              "per p, our T_grok, T_mem and V_mem against the paper's S9 (T_grok 4480 / 4440 / 4040 / 3920; V_mem ≈ "
              "10431 / 9337 / 8859 / 9622); protocol (residue 0) if variant (ii) brings the delay ratio to addition "
              "within 30 % of 3× and (i) does not; scale if (i) at 5 seeds does; genuine (the released "
              "multiplication data are not reproduced) if neither"),
    Diagnosis("Predictor at memorization (rate from 100 steps", (_WINDOW_3C,), _EXPERIMENT_3C, _RULE_3C),
    Diagnosis("Predictor at memorization (rate from the first", (_WINDOW_3C,), _EXPERIMENT_3C, _RULE_3C),
    Diagnosis("V contracts geometrically", (f"{_UNCERTAINTY} (γ_fit ± 0.00007 over 10 seeds)", _STATISTIC),
              _NO_RUNS, "R0"),
    Diagnosis("The exponential fit describes V",
              (f"{_UNCERTAINTY} (R² ± 0.0003 over 10 seeds)", _STATISTIC,
               "the points of the fit (paper: logged points on its 200-step grid; ours: a trace every 10 steps, which "
               "also sees minibatch noise)"), "the fit refitted on the 200-step grid points only (stored evaluations)",
              "R0; for R², the fit refitted on the 200-step grid points only"),
    Diagnosis("Main cell", (f"{_UNCERTAINTY} (T_grok 1840 ± 215, delay 1000 ± 186 over 10 seeds)", _STATISTIC),
              _NO_RUNS, "R0"),
    Diagnosis("T_grok ∝ 1/η", ("condition: the paper's fit includes η = 1e-4, ours stops at 2e-4; the paper's "
                                "means over our range give a slope of about 8.09e3",), _NO_RUNS, "R0, then R2"),
    Diagnosis("The delay follows ln(V_mem/V_post) across moduli", (_TEXT_DATA,), _NO_RUNS,
              "R0 with the released data, both verdicts shown"),
    Diagnosis("…with slope about 1", (_TEXT_DATA,), _NO_RUNS, "R0 with the released data, both verdicts shown"),
    Diagnosis("Predictor at memorization (rate 2ηλ)", (f"{_UNCERTAINTY}: its bootstrap CI [30.0, 39.4]",), _NO_RUNS,
              "R0 with the paper's bootstrap CI [30.0, 39.4] as the interval"),
]
#: Rows the verdict policy leaves inconclusive without a registered explanation: the common rule R2.


def _the_row(verdict: str, would: bool = False, subject: str = "the row") -> str:
    """"the row is close", "the row differs", "it would hold partly", ... (a verdict in a sentence)."""
    if verdict == DIFFERS:
        return f"{subject} {'would differ' if would else 'differs'}"
    if verdict == NO_DATA:
        return f"{subject} {'would have' if would else 'has'} no data"
    if verdict == "partly":
        return f"{subject} {'would hold' if would else 'holds'} partly"
    return f"{subject} {'would be' if would else 'is'} {verdict}"


def _row(V: Verdicts, prefix: str) -> Any:
    return next((row for row in V.rows if row.claim.startswith(prefix)), None)


def _decide_lambda_slope(P: pm.Values, r: Results, row: Any) -> str:
    pt = compare(PAPER["lam_slope"], r.lam_slope, tol=TOL["lam_slope"]).verdict
    lo, hi = PAPER["lam_slope_ci"]
    r0 = (f"R0, the paper's uncertainty: against its CI [{lo}, {hi}] {_the_row(row.verdict)}; against the point "
          f"{PAPER['lam_slope']} {_the_row(pt, would=True, subject='it')}")
    if len(r.dl_law) < r.dl_law_want:
        return f"{_pending_law(r)}; meanwhile {r0}"
    if P.decide_lambda_budget != PAPER["lam_budget"] or P.decide_lambda_seeds < PAPER["lam_seeds"]:
        return (f"{r0}; 3A is not decided at this preset: {P.decide_lambda_seeds} seeds and "
                f"{P.decide_lambda_budget:,} steps, the paper's {PAPER['lam_seeds']} and {PAPER['lam_budget']:,}")
    j = compare(INTERVALS["lam_slope"], r.dl_slope, tol=TOL["lam_slope"])
    at = (f"at {P.decide_lambda_seeds} seeds and {P.decide_lambda_budget:,} steps (3A) the slope is "
          f"{fmt_ci(r.dl_slope, ',.0f')}, {j.verdict}")
    narrower = r.dl_slope is not None and r.lam_slope is not None and r.dl_slope.width <= r.lam_slope.width
    if j.holds and row.verdict not in (CONSISTENT, CLOSE):
        decision = "scale (R1)"
    elif j.holds:
        decision = (f"the paper's uncertainty (R0, which moved the row from {pt}): against its CI the slope holds at "
                    "both scales, so not scale (R1)")
    elif j.verdict == DIFFERS and narrower:
        decision = "genuine (R1, not scale): our delays grow faster than 1/λ toward small λ"
    else:
        need = j.seeds_to_decide(P.decide_lambda_seeds)
        decision = (f"undecided (R1): the {P.decide_lambda_seeds}-seed CI is inconclusive or wider than before"
                    + (f"; about {need} seeds per λ would decide it (R2)" if need else ""))
    return f"{r0}; {at}: {decision}"


def _decide_lambda_ratio(P: pm.Values, r: Results, row: Any) -> str:
    jm = lambda_ratio_judgement(P, r.lam_ratio)
    pt = lambda_ratio_judgement(P, r.lam_ratio, matched=False)
    lo, hi = INTERVALS["lam_ratio"]
    out = (f"R0, the matched grid: against the paper's 12700 / 1840 = {MATCHED_LAMBDA_RATIO:.1f}× [{lo:.1f}, "
           f"{hi:.1f}] on the 200-step grid of its main cell {_the_row(jm.verdict)}; against its 12700 / 2100 = "
           f"{PAPER['lam_ratio']:.1f}× on the 500-step grid of its λ sweep "
           f"{_the_row(pt.verdict, would=True, subject='it')}")
    if jm.holds and not pt.holds:
        out += ": evaluation grid"
    elif jm.holds:
        out += ": it holds on either grid"
    elif jm.verdict == INCONCLUSIVE:
        out += f": undecided, too few seeds (R2: about {row.seeds_to_decide or 'more'} seeds per λ would decide it)"
    else:
        out += ": not the evaluation grid"
    if r.dl_ratio is not None:
        j10 = lambda_ratio_judgement(P, r.dl_ratio)
        out += f"; at {P.decide_lambda_seeds} seeds (3A) the ratio is {fmt_ci(r.dl_ratio, '.1f')}×, {j10.verdict}"
    return out


def _per_p(dm: pd.DataFrame, variant: str) -> str:
    """Per p of the paper's S9: our mean T_grok, T_mem and V_mem of one 3B variant against the paper's."""
    sub = dm[dm["variant"] == variant] if len(dm) else dm
    ps = [q for q in PAPER["mul_t_grok"] if len(sub) and (sub["p"] == q).any()]
    if not ps:
        return "no modulus of the paper's S9 among ours"
    g = sub[sub["grokked"]].groupby("p")[["t_grok", "t_mem", "v_mem"]].mean()
    ours = {c: levels([g[c].get(q, np.nan) for q in ps], ",.0f") for c in ("t_grok", "t_mem", "v_mem")}
    paper = {c: levels([PAPER[f"mul_{c}"][q] for q in ps], ".0f") for c in ("t_grok", "t_mem", "v_mem")}
    return (f"per p = {levels(ps)} ({variant}, means): T_grok {ours['t_grok']} against {paper['t_grok']}, T_mem "
            f"{ours['t_mem']} against {paper['t_mem']}, V_mem {ours['v_mem']} against {paper['v_mem']}")


def _decide_multiplication(P: pm.Values, r: Results, row: Any) -> str:
    before = before_policy(Judgement.from_dict(row.judgement))
    moved = (f" (it was {before} before the verdict policy, rule 5: a count too wide to decide is inconclusive)"
             if before != row.verdict else "")
    if len(r.dm) < r.dm_want:
        return f"{pending(len(r.dm), r.dm_want)}; until then {_the_row(row.verdict)}{moved}"
    ji, jii = mul_judgement(r.dm_ratio["as now"]), mul_judgement(r.dm_ratio["nonzero"])
    seeds = PAPER["mul_grokked"][1] // len(PAPER["mul_t_grok"])  # the paper's S9: 5 seeds per modulus
    if set(P.mul_moduli) != set(PAPER["mul_t_grok"]) or P.decide_mul_seeds < seeds:
        decision = (f"not decided at this preset (3B ran at p = {levels(P.mul_moduli)} with {P.decide_mul_seeds} "
                    f"seeds; the paper's S9 at p = {levels(PAPER['mul_t_grok'])} with {seeds})")
    elif jii.holds and not ji.holds:
        decision = "protocol (residue 0)"
    elif ji.holds:
        decision = "scale"
    elif INCONCLUSIVE in (ji.verdict, jii.verdict):
        decision = "undecided: too few seeds to tell (R2)"
    else:
        decision = "genuine (the released multiplication data are not reproduced)"
    return (f"3B: {_per_p(r.dm, 'as now')}; delay over addition's: (i) as now {fmt_ci(r.dm_ratio['as now'], '.1f')}×, "
            f"{ji.verdict}; (ii) nonzero residues {fmt_ci(r.dm_ratio['nonzero'], '.1f')}×, {jii.verdict}: "
            f"{decision}{moved}")


def _decide_window(P: pm.Values, r: Results, row: Any, V: Verdicts) -> str:
    paper_row, ours_row = _row(V, predictor_claim(P, "paper window")), _row(V, predictor_claim(P, "window"))
    ep, eo = r.errors.get("paper window"), r.errors.get("window")
    if ep is None or eo is None:
        return f"no reading: {row.reason}"
    out = (f"3C, the paper's window: with the rate from {PAPER_WINDOW} steps after train accuracy {PAPER_WINDOW_ACC} "
           f"the MAE is {fmt_ci(ep.mae, '.1f', ' %')} and {_the_row(paper_row.verdict)}; with ours "
           f"({P.fit_window} steps from T_mem) {fmt_ci(eo.mae, '.1f', ' %')}, "
           f"{_the_row(ours_row.verdict, subject='it')} "
           f"(V̂_post from the {len(r.calib)} calibration seeds, scored on the {len(r.evals)} evaluation seeds)")
    holds_p, holds_o = paper_row.verdict in (CONSISTENT, CLOSE), ours_row.verdict in (CONSISTENT, CLOSE)
    if holds_p and not holds_o:
        return out + ": definition of the window"
    if holds_p:
        return out + ": the window does not decide it (both hold)"
    if paper_row.verdict == INCONCLUSIVE:
        return out + f": undecided, too few seeds (R2: about {paper_row.seeds_to_decide or 'more'} would decide it)"
    return out + f": not the definition of the window (with the paper's window {_the_row(paper_row.verdict)} still)"


def _decide_r0(P: pm.Values, r: Results, row: Any, key: str) -> str:
    """R0 for γ_fit, R² and the main cell: the row against the paper's uncertainty, and against its points."""
    est = r.est
    if key == "gamma":
        pt = compare(PAPER["gamma"], est["gamma_fit"], tol=TOL["gamma"]).verdict
        return (f"R0, the paper's uncertainty: against its ± {PAPER['gamma_sd']:.5f} over {PAPER['main_seeds']} seeds "
                f"{_the_row(row.verdict)}; against the point {PAPER['gamma']} {_the_row(pt, True, 'it')} (the "
                f"statistic is the same: means over the seeds that grokked)")
    if key == "r2":
        pt = compare(PAPER["r2"], est["r2_fit"], atol=TOL["r2"]).verdict
        bound = at_least(0.999, est["r2_fit"], atol=TOL["r2"]).verdict
        grid = compare(INTERVALS["r2"], est["r2_grid"], atol=TOL["r2"], fmt=".4f")
        out = (f"R0, the paper's uncertainty: against {PAPER['r2']} ± {PAPER['r2_sd']} over {PAPER['main_seeds']} "
               f"seeds {_the_row(row.verdict)}; against the point {PAPER['r2']} {_the_row(pt, True, 'it')}, and "
               f"against 'R² > 0.999' {bound}; the points of the fit: refitted on the evaluated points only (every "
               f"{eval_every(P)} steps) R² is {fmt_ci(est['r2_grid'], '.4f')}, {grid.verdict}")
        if eval_every(P) != PAPER["main_eval_every"]:
            return out + f": not decided, our grid is not the paper's {PAPER['main_eval_every']}-step grid"
        if grid.verdict == CONSISTENT and row.verdict != CONSISTENT:
            return out + ": the points of the fit"
        if grid.verdict == INCONCLUSIVE:
            return out + ": undecided, too few seeds (R2)"
        return out + ": not the points of the fit"
    pt = combine(main_parts(est, PAPER.get)).verdict
    parts = dict(Judgement.from_dict(row.judgement).parts)
    apart = [f"{n} {fmt_num(est[k].value, ',.0f') if est[k] else 'n/a'} against {_range_text(INTERVALS[k])}"
             for n, k in MAIN.items() if n in parts and parts[n].verdict != CONSISTENT]
    return (f"R0, the paper's uncertainty (840, ≈ 3900 and ≈ 300 as the intervals of their rounding, 1840 ± 215 "
            f"and 1000 ± 186 over 10 seeds) and the same statistic (means over the {r.k_main} seeds that grokked, as "
            f"the paper's over its 10): {_the_row(row.verdict)}; against its points {_the_row(pt, True, 'it')}"
            + (f"; still apart: {and_list(apart)}" if apart else ""))


def _range_text(interval: tuple[float, float]) -> str:
    a, b = interval
    return f"{fmt_num(a, ',.1f')}–{fmt_num(b, ',.1f')}"


def _decide_eta(P: pm.Values, r: Results, row: Any) -> str:
    jm, pt = eta_slope_judgement(P, r.eta_slope), eta_slope_judgement(P, r.eta_slope, matched=False)
    m = matched_eta_slope(P.lrs)
    if m is None:
        return f"R0, the matched range: no matched value ({jm.reason})"
    if m[1][0] == m[1][1]:
        return ("R0, the matched range: our η cover the paper's, so its own fit is the matched value: "
                f"{_the_row(jm.verdict)}")
    out = (f"R0, the matched range: against the paper's means over our η ≥ {min(P.lrs):g}, {m[0] / 1e3:.2f} × 10³ "
           f"[{m[1][0] / 1e3:.2f}, {m[1][1] / 1e3:.2f}], {_the_row(jm.verdict)}; against its fit including η = 1e-4, "
           f"{PAPER['eta_slope'] / 1e3:.2f} × 10³, {_the_row(pt.verdict, True, 'it')}")
    if jm.verdict == INCONCLUSIVE:
        return out + (f"; then R2, too few seeds: at {cells.seeds_per_cell(row.scale)} our CI reaches the matched value and "
                      f"leaves the tolerance band; about {row.seeds_to_decide or 'more'} seeds per η would decide it")
    if jm.holds and not pt.holds:
        return out + ": condition (the paper's fit includes η = 1e-4)"
    return out + (": it holds on either range" if jm.holds else ": not the condition")


def _decide_text_data(row: Any, text: str, data: str, j_data: Judgement, seeds: int | None, per: str) -> str:
    """R0 for a row whose text and released data disagree: its verdict against each (``j_data``:
    against the data, measured with ``seeds`` per cell)."""
    out = (f"R0, text against its released data: against the text's {text} {_the_row(row.verdict)}; against the "
           f"released data's {data} {_the_row(j_data.verdict, subject='it')}")
    text_holds = row.verdict in (CONSISTENT, CLOSE)
    if j_data.holds and not text_holds:
        return out + ": the paper's text against its released data (our runs agree with the data)"
    if j_data.verdict == INCONCLUSIVE:
        return out + (f": our CI reaches the released data's value but is too wide to call it consistent (R2: "
                      f"about {j_data.seeds_to_decide(seeds) or 'more'} seeds per {per} would decide it)")
    if text_holds:
        return out + ": the text holds"
    return out + ": not the text against its data (ours differs from both)"


def _decide_2el(P: pm.Values, r: Results, row: Any) -> str:
    e = r.errors.get("2ηλ")
    if e is None:
        return f"no reading: {row.reason}"
    sd = compare(INTERVALS["mae"], e.mae, tol=TOL["mae"]).verdict
    pt = compare(PAPER["mae"], e.mae, tol=TOL["mae"]).verdict
    lo, hi = PAPER["mae_ci"]
    out = (f"R0, the paper's uncertainty: against its bootstrap CI [{lo}, {hi}] the MAE {fmt_ci(e.mae, '.1f', ' %')} "
           f"is {sd}; against the point {PAPER['mae']} it would be {pt}")
    parts = dict(Judgement.from_dict(row.judgement).parts)
    rest = [n for n, j in parts.items() if n != "MAE" and j.verdict != CONSISTENT]
    if rest:
        out += (f"; {_the_row(row.verdict)} through {and_list(f'{n} ({parts[n].verdict})' for n in rest)}: "
                f"{e.over}/{e.n} over against {PAPER['over'][0]}/{PAPER['over'][1]}, {e.within_2x}/{e.n} within 2× "
                f"against {PAPER['within_2x'][0]}/{PAPER['within_2x'][1]}")
    return out


def diagnose(P: pm.Values, r: Results, V: Verdicts) -> list[Diagnosis]:
    """Each registered diagnosis (:data:`DIAGNOSES`) with its outcome computed from the runs by its
    rule, one sentence naming the rule (the deciding runs of 3A and 3B not all in the store:
    :func:`grokkit.book.diagnoses.pending`); then, for every other row that calls for one, R2 (too
    few seeds) or a note that none was registered. The outcomes are written into ``V``'s rows
    (:func:`grokkit.book.diagnoses.apply`)."""
    mod_seeds = cells.scale_note(r.runs["moduli"], "p").seeds
    rules: dict[str, Callable[[Any], str]] = {
        "T_grok ∝ 1/λ": lambda row: _decide_lambda_slope(P, r, row),
        "…but only approximately": lambda row: _decide_lambda_ratio(P, r, row),
        "Multiplication groks": lambda row: _decide_multiplication(P, r, row),
        "Predictor at memorization (rate from 100 steps": lambda row: _decide_window(P, r, row, V),
        "Predictor at memorization (rate from the first": lambda row: _decide_window(P, r, row, V),
        "V contracts geometrically": lambda row: _decide_r0(P, r, row, "gamma"),
        "The exponential fit describes V": lambda row: _decide_r0(P, r, row, "r2"),
        "Main cell": lambda row: _decide_r0(P, r, row, "main"),
        "T_grok ∝ 1/η": lambda row: _decide_eta(P, r, row),
        "The delay follows ln(V_mem/V_post) across moduli": lambda row: _decide_text_data(
            row, f"{PAPER['mod_r']}", f"{PAPER['mod_r_repo']}",
            compare(PAPER["mod_r_repo"], r.mod_r, atol=TOL["r"]), mod_seeds, "modulus"),
        "…with slope about 1": lambda row: _decide_text_data(
            row, f"{PAPER['mod_slope']} ± {PAPER['mod_slope_pm']}", f"{PAPER['mod_slope_repo']}",
            compare(PAPER["mod_slope_repo"], r.mod_slope, tol=TOL["mod_slope"]), mod_seeds, "modulus"),
        "Predictor at memorization (rate 2ηλ)": lambda row: _decide_2el(P, r, row),
    }
    ds = []
    for d in DIAGNOSES:
        row = _row(V, d.claim)
        if row is None:
            continue
        if row.verdict == NO_DATA:
            ds.append(d.decided(f"no reading at this preset: {row.reason}" + (
                f"; {_pending_law(r)}" if d.claim == "T_grok ∝ 1/λ" and len(r.dl_law) < r.dl_law_want else "")))
            continue
        ds.append(d.decided(rules[d.claim](row)))
    ds = fill(V, ds)
    ds = [d.decided(d.outcome + _lambda_above(P, r)) if d.claim.startswith(CLAIM_WHICH) else d for d in ds]
    apply(V, ds)
    return ds


def _pending_law(r: Results) -> str:
    """3A's two rows waiting for its runs over λ ∈ [0.1, 1]."""
    lo, hi = LAMBDA_REGIME
    return pending(len(r.dl_law), r.dl_law_want, f"runs of 3A over λ ∈ [{lo:g}, {hi:g}] (the runs these rows read)")


def _lambda_above(P: pm.Values, r: Results) -> str:
    """The clause 3A's cells above the 1/λ regime (λ = 2 at the book and paper presets) add to the
    "which λ grok" row's diagnosis (addendum of 2026-12-05): each cell's count at 3A's budget against
    the paper's Tab 3 count, judged by the row's rule; pending until all those runs are stored."""
    above = [w for w in P.decide_lambdas if w > LAMBDA_REGIME[1] and w in PAPER["lam_grokked"]]
    if not above or not r.dl_above_want:
        return ""
    where = f"3A at {P.decide_lambda_budget:,} steps"
    if P.decide_lambda_budget < PAPER["lam_budget"]:
        return f"; {where}: below the paper's {PAPER['lam_budget']:,}, so its λ > {LAMBDA_REGIME[1]:g} cannot test the count"
    if len(r.dl_above) < r.dl_above_want:
        return (f"; {where}: λ = {and_list(f'{w:g}' for w in above)}: "
                f"{pending(len(r.dl_above), r.dl_above_want, 'runs of those cells')}")
    out = []
    for w in above:
        cell = r.dl_above[np.isclose(r.dl_above["weight_decay"], w)]
        pk, pn = PAPER["lam_grokked"][w]
        k, n = int((cell["status"] == "grokked").sum()), len(cell)
        j = count(pk, pn, k, n, atol=TOL["fraction"])
        out.append(f"λ = {w:g}: {k}/{n} grok against the paper's {pk}/{pn}, {j.verdict} ({j.reason})")
    return f"; {where}: {'; '.join(out)}"


def scale_all(r: Results) -> str:
    """The scale of every run of the chapter, for the page's closing line (a run filed under two
    experiments counts in each)."""
    return cells.scale_note(pd.concat(list(r.runs.values()), ignore_index=True))
