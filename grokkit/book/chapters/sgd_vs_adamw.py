"""Chapter 4, SGD against AdamW (paper 3, §S6/S8): with chapter 3's model and task, plain SGD
with coupled L2 weight decay at λ or 2λ neither memorizes nor groks and its squared weight norm
V collapses, while AdamW groks; a map of SGD's learning rate, weight decay and momentum shows
where SGD does memorize and grok.

The chapter's parameters and presets, the paper's figures and the tolerances (fixed before any
result was read), its design (the paper's three arms and the SGD map), the analysis of their
runs, the texts its prose glues and its verdicts.
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
from ..plots import OUTCOME_LINES
from ..text import and_list, fmt_ci
from ..verdicts import at_paper_condition, combine, compare, count, Judgement, Verdicts

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
        pm.Rule("eval_schedule, sgd_budget, adamw_budget, map_budget: the evaluation interval K must be "
                "below every step budget",
                lambda v: _eval_interval(v) < min(v["sgd_budget"], v["adamw_budget"], v["map_budget"])),
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
    eval_schedule=pm.schedule('"every:K" (the page says the runs are evaluated every K steps)', every_only=True),
    trace_every=pm.steps("the AdamW arm records its norm every this many steps (as in chapter 3)"),
    d_embed=pm.count("encoder width (smoke: smaller)"),
    d_hidden=pm.count("FFN width (smoke: smaller)"),
    n_heads=pm.count("attention heads (smoke: fewer)"),
)
BOOK = dict(p=97, seeds=5, lr=1e-3, weight_decay=1.0, sgd_decay_factors=[1, 2], sgd_budget=10_000,
            adamw_budget=50_000, map_lrs=[1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0], map_decays=[0.0, 1e-4, 1e-3, 1e-2],
            map_momenta=[0.0, 0.9], map_seeds=1, map_budget=5000, post_grok_steps=2000, eval_schedule="every:200",
            trace_every=10, d_embed=128, d_hidden=512, n_heads=4)
PRESETS = PARAMETERS.presets(
    smoke=dict(BOOK, p=31, seeds=2, lr=1e-2, sgd_budget=1000, adamw_budget=3000, map_lrs=[0.1, 1.0],
               map_decays=[0.0, 1e-2], map_budget=1000, post_grok_steps=200, eval_schedule="every:50",
               d_embed=32, d_hidden=64, n_heads=2),
    book=BOOK,
    paper=dict(BOOK, sgd_budget=50_000, map_seeds=3, map_budget=50_000),
)

#: Paper 3's Table 7 (S6/S8: p = 97, η = 1e-3, λ = 1, 5 seeds, 50k steps); ``sgd_v`` by multiple of λ.
PAPER = dict(sgd_mem=(0, 5), sgd_grok=(0, 5), sgd_v={1: 1.1e-4, 2: 3.6e-5}, adam_grok=(5, 5), adam_t=1760,
             adam_t_sd=150, adam_v=233)
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
PAPER_NORMS = {**{sgd_arm(f): v for f, v in PAPER["sgd_v"].items()}, "AdamW": PAPER["adam_v"]}


# ---------------------------------------------------------------------------- design
def design(P: pm.Values) -> Design:
    """Two experiments of paper 3's protocol at this chapter's scale: ``"paper"``, the paper's
    comparison (per seed one AdamW arm, chapter 3's main cell, so the store trains it once, and
    one SGD arm per multiple of λ; label ``arm``), and ``"map"``, SGD over every learning rate,
    weight decay and momentum of the map (labels :data:`GRID`)."""

    def run(seed: int, budget: int, **kw: Any) -> RunConfig:
        return paper3(p=P.p, seed=seed, max_steps=budget, extra_steps=P.post_grok_steps, eval_schedule=P.eval_schedule,
                      d_embed=P.d_embed, d_hidden=P.d_hidden, n_heads=P.n_heads, **kw)

    d = Design()
    for s in range(P.seeds):
        d.add("paper", run(s, P.adamw_budget, lr=P.lr, weight_decay=P.weight_decay, trace_every=P.trace_every),
              arm=ADAMW_ARM)
        for f in P.sgd_decay_factors:
            d.add("paper", run(s, P.sgd_budget, optimizer="sgd", lr=P.lr, weight_decay=f * P.weight_decay),
                  arm=sgd_arm(f))
    for lr in P.map_lrs:
        for wd in P.map_decays:
            for mu in P.map_momenta:
                for s in range(P.map_seeds):
                    d.add("map", run(s, P.map_budget, optimizer="sgd", lr=lr, weight_decay=wd, momentum=mu),
                          lr=lr, weight_decay=wd, momentum=mu)
    return d


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

    @property
    def paper(self) -> pd.DataFrame:
        """The runs of the paper's comparison (label ``arm``)."""
        return self.runs["paper"]

    @property
    def map(self) -> pd.DataFrame:
        """The runs of the SGD map (labels :data:`GRID`, and ``grokked_before_diverging``)."""
        return self.runs["map"]


def analyse(P: pm.Values, d: Design) -> Results:
    """The chapter's numbers from the runs of :func:`design` (after ``d.run(...)``)."""
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
    return Results(
        runs=runs, paper_traj=store.trajectories(pr["key"]), map_traj=map_traj,
        arms=[(pr["arm"] == a, a, c) for a, c in arm_colours],
        sgd=sgd, sgd_arms=sgd_arms, adam=adam, adam_ok=adam_ok,
        adam_t=cells.mean_ci(adam_ok["t_grok"]) if len(adam_ok) else None,
        adam_v=cells.mean_ci(adam["sq_norm_all_final"]) if len(adam) else None,
        log_v={f: cells.median_ci(np.log10(g["sq_norm_all_final"])) for f, g in sgd_arms.items() if len(g)},
        outcomes=cells.outcome_table(mp, GRID),
        per_cell=reached_per_cell(mp),
    )


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
    return {
        "n_seeds": f"{P.seeds}",
        "paper_lr": f"{P.lr:g}",
        "paper_wd": f"{P.weight_decay:g}",
        "eval_every": str(parse_schedule(P.eval_schedule)[1]),
        "sgd_mem": f"{n_memorized(r.sgd)} of {len(r.sgd)}",
        "sgd_grok": f"{n_grokked(r.sgd)} of {len(r.sgd)}",
        "sgd_v": and_list(f"{10 ** e.value:.1e}" for e in r.log_v.values()) or "n/a",
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
def verdicts(P: pm.Values, r: Results) -> Verdicts:
    """One row per claim of paper 3, §S6/S8, judged under :data:`TOL` (the map has none)."""
    V = Verdicts(CHAPTER, TITLE, P.preset)

    def here(j: Judgement) -> Judgement:
        return at_paper_condition(j, P.p, 97)

    scale = cells.scale_note(r.paper, "arm")
    per_arm = {}
    for f, g in r.sgd_arms.items():
        at = times_lambda(f)
        per_arm[f"memorizes at {at}"] = count(*PAPER["sgd_mem"], n_memorized(g), len(g), atol=TOL["fraction"])
        per_arm[f"groks at {at}"] = count(*PAPER["sgd_grok"], n_grokked(g), len(g), atol=TOL["fraction"])
    v_parts = {f"at {times_lambda(f)}": compare(np.log10(PAPER["sgd_v"][f]), e, atol=TOL["log10_v"], fmt=".1f")
               for f, e in r.log_v.items() if f in PAPER["sgd_v"]}
    V.add("SGD with coupled L2 (λ and 2λ) neither memorizes nor groks", here(combine(per_arm)),
          paper="0/5 and 0/5 at each",
          ours=f"memorize {n_memorized(r.sgd)}/{len(r.sgd)}; grok {n_grokked(r.sgd)}/{len(r.sgd)}",
          scale=scale, section="sec-ch4-paper")
    V.add("SGD's V collapses: log₁₀ V_final", here(combine(v_parts)),
          paper="1.1e-4 (λ), 3.6e-5 (2λ) after 50k steps",
          ours=", ".join(f"{10 ** e.value:.1e} (log₁₀ {fmt_ci(e, '.2f')})" for e in r.log_v.values()) or "n/a",
          note=f"after {P.sgd_budget:,} steps", scale=scale, section="sec-ch4-paper")
    V.add("AdamW groks 5/5 at T_grok 1760 ± 150",
          here(combine({"grokked": count(*PAPER["adam_grok"], len(r.adam_ok), len(r.adam), atol=TOL["fraction"]),
                        "T_grok": compare(PAPER["adam_t"], r.adam_t, tol=TOL["times"], fmt=",.0f")})),
          paper="5/5; 1760 ± 150", ours=f"{len(r.adam_ok)}/{len(r.adam)}; {fmt_ci(r.adam_t, ',.0f')}",
          scale=scale, section="sec-ch4-paper")
    V.add("AdamW's V_final", here(compare(PAPER["adam_v"], r.adam_v, tol=TOL["norms"], fmt=",.0f")),
          paper="233 ± 35",
          note=f"V {P.post_grok_steps:,} steps after T_grok; the paper's S6 runs stopped 3,000 after",
          scale=scale, section="sec-ch4-paper")
    return V


def scale_all(r: Results) -> str:
    """The scale of every run of the chapter, for the page's closing line."""
    return cells.scale_note(pd.concat(list(r.runs.values()), ignore_index=True))

