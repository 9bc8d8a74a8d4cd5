"""Chapter 7's parameters and presets, its new designs and the registered run sets read from the store.

The parameters and presets are the values of :data:`~.registration.TRAINING`; the clamp sweeps of
the designs 7E, 7M, 7S and 7P (§6 of the registration) start where rule C8 reads their free control
(:func:`c8`), and :func:`train` runs them all; :func:`stored` reads the registered run sets of §1-§3
from the store (nothing trains there). Everything here reads :mod:`.registration` and changes none
of it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from ....analysis import cells as _cells
from ....analysis.stats.survival import _km_median_rows
from ....engine.config import RunConfig
from ....engine.protocols import paper1, paper3
from ....runs.design import Design, exponential_budget, held_norm
from ....runs.store import RunStore
from ... import parameters as pm
from ...text import and_list
from .registration import ENC_P3, MLP_P1, PARITY_P1, RUN_SETS, TOL, TRAINING, T_INT


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


def main_cell_protocol(P: pm.Values) -> dict[str, Any]:
    """Chapter 3's main cell as its preset of the same name trains it (budget, steps after grokking,
    evaluation grid, trace): what makes a free AdamW encoder run at the main cell's lr and lambda one
    of *chapter 3's main cell* (``enc_main``), and not, say, chapter 4's AdamW arm of experiment 4A,
    which reads V 3,000 steps after grokking. At the smoke preset chapter 7 trains its own control."""
    from .. import free_contraction_law as ch3

    c3 = ch3.PARAMETERS.preset(P.preset if P.preset in ("book", "paper") else "book")
    return dict(max_steps=int(c3["budget"]), extra_steps=int(c3["post_grok_steps"]),
                eval_schedule=str(c3["eval_schedule"]), trace_every=int(c3["trace_every"]))


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
        fields.update(p=P.enc_p, d_embed=d, d_hidden=h, n_heads=heads, lr=float(P.enc_lr), **main_cell_protocol(P))
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
    from .. import pinned_norm_law as ch2

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

