"""Chapter 3, the logarithmic free-contraction law (paper 3): after memorization weight decay
contracts the squared norm V geometrically, and the network groks once V has come down from
V_mem to V_post, so that ``T_grok - T_mem = Θ((ηλ)^-1 ln(V_mem / V_post))``.

The chapter's parameters and presets, the paper's figures and the tolerances (fixed before any
result was read), its design (the main cell, sweeps over λ, η and the modulus, and the side tasks
multiplication and sparse parity), the analysis of their runs and norm traces, the delay
predictor, the tables and numbers the page shows, and its verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from ..text import fmt_ci, levels, scaled
from ..verdicts import at_least, at_most, at_paper_condition, combine, compare, count, Judgement, NO_DATA, Verdicts

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
            d_embed=128, d_hidden=512, n_heads=4)
PRESETS = PARAMETERS.presets(
    smoke=dict(BOOK, p=31, seeds=6, calibration_seeds=2, lr=1e-2,
               weight_decays=[0.1, 0.3, 1.0], lambda_seeds=[2, 2, 2], lambda_budgets=[4000, 3000, 3000],
               lrs=[1e-2, 5e-3], lr_seeds=[2, 2], lr_budgets=[3000, 4000], moduli=[29, 31], moduli_seeds=2,
               mul_moduli=[31], mul_seeds=2, parity_bits=[8], parity_seeds=2, parity_train=1000,
               budget=3000, post_grok_steps=200, eval_schedule="every:50", fit_window=150,
               d_embed=32, d_hidden=64, n_heads=2),
    book=BOOK,
    paper=dict(BOOK, seeds=80, calibration_seeds=20, lambda_seeds=[10] * 8,
               lambda_budgets=[15_000, 15_000] + [80_000] * 6,
               lrs=[2e-3, 1e-3, 5e-4, 2e-4, 1e-4], lr_seeds=[5] * 5,
               lr_budgets=[50_000, 100_000, 200_000, 200_000, 200_000], mul_seeds=5),
)

#: Paper 3's figures (v2 tables; repo values where the paper's are not reproducible from its data).
PAPER = dict(
    gamma=0.00141, gamma_sd=0.00007, r2=0.9991, t_mem=840, t_grok=1840, delay=1000, v_mem=3900, v_post=300,
    t_esc=1251, esc_over_delay=1251 / 1000,
    lam_grokked={0.001: (0, 10), 0.01: (0, 10), 0.1: (10, 10), 0.3: (10, 10), 0.5: (10, 10), 1.0: (10, 10),
                 2.0: (3, 10), 5.0: (0, 10)},
    lam_t={0.1: 12700, 0.3: 4900, 0.5: 3150, 1.0: 2100, 2.0: 43667},
    lam_slope=1182, lam_slope_ci=(1082, 1271), lam_r2=0.971, lam_ratio=12700 / 2100,
    eta_t={2e-3: 840, 1e-3: 1760, 5e-4: 5280, 2e-4: 35680, 1e-4: 100350}, eta_slope=10.62e3, eta_r2=0.921,
    mod_delay={53: 2086, 67: 1715, 89: 1328, 97: 950, 101: 942, 113: 671, 127: 585},
    mod_r=0.91, mod_r_repo=0.836, mod_slope=1.08, mod_slope_repo=2.03,
    mul_grokked=(20, 20), mul_ratio=3.0,
    parity_grokked=(15, 15), parity_post_over_mem=(1.64, 1.97),
    mae=34.6, mae_ci=(30.0, 39.4), over=(57, 60), within_2x=(60, 60),
)
#: Tolerances, fixed before any result was read (relative unless marked absolute).
TOL = dict(gamma=0.10, r2=0.002, times=0.20, norms=0.20, esc_ratio=0.15, fraction=0.15, lam_slope=0.15,
           lam_ratio=0.20, eta_slope=0.25, r=0.10, mod_slope=0.25, mul_ratio=0.30, parity_ratio=0.30,
           parity_delay=100, mae=0.25)
#: The paper's V_mem and V_post, as the main figure marks them.
PAPER_NORMS = {"V_mem": PAPER["v_mem"], "V_post": PAPER["v_post"]}
#: The λ window over which the paper fits T_grok against 1/λ.
LAMBDA_REGIME = (0.1, 1.0)
#: Sparse parity's protocol (paper 3's side experiment): a two-layer MLP, 3 relevant bits, 95 %.
PARITY = dict(task="parity", model="parity_mlp", parity_k=3, parity_test=5000, batch_size=256,
              grok_threshold=0.95, eval_schedule="every:20")
#: The experiments and the labels their analysis reads.
LABELS = {"main": ["seed_role"], "lambda": ["weight_decay"], "eta": ["lr"], "moduli": ["p"],
          "multiplication": ["p"], "parity": ["parity_n"]}
#: The delay predictors (paper 3's, with the rate from the norm trace or 2ηλ, and one with a learned
#: scale), by key: the keyword arguments of :meth:`DelayPredictor.calibrate` besides the window.
PREDICTORS = {"window": {}, "2ηλ": {"rate": "2ηλ"}, "corrected": {"learn_scale": True}}
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
    ], columns=["quantity", "tolerance"])


# ---------------------------------------------------------------------------- design
def design(P: pm.Values) -> Design:
    """Every run of the chapter with paper 3's protocol: the main cell (its first
    ``calibration_seeds`` calibrate the predictor, the others evaluate it), the λ sweep at ``lr``,
    the η sweep at ``weight_decay`` (each with its seeds and budgets per level; the level of the
    main cell keeps ``budget``, so its runs are the main cell's first seeds, trained once), the
    modulus sweep, multiplication and sparse parity."""

    def run(seed: int, p: int = P.p, lr: float = P.lr, wd: float = P.weight_decay, budget: int = P.budget,
            **kw: Any) -> RunConfig:
        return paper3(p=p, seed=seed, lr=lr, weight_decay=wd, max_steps=budget, extra_steps=P.post_grok_steps,
                      eval_schedule=P.eval_schedule, trace_every=P.trace_every, d_embed=P.d_embed,
                      d_hidden=P.d_hidden, n_heads=P.n_heads, **kw)

    d = Design()
    for s in range(P.seeds):
        d.add("main", run(s), seed_role="calibration" if s < P.calibration_seeds else "evaluation")
    for wd, n, b in zip(P.weight_decays, P.lambda_seeds, P.lambda_budgets):
        for s in range(n):
            d.add("lambda", run(s, wd=wd, budget=b if wd != P.weight_decay else P.budget), weight_decay=wd)
    for lr, n, b in zip(P.lrs, P.lr_seeds, P.lr_budgets):
        for s in range(n):
            d.add("eta", run(s, lr=lr, budget=b if lr != P.lr else P.budget), lr=lr)
    for q in P.moduli:
        for s in range(P.moduli_seeds):
            d.add("moduli", run(s, p=q), p=q)
    for q in P.mul_moduli:
        for s in range(P.mul_seeds):
            d.add("multiplication", run(s, p=q, task="mul"), p=q)
    for n_bits in P.parity_bits:
        for s in range(P.parity_seeds):
            cfg = paper3(**PARITY, parity_n=n_bits, parity_train=P.parity_train, seed=s, max_steps=P.budget,
                         extra_steps=P.post_grok_steps, trace_every=P.trace_every)
            d.add("parity", cfg, parity_n=n_bits)
    return d


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


def analyse(P: pm.Values, d: Design, st: RunStore) -> Results:
    """The chapter's numbers from the runs of :func:`design` (after ``d.run(...)``) and their norm
    traces in ``st``."""
    runs = {name: d.table(name, LABELS[name]) for name in d.experiments}

    def quantities(name: str) -> pd.DataFrame:
        table = runs[name]
        if not len(table):
            return table
        return contraction.run_quantities(table, st.traces(table["key"]), window=P.fit_window)

    qm = quantities("main")
    calib = qm[qm["seed_role"] == "calibration"] if len(qm) else qm
    evals = qm[(qm["seed_role"] == "evaluation") & qm["grokked"]] if len(qm) else qm
    grokked = qm[qm["grokked"]] if len(qm) else qm
    est = {c: cells.mean_ci(grokked[c]) if len(grokked) else None
           for c in ("t_mem", "t_grok", "delay", "v_mem", "v_post", "gamma_fit", "r2_fit", "t_esc_2el", "t_esc_fit")}
    ratio = {c: cells.mean_ci(grokked[c] / grokked["delay"]) if len(grokked) else None
             for c in ("t_esc_2el", "t_esc_fit")}

    lam = runs["lambda"]
    lo, hi = LAMBDA_REGIME
    regime = lam[(lam["weight_decay"] >= lo) & (lam["weight_decay"] <= hi) & (lam["status"] == "grokked")]
    lam_fit, lam_slope = _line(1.0 / regime["weight_decay"], regime["t_grok"], regime["weight_decay"])

    eta = runs["eta"]
    eta_ok = eta[eta["status"] == "grokked"]
    eta_fit, eta_slope = _line(1.0 / eta_ok["lr"], eta_ok["t_grok"], eta_ok["lr"])

    qmod = quantities("moduli")
    mod_ok = qmod[qmod["grokked"] & np.isfinite(qmod["log_ratio"])] if len(qmod) else qmod
    enough = len(mod_ok) >= 3 and mod_ok["log_ratio"].nunique() >= 3

    qmul, qpar = quantities("multiplication"), quantities("parity")
    mul_ratio, mul_vmem = _multiplication_vs_addition(qmul, qmod, P.mul_moduli)
    if len(qpar):
        qpar = qpar.assign(post_over_mem=qpar["v_post"] / qpar["v_mem"])

    predictors, scored = _predict(calib, evals, P.fit_window)
    return Results(
        runs=runs, qm=qm, calib=calib, evals=evals, est=est, ratio=ratio,
        n_main=len(qm), k_main=int(qm["grokked"].sum()) if len(qm) else 0,
        lam=lam, lam_cells=cells.cell_table(lam, "weight_decay"), ql=quantities("lambda"), regime=regime,
        lam_fit=lam_fit, lam_slope=lam_slope,
        lam_ratio=cells.delay_ratio(cells.select(lam, weight_decay=1.0), cells.select(lam, weight_decay=0.1)),
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
    )


def _line(x: pd.Series, y: pd.Series, levels_of: pd.Series) -> tuple[Any, Estimate | None]:
    """:func:`stats.fit_line_ci` of ``y`` on ``x`` when the runs span at least two levels, else
    ``(None, None)``."""
    return stats.fit_line_ci(x, y) if levels_of.nunique() >= 2 else (None, None)


def _multiplication_vs_addition(qmul: pd.DataFrame, qmod: pd.DataFrame,
                                mul_moduli: list[int]) -> tuple[Estimate | None, float | None]:
    """Multiplication against addition at the moduli where both have runs: the geometric mean of
    the ratios of their median delays (censored delays kept, with a CI) and of their median V_mem."""
    add_at = {q: qmod[qmod["p"] == q] for q in mul_moduli}
    mul_at = {q: qmul[qmul["p"] == q] for q in mul_moduli} if len(qmul) else {}
    both = [q for q in mul_moduli if q in mul_at and len(add_at[q]) and len(mul_at[q])]
    pairs = [(contraction.delays_as_times(add_at[q]), contraction.delays_as_times(mul_at[q])) for q in both]
    vmem = [np.median(mul_at[q]["v_mem"]) / np.median(add_at[q]["v_mem"]) for q in both]
    return (cells.mean_delay_ratio(pairs) if pairs else None,
            float(np.exp(np.mean(np.log(vmem)))) if vmem else None)


def _predict(calib: pd.DataFrame, evals: pd.DataFrame, window: int) -> tuple[
        dict[str, DelayPredictor], list[tuple[pd.DataFrame, PredictionErrors, str]]]:
    """The :data:`PREDICTORS` calibrated on the calibration seeds and scored on the evaluation
    seeds, then the baseline that predicts the calibration seeds' median delay for every run;
    nothing without grokked calibration runs or evaluation runs."""
    if not (len(calib) and calib["grokked"].any() and len(evals)):
        return {}, []
    predictors = {k: DelayPredictor.calibrate(calib, window=window, **kw) for k, kw in PREDICTORS.items()}
    labels = {"window": f"paper's, rate from the first {window} steps", "2ηλ": "paper's, rate 2ηλ",
              "corrected": "rate from the window × a scale learned on calibration"}
    scored = []
    for key, pred in predictors.items():
        held_out = evals.assign(predicted=pred.predict_runs(evals).to_numpy())
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
    return [(frame, label, colour) for (frame, _, label), colour in zip(r.scored, ["C0", "C1", "C2", "0.5"])]


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
    }


# ---------------------------------------------------------------------------- verdicts
def verdicts(P: pm.Values, r: Results) -> Verdicts:
    """One row per claim of paper 3, judged under :data:`TOL`; the rows that depend on the modulus
    are "no data" at another p than the paper's 97."""
    V = Verdicts(CHAPTER, TITLE, P.preset)
    runs, est = r.runs, r.est

    def here(j: Judgement) -> Judgement:
        return at_paper_condition(j, P.p, 97)

    main_scale = cells.scale_note(runs["main"])
    two_el = fmt_ci(scaled(est["gamma_fit"], 1 / (2 * P.lr * P.weight_decay)), ".2f")
    V.add("V contracts geometrically after memorization: γ_fit at ηλ = 0.001",
          here(compare(PAPER["gamma"], est["gamma_fit"], tol=TOL["gamma"], fmt=".5f")),
          paper="0.00141 ± 0.00007 (10 seeds)", note=f"{two_el} × 2ηλ", scale=main_scale,
          section="sec-ch3-contraction")
    V.add("The exponential fit describes V after T_mem (R²)",
          at_least(0.999, est["r2_fit"], atol=TOL["r2"], fmt=".4f"), paper="R² 0.9991 ± 0.0003, 'R² > 0.999'",
          scale=main_scale, section="sec-ch3-contraction")
    times = {"T_mem": "t_mem", "T_grok": "t_grok", "delay": "delay", "V_mem": "v_mem", "V_post": "v_post"}
    V.add("Main cell: T_mem, T_grok, delay, V_mem, V_post",
          here(combine({name: compare(PAPER[k], est[k], tol=TOL["norms" if k.startswith("v_") else "times"],
                                      fmt=",.0f") for name, k in times.items()})),
          paper="840 / 1840 / 1000 / ≈3900 / ≈300", ours=levels([est[k] for k in times.values()], ",.0f"),
          scale=main_scale, section="sec-ch3-contraction")
    V.add("The escape time ln(V_mem/V_post)/(2ηλ) overstates the delay by about 25 %",
          here(compare(PAPER["esc_over_delay"], r.ratio["t_esc_2el"], tol=TOL["esc_ratio"], fmt=".2f", unit="×")),
          paper="1251 against 1000: 1.25×", note=f"with γ_fit instead: {fmt_ci(r.ratio['t_esc_fit'], '.2f')}×",
          scale=main_scale, section="sec-ch3-contraction")
    _lambda_rows(V, r, here)
    V.add("T_grok ∝ 1/η: slope of T on 1/η",
          here(compare(PAPER["eta_slope"], scaled(r.eta_slope, 1e3), tol=TOL["eta_slope"], fmt=",.0f")),
          paper="10.62 × 10³ (η in units of 10⁻³), R² 0.921",
          note=(f"R² {r.eta_fit.r2:.3f}; η ≥ {min(P.lrs):g} (the paper's fit includes 1e-4)" if r.eta_fit else ""),
          scale=cells.scale_note(r.eta, "lr"), section="sec-ch3-eta")
    mod_scale = cells.scale_note(runs["moduli"], "p")
    V.add("The delay follows ln(V_mem/V_post) across moduli: Pearson r",
          compare(PAPER["mod_r"], r.mod_r, atol=TOL["r"], fmt=".2f"),
          paper="0.91 (49 runs); its released data: 0.836",
          note=f"the released data's 0.836 lies {inside(PAPER['mod_r_repo'], r.mod_r)} our CI",
          scale=mod_scale, section="sec-ch3-ratio")
    V.add("…with slope about 1 in units of ln(ratio)/(2ηλ)",
          compare(PAPER["mod_slope"], r.mod_slope, tol=TOL["mod_slope"], fmt=".2f"),
          paper="1.08 ± 0.15; its released data: 2.03",
          note=f"the released data's 2.03 lies {inside(PAPER['mod_slope_repo'], r.mod_slope)} our CI",
          scale=mod_scale, section="sec-ch3-ratio")
    _task_rows(V, r)
    _predictor_rows(V, P, r, here, main_scale)
    return V


def _lambda_rows(V: Verdicts, r: Results, here: Callable[[Judgement], Judgement]) -> None:
    """The λ sweep's rows: which λ grok, the 1/λ slope and the ratio T(λ = 0.1) / T(λ = 1)."""
    lam, lam_scale = r.lam, cells.scale_note(r.lam, "weight_decay")
    counts = {}
    for w, (pk, pn) in PAPER["lam_grokked"].items():
        cell = lam[np.isclose(lam["weight_decay"], w)]
        if len(cell):
            counts[f"λ = {w:g}"] = count(pk, pn, int((cell["status"] == "grokked").sum()), len(cell),
                                         atol=TOL["fraction"])
    V.add("Which λ grok (fraction grokked per λ)", here(combine(counts)),
          paper="0, 0, 10, 10, 10, 10, 3, 0 of 10 (λ = 0.001 … 5)",
          ours=", ".join(f"{int(c.n_grokked)}/{int(c.n)}" for c in r.lam_cells.itertuples()) or "n/a",
          scale=lam_scale, section="sec-ch3-lambda")
    V.add("T_grok ∝ 1/λ over λ ∈ [0.1, 1]: slope (steps)",
          here(compare(PAPER["lam_slope"], r.lam_slope, tol=TOL["lam_slope"], fmt=",.0f")),
          paper="1182 [1082, 1271], R² 0.971", note=f"R² {r.lam_fit.r2:.3f}" if r.lam_fit else "",
          scale=cells.scale_note(r.regime, "weight_decay"), section="sec-ch3-lambda")
    V.add("…but only approximately: T(λ = 0.1) / T(λ = 1)",
          here(compare(PAPER["lam_ratio"], r.lam_ratio, tol=TOL["lam_ratio"], fmt=".1f", unit="×")),
          paper="12700 / 2100 = 6.0× (not 10×)", scale=lam_scale, section="sec-ch3-lambda")


def _task_rows(V: Verdicts, r: Results) -> None:
    """Multiplication (groks, later than addition) and sparse parity (no delay, no contraction),
    each where it has runs."""
    qmul, qpar = r.qmul, r.qpar
    if len(qmul):
        k = int(qmul["grokked"].sum())
        V.add("Multiplication groks, about 3× later than addition",
              combine({"all grok": count(*PAPER["mul_grokked"], k, len(qmul), atol=TOL["fraction"]),
                       "delay ratio": compare(PAPER["mul_ratio"], r.mul_ratio, tol=TOL["mul_ratio"], fmt=".1f",
                                              unit="×")}),
              paper="20/20 grok; delays ≈ 3× addition's",
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
    """The predictor at memorization, with the fitted rate and with 2ηλ: MAE, overestimates and
    predictions within 2× ("no data" without evaluation runs)."""
    for key, what in (("window", f"rate from the first {P.fit_window} steps after T_mem"), ("2ηλ", "rate 2ηλ")):
        e = r.errors.get(key)
        if e is None:
            V.add(f"Predictor at memorization ({what})", Judgement(NO_DATA, "no evaluation runs", kind="none"),
                  paper="MAE 34.6 % [30.0, 39.4]", scale=main_scale, section="sec-ch3-predictor")
            continue
        V.add(f"Predictor at memorization ({what}): MAE, overestimates, within 2×",
              here(combine({"MAE": compare(PAPER["mae"], e.mae, tol=TOL["mae"], fmt=".1f", unit=" %"),
                            "overestimates": count(*PAPER["over"], e.over, e.n, atol=TOL["fraction"]),
                            "within 2×": count(*PAPER["within_2x"], e.within_2x, e.n, atol=TOL["fraction"])})),
              paper="MAE 34.6 % [30.0, 39.4]; 57/60 over; 60/60 within 2×",
              ours=f"MAE {fmt_ci(e.mae, '.1f', ' %')}; {e.over}/{e.n} over; {e.within_2x}/{e.n} within 2×",
              note=(f"V̂_post = {r.predictors[key].v_post:,.0f} from {len(r.calib)} calibration seeds; baseline "
                    f"(median calibration delay): MAE {fmt_ci(r.errors['baseline'].mae, '.1f', ' %')}"),
              scale=main_scale, section="sec-ch3-predictor")


def scale_all(r: Results) -> str:
    """The scale of every run of the chapter, for the page's closing line (a run filed under two
    experiments counts in each)."""
    return cells.scale_note(pd.concat(list(r.runs.values()), ignore_index=True))
