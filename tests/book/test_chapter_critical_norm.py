"""Chapter 1 (the critical norm) under the verdict policy and its registered diagnoses: the store check
behind ``preset = "auto"``, the deciding experiments' configs, the rows the policy reworked or added,
and a diagnosis for every row that calls for one at the book preset (read from the project's store)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from grokkit.analysis import cells
from grokkit.book import claims, diagnoses
from grokkit.book.chapters import critical_norm as ch
from grokkit.book.verdicts import CONSISTENT, NO_DATA, paper_rounded
from grokkit.engine.protocols import paper1

NEW_ROWS = ("W_c robust to the threshold at p = 97", "W_c per modulus, pooled over fractions as paper 1 pools them",
            "W_c ∝ p^k pooled over fractions: exponent",
            "W_c ∝ p^k over the p-scan's moduli 31–71 at fraction 0.40: exponent")


def _row(V, prefix):
    return next(r for r in V.rows if r.claim.startswith(prefix))


@pytest.fixture(scope="module")
def book():
    """The chapter at the book preset from the project's store (never trains)."""
    P = ch.PARAMETERS.resolve("book", train=False)
    d, dd = ch.design(P), ch.deciding_design(P)
    with warnings.catch_warnings():  # runs still training in the background are left out, with a warning
        warnings.simplefilter("ignore", UserWarning)
        d.run(store=P.store, train=False, allow_missing=True, progress=False)
        dd.run(store=P.store, train=False, allow_missing=True, progress=False)
    r = ch.analyse(P, d, dd)
    V = ch.verdicts(P, r)
    ds = ch.diagnose(P, r, V)
    diagnoses.apply(V, ds)
    return P, r, V, ds


# ---------------------------------------------------------------------------- store check and designs
def test_the_book_preset_asks_exactly_for_the_registered_deciding_runs():
    P = ch.PARAMETERS.resolve("book")
    d = ch.deciding_design(P)
    want_1a = [paper1(p=q, train_frac=f, lr=1e-3, weight_decay=1.0, seed=s,
                      max_steps=(100_000 if q == 29 and f <= 0.35 else 40_000), eval_schedule="every:25",
                      d_embed=128, d_hidden=256)
               for q in (29, 41, 59, 79, 97) for f in (0.30, 0.35, 0.40, 0.50, 0.65) for s in range(8)]
    want_1b = [paper1(p=q, train_frac=0.4, lr=1e-3, weight_decay=1.0, seed=s, max_steps=40_000,
                      eval_schedule="every:25", d_embed=128, d_hidden=256)
               for q in (31, 41, 53, 59, 71) for s in range(8)]
    assert {c.key for c in d.configs(["pooled"])} == {c.key for c in want_1a}
    assert {c.key for c in d.configs(["p-scan"])} == {c.key for c in want_1b}
    assert len(d.experiments["pooled"]) == 200 and len(d.experiments["p-scan"]) == 40
    assert set(d.experiments["pooled"][0][1]) == {"p", "train_frac"}
    assert set(d.experiments["p-scan"][0][1]) == {"p"}
    # the runs 1A shares with the chapter's own design have the same keys (they train once)
    shared = {c.key for c in ch.design(P).configs()} & {c.key for c in want_1a}
    assert len(shared) == 8 * (5 + 4)  # the fractions at p = 59 and the other moduli at 0.40


def test_smoke_and_paper_presets_of_the_deciding_experiments():
    smoke = ch.deciding_design(ch.PARAMETERS.resolve("smoke"))
    assert {(c.p, c.train_frac) for c in smoke.configs(["pooled"])} == {(31, 0.4), (31, 0.5), (41, 0.4), (41, 0.5)}
    assert {c.seed for c in smoke.configs()} == {0, 1}
    assert {c.max_steps for c in smoke.configs()} == {2500}
    paper = ch.deciding_design(ch.PARAMETERS.resolve("paper"))
    budgets = {(c.p, c.train_frac): c.max_steps for c in paper.configs(["pooled"])}
    assert all(b == (100_000 if f <= 0.35 else 60_000) for (_, f), b in budgets.items())
    assert {c.seed for c in paper.configs()} == set(range(20))
    assert {c.eval_schedule for c in paper.configs()} == {"log:360"}


# ---------------------------------------------------------------------------- rows and diagnoses at the book preset
def test_every_row_that_needs_one_has_a_diagnosis(book):
    P, r, V, ds = book
    assert diagnoses.undiagnosed(V) == []
    for d in ds:
        assert d.outcome, d.claim
        assert any(row.claim.startswith(d.claim) for row in V.rows), d.claim


def test_the_new_rows_exist_and_every_headline_of_the_chapter_has_its_row(book):
    P, r, V, ds = book
    for prefix in NEW_ROWS:
        row = _row(V, prefix)
        assert row.claimant == "paper 1" and row.basis == "text"
    for h in claims.HEADLINES:
        if h.chapter == ch.CHAPTER:
            assert any(row.claim.startswith(h.row) for row in V.rows), h.row
    assert _row(V, "W_c robust to the threshold").claim.startswith("W_c robust to the threshold at p = 59")
    assert len({row.claim for row in V.rows}) == len(V.rows)


def test_the_rows_read_the_papers_values_at_our_condition(book):
    P, r, V, ds = book
    assert tuple(_row(V, "W_c at p = 59").judgement["paper"]) == pytest.approx(paper_rounded("54.8"))
    assert _row(V, "W_c concentrated across seeds").judgement["kind"] == "at_most"
    wd = {p["name"]: p for p in _row(V, "W_c set by weight decay").judgement["parts"]}
    assert tuple(wd["λ = 1"]["paper"]) == pytest.approx(paper_rounded("55.1"))
    assert tuple(wd["λ = 3"]["paper"]) == pytest.approx(paper_rounded("48.7"))
    assert tuple(wd["λ = 0.3"]["paper"]) == pytest.approx(paper_rounded("63"))
    assert _row(V, "W_c grows as a power law").verdict == NO_DATA
    mod = {p["name"]: p for p in _row(V, "W_c per modulus").judgement["parts"]}
    assert tuple(mod["p = 41"]["paper"]) == pytest.approx(paper_rounded("49.54"))
    assert tuple(mod["p = 59"]["paper"]) == pytest.approx(paper_rounded("54.72"))
    assert all(mod[f"p = {q}"]["verdict"] == NO_DATA and "pooled over fractions" in mod[f"p = {q}"]["reason"]
               for q in (29, 79, 97))
    scan = _row(V, "W_c ∝ p^k over the p-scan")
    if scan.verdict != NO_DATA:
        assert tuple(scan.judgement["paper"]) == pytest.approx(paper_rounded("0.44"))


def test_the_weight_decay_diagnosis_compares_both_readings(book):
    P, r, V, ds = book
    text = _row(V, "W_c set by weight decay").diagnosis
    assert text.startswith("R0, the paper's rounding")
    assert "as points it would be" in text


# ---------------------------------------------------------------------------- the registered rule on constructed runs
def _runs(values: dict[tuple[int, float], list[float]], censored: dict[tuple[int, float], int] | None = None):
    rows = []
    for (q, f), norms in values.items():
        for s, w in enumerate(norms):
            rows.append(dict(key=f"{q}-{f}-{s}", p=q, train_frac=f, status="grokked", norm_grok=w, t_grok=1000.0,
                             final_step=1000, max_steps=40_000))
        for s in range((censored or {}).get((q, f), 0)):
            rows.append(dict(key=f"{q}-{f}-c{s}", p=q, train_frac=f, status="censored", norm_grok=np.nan,
                             t_grok=np.nan, final_step=40_000, max_steps=40_000))
    return pd.DataFrame(rows)


def test_pooled_means_are_means_over_the_grokked_runs_of_every_fraction():
    runs = _runs({(29, 0.3): [10.0, 12.0], (29, 0.4): [20.0], (41, 0.3): [30.0, 30.0], (41, 0.4): [30.0]},
                 censored={(29, 0.3): 1})
    est, power, r2 = ch.pooled_means(runs)
    assert est[29].value == pytest.approx(14.0) and est[41].value == pytest.approx(30.0)
    assert est[29].lo <= 14.0 <= est[29].hi
    assert power.value == pytest.approx(np.log(30 / 14) / np.log(41 / 29))


def _with_deciding(P, r, values, censored=None):
    pooled = _runs(values, censored)
    est, power, r2 = ch.pooled_means(pooled)
    want = {q: int(((pooled["p"] == q)).sum()) for q in P.pooled_moduli}
    dec = ch.Deciding(pooled=pooled, pooled_cells=cells.cell_table(pooled, ["p", "train_frac"]), pooled_want=want,
                      pooled_have=dict(want), pooled_est=est, pooled_power=power, pooled_r2=r2,
                      scan=r.deciding.scan, scan_cells=r.deciding.scan_cells, scan_want=r.deciding.scan_want,
                      scan_have=r.deciding.scan_have, scan_power=r.deciding.scan_power)
    return dataclasses.replace(r, deciding=dec)


def _paper_like(shift29: float = 0.0):
    paper = {29: 42.1, 41: 47.6, 59: 54.6, 79: 61.2, 97: 67.1}
    return {(q, f): [w + (shift29 if q == 29 else 0.0)] * 4 for q, w in paper.items()
            for f in (0.30, 0.35, 0.40, 0.50, 0.65)}


def test_the_registered_rule_decides_condition_censoring_or_genuine(book):
    P, r, V, ds = book
    cond = _with_deciding(P, r, _paper_like())
    text = ch._deciding_1a(P, cond, "modulus")
    assert text.startswith("condition (fractions pooled)"), text
    assert ch._pooled_power(P, cond.deciding).verdict == CONSISTENT
    assert ch._deciding_1a(P, cond, "exponent").startswith("condition (fractions pooled)")
    censored = _with_deciding(P, r, _paper_like(shift29=-6.0), censored={(29, 0.30): 4})
    text = ch._deciding_1a(P, censored, "modulus")
    assert text.startswith("censoring at p = 29"), text
    genuine = _with_deciding(P, r, _paper_like(shift29=-6.0))
    assert ch._deciding_1a(P, genuine, "modulus").startswith("genuine at p = 29")
    # with the deciding runs complete, the pooled rows are judged and the diagnoses still cover every row
    V2 = ch.verdicts(P, censored)
    diagnoses.apply(V2, ch.diagnose(P, censored, V2))
    assert _row(V2, "W_c ∝ p^k pooled").verdict != NO_DATA
    assert diagnoses.undiagnosed(V2) == []


def test_a_row_the_policy_makes_inconclusive_says_how_many_seeds_would_decide_it(book):
    P, r, V, ds = book
    wide = dataclasses.replace(r, cv_seeds=ch.Estimate(0.03, 0.01, 0.07))  # CI 1–7 %: reaches 4 % and beyond 6 %
    V2 = ch.verdicts(P, wide)
    diagnoses.apply(V2, ch.diagnose(P, wide, V2))
    row = _row(V2, "W_c concentrated across seeds")
    assert row.verdict == "inconclusive" and row.seeds_to_decide
    assert row.diagnosis.startswith("too few seeds") and f"about {row.seeds_to_decide} seeds" in row.diagnosis
    assert diagnoses.undiagnosed(V2) == []


def test_the_matched_panels_draw_the_paper_only_at_its_own_condition(book):
    P, r, V, ds = book
    pooled, scan = ch.matched_panels(P, r)
    assert pooled[3] == {29: 42.1, 41: 47.6, 59: 54.6, 79: 61.2, 97: 67.1} and scan[3] == {41: 49.54, 59: 54.72}
    assert set(pooled[1]) == {q for q in P.pooled_moduli if r.deciding.pooled_have.get(q, 0) >= r.deciding.pooled_want[q]}
    assert ("k = " in pooled[2]) == r.deciding.pooled_complete and ("k = " in scan[2]) == r.deciding.scan_complete
    other = type(P)(**{**vars(P), "pooled_fractions": [0.4, 0.5], "main_fraction": 0.5})  # not paper 1's conditions
    pooled, scan = ch.matched_panels(other, r)
    assert pooled[3] == {} and scan[3] == {}
    from grokkit.book import plots
    fig = plots.matched_levels(ch.matched_panels(P, r))
    assert [a.get_title() for a in fig.axes] == [t[0] for t in ch.matched_panels(P, r)]
