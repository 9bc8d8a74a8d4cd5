"""Chapter 7, the three laws together (issue 19): cross-predictions none of the three papers
makes, and the experiments that decide between their laws.

**Phase 1: the pre-registration.** This module holds, as data, every prediction the chapter will
score, fixed before any of its outcomes was computed: the rules (:data:`REGISTRATION`), the run
sets that calibrate and those that evaluate them (:data:`RUN_SETS`, disjoint for every
prediction), each verdict row with its metric, baselines, decision rule and tolerance
(:data:`PREDICTIONS`, :data:`TOL`), the sentences the page derives from them (:data:`SENTENCES`)
and the new training as plain specifications with presets and costs (:data:`TRAINING`,
:data:`COSTS`). ``docs/chapter7-registration.md`` says the same in prose. Nothing here trains,
reads the store or computes a result. The implementation (phase 2) adds the parameters, designs,
analysis and verdicts below these constants and does not change them; the page names the commit
that added them (:data:`REGISTERED`).

Without ``PARAMETERS`` this module is a chapter still being registered:
:func:`grokkit.book.chapters.modules` skips it and no page is built from it yet.

This file is that registration as committed at d8cece4, byte for byte but for this sentence and
:data:`REGISTERED` (filled in by the commit after it), as
``git diff d8cece4:grokkit/book/chapters/three_laws.py HEAD:grokkit/book/chapters/three_laws/registration.py``
shows, and the implementation "below" it lives beside it in :mod:`.designs`, :mod:`.laws`,
:mod:`.analysis` and :mod:`.page`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

CHAPTER, TITLE = "07_three_laws", "7. The three laws together"
#: The commit that added this registration (filled in by the commit after it; the page names it).
REGISTERED = "d8cece4"
#: The registration in prose.
REGISTRATION_DOC = "docs/chapter7-registration.md"
#: The store inventory the counts below come from (configs, seeds and statuses only).
INVENTORY = "data/runs on 2026-12-05: 2,241 records"


# ---------------------------------------------------------------------------- common rules
#: Start of the accumulated progress on paper 1's MLP (chapter 2's clamp start t_int).
T_INT = 500
#: The absolute log error of a late-censored prediction (the rule never fires, even continued past the
#: run's last recorded step with N and V held there): later than any real error, never a missing value.
CENSORED_LOG_ERROR = 10.0
#: Every bootstrap of the chapter: percentile intervals, runs resampled within their stratum.
BOOTSTRAP = dict(resamples=2000, seed=0, ci=0.95, method="percentile", rng="numpy.random.default_rng")
#: A cell counts when more than this share of its runs grokked.
MAJORITY = 0.5
#: The config fields a cell (C2) does not share: its runs may differ in these.
CELL_IGNORES = ("seed", "max_steps", "extra_steps", "stop_at_grok", "trace_every", "eval_schedule")
#: Decision words of a comparison d = MALE_A − MALE_B (C6).
DECISIONS = {"better": "CI of d entirely below 0", "worse": "CI of d entirely above 0", "tie": "otherwise"}
#: The categories of the exponential-in-ρ rule (C7) and the verdict of "the exponential law holds" for each.
EXP_CATEGORIES = {"strong": "consistent", "weak": "partly", "flat": "differs", "inverse": "differs",
                  "undecided": "inconclusive"}

#: Tolerances and bounds, fixed before any result was read (relative unless marked absolute).
TOL = dict(
    male=0.10,  # C6: MALE_A − MALE_B at most 0, absolute in ln units
    bias=math.log(1.25),  # 1d: median signed log error of the progress law against 0, absolute
    wc=0.04,  # 1e, 1f: predicted against measured norm at grokking (chapter 1's per-level 4 %)
    r2=0.80, r2_atol=0.05,  # 3a, 3b: pooled out-of-family R² at least 0.8, absolute tolerance
    r2_diff=0.05,  # 3c: R²(L) − R²(ρ) at least 0, absolute
    family_r2=0.5, family_mae=math.log(2),  # reported: a family "carries" the variable
    exp_r2=0.8, flat=2.0,  # C7: strong needs R² >= 0.8 and the α CI above +2; flat: CI within ±2
    alpha_rel=0.25, alpha_abs=1.0,  # 4a, 4c: same exponent as AdamW, max(25 % of |α|, 1.0) absolute
    ratio_bound=2.0, ratio=0.25,  # 2b-2 (at most 2x), 2b-3 (at least 2x)
    never_delays=0.20,  # 4b: T(ρ) / T_free at most 1
    grok_check=0.90, fraction=0.15,  # 2c-4: share classified right at least 0.9, absolute
    cv_seeds=0.04, spread=0.5,  # 5a: chapter 1's seed-CV bound and its tolerance
    parity_wc=0.10, parity_ratio=0.30,  # 5b, 5c; 5d
    delay_bound=200, delay_atol=100,  # 5e: paper 3's 200-step log interval, chapter 3's 100-step tolerance
    norm_growth=1.0, norm_growth_atol=0.10,  # 5f
)

#: The papers' figures the rows quote (papers.md), as the papers write them.
PAPER = dict(
    wc_lambda_text={0.3: "63", 1.0: "55.1", 3.0: "48.7"},  # paper 1 at fraction 0.5 (chapter 1's R0 values)
    fu_claim="capping the weight norm never delays grokking under Muon (Fu 2026, muon-norm-cap, S5)",
    parity_wc=20.625, parity_wc_m={600: 16.9, 1000: 20.625, 1500: 23.4},
    parity_t={"m600": 41729, "m1000": 2647.5, "m1500": 1634.5, "rho0.90": 2687, "rho1.30": 6538.5},
    parity_ratio=6538.5 / 2687,  # T(1.30) / T(0.90) = 2.43
    parity_p3="15/15 reach 95 % with delay <= 0 (T_mem = T_grok = 200, its first log step)",
    dense_t={0.85: 1495, 1.00: 3999, 1.15: 13030, 1.30: 28205},  # paper 1, p = 59 (cost basis only)
    enc_t_grok=1840,  # paper 3's main cell (cost basis only)
)


# ---------------------------------------------------------------------------- protocols
#: Paper 1's MLP protocol as stored (``engine.protocols.paper1`` at the book's widths).
MLP_P1 = dict(task="add", model="mlp", loss="ce", optimizer="adamw", decay_order="before", batch_size=None,
              d_embed=128, d_hidden=256, layernorm=False, temperature=1.0, fork_step=0, dtype="float32",
              mem_threshold=0.99, grok_threshold=0.9, clamp_group=None)
#: No clamp (a free run).
FREE = dict(clamp_target=None, clamp_scale=None)
#: Paper 3's encoder protocol as stored (``engine.protocols.paper3`` at the book's widths).
ENC_P3 = dict(task="add", model="encoder", p=97, train_frac=0.5, optimizer="adamw", batch_size=512, loss="ce",
              d_embed=128, d_hidden=512, n_heads=4, temperature=1.0, fork_step=0, dtype="float32",
              mem_threshold=0.99, grok_threshold=0.99)
#: Paper 1's sparse-parity protocol (E10), as 7P trains it.
PARITY_P1 = dict(task="parity", model="parity_mlp", parity_n=30, parity_k=3, parity_test=2000, d_hidden=512,
                 batch_size=None, optimizer="adamw", decay_order="before", lr=1e-3, weight_decay=1.0, loss="ce",
                 mem_threshold=0.99, grok_threshold=0.9, eval_schedule="every:25")


# ---------------------------------------------------------------------------- run sets
@dataclass(frozen=True)
class RunSet:
    """A set of runs: its ``role``, the config fields its runs have (a value, or a tuple of
    allowed values), the conditions that are not field equalities (``where``, in words), and what
    the inventory holds now (``now``; the new runs of :data:`TRAINING`: what the book preset trains).
    A set of new runs is evaluation where it tests a rule and calibration where it sets another's
    targets (a sweep's free control); 2b-4 uses 7E's sweep as the calibration of the law it scores
    on other runs."""

    name: str
    role: str  # "calibration", "evaluation", "rotating" (leave-one-out) or "reference"
    fields: dict[str, Any]
    where: str
    now: str


RUN_SETS = {s.name: s for s in (
    RunSet("C2_dense", "calibration",
           {**MLP_P1, "p": 59, "train_frac": 0.4, "lr": 1e-3, "weight_decay": 1.0, "clamp_mode": "hold",
            "clamp_start": 500},
           "the runs of chapter 2's 'dense' experiment (pinned_norm_law.design at every preset whose runs are "
           "in the store); chapter 6's MLP clamps (w_c 54.71) are not chapter 2's and are not included",
           "10 levels rho 0.85..1.30 of w_c = 55.161 (targets 46.8869..71.7094) x 8 seeds = 80 runs"),
    RunSet("C2_matrix", "calibration",
           {**MLP_P1, "p": 59, "train_frac": 0.4, "lr": (2e-3, 4e-3, 8e-3), "weight_decay": 1.0,
            "clamp_mode": "hold", "clamp_start": 500},
           "chapter 2's 'matrix' experiment at lr 2e-3, 4e-3, 8e-3 (sensitivity S2 only)",
           "4 levels x 3 lrs x 8 seeds = 96 runs"),
    RunSet("free_cal_059", "calibration",
           {**MLP_P1, **FREE, "p": 59, "train_frac": 0.4, "lr": 1e-3, "weight_decay": 1.0},
           "every free run of paper 1's protocol at the calibration condition (baselines B1-B3 of §1; "
           "B2's V_post from those with extra_steps >= 2000)",
           "64 runs, seeds 0-19 (chapters 1, 2, 6; book and paper presets); 32 with extra_steps >= 2000"),
    RunSet("free_eval_059", "evaluation",
           {**MLP_P1, **FREE, "p": 59, "train_frac": 0.4},
           "(weight_decay, lr) != (1, 1e-3)",
           "40 runs in 7 cells: lr 3e-4, 3e-3 and lambda 0.3, 3 x 4 seeds (chapter 6, traced, +2000 steps); "
           "lr 2e-3, 4e-3, 8e-3 x 8 seeds (chapter 2's free controls)"),
    RunSet("free_cal_059_f05", "calibration",
           {**MLP_P1, **FREE, "p": 59, "train_frac": 0.5, "lr": 1e-3, "weight_decay": 1.0},
           "the constant baseline of the transfer rows 1f", "28 runs (8 book + 20 paper)"),
    RunSet("free_eval_059_f05", "evaluation",
           {**MLP_P1, **FREE, "p": 59, "train_frac": 0.5},
           "(weight_decay, lr) in {(0.3, 1e-3), (3, 1e-3), (3, 3e-4), (3, 3e-3)} (chapter 1's lambda and lr scans); "
           "the w_c part of 1f also reads free_cal_059_f05 (law only)",
           "4 cells x 28 runs"),
    RunSet("free_loso_059", "rotating",
           {**MLP_P1, **FREE, "p": 59, "train_frac": 0.4},
           "extra_steps >= 2000 (V_post measured); settings (lr, weight_decay) in {(3e-4, 1), (1e-3, 0.3), "
           "(1e-3, 1), (1e-3, 3), (3e-3, 1)}; each setting held out in turn, the other four calibrate",
           "48 runs: 4, 4, 32, 4, 4"),
    RunSet("enc_main", "calibration",
           {**ENC_P3, **FREE, "lr": 1e-3, "weight_decay": 1.0},
           "chapter 3's main cell, every seed in the store: w_c, w_c^head, t_int and T_free of 7E; baselines "
           "of 2b-4 and 2c",
           "50 runs, seeds 0-49"),
    RunSet("enc_eval", "evaluation",
           {**ENC_P3, **FREE},
           "(weight_decay, lr) != (1, 1e-3): chapter 3's lambda and eta sweeps and experiment 3A when in the store; "
           "grokked runs are scored, censored ones enter the counts and row 2c-4",
           "47 runs, 31 grokked (lambda 0.1, 0.3, 0.5 x 6; eta 2e-4: 3 of 4, 5e-4 and 2e-3 x 5)"),
    RunSet("mlp_pool", "rotating",
           {"task": "add", "model": "mlp", "loss": "ce", "optimizer": "adamw", "batch_size": None, "d_embed": 128,
            "d_hidden": 256, "stop_at_grok": True},
           "either decay order, float32 or float64; families (first match): fork, temperature, LayerNorm, group "
           "clamp, one-shot, clamp, free: eta, free: lambda, free: p, free: fraction, free: base; each family held "
           "out in turn, the others calibrate; MSE runs and the 800-step pre-fork states are not in it",
           "1,789 runs, 166 cells: fork 8, temperature 40, LayerNorm 4, one-shot 5, clamp 81, free eta 7, "
           "lambda 4, p 11, fraction 4, base 2, group clamp 0"),
    RunSet("parity_p3", "reference",
           {"task": "parity", "model": "parity_mlp", "parity_k": 3, "parity_train": 25000, "batch_size": 256,
            "grok_threshold": 0.95},
           "chapter 3's sparse-parity runs (paper 3's protocol), for 5g's comparison of protocols",
           "n 20, 30, 40 x 5 seeds = 15 runs"),
    RunSet("new_7E", "evaluation", {**ENC_P3, "lr": 1e-3, "weight_decay": 1.0, "clamp_mode": "hold"},
           "design 7E: total-norm sweep (2b-1, 2b-2, calibration of 2b-4; AdamW reference of 4c) and head sweep "
           "(2b-3)", "book: 24 + 8 runs"),
    RunSet("new_7M_free", "calibration", {**MLP_P1, **FREE, "optimizer": "muon", "p": 59, "train_frac": 0.4},
           "design 7M's free control at the chosen rung: w_c, t_int, T_free (4a, 4b)", "book: 6 runs"),
    RunSet("new_7M_clamp", "evaluation", {**MLP_P1, "optimizer": "muon", "p": 59, "train_frac": 0.4,
                                          "clamp_mode": "hold"},
           "design 7M's clamp sweep (4a, 4b)", "book: 24 runs"),
    RunSet("new_7S_free", "calibration", {**ENC_P3, **FREE, "optimizer": "sgd"},
           "design 7S's free control in the map cell: w_c, t_int, T_free (4c)", "book: 4 runs"),
    RunSet("new_7S_clamp", "evaluation", {**ENC_P3, "optimizer": "sgd", "clamp_mode": "hold"},
           "design 7S's clamp sweep (4c)", "book: 16 runs"),
    RunSet("new_7P_free", "evaluation", {**PARITY_P1, **FREE},
           "design 7P's free arms m 600 / 1000 / 1500 (measured in 5a-5c, 5e, 5f; the m = 1000 arm calibrates the "
           "clamp of 5d)", "book: 24 runs"),
    RunSet("new_7P_clamp", "evaluation", {**PARITY_P1, "parity_train": 1000, "clamp_mode": "hold",
                                          "clamp_start": 1000},
           "design 7P's clamped arms rho 0.90, 1.30 at m = 1000 (5d)", "book: 16 runs"),
    RunSet("new_7P_bridge", "evaluation", {**PARITY_P1, **FREE, "parity_train": (5000, 25000)},
           "design 7P's bridge arms (5g)", "book: 8 runs"),
)}


# ---------------------------------------------------------------------------- rules (the text)
#: Every rule the rows use, by id: common definitions (C*), laws and predictors, baselines and
#: sensitivities. :data:`PREDICTIONS` refers to these ids.
REGISTRATION = {
    "C1": "T_mem, T_grok: the recorded first evaluated step with train accuracy >= 0.99 and test accuracy >= "
          "the protocol's threshold (MLP and parity 0.9, encoder 0.99); delay = T_grok - T_mem.",
    "C2": "Cell: runs sharing every config field but CELL_IGNORES; its time is the Kaplan-Meier median of "
          "T_grok (censored at the last step); it counts when more than half of its runs grokked.",
    "C3": "N(t) = the counted norm, V(t) = sq_norm_all, L(t) = logit_scale, from the run's trace where it has "
          "one, else its stored trajectory; piecewise linear between recorded steps.",
    "C4": "e = ln(T_hat / T). A rule that has not fired by the run's last recorded step is a prediction later "
          "than the measurement, never missing: it is continued with N and V held at their last recorded values "
          "(errs late, against the law); one that still never fires is late-censored, e = +CENSORED_LOG_ERROR. "
          "MALE = median |e| over runs; within 2x = share with |e| <= ln 2.",
    "C5": "Bootstrap: BOOTSTRAP, runs resampled within their stratum; calibration fixed in §1, §2b, §2c, §4, "
          "§5 (evaluation runs resampled), recomputed per resample in the leave-one-out sections §2a and §3.",
    "C6": "'A predicts at least as well as B': d = MALE_A - MALE_B on the same runs, paired bootstrap CI; "
          "verdict at_most(0, d, atol=TOL['male']); the row also states the decision (DECISIONS).",
    "C7": "Exponential rule: analysis.stats.fit_exponential on the sweep (ln KM median T_grok on rho over the "
          "counting levels, alpha CI by resampling runs within levels), R2 on the level medians. strong: CI above "
          "+TOL['flat'] and R2 >= TOL['exp_r2']; weak: CI above 0 otherwise; flat: CI within [-2, 2] containing 0; "
          "inverse: CI below 0; undecided: otherwise. Verdict of 'the law holds': EXP_CATEGORIES.",
    "C8": "New sweeps: w_c = median N at T_grok over the grokked runs of the sweep's free control (which must "
          "grok in >= 3/4 of its runs, else no sweep and no data); targets held_norm(rho, w_c); with Delta the "
          "evaluation interval, a = Q75(T_mem) + Delta, b = Q25(T_grok) - Delta over the grokked free runs; "
          "t_int = a rounded up to a multiple of Delta if a <= b, else b rounded down (the page counts seeds "
          "clamped before memorizing); budget = exponential_budget(4 T_free, rho, 8, floor, cap), T_free the "
          "free control's KM median; clamped runs stop at grokking.",
    "C9": "Prediction errors are scored on grokked evaluation runs; censored ones are reported as counts.",
    "1P": "Paper 1's clamped law as accumulated progress: D(N) = T_clamp(N) - T_INT from the calibration "
          "levels (N_i = distinct clamp targets, D_i = KM median T_grok - T_INT, counting levels); ln D linear "
          "in N between adjacent levels, continued outside them with beta = OLS slope of ln D_i on N_i over all "
          "counting levels (constant if beta <= 0). P(t) = integral from T_INT to t of ds / D(N(s)), the rate "
          "evaluated at the recorded steps >= T_INT (N at T_INT interpolated) and integrated by the trapezoid "
          "rule; T_hat = first t with P(t) >= 1, interpolated linearly within its interval, not snapped to the "
          "grid; P < 1 at the last recorded step: continued with N held there (C4), T_hat = t_last + "
          "(1 - P(t_last)) D(N(t_last)). Absolute norm throughout (rho = N / w_c of "
          "chapter 2 only labels the axis). On the encoder (2b-4) the same with the 7E sweep and its t_int.",
    "B1": "Constant: T_hat = KM median T_grok of the calibration cell.",
    "B2": "Paper 3's law calibrated its own way (Algorithm 1, rate 2 eta lambda, learned scale): t_s = step of "
          "V's maximum over [T_mem, last step] (= T_mem where V falls from T_mem), V_s = V(t_s); "
          "T_hat = t_s + k ln(V_s / V_post_hat) / (2 eta lambda), T_hat = t_s when the log is <= 0; V_post_hat "
          "= median V at the last step over calibration runs with extra_steps >= 2000; k = median over them of "
          "(T_grok - t_s) 2 eta lambda / ln(V_s / V_post_hat).",
    "B3": "Threshold reading of w_c: T_hat = first t after N's maximum over [T_mem, last step] with "
          "N(t) <= w_c_cal, w_c_cal = median N at T_grok over the grokked calibration runs.",
    "L1": "Leave one setting out: a calibrated constant is the median over the four training settings of each "
          "setting's median. P1 progress: T_hat = first t >= T_INT with P(t) >= kappa, kappa = constant of "
          "P_i(T_grok_i). P1 threshold: first t after N's maximum with N(t) <= constant of N at T_grok. P3 log "
          "law (as written, V_post measured at the run's last step): T_hat = t_s + k ln(V_s / V_post) / "
          "(2 eta lambda), k = constant of (T_grok - t_s) 2 eta lambda / ln(V_s / V_post). Target: the delay; "
          "predicted delay T_hat - T_mem (C4 past the last step; <= 0 counts as late-censored).",
    "P3C": "Chapter 3's DelayPredictor, calibrated on enc_main exactly as chapter 3 does (V_post_hat = median "
           "V_post of the grokked calibration runs): 'paper window' (rate over 100 steps from train accuracy "
           ">= 0.995), '2 eta lambda', 'corrected' (300-step window x a learned scale); baseline: the calibration "
           "runs' median delay; grokking check V_mem > 2 V_post_hat.",
    "X1": "One variable: window [t0, T_grok] (censored runs: to the last step), t0 = max(T_INT, fork_step); "
          "L_bar = time average of L(t) over it (trapezoid); rho_bar = time average of N(t) / w_c(p), w_c(p) = "
          "median N at T_grok over grokked free runs at p, fraction 0.4, lambda 1, eta 1e-3, tau 1, no "
          "LayerNorm, no fork, both decay orders (cells at a p without them leave both fits). Cell x = median "
          "over its grokked runs; y = ln KM median T_grok (counting cells). OLS y = a + b x on every family but "
          "one, predict the held-out family; per family R2 (>= 3 cells) and MAE; pooled out-of-family R2 over "
          "every cell.",
    "S1": "Sensitivity (no verdict): 1P with the literal rate 1 / T_clamp(N) instead of 1 / D(N).",
    "S2": "Sensitivity (no verdict): 1P with D(N; eta) from chapter 2's rho x eta matrix (C2_matrix; eta 1e-3 "
          "from C2_dense at the matrix's four levels), ln D linear in ln eta between bracketing learning rates; "
          "runs outside [1e-3, 8e-3] not scored.",
}


# ---------------------------------------------------------------------------- verdict rows
@dataclass(frozen=True)
class Prediction:
    """One verdict row as registered: the question, the rule ids of :data:`REGISTRATION` it uses,
    the run sets that calibrate and those that evaluate it (disjoint), the metric, the baselines,
    the decision rule with its tolerance (the :mod:`grokkit.book.verdicts` call), and the row it
    produces: its claim text, claimant and basis."""

    id: str
    section: str
    question: str
    rule: tuple[str, ...]
    calibration: tuple[str, ...]
    evaluation: tuple[str, ...]
    metric: str
    baselines: tuple[str, ...]
    decision: str
    claim: str
    claimant: str
    basis: str = "theory"


_MALE = "MALE of T_grok (C4), bootstrap strata: the (lambda, eta) cells"
_C6 = "C6: at_most(0, d, atol=TOL['male']) with the decision word"

PREDICTIONS = (
    # §1 paper 1's clamped law predicts free training
    Prediction("1a", "1", "Does the clamped law predict free T_grok across lambda and eta?", ("1P", "C4", "C6"),
               ("C2_dense", "free_cal_059"), ("free_eval_059",), _MALE, ("B1",), _C6,
               "Paper 1's clamped law (accumulated progress) predicts free T_grok across λ and η at least as well "
               "as the calibration cell's median", "paper 1"),
    Prediction("1b", "1", "... and against paper 3's law with its own calibration?", ("1P", "B2", "C6"),
               ("C2_dense", "free_cal_059"), ("free_eval_059",), _MALE, ("B2",), _C6,
               "Paper 1's clamped law predicts free T_grok at least as well as paper 3's log law", "paper 1"),
    Prediction("1c-progress", "1", "Is w_c where the progress reaches 1, or a threshold?", ("1P", "B3", "C6"),
               ("C2_dense", "free_cal_059"), ("free_eval_059",), _MALE, ("B3",), _C6,
               "Accumulated progress predicts free T_grok at least as well as the threshold ‖W‖ ≤ w_c", "paper 1"),
    Prediction("1c-threshold", "1", "(mirror of 1c-progress)", ("B3", "1P", "C6"),
               ("C2_dense", "free_cal_059"), ("free_eval_059",), _MALE, ("1P",), _C6,
               "The threshold ‖W‖ ≤ w_c predicts free T_grok at least as well as accumulated progress",
               "paper 1 (w_c as a threshold)"),
    Prediction("1d", "1", "Does the progress reach 1 at grokking?", ("1P", "C4"),
               ("C2_dense",), ("free_eval_059",), "median signed log error ln(T_hat / T) (C4), "
               "bootstrap CI (strata: cells)", (), "compare(0, est, atol=TOL['bias'])",
               "The accumulated progress reaches 1 at grokking (median ln(T̂/T) = 0)", "paper 1"),
    Prediction("1e", "1", "Does the progress law explain why w_c moves with lambda?", ("1P",),
               ("C2_dense",), ("free_eval_059",),
               "per lambda in {0.3, 3} at eta 1e-3: predicted = median over the cell's runs of N(T_hat) (N held "
               "after the last step); measured = median N at T_grok, bootstrap CI", (),
               "compare(predicted, measured, tol=TOL['wc']) per lambda, combine",
               "The progress law predicts the norm at grokking at each λ (w_c moves with λ)", "paper 1"),
    Prediction("1e-threshold", "1", "(the threshold reading of the same)", ("B3",),
               ("free_cal_059",), ("free_eval_059",),
               "per lambda in {0.3, 3} at eta 1e-3: measured median N at T_grok, bootstrap CI", (),
               "compare(w_c_cal, measured, tol=TOL['wc']) per lambda, combine",
               "w_c is one threshold, the same at every λ", "paper 1 (w_c as a threshold)"),
    Prediction("1f-constant", "1", "Transfer to fraction 0.5 (chapter 1's scans)", ("1P", "B1", "C6"),
               ("C2_dense", "free_cal_059_f05"), ("free_eval_059_f05",), _MALE, ("B1",), _C6,
               "At training fraction 0.5 the clamped law (calibrated at 0.4) predicts T_grok at least as well "
               "as that fraction's calibration cell", "ours (chapter 7)"),
    Prediction("1f-wc", "1", "Transfer: the norm at grokking at lambda 0.3 / 1 / 3, fraction 0.5", ("1P",),
               ("C2_dense",), ("free_eval_059_f05", "free_cal_059_f05"),
               "as 1e at lambda 0.3, 1, 3 (eta 1e-3, fraction 0.5); paper 1's 63 / 55.1 / 48.7 printed beside", (),
               "compare(predicted, measured, tol=TOL['wc']) per lambda, combine",
               "At fraction 0.5 the progress law predicts the norm at grokking at each λ", "ours (chapter 7)"),
    # §2a leave one setting out on the MLP's free scans
    Prediction("2a-1", "2a", "Which law predicts the MLP's free delay better across lambda and eta?", ("L1", "C6"),
               ("free_loso_059",), ("free_loso_059",),
               "MALE of the delay (C4), each run predicted in the fold that holds its setting out; bootstrap strata: "
               "settings, folds recomputed per resample", ("P3 log law", "calibrated constant (reported)"), _C6,
               "Paper 1's law (accumulated progress) predicts the delay across λ and η at least as well as paper "
               "3's, leaving one setting out", "paper 1"),
    Prediction("2a-2", "2a", "(mirror of 2a-1)", ("L1", "C6"),
               ("free_loso_059",), ("free_loso_059",), "as 2a-1", ("P1 progress",), _C6,
               "Paper 3's law predicts the delay across λ and η at least as well as paper 1's, leaving one setting "
               "out", "paper 3"),
    # §2b the encoder clamp sweep
    Prediction("2b-1", "2b", "Does paper 1's exponential law hold on a model with LayerNorms?", ("C7", "C8"),
               ("enc_main",), ("new_7E",), "C7 on the total-norm sweep", (), "EXP_CATEGORIES",
               "Holding the encoder's total norm at ρ·w_c delays grokking exponentially in ρ", "paper 1"),
    Prediction("2b-2", "2b", "Is the dependence weak (at most about 2x)?", ("C8",),
               ("enc_main",), ("new_7E",), "R = T(1.30) / T(0.85), KM medians, CI by resampling runs within levels",
               (), "at_most(TOL['ratio_bound'], R, tol=TOL['ratio'])",
               "With LayerNorms the held total norm moves T_grok at most about 2× (ρ 0.85 → 1.30)",
               "ours (chapter 6)"),
    Prediction("2b-3", "2b", "... except through the head?", ("C8",),
               ("enc_main",), ("new_7E",), "R_head = T_head(1.30) / T_head(0.85) of the head (unembed) sweep", (),
               "at_least(TOL['ratio_bound'], R_head, tol=TOL['ratio'])",
               "Holding the encoder's head norm moves T_grok more than 2× (ρ 0.85 → 1.30)", "ours (chapter 6)"),
    Prediction("2b-4-constant", "2b", "Paper 1's law on paper 3's model: free T_grok", ("1P", "B1", "C6"),
               ("new_7E", "enc_main"), ("enc_eval",), "MALE of T_grok, strata: (lambda, eta) cells", ("B1",), _C6,
               "On paper 3's encoder, the clamped law predicts free T_grok across λ and η at least as well as the "
               "main cell's median", "paper 1"),
    Prediction("2b-4-paper3", "2b", "... against paper 3's own law", ("1P", "B2", "C6"),
               ("new_7E", "enc_main"), ("enc_eval",), "as 2b-4-constant", ("B2",), _C6,
               "On paper 3's encoder, the clamped law predicts free T_grok at least as well as paper 3's log law",
               "paper 1"),
    # §2c chapter 3's predictor across settings
    Prediction("2c-1", "2c", "Does paper 3's predictor (its window) follow lambda and eta?", ("P3C", "C6"),
               ("enc_main",), ("enc_eval",), "MALE of the delay of grokked runs; paper 3's MAE % and within 2x "
               "beside; strata: (lambda, eta) cells", ("calibration median delay",), _C6,
               "Paper 3's predictor (rate from its window) predicts the delay across λ and η at least as well as "
               "a constant", "paper 3"),
    Prediction("2c-2", "2c", "... with the rate 2 eta lambda", ("P3C", "C6"),
               ("enc_main",), ("enc_eval",), "as 2c-1", ("calibration median delay",), _C6,
               "Paper 3's predictor (rate 2ηλ) predicts the delay across λ and η at least as well as a constant",
               "paper 3"),
    Prediction("2c-3", "2c", "... with chapter 3's corrected predictor", ("P3C", "C6"),
               ("enc_main",), ("enc_eval",), "as 2c-1", ("calibration median delay",), _C6,
               "The corrected predictor (window rate × learned scale) predicts the delay across λ and η at least "
               "as well as a constant", "ours (chapter 3)"),
    Prediction("2c-4", "2c", "Does the grokking check carry across settings?", ("P3C",),
               ("enc_main",), ("enc_eval",), "share of runs (grokked and censored) that V_mem > 2 V_post_hat "
               "classifies right, exact binomial CI", (), "at_least(TOL['grok_check'], share, atol=TOL['fraction'])",
               "Paper 3's check V_mem > 2·V̂_post tells which runs grok, across λ and η", "paper 3"),
    # §3 one variable for every intervention
    Prediction("3a", "3", "Is ln T_grok a function of L alone?", ("X1",),
               ("mlp_pool",), ("mlp_pool",), "pooled out-of-family R2 of L_bar (each family predicted by the "
               "others), bootstrap strata: cells, fits recomputed", (),
               "at_least(TOL['r2'], R2, atol=TOL['r2_atol'])",
               "ln T_grok is a function of the logit scale L alone, whatever intervention moved it", "paper 2"),
    Prediction("3b", "3", "... or of the norm rho alone?", ("X1",),
               ("mlp_pool",), ("mlp_pool",), "as 3a with rho_bar", (), "at_least(TOL['r2'], R2, atol=TOL['r2_atol'])",
               "ln T_grok is a function of the norm ρ alone, whatever intervention moved it", "paper 1"),
    Prediction("3c-L", "3", "Which variable carries across interventions?", ("X1",),
               ("mlp_pool",), ("mlp_pool",), "d = R2(L_bar) - R2(rho_bar), paired bootstrap (same resamples)", (),
               "at_least(0, d, atol=TOL['r2_diff']) with the decision word on d",
               "The logit scale carries across interventions at least as well as the norm", "paper 2"),
    Prediction("3c-rho", "3", "(mirror of 3c-L)", ("X1",),
               ("mlp_pool",), ("mlp_pool",), "-d", (), "at_least(0, -d, atol=TOL['r2_diff'])",
               "The norm carries across interventions at least as well as the logit scale", "paper 1"),
    # §4 the optimizer
    Prediction("4a", "4", "Is the exponential law a property of the norm under Muon?", ("C7", "C8"),
               ("new_7M_free", "C2_dense"), ("new_7M_clamp",),
               "C7 on the Muon sweep; alpha_AdamW = C7 on C2_dense at rho 0.85, 1, 1.15, 1.30", (),
               "combine(exponential: EXP_CATEGORIES; same exponent: compare(alpha_AdamW, alpha_Muon, "
               "atol=max(TOL['alpha_rel'] |alpha_AdamW|, TOL['alpha_abs'])))",
               "Under Muon the held norm sets T_grok exponentially, with AdamW's exponent", "paper 1"),
    Prediction("4b", "4", "Does holding the norm never delay grokking under Muon?", ("C8",),
               ("new_7M_free",), ("new_7M_clamp",),
               "T(rho) / T_free at rho 1.15 and 1.30, KM medians, CI by resampling runs", (),
               "at_most(1, ratio, tol=TOL['never_delays']) per rho, combine",
               "Holding the weight norm never delays grokking under Muon", "Fu 2026 (muon-norm-cap)", "text"),
    Prediction("4c", "4", "... and under SGD with momentum (encoder)?", ("C7", "C8"),
               ("new_7S_free", "new_7E"), ("new_7S_clamp",),
               "C7 on the SGD sweep; alpha_AdamW = C7 on 7E's total sweep", (),
               "combine(exponential: EXP_CATEGORIES; same exponent: compare(alpha_AdamW, alpha_SGD, "
               "atol=max(TOL['alpha_rel'] |alpha_AdamW|, TOL['alpha_abs'])))",
               "Under SGD with momentum the held norm sets T_grok exponentially, with AdamW's exponent", "paper 1"),
    # §5 sparse parity
    Prediction("5a", "5", "Is the norm at grokking concentrated across seeds?", ("C1",),
               (), ("new_7P_free",), "CV of N at T_grok over the m = 1000 free runs, bootstrap CI", (),
               "at_most(TOL['cv_seeds'], CV, tol=TOL['spread'])",
               "On sparse parity the norm at grokking is concentrated across seeds (CV ≤ 4 %)", "paper 1", "text"),
    Prediction("5b", "5", "Is w_c about 20.6 at m = 1000?", ("C1",),
               (), ("new_7P_free",), "median N at T_grok, m = 1000 free, bootstrap CI", (),
               "compare(PAPER['parity_wc'], est, tol=TOL['parity_wc'])",
               "On sparse parity w_c ≈ 20.6 at m = 1000", "paper 1", "text"),
    Prediction("5c", "5", "Does the grokking norm drift with the data?", ("C1",),
               (), ("new_7P_free",), "median N at T_grok at m = 600 and 1500; CV across the three m reported",
               (), "compare(16.9 | 23.4, est, tol=TOL['parity_wc']) per m, combine",
               "On sparse parity the norm at grokking moves with the training-set size (16.9 / 23.4)", "paper 1",
               "text"),
    Prediction("5d", "5", "Does the clamp move T_grok?", ("C1",),
               ("new_7P_free",), ("new_7P_clamp",),
               "T(1.30) / T(0.90) at m = 1000, KM medians, CI by resampling runs", (),
               "compare(PAPER['parity_ratio'], ratio, tol=TOL['parity_ratio'])",
               "On sparse parity holding the norm at 1.30 w_c delays grokking ≈ 2.4× against 0.90 w_c", "paper 1",
               "text"),
    Prediction("5e", "5", "Does parity show no delay (on paper 1's protocol)?", ("C1",),
               (), ("new_7P_free",), "median delay of the m = 1000 free runs, bootstrap CI", (),
               "at_most(TOL['delay_bound'], delay, atol=TOL['delay_atol'])",
               "Sparse parity shows no grokking delay", "paper 3", "text"),
    Prediction("5f", "5", "Does the norm grow from memorization on?", ("C1",),
               (), ("new_7P_free",), "median V(last step) / V(T_mem) of the m = 1000 free runs (+2000 steps)",
               (), "at_least(TOL['norm_growth'], ratio, atol=TOL['norm_growth_atol'])",
               "On sparse parity the norm grows from memorization on", "paper 3", "text"),
)

#: Sentences the page derives from the rows (no verdict of their own), by id.
SENTENCES = {
    "1-wc": "'w_c is where the accumulated progress reaches 1' when 1e holds (consistent or close) and "
            "1e-threshold does not; 'a threshold' when the reverse; else 'neither' or 'both'.",
    "4-optimizer": "'a property of the norm' when 4a holds and (4c holds, or 7E's AdamW fit is not strong); "
                   "'a property of AdamW' when the Muon sweep is flat while C2_dense's fit is strong; else "
                   "'undecided', with the reason.",
    "5-fits": "'paper 1's description fits' when 5d holds with its CI above 1 and 5e differs; 'paper 3's' when "
              "5e holds and 5d's ratio CI contains 1; else 'neither fits alone'.",
    "5-reconcile": "'the protocols reconcile through the data size' when the median delay is > 200 steps at "
                   "m = 1000 (CI above 200), <= 200 at m = 25000, and the median delays do not increase along "
                   "m = 600, 1000, 1500, 5000, 25000; else 'not by data size alone', naming what else differs "
                   "(minibatch 256, test set); 7P's delays are also read at paper 3's threshold (the recorded "
                   "first step with test accuracy >= 0.95).",
}
#: Reported without a verdict: the numbers beside the rows.
REPORTED = (
    "§1: per-cell MALE, median signed error, within 2x and P(T_grok); the law on free_cal_059 (law only); S1, S2.",
    "§2a: MALE per held-out setting for P1 progress, P1 threshold, P3 and the calibrated constant; P1 threshold "
    "against P3 (C6, no verdict).",
    "§3: per family R2 (>= 3 cells), MAE and cells for L_bar and rho_bar; whether it carries (TOL['family_r2'], "
    "TOL['family_mae']); L and rho at grokking and at memorization; the figure of every run by family.",
    "§5: CV of the norm at grokking across m; delays and V ratios of every arm, parity_p3 beside.",
)


# ---------------------------------------------------------------------------- new training
#: The new runs as plain specifications: protocol, arms, how w_c, t_int and budgets are set, and the
#: values of each preset. Phase 2 turns each into a Design; ``paper`` adds to ``book`` where it says so.
TRAINING = {
    "7E": dict(
        purpose="encoder clamp sweep (2b; AdamW reference of 4c)",
        protocol=dict(ENC_P3, lr=1e-3, weight_decay=1.0, eval_schedule="every:200", clamp_mode="hold",
                      stop_at_grok=True, extra_steps=0),
        free_control="enc_main (chapter 3's main cell; not re-trained)",
        arms={"total": "clamp_group None: the counted norm, every parameter (sqrt V), at held_norm(rho, w_c)",
              "head": "clamp_group 'unembed' (Wh, bh) at held_norm(rho, w_c_head), w_c_head = median "
                      "norm_unembed at T_grok over enc_main's grokked runs"},
        w_c="C8 on enc_main (median counted norm at T_grok)", t_int="C8 on enc_main, Delta = 200",
        presets=dict(
            smoke=dict(p=31, d_embed=32, d_hidden=64, n_heads=2, lr=1e-2, eval_schedule="every:50", seeds=2,
                       head_seeds=0, rhos=[0.9, 1.1], head_rhos=[], own_free_control=True, free_budget=1500,
                       budget_floor=1500, budget_cap=1500, t_int=200),
            book=dict(p=97, seeds=6, head_seeds=4, rhos=[0.85, 1.0, 1.15, 1.30], head_rhos=[0.85, 1.30],
                      budget_scale=4.0, budget_rate=8.0, budget_floor=5000, budget_cap=40_000),
            paper=dict(p=97, seeds=12, head_seeds=12, rhos=[0.85, 1.0, 1.15, 1.30],
                       head_rhos=[0.85, 1.0, 1.15, 1.30], budget_scale=4.0, budget_rate=8.0, budget_floor=5000,
                       budget_cap=120_000),
        ),
    ),
    "7M": dict(
        purpose="Muon clamp sweep on chapter 2's MLP (4a, 4b)",
        protocol=dict(MLP_P1, optimizer="muon", p=59, train_frac=0.4, lr=0.01, weight_decay=0.1, momentum=0.95,
                      eval_schedule="every:25", clamp_mode="hold", stop_at_grok=True),
        notes="grokkit's Muon: torch.optim.Muon on every 2-D weight (E, W1, W2: Nesterov, 5 Newton-Schulz steps, "
              "adjust_lr 'original'), decay before the update; biases by AdamW at the run's lr, not decayed. "
              "lr 0.01 moves each weight about as far per step as AdamW at 1e-3; lambda 0.1 keeps eta lambda = "
              "1e-3 as in chapter 2 (and is torch's default).",
        ladder=[(0.01, 0.1), (0.02, 0.05), (0.005, 0.2)],
        ladder_rule="train the free control of each rung in turn until one passes C8 (>= 3/4 grok within the "
                    "free budget, and a <= b); none: 4a, 4b no data",
        free_control="own: free runs at the chosen rung",
        w_c="C8", t_int="500 if Q75(T_mem) + 25 <= 500 <= Q25(T_grok) - 25, else C8 with Delta = 25",
        presets=dict(
            smoke=dict(p=31, d_embed=32, d_hidden=64, lr=0.05, weight_decay=0.02, seeds=2, free_budget=1500,
                       rhos=[0.9, 1.1], budget_floor=1500, budget_cap=1500, t_int=100, ladder=False),
            book=dict(p=59, seeds=6, free_budget=40_000, rhos=[0.85, 1.0, 1.15, 1.30], budget_scale=4.0,
                      budget_rate=8.0, budget_floor=8000, budget_cap=80_000),
            paper=dict(p=59, seeds=16, free_budget=60_000, rhos=[0.85, 1.0, 1.15, 1.30], budget_scale=4.0,
                       budget_rate=8.0, budget_floor=8000, budget_cap=200_000, eval_schedule="log:360"),
        ),
    ),
    "7S": dict(
        purpose="SGD-with-momentum clamp sweep on chapter 4's encoder, in the map's grokking cells (4c)",
        protocol=dict(ENC_P3, optimizer="sgd", eval_schedule="every:200", clamp_mode="hold", stop_at_grok=True),
        cells={"book": [(0.3, 1e-4, 0.9)], "paper": [(0.3, 1e-4, 0.9), (0.3, 1e-3, 0.0)]},
        cells_note="(lr, coupled L2 weight decay, momentum): chapter 4's map (1 seed per cell, 5000 steps) grokked "
                   "in exactly these two cells; the book preset runs the one with momentum",
        free_control="own: free runs in the cell", w_c="C8", t_int="C8, Delta = 200",
        arms={"total": "clamp_group None: the counted norm (every parameter)"},
        presets=dict(
            smoke=dict(p=31, d_embed=32, d_hidden=64, n_heads=2, eval_schedule="every:50", seeds=2, free_budget=1000,
                       rhos=[0.9, 1.1], budget_floor=1000, budget_cap=1000, t_int=200),
            book=dict(p=97, seeds=4, free_budget=10_000, rhos=[0.85, 1.0, 1.15, 1.30], budget_scale=4.0,
                      budget_rate=8.0, budget_floor=5000, budget_cap=40_000),
            paper=dict(p=97, seeds=8, free_budget=20_000, rhos=[0.85, 1.0, 1.15, 1.30], budget_scale=4.0,
                       budget_rate=8.0, budget_floor=5000, budget_cap=120_000),
        ),
    ),
    "7P": dict(
        purpose="paper 1's sparse-parity protocol E10, free and clamped, with bridges toward paper 3's data size (§5)",
        protocol=dict(PARITY_P1, stop_at_grok=True),
        arms={"free": "parity_train m in free_m, extra_steps 2000 (V after grokking, 5f)",
              "clamp": "m = 1000, clamp_mode hold, clamp_target held_norm(rho, w_c_par), clamp_start t_int",
              "bridge": "free, parity_train in bridge_m, extra_steps 0"},
        w_c="median N at T_grok over the grokked m = 1000 free runs (>= 3/4 must grok, else clamp rows no data)",
        t_int="1000 (paper 1's)",
        presets=dict(
            smoke=dict(parity_n=10, parity_test=500, d_hidden=64, seeds=2, free_m=[200], clamp_m=200,
                       rhos=[0.90, 1.30], budget=1500, t_int=200, bridge_m=[1000], bridge_seeds=2, bridge_budget=300,
                       extra_steps=100),
            book=dict(parity_n=30, seeds=8, free_m=[600, 1000, 1500], clamp_m=1000, rhos=[0.90, 1.30], budget=50_000,
                      t_int=1000, bridge_m=[5000, 25000], bridge_seeds=4, bridge_budget=5000, extra_steps=2000),
            paper=dict(parity_n=30, seeds=16, free_m=[600, 1000, 1500], clamp_m=1000, rhos=[0.90, 1.30],
                       budget=50_000, t_int=1000, bridge_m=[5000, 25000], bridge_seeds=8, bridge_budget=5000,
                       extra_steps=2000, extra_n=[20, 40]),  # extra_n: free at m = 1000 (paper 1's E10)
        ),
    ),
}

#: The book preset's cost: runs, run-steps (upper bound: every run to its budget; expected: min(budget,
#: expected T_grok)), the speed assumed (run-steps per second on the 2 cores) and minutes.
COSTS = dict(
    basis=("budgets by C8 with T_free = 1840 (7E, paper 3's main cell), 5000 (7M, chapter 2's AdamW free cell "
           "~ paper 1's 5131; 7S, the map cell grokked within 5000); expected T_grok: 7E and 7S as if the MLP's "
           "exponent held, T_free exp(7.64 (rho - 1)) and at least 1400; 7M paper 1's dense medians 1495 / 3999 / "
           "13030 / 28205; 7P paper 1's E10 medians (m 600 taken as 45k); bridges 1k. Speeds: the book's MLP 900 "
           "and encoder 220; Muon 300 (the MLP step plus Newton-Schulz on E, W1, W2, about 2 ms per run-step on "
           "one loaded core, orthogonalization alone); parity scales with m from the MLP's speed at m ~ 1000. "
           "The sweep's own probe (grokkit.runs.plan) replaces these when it runs."),
    rows=(
        # design, runs, upper run-steps, expected run-steps, speed, upper min, expected min
        ("7E total (6 seeds x 4 rho)", 24, 468_000, 163_000, 220, 35, 12),
        ("7E head (4 seeds x 2 rho)", 8, 180_000, 78_000, 220, 14, 6),
        ("7M free control (6 seeds)", 6, 240_000, 30_000, 300, 13, 2),
        ("7M clamps (6 seeds x 4 rho)", 24, 1_050_000, 280_000, 300, 58, 16),
        ("7S free + clamps (4 + 4 x 4)", 20, 468_000, 269_000, 220, 35, 20),
        ("7P free + clamps (8 seeds x 5 arms, +2000 free)", 40, 2_048_000, 516_000, 900, 38, 10),
        ("7P bridges m 5000 / 25000 (4 seeds each)", 8, 40_000, 8_000, None, 11, 2),
    ),
    total_runs=130, total_upper_hours=3.4, total_expected_hours=1.1,
    ladder="each extra 7M rung: 6 free runs, 240k run-steps, 13 min upper bound; both: <= 3.9 h in all",
)
