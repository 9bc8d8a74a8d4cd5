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


# =====================================================================================================
# Phase 2: the implementation (issue 19). Everything below reads the registered constants above and
# changes none of them; the module docstring's "nothing here trains or reads the store" describes the
# registration, and the code from here on does both: the parameters and presets (``TRAINING``'s values),
# the designs 7E, 7M, 7S and 7P, the run sets read from the store, the analyses of §1-§5, the texts
# the page glues, the verdicts and their diagnoses, and the figures. Where a registered rule could not be
# implemented exactly as written, the closest thing is computed and the row says so in its note
# ("deviation from the registration: ..."; :data:`DEVIATIONS`).
# =====================================================================================================
import warnings  # noqa: E402
from dataclasses import field as _field  # noqa: E402
from typing import Callable, Iterable, Mapping, Sequence  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ...analysis import cells as _cells  # noqa: E402
from ...analysis import contraction  # noqa: E402
from ...analysis.stats import Estimate, proportion_ci  # noqa: E402
from ...analysis.stats.survival import _km_median_rows  # noqa: E402
from ...engine.config import RunConfig  # noqa: E402
from ...engine.protocols import paper1, paper3  # noqa: E402
from ...runs.design import Design, exponential_budget, held_norm  # noqa: E402
from ...runs.store import RunStore  # noqa: E402
from .. import parameters as pm  # noqa: E402
from ..diagnoses import NEEDS_DIAGNOSIS, Diagnosis, apply, too_few_seeds  # noqa: E402
from ..text import and_list, fmt_ci, fmt_num  # noqa: E402
from ..verdicts import (CLOSE, CONSISTENT, INCONCLUSIVE, NO_DATA, Judgement, Verdicts,  # noqa: E402
                        at_least, at_most, combine, compare, no_data)


# ---------------------------------------------------------------------------- parameters
def _t_int_below(t_int: str, floor: str) -> pm.Rule:
    """A fixed clamp start (when given) must come before the smallest budget."""
    return pm.Rule(f"{t_int}, {floor}: {t_int} must be below {floor} (a clamp starts within its budget)",
                   lambda v: v[t_int] is None or v[t_int] < v[floor])


def _optional_steps(doc: str) -> pm.Parameter:
    return pm.Parameter(pm.STEPS, doc, optional=True)


PARAMETERS = pm.Parameters(
    rules=[
        pm.Rule("enc_widths: must be [d_embed, d_hidden, n_heads] with n_heads dividing d_embed",
                lambda v: len(v["enc_widths"]) == 3 and v["enc_widths"][0] % v["enc_widths"][2] == 0),
        pm.Rule("mlp_widths: must be [d_embed, d_hidden]", lambda v: len(v["mlp_widths"]) == 2),
        pm.same_length("muon_lrs", "muon_wds"),
        pm.same_length("sgd_lrs", "sgd_wds", "sgd_momenta"),
        pm.Rule("sgd_momenta: each momentum must lie below 1", lambda v: all(m < 1 for m in v["sgd_momenta"])),
        pm.ordered("enc_floor", "enc_cap", strict=False),
        pm.ordered("muon_floor", "muon_cap", strict=False),
        pm.ordered("sgd_floor", "sgd_cap", strict=False),
        _t_int_below("enc_t_int", "enc_floor"), _t_int_below("muon_t_int", "muon_floor"),
        _t_int_below("sgd_t_int", "sgd_floor"),
        pm.ordered("par_t_int", "par_budget"),
        pm.Rule("par_clamp_m, par_free_m: par_clamp_m must be one of par_free_m (its free arm sets w_c)",
                lambda v: v["par_clamp_m"] in v["par_free_m"]),
        pm.Rule("par_n: at least 3 input bits (3 of them are relevant)", lambda v: v["par_n"] >= 3),
        pm.Rule("par_n, par_ns: par_n must be one of par_ns, and each at least 3",
                lambda v: v["par_n"] in v["par_ns"] and min(v["par_ns"]) >= 3),
    ],
    enc_p=pm.prime("7E and 7S: the encoder's modulus (paper 3: 97)"),
    enc_widths=pm.count("7E and 7S: [d_embed, d_hidden, n_heads] of the encoder", many=True),
    enc_eval=pm.schedule('7E and 7S: "every:K" (paper 3: every 200 steps)', every_only=True),
    enc_lr=pm.positive("7E: learning rate (weight decay 1)"),
    enc_seeds=pm.count("7E: seeds of the total-norm clamps ..."),
    enc_rhos=pm.positive("... held at these multiples of w_c", many=True),
    enc_head_seeds=pm.nonneg_integer("7E: seeds of the head (unembed) clamps ..."),
    enc_head_rhos=pm.positive("... at these multiples of the head's norm at grokking", many=True, empty_ok=True),
    enc_own_control=pm.flag("7E: train its own free control instead of reading chapter 3's main cell"),
    enc_free_budget=pm.steps("7E: budget of its own free control"),
    enc_t_int=_optional_steps("7E: clamp start (None: rule C8 on the free control)"),
    enc_floor=pm.steps("7E: smallest clamp budget ..."),
    enc_cap=pm.steps("... and the largest"),
    mlp_p=pm.prime("7M: the MLP's modulus (chapter 2: 59)"),
    mlp_widths=pm.count("7M: [d_embed, d_hidden] of the MLP", many=True),
    muon_lrs=pm.positive("7M: the ladder's learning rates ...", many=True),
    muon_wds=pm.positive("... and weight decays (one rung each, tried in turn)", many=True),
    muon_momentum=pm.fraction("7M: Muon's momentum (torch's default 0.95)"),
    muon_seeds=pm.count("7M: seeds of the free control and of each clamp level"),
    muon_free_budget=pm.steps("7M: budget of the free control"),
    muon_rhos=pm.positive("7M: held levels (multiples of the Muon free control's w_c)", many=True),
    muon_floor=pm.steps("7M: smallest clamp budget ..."),
    muon_cap=pm.steps("... and the largest"),
    muon_eval=pm.schedule('7M: "every:K" or "log:K"'),
    muon_t_int=_optional_steps("7M: clamp start (None: 500 when it fits, else rule C8)"),
    sgd_lrs=pm.positive("7S: the map cells' learning rates ...", many=True),
    sgd_wds=pm.positive("... coupled L2 weight decays ...", many=True),
    sgd_momenta=pm.nonneg("... and momenta", many=True),
    sgd_seeds=pm.count("7S: seeds of the free control and of each clamp level"),
    sgd_free_budget=pm.steps("7S: budget of the free control"),
    sgd_rhos=pm.positive("7S: held levels", many=True),
    sgd_floor=pm.steps("7S: smallest clamp budget ..."),
    sgd_cap=pm.steps("... and the largest"),
    sgd_t_int=_optional_steps("7S: clamp start (None: rule C8 on the free control)"),
    par_n=pm.count("7P: sparse parity's input bits n (3 relevant)"),
    par_test=pm.count("7P: fresh test examples"),
    par_width=pm.count("7P: hidden width of the parity MLP"),
    par_seeds=pm.count("7P: seeds of the free and clamped arms"),
    par_free_m=pm.count("7P: training-set sizes m of the free arms", many=True),
    par_clamp_m=pm.count("7P: the clamped arms' m (its free arm sets w_c)"),
    par_rhos=pm.positive("7P: held levels (multiples of w_c)", many=True),
    par_budget=pm.steps("7P: budget of the free and clamped arms"),
    par_t_int=pm.steps("7P: clamp start (paper 1: 1000)"),
    par_extra_steps=pm.steps("7P: the free arms continue this long after grokking"),
    par_bridge_m=pm.count("7P: bridge arms toward paper 3's data size: their m ...", many=True),
    par_bridge_seeds=pm.count("... their seeds ..."),
    par_bridge_budget=pm.steps("... and their budget"),
    par_ns=pm.count("7P: the free arm at the clamp's m runs at each of these n (par_n among them)", many=True),
    budget_scale=pm.positive("clamp budgets: scale x T_free x exp(budget_rate (rho - 1)), clipped (C8)"),
    budget_rate=pm.positive("growth rate in rho of the clamp budgets"),
)
_E, _M, _S, _Q = (TRAINING[d]["presets"] for d in ("7E", "7M", "7S", "7P"))
BOOK = dict(
    enc_p=_E["book"]["p"], enc_widths=[ENC_P3["d_embed"], ENC_P3["d_hidden"], ENC_P3["n_heads"]],
    enc_eval=TRAINING["7E"]["protocol"]["eval_schedule"], enc_lr=TRAINING["7E"]["protocol"]["lr"],
    enc_seeds=_E["book"]["seeds"], enc_rhos=_E["book"]["rhos"], enc_head_seeds=_E["book"]["head_seeds"],
    enc_head_rhos=_E["book"]["head_rhos"], enc_own_control=False, enc_free_budget=50_000, enc_t_int=None,
    enc_floor=_E["book"]["budget_floor"], enc_cap=_E["book"]["budget_cap"],
    mlp_p=_M["book"]["p"], mlp_widths=[MLP_P1["d_embed"], MLP_P1["d_hidden"]],
    muon_lrs=[lr for lr, _ in TRAINING["7M"]["ladder"]], muon_wds=[wd for _, wd in TRAINING["7M"]["ladder"]],
    muon_momentum=TRAINING["7M"]["protocol"]["momentum"], muon_seeds=_M["book"]["seeds"],
    muon_free_budget=_M["book"]["free_budget"], muon_rhos=_M["book"]["rhos"], muon_floor=_M["book"]["budget_floor"],
    muon_cap=_M["book"]["budget_cap"], muon_eval=TRAINING["7M"]["protocol"]["eval_schedule"], muon_t_int=None,
    sgd_lrs=[c[0] for c in TRAINING["7S"]["cells"]["book"]], sgd_wds=[c[1] for c in TRAINING["7S"]["cells"]["book"]],
    sgd_momenta=[c[2] for c in TRAINING["7S"]["cells"]["book"]], sgd_seeds=_S["book"]["seeds"],
    sgd_free_budget=_S["book"]["free_budget"], sgd_rhos=_S["book"]["rhos"], sgd_floor=_S["book"]["budget_floor"],
    sgd_cap=_S["book"]["budget_cap"], sgd_t_int=None,
    par_n=_Q["book"]["parity_n"], par_test=PARITY_P1["parity_test"], par_width=PARITY_P1["d_hidden"],
    par_seeds=_Q["book"]["seeds"], par_free_m=_Q["book"]["free_m"], par_clamp_m=_Q["book"]["clamp_m"],
    par_rhos=_Q["book"]["rhos"], par_budget=_Q["book"]["budget"], par_t_int=_Q["book"]["t_int"],
    par_extra_steps=_Q["book"]["extra_steps"], par_bridge_m=_Q["book"]["bridge_m"],
    par_bridge_seeds=_Q["book"]["bridge_seeds"], par_bridge_budget=_Q["book"]["bridge_budget"],
    par_ns=[_Q["book"]["parity_n"]],
    budget_scale=_E["book"]["budget_scale"], budget_rate=_E["book"]["budget_rate"],
)
PRESETS = PARAMETERS.presets(
    smoke=dict(
        BOOK, enc_p=_E["smoke"]["p"], enc_widths=[_E["smoke"]["d_embed"], _E["smoke"]["d_hidden"], _E["smoke"]["n_heads"]],
        enc_eval=_E["smoke"]["eval_schedule"], enc_lr=_E["smoke"]["lr"], enc_seeds=_E["smoke"]["seeds"],
        enc_rhos=_E["smoke"]["rhos"], enc_head_seeds=_E["smoke"]["head_seeds"], enc_head_rhos=_E["smoke"]["head_rhos"],
        enc_own_control=_E["smoke"]["own_free_control"], enc_free_budget=_E["smoke"]["free_budget"],
        enc_t_int=_E["smoke"]["t_int"], enc_floor=_E["smoke"]["budget_floor"], enc_cap=_E["smoke"]["budget_cap"],
        mlp_p=_M["smoke"]["p"], mlp_widths=[_M["smoke"]["d_embed"], _M["smoke"]["d_hidden"]],
        muon_lrs=[_M["smoke"]["lr"]], muon_wds=[_M["smoke"]["weight_decay"]], muon_seeds=_M["smoke"]["seeds"],
        muon_free_budget=_M["smoke"]["free_budget"], muon_rhos=_M["smoke"]["rhos"], muon_floor=_M["smoke"]["budget_floor"],
        muon_cap=_M["smoke"]["budget_cap"], muon_t_int=_M["smoke"]["t_int"],
        sgd_seeds=_S["smoke"]["seeds"], sgd_free_budget=_S["smoke"]["free_budget"], sgd_rhos=_S["smoke"]["rhos"],
        sgd_floor=_S["smoke"]["budget_floor"], sgd_cap=_S["smoke"]["budget_cap"], sgd_t_int=_S["smoke"]["t_int"],
        par_n=_Q["smoke"]["parity_n"], par_test=_Q["smoke"]["parity_test"], par_width=_Q["smoke"]["d_hidden"],
        par_seeds=_Q["smoke"]["seeds"], par_free_m=_Q["smoke"]["free_m"], par_clamp_m=_Q["smoke"]["clamp_m"],
        par_rhos=_Q["smoke"]["rhos"], par_budget=_Q["smoke"]["budget"], par_t_int=_Q["smoke"]["t_int"],
        par_extra_steps=_Q["smoke"]["extra_steps"], par_bridge_m=_Q["smoke"]["bridge_m"],
        par_bridge_seeds=_Q["smoke"]["bridge_seeds"], par_bridge_budget=_Q["smoke"]["bridge_budget"],
        par_ns=[_Q["smoke"]["parity_n"]]),
    book=BOOK,
    paper=dict(
        BOOK, enc_seeds=_E["paper"]["seeds"], enc_head_seeds=_E["paper"]["head_seeds"],
        enc_head_rhos=_E["paper"]["head_rhos"], enc_cap=_E["paper"]["budget_cap"],
        muon_seeds=_M["paper"]["seeds"], muon_free_budget=_M["paper"]["free_budget"], muon_cap=_M["paper"]["budget_cap"],
        muon_eval=_M["paper"]["eval_schedule"],
        sgd_lrs=[c[0] for c in TRAINING["7S"]["cells"]["paper"]], sgd_wds=[c[1] for c in TRAINING["7S"]["cells"]["paper"]],
        sgd_momenta=[c[2] for c in TRAINING["7S"]["cells"]["paper"]], sgd_seeds=_S["paper"]["seeds"],
        sgd_free_budget=_S["paper"]["free_budget"], sgd_cap=_S["paper"]["budget_cap"],
        par_seeds=_Q["paper"]["seeds"], par_bridge_seeds=_Q["paper"]["bridge_seeds"],
        par_ns=[_Q["paper"]["parity_n"], *_Q["paper"]["extra_n"]]),
)
#: The claimant of the chapter's own hypotheses.
OURS = "ours (chapter 7)"
#: The evaluation interval of rule C8 for each design (7M's grid is every 25 steps; the encoder's every 200).
DELTA = {"7E": 200, "7M": 25, "7S": 200}
#: The share of a free control's runs that must grok for its sweep to run (C8).
C8_SHARE = 0.75


def tolerances() -> pd.DataFrame:
    """The tolerance of each kind of verdict row, in words (:data:`TOL`, registered)."""
    return pd.DataFrame([
        ("C6: a law predicts at least as well as another (MALE_A − MALE_B at most 0)", f"± {TOL['male']:g} (ln units)"),
        ("1d: median signed log error of the progress law, against 0", f"± ln 1.25 = {TOL['bias']:.3f}"),
        ("1e, 1f: predicted against measured norm at grokking", f"{TOL['wc']:.0%}"),
        ("3a, 3b: pooled out-of-family R² (at least 0.8)", f"± {TOL['r2_atol']:g} absolute"),
        ("3c: R²(L) − R²(ρ) at least 0", f"± {TOL['r2_diff']:g} absolute"),
        ("reported: a family carries the variable", f"R² ≥ {TOL['family_r2']:g} and MAE ≤ ln 2"),
        ("C7: the exponential rule", f"strong: α CI above +{TOL['flat']:g} and R² ≥ {TOL['exp_r2']:g}; "
                                     f"flat: CI within ±{TOL['flat']:g}"),
        ("4a, 4c: the same exponent as AdamW", f"max({TOL['alpha_rel']:.0%} of |α_AdamW|, {TOL['alpha_abs']:g})"),
        ("2b-2, 2b-3: LayerNorm ratios (bound 2)", f"{TOL['ratio']:.0%}"),
        ("4b: 'never delays' (bound 1)", f"{TOL['never_delays']:.0%}"),
        ("2c-4: the grokking check's share (at least 0.9)", f"± {TOL['fraction']:g} absolute"),
        ("5a: parity seed CV (at most 4 %)", f"{TOL['spread']:.0%}"),
        ("5b, 5c: parity w_c / 5d: the clamp ratio", f"{TOL['parity_wc']:.0%} / {TOL['parity_ratio']:.0%}"),
        ("5e: parity delay (at most 200 steps) / 5f: norm growth (at least 1)",
         f"± {TOL['delay_atol']} steps / ± {TOL['norm_growth_atol']:g}"),
    ], columns=["quantity", "tolerance"])


# ---------------------------------------------------------------------------- designs (§6 of the registration)
def encoder(P: pm.Values, seed: int, **kw: Any) -> RunConfig:
    """Paper 3's encoder protocol at the chapter's modulus, widths and grid (7E, 7S): AdamW on every
    parameter, minibatch 512, training fraction 0.5, T_grok at test accuracy 0.99; ``kw`` overrides."""
    d, h, heads = P.enc_widths
    return paper3(**{"p": P.enc_p, "seed": seed, "d_embed": d, "d_hidden": h, "n_heads": heads,
                     "eval_schedule": P.enc_eval, **kw})


def muon(P: pm.Values, seed: int, lr: float, wd: float, **kw: Any) -> RunConfig:
    """Chapter 2's MLP (paper 1's protocol, p, fraction 0.4) under grokkit's Muon (7M)."""
    d, h = P.mlp_widths
    return paper1(**{"p": P.mlp_p, "seed": seed, "optimizer": "muon", "lr": lr, "weight_decay": wd,
                     "momentum": P.muon_momentum, "d_embed": d, "d_hidden": h, "eval_schedule": P.muon_eval, **kw})


def parity(P: pm.Values, seed: int, m: int, **kw: Any) -> RunConfig:
    """Paper 1's sparse-parity protocol E10 (7P): the parity MLP n -> width (GELU) -> 2, k = 3, full
    batch, AdamW (decay before the step), lr 1e-3, lambda 1, T_grok at test accuracy 0.9."""
    base = {k: v for k, v in PARITY_P1.items() if k not in ("parity_n", "parity_test", "d_hidden")}
    return RunConfig(**{**base, "parity_n": P.par_n, "parity_test": P.par_test, "d_hidden": P.par_width,
                        "parity_train": m, "seed": seed, **kw})


@dataclass
class Control:
    """A sweep's free control read by rule C8: whether its sweep runs (``ok``; else ``reason``), w_c
    (the median counted norm at T_grok over its grokked runs), the clamp start ``t_int`` with the
    window ``[a, b]`` it came from, T_free (its Kaplan-Meier median) and, for 7E, the head's norm."""

    runs: pd.DataFrame
    ok: bool
    reason: str = ""
    wc: float = float("nan")
    t_int: int = 0
    t_free: float = float("nan")
    a: float = float("nan")
    b: float = float("nan")
    wc_head: float = float("nan")
    fallback: bool = False
    label: str = ""

    @property
    def window(self) -> bool:
        """Whether C8 leaves a clamp window (a <= b)."""
        return bool(self.a <= self.b)


def c8(runs: pd.DataFrame, delta: int, *, fixed: int | None = None, start_500: bool = False,
       smoke: bool = False, label: str = "") -> Control:
    """Rule C8 on a free control's runs. Needs >= 3/4 of them grokked; then w_c = median norm at T_grok,
    a = Q75(T_mem) + delta, b = Q25(T_grok) - delta over the grokked runs, t_int = a rounded up to a
    multiple of delta if a <= b, else b rounded down (``start_500``: 500 when a <= 500 <= b, 7M's rule;
    ``fixed``: the preset's fixed start). At the smoke preset a control that fails gives w_c = its median
    norm at the last step and the fixed start (the registration's smoke rule)."""
    n = len(runs)
    if not n:
        return Control(runs, False, f"{label or 'its free control'}: none of its runs is in the store yet", label=label)
    g = runs[runs["status"] == "grokked"]
    t_free = _km(runs)
    if len(g) >= C8_SHARE * n:
        a = float(np.quantile(g["t_mem"].astype(float), 0.75)) + delta
        b = float(np.quantile(g["t_grok"].astype(float), 0.25)) - delta
        if fixed is not None:
            t_int = int(fixed)
        elif start_500 and a <= T_INT <= b:
            t_int = T_INT
        elif a <= b:
            t_int = int(delta * math.ceil(a / delta))
        else:
            t_int = int(delta * math.floor(b / delta))
        wc = float(g["norm_grok"].astype(float).median())
        if not (np.isfinite(wc) and wc > 0):
            return Control(runs, False, f"{label or 'its free control'}: no finite norm at grokking", label=label)
        return Control(runs, True, wc=wc, t_int=max(t_int, delta), t_free=t_free, a=a, b=b, label=label)
    last = float(runs["norm_final"].astype(float).median())
    if smoke and fixed is not None and np.isfinite(last) and last > 0:
        return Control(runs, True, "smoke: the free control did not grok; w_c = its median norm at the last step",
                       wc=last, t_int=int(fixed), t_free=t_free, fallback=True, label=label)
    return Control(runs, False, f"{label or 'its free control'} grokked in {len(g)} of {n} runs (C8 needs 3/4)",
                   t_free=t_free, label=label)


def _km(runs: pd.DataFrame) -> float:
    """The Kaplan-Meier median T_grok of some runs (NaN without runs)."""
    if not len(runs):
        return float("nan")
    t, ev = _cells.grok_times(runs)
    return float(_km_median_rows(t[None, :], ev[None, :])[0])


def clamp_budget(P: pm.Values, ctl: Control, rho: float, floor: int, cap: int) -> int:
    """C8's budget exponential_budget(scale T_free, rho, rate, floor, cap); a T_free not reached takes the cap."""
    if not np.isfinite(ctl.t_free):
        return int(cap)
    return exponential_budget(P.budget_scale * ctl.t_free, rho, P.budget_rate, floor, cap)


def _run(d: Design, P: pm.Values, desc: str, train: bool | None = None) -> Design:
    """Sweep ``d``'s runs (training the missing ones when allowed; else reading what the store has)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        d.run(store=P.store, train=P.train if train is None else train, allow_missing=True,
              progress=train is not False, desc=desc)
    return d


def encoder_control(P: pm.Values, train: bool | None = None) -> tuple[Design, Control]:
    """7E's free control: chapter 3's main cell read from the store (its every seed: the run set
    ``enc_main``), or at the smoke preset its own free runs (trained). Also the head's norm at grokking."""
    d = Design()
    if P.enc_own_control:
        for s in range(P.enc_seeds):
            d.add("7E free", encoder(P, s, lr=P.enc_lr, weight_decay=1.0, max_steps=P.enc_free_budget))
        _run(d, P, "7E free control", train)
        runs = d.table("7E free")
    else:
        runs = select_run_set(RunStore(P.store).table(), "enc_main", P)
    ctl = c8(runs, DELTA["7E"], fixed=P.enc_t_int, smoke=P.preset == "smoke", label="the encoder's free control")
    if ctl.ok and len(runs):
        traj = RunStore(P.store).trajectories(runs["key"])
        head = _cells.with_norms_at_grok(runs, traj, ["unembed"])
        grokked = head[head["status"] == "grokked"]["norm_unembed_grok"].astype(float)
        ctl.wc_head = float(grokked.median()) if len(grokked) else float("nan")
    return d, ctl


def encoder_clamps(P: pm.Values, ctl: Control) -> Design:
    """7E: the encoder's total counted norm (every parameter, sqrt V) held at rho w_c for each of
    ``enc_rhos`` and ``enc_seeds`` seeds, and its head (``unembed``) held at rho times the head's norm
    at grokking for ``enc_head_rhos`` and ``enc_head_seeds`` seeds; clamp start and budgets by C8
    (labels ``rho``). Nothing when the control fails C8."""
    d = Design()
    if not ctl.ok:
        return d

    def cfg(s: int, rho: float, target: float, **kw: Any) -> RunConfig:
        return encoder(P, s, lr=P.enc_lr, weight_decay=1.0, clamp_mode="hold", clamp_target=held_norm(rho, target),
                       clamp_start=ctl.t_int, max_steps=clamp_budget(P, ctl, rho, P.enc_floor, P.enc_cap), **kw)

    for s in range(P.enc_seeds):
        for rho in P.enc_rhos:
            d.add("7E total", cfg(s, rho, ctl.wc), rho=rho)
    if np.isfinite(ctl.wc_head):
        for s in range(P.enc_head_seeds):
            for rho in P.enc_head_rhos:
                d.add("7E head", cfg(s, rho, ctl.wc_head, clamp_group="unembed"), rho=rho)
    return d


def muon_free(P: pm.Values, rung: int) -> Design:
    """7M's free control at one rung of the ladder (label ``rung``)."""
    d = Design()
    lr, wd = P.muon_lrs[rung], P.muon_wds[rung]
    for s in range(P.muon_seeds):
        d.add("7M free", muon(P, s, lr, wd, max_steps=P.muon_free_budget), rung=rung, lr=lr, weight_decay=wd)
    return d


def muon_ladder(P: pm.Values, train: bool | None = None) -> tuple[list[Design], Control, int | None]:
    """7M's ladder: train the free control of each rung in turn until one passes C8 (>= 3/4 grok within
    the free budget, and a clamp window a <= b); a rung whose runs are not all in the store (training
    off) stops the ladder, pending. Returns the free runs of every rung tried, the chosen rung's control
    and its index (None: pending, or no rung passed)."""
    out: list[Design] = []
    for rung in range(len(P.muon_lrs)):
        free = _run(muon_free(P, rung), P, f"7M free control, rung {rung + 1}", train)
        out.append(free)
        lr, wd = P.muon_lrs[rung], P.muon_wds[rung]
        label = f"Muon's free control (lr {lr:g}, λ {wd:g})"
        if free.missing:
            return out, Control(free.table("7M free"), False, f"{label}: {free.missing} of its "
                                f"{len(free.configs())} runs are not in the store yet", label=label), None
        ctl = c8(free.table("7M free"), DELTA["7M"], fixed=P.muon_t_int, start_500=True,
                 smoke=P.preset == "smoke", label=label)
        if ctl.ok and (ctl.window or ctl.fallback or P.muon_t_int is not None):
            return out, ctl, rung
    why = ("Muon did not grok / groks without a delay at these settings: no rung of the ladder passed C8 "
           f"({and_list(f'lr {lr:g}, λ {wd:g}' for lr, wd in zip(P.muon_lrs, P.muon_wds))})")
    return out, Control(pd.DataFrame(), False, why), None


def muon_clamps(P: pm.Values, ctl: Control, rung: int | None) -> Design:
    """7M: the Muon MLP's counted norm (E, W1, W2) held at rho w_c (C8's budgets, label ``rho``)."""
    d = Design()
    if not ctl.ok or rung is None:
        return d
    lr, wd = P.muon_lrs[rung], P.muon_wds[rung]
    for s in range(P.muon_seeds):
        for rho in P.muon_rhos:
            d.add("7M clamp", muon(P, s, lr, wd, clamp_mode="hold", clamp_target=held_norm(rho, ctl.wc),
                                   clamp_start=ctl.t_int,
                                   max_steps=clamp_budget(P, ctl, rho, P.muon_floor, P.muon_cap)), rho=rho)
    return d


def sgd_cells(P: pm.Values) -> list[tuple[float, float, float]]:
    """7S's cells of chapter 4's map: (lr, coupled L2 weight decay, momentum)."""
    return list(zip(P.sgd_lrs, P.sgd_wds, P.sgd_momenta))


def sgd_free(P: pm.Values) -> Design:
    """7S's free controls, one per map cell (labels ``lr``, ``weight_decay``, ``momentum``)."""
    d = Design()
    for lr, wd, mu in sgd_cells(P):
        for s in range(P.sgd_seeds):
            d.add("7S free", encoder(P, s, optimizer="sgd", lr=lr, weight_decay=wd, momentum=mu,
                                     max_steps=P.sgd_free_budget), lr=lr, weight_decay=wd, momentum=mu)
    return d


def sgd_controls(P: pm.Values, free: Design) -> dict[tuple[float, float, float], Control]:
    """C8 on each 7S cell's free control (after ``free.run``)."""
    runs = free.table("7S free", ["lr", "weight_decay", "momentum"])
    out = {}
    for cell in sgd_cells(P):
        sub = _cells.select(runs, lr=cell[0], weight_decay=cell[1], momentum=cell[2])
        label = f"SGD's free control (lr {cell[0]:g}, L2 {cell[1]:g}, momentum {cell[2]:g})"
        out[cell] = c8(sub, DELTA["7S"], fixed=P.sgd_t_int, smoke=P.preset == "smoke", label=label)
    return out


def sgd_clamps(P: pm.Values, controls: Mapping[tuple[float, float, float], Control]) -> Design:
    """7S: the encoder's total norm held at rho w_c under SGD in each map cell whose control passes C8."""
    d = Design()
    for (lr, wd, mu), ctl in controls.items():
        if not ctl.ok:
            continue
        for s in range(P.sgd_seeds):
            for rho in P.sgd_rhos:
                d.add("7S clamp", encoder(P, s, optimizer="sgd", lr=lr, weight_decay=wd, momentum=mu,
                                          clamp_mode="hold", clamp_target=held_norm(rho, ctl.wc),
                                          clamp_start=ctl.t_int,
                                          max_steps=clamp_budget(P, ctl, rho, P.sgd_floor, P.sgd_cap)),
                      lr=lr, weight_decay=wd, momentum=mu, rho=rho)
    return d


def parity_free(P: pm.Values) -> Design:
    """7P's free arms (continued ``par_extra_steps`` after grokking; label ``m``, and ``n``), the paper
    preset's extra input sizes at the clamp's m, and the bridge arms toward paper 3's data size."""
    d = Design()
    for s in range(P.par_seeds):
        for m in P.par_free_m:
            d.add("7P free", parity(P, s, m, max_steps=P.par_budget, extra_steps=P.par_extra_steps), m=m, n=P.par_n)
        for n in (n for n in P.par_ns if n != P.par_n):
            cfg = parity(P, s, P.par_clamp_m, parity_n=n, max_steps=P.par_budget, extra_steps=P.par_extra_steps)
            d.add("7P free n", cfg, m=P.par_clamp_m, n=n)
    for s in range(P.par_bridge_seeds):
        for m in P.par_bridge_m:
            d.add("7P bridge", parity(P, s, m, max_steps=P.par_bridge_budget), m=m, n=P.par_n)
    return d


def parity_control(P: pm.Values, free: Design) -> Control:
    """w_c^par: the median norm at T_grok over the grokked free runs at the clamp's m (>= 3/4 must grok,
    else the clamped arms are not run); the clamp starts at ``par_t_int`` (paper 1's 1000)."""
    runs = free.table("7P free", ["m", "n"])
    runs = runs[runs["m"] == P.par_clamp_m] if len(runs) else runs
    ctl = c8(runs, 25, fixed=P.par_t_int, smoke=P.preset == "smoke", label=f"the parity free arm at m = {P.par_clamp_m}")
    return ctl


def parity_clamps(P: pm.Values, ctl: Control) -> Design:
    """7P's clamped arms at the clamp's m, held at rho w_c^par from ``par_t_int`` (label ``rho``)."""
    d = Design()
    if not ctl.ok:
        return d
    for s in range(P.par_seeds):
        for rho in P.par_rhos:
            d.add("7P clamp", parity(P, s, P.par_clamp_m, clamp_mode="hold", clamp_target=held_norm(rho, ctl.wc),
                                     clamp_start=P.par_t_int, max_steps=P.par_budget), rho=rho, m=P.par_clamp_m)
    return d


@dataclass
class NewRuns:
    """The chapter's new training (registration §6), after it ran (or was read from the store): each
    design, its free control as rule C8 read it, and the Muon ladder's chosen rung."""

    enc_free: Design
    enc: Control
    enc_clamps: Design
    muon_free: list[Design]
    muon: Control
    muon_rung: int | None
    muon_clamps: Design
    sgd_free: Design
    sgd: dict[tuple[float, float, float], Control]
    sgd_clamps: Design
    par_free: Design
    par: Control
    par_clamps: Design

    @property
    def designs(self) -> list[Design]:
        return [self.enc_free, self.enc_clamps, *self.muon_free, self.muon_clamps, self.sgd_free, self.sgd_clamps,
                self.par_free, self.par_clamps]

    @property
    def design(self) -> Design:
        out = Design()
        for d in self.designs:
            out = out | d
        return out

    @property
    def missing(self) -> int:
        return sum(d.missing for d in self.designs)


def train(P: pm.Values, train: bool | None = None) -> NewRuns:
    """Every design of §6 in order, each free control before the clamps whose targets it sets: 7E (its
    control read from the store, or trained at smoke), 7M (the ladder), 7S, 7P. Missing runs are trained
    when training is allowed (``P.train``, or ``train``), else left out; a control that cannot be read
    leaves its clamps unasked."""
    enc_free, enc = encoder_control(P, train)
    enc_clamps = _run(encoder_clamps(P, enc), P, "7E encoder clamps", train)
    mfree, mctl, rung = muon_ladder(P, train)
    mclamps = _run(muon_clamps(P, mctl, rung), P, "7M Muon clamps", train)
    sfree = _run(sgd_free(P), P, "7S SGD free controls", train)
    sctl = sgd_controls(P, sfree)
    sclamps = _run(sgd_clamps(P, sctl), P, "7S SGD clamps", train)
    pfree = _run(parity_free(P), P, "7P parity free arms", train)
    pctl = parity_control(P, pfree)
    pclamps = _run(parity_clamps(P, pctl), P, "7P parity clamps", train)
    return NewRuns(enc_free, enc, enc_clamps, mfree, mctl, rung, mclamps, sfree, sctl, sclamps, pfree, pctl, pclamps)


def complete(P: pm.Values) -> bool:
    """Whether every run the chapter asks for at ``P`` is in the store ``P.store`` (read only, nothing
    trains): the designs of §6, each control read from the store. What ``preset = "auto"`` asks."""
    return train(P, train=False).missing == 0


# ---------------------------------------------------------------------------- the run sets in the store
def _is(t: pd.DataFrame, **values: float) -> np.ndarray:
    """Rows whose columns equal ``values`` (floats up to round-off)."""
    m = np.ones(len(t), bool)
    for k, v in values.items():
        m &= np.isclose(t[k].astype(float), float(v))
    return m


def _settings_in(t: pd.DataFrame, pairs: Iterable[tuple[float, float]], first: str, second: str) -> np.ndarray:
    m = np.zeros(len(t), bool)
    for a, b in pairs:
        m |= _is(t, **{first: a, second: b})
    return m


#: The conditions of each run set that are not field equalities (``RunSet.where``), as code.
LOSO_SETTINGS = ((3e-4, 1.0), (1e-3, 0.3), (1e-3, 1.0), (1e-3, 3.0), (3e-3, 1.0))  # (lr, weight_decay)
F05_CELLS = ((0.3, 1e-3), (3.0, 1e-3), (3.0, 3e-4), (3.0, 3e-3))  # (weight_decay, lr)
WHERE: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "free_eval_059": lambda t: ~_is(t, weight_decay=1.0, lr=1e-3),
    "free_eval_059_f05": lambda t: _settings_in(t, F05_CELLS, "weight_decay", "lr"),
    "free_loso_059": lambda t: (t["extra_steps"].astype(float) >= 2000).to_numpy()
    & _settings_in(t, LOSO_SETTINGS, "lr", "weight_decay"),
    "enc_eval": lambda t: ~_is(t, weight_decay=1.0, lr=1e-3),
}


def config_table(table: pd.DataFrame) -> pd.DataFrame:
    """A store table with each run's configured clamp target: the store's table holds the target a run
    was held at (its summary), which for a relative clamp (``clamp_scale``) is not a config field (the
    config's ``clamp_target`` is None); that realized target is kept as ``clamp_held``."""
    t = table.copy()
    if not len(t):
        return t.assign(clamp_held=pd.Series(dtype=float))
    t["clamp_held"] = t["clamp_target"].astype(float)
    t.loc[t["clamp_scale"].notna(), "clamp_target"] = np.nan
    return t


def _field_mask(t: pd.DataFrame, fields: Mapping[str, Any]) -> np.ndarray:
    m = np.ones(len(t), bool)
    for k, v in fields.items():
        col = t[k]
        if v is None:
            m &= col.isna().to_numpy()
        elif isinstance(v, tuple):
            m &= np.isin(col.astype(object).to_numpy(), list(v)) | np.any(
                [np.isclose(pd.to_numeric(col, errors="coerce").fillna(np.nan), x) for x in v
                 if isinstance(x, float)] or [np.zeros(len(t), bool)], axis=0)
        elif isinstance(v, bool):
            m &= col.astype(object).eq(v).to_numpy()
        elif isinstance(v, float):
            m &= np.isclose(pd.to_numeric(col, errors="coerce").astype(float), v) & col.notna().to_numpy()
        else:
            m &= col.eq(v).to_numpy()
    return m


def select_run_set(table: pd.DataFrame, name: str, P: pm.Values | None = None) -> pd.DataFrame:
    """The runs of the store's table that belong to the registered run set ``name`` (:data:`RUN_SETS`):
    its field values and its other conditions (:data:`WHERE`). ``enc_main`` is read at the chapter's
    encoder (``P``: its modulus, widths and learning rate; the registered p = 97 at the book preset)."""
    if not len(table):
        return table.iloc[:0].copy()
    t = table if "clamp_held" in table else config_table(table)
    fields = dict(RUN_SETS[name].fields)
    if name == "enc_main" and P is not None:
        d, h, heads = P.enc_widths
        fields.update(p=P.enc_p, d_embed=d, d_hidden=h, n_heads=heads, lr=float(P.enc_lr))
    m = _field_mask(t, fields)
    if name in WHERE:
        m &= WHERE[name](t)
    return t[m].copy()


@dataclass
class Series:
    """One run's recorded series (C3), each piecewise linear between its steps: the counted norm N and
    V = sq_norm_all from the run's trace where it has one, else from its stored trajectory; the logit
    scale L from the trajectory."""

    steps: np.ndarray
    N: np.ndarray
    V: np.ndarray
    L_steps: np.ndarray
    L: np.ndarray


def load_series(store: RunStore, keys: Iterable[str]) -> dict[str, Series]:
    """The :class:`Series` of every run of ``keys`` (read once from the store)."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return {}
    traj = store.trajectories(keys)
    trace = store.traces(keys)
    by_trace = {k: g.sort_values("step") for k, g in trace.groupby("key")} if len(trace) else {}
    out = {}
    for k, g in traj.groupby("key"):
        g = g.sort_values("step")
        src = by_trace.get(k, g)
        steps = src["step"].to_numpy(float)
        out[k] = Series(steps, src["norm"].to_numpy(float), src["sq_norm_all"].to_numpy(float),
                        g["step"].to_numpy(float), g["logit_scale"].to_numpy(float))
    return out


def _labelled(runs: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Chapter 2's design table (its labels and the store's columns), with the configured clamp target."""
    if not len(runs):
        return runs
    held = config_table(table).set_index("key")
    out = runs.copy()
    out["clamp_held"] = out["key"].map(held["clamp_held"])
    return out


def chapter2_runs(P: pm.Values, table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``C2_dense`` and ``C2_matrix``: chapter 2's dense and matrix experiments at every preset whose
    runs are in the store (its designs at the book and paper presets, with their labels ``rho`` and
    ``lr``; read only)."""
    from . import pinned_norm_law as ch2

    dense, matrix = [], []
    for preset in ("book", "paper"):
        P2 = ch2.PARAMETERS.resolve(preset, train=False, store=P.store, results_dir=P.results_dir)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, _, d = ch2.from_store(P2)
        dense.append(d.table("dense", ["rho"]).assign(preset=preset))
        matrix.append(d.table("matrix", ["rho", "lr"]).assign(preset=preset))
    dense_t = pd.concat(dense, ignore_index=True).drop_duplicates("key")
    matrix_t = pd.concat(matrix, ignore_index=True).drop_duplicates("key")
    lrs = RUN_SETS["C2_matrix"].fields["lr"]  # 2e-3, 4e-3, 8e-3 (eta 1e-3 is the dense runs')
    if len(matrix_t):
        matrix_t = matrix_t[np.isclose(matrix_t["lr"].astype(float).to_numpy()[:, None], lrs).any(axis=1)]
    return _labelled(dense_t, table), _labelled(matrix_t, table)


#: The registered run sets the chapter reads from the store (§1-§3 and 5g's reference), by name.
STORED_SETS = ("free_cal_059", "free_eval_059", "free_cal_059_f05", "free_eval_059_f05", "free_loso_059",
               "enc_main", "enc_eval", "mlp_pool", "parity_p3")


@dataclass
class Stored:
    """The runs of the store the chapter reads (registration §1-§3): each registered run set as a
    table, chapter 2's clamps (``C2_dense``, ``C2_matrix``), every set's recorded series, and a design
    holding them for the run manifest (the pool of §3 is left out of it: it is every MLP run of
    chapters 1, 2, 5 and 6, in their manifests already)."""

    table: pd.DataFrame
    sets: dict[str, pd.DataFrame]
    series: dict[str, Series]
    design: Design


def stored(P: pm.Values) -> Stored:
    """Read the store's registered run sets (nothing trains)."""
    store = RunStore(P.store)
    table = config_table(store.table())
    sets = {name: select_run_set(table, name, P) for name in STORED_SETS}
    sets["C2_dense"], sets["C2_matrix"] = chapter2_runs(P, table)
    keys = [k for name, t in sets.items() if name != "parity_p3" for k in t["key"]] if len(table) else []
    series = load_series(store, keys)
    return Stored(table, sets, series, manifest_design(sets, store))


#: The run sets in the manifest, and the labels each is shown with.
MANIFEST_SETS = {"C2_dense": ["rho"], "free_cal_059": [], "free_eval_059": ["lr", "weight_decay"],
                 "free_cal_059_f05": [], "free_eval_059_f05": ["lr", "weight_decay"],
                 "enc_main": [], "enc_eval": ["lr", "weight_decay"]}


def manifest_design(sets: Mapping[str, pd.DataFrame], store: RunStore) -> Design:
    """The stored run sets of §1 and §2 as a design (their configs rebuilt from the records), so the run
    explorer and the downloads offer them with the chapter's new runs."""
    d = Design()
    for name, labels in MANIFEST_SETS.items():
        t = sets.get(name)
        if t is None or not len(t):
            continue
        for _, row in t.iterrows():
            cfg = RunConfig(**store.load(row["key"])["config"])
            d.add(f"{name} (stored)", cfg, **{k: float(row[k]) for k in labels})
    return d


# ---------------------------------------------------------------------------- common numerics (C2-C6)
from dataclasses import fields as _dc_fields  # noqa: E402

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


# ---------------------------------------------------------------------------- §1: the clamped law predicts free training
#: The predictors of §1 (and 2b-4), by key, as the tables name them.
PREDICTORS_1 = {"1P": "paper 1's clamped law as progress", "B1": "constant (calibration median)",
                "B2": "paper 3's log law (own calibration)", "B3": "threshold ‖W‖ ≤ w_c"}


def predict(runs: pd.DataFrame, series: Mapping[str, Series], law: Any, const: float | None = None,
            loglaw: LogLaw | None = None, wc: float | None = None) -> pd.DataFrame:
    """Every run of ``runs`` with its predicted T_grok by rule 1P (``T_1P``; the norm there ``N_hat``, the
    progress reached at its measured T_grok ``P_T``, and whether it fired only past the run's last
    recorded step, ``late``) and by the baselines given (``T_B1``, ``T_B2``, ``T_B3``), and their
    log errors ``e_*`` (C4) on the grokked runs. Columns ``cell`` (C2) and ``T`` (the measured T_grok)."""
    out = runs.copy()
    out["cell"] = cell_of(runs) if len(runs) else pd.Series(dtype=object)
    out["T"] = runs["t_grok"].astype(float) if len(runs) else pd.Series(dtype=float)
    t1, nh, pt, late = [], [], [], []
    for _, r in runs.iterrows():
        s = series.get(r["key"])
        if s is None or law is None:
            t1.append(np.nan), nh.append(np.nan), pt.append(np.nan), late.append(False)
            continue
        c = progress(s, law)
        t = float(c.reach(1.0)[0])
        t1.append(t), nh.append(float(c.norm_at(t))), late.append(t > c.t[-1])
        pt.append(c.at(float(r["t_grok"])) if r["status"] == "grokked" else np.nan)
    out["T_1P"], out["N_hat"], out["P_T"], out["late"] = t1, nh, pt, late
    if const is not None:
        out["T_B1"] = const
    if loglaw is not None:
        out["T_B2"] = loglaw.predict(runs, series)
    if wc is not None and np.isfinite(wc):
        out["T_B3"] = [float(threshold_time(series[k], float(tm), wc)[0]) if k in series else np.nan
                       for k, tm in zip(runs["key"], runs["t_mem"].astype(float))]
    grokked = (out["status"] == "grokked").to_numpy() if len(out) else np.zeros(0, bool)
    for key in PREDICTORS_1:
        if f"T_{key}" in out:
            out[f"e_{key}"] = np.where(grokked, log_errors(out[f"T_{key}"], out["T"]), np.nan)
    return out


def _scored(pred: pd.DataFrame) -> pd.DataFrame:
    """The grokked runs of a prediction table (C9: errors are scored on grokked runs)."""
    return pred[pred["status"] == "grokked"] if len(pred) else pred


def compare_predictors(pred: pd.DataFrame, a: str, b: str) -> Estimate | None:
    """C6's d = MALE_a - MALE_b on the grokked runs, strata the cells."""
    g = _scored(pred)
    if not len(g) or f"e_{a}" not in g or f"e_{b}" not in g:
        return None
    return male_diff(g[f"e_{a}"], g[f"e_{b}"], g["cell"])


def _sci(x: float) -> str:
    """1e-3 as "1e-3", 0.0003 as "3e-4" (a learning rate as the tables write it)."""
    m, e = f"{x:.0e}".split("e")
    return f"{m}e{int(e)}" if abs(x) < 0.01 else f"{x:g}"


def cell_label(runs: pd.DataFrame) -> pd.Series:
    """A cell's (λ, η) as the tables write it: "λ 0.3, η 1e-3"."""
    return pd.Series([f"λ {wd:g}, η {_sci(lr)}" for wd, lr in zip(runs["weight_decay"], runs["lr"])], index=runs.index)


def per_cell(pred: pd.DataFrame) -> pd.DataFrame:
    """The reported numbers of §1 per cell: runs, grokked, the measured median T_grok, the MALE of each
    predictor, the progress law's median signed error and within-2x share, and the median P(T_grok)."""
    rows = []
    for cell, g in pred.groupby("cell", sort=False):
        s = _scored(g)
        row = {"λ": float(g["weight_decay"].iloc[0]), "η": float(g["lr"].iloc[0]), "grokked": f"{len(s)}/{len(g)}",
               "median T_grok": _km(g)}
        for key in PREDICTORS_1:
            if f"e_{key}" in s:
                row[f"MALE {key}"] = float(male(s[f"e_{key}"])) if len(s) else np.nan
        e = s["e_1P"] if len(s) else pd.Series(dtype=float)
        row["signed 1P"] = float(np.median(e)) if len(e) else np.nan
        row["within 2× (1P)"] = float(np.mean(np.abs(e) <= math.log(2))) if len(e) else np.nan
        row["P(T_grok)"] = float(s["P_T"].median()) if len(s) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def summary(pred: pd.DataFrame, key: str = "1P") -> dict[str, float]:
    """MALE, median signed error, within-2x share and late-censored count of one predictor."""
    s = _scored(pred)
    e = s[f"e_{key}"].dropna() if len(s) and f"e_{key}" in s else pd.Series(dtype=float)
    if not len(e):
        return dict(male=np.nan, signed=np.nan, within=np.nan, censored=0, n=0)
    return dict(male=float(male(e)), signed=float(np.median(e)), within=float(np.mean(np.abs(e) <= math.log(2))),
                censored=int((e >= CENSORED_LOG_ERROR).sum()), n=len(e))


@dataclass
class WcReading:
    """1e / 1f: the law's predicted norm at grokking (median N at T_hat over the cell's grokked runs) and
    the measured median norm at T_grok with its bootstrap CI, per lambda."""

    lam: float
    predicted: float
    measured: Estimate | None
    runs: int


def wc_readings(pred: pd.DataFrame, lams: Iterable[float], lr: float = 1e-3) -> dict[float, WcReading]:
    """:class:`WcReading` at each lambda of ``lams`` (at learning rate ``lr``) from a prediction table."""
    out = {}
    for lam in lams:
        g = _scored(pred)
        g = g[_is(g, weight_decay=lam, lr=lr)] if len(g) else g
        if not len(g):
            continue
        out[lam] = WcReading(lam, float(g["N_hat"].median()), _cells.median_ci(g["norm_grok"].astype(float)), len(g))
    return out


@dataclass
class Section1:
    """§1's numbers: the law and the baselines' calibrations, the predictions on the evaluation runs and
    on the transfer runs, the comparisons (C6), the bias (1d), the norms at grokking (1e, 1f) and the
    reported sensitivities."""

    law: ClampLaw | None
    wc_ch2: float
    dense: pd.DataFrame
    b1: float
    b2: LogLaw | None
    wc_cal: float
    pred: pd.DataFrame
    cal_pred: pd.DataFrame
    d: dict[str, Estimate | None]
    bias: Estimate | None
    wc: dict[float, WcReading]
    f05_const: float
    f05_pred: pd.DataFrame
    d_f05: Estimate | None
    wc_f05: dict[float, WcReading]
    s1: pd.DataFrame
    s2: pd.DataFrame
    s2_scored: int

    @property
    def has_law(self) -> bool:
        return self.law is not None


def section1(st: Stored) -> Section1:
    """§1 from the stored runs: D(N) from C2_dense; B1, B2 and B3 calibrated on free_cal_059; every
    prediction scored on free_eval_059 (and the transfer to fraction 0.5, 1f)."""
    sets, series = st.sets, st.series
    dense, cal, ev = sets["C2_dense"], sets["free_cal_059"], sets["free_eval_059"]
    law = clamp_law(dense)
    b1 = _km(cal)
    b2 = log_law(cal, series)
    g = cal[cal["status"] == "grokked"] if len(cal) else cal
    wc_cal = float(g["norm_grok"].astype(float).median()) if len(g) else float("nan")
    pred = predict(ev, series, law, b1 if np.isfinite(b1) else None, b2, wc_cal)
    d = {"1a": compare_predictors(pred, "1P", "B1"), "1b": compare_predictors(pred, "1P", "B2"),
         "1c-progress": compare_predictors(pred, "1P", "B3"), "1c-threshold": compare_predictors(pred, "B3", "1P")}
    s = _scored(pred)
    bias = median_boot(s["e_1P"], s["cell"]) if len(s) and law is not None else None
    f05_cal, f05_ev = sets["free_cal_059_f05"], sets["free_eval_059_f05"]
    f05_const = _km(f05_cal)
    f05_pred = predict(f05_ev, series, law, f05_const if np.isfinite(f05_const) else None)
    f05_all = pd.concat([f05_pred, predict(f05_cal, series, law)], ignore_index=True)
    wc_ch2 = float(dense["clamp_target"].astype(float).median() / dense["rho"].median()) if len(dense) else np.nan
    s1_law = clamp_law(dense, literal=True)
    s1 = predict(ev, series, s1_law) if s1_law is not None else pred.iloc[:0]
    s2, n2 = sensitivity_eta(st, ev, series)
    return Section1(law, wc_ch2, dense, b1, b2, wc_cal, pred, predict(cal, series, law), d, bias,
                    wc_readings(pred, (0.3, 3.0)), f05_const, f05_pred,
                    compare_predictors(f05_pred, "1P", "B1") if law is not None else None,
                    wc_readings(f05_all, (0.3, 1.0, 3.0)), s1, s2, n2)


def sensitivity_eta(st: Stored, ev: pd.DataFrame, series: Mapping[str, Series]) -> tuple[pd.DataFrame, int]:
    """S2: the progress law with D(N; eta) from chapter 2's rho x eta matrix (eta 1e-3 from the dense
    runs at the matrix's levels), scored on the evaluation runs with eta in [1e-3, 8e-3]."""
    dense, matrix = st.sets["C2_dense"], st.sets["C2_matrix"]
    if not len(matrix) or not len(dense):
        return ev.iloc[:0], 0
    rhos = sorted(matrix["rho"].unique())
    laws = {1e-3: clamp_law(dense[dense["rho"].round(4).isin([round(r, 4) for r in rhos])])}
    for lr, g in matrix.groupby("lr"):
        if not np.isclose(lr, 1e-3):
            laws[float(lr)] = clamp_law(g)
    laws = tuple(sorted((e, lw) for e, lw in laws.items() if lw is not None))
    if len(laws) < 2:
        return ev.iloc[:0], 0
    lo, hi = laws[0][0], laws[-1][0]
    inside = ev[(ev["lr"].astype(float) >= lo * (1 - 1e-9)) & (ev["lr"].astype(float) <= hi * (1 + 1e-9))]
    parts = [predict(g, series, EtaLaw(laws, float(lr))) for lr, g in inside.groupby("lr")]
    out = pd.concat(parts, ignore_index=True) if parts else ev.iloc[:0]
    return out, int((out["status"] == "grokked").sum()) if len(out) else 0


# ---------------------------------------------------------------------------- §2a: leave one setting out
#: The laws of §2a, by key, as the tables name them.
LAWS_2A = {"progress": "paper 1: progress reaches κ", "threshold": "paper 1: ‖W‖ ≤ ŵ",
           "log": "paper 3: log law, V_post measured", "constant": "constant delay (reference)"}


@dataclass
class Section2a:
    """§2a: each law's log errors of the delay, every run predicted in the fold that holds its setting
    out (``errors``, one column per law), the per-setting MALE table, and the comparisons with their
    bootstrap CIs (settings resampled, folds recomputed per resample)."""

    runs: pd.DataFrame
    errors: pd.DataFrame
    table: pd.DataFrame
    d: dict[str, Estimate | None]
    male: dict[str, float]


def _fold_constants(stat: np.ndarray, setting: np.ndarray, settings: list) -> np.ndarray:
    """For each setting held out, the calibrated constant of ``stat``: the median over the other
    settings of each setting's median (settings weigh equally)."""
    med = np.array([np.median(stat[setting == s]) for s in settings])
    return np.array([np.median(np.delete(med, i)) for i in range(len(settings))])


def section2a(st: Stored) -> Section2a:
    """§2a on ``free_loso_059``: P1 progress, P1 threshold and P3's log law against one another, and the
    constant delay, under leave-one-setting-out calibration (registration rule L1)."""
    runs = st.sets["free_loso_059"]
    runs = runs[runs["status"] == "grokked"] if len(runs) else runs
    law = clamp_law(st.sets["C2_dense"])
    empty = Section2a(runs, pd.DataFrame(), pd.DataFrame(), {}, {})
    if law is None or not len(runs) or runs[["lr", "weight_decay"]].drop_duplicates().shape[0] < 2:
        return empty
    series = st.series
    setting = np.array([f"η {lr:g}, λ {wd:g}" for lr, wd in zip(runs["lr"], runs["weight_decay"])], dtype=object)
    settings = list(dict.fromkeys(setting[np.argsort(runs["lr"].to_numpy() * 1e3 + runs["weight_decay"].to_numpy())]))
    t = runs["t_grok"].astype(float).to_numpy()
    t_mem = runs["t_mem"].astype(float).to_numpy()
    delay = t - t_mem
    tel = _two_eta_lambda(runs)
    curves = [progress(series[k], law) for k in runs["key"]]
    p_t = np.array([c.at(x) for c, x in zip(curves, t)])
    starts = [contraction_start(series[k], tm) for k, tm in zip(runs["key"], t_mem)]
    t_s = np.array([a for a, _ in starts])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_v = np.log(np.array([b for _, b in starts]) / runs["sq_norm_all_final"].astype(float).to_numpy())
        k_i = (t - t_s) * tel / log_v
    norm = runs["norm_grok"].astype(float).to_numpy()
    held = np.array([settings.index(s) for s in setting])

    def predictions(kappa: np.ndarray, w: np.ndarray, k: np.ndarray, c: np.ndarray) -> dict[str, np.ndarray]:
        """Each run's log error (per resample: rows) given its fold's constants (indexed by setting)."""
        out = {key: np.empty((kappa.shape[0], len(runs))) for key in LAWS_2A}
        for i in range(len(runs)):
            h = held[i]
            out["progress"][:, i] = log_errors(curves[i].reach(kappa[:, h]) - t_mem[i], delay[i])
            out["threshold"][:, i] = log_errors(threshold_time(series[runs["key"].iloc[i]], t_mem[i], w[:, h])
                                                - t_mem[i], delay[i])
            t_hat = np.where(log_v[i] > 0, t_s[i] + k[:, h] * log_v[i] / tel[i], t_s[i])
            out["log"][:, i] = log_errors(t_hat - t_mem[i], delay[i])
            out["constant"][:, i] = log_errors(c[:, h], delay[i])
        return out

    const = [_fold_constants(x, setting, settings)[None, :] for x in (p_t, norm, k_i, delay)]
    point = {key: e[0] for key, e in predictions(*const).items()}
    idx = boot_index(setting)
    boot_const = []
    for x in (p_t, norm, k_i, delay):
        med = np.stack([np.median(x[idx[:, setting[idx[0]] == s]], axis=1) for s in settings], axis=1)
        boot_const.append(np.stack([np.median(np.delete(med, j, axis=1), axis=1) for j in range(len(settings))],
                                   axis=1))
    boot = predictions(*boot_const)
    boot_male = {key: male(np.take_along_axis(e, idx, axis=1), axis=1) for key, e in boot.items()}
    males = {key: float(male(e)) for key, e in point.items()}

    def d(a: str, b: str) -> Estimate:
        return _ci(males[a] - males[b], boot_male[a] - boot_male[b])

    errors = pd.DataFrame({"key": runs["key"].to_numpy(), "setting": setting, **point})
    table = pd.DataFrame([{"held-out setting": s, "runs": int((setting == s).sum()),
                           **{LAWS_2A[k]: float(male(errors.loc[errors["setting"] == s, k])) for k in LAWS_2A}}
                          for s in settings])
    return Section2a(runs, errors, table, {"2a-1": d("progress", "log"), "2a-2": d("log", "progress"),
                                           "threshold-vs-log": d("threshold", "log")}, males)


# ---------------------------------------------------------------------------- C7: the exponential rule of a clamp sweep
def counting_levels(runs: pd.DataFrame, x: str = "rho") -> pd.DataFrame:
    """The runs of a sweep's counting levels (C2: more than half of the level's runs grokked)."""
    if not len(runs):
        return runs
    keep = [lvl for lvl, g in runs.groupby(x) if counts(g)]
    return runs[runs[x].isin(keep)]


def exp_fit(runs: pd.DataFrame, x: str = "rho") -> Any:
    """C7's fit: ln KM median T_grok on rho over the counting levels (None with fewer than two)."""
    return _cells.exponential_fit(counting_levels(runs, x), x) if len(runs) else None


def exp_category(fit: Any) -> str:
    """C7's category of a fit: strong, weak, flat, inverse or undecided ("no fit" without one)."""
    if fit is None:
        return "no fit"
    a = fit.alpha
    if not np.isfinite(a.lo):
        return "undecided"
    if a.lo > TOL["flat"] and fit.r2 >= TOL["exp_r2"]:
        return "strong"
    if a.lo > 0:
        return "weak"
    if -TOL["flat"] <= a.lo <= 0 <= a.hi <= TOL["flat"]:
        return "flat"
    if a.hi < 0:
        return "inverse"
    return "undecided"


def exp_judgement(fit: Any, what: str = "the sweep") -> Judgement:
    """C7's verdict on "the exponential law holds": strong -> consistent, weak -> partly, flat or
    inverse -> differs, undecided -> inconclusive; no data without a fit."""
    cat = exp_category(fit)
    if cat == "no fit":
        return no_data(f"{what}: fewer than two counting levels")
    return Judgement(EXP_CATEGORIES[cat], f"α {fmt_ci(fit.alpha, '.2f')}, R² {fit.r2:.2f} on the level medians: "
                     f"{cat} (strong: CI above +{TOL['flat']:g} and R² ≥ {TOL['exp_r2']:g})", kind="value",
                     ours=fit.alpha, fmt=".2f", tolerance=f"C7 (±{TOL['flat']:g})")


def same_exponent(ref: Any, fit: Any) -> Judgement:
    """4a, 4c: compare(alpha_AdamW, alpha, atol=max(25 % |alpha_AdamW|, 1))."""
    if ref is None or fit is None:
        return no_data("a fit is missing")
    a = ref.alpha.value
    return compare(a, fit.alpha, atol=max(TOL["alpha_rel"] * abs(a), TOL["alpha_abs"]), fmt=".2f")


def counted_ratio(ref: pd.DataFrame, other: pd.DataFrame) -> Estimate | None:
    """T(other) / T(ref), Kaplan-Meier medians, CI by resampling runs within each: only when both cells
    count (C2: more than half of their runs grokked; a cell that does not has no median to divide)."""
    if not (counts(ref) and counts(other)):
        return None
    return _cells.delay_ratio(ref, other)


def level_ratio(runs: pd.DataFrame, lo: float, hi: float) -> Estimate | None:
    """T(hi) / T(lo) of a sweep's levels (:func:`counted_ratio`)."""
    if not len(runs):
        return None
    return counted_ratio(_cells.select(runs, rho=lo), _cells.select(runs, rho=hi))


# ---------------------------------------------------------------------------- §2b and §2c: paper 3's encoder
@dataclass
class Section2b:
    """§2b: 7E's sweeps (total and head), their C7 fits and ratios, and 2b-4's predictions of the
    encoder's free T_grok by the clamped law calibrated on the total sweep."""

    control: Control
    total: pd.DataFrame
    head: pd.DataFrame
    want_total: int
    want_head: int
    fit: Any
    ratio: Estimate | None
    ratio_head: Estimate | None
    law: ClampLaw | None
    pred: pd.DataFrame
    d: dict[str, Estimate | None]
    before_mem: int

    @property
    def complete(self) -> bool:
        return self.want_total > 0 and len(self.total) == self.want_total


def clamped_before_memorizing(runs: pd.DataFrame) -> int:
    """How many clamped runs were held before they memorized (their T_mem after the clamp start, or none)."""
    if not len(runs):
        return 0
    t_mem = runs["t_mem"].astype(float)
    return int((t_mem.isna() | (t_mem > runs["clamp_start"].astype(float))).sum())


def section2b(st: Stored, new: NewRuns) -> Section2b:
    """§2b from 7E's runs (what the store has) and the stored encoder run sets (2b-4)."""
    d, ctl = new.enc_clamps, new.enc
    total = d.table("7E total", ["rho"]) if "7E total" in d.experiments else pd.DataFrame(columns=["rho"])
    head = d.table("7E head", ["rho"]) if "7E head" in d.experiments else pd.DataFrame(columns=["rho"])
    want_t = len(d.configs(["7E total"])) if "7E total" in d.experiments else 0
    want_h = len(d.configs(["7E head"])) if "7E head" in d.experiments else 0
    full_t, full_h = want_t > 0 and len(total) == want_t, want_h > 0 and len(head) == want_h
    fit = exp_fit(total) if full_t else None
    lo, hi = (min(d_), max(d_)) if (d_ := sorted(total["rho"].unique()) if len(total) else []) else (None, None)
    ratio = level_ratio(total, lo, hi) if full_t and lo is not None and lo != hi else None
    hl = sorted(head["rho"].unique()) if len(head) else []
    ratio_h = level_ratio(head, hl[0], hl[-1]) if full_h and len(hl) >= 2 else None
    law = clamp_law(total, t_int=ctl.t_int) if full_t else None
    cal, ev = st.sets["enc_main"], st.sets["enc_eval"]
    pred = predict(ev, st.series, law, _km(cal) if len(cal) else None, log_law(cal, st.series)) if law else ev.iloc[:0]
    dd = {"2b-4-constant": compare_predictors(pred, "1P", "B1"), "2b-4-paper3": compare_predictors(pred, "1P", "B2")}
    return Section2b(ctl, total, head, want_t, want_h, fit, ratio, ratio_h, law, pred, dd,
                     clamped_before_memorizing(pd.concat([total, head], ignore_index=True)) if len(total) else 0)


#: Chapter 3's predictors (2c), by key: its ``DelayPredictor.calibrate`` arguments (the paper window's
#: rate is read from 100 steps after train accuracy 0.995; the others from the chapter's 300-step window).
PREDICTORS_2C = {"paper window": {}, "2ηλ": {"rate": "2ηλ"}, "corrected": {"learn_scale": True}}
PREDICTOR_ROWS = {"paper window": "2c-1", "2ηλ": "2c-2", "corrected": "2c-3"}


@dataclass
class Section2c:
    """§2c: chapter 3's predictors calibrated on its main cell and scored on its λ and η sweeps."""

    cal: pd.DataFrame
    ev: pd.DataFrame
    scored: pd.DataFrame
    v_post: float
    errors: dict[str, Any]
    d: dict[str, Estimate | None]
    never: dict[str, int]
    check_k: int
    check_n: int


def section2c(P: pm.Values, st: Stored) -> Section2c:
    """§2c: ``DelayPredictor`` as chapter 3 calibrates it (V_post_hat = median V_post of the grokked
    calibration runs) on ``enc_main``, scored on ``enc_eval``'s grokked runs against the calibration
    median delay (C6, strata the (λ, η) cells); the grokking check on every ``enc_eval`` run."""
    from . import free_contraction_law as ch3

    store = RunStore(P.store)
    cal, ev = st.sets["enc_main"], st.sets["enc_eval"]
    window = ch3.PRESETS["book"]["fit_window"]
    empty = Section2c(cal, ev, ev.iloc[:0], float("nan"), {}, {}, {}, 0, len(ev))
    if not len(cal) or not (cal["status"] == "grokked").any() or not len(ev):
        return empty

    def quantities(t: pd.DataFrame) -> pd.DataFrame:
        return ch3.paper_window(contraction.run_quantities(t, store.traces(t["key"]), window=window), store)

    qc, qe = quantities(cal), quantities(ev)
    scored = qe[qe["grokked"].astype(bool)].copy()
    scored["cell"] = cell_of(scored)
    errors, d, never = {}, {}, {}
    base = float(qc.loc[qc["grokked"].astype(bool), "delay"].median())
    scored["pred_constant"] = base
    scored["e_constant"] = log_errors(scored["pred_constant"], scored["delay"])
    v_post = float("nan")
    for key, kw in PREDICTORS_2C.items():
        c, e, w = (qc, scored, window) if key != "paper window" else (
            qc.assign(gamma_window=qc["gamma_995"]), scored.assign(gamma_window=scored["gamma_995"]), ch3.PAPER_WINDOW)
        pred = contraction.DelayPredictor.calibrate(c, window=w, **kw)
        v_post = pred.v_post
        p = pred.predict_runs(e).to_numpy(float)
        never[key] = int((~np.isfinite(p)).sum())
        scored[f"pred_{key}"] = np.where(np.isfinite(p), p, np.inf)  # a rate that is not positive never fires (C4)
        scored[f"e_{key}"] = log_errors(scored[f"pred_{key}"], scored["delay"])
        errors[key] = contraction.prediction_errors(p, scored["delay"])
        d[key] = male_diff(scored[f"e_{key}"], scored["e_constant"], scored["cell"])
    will = qe["v_mem"].astype(float).to_numpy() > 2.0 * v_post
    right = int((will == qe["grokked"].astype(bool).to_numpy()).sum())
    return Section2c(qc, qe, scored, v_post, errors, d, never, right, len(qe))


# ---------------------------------------------------------------------------- §3: one variable for every intervention
#: The intervention families of the pool, in the order of rule X1's first match.
FAMILIES = ("fork", "temperature", "LayerNorm", "group clamp", "one-shot", "clamp", "free: η", "free: λ", "free: p",
            "free: fraction", "free: base")
#: The variables of §3: the registered window averages, and the secondary readings (no verdict).
VARIABLES = {"L_bar": "L̄ (time average of the logit scale)", "rho_bar": "ρ̄ (time average of ‖W‖ / w_c(p))"}
SECONDARY = {"L_grok": "L at T_grok", "rho_grok": "ρ at T_grok", "L_mem": "L at T_mem", "rho_mem": "ρ at T_mem"}


def family(r: Any) -> str:
    """Rule X1's family of one run (first match)."""
    clamped = pd.notna(r.clamp_target) or pd.notna(r.clamp_scale)
    if r.fork_step > 0:
        return "fork"
    if not np.isclose(r.temperature, 1.0):
        return "temperature"
    if bool(r.layernorm):
        return "LayerNorm"
    if clamped and isinstance(r.clamp_group, str):
        return "group clamp"
    if clamped and r.clamp_mode == "once":
        return "one-shot"
    if clamped:
        return "clamp"
    if not np.isclose(r.lr, 1e-3):
        return "free: η"
    if not np.isclose(r.weight_decay, 1.0):
        return "free: λ"
    if r.p != 59:
        return "free: p"
    if not np.isclose(r.train_frac, 0.4):
        return "free: fraction"
    return "free: base"


def _is_wc_run(t: pd.DataFrame) -> np.ndarray:
    """The free runs that set w_c(p): fraction 0.4, λ 1, η 1e-3, τ 1, no LayerNorm, no fork (both
    decay orders)."""
    return (t["clamp_target"].isna() & t["clamp_scale"].isna() & (t["fork_step"] == 0)
            & ~t["layernorm"].astype(bool)).to_numpy() & _is(t, train_frac=0.4, weight_decay=1.0, lr=1e-3,
                                                            temperature=1.0)


def window_average(steps: np.ndarray, values: np.ndarray, t0: float, t1: float) -> float:
    """The time average of a piecewise linear series over [t0, t1] (trapezoid); the value at t1 when
    the window is empty (t1 <= t0: the run grokked before t0; a deviation, see :data:`DEVIATIONS`)."""
    ok = np.isfinite(values)
    steps, values = steps[ok], values[ok]
    if not len(steps):
        return float("nan")
    if t1 <= t0:
        return float(np.interp(t1, steps, values))
    inner = (steps > t0) & (steps < t1)
    t = np.concatenate([[t0], steps[inner], [t1]])
    v = np.interp(t, steps, values)
    return float(np.sum(0.5 * (v[1:] + v[:-1]) * np.diff(t)) / (t1 - t0))


@dataclass
class Section3:
    """§3: the pool's runs with their family, cell and variables; the cells with x and y; the
    leave-one-family-out fits per family, and the pooled out-of-family R² with their bootstrap CIs."""

    runs: pd.DataFrame
    cells: pd.DataFrame
    wc: dict[int, float]
    families: pd.DataFrame
    r2: dict[str, Estimate | None]
    diff: Estimate | None
    secondary: dict[str, float]
    empty_window: int
    empty_cells: list[str]


def pool_variables(pool: pd.DataFrame, series: Mapping[str, Series]) -> tuple[pd.DataFrame, dict[int, float]]:
    """The pool's runs with ``family``, ``cell`` and rule X1's variables: L_bar and N_bar over
    [max(t_int, fork_step), T_grok] (censored runs: to their last step), rho_bar = N_bar / w_c(p), and
    the secondary readings; ``w_c(p)`` per modulus."""
    runs = pool.copy()
    runs["family"] = [family(r) for r in runs.itertuples()]
    runs["cell"] = cell_of(runs)
    base = runs[_is_wc_run(runs) & (runs["status"] == "grokked").to_numpy()]
    wc = {int(p): float(g["norm_grok"].astype(float).median()) for p, g in base.groupby("p")}
    t0 = np.maximum(T_INT, runs["fork_step"].astype(float).to_numpy())
    t1 = np.where(runs["status"] == "grokked", runs["t_grok"].astype(float), runs["final_step"].astype(float))
    lbar, nbar = [], []
    for k, a, b in zip(runs["key"], t0, t1):
        s = series.get(k)
        lbar.append(window_average(s.L_steps, s.L, a, b) if s else np.nan)
        nbar.append(window_average(s.steps, s.N, a, b) if s else np.nan)
    w = runs["p"].map(wc).astype(float)
    runs["empty_window"] = t1 <= t0
    runs = runs.assign(L_bar=lbar, N_bar=nbar, rho_bar=np.array(nbar) / w,
                       L_grok=runs["logit_scale_grok"].astype(float), rho_grok=runs["norm_grok"].astype(float) / w,
                       L_mem=runs["logit_scale_mem"].astype(float), rho_mem=runs["norm_mem"].astype(float) / w)
    return runs, wc


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if len(x) < 2 or np.ptp(x) == 0:
        return float("nan"), float("nan")
    b, a = np.polyfit(x, y, 1)
    return float(a), float(b)


def lofo(cells: pd.DataFrame, x: str) -> tuple[pd.DataFrame, float]:
    """Leave one family out: fit y = a + b x on the other families' cells, predict the held-out
    family's; per family R² (3 cells or more) and MAE, and the pooled out-of-family R² over every cell."""
    ok = cells[np.isfinite(cells[x]) & np.isfinite(cells["y"])]
    preds = pd.Series(np.nan, index=ok.index)
    for fam in ok["family"].unique():
        train = ok[ok["family"] != fam]
        a, b = _ols(train[x].to_numpy(), train["y"].to_numpy())
        preds[ok["family"] == fam] = a + b * ok.loc[ok["family"] == fam, x]
    rows = []
    for fam in FAMILIES:
        g = ok[ok["family"] == fam]
        if not len(g):
            continue
        res = g["y"] - preds[g.index]
        sst = float(np.sum((g["y"] - g["y"].mean()) ** 2))
        r2 = 1 - float(np.sum(res ** 2)) / sst if len(g) >= 3 and sst > 0 else np.nan
        rows.append({"family": fam, "cells": len(g), "R²": r2, "MAE": float(np.mean(np.abs(res)))})
    res = ok["y"] - preds
    sst = float(np.sum((ok["y"] - ok["y"].mean()) ** 2))
    pooled = 1 - float(np.nansum(res ** 2)) / sst if sst > 0 and len(ok) >= 3 else float("nan")
    return pd.DataFrame(rows, columns=["family", "cells", "R²", "MAE"]), pooled


def _cell_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per cell of the pool: family, p, counting, y = ln KM median T_grok (counting cells) and
    x = the median of each variable over the cell's grokked runs."""
    rows = []
    for cell, g in runs.groupby("cell", sort=True):
        gg = g[g["status"] == "grokked"]
        row = {"cell": cell, "family": g["family"].iloc[0], "p": int(g["p"].iloc[0]), "runs": len(g),
               "grokked": len(gg), "counts": counts(g), "y": math.log(_km(g)) if counts(g) else np.nan}
        for v in (*VARIABLES, *SECONDARY):
            row[v] = float(gg[v].median()) if len(gg) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def section3(st: Stored) -> Section3 | None:
    """§3 on ``mlp_pool`` (rule X1), with the bootstrap of C5 (runs resampled within cells, w_c(p), the
    cells' x and y and every fit recomputed per resample)."""
    pool = st.sets["mlp_pool"]
    if not len(pool):
        return None
    runs, wc = pool_variables(pool, st.series)
    runs = runs[runs["p"].isin(list(wc))]  # cells at a p without a w_c leave both fits
    cells = _cell_frame(runs)
    fams, r2 = {}, {}
    for v in VARIABLES:
        fams[v], r2[v] = lofo(cells, v)
    secondary = {v: lofo(cells, v)[1] for v in SECONDARY}
    boot = _boot_r2(runs, cells)
    est = {v: _ci(r2[v], boot[v]) if np.isfinite(r2[v]) else None for v in VARIABLES}
    diff = _ci(r2["L_bar"] - r2["rho_bar"], boot["L_bar"] - boot["rho_bar"]) if all(est.values()) else None
    table = fams["L_bar"].merge(fams["rho_bar"], on=["family", "cells"], how="outer", suffixes=(" (L̄)", " (ρ̄)"))
    table = table.assign(_o=table["family"].map(FAMILIES.index)).sort_values("_o").drop(columns="_o")
    empty = runs[runs["empty_window"] & (runs["status"] == "grokked")]
    return Section3(runs, cells, wc, table, est, diff, secondary, len(empty),
                    sorted(set(cell_label(empty.drop_duplicates("cell"))))) if len(runs) else None


def _boot_r2(runs: pd.DataFrame, cells: pd.DataFrame, n_boot: int = BOOTSTRAP["resamples"]) -> dict[str, np.ndarray]:
    """The pooled out-of-family R² of each variable in every resample (C5: runs resampled within
    cells; w_c(p), the cells' x and y, which cells count and every fit recomputed)."""
    runs = runs.reset_index(drop=True)
    idx = boot_index(runs["cell"], n_boot)
    cell_ids = sorted(runs["cell"].unique(), key=repr)
    starts = np.cumsum([0] + [int((runs["cell"] == c).sum()) for c in cell_ids])
    t, ev = _cells.grok_times(runs)
    ys, counting, xs = [], [], {v: [] for v in VARIABLES}
    wc_cols, n_bar = [], runs["N_bar"].to_numpy(float)
    is_wc = _is_wc_run(runs) & ev
    grok_norm = np.where(is_wc, runs["norm_grok"].astype(float).to_numpy(), np.nan)
    for j, c in enumerate(cell_ids):
        ii = idx[:, starts[j]:starts[j + 1]]
        e = ev[ii]
        med = _km_median_rows(t[ii], e)
        counting.append(2 * e.sum(axis=1) > ii.shape[1])
        ys.append(np.log(med))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            xs["L_bar"].append(np.nanmedian(np.where(e, runs["L_bar"].to_numpy(float)[ii], np.nan), axis=1))
            xs["rho_bar"].append(np.nanmedian(np.where(e, n_bar[ii], np.nan), axis=1))
        wc_cols.append(grok_norm[ii])
    y, cnt = np.stack(ys, 1), np.stack(counting, 1)
    p_of = np.array([int(runs.loc[runs["cell"] == c, "p"].iloc[0]) for c in cell_ids])
    fam = np.array([runs.loc[runs["cell"] == c, "family"].iloc[0] for c in cell_ids])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        wc_b = {p: np.nanmedian(np.concatenate([wc_cols[j] for j in range(len(cell_ids)) if p_of[j] == p], axis=1),
                                axis=1) for p in np.unique(p_of)}
    x = {"L_bar": np.stack(xs["L_bar"], 1),
         "rho_bar": np.stack(xs["rho_bar"], 1) / np.stack([wc_b[p] for p in p_of], 1)}
    out = {}
    for v in VARIABLES:
        vals = np.full(n_boot, np.nan)
        for b in range(n_boot):
            ok = cnt[b] & np.isfinite(x[v][b]) & np.isfinite(y[b])
            vals[b] = _pooled_r2(x[v][b][ok], y[b][ok], fam[ok])
        out[v] = vals
    return out


def _pooled_r2(x: np.ndarray, y: np.ndarray, fam: np.ndarray) -> float:
    """The pooled out-of-family R² of one resample (the point estimate's :func:`lofo`, in arrays)."""
    if len(y) < 3:
        return float("nan")
    pred = np.full(len(y), np.nan)
    for f in np.unique(fam):
        m = fam == f
        a, b = _ols(x[~m], y[~m])
        pred[m] = a + b * x[m]
    sst = float(np.sum((y - y.mean()) ** 2))
    return 1 - float(np.nansum((y - pred) ** 2)) / sst if sst > 0 else float("nan")


# ---------------------------------------------------------------------------- §4: the optimizer
@dataclass
class Sweep:
    """One new clamp sweep read back (7M, a 7S cell): its control, its runs in the store and how many it
    asks for, and C7's fit once all its runs are in the store."""

    control: Control
    runs: pd.DataFrame
    want: int
    fit: Any = None

    @property
    def complete(self) -> bool:
        return self.want > 0 and len(self.runs) == self.want

    def status(self) -> str:
        """Why the sweep has no reading yet, in words ('' when it is complete)."""
        if not self.control.ok:
            return self.control.reason
        if not self.complete:
            return f"{len(self.runs)} of its {self.want} clamped runs are in the store"
        return ""


@dataclass
class Section4:
    """§4: the Muon sweep (4a, 4b), the SGD sweep of each map cell (4c), and the AdamW references."""

    muon: Sweep
    muon_rung: int | None
    ratios: dict[float, Estimate | None]
    sgd: dict[tuple[float, float, float], Sweep]
    adamw_mlp: Any
    adamw_enc: Any


def _sweep(d: Design, name: str, ctl: Control, labels: Sequence[str] = ("rho",)) -> Sweep:
    runs = d.table(name, list(labels)) if name in d.experiments else pd.DataFrame(columns=list(labels))
    want = len(d.configs([name])) if name in d.experiments else 0
    sw = Sweep(ctl, runs, want)
    if sw.complete:
        sw.fit = exp_fit(runs)
    return sw


def section4(st: Stored, new: NewRuns, s2b: Section2b) -> Section4:
    """§4 from 7M and 7S (read once all of a sweep's runs are in the store) and the AdamW references:
    C7 on chapter 2's dense runs at the Muon sweep's levels, and 7E's total sweep."""
    muon = _sweep(new.muon_clamps, "7M clamp", new.muon)
    ratios = {}
    if muon.complete:
        for rho in (1.15, 1.30):
            ratios[rho] = counted_ratio(new.muon.runs, _cells.select(muon.runs, rho=rho))
    sgd = {}
    all_sgd = new.sgd_clamps
    for cell, ctl in new.sgd.items():
        runs = (all_sgd.table("7S clamp", ["lr", "weight_decay", "momentum", "rho"])
                if "7S clamp" in all_sgd.experiments else pd.DataFrame(columns=["rho"]))
        runs = _cells.select(runs, lr=cell[0], weight_decay=cell[1], momentum=cell[2]) if len(runs) else runs
        want = sum(1 for c, lab in all_sgd.experiments.get("7S clamp", [])
                   if (lab["lr"], lab["weight_decay"], lab["momentum"]) == cell)
        sw = Sweep(ctl, runs, want)
        if sw.complete:
            sw.fit = exp_fit(runs)
        sgd[cell] = sw
    dense = st.sets["C2_dense"]
    levels = [round(r, 4) for r in TRAINING["7M"]["presets"]["book"]["rhos"]]
    adamw = exp_fit(dense[dense["rho"].round(4).isin(levels)]) if len(dense) else None
    return Section4(muon, new.muon_rung, ratios, sgd, adamw, s2b.fit)


# ---------------------------------------------------------------------------- §5: sparse parity
@dataclass
class Section5:
    """§5: 7P's free, clamped and bridge arms read back (each once all its runs are in the store), and
    paper 3's parity runs (chapter 3) beside them."""

    control: Control
    free: pd.DataFrame
    clamp: pd.DataFrame
    bridge: pd.DataFrame
    want: dict[str, int]
    reference: pd.DataFrame
    cv: Estimate | None = None
    wc: Estimate | None = None
    wc_m: dict[int, Estimate] = _field(default_factory=dict)
    cv_m: Estimate | None = None
    ratio: Estimate | None = None
    delay: Estimate | None = None
    growth: Estimate | None = None
    delays: pd.DataFrame = _field(default_factory=pd.DataFrame)

    def have(self, part: str) -> bool:
        n = {"free": len(self.free), "clamp": len(self.clamp), "bridge": len(self.bridge)}[part]
        return self.want.get(part, 0) > 0 and n == self.want[part]

    def status(self, part: str) -> str:
        n = {"free": len(self.free), "clamp": len(self.clamp), "bridge": len(self.bridge)}[part]
        if part == "clamp" and not self.control.ok:
            return self.control.reason
        return f"{n} of the {self.want.get(part, 0)} runs of 7P's {part} arms are in the store"


def _delays(runs: pd.DataFrame, by: str, label: str) -> list[dict]:
    rows = []
    for lvl, g in runs.groupby(by):
        gg = g[g["status"] == "grokked"]
        d09 = (gg["t_grok"] - gg["t_mem"]).astype(float)
        d95 = (gg["t_test_0.95"] - gg["t_mem"]).astype(float)
        rows.append({"arm": f"{label} {lvl:g}", "runs": len(g), "grokked": len(gg), "median T_grok": _km(g),
                     "median delay (0.9)": float(d09.median()) if len(gg) else np.nan,
                     "median delay (0.95)": float(d95.median()) if len(gg) else np.nan,
                     "median ‖W‖ at T_grok": float(gg["norm_grok"].median()) if len(gg) else np.nan})
    return rows


def section5(st: Stored, new: NewRuns, P: pm.Values) -> Section5:
    """§5's readings from 7P's runs (each part once all of its runs are in the store)."""
    d, dc = new.par_free, new.par_clamps
    free = d.table("7P free", ["m", "n"])
    bridge = d.table("7P bridge", ["m", "n"])
    clamp = dc.table("7P clamp", ["rho", "m"]) if "7P clamp" in dc.experiments else pd.DataFrame(columns=["rho", "m"])
    want = {"free": len(d.configs(["7P free"])), "bridge": len(d.configs(["7P bridge"])),
            "clamp": len(dc.configs(["7P clamp"])) if "7P clamp" in dc.experiments else 0}
    s = Section5(new.par, free, clamp, bridge, want, st.sets["parity_p3"])
    if s.have("free"):
        at = free[(free["m"] == P.par_clamp_m) & (free["status"] == "grokked")]
        norms = at["norm_grok"].astype(float)
        if len(norms) >= 2:
            s.cv = bootstrap_cv(norms)
            s.wc = _cells.median_ci(norms)
            s.delay = _cells.median_ci((at["t_grok"] - at["t_mem"]).astype(float))
            s.growth = _cells.median_ci((at["sq_norm_all_final"] / at["sq_norm_all_mem"]).astype(float))
        for m in P.par_free_m:
            g = free[(free["m"] == m) & (free["status"] == "grokked")]["norm_grok"].astype(float)
            if m != P.par_clamp_m and len(g):
                s.wc_m[int(m)] = _cells.median_ci(g)
        s.cv_m = _cells.spread_of_medians(free, "m")
    if s.have("clamp") and len(P.par_rhos) >= 2:
        lo, hi = min(P.par_rhos), max(P.par_rhos)
        s.ratio = counted_ratio(_cells.select(clamp, rho=lo), _cells.select(clamp, rho=hi))
    rows = _delays(free, "m", "free, m") if len(free) else []
    rows += _delays(clamp.assign(m=clamp["rho"]), "m", "clamp, ρ") if len(clamp) else []
    rows += _delays(bridge, "m", "bridge, m") if len(bridge) else []
    ref = st.sets["parity_p3"]
    rows += _delays(ref.assign(m=ref["parity_n"]), "m", "paper 3 (chapter 3), n") if len(ref) else []
    s.delays = pd.DataFrame(rows)
    return s


def bootstrap_cv(values: pd.Series) -> Estimate:
    """The CV (std, ddof 1, over the mean) with its bootstrap CI (C5)."""
    from ...analysis.stats import coefficient_of_variation

    return coefficient_of_variation(values.to_numpy(float), n_boot=BOOTSTRAP["resamples"], seed=BOOTSTRAP["seed"])


# ---------------------------------------------------------------------------- the whole analysis
@dataclass
class Results:
    """Everything the page shows and the verdicts judge."""

    s1: Section1
    s2a: Section2a
    s2b: Section2b
    s2c: Section2c
    s3: Section3 | None
    s4: Section4
    s5: Section5
    new: NewRuns
    stored: Stored


def analyse(P: pm.Values, st: Stored, new: NewRuns) -> Results:
    """The chapter's numbers: §1-§3 from the stored run sets, §2b, §4 and §5 from the new runs."""
    s2b = section2b(st, new)
    return Results(section1(st), section2a(st), s2b, section2c(P, st), section3(st), section4(st, new, s2b),
                   section5(st, new, P), new, st)


# ---------------------------------------------------------------------------- deviations from the registration
#: Where a registered rule could not be implemented exactly as written: the closest thing computed,
#: by row id (each such row's note says so, and the page lists them).
DEVIATIONS = {
    "§3 (rows 3a-3c)": ("X1's window [t0, T_grok] is empty for a run that groks before t0 = 500 (chapter 1's λ 3, η 3e-3 cell "
          "at fraction 0.5); its L̄ and ρ̄ are read at T_grok, the window's end, instead of a time average"),
    "§2c (rows 2c-1 to 2c-3)": ("the registration does not say how a predictor whose rate over its window is not positive (it "
           "predicts no contraction) is scored; it is counted as a rule that never fires (C4's late-censored "
           "+10)"),
}


def deviation_note(key: str) -> str:
    return f"deviation from the registration: {DEVIATIONS[key]}"


# ---------------------------------------------------------------------------- texts
def _f(x: float, fmt: str = ".2f") -> str:
    return fmt_num(x, fmt)


def _late(x: float) -> str:
    """A median signed log error as "47 % late" / "12 % early"."""
    if not np.isfinite(x):
        return "n/a"
    return f"{100 * (math.exp(x) - 1):.0f} % late" if x >= 0 else f"{100 * (1 - math.exp(x)):.0f} % early"


def sentence_wc(r: Results, V: Verdicts | None = None) -> str:
    """SENTENCES['1-wc'] from the rows 1e and 1e-threshold."""
    e, thr = _verdict(V, "1e"), _verdict(V, "1e-threshold")
    if e is None or thr is None or NO_DATA in (e, thr):
        return "nothing can be said yet (no data)"
    holds = lambda v: v in (CONSISTENT, CLOSE)  # noqa: E731
    if holds(e) and not holds(thr):
        return "the critical norm is where the accumulated progress reaches 1"
    if holds(thr) and not holds(e):
        return "the critical norm is a threshold"
    return "both readings hold" if holds(e) else "neither reading holds"


def sentence_optimizer(r: Results, V: Verdicts | None = None) -> str:
    """SENTENCES['4-optimizer'] from 4a, 4c and the AdamW fits."""
    a, c = _verdict(V, "4a"), _verdict(V, "4c")
    if a in (None, NO_DATA):
        return "undecided: the Muon sweep has no reading yet"
    enc_strong = exp_category(r.s4.adamw_enc) == "strong"
    if a in (CONSISTENT, CLOSE) and (c in (CONSISTENT, CLOSE) or not enc_strong):
        return "a property of the norm"
    if exp_category(r.s4.muon.fit) == "flat" and exp_category(r.s4.adamw_mlp) == "strong":
        return "a property of AdamW"
    return f"undecided (4a {a}, 4c {c or 'no data'})"


def sentences_parity(r: Results, V: Verdicts | None = None) -> tuple[str, str]:
    """SENTENCES['5-fits'] and ['5-reconcile']."""
    s5 = r.s5
    d, e = _verdict(V, "5d"), _verdict(V, "5e")
    if d in (None, NO_DATA) or e in (None, NO_DATA):
        fits = "cannot be said yet (its runs are not all in the store)"
    elif d in (CONSISTENT, CLOSE) and s5.ratio.lo > 1 and e not in (CONSISTENT, CLOSE):
        fits = "paper 1's description fits"
    elif e in (CONSISTENT, CLOSE) and s5.ratio.lo <= 1 <= s5.ratio.hi:
        fits = "paper 3's description fits"
    else:
        fits = "neither description fits alone"
    if not (s5.have("free") and s5.have("bridge")) or s5.delay is None:
        return fits, "cannot be said yet (their runs are not all in the store)"
    med = s5.delays.set_index("arm")["median delay (0.9)"]
    order = [f"free, m {m:g}" for m in sorted(s5.free["m"].unique())] + [
        f"bridge, m {m:g}" for m in sorted(s5.bridge["m"].unique())]
    seq = [med.get(a, np.nan) for a in order]
    big = [m for m in s5.bridge["m"].unique()]
    at_big = med.get(f"bridge, m {max(big):g}", np.nan) if big else np.nan
    ok = (s5.delay.lo > TOL["delay_bound"] and at_big <= TOL["delay_bound"]
          and all(b <= a for a, b in zip(seq, seq[1:]) if np.isfinite(a) and np.isfinite(b)))
    rec = ("the protocols reconcile through the data size" if ok else
           "not by data size alone: paper 3's protocol also differs in its minibatch (256) and its test set")
    return fits, rec


def _verdict(V: Verdicts | None, pid: str) -> str | None:
    row = _row(V, pid)
    return row.verdict if row is not None else None


def _row(V: Verdicts | None, pid: str) -> Any:
    if V is None:
        return None
    claim = PRED[pid].claim
    return next((row for row in V.rows if row.claim == claim), None)


#: The registered rows by id.
PRED = {p.id: p for p in PREDICTIONS}


def new_status(r: Results) -> str:
    """Which of the new designs have their runs in the store, in words."""
    new = r.new
    parts = []
    for name, ds in (("7E", [new.enc_clamps]), ("7M", [*new.muon_free, new.muon_clamps]),
                     ("7S", [new.sgd_free, new.sgd_clamps]), ("7P", [new.par_free, new.par_clamps])):
        want = sum(len(d.configs()) for d in ds)
        miss = sum(d.missing for d in ds)
        parts.append(f"{name} {want - miss} of {want}" + ("" if want else " (not asked yet: its control is missing)"))
    return "; ".join(parts)


def texts(P: pm.Values, r: Results, V: Verdicts | None = None) -> dict[str, str]:
    """The numbers and phrases the prose glues, by name (``V``: the verdicts, for the sentences)."""
    s1, s2a, s2c, s3 = r.s1, r.s2a, r.s2c, r.s3
    m = {k: summary(s1.pred, k) for k in PREDICTORS_1}
    law = s1.law
    fits, rec = sentences_parity(r, V)
    d1 = s1.d.get("1a")
    return {
        "registered": REGISTERED, "registration_doc": REGISTRATION_DOC, "t_int": str(T_INT),
        "preset_how": P.how_chosen,
        # §1
        "n_eval": str(len(s1.pred)), "n_eval_cells": str(s1.pred["cell"].nunique() if len(s1.pred) else 0),
        "n_cal": str(len(r.stored.sets["free_cal_059"])), "n_dense": str(len(s1.dense)),
        "law_levels": (f"{len(law.levels)} counting levels, held norms {law.levels[0]:.1f}–{law.levels[-1]:.1f}, "
                       f"D from {math.exp(law.log_d[0]):,.0f} to {math.exp(law.log_d[-1]):,.0f} steps, slope "
                       f"β = {law.beta:.3f} per unit of norm outside them") if law else "no counting level (no runs)",
        "wc_ch2": _f(s1.wc_ch2, ".2f"), "b1": fmt_num(s1.b1, ",.0f"), "wc_cal": _f(s1.wc_cal, ".2f"),
        "b2": (f"k = {s1.b2.k:.1f}, V̂_post = {s1.b2.v_post:,.0f} (from {s1.b2.n_cal} runs)" if s1.b2 else "n/a"),
        **{f"male_{k}": _f(v["male"]) for k, v in m.items()},
        "d_1a": fmt_ci(d1, ".2f"), "word_1a": decision(d1), "word_1b": decision(s1.d.get("1b")),
        "word_1c": decision(s1.d.get("1c-progress")),
        "bias": fmt_ci(s1.bias, ".2f"), "bias_late": _late(s1.bias.value) if s1.bias else "n/a",
        "within_1P": f"{m['1P']['within']:.0%}" if np.isfinite(m["1P"]["within"]) else "n/a",
        "p_at_t": _f(float(_scored(s1.pred)["P_T"].median()) if len(_scored(s1.pred)) else np.nan),
        "late_1P": str(int(_scored(s1.pred)["late"].sum()) if len(s1.pred) else 0),
        "censored_B3": str(m["B3"]["censored"]) if "B3" in m else "0",
        "wc_words": sentence_wc(r, V),
        "wc_readings": "; ".join(f"λ = {lam:g}: law {w.predicted:.1f}, measured {fmt_ci(w.measured, '.1f')}"
                                 for lam, w in s1.wc.items()) or "n/a",
        "male_cal": _f(summary(s1.cal_pred)["male"]), "male_s1": _f(summary(s1.s1)["male"]),
        "male_s2": _f(summary(s1.s2)["male"]), "n_s2": str(s1.s2_scored),
        "male_f05": _f(summary(s1.f05_pred)["male"]), "male_f05_b1": _f(summary(s1.f05_pred, "B1")["male"]),
        "word_1f": decision(s1.d_f05),
        # §2
        "loso_word": decision(s2a.d.get("2a-1")), "d_2a": fmt_ci(s2a.d.get("2a-1"), ".2f"),
        **{f"loso_{k}": _f(v) for k, v in s2a.male.items()},
        "thr_vs_log": decision(s2a.d.get("threshold-vs-log")),
        "enc_control": (f"w_c = {r.s2b.control.wc:.2f}, the head's norm at grokking {r.s2b.control.wc_head:.2f}, "
                        f"t_int = {r.s2b.control.t_int:,}, T_free = {r.s2b.control.t_free:,.0f}"
                        if r.s2b.control.ok else r.s2b.control.reason),
        "enc_status": _enc_status(r),
        "v_post_2c": fmt_num(s2c.v_post, ",.0f"),
        **{f"word_2c_{PREDICTOR_ROWS[k][-1]}": decision(s2c.d.get(k)) for k in PREDICTORS_2C},
        **{f"mae_2c_{PREDICTOR_ROWS[k][-1]}": fmt_ci(s2c.errors[k].mae, ".0f", " %") if k in s2c.errors else "n/a"
           for k in PREDICTORS_2C},
        "check_2c": f"{s2c.check_k} of {s2c.check_n}",
        # §3
        "r2_L": fmt_ci(s3.r2.get("L_bar") if s3 else None, ".2f"),
        "r2_rho": fmt_ci(s3.r2.get("rho_bar") if s3 else None, ".2f"),
        "r2_diff": fmt_ci(s3.diff if s3 else None, ".2f"),
        "onevar_word": _onevar_word(s3),
        "n_pool": str(len(s3.runs)) if s3 else "0", "n_pool_cells": str(int(s3.cells["counts"].sum())) if s3 else "0",
        "secondary": ", ".join(f"{SECONDARY[k]} {v:.2f}" for k, v in s3.secondary.items()) if s3 else "n/a",
        "carry": _carry(s3),
        # §4, §5
        "muon_status": r.s4.muon.status() or "all its runs are in the store",
        "muon_rung": (f"lr {P.muon_lrs[r.s4.muon_rung]:g}, λ {P.muon_wds[r.s4.muon_rung]:g}"
                      if r.s4.muon_rung is not None else "none yet"),
        "optimizer_words": sentence_optimizer(r, V),
        "alpha_adamw": fmt_ci(r.s4.adamw_mlp.alpha if r.s4.adamw_mlp else None, ".2f"),
        "parity_fits": fits, "parity_reconcile": rec,
        "parity_status": "; ".join(r.s5.status(p) for p in ("free", "clamp", "bridge")),
        "new_status": new_status(r),
        **_sentences(r, V),
    }


def _sentences(r: Results, V: Verdicts | None) -> dict[str, str]:
    """The page's outcome phrases, each derived from its rows' verdicts (nothing typed in): short, so
    the prose around them reads as prose."""
    s1, s3 = r.s1, r.s3
    v1d = _verdict(V, "1d")
    bias_verb = ("cannot yet be said to reach" if v1d in (None, NO_DATA) or s1.bias is None else
                 "reaches" if v1d == CONSISTENT else "does not reach")
    v3a, v3b = _verdict(V, "3a"), _verdict(V, "3b")
    if s3 is None or v3a in (None, NO_DATA):
        who = "no variable can be tested yet against"
    else:
        held = [n for n, v in (("the logit scale", v3a), ("the norm", v3b)) if v in (CONSISTENT, CLOSE)]
        who = ("neither the logit scale nor the norm passes" if not held else f"only {held[0]} passes"
               if len(held) == 1 else "both the logit scale and the norm pass")
    missing = sum(d.missing for d in r.new.designs)
    asked = sum(len(d.configs()) for d in r.new.designs)
    controls = [r.new.enc, r.new.muon, r.new.par, *r.new.sgd.values()]
    if not missing and all(c.ok or "ladder" in c.reason or "grokked in" in c.reason for c in controls):
        new = f"all {asked} of their runs are in the store"
    else:
        new = f"{new_status(r)} runs in the store, so their rows say no data until the chapter trains them"
    return {"bias_verb": bias_verb, "v_1d": v1d or NO_DATA, "onevar_who": who,
            "onevar_short": _onevar_word(s3), "new_short": new}


def _enc_status(r: Results) -> str:
    b = r.s2b
    if not b.control.ok:
        return b.control.reason
    return (f"{len(b.total)} of the {b.want_total} total-norm runs and {len(b.head)} of the {b.want_head} "
            "head runs are in the store")


def _onevar_word(s3: Section3 | None) -> str:
    if s3 is None or s3.diff is None:
        return "no data"
    word = decision(Estimate(-s3.diff.value, -s3.diff.hi, -s3.diff.lo))  # d < 0: L carries better
    return {"better": "the logit scale carries better than the norm",
            "worse": "the norm carries better than the logit scale",
            "tie": "a tie between the two"}.get(word, word)


def _carry(s3: Section3 | None) -> str:
    if s3 is None:
        return "n/a"
    out = []
    for v, label in (("L̄", "L̄"), ("ρ̄", "ρ̄")):
        t = s3.families
        ok = t[(t[f"R² ({v})"] >= TOL["family_r2"]) & (t[f"MAE ({v})"] <= TOL["family_mae"])]["family"]
        out.append(f"{label}: {and_list(ok) if len(ok) else 'none'}")
    return "; ".join(out)


# ---------------------------------------------------------------------------- verdicts
SECTIONS = {"1": "sec-ch7-progress", "2a": "sec-ch7-loso", "2b": "sec-ch7-encoder", "2c": "sec-ch7-predictor",
            "3": "sec-ch7-one-variable", "4": "sec-ch7-optimizer", "5": "sec-ch7-parity"}


def verdicts(P: pm.Values, r: Results) -> Verdicts:
    """One row per registered prediction (:data:`PREDICTIONS`, in order): its claim, claimant and basis
    as registered; the "paper" column is the law's value (from its calibration runs), "ours" the
    measurement on the evaluation runs; every rule and tolerance as registered (:data:`TOL`)."""
    V = Verdicts(CHAPTER, TITLE, P.preset)
    for p in PREDICTIONS:
        j, paper, ours, note, scale = ROWS[p.section if p.section in ROWS else p.id[0]](p.id, r)
        V.add(p.claim, j, paper=paper, ours=ours, note=note, scale=scale, section=SECTIONS[p.section],
              claimant=p.claimant, basis=p.basis)
    return V


def _sc(runs: pd.DataFrame, by: Any = None) -> Any:
    return _cells.scale_note(runs, by) if len(runs) else _cells.ScaleNote("no runs")


def _c6_text(d: Estimate | None, a: str, b: str, ma: float, mb: float) -> tuple[str, str | None]:
    paper = f"d ≤ 0 (± {TOL['male']:g}); MALE of {a} {_f(ma)}, of {b} {_f(mb)}"
    return paper, (f"d = {fmt_ci(d, '.2f')}: {decision(d)}" if d is not None else None)


def _rows_1(pid: str, r: Results) -> tuple:
    s1 = r.s1
    scored = _scored(s1.pred)
    scale = _sc(s1.pred, "cell")
    reason = "no runs of chapter 2's dense clamps or of the free evaluation set in the store"
    names = {"1a": ("1P", "B1"), "1b": ("1P", "B2"), "1c-progress": ("1P", "B3"), "1c-threshold": ("B3", "1P")}
    if pid in names:
        a, b = names[pid]
        d = s1.d.get(pid)
        paper, ours = _c6_text(d, SHORT[a], SHORT[b], summary(s1.pred, a)["male"],
                               summary(s1.pred, b)["male"] if f"e_{b}" in s1.pred else np.nan)
        cens = summary(s1.pred, "B3")["censored"] if "e_B3" in s1.pred else 0
        note = (f"the threshold never fires in {cens} of {len(scored)} runs (late-censored, e = +10)"
                if "B3" in (a, b) and cens else "")
        return (c6(d) if d else no_data(reason)), paper, ours, note, scale
    if pid == "1d":
        return (compare(0.0, s1.bias, atol=TOL["bias"], fmt=".2f") if s1.bias else no_data(reason),
                "0: progress reaches 1 at grokking (± ln 1.25)", None,
                f"the law fires {_late(s1.bias.value) if s1.bias else 'n/a'} (median); median progress at the "
                f"measured T_grok {_f(float(scored['P_T'].median()) if len(scored) else np.nan)}", scale)
    if pid in ("1e", "1e-threshold"):
        w = s1.wc
        parts = {f"λ = {lam:g}": compare(x.predicted if pid == "1e" else s1.wc_cal, x.measured, tol=TOL["wc"],
                                         fmt=".1f") for lam, x in w.items()}
        sub = scored[_is(scored, lr=1e-3)] if len(scored) else scored
        if pid == "1e":
            held = {lam: int(((sub["weight_decay"].round(4) == lam) & (sub["T_1P"] > sub["final_step"])).sum())
                    for lam in w}
            paper = "the law's norm at T̂: " + " / ".join(f"{x.predicted:.1f}" for x in w.values())
            note = _held_note(held, w)
        else:
            paper, note = f"w_c^cal = {_f(s1.wc_cal, '.1f')} (free_cal_059) at every λ", ""
        ours = "measured " + " / ".join(fmt_ci(x.measured, ".1f") for x in w.values()) if w else None
        return (combine(parts) if parts else no_data(reason)), paper, ours, note, _sc(sub, "weight_decay")
    if pid == "1f-constant":
        d = s1.d_f05
        paper, ours = _c6_text(d, SHORT["1P"], f"the fraction-0.5 constant ({fmt_num(s1.f05_const, ',.0f')})",
                               summary(s1.f05_pred)["male"], summary(s1.f05_pred, "B1")["male"]
                               if "e_B1" in s1.f05_pred else np.nan)
        return c6(d) if d else no_data("no runs at fraction 0.5"), paper, ours, "", _sc(s1.f05_pred, "cell")
    # 1f-wc
    w = s1.wc_f05
    parts = {f"λ = {lam:g}": compare(x.predicted, x.measured, tol=TOL["wc"], fmt=".1f") for lam, x in w.items()}
    f05 = pd.concat([s1.f05_pred, predict(r.stored.sets["free_cal_059_f05"], r.stored.series, s1.law)]) \
        if s1.law is not None else s1.f05_pred
    sub = _scored(f05)
    sub = sub[_is(sub, lr=1e-3)] if len(sub) else sub
    held = {lam: int(((sub["weight_decay"].round(4) == lam) & (sub["T_1P"] > sub["final_step"])).sum()) for lam in w}
    paper = ("the law's norm at T̂: " + " / ".join(f"{x.predicted:.1f}" for x in w.values())
             + " (paper 1's text: " + " / ".join(PAPER["wc_lambda_text"][lam] for lam in (0.3, 1.0, 3.0)) + ")")
    ours = "measured " + " / ".join(fmt_ci(x.measured, ".1f") for x in w.values()) if w else None
    return (combine(parts) if parts else no_data("no runs at fraction 0.5")), paper, ours, _held_note(held, w), \
        _sc(sub, "weight_decay")


def _held_note(held: Mapping[float, int], w: Mapping[float, WcReading]) -> str:
    """The count of runs whose T_hat lies past their last recorded step (N held there: for a run that
    stopped at grokking the law's norm is then the measured one by construction)."""
    if not any(held.values()):
        return ""
    return ("T̂ past the run's last recorded step, so N held at its last value (= the measured norm where the run "
            "stopped at grokking): " + ", ".join(f"λ = {lam:g}: {held[lam]} of {w[lam].runs}" for lam in w))


def _rows_2a(pid: str, r: Results) -> tuple:
    s = r.s2a
    d = s.d.get(pid)
    a, b = ("progress", "log") if pid == "2a-1" else ("log", "progress")
    paper, ours = _c6_text(d, SHORT[a], SHORT[b], s.male.get(a, np.nan), s.male.get(b, np.nan))
    note = f"the constant delay's MALE {_f(s.male.get('constant', np.nan))} (reference)" if s.male else ""
    scale = _sc(s.runs.assign(setting=list(zip(s.runs["lr"], s.runs["weight_decay"]))) if len(s.runs) else s.runs,
                "setting")
    return (c6(d) if d else no_data("no free runs with V_post at p = 59 in the store")), paper, ours, note, scale


#: Short names of the predictors in the rows' "paper" column.
SHORT = {"1P": "the progress law", "B1": "the constant", "B2": "paper 3's law", "B3": "the threshold",
         "progress": "paper 1's progress", "log": "paper 3's law"}
#: Why a ratio row has no data although its runs are in the store.
UNCOUNTED = "a level's median is not reached (C2: it does not count unless more than half of its runs grokked)"


def _rows_2b(pid: str, r: Results) -> tuple:
    b = r.s2b
    pending = _enc_status(r)
    scale = _sc(b.total, "rho")
    if pid == "2b-1":
        j = exp_judgement(b.fit, "the total sweep") if b.complete else no_data(pending)
        return j, "exponential in ρ (C7: α CI above +2, R² ≥ 0.8; chapter 2's MLP: α 7.6)", None, \
            _before_mem(b), scale
    if pid == "2b-2":
        j = (at_most(TOL["ratio_bound"], b.ratio, tol=TOL["ratio"], fmt=".2f", unit="×") if b.ratio else
             no_data(UNCOUNTED)) if b.complete else no_data(pending)
        return j, "at most 2× (chapter 6's prediction)", None, "", scale
    if pid == "2b-3":
        full = b.want_head > 0 and len(b.head) == b.want_head
        why = (b.control.reason if not b.control.ok else "no head sweep at this preset" if not b.want_head
               else pending)
        j = (at_least(TOL["ratio_bound"], b.ratio_head, tol=TOL["ratio"], fmt=".2f", unit="×") if b.ratio_head
             else no_data(UNCOUNTED)) if full else no_data(why)
        return j, "more than 2× (chapter 6's prediction)", None, "", _sc(b.head, "rho")
    key = {"2b-4-constant": "B1", "2b-4-paper3": "B2"}[pid]
    d = b.d.get(pid)
    if d is None:
        return no_data(pending if not b.complete else "no free encoder runs to predict"), \
            "the clamped law calibrated on 7E's total sweep", None, "", _sc(b.pred, "cell")
    paper, ours = _c6_text(d, SHORT["1P"], SHORT[key], summary(b.pred)["male"],
                           summary(b.pred, key)["male"])
    return c6(d), paper, ours, "", _sc(b.pred, "cell")


def _before_mem(b: Section2b) -> str:
    n = b.before_mem
    return f"{n} of {len(b.total) + len(b.head)} clamped runs were held before they memorized" if n else ""


def _rows_2c(pid: str, r: Results) -> tuple:
    s = r.s2c
    scale = _sc(s.scored, "cell")
    if pid == "2c-4":
        share = proportion_ci(s.check_k, s.check_n) if s.check_n else None
        j = at_least(TOL["grok_check"], share, atol=TOL["fraction"], fmt=".2f") if share is not None else \
            no_data("no encoder runs to check")
        return j, f"V_mem > 2·V̂_post (V̂_post = {fmt_num(s.v_post, ',.0f')}) tells which runs grok: share ≥ 0.9", \
            (f"{s.check_k}/{s.check_n} right: {fmt_ci(share, '.2f')}" if share else None), "", _sc(s.ev, ["lr",
                                                                                                          "weight_decay"])
    key = next(k for k, v in PREDICTOR_ROWS.items() if v == pid)
    d = s.d.get(key)
    if d is None:
        return no_data("no runs of chapter 3's main cell or of its sweeps in the store"), "", None, "", scale
    e = s.errors[key]
    paper, ours = _c6_text(d, f"the predictor ({key})", "the constant",
                           float(male(s.scored[f"e_{key}"])), float(male(s.scored["e_constant"])))
    note = (f"MAE {fmt_ci(e.mae, '.0f', ' %')} (paper 3: 34.6 % [30.0, 39.4] on its own seeds), within 2× "
            f"{e.within_2x}/{e.n}")
    if s.never.get(key):
        note += (f"; {s.never[key]} run(s) with a rate that is not positive, scored +10 "
                     f"({deviation_note('§2c (rows 2c-1 to 2c-3)')})")
    return c6(d), paper, ours, note, scale


def _rows_3(pid: str, r: Results) -> tuple:
    s3 = r.s3
    if s3 is None:
        return no_data("no MLP runs in the store"), "", None, "", _cells.ScaleNote("no runs")
    scale = _sc(s3.runs, "cell")
    note = f"{deviation_note('§3 (rows 3a-3c)')} ({s3.empty_window} runs)" if s3.empty_window else ""
    if pid in ("3a", "3b"):
        v = "L_bar" if pid == "3a" else "rho_bar"
        j = at_least(TOL["r2"], s3.r2[v], atol=TOL["r2_atol"], fmt=".2f") if s3.r2[v] else no_data()
        return j, f"{VARIABLES[v]} alone: pooled out-of-family R² ≥ 0.8", None, note, scale
    diff = s3.diff if pid == "3c-L" else (Estimate(-s3.diff.value, -s3.diff.hi, -s3.diff.lo) if s3.diff else None)
    j = at_least(0.0, diff, atol=TOL["r2_diff"], fmt=".2f") if diff else no_data()
    word = decision(Estimate(-diff.value, -diff.hi, -diff.lo)) if diff else "n/a"
    what = "R²(L̄) − R²(ρ̄)" if pid == "3c-L" else "R²(ρ̄) − R²(L̄)"
    return j, f"{what} ≥ 0", f"{what} = {fmt_ci(diff, '.2f')}: {word}", note, scale


def _rows_4(pid: str, r: Results) -> tuple:
    s4 = r.s4
    if pid in ("4a", "4b"):
        sw = s4.muon
        scale = _sc(sw.runs, "rho")
        if not sw.complete:
            return no_data(sw.status()), ("exponential in ρ with AdamW's α " + fmt_ci(s4.adamw_mlp.alpha, ".2f")
                                          if s4.adamw_mlp and pid == "4a" else "T(ρ) / T_free ≤ 1 at ρ 1.15 and 1.30"), \
                None, "", scale
        if pid == "4a":
            j = combine({"exponential": exp_judgement(sw.fit, "the Muon sweep"),
                         "same exponent as AdamW": same_exponent(s4.adamw_mlp, sw.fit)})
            ref = fmt_ci(s4.adamw_mlp.alpha, ".2f") if s4.adamw_mlp else "n/a (no dense runs)"
            return j, f"exponential, α = AdamW's {ref} (chapter 2, same levels)", \
                f"α {fmt_ci(sw.fit.alpha, '.2f')}, R² {sw.fit.r2:.2f}" if sw.fit else None, "", scale
        parts = {f"ρ = {rho:g}": at_most(1.0, e, tol=TOL["never_delays"], fmt=".2f", unit="×") if e else
                 no_data(UNCOUNTED) for rho, e in s4.ratios.items()}
        return combine(parts), "never delays: T(ρ) / T_free ≤ 1 (a cap, not a hold: see the text)", \
            " / ".join(fmt_ci(e, ".2f") for e in s4.ratios.values()), "", scale
    parts, fits = {}, []
    for (lr, wd, mu), sw in s4.sgd.items():
        name = f"lr {lr:g}, L2 {wd:g}, μ {mu:g}"
        if not sw.complete:
            parts[name] = no_data(sw.status())
            continue
        parts[f"{name}: exponential"] = exp_judgement(sw.fit, "the SGD sweep")
        parts[f"{name}: same exponent"] = same_exponent(s4.adamw_enc, sw.fit)
        fits.append(f"{name}: α {fmt_ci(sw.fit.alpha, '.2f') if sw.fit else 'n/a'}")
    j = combine(parts) if any(p.verdict != NO_DATA for p in parts.values()) else no_data(
        "; ".join(p.reason for p in parts.values()) or "no SGD cell")
    ref = fmt_ci(s4.adamw_enc.alpha, ".2f") if s4.adamw_enc else "pending (7E)"
    runs = pd.concat([sw.runs for sw in s4.sgd.values()], ignore_index=True) if s4.sgd else pd.DataFrame()
    return j, f"exponential, α = the AdamW encoder's (7E) {ref}", "; ".join(fits) or None, "", _sc(runs, "rho")


def _rows_5(pid: str, r: Results) -> tuple:
    s = r.s5
    free_scale = _sc(s.free, "m")
    if pid == "5d":
        if not s.have("clamp"):
            return no_data(s.status("clamp")), f"T(1.30) / T(0.90) = {PAPER['parity_ratio']:.2f} (6538.5 / 2687)", \
                None, "", _sc(s.clamp, "rho")
        return (compare(PAPER["parity_ratio"], s.ratio, tol=TOL["parity_ratio"], fmt=".2f", unit="×") if s.ratio
                else no_data(UNCOUNTED)), \
            f"{PAPER['parity_ratio']:.2f}× (6538.5 / 2687)", None, "", _sc(s.clamp, "rho")
    if not s.have("free"):
        return no_data(s.status("free")), _paper_5(pid), None, "", free_scale
    if pid == "5a":
        j = at_most(TOL["cv_seeds"], s.cv, tol=TOL["spread"], fmt=".3f") if s.cv else no_data("too few grokked runs")
    elif pid == "5b":
        j = compare(PAPER["parity_wc"], s.wc, tol=TOL["parity_wc"], fmt=".2f") if s.wc else no_data()
    elif pid == "5c":
        j = combine({f"m = {m}": compare(PAPER["parity_wc_m"][m], e, tol=TOL["parity_wc"], fmt=".2f")
                     for m, e in s.wc_m.items() if m in PAPER["parity_wc_m"]}) if s.wc_m else no_data()
        return j, _paper_5(pid), " / ".join(fmt_ci(e, ".2f") for e in s.wc_m.values()) or None, \
            f"CV across m {fmt_ci(s.cv_m, '.3f')}", free_scale
    elif pid == "5e":
        j = at_most(TOL["delay_bound"], s.delay, atol=TOL["delay_atol"], fmt=",.0f") if s.delay else no_data()
    else:
        j = at_least(TOL["norm_growth"], s.growth, atol=TOL["norm_growth_atol"], fmt=".2f") if s.growth else no_data()
    return j, _paper_5(pid), None, "", free_scale


def _paper_5(pid: str) -> str:
    return {"5a": "CV of ‖W‖ at T_grok ≤ 4 %", "5b": "w_c ≈ 20.6 (20.625)", "5c": "16.9 / 23.4 at m = 600 / 1500",
            "5d": "", "5e": "no delay: ≤ 200 steps (paper 3's log interval)",
            "5f": "V grows from memorization on: V(last) / V(T_mem) ≥ 1"}[pid]


ROWS: dict[str, Callable[[str, Results], tuple]] = {"1": _rows_1, "2a": _rows_2a, "2b": _rows_2b, "2c": _rows_2c,
                                                    "3": _rows_3, "4": _rows_4, "5": _rows_5}


# ---------------------------------------------------------------------------- why the laws and the runs disagree
#: Where each section reports, without a verdict, the numbers beside its rows.
REPORTED_WHERE = {"1": "§1 reports beside it the per-cell errors and the sensitivities S1 and S2",
                  "2a": "§2a reports the MALE of every law per held-out setting",
                  "2b": "§2b reports the sweeps' levels", "2c": "§2c reports each predictor's MAE and within-2× share",
                  "3": "§3 reports each family's R² and MAE for both variables",
                  "4": "§4 reports the sweeps' levels and the AdamW references",
                  "5": "§5 reports every arm's delays at both thresholds"}


def diagnose(P: pm.Values, r: Results, V: Verdicts) -> list[Diagnosis]:
    """A diagnosis for every row that calls for one. The registration fixed each rule, not candidate
    explanations, so none is made up after the result: an inconclusive row gets rule R2 (the seeds that
    would decide it), any other its registered decision, and where its section reports the numbers
    beside it (no verdict)."""
    out = []
    for row in V.rows:
        if row.verdict not in NEEDS_DIAGNOSIS:
            continue
        if row.verdict == INCONCLUSIVE:
            out.append(too_few_seeds(row))
            continue
        p = next(p for p in PREDICTIONS if p.claim == row.claim)
        out.append(Diagnosis(row.claim, ("none registered: chapter 7 registered its rules, not explanations",),
                             "none: the row is itself a registered test", p.decision).decided(
            f"as registered at {REGISTERED}, the row {row.verdict if row.verdict != 'partly' else 'holds partly'}; "
            f"no explanation was registered, so none is claimed ({REPORTED_WHERE[p.section]})"))
    apply(V, out)
    return out


# ---------------------------------------------------------------------------- tables
def training_table(P: pm.Values, new: NewRuns) -> pd.DataFrame:
    """The new training (§6): each design, its free control as rule C8 read it, and its runs asked for
    and in the store."""
    def asked(ds: Iterable[Design]) -> tuple[int, int]:
        ds = list(ds)
        want = sum(len(d.configs()) for d in ds)
        return want, want - sum(d.missing for d in ds)

    def reading(c: Control) -> str:
        if not c.ok:
            return c.reason
        head = f", head {c.wc_head:.2f}" if np.isfinite(c.wc_head) else ""
        return (f"w_c {c.wc:.2f}{head}, t_int {c.t_int:,}, T_free {fmt_num(c.t_free, ',.0f')}"
                + (" (smoke fallback)" if c.fallback else ""))

    rows = [("7E encoder clamps", "chapter 3's main cell" if not P.enc_own_control else "its own free runs",
             reading(new.enc), *asked([new.enc_free, new.enc_clamps])),
            ("7M Muon clamps", f"Muon free control, {len(new.muon_free)} rung(s) tried", reading(new.muon),
             *asked([*new.muon_free, new.muon_clamps])),
            ("7S SGD clamps", "SGD free control per map cell", "; ".join(reading(c) for c in new.sgd.values()),
             *asked([new.sgd_free, new.sgd_clamps])),
            ("7P parity E10", f"free arm at m = {P.par_clamp_m}", reading(new.par), *asked([new.par_free, new.par_clamps]))]
    return pd.DataFrame(rows, columns=["design", "free control", "C8's reading", "runs asked", "in the store"])


#: Which rows each run set serves, for the page's table.
SET_ROWS = {"C2_dense": "1P's D(N) (§1, §2a); 4a's AdamW α", "C2_matrix": "S2 (no verdict)",
            "free_cal_059": "B1-B3's calibration (§1)", "free_eval_059": "1a-1e",
            "free_cal_059_f05": "1f's constant; 1f-wc at λ 1", "free_eval_059_f05": "1f",
            "free_loso_059": "2a (each setting held out in turn)", "enc_main": "7E's control; 2b-4's and 2c's calibration",
            "enc_eval": "2b-4, 2c", "mlp_pool": "3a-3c (each family held out in turn)", "parity_p3": "5g (reference)"}


def run_sets_table(st: Stored) -> pd.DataFrame:
    """The registered run sets the chapter reads from the store: role, what they are, which rows they
    serve, and how many runs the store holds now against the registration's inventory."""
    rows = []
    for name, rows_ in SET_ROWS.items():
        s = RUN_SETS[name]
        t = st.sets.get(name, pd.DataFrame())
        grok = int((t["status"] == "grokked").sum()) if len(t) else 0
        rows.append({"run set": name, "role": s.role, "serves": rows_, "runs in the store": len(t),
                     "grokked": grok, "registered inventory": s.now})
    return pd.DataFrame(rows)


def predictor_table(r: Results) -> pd.DataFrame:
    """§1's predictors on the evaluation runs (and the reported sensitivities): MALE, median signed log
    error, share within 2x, late-censored runs and runs scored."""
    s1 = r.s1
    items = [(f"{k}: {v}", s1.pred, k) for k, v in PREDICTORS_1.items() if f"e_{k}" in s1.pred]
    items += [("S1: 1P with the rate 1/T_clamp (no verdict)", s1.s1, "1P"),
              ("S2: 1P with D(N; η) from chapter 2's ρ × η matrix (no verdict)", s1.s2, "1P"),
              ("1P on its calibration condition's free runs (free_cal_059)", s1.cal_pred, "1P")]
    rows = []
    for name, pred, key in items:
        m = summary(pred, key) if len(pred) else dict(male=np.nan, signed=np.nan, within=np.nan, censored=0, n=0)
        rows.append({"predictor": name, "runs": m["n"], "MALE": m["male"], "median ln(T̂/T)": m["signed"],
                     "within 2×": m["within"], "late-censored": m["censored"]})
    return pd.DataFrame(rows)


def cells_1(r: Results) -> pd.DataFrame:
    """§1's per-cell numbers at fraction 0.4 (evaluation) and 0.5 (transfer)."""
    parts = [per_cell(p).assign(fraction=f) for p, f in ((r.s1.pred, 0.4), (r.s1.f05_pred, 0.5)) if len(p)]
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True).rename(columns={"signed 1P": "ln(T̂/T) 1P"})
    return out[["fraction", *[c for c in out.columns if c not in ("fraction", "within 2× (1P)")]]]


CELL_FORMATS = {"fraction": ".1f", "median T_grok": ",.0f", "ln(T̂/T) 1P": ".2f", "P(T_grok)": ".2f",
                **{f"MALE {k}": ".2f" for k in PREDICTORS_1}}
PREDICTOR_FORMATS = {"MALE": ".2f", "median ln(T̂/T)": ".2f", "within 2×": ".0%"}
DELAY_FORMATS = {"median delay (0.9)": ",.0f", "median delay (0.95)": ",.0f", "median ‖W‖ at T_grok": ".2f"}


def show(frame: pd.DataFrame, formats: Mapping[str, str] | None = None, empty: str = "no runs in the store yet") -> Any:
    """A table as the book shows it, or a one-line note when it has no rows."""
    from .. import tables

    if not len(frame):
        return tables.HTML(f"<p><i>{empty}</i></p>")
    return tables.table(frame, formats=formats)


def predictor_2c_table(r: Results) -> pd.DataFrame:
    """§2c: each predictor against the calibration median delay on the λ and η sweeps."""
    s = r.s2c
    rows = []
    for key in PREDICTORS_2C:
        if key not in s.errors:
            continue
        e = s.errors[key]
        rows.append({"predictor": key, "MALE": float(male(s.scored[f"e_{key}"])),
                     "d vs constant [95 % CI]": fmt_ci(s.d[key], ".2f"), "decision": decision(s.d[key]),
                     "MAE (%) [95 % CI]": fmt_ci(e.mae, ".0f"), "within 2×": f"{e.within_2x}/{e.n}",
                     "never fires": s.never.get(key, 0)})
    if rows:
        rows.append({"predictor": "constant (calibration median delay)", "MALE": float(male(s.scored["e_constant"])),
                     "d vs constant [95 % CI]": "", "decision": "", "MAE (%) [95 % CI]": "", "within 2×": "",
                     "never fires": 0})
    return pd.DataFrame(rows)


def family_table(r: Results) -> pd.DataFrame:
    """§3 per family: cells, R² and MAE for each variable, and whether the family carries it."""
    if r.s3 is None:
        return pd.DataFrame()
    t = r.s3.families.copy()
    for v in ("L̄", "ρ̄"):
        t[f"carries {v}"] = np.where((t[f"R² ({v})"] >= TOL["family_r2"]) & (t[f"MAE ({v})"] <= TOL["family_mae"]),
                                     "yes", np.where(t[f"R² ({v})"].isna(), "—", "no"))
    return t


FAMILY_FORMATS = {"R² (L̄)": ".2f", "MAE (L̄)": ".2f", "R² (ρ̄)": ".2f", "MAE (ρ̄)": ".2f"}


def sweeps_table(r: Results, designs: Sequence[str]) -> pd.DataFrame:
    """The new clamp sweeps' levels (7E, 7M, 7S) with their runs in the store: runs, grokked and the
    Kaplan-Meier median T_grok per level; the AdamW references beside them."""
    arms = _arms(r)
    rows = []
    for key, (runs, label, _) in arms.items():
        if key.split()[0] not in designs or not len(runs):
            continue
        for rho, g in runs.groupby("rho"):
            rows.append({"sweep": label, "ρ": rho, "runs": len(g), "grokked": int((g["status"] == "grokked").sum()),
                         "median T_grok": _km(g), "budget": int(g["max_steps"].max())})
    return pd.DataFrame(rows, columns=["sweep", "ρ", "runs", "grokked", "median T_grok", "budget"])


def _arms(r: Results) -> dict[str, tuple[pd.DataFrame, str, str]]:
    """Every clamp sweep the figures and tables draw: (runs, label, colour), by design."""
    dense = r.stored.sets["C2_dense"]
    levels = [round(x, 4) for x in TRAINING["7M"]["presets"]["book"]["rhos"]]
    out = {"7E total": (r.s2b.total, "7E: encoder, total norm (AdamW)", "C0"),
           "7E head": (r.s2b.head, "7E: encoder, head only (AdamW)", "C1"),
           "7M adamw": (dense[dense["rho"].round(4).isin(levels)] if len(dense) else dense,
                        "chapter 2: MLP under AdamW (reference)", "0.45"),
           "7M muon": (r.s4.muon.runs, "7M: MLP under Muon", "C2")}
    for i, ((lr, wd, mu), sw) in enumerate(r.s4.sgd.items()):
        out[f"7S {i}"] = (sw.runs, f"7S: encoder under SGD (lr {lr:g}, L2 {wd:g}, μ {mu:g})", f"C{3 + i}")
    return out


def delays_table(r: Results) -> pd.DataFrame:
    """§5: 7P's arms (free, clamped, bridge) and paper 3's parity runs (chapter 3): runs, grokked,
    median T_grok, median delay at the 0.9 and 0.95 thresholds, median norm at grokking."""
    return r.s5.delays


def deviations_text() -> str:
    """The deviations from the registration, as a list for the page."""
    return "\n".join(f"- **{k}**: {v}." for k, v in DEVIATIONS.items())


def scale_all(r: Results) -> str:
    """The scale of every run the page reads or trains, for the opening summary."""
    st = r.stored
    n_sets = len(pd.concat([t[["key"]] for t in st.sets.values() if len(t)], ignore_index=True)
                 .drop_duplicates()) if any(len(t) for t in st.sets.values()) else 0
    new = sum(len(d.configs()) - d.missing for d in r.new.designs)
    return f"{n_sets:,} stored runs of the registered run sets, {new} runs of the new designs"


# ---------------------------------------------------------------------------- figures
def _empty(ax: Any, text: str) -> None:
    import textwrap

    ax.text(0.5, 0.5, textwrap.fill(text, 44), transform=ax.transAxes, ha="center", va="center", fontsize=9,
            color="0.35")
    ax.set_axis_off()
    ax.add_patch(__import__("matplotlib").patches.Rectangle((0.02, 0.25), 0.96, 0.5, transform=ax.transAxes,
                                                           fill=False, ls="--", ec="0.7"))


def fig_progress(r: Results) -> Any:
    """§1's figure: left, each free run's predicted T_grok against its measured one (log-log), by rule
    1P (coloured by its (λ, η) cell) and by paper 3's law (B2, grey), with the diagonal and the band
    within a factor 2; right, the progress the law had accumulated at each run's measured T_grok, by
    cell (the law says 1)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .. import plots

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.4, 3.9), gridspec_kw={"width_ratios": [1.15, 1]})
    s = _scored(r.s1.pred)
    if not len(s):
        _empty(ax, "no free runs of the evaluation set in the store")
        _empty(ax2, "no runs")
        return fig
    s = s.assign(label=cell_label(s)).sort_values(["weight_decay", "lr"])
    labels = list(dict.fromkeys(s["label"]))
    pal = dict(zip(labels, sns.color_palette("colorblind", len(labels))))
    vals = np.concatenate([s["T"], s["T_1P"], s.get("T_B2", s["T"])])
    vals = vals[np.isfinite(vals) & (vals > 0)]
    lo, hi = vals.min() / 1.5, vals.max() * 1.5
    xs = np.geomspace(lo, hi, 20)
    ax.fill_between(xs, xs / 2, xs * 2, color="0.92", zorder=0, label="within a factor 2")
    ax.plot(xs, xs, color="0.4", lw=1, label="predicted = measured")
    if "T_B2" in s:
        ax.scatter(s["T"], s["T_B2"], facecolors="none", edgecolors="0.55", s=18, lw=0.8,
                   label="paper 3's log law (B2)")
    for lab in labels:
        g = s[s["label"] == lab]
        ax.scatter(g["T"], g["T_1P"], color=pal[lab], s=22, edgecolor="k", lw=0.3)
    ax.scatter([], [], color="0.3", s=22, edgecolor="k", lw=0.3, label="paper 1's clamped law (1P)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        plots.log_steps_axis(axis)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("measured $T_{grok}$ (steps)")
    ax.set_ylabel("predicted $T_{grok}$ (steps)")
    ax.legend(loc="upper left", fontsize=7.5)
    for i, lab in enumerate(labels):
        g = s[s["label"] == lab]
        jitter = np.linspace(-0.15, 0.15, len(g)) if len(g) > 1 else np.zeros(1)
        ax2.scatter(i + jitter, g["P_T"], color=pal[lab], s=22, edgecolor="k", lw=0.3)
    ax2.axhline(1.0, color="k", ls="--", lw=1, label="the law: 1 at grokking")
    ax2.set_xticks(range(len(labels)))
    ax2.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    ax2.set_ylabel("progress P at the measured $T_{grok}$")
    ax2.set_ylim(bottom=0)
    ax2.legend(loc="upper left", fontsize=7.5)
    plots.annotate_scale(ax, str(_sc(r.s1.pred, "cell")))
    return fig


def fig_sweeps(r: Results, designs: Sequence[str]) -> Any:
    """The new clamp sweeps (one panel per design of ``designs``: 7E, 7M, 7S): median T_grok (log axis,
    95 % CI) against the held norm, each sweep with its fitted exponential (C7), the AdamW reference
    beside it (7M: chapter 2's dense runs at the same levels; 7S: the encoder under AdamW, 7E); a
    sweep without runs yet says why."""
    import matplotlib.pyplot as plt

    from .. import plots

    arms = _arms(r)
    fig, axes = plt.subplots(1, len(designs), figsize=(3.7 * len(designs) + 0.4, 3.7), squeeze=False)
    own = {"7E": ["7E total", "7E head"], "7M": ["7M muon"], "7S": [k for k in arms if k.startswith("7S")]}
    reference = {"7E": [], "7M": ["7M adamw"], "7S": ["7E total"]}
    titles = {"7E": "paper 3's encoder (LayerNorms)", "7M": "chapter 2's MLP: Muon", "7S": "the encoder: SGD"}
    status = {"7E": _enc_status(r), "7M": r.s4.muon.status(),
              "7S": "; ".join(sw.status() for sw in r.s4.sgd.values())}
    for ax, design in zip(axes[0], designs):
        drawn = {}
        for key in reference[design] + own[design]:
            runs, label, color = arms[key]
            if not len(runs):
                continue
            fit = exp_fit(runs)
            plots.medians_vs_level(_cells.cell_table(runs, "rho"), "rho", ax=ax, color=color, fit=fit,
                                   label=label + (f": α = {fit.alpha.value:.1f}" if fit else ""))
            drawn[key] = True
        mine = any(drawn.get(k) for k in own[design])
        if not drawn:
            _empty(ax, f"design {design}: {status[design] or 'no runs'}")
        else:
            ax.set_xlabel(r"held norm $\rho = \|W\| / w_c$")
            ax.legend(loc="upper left", fontsize=7)
            if not mine:
                plots.annotate_scale(ax, f"design {design}: {status[design]}")
        ax.set_title(titles[design], fontsize=10)
    return fig


def fig_one_variable(r: Results) -> Any:
    """§3's figure: every run of the pool, its time-averaged variable against its T_grok (log axis),
    coloured by intervention family, one panel per variable, with the fit over every family's cells."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .. import plots

    fig, axes = plt.subplots(1, 2, figsize=(7.4, 4.4), sharey=True)
    s3 = r.s3
    if s3 is None:
        for ax in axes:
            _empty(ax, "no MLP runs in the store")
        return fig
    runs = s3.runs[s3.runs["status"] == "grokked"]
    pal = dict(zip(FAMILIES, [*sns.color_palette("colorblind", 10), (0.2, 0.2, 0.2)]))
    for ax, (v, label) in zip(axes, VARIABLES.items()):
        for fam in FAMILIES:
            g = runs[runs["family"] == fam]
            if len(g):
                ax.scatter(g[v], g["t_grok"], s=6, alpha=0.55, color=pal[fam], label=fam, lw=0)
        ok = s3.cells[s3.cells["counts"] & np.isfinite(s3.cells[v])]
        a, b = _ols(ok[v].to_numpy(), ok["y"].to_numpy())
        if np.isfinite(b):
            xs = np.linspace(ok[v].min(), ok[v].max(), 50)
            r2 = s3.r2.get(v)
            ax.plot(xs, np.exp(a + b * xs), color="k", lw=1.3,
                    label=f"fit on every family (out-of-family R² {r2.value:.2f})" if r2 else "fit")
        ax.set_yscale("log")
        plots.log_steps_axis(ax.yaxis)
        if v == "L_bar":
            ax.set_xscale("log")
        ax.set_xlabel(label.replace(" (", "\n("), fontsize=9)
    axes[0].set_ylabel("$T_{grok}$ (steps)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=7.5, markerscale=2.5)
    return fig


def fig_parity(r: Results) -> Any:
    """§5's figure: paper 1's sparse-parity protocol (7P). Left, the median norm at grokking against the
    training-set size m, paper 1's values as crosses; right, the median T_grok of each arm against m
    (free and bridge arms) and of the clamped arms at their m, paper 1's medians as crosses."""
    import matplotlib.pyplot as plt

    from .. import plots

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.4, 3.5))
    s = r.s5
    if not s.have("free"):
        _empty(ax, f"design 7P: {s.status('free')}")
        _empty(ax2, f"design 7P: {s.status('clamp')}")
        return fig
    free = s.free[s.free["status"] == "grokked"]
    med = free.groupby("m")["norm_grok"].median()
    ax.plot(med.index, med.values, "o-", color=plots.OURS, label="ours: median ‖W‖ at $T_{grok}$")
    plots.paper_points(ax, PAPER["parity_wc_m"], "paper 1 (E10)")
    ax.set_xlabel("training examples m")
    ax.set_ylabel("‖W‖ at $T_{grok}$")
    ax.legend(fontsize=7.5)
    for runs, label, color, marker in ((s.free, "free", plots.OURS, "o"), (s.bridge, "bridge (free)", "C1", "s")):
        if len(runs):
            t = runs.groupby("m").apply(_km, include_groups=False)
            ax2.plot(t.index, t.values, marker, color=color, label=label)
    for rho, g in s.clamp.groupby("rho") if len(s.clamp) else []:
        ax2.plot([g["m"].iloc[0]], [_km(g)], "^" if rho > 1 else "v", color="C2", label=f"clamped at ρ = {rho:g}")
    paper_t = {600: PAPER["parity_t"]["m600"], 1000: PAPER["parity_t"]["m1000"], 1500: PAPER["parity_t"]["m1500"]}
    plots.paper_points(ax2, paper_t, "paper 1 (free)")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    plots.log_steps_axis(ax2.yaxis)
    ax2.set_xlabel("training examples m")
    ax2.set_ylabel("median $T_{grok}$ (steps)")
    ax2.legend(fontsize=7)
    return fig
