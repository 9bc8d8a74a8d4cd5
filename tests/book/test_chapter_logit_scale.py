"""Chapter 5 (logit-scale mediation) under the verdict policy and its registered diagnoses.

The store check behind ``preset = "auto"``, the paper's rounded figures read as intervals, the
three laws of the dose comparison on synthetic data, T_mem's share of the temperature's effect on
constructed runs, and the verdict rows and diagnoses at the book preset read from the project's
run store (nothing trains).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from grokkit.analysis.stats import Estimate
from grokkit.book import claims, diagnoses
from grokkit.book.chapters import logit_scale as ch
from grokkit.book.verdicts import CLOSE, CONSISTENT, INCONCLUSIVE, NO_DATA, compare, count, paper_rounded
from grokkit.runs.store import RunStore


# ---------------------------------------------------------------------------- preset "auto"
def test_complete_asks_for_the_controls_then_the_design_at_their_wc(tmp_path, monkeypatch):
    P = ch.PARAMETERS.resolve("smoke", store=str(tmp_path))
    asked: list[list[str]] = []

    def missing(self, configs):
        asked.append([c.key for c in configs])
        return []

    wc = {(q, loss): 40.0 for q in (41, 43) for loss in ("ce", "mse")}
    monkeypatch.setattr(RunStore, "missing", missing)
    monkeypatch.setattr(ch.Design, "run", lambda self, **kw: None)
    monkeypatch.setattr(ch, "critical_norms", lambda controls: wc)
    assert ch.complete(P)
    assert asked[0] == [c.key for c in ch.controls(P).configs()]
    assert asked[1] == [c.key for c in ch.design(P, wc).configs()]
    auto = ch.PARAMETERS.read({"preset": "auto", "store": str(tmp_path)}, complete=ch.complete)
    assert auto.preset == "paper" and "paper preset" in auto.auto


def test_preset_auto_falls_back_to_the_book_preset_on_an_empty_store(tmp_path):
    P = ch.PARAMETERS.read({"preset": "auto", "store": str(tmp_path / "none")}, complete=ch.complete)
    assert P.preset == "book" and P.auto.startswith('preset "auto"')


# ---------------------------------------------------------------------------- the paper's figures
def test_rounded_figures_are_the_papers_points():
    for key in ("norm_up", "mse_up", "r2_logit", "r2_rho", "delta_r2", "dose_alpha"):
        for q, text in ch.ROUNDED[key].items():
            assert float(text) == pytest.approx(ch.PAPER[key][q])
    assert paper_rounded(ch.ROUNDED["audit_t64"])[0] == 12155 and ch.PAPER["audit"][1.15]["t64"] == 12160
    assert float(ch.ROUNDED["audit_t32_hi"].rstrip("k")) * 1000 == ch.PAPER["audit"][1.25]["t32"]
    assert float(ch.RELEASED["dose_alpha"][43]) == 0.174
    assert {q: v for q, v in ch.RELEASED["dose_alpha"].items() if q != 43} == \
        {q: v for q, v in ch.ROUNDED["dose_alpha"].items() if q != 43}


def test_the_precision_ratio_is_the_ratio_of_the_rounding_intervals():
    lo, hi = ch.interval_ratio(ch.paper_figure("12.16k"), ch.paper_figure("12.75k"))
    assert (lo, hi) == pytest.approx((12155 / 12755, 12165 / 12745))
    a, b = ch.interval_ratio(ch.paper_figure("12.16k", point=True), ch.paper_figure("12.75k", point=True))
    assert a == b == pytest.approx(12160 / 12750)


def test_the_papers_mem_share_is_computed_from_its_table():
    a, b = ch.mem_share_paper(97, point=True)
    assert a == b == pytest.approx((975 - 750) / (1412 - 1088))
    lo, hi = ch.mem_share_paper(97)
    assert lo < (975 - 750) / (1412 - 1088) < hi and hi - lo < 0.02
    assert ch.mem_share_paper(59) is None


def test_the_free_control_ratios_are_the_papers():
    assert ch.PAPER["free_t"][59] / ch.PAPER["t0"][59] == pytest.approx(5025 / 3675)
    assert ch.PAPER["free_t"][97] / ch.PAPER["t0"][97] == pytest.approx(2750 / 1775)


def test_new_tolerances_are_the_ones_fixed_with_the_policy():
    assert (ch.TOL["aic_count"], ch.TOL["mem_share"], ch.TOL["free_ratio"]) == (0.10, 0.20, 0.20)
    assert len(ch.tolerances()) == 10


# ---------------------------------------------------------------------------- the three laws
X = np.linspace(45.0, 65.0, 7)


def test_the_exponential_is_recovered_and_fits_best_on_exponential_data():
    rng = np.random.default_rng(0)
    y = 2.0 + 0.14 * X + rng.normal(0, 0.01, X.size)
    params, rss = ch.fit_exponential_law(X, y)
    assert params["alpha"] == pytest.approx(0.14, abs=0.005) and rss < 0.01
    aics = ch.law_fits(X, y)
    assert set(aics) == set(ch.LAWS) and ch.best_law(aics) == "exponential"
    # the power law with a far offset turns into the exponential: its fit is no worse, one parameter dearer
    assert aics["power law with offset"] == pytest.approx(aics["exponential"] + 2, abs=0.5)


def test_the_power_law_with_offset_is_recovered():
    y = 1.0 + 3.0 * np.log(X - 30.0)
    params, rss = ch.fit_power_offset(X, y)
    assert params["w0"] == pytest.approx(30.0, rel=1e-3) and params["beta"] == pytest.approx(3.0, rel=1e-3)
    assert rss < 1e-12 and params["w0"] < X.min()
    assert ch.best_law(ch.law_fits(X, y + np.random.default_rng(1).normal(0, 1e-3, X.size))) == \
        "power law with offset"


def test_the_saddle_node_is_recovered():
    y = 9.0 - 0.5 * np.log(70.0 - X)
    params, rss = ch.fit_saddle_node(X, y)
    assert params["w0"] == pytest.approx(70.0, rel=1e-4) and params["c"] == pytest.approx(9.0, abs=1e-3)
    assert rss < 1e-12 and params["w0"] > X.max()
    assert ch.best_law(ch.law_fits(X, y + np.random.default_rng(2).normal(0, 1e-3, X.size))) == "saddle-node"


def test_aic_and_too_few_levels():
    assert ch.aic(0.5, 5, 2) == pytest.approx(5 * math.log(0.1) + 4)
    assert ch.law_fits(X[:3], X[:3]) is None
    assert ch.law_fits([1.0, 2.0, np.nan, 3.0, 4.0], [1.0, 2.0, 3.0, np.nan, 5.0]) is None
    assert ch.best_law({"exponential": 1.0, "saddle-node": 1.0, "power law with offset": 3.0}) == "exponential"


# ---------------------------------------------------------------------------- T_mem's share
def _runs(tau, t_mem, t_grok):
    n = len(t_mem)
    return pd.DataFrame({"seed": range(n), "tau": tau, "t_mem": t_mem, "t_grok": t_grok,
                         "status": ["grokked"] * n, "final_step": [10_000] * n})


def test_mem_share_is_the_ratio_of_median_shifts_with_a_paired_ci():
    lo = _runs(1.0, [900, 880, 920, 900, 910], [1300, 1280, 1320, 1300, 1310])
    hi = _runs(1.7, [700, 680, 720, 700, 690], [1000, 980, 1020, 1000, 1010])
    share, medians = ch.mem_share(lo, hi)
    assert share.value == pytest.approx(200 / 300)
    assert share.lo <= share.value <= share.hi
    assert medians == {"t_mem": (900, 700), "t_grok": (1300, 1000)}
    assert ch.mem_share(lo.iloc[:1], hi.iloc[:1]) == (None, {})


# ---------------------------------------------------------------------------- policy helpers
def test_before_policy_reads_an_inconclusive_count_as_consistent():
    j = count(12, 12, 8, 8, atol=0.15)
    assert j.verdict == INCONCLUSIVE and ch.before_policy(j.as_dict()) == CONSISTENT
    close = compare(1.0, Estimate(1.1, 1.05, 1.15), tol=0.2)
    assert ch.before_policy(close.as_dict()) == CLOSE


def test_exact_seeds_of_a_count():
    # 8/8 ordered: the exact CI's lower end 0.025^(1/n) reaches 0.85 at n = 23
    assert ch.exact_seeds(1.0, 0.85, 1.15, 8) == math.ceil(math.log(0.025) / math.log(0.85))
    assert ch.exact_seeds(0.0, -0.15, 0.15, 4) == 23


# ---------------------------------------------------------------------------- the book preset, stored runs
@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The chapter at the book preset from the project's store (training off)."""
    P = ch.PARAMETERS.resolve("book", train=False, results_dir=str(tmp_path_factory.mktemp("results")))
    controls = ch.controls(P)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        controls.run(store=P.store, train=False, allow_missing=True, progress=False)
        wc = ch.critical_norms(controls)
        design = ch.design(P, wc)
        design.run(store=P.store, train=False, allow_missing=True, progress=False)
    if controls.missing or design.missing or not len(design.configs()):
        pytest.skip("the chapter's book runs are not all in the store")
    r = ch.analyse(P, controls, design, wc)
    V = ch.verdicts(P, r)
    ds = ch.diagnose(P, r, V)
    return P, r, V, ds


def _row(V, prefix):
    return next(row for row in V.rows if row.claim.startswith(prefix))


def test_the_book_runs_are_complete_so_auto_picks_the_book_preset(book):
    P, *_ = book
    assert ch.complete(P)


def test_every_row_that_needs_a_diagnosis_has_one(book):
    _, _, V, ds = book
    assert diagnoses.undiagnosed(V) == []
    assert {d.claim for d in ch.DIAGNOSES} <= {d.claim for d in ds}
    assert all(d.outcome for d in ds)
    assert "not computed" not in str(diagnoses.table(V, ds))
    for d in ds:  # every outcome names the rule (or the registration) that decided it
        assert any(word in d.outcome for word in ("R0", "R1", "R2", "not registered", "nothing to diagnose")), d


def test_every_headline_of_the_chapter_has_its_row_with_claimant_and_basis(book):
    _, _, V, _ = book
    heads = [h for h in claims.HEADLINES if h.chapter == ch.CHAPTER]
    assert len(heads) == 12
    for h in heads:
        row = _row(V, h.row)
        assert row.claimant == "paper 2" and row.basis == "text"


def test_the_new_rows_exist_and_are_judged(book):
    _, r, V, _ = book
    law = _row(V, "The exponential fits best")
    assert law.verdict != NO_DATA and law.judgement["paper"] == [1.0, 1.0]
    assert law.seeds_to_decide is None  # a count over moduli: seeds per cell cannot decide it
    assert set(r.laws) == set(ch.PARAMETERS.preset("book")["dose_moduli"])
    mem = _row(V, "Under MSE, τ moves T_mem")
    lo, hi = ch.mem_share_paper(97)
    assert mem.verdict != NO_DATA and mem.judgement["paper"] == pytest.approx([lo, hi])
    free = _row(V, "Free controls grok slower")
    assert [p["name"] for p in free.judgement["parts"]] == ["p = 59", "p = 97"]
    assert all(p["verdict"] != NO_DATA for p in free.judgement["parts"])


def test_the_policy_rows(book):
    _, _, V, _ = book
    r2 = _row(V, "ln T_grok collapses onto L")
    assert [p["paper"] for p in r2.judgement["parts"]] == [pytest.approx(list(paper_rounded("0.968"))),
                                                           pytest.approx(list(paper_rounded("0.973")))]
    prec = _row(V, "Precision: float32 and float64 agree")
    assert prec.basis == "text" and "not in its released data" in prec.ours
    assert prec.judgement["paper"] == pytest.approx([12155 / 12755, 12165 / 12745])
    dose = _row(V, "Dose law")
    assert dose.basis == "text" and dose.data_verdict and "0.174" in dose.data_paper
    for claim in ("Fork: delays ordered", "At ρ = 1.25"):
        row = _row(V, claim)
        if row.verdict == INCONCLUSIVE:
            assert row.seeds_to_decide and "too few seeds" in row.diagnosis and "moved the row from" in row.diagnosis


def test_the_registered_rows_say_r0_then_the_scale(book):
    _, _, V, _ = book
    for d in ch.DIAGNOSES:
        row = _row(V, d.claim)
        assert row.diagnosis.startswith("R0")
        if row.verdict not in (CONSISTENT, NO_DATA):
            assert "book's scale" in row.diagnosis
    assert "float64 arm is not released" in _row(V, "Precision").diagnosis or \
        _row(V, "Precision").verdict == CONSISTENT


def test_the_page_texts_say_the_preset_and_the_registration(book):
    P, r, _, _ = book
    t = ch.texts(P, r)
    assert t["registered"] == diagnoses.REGISTERED
    assert "book" in t["preset_how"]
    assert t["aic_best"].endswith(f"of {len(r.laws)}")
