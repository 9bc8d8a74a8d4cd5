"""Chapter 4, SGD against AdamW (paper 3, §S6/S8): with chapter 3's model and task, plain SGD
with coupled L2 weight decay at λ or 2λ neither memorizes nor groks and its squared weight norm
V collapses, while AdamW groks; a map of SGD's learning rate, weight decay and momentum shows
where SGD does memorize and grok.

The chapter's parameters and presets, the paper's figures and the tolerances (fixed before any
result was read), its design (the paper's three arms and the SGD map) and the deciding experiment
4A (the same cells read at the paper's steps), the analysis of their runs, the texts its prose
glues, its verdicts under the book's verdict policy (:mod:`grokkit.book.verdicts`) and the
diagnoses of the rows that do not simply agree, as registered in ``docs/why-we-differ.md``
(:mod:`grokkit.book.diagnoses`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import cycle
from typing import Any, Callable

import numpy as np
import pandas as pd

from ...analysis import cells
from ...analysis.stats import Estimate
from ...engine.config import RunConfig, parse_schedule
from ...engine.protocols import paper3
from ...runs.design import Design
from ...runs.store import RunStore
from .. import parameters as pm
from ..diagnoses import apply, Diagnosis, fill, pending, REGISTERED, too_few_seeds
from ..plots import OUTCOME_LINES
from ..text import and_list, fmt_ci
from ..verdicts import (at_paper_condition, combine, compare, CONSISTENT, count, INCONCLUSIVE, Judgement, NO_DATA, no_data, paper_sd, Verdicts)

CHAPTER, TITLE = "04_sgd_vs_adamw", "4. SGD against AdamW"


# ---------------------------------------------------------------------------- parameters
def distinct(name: str) -> pm.Rule:
    """A list whose values must not repeat (a repeated value would be the same cell twice)."""
    return pm.Rule(f"{name}: must not repeat a value (each value is one cell)",
                   lambda v: len(set(v[name])) == len(v[name]))


def _eval_interval(values: dict[str, Any]) -> int:
    """The K of an ``"every:K"`` evaluation schedule."""
    return parse_schedule(values["eval_schedule"])[1]


PARAMETERS = pm.Parameters(
    rules=[
        pm.Rule("map_momenta: each momentum must lie below 1 (μ in [0, 1))",
                lambda v: all(m < 1 for m in v["map_momenta"])),
        pm.Rule("eval_schedule, sgd_budget, adamw_budget, map_budget, sgd_long_budget: the evaluation interval K "
                "must be below every step budget",
                lambda v: _eval_interval(v) < min(v["sgd_budget"], v["adamw_budget"], v["map_budget"],
                                                  v["sgd_long_budget"])),
        pm.ordered("trace_every", "adamw_budget"),
        pm.divides("n_heads", "d_embed"),
        *map(distinct, ["sgd_decay_factors", "map_lrs", "map_decays", "map_momenta"]),
    ],
    p=pm.prime("modulus"),
    seeds=pm.count("seeds of each arm at the paper's setting"),
    lr=pm.positive("learning rate eta of the paper's comparison (both optimizers)"),
    weight_decay=pm.positive("lambda; SGD runs at each multiple of it in `sgd_decay_factors`"),
    sgd_decay_factors=pm.positive("the multiples of lambda at which the SGD arms run (the paper: 1 and 2)", many=True),
    sgd_budget=pm.steps("step budget of the SGD arms (paper: 50,000)"),
    adamw_budget=pm.steps("step budget of the AdamW arm"),
    map_lrs=pm.positive("the SGD map: learning rates ...", many=True),
    map_decays=pm.nonneg("... coupled L2 weight decays ...", many=True),
    map_momenta=pm.nonneg("... heavy-ball momenta ...", many=True),
    map_seeds=pm.count("... seeds per cell ..."),
    map_budget=pm.steps("... and its step budget"),
    post_grok_steps=pm.steps("runs continue this long after T_grok (V_final is measured there)"),
    sgd_long_budget=pm.steps("experiment 4A: the SGD arms again, to this budget (the paper's 50,000)"),
    adamw_post_grok=pm.steps("experiment 4A: the AdamW arm again, to T_grok + this (the paper's 3,000)"),
    eval_schedule=pm.schedule('"every:K" (the page says the runs are evaluated every K steps)', every_only=True),
    trace_every=pm.steps("the AdamW arm records its norm every this many steps (as in chapter 3)"),
    d_embed=pm.count("encoder width (smoke: smaller)"),
    d_hidden=pm.count("FFN width (smoke: smaller)"),
    n_heads=pm.count("attention heads (smoke: fewer)"),
)
BOOK = dict(p=97, seeds=5, lr=1e-3, weight_decay=1.0, sgd_decay_factors=[1, 2], sgd_budget=10_000,
            adamw_budget=50_000, map_lrs=[1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0], map_decays=[0.0, 1e-4, 1e-3, 1e-2],
            map_momenta=[0.0, 0.9], map_seeds=1, map_budget=5000, post_grok_steps=2000, sgd_long_budget=50_000,
            adamw_post_grok=3000, eval_schedule="every:200", trace_every=10, d_embed=128, d_hidden=512, n_heads=4)
PRESETS = PARAMETERS.presets(
    smoke=dict(BOOK, p=31, seeds=2, lr=1e-2, sgd_budget=1000, adamw_budget=3000, map_lrs=[0.1, 1.0],
               map_decays=[0.0, 1e-2], map_budget=1000, post_grok_steps=200, sgd_long_budget=2000,
               adamw_post_grok=300, eval_schedule="every:50",
               d_embed=32, d_hidden=64, n_heads=2),
    book=BOOK,
    paper=dict(BOOK, sgd_budget=50_000, map_seeds=3, map_budget=50_000),
)

#: Paper 3's Table 7 (S6/S8: p = 97, η = 1e-3, λ = 1, 5 seeds, 50k steps); ``sgd_v`` by multiple of λ,
#: read after ``sgd_steps``; AdamW's V read ``adam_post`` steps after T_grok (its runs stop there).
PAPER = dict(sgd_mem=(0, 5), sgd_grok=(0, 5), sgd_v={1: 1.1e-4, 2: 3.6e-5}, adam_grok=(5, 5), adam_t=1760,
             adam_t_sd=150, adam_v=233, adam_v_sd=35, seeds=5, p=97, sgd_steps=50_000, adam_post=3000)
#: Tolerances, fixed before any result was read.
TOL = dict(fraction=0.15, log10_v=1.0, times=0.20, norms=0.25)
#: The SGD map's cell coordinates: learning rate η, coupled L2 weight decay w, momentum μ.
GRID = ["lr", "weight_decay", "momentum"]
#: The AdamW arm's label; the SGD arms are labelled by :func:`sgd_arm`.
ADAMW_ARM = "AdamW, λ"
#: Line colours of the AdamW arm and of the SGD arms (in the order of ``sgd_decay_factors``, repeated).
ADAMW_COLOUR, SGD_COLOURS = "C0", ("C2", "C4", "C1", "C3", "C5", "C6")


def tolerances() -> pd.DataFrame:
    """The tolerance of each kind of verdict row, in words."""
    return pd.DataFrame([
        ("fractions of runs that memorize or grok (exact binomial CI)", f"± {TOL['fraction']:.2f} absolute"),
        ("SGD's final V (log₁₀ of the median)", f"± {TOL['log10_v']:g} decade"),
        ("AdamW's T_grok; its final V", f"{TOL['times']:.0%}; {TOL['norms']:.0%}"),
    ], columns=["quantity", "tolerance"])


def times_lambda(f: float) -> str:
    """A multiple of λ as the page writes it: ``"λ"``, ``"2λ"``."""
    return "λ" if f == 1 else f"{f:g}λ"


def sgd_arm(f: float) -> str:
    """The label of the SGD arm at ``f`` times λ: ``"SGD, λ"``, ``"SGD, 2λ"``."""
    return f"SGD, {times_lambda(f)}"


#: The paper's final V per arm, as the figure marks them (the label names the arm).
PAPER_NORMS = {**{sgd_arm(f): v for f, v in PAPER["sgd_v"].items()}, ADAMW_ARM: PAPER["adam_v"]}


# ---------------------------------------------------------------------------- design
def config(P: pm.Values, seed: int, budget: int, **kw: Any) -> RunConfig:
    """One run of paper 3's protocol at this chapter's scale (its model, modulus and evaluation
    grid), continuing ``post_grok_steps`` after T_grok unless ``extra_steps`` is given."""
    kw.setdefault("extra_steps", P.post_grok_steps)
    return paper3(p=P.p, seed=seed, max_steps=budget, eval_schedule=P.eval_schedule, d_embed=P.d_embed,
                  d_hidden=P.d_hidden, n_heads=P.n_heads, **kw)


def adamw_config(P: pm.Values, seed: int, **kw: Any) -> RunConfig:
    """The AdamW arm of one seed: chapter 3's main cell (the store trains it once)."""
    return config(P, seed, P.adamw_budget, lr=P.lr, weight_decay=P.weight_decay, trace_every=P.trace_every, **kw)


def sgd_config(P: pm.Values, seed: int, f: float, budget: int | None = None) -> RunConfig:
    """The SGD arm of one seed at ``f`` times λ (coupled L2, no momentum), to ``budget``
    (default ``sgd_budget``)."""
    return config(P, seed, budget or P.sgd_budget, optimizer="sgd", lr=P.lr, weight_decay=f * P.weight_decay)


def design(P: pm.Values) -> Design:
    """Two experiments of paper 3's protocol at this chapter's scale: ``"paper"``, the paper's
    comparison (per seed one AdamW arm, chapter 3's main cell, so the store trains it once, and
    one SGD arm per multiple of λ; label ``arm``), and ``"map"``, SGD over every learning rate,
    weight decay and momentum of the map (labels :data:`GRID`)."""
    d = Design()
    for s in range(P.seeds):
        d.add("paper", adamw_config(P, s), arm=ADAMW_ARM)
        for f in P.sgd_decay_factors:
            d.add("paper", sgd_config(P, s, f), arm=sgd_arm(f))
    for lr in P.map_lrs:
        for wd in P.map_decays:
            for mu in P.map_momenta:
                for s in range(P.map_seeds):
                    d.add("map", config(P, s, P.map_budget, optimizer="sgd", lr=lr, weight_decay=wd, momentum=mu),
                          lr=lr, weight_decay=wd, momentum=mu)
    return d


#: The deciding experiment's name (``docs/why-we-differ.md``, registered at commit 0ad0540).
DECIDING = "4A"


def deciding_design(P: pm.Values) -> Design:
    """Experiment 4A (registered in ``docs/why-we-differ.md``): the chapter's paper-setting cells
    read where the paper reads them. The SGD arms (every multiple of λ, the chapter's seeds) run
    to ``sgd_long_budget`` steps, the AdamW arm continues ``adamw_post_grok`` steps after
    T_grok; seeds, model and protocol are those of :func:`design`, only the budget and the
    post-grok steps change (label ``arm``)."""
    d = Design()
    for s in range(P.seeds):
        d.add(DECIDING, adamw_config(P, s, extra_steps=P.adamw_post_grok), arm=ADAMW_ARM)
        for f in P.sgd_decay_factors:
            d.add(DECIDING, sgd_config(P, s, f, P.sgd_long_budget), arm=sgd_arm(f))
    return d


def complete(P: pm.Values) -> bool:
    """Whether every run the chapter asks for at ``P`` (its design and experiment 4A) is in the
    store ``P.store`` (read only, nothing trains): what ``preset = "auto"`` asks of a preset."""
    configs = (design(P) | deciding_design(P)).configs()
    return not RunStore(P.store).missing(configs)


# ---------------------------------------------------------------------------- analysis
@dataclass
class Results:
    """Everything the page shows and the verdicts judge, computed from the design's runs."""

    runs: dict[str, pd.DataFrame]
    paper_traj: pd.DataFrame
    map_traj: pd.DataFrame
    arms: list[tuple[pd.Series, str, str]]
    sgd: pd.DataFrame
    sgd_arms: dict[float, pd.DataFrame]
    adam: pd.DataFrame
    adam_ok: pd.DataFrame
    adam_t: Estimate | None
    adam_v: Estimate | None
    log_v: dict[float, Estimate]
    outcomes: pd.DataFrame
    per_cell: pd.DataFrame
    decide: pd.DataFrame  # experiment 4A's runs that are in the store (label ``arm``)
    long_sgd: pd.DataFrame  # 4A: the SGD arms at ``sgd_long_budget`` steps
    long_log_v: dict[float, Estimate]  # 4A: log10 of SGD's V there, by multiple of λ (arms complete only)
    adam_post: pd.DataFrame  # 4A: the AdamW arm continued ``adamw_post_grok`` steps after T_grok
    adam_post_v: Estimate | None  # 4A: AdamW's mean V there, over the runs that grokked (arm complete only)
    want_sgd: int  # 4A: how many SGD runs it asks for ...
    want_adam: int  # ... and how many AdamW runs
    decided: bool  # whether every run of experiment 4A is in the store
    fig_runs: pd.DataFrame  # the runs the norm figure draws: 4A's once it is complete, else the design's
    fig_traj: pd.DataFrame  # ... and their trajectories

    @property
    def paper(self) -> pd.DataFrame:
        """The runs of the paper's comparison (label ``arm``)."""
        return self.runs["paper"]

    @property
    def map(self) -> pd.DataFrame:
        """The runs of the SGD map (labels :data:`GRID`, and ``grokked_before_diverging``)."""
        return self.runs["map"]


def analyse(P: pm.Values, d: Design, deciding: Design) -> Results:
    """The chapter's numbers from the runs of :func:`design` and of experiment 4A,
    :func:`deciding_design` (both after ``.run(...)``). 4A's readings are taken only from
    complete arms (every seed in the store): a reading from part of the seeds is not the one the
    registered rule asks for."""
    store = RunStore(P.store)
    runs = {"paper": d.table("paper", ["arm"]), "map": d.table("map", GRID)}
    pr, mp = runs["paper"], runs["map"]
    map_traj = store.trajectories(mp["key"])
    mp["grokked_before_diverging"] = cells.grokked_before_diverging(mp, map_traj)
    sgd = pr[pr["optimizer"] == "sgd"]
    adam = pr[pr["optimizer"] == "adamw"]
    adam_ok = adam[adam["status"] == "grokked"]
    sgd_arms = {f: sgd[np.isclose(sgd["weight_decay"], f * P.weight_decay)] for f in P.sgd_decay_factors}
    arm_colours = [(ADAMW_ARM, ADAMW_COLOUR), *zip(map(sgd_arm, P.sgd_decay_factors), cycle(SGD_COLOURS))]
    dec = _deciding(P, deciding)
    complete_4a = len(dec["long_sgd"]) >= dec["want_sgd"] and len(dec["adam_post"]) >= dec["want_adam"]
    fig = dec["decide"] if complete_4a else pr  # 4A's runs end where the paper reads its values
    paper_traj = store.trajectories(pr["key"])
    return Results(
        runs=runs, paper_traj=paper_traj, map_traj=map_traj,
        arms=[(fig["arm"] == a, a, c) for a, c in arm_colours],
        decided=complete_4a, fig_runs=fig, fig_traj=store.trajectories(fig["key"]) if complete_4a else paper_traj,
        sgd=sgd, sgd_arms=sgd_arms, adam=adam, adam_ok=adam_ok,
        adam_t=cells.mean_ci(adam_ok["t_grok"]) if len(adam_ok) else None,
        adam_v=cells.mean_ci(adam["sq_norm_all_final"]) if len(adam) else None,
        log_v={f: cells.median_ci(np.log10(g["sq_norm_all_final"])) for f, g in sgd_arms.items() if len(g)},
        outcomes=cells.outcome_table(mp, GRID),
        per_cell=reached_per_cell(mp),
        **dec,
    )


def _deciding(P: pm.Values, deciding: Design) -> dict[str, Any]:
    """Experiment 4A's part of :class:`Results`."""
    dc = deciding.table(DECIDING, ["arm"])
    long_sgd, adam_post = dc[dc["optimizer"] == "sgd"], dc[dc["optimizer"] == "adamw"]
    full = {f: long_sgd[long_sgd["arm"] == sgd_arm(f)] for f in P.sgd_decay_factors}
    full = {f: g for f, g in full.items() if len(g) == P.seeds}
    grokked = adam_post[adam_post["status"] == "grokked"]
    return dict(decide=dc, long_sgd=long_sgd, adam_post=adam_post, want_sgd=P.seeds * len(P.sgd_decay_factors),
                want_adam=P.seeds,
                long_log_v={f: cells.median_ci(np.log10(g["sq_norm_all_final"])) for f, g in full.items()},
                adam_post_v=cells.mean_ci(grokked["sq_norm_all_final"]) if len(adam_post) == P.seeds else None)


def n_memorized(runs: pd.DataFrame) -> int:
    """How many runs memorized (reached T_mem)."""
    return int(runs["t_mem"].notna().sum())


def n_grokked(runs: pd.DataFrame) -> int:
    """How many runs grokked (a run that diverged after grokking is not counted)."""
    return int((runs["status"] == "grokked").sum())


def reached_per_cell(mp: pd.DataFrame) -> pd.DataFrame:
    """One row per cell of the map: whether any of its runs memorized (``mem``), grokked
    (``grok``, also before diverging) or diverged (``div``)."""
    reached = mp.assign(mem=mp["t_mem"].notna(), grok=cells.outcome(mp).str.startswith("grokked"),
                        div=mp["status"].eq("diverged"))
    return reached.groupby(GRID)[["mem", "grok", "div"]].any().reset_index()


def contraction(t: pd.DataFrame) -> pd.Series:
    """SGD's long-run decay of the weights per step in each row: ``η w / (1 - μ)``."""
    return t["lr"] * t["weight_decay"] / (1 - t["momentum"])


def cell_name(c: Any) -> str:
    """A cell of the map in words: ``"η = 0.3, w = 0.001, μ = 0.9"``."""
    return f"η = {c.lr:g}, w = {c.weight_decay:g}, μ = {c.momentum:g}"


def arm_table(r: Results) -> pd.DataFrame:
    """Per arm of the paper's comparison: the outcomes its runs reached (outcomes no run reached
    left out), the median T_grok, the median final V and the paper's figures."""
    view = cells.outcome_table(r.paper, ["arm"]).merge(
        r.paper.groupby("arm")["sq_norm_all_final"].median().rename("median V_final"), on="arm")
    (ka, na), (ks, ns) = PAPER["adam_grok"], PAPER["sgd_grok"]
    view["paper"] = view["arm"].map({
        ADAMW_ARM: f"{ka}/{na} grok, T {PAPER['adam_t']} ± {PAPER['adam_t_sd']}, V {PAPER['adam_v']}",
        **{sgd_arm(f): f"{ks}/{ns}, V {v:.1e}" for f, v in PAPER["sgd_v"].items()}})
    empty = [o for o in cells.OUTCOMES if not view[o].any()]
    return view.drop(columns=["majority", "budget", *empty])


#: The example cells of the map's norm figure, one per kind of cell: (the outcome most of the
#: cell's runs reached, the label, the score the chosen cell maximises, the line colour; None:
#: the outcome's colour).
EXAMPLES: list[tuple[str, str, Callable[[pd.DataFrame], pd.Series], str | None]] = [
    ("did not memorize", "no memorization, norm collapses", contraction, None),
    ("did not memorize", "no memorization, steps too small", lambda t: -t["lr"] - t["weight_decay"], "0.7"),
    ("memorized, did not grok", "memorized, no grok", lambda t: -t["weight_decay"] + t["lr"], None),
    ("grokked", "grokked", lambda t: -t["t_median"], None),
    ("grokked, then diverged", "grokked, then diverged", lambda t: t["lr"], None),
    ("diverged", "diverged", lambda t: t["lr"], None),
]


def examples(r: Results) -> list[tuple[np.ndarray, str, str]]:
    """The runs of one map cell of each kind in :data:`EXAMPLES` that the map has, as
    ``(mask over the map's runs, label, colour)`` for :func:`grokkit.book.plots.norm_by_arm`."""
    line = dict(zip(cells.OUTCOMES, OUTCOME_LINES))
    out = []
    for kind, label, score, colour in EXAMPLES:
        cands = r.outcomes[r.outcomes["majority"] == kind]
        if not len(cands):
            continue
        c = cands.loc[score(cands).idxmax()]
        mask = np.logical_and.reduce([np.isclose(r.map[g], getattr(c, g)) for g in GRID])
        out.append((mask, f"{label}: {cell_name(c)}", colour or line[kind]))
    return out


def texts(P: pm.Values, r: Results) -> dict[str, str]:
    """The numbers the prose glues, by name, as the page writes them."""
    pc, mp = r.per_cell, r.map
    at_lr, w0 = pc[np.isclose(pc["lr"], P.lr)], pc[pc["weight_decay"] == 0]
    by_decay = pc.groupby("weight_decay")["mem"].sum()
    shrink = contraction(pc[pc["grok"]]) if pc["grok"].any() else None
    matched = len(r.long_sgd) >= r.want_sgd and bool(r.long_log_v)
    return {
        "n_seeds": f"{P.seeds}",
        "paper_lr": f"{P.lr:g}",
        "paper_wd": f"{P.weight_decay:g}",
        "eval_every": str(parse_schedule(P.eval_schedule)[1]),
        "sgd_mem": f"{n_memorized(r.sgd)} of {len(r.sgd)}",
        "sgd_grok": f"{n_grokked(r.sgd)} of {len(r.sgd)}",
        # V where the paper reads it (experiment 4A's 50,000 steps) once those runs are stored, else at the design's budget
        "sgd_v": and_list(f"{10 ** e.value:.1e}" for e in (r.long_log_v if matched else r.log_v).values()) or "n/a",
        "sgd_steps": f"{P.sgd_long_budget if matched else P.sgd_budget:,}",
        "post_grok": f"{P.post_grok_steps:,}",
        "sgd_long": f"{P.sgd_long_budget:,}",
        "adam_post": f"{P.adamw_post_grok:,}",
        "fig_norms_runs": (f"experiment 4A's runs, which end where the paper reads its values (SGD at "
                           f"{P.sgd_long_budget:,} steps, AdamW {P.adamw_post_grok:,} steps after it groks)"
                           if r.decided else
                           f"the design's runs (SGD to {P.sgd_budget:,} steps); the paper reads its values later "
                           f"(SGD after {PAPER['sgd_steps']:,} steps, AdamW {PAPER['adam_post']:,} steps after it "
                           "groks: experiment 4A, in the verdict table)"),
        "fig_norms_crosses": "each where its arm's runs end" if r.decided else "drawn at the right edge",
        "registered": REGISTERED,
        "preset_how": P.how_chosen,
        "adam_grok": f"{len(r.adam_ok)} of {len(r.adam)}",
        "adam_t": fmt_ci(r.adam_t, ",.0f"),
        "map_cells": f"{len(pc)}",
        "map_mem": f"{int(pc['mem'].sum())}",
        "map_grok": f"{int(pc['grok'].sum())}",
        "map_div": f"{int(pc['div'].sum())}",
        "map_grok_list": "; ".join(cell_name(c) for c in pc[pc["grok"]].itertuples()) or "none",
        "no_mem_decays": ", ".join(f"{w:g}" for w, k in by_decay.items() if k == 0) or "none",
        "paper_lr_mem": f"{int(at_lr['mem'].sum())} of {len(at_lr)}",
        "w0_mem": f"{int(w0['mem'].sum())} of {len(w0)}",
        "w0_grok": f"{int(w0['grok'].sum())}",
        "adam_el": f"{P.lr * P.weight_decay:g}",
        "grok_shrink": f"{shrink.min():.1g} and {shrink.max():.1g}" if shrink is not None else "n/a",
        "div_runs": f"{int((mp['status'] == 'diverged').sum())}",
        "div_after_grok": f"{int(mp['grokked_before_diverging'].sum())}",
    }


# ---------------------------------------------------------------------------- verdicts
def _sgd_v_parts(estimates: dict[float, Estimate]) -> dict[str, Judgement]:
    """SGD's log₁₀ V_final at each multiple of λ against the paper's (± :data:`TOL` decades)."""
    return {f"at {times_lambda(f)}": compare(np.log10(PAPER["sgd_v"][f]), e, atol=TOL["log10_v"], fmt=".1f")
            for f, e in estimates.items() if f in PAPER["sgd_v"]}


def _adam_v(paper: float | tuple[float, float], ours: Estimate | None) -> Judgement:
    """AdamW's V_final against the paper's (a value or an interval), within :data:`TOL` ``norms``."""
    return compare(paper, ours, tol=TOL["norms"], fmt=",.0f")


#: The paper's uncertainties as intervals (policy rule 2): "± sd over 5 seeds" as the 95 % interval of a mean.
PAPER_T = paper_sd(PAPER["adam_t"], PAPER["adam_t_sd"], PAPER["seeds"])
PAPER_V = paper_sd(PAPER["adam_v"], PAPER["adam_v_sd"], PAPER["seeds"])


def sgd_v_judgement(P: pm.Values, r: Results) -> Judgement:
    """"SGD's V collapses", judged where the paper reads it: after 50,000 steps, on experiment
    4A's SGD runs once all are in the store (our chapter's own runs stop at ``sgd_budget``)."""
    if P.sgd_long_budget != PAPER["sgd_steps"]:
        return no_data(f"4A runs to {P.sgd_long_budget:,} steps at this preset; the paper reads V after "
                       f"{PAPER['sgd_steps']:,}")
    if len(r.long_sgd) < r.want_sgd:
        return no_data(f"ours is read after {P.sgd_budget:,} steps; the paper's after {PAPER['sgd_steps']:,}: "
                       f"the matched runs are not in the store yet ({len(r.long_sgd)} of {r.want_sgd})")
    return combine(_sgd_v_parts(r.long_log_v))


def adam_v_judgement(P: pm.Values, r: Results) -> Judgement:
    """"AdamW's V_final", judged where the paper reads it: at T_grok + 3,000, on experiment 4A's
    AdamW runs once all are in the store, against 233 ± 35 over 5 seeds (policy rule 2)."""
    if P.adamw_post_grok != PAPER["adam_post"]:
        return no_data(f"4A reads V at T_grok + {P.adamw_post_grok:,} at this preset; the paper's at "
                       f"T_grok + {PAPER['adam_post']:,}")
    if len(r.adam_post) < r.want_adam:
        return no_data(f"ours is read at T_grok + {P.post_grok_steps:,}; the paper's at T_grok + "
                       f"{PAPER['adam_post']:,}: the matched runs are not in the store yet")
    return _adam_v(PAPER_V, r.adam_post_v)


def _log_v_text(estimates: dict[float, Estimate]) -> str:
    return ", ".join(f"{10 ** e.value:.1e} (log₁₀ {fmt_ci(e, '.2f')})" for e in estimates.values())


def verdicts(P: pm.Values, r: Results) -> Verdicts:
    """One row per claim of paper 3, §S6/S8 (its Tab 7), judged under :data:`TOL` and the book's
    verdict policy: the paper's "± sd over 5 seeds" as the interval of a mean, V_final where the
    paper reads it (experiment 4A), counts inconclusive where 5 seeds cannot decide (the map has no
    row). The diagnoses are added by :func:`diagnose`."""
    V = Verdicts(CHAPTER, TITLE, P.preset, claimant="paper 3")

    def here(j: Judgement) -> Judgement:
        return at_paper_condition(j, P.p, PAPER["p"])

    scale = cells.scale_note(r.paper, "arm")
    per_arm = {}
    for f, g in r.sgd_arms.items():
        at = times_lambda(f)
        per_arm[f"memorizes at {at}"] = count(*PAPER["sgd_mem"], n_memorized(g), len(g), atol=TOL["fraction"])
        per_arm[f"groks at {at}"] = count(*PAPER["sgd_grok"], n_grokked(g), len(g), atol=TOL["fraction"])
    V.add("SGD with coupled L2 (λ and 2λ) neither memorizes nor groks", here(combine(per_arm)),
          paper="0/5 and 0/5 at each",
          ours=f"memorize {n_memorized(r.sgd)}/{len(r.sgd)}; grok {n_grokked(r.sgd)}/{len(r.sgd)}",
          note=f"after {P.sgd_budget:,} steps", scale=scale, section="sec-ch4-paper")
    long_scale = cells.scale_note(r.long_sgd, "arm")
    V.add("SGD's V collapses: log₁₀ V_final", here(sgd_v_judgement(P, r)),
          paper=f"1.1e-4 (λ), 3.6e-5 (2λ) after {PAPER['sgd_steps']:,} steps",
          ours=_log_v_text(r.long_log_v) or "n/a",
          note=f"after {P.sgd_long_budget:,} steps (experiment 4A); after {P.sgd_budget:,}: "
               f"{_log_v_text(r.log_v) or 'n/a'}",
          scale=long_scale if len(r.long_sgd) else scale, section="sec-ch4-why-we-differ")
    V.add("AdamW groks 5/5 at T_grok 1760 ± 150",
          here(combine({"grokked": count(*PAPER["adam_grok"], len(r.adam_ok), len(r.adam), atol=TOL["fraction"]),
                        "T_grok": compare(PAPER_T, r.adam_t, tol=TOL["times"], fmt=",.0f")})),
          paper="5/5; 1760 ± 150 (5 seeds)", ours=f"{len(r.adam_ok)}/{len(r.adam)}; {fmt_ci(r.adam_t, ',.0f')}",
          scale=scale, section="sec-ch4-paper")
    post = cells.scale_note(r.adam_post)
    V.add("AdamW's V_final", here(adam_v_judgement(P, r)),
          paper=f"233 ± 35 (5 seeds), at T_grok + {PAPER['adam_post']:,}",
          ours=fmt_ci(r.adam_post_v, ",.0f") if r.adam_post_v is not None else "n/a",
          note=f"at T_grok + {P.adamw_post_grok:,} (experiment 4A); at T_grok + {P.post_grok_steps:,}: "
               f"{fmt_ci(r.adam_v, ',.0f')}",
          scale=post if len(r.adam_post) else scale, section="sec-ch4-why-we-differ")
    return V


# ---------------------------------------------------------------------------- why we differ
#: The chapter's part of ``docs/why-we-differ.md`` (registered at commit
#: :data:`grokkit.book.diagnoses.REGISTERED`, before any run of 4A was trained or read), restated.
_CONDITION = ("condition: ours is read at 10k steps (SGD) and 2,000 steps after T_grok (AdamW); the paper's at "
              "50k steps and at T_grok + 3,000",)
_EXPERIMENT_4A = ("4A: the chapter's SGD cells (λ and 2λ, 5 seeds) to 50k steps, and its AdamW cell continued "
                  "to T_grok + 3,000")
DIAGNOSES = [
    Diagnosis("SGD's V collapses", _CONDITION, _EXPERIMENT_4A,
              "R0 at the matched step; SGD: log₁₀ V_final judged as now (± 1 decade). Diagnosis: condition if "
              "the matched step holds."),
    Diagnosis("AdamW's V_final", _CONDITION, _EXPERIMENT_4A,
              "R0 at the matched step (AdamW: 233 ± 35 over 5 seeds, within 25 %). Diagnosis: condition if the "
              "matched step holds."),
]
#: Rows the verdict policy makes inconclusive (they were consistent when the explanations were
#: registered): the common rule R2 of ``docs/why-we-differ.md``, no deciding run.


def _matched(j: Judgement, what: str, before: str, seeds: int) -> str:
    """The registered rule's decision from the row's verdict at the matched step, ``j``."""
    if j.verdict == CONSISTENT:
        return f"condition: the matched step holds ({what} is consistent, where {before})"
    if j.verdict == INCONCLUSIVE:
        need = j.seeds_to_decide(seeds)
        return f"undecided at the matched step, too few seeds (R2): about {need} seeds per arm would decide it"
    return f"not condition: at the matched step {what} is {j.verdict} (where {before})"


def _diagnose_sgd_v(P: pm.Values, r: Results, d: Diagnosis) -> Diagnosis:
    have, before = len(r.long_sgd), combine(_sgd_v_parts(r.log_v))
    if have < r.want_sgd:
        return d.decided(f"{pending(have, r.want_sgd)}; until then the row is no data (policy rule 1, the same "
                         f"condition: after our {P.sgd_budget:,} steps it was {before.verdict})")
    j = sgd_v_judgement(P, r)
    if P.p != PAPER["p"] or P.sgd_long_budget != PAPER["sgd_steps"]:
        return d.decided(f"not decided at this preset: 4A ran at p = {P.p} for {P.sgd_long_budget:,} steps, "
                         f"the paper at p = {PAPER['p']} for {PAPER['sgd_steps']:,}")
    if j.verdict == NO_DATA:
        return d.decided(f"R0, the matched step: no reading ({j.reason})")
    what, earlier = f"log₁₀ V after {P.sgd_long_budget:,} steps", f"after {P.sgd_budget:,} it was {before.verdict}"
    return d.decided(f"R0, the matched step: {_matched(j, what, earlier, P.seeds)}")


def _diagnose_adam_v(P: pm.Values, r: Results, d: Diagnosis) -> Diagnosis:
    point, sd = _adam_v(PAPER["adam_v"], r.adam_v), _adam_v(PAPER_V, r.adam_v)
    earlier = (f"at T_grok + {P.post_grok_steps:,} it was {point.verdict} against the point 233 and would be "
               f"{sd.verdict} against 233 ± 35 over 5 seeds")
    have = len(r.adam_post)
    if have < r.want_adam:
        return d.decided(f"{pending(have, r.want_adam)}; until then the row is no data (policy rule 1, the same "
                         f"condition: {earlier})")
    j = adam_v_judgement(P, r)
    if P.p != PAPER["p"] or P.adamw_post_grok != PAPER["adam_post"]:
        return d.decided(f"not decided at this preset: 4A read V at T_grok + {P.adamw_post_grok:,} at p = {P.p}, "
                         f"the paper at T_grok + {PAPER['adam_post']:,} at p = {PAPER['p']}")
    if j.verdict == NO_DATA:
        return d.decided(f"R0, the matched step: no reading ({j.reason}; fewer than two runs grokked)")
    vs_point = _adam_v(PAPER["adam_v"], r.adam_post_v).verdict
    what = (f"V at T_grok + {P.adamw_post_grok:,}, {fmt_ci(r.adam_post_v, ',.0f')}, against 233 ± 35 over 5 seeds "
            f"(against the point 233 it would be {vs_point})")
    return d.decided(f"R0, the matched step and the paper's uncertainty: {_matched(j, what, earlier, P.seeds)}")


def _t_grok_clause(r: Results) -> str:
    """R0 on AdamW's T_grok: against the paper's "1760 ± 150 over 5 seeds" and against its point."""
    sd = compare(PAPER_T, r.adam_t, tol=TOL["times"]).verdict
    point = compare(PAPER["adam_t"], r.adam_t, tol=TOL["times"]).verdict
    return (f"; T_grok (R0, the paper's uncertainty) is {sd} against 1760 ± 150 over 5 seeds and would be {point} "
            "against the point 1760")


def diagnose(P: pm.Values, r: Results, V: Verdicts) -> list[Diagnosis]:
    """Each registered diagnosis (:data:`DIAGNOSES`) with its outcome computed from the runs by
    its rule, one sentence naming the rule; then, for each row the policy leaves inconclusive
    (no explanation was registered for it: it was consistent), the seeds that would decide it
    (R2). The outcomes are written into ``V``'s rows (:func:`grokkit.book.diagnoses.apply`)."""
    ds = [_diagnose_sgd_v(P, r, DIAGNOSES[0]), _diagnose_adam_v(P, r, DIAGNOSES[1])]
    ds = [d for d in ds]
    for row in V.rows:  # the AdamW row adds its T_grok clause to rule R2's sentence
        if row.claim.startswith("AdamW groks") and row.verdict == INCONCLUSIVE \
                and not any(row.claim.startswith(d.claim) for d in ds):
            ds.append(too_few_seeds(row, "arm", _t_grok_clause(r)))
    ds = fill(V, ds, "arm")
    apply(V, ds)
    return ds


def scale_all(r: Results) -> str:
    """The scale of every run of the chapter, for the page's closing line."""
    return cells.scale_note(pd.concat(list(r.runs.values()), ignore_index=True))

