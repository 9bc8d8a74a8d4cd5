"""What chapter 7's page glues and shows: the texts its prose quotes (:func:`texts`), one verdict row per
registered prediction (:func:`verdicts`) with the diagnoses of why a law and the runs disagree
(:func:`diagnose`), and the tables and figures.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ....analysis import cells as _cells
from ....analysis.stats import Estimate, proportion_ci
from ....runs.design import Design
from ... import parameters as pm
from ...diagnoses import Diagnosis, NEEDS_DIAGNOSIS, apply, too_few_seeds
from ...text import and_list, fmt_ci, fmt_num
from ...verdicts import CLOSE, CONSISTENT, DIFFERS, INCONCLUSIVE, NO_DATA, Verdicts, at_least, at_most, combine, compare, no_data
from .registration import (CHAPTER, PAPER, PREDICTIONS, REGISTERED, REGISTRATION_DOC, RUN_SETS, TITLE, TOL, TRAINING,
                           T_INT)
from .designs import Control, NewRuns, Stored, _is, _km
from .laws import c6, decision, male
from .analysis import (DEVIATIONS, FAMILIES, PREDICTORS_1, PREDICTORS_2C, PREDICTOR_ROWS, Results, SECONDARY, Section2b,
                       Section3, VARIABLES, WcReading, _ols, _scored, cell_label, deviation_note, exp_category, exp_fit,
                       exp_judgement, per_cell, predict, same_exponent, summary)


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
        v4b = _verdict(V, "4b")
        hold = ("holding the norm delays grokking, against Fu's \"never delays\"" if v4b == DIFFERS else
                "holding the norm does not delay grokking, as Fu reports" if v4b in (CONSISTENT, CLOSE) else
                f"whether holding the norm delays grokking is {v4b or NO_DATA}")
        fits, rec = sentences_parity(r, V)
        new = (f"all {asked} of their runs are in the store. Under Muon {hold} (row 4b), and the exponential law "
               f"is {sentence_optimizer(r, V)}. On sparse parity {fits}, and "
               f"{rec if rec.startswith('the protocols') else 'the protocols reconcile ' + rec}")
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
    from ... import tables

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

    from ... import plots

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

    from ... import plots

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
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7)  # below: the points stay visible
            if not mine:
                plots.annotate_scale(ax, f"design {design}: {status[design]}")
        ax.set_title(titles[design], fontsize=10)
    fig.tight_layout()
    return fig


def fig_one_variable(r: Results) -> Any:
    """§3's figure: every run of the pool, its time-averaged variable against its T_grok (log axis),
    coloured by intervention family, one panel per variable, with the fit over every family's cells."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from ... import plots

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

    from ... import plots

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
    beyond = False
    for runs, label, color, marker in ((s.free, "free", plots.OURS, "o"), (s.bridge, "bridge (free)", "C1", "s")):
        if len(runs):
            t = runs.groupby("m").apply(_km, include_groups=False)
            ax2.plot(t.index, t.values, marker, color=color, label=label)
            for m, value in t[~np.isfinite(t.values)].items():  # most runs censored: the median lies beyond the budget
                arm = runs[runs["m"] == m]
                budget = float(arm["max_steps"].max())
                ax2.plot([m], [budget], marker, mfc="none", color=color,
                         label=None if beyond else "median beyond the budget (open)")
                ax2.annotate(f"> {budget:,.0f}\n({int((arm['status'] == 'grokked').sum())} of {len(arm)} grokked)",
                             (m, budget), textcoords="offset points", xytext=(6, -14), fontsize=6.5, color=color)
                beyond = True
    for rho, g in s.clamp.groupby("rho") if len(s.clamp) else []:
        ax2.plot([g["m"].iloc[0]], [_km(g)], "^" if rho > 1 else "v", color="C2", label=f"clamped at ρ = {rho:g}")
    paper_t = {600: PAPER["parity_t"]["m600"], 1000: PAPER["parity_t"]["m1000"], 1500: PAPER["parity_t"]["m1500"]}
    plots.paper_points(ax2, paper_t, "paper 1 (free)")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    plots.log_steps_axis(ax2.yaxis)
    ax2.set_xlabel("training examples m")
    ax2.set_ylabel("median $T_{grok}$ (steps)")
    ax2.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig

