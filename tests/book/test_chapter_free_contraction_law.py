"""Chapter 3 (the logarithmic free-contraction law) under the verdict policy and its registered diagnoses.

The store check behind ``preset = "auto"``; the deciding experiments 3A and 3B, whose book-preset
runs must be exactly the ones registered (the same store keys as the runs training in the
background); the paper's figures read as the policy reads them (intervals of its uncertainty, the
values matched to our condition); the verdict rows and diagnoses at the book preset read from the
project's run store (nothing trains); and each decision rule on constructed readings.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from grokkit.analysis.stats import Estimate
from grokkit.book import claims, diagnoses
from grokkit.book.chapters import free_contraction_law as ch
from grokkit.book.verdicts import CLOSE, CONSISTENT, INCONCLUSIVE, NO_DATA
from grokkit.engine.protocols import paper3
from grokkit.runs.store import RunStore

#: The book's widths and grid, as the background training builds the deciding runs.
_PROTOCOL = dict(extra_steps=2000, eval_schedule="every:200", trace_every=10, d_embed=128, d_hidden=512, n_heads=4)


def _experiment_3a():
    return [paper3(p=97, seed=s, lr=1e-3, weight_decay=wd, max_steps=(50_000 if wd == 1.0 else 80_000), **_PROTOCOL)
            for wd in (0.1, 0.3, 0.5, 1.0, 2.0) for s in range(10)]


def _experiment_3b():
    return [paper3(p=q, seed=s, lr=1e-3, weight_decay=1.0, max_steps=50_000, task=task, **_PROTOCOL)
            for task in ("mul", "mul_nonzero") for q in (53, 67, 89, 97) for s in range(5)]


# ---------------------------------------------------------------------------- preset "auto"
def test_complete_asks_for_the_design_and_the_deciding_experiments(tmp_path, monkeypatch):
    P = ch.PARAMETERS.resolve("smoke", store=str(tmp_path))
    asked: list[str] = []

    def missing(self, configs):
        asked.extend(c.key for c in configs)
        return []

    monkeypatch.setattr(RunStore, "missing", missing)
    assert ch.complete(P)
    assert set(asked) == {c.key for c in (ch.design(P) | ch.deciding_design(P)).configs()}
    auto = ch.PARAMETERS.read({"preset": "auto", "store": str(tmp_path)}, complete=ch.complete)
    assert auto.preset == "paper" and "paper preset" in auto.auto


def test_preset_auto_falls_back_to_the_book_preset_on_an_empty_store(tmp_path):
    P = ch.PARAMETERS.read({"preset": "auto", "store": str(tmp_path / "none")}, complete=ch.complete)
    assert P.preset == "book" and P.auto.startswith('preset "auto"')
    assert ch.texts(P, _empty_results(P))["preset_how"] == P.auto


def _empty_results(P):
    d = ch.design(P)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        d.run(store=P.store, train=False, allow_missing=True, progress=False)
    return ch.analyse(P, d, RunStore(P.store))


# ---------------------------------------------------------------------------- the deciding experiments
@pytest.mark.parametrize("preset", ["book", "paper"])
def test_the_deciding_runs_are_exactly_the_registered_ones(preset):
    d = ch.deciding_design(ch.PARAMETERS.resolve(preset))
    assert [c.key for c in d.configs([ch.DECIDE_LAMBDA])] == [c.key for c in _experiment_3a()]
    assert [c.key for c in d.configs([ch.DECIDE_MUL])] == [c.key for c in _experiment_3b()]
    labels = {(lab["p"], lab["variant"]) for _, lab in d.experiments[ch.DECIDE_MUL]}
    assert labels == {(q, v) for q in (53, 67, 89, 97) for v in ("as now", "nonzero")}


def test_the_deciding_runs_share_the_chapters_own_cells():
    P = ch.PARAMETERS.resolve("book")
    own = {c.key for c in ch.design(P).configs()}
    decide = ch.deciding_design(P)
    shared_3a = {c.key for c in decide.configs([ch.DECIDE_LAMBDA])} & own
    assert shared_3a == {c.key for c in ch.design(P).configs(["main"]) if c.seed < 10}  # λ = 1: the main cell
    mul = {c.key for c in ch.design(P).configs(["multiplication"])}
    assert mul <= {c.key for c in decide.configs([ch.DECIDE_MUL])}  # (i) as now: the chapter's runs and a 5th seed


def test_the_smoke_preset_decides_on_a_tiny_version():
    P = ch.PARAMETERS.resolve("smoke")
    d = ch.deciding_design(P)
    lam, mul = d.configs([ch.DECIDE_LAMBDA]), d.configs([ch.DECIDE_MUL])
    assert len({c.weight_decay for c in lam}) == 2 and {c.seed for c in lam} == {0, 1}
    assert {c.p for c in mul} == {P.mul_moduli[0]} and {c.task for c in mul} == {"mul", "mul_nonzero"}
    assert {c.d_embed for c in lam + mul} == {P.d_embed} and len(mul) == 4


# ---------------------------------------------------------------------------- the paper's figures under the policy
def test_the_papers_uncertainty_is_read_as_the_policy_says():
    half = lambda sd, n: 1.959964 * sd / math.sqrt(n)  # noqa: E731
    assert ch.INTERVALS["gamma"] == pytest.approx((0.00141 - half(0.00007, 10), 0.00141 + half(0.00007, 10)))
    assert ch.INTERVALS["r2"] == pytest.approx((0.9991 - half(0.0003, 10), 0.9991 + half(0.0003, 10)))
    assert ch.INTERVALS["t_grok"] == pytest.approx((1840 - half(215, 10), 1840 + half(215, 10)))
    assert ch.INTERVALS["delay"] == pytest.approx((1000 - half(186, 10), 1000 + half(186, 10)))
    assert (ch.INTERVALS["t_mem"], ch.INTERVALS["v_mem"], ch.INTERVALS["v_post"]) == (
        (839.5, 840.5), (3899.5, 3900.5), (299.5, 300.5))
    assert ch.INTERVALS["lam_slope"] == (1082, 1271) and ch.INTERVALS["mae"] == (30.0, 39.4)
    assert ch.INTERVALS["mod_slope"] == pytest.approx((0.93, 1.23))
    assert ch.INTERVALS["mul_ratio"] == (2.5, 3.5) and ch.INTERVALS["t_tilde_cv"] == pytest.approx((0.175, 0.185))
    assert ch.INTERVALS["log_ratio"][0.3] == pytest.approx((2.365, 2.375))


def test_the_lambda_ratio_is_matched_to_the_200_step_grid():
    ratio = 12700 / 1840
    half = ratio * math.sqrt((1229 / 12700) ** 2 / 10 + (215 / 1840) ** 2 / 10) * 1.96
    assert ch.MATCHED_LAMBDA_RATIO == pytest.approx(ratio)
    assert ch.INTERVALS["lam_ratio"] == pytest.approx((ratio - half, ratio + half))
    book = ch.PARAMETERS.resolve("book")
    assert ch.lambda_ratio_judgement(book, Estimate(6.9, 6.5, 7.3)).verdict == CONSISTENT
    assert ch.lambda_ratio_judgement(book, Estimate(6.9, 6.5, 7.3), matched=False).paper == (12700 / 2100,) * 2
    assert ch.lambda_ratio_judgement(ch.PARAMETERS.resolve("book", eval_schedule="every:100"),
                                     Estimate(6.9, 6.5, 7.3)).verdict == NO_DATA


def test_the_eta_slope_is_matched_to_our_range_of_eta():
    value, (lo, hi) = ch.matched_eta_slope([2e-3, 1e-3, 5e-4, 2e-4])
    assert value == pytest.approx(8088.2, abs=0.1)  # the OLS slope through the paper's four means
    x, y = 1e-3 / np.array([2e-3, 1e-3, 5e-4, 2e-4]), np.array([840, 1760, 5280, 35680.0])
    sd = np.array([80, 150, 2010, 10189.0]) / math.sqrt(5)
    slopes = np.polyfit(x, np.random.default_rng(0).normal(y, sd, size=(2000, 4)).T, 1)[0]
    assert (lo, hi) == pytest.approx(tuple(np.quantile(slopes, [0.025, 0.975])))
    assert lo < value < hi
    assert ch.matched_eta_slope([2e-3, 1e-3, 5e-4, 2e-4, 1e-4]) == (10.62e3, (10.62e3, 10.62e3))
    assert ch.matched_eta_slope([1e-2]) is None


def test_the_multiplication_figures_of_s9_are_computed():
    assert ch.PAPER["mul_t_mem"] == {53: 200, 67: 400, 89: 600, 97: 600}  # T_grok − delay
    assert ch.PAPER["mul_v_mem"] == {53: 10431, 67: 9337, 89: 8859, 97: 9622}


# ---------------------------------------------------------------------------- the book preset, stored runs
@pytest.fixture(scope="module")
def book():
    """The chapter at the book preset from the project's store (training off)."""
    P = ch.PARAMETERS.resolve("book", train=False)
    design, deciding = ch.design(P), ch.deciding_design(P)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 3A's and 3B's runs may not all be in the store yet
        for d in (design, deciding):
            d.run(store=P.store, train=False, allow_missing=True, progress=False)
    if design.missing:
        pytest.skip(f"{design.missing} of the chapter's book runs are not in the store")
    r = ch.analyse(P, design, RunStore(P.store), deciding)
    V = ch.verdicts(P, r)
    ds = ch.diagnose(P, r, V)
    return P, r, V, ds


def _row(V, prefix):
    return next(row for row in V.rows if row.claim.startswith(prefix))


def test_every_row_that_needs_a_diagnosis_has_one(book):
    _, _, V, ds = book
    assert diagnoses.undiagnosed(V) == []
    assert {d.claim for d in ch.DIAGNOSES} <= {d.claim for d in ds}
    assert all(d.outcome for d in ds)
    assert "not computed" not in str(diagnoses.table(V, ds))
    for row in V.rows:
        if row.verdict == INCONCLUSIVE and not any(row.claim.startswith(d.claim) for d in ch.DIAGNOSES):
            assert row.diagnosis.startswith("too few seeds: ") and f"about {row.seeds_to_decide} seeds" in row.diagnosis


def test_the_page_runs_the_deciding_experiments_where_it_shows_them(book):
    P, r, V, _ = book
    plain = ch.analyse(P, _stored(P), RunStore(P.store))
    assert plain.dl_want == r.dl_want == 50 and plain.dm_want == r.dm_want == 40 and not len(plain.dl)
    again = ch.with_deciding(P, plain, _stored(P, deciding=True), RunStore(P.store))
    assert len(again.dl) == len(r.dl) and len(again.dm) == len(r.dm)
    assert [d.outcome for d in ch.diagnose(P, again, ch.verdicts(P, again))] == [d.outcome for d in book[3]]


def _stored(P, deciding=False):
    d = ch.deciding_design(P) if deciding else ch.design(P)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        d.run(store=P.store, train=False, allow_missing=True, progress=False)
    return d


def test_every_headline_of_the_chapter_has_its_row(book):
    _, _, V, _ = book
    heads = [h for h in claims.HEADLINES if h.chapter == ch.CHAPTER]
    for h in heads:
        row = _row(V, h.row)
        assert row.claimant == "paper 3" and row.basis == "text"
    for prefix in ("ln(V_mem/V_post) per λ", "The norm-adjusted delay T̃ is nearly constant across λ: CV",
                   "The grokking check V_mem > 2·V̂_post holds on the runs that grok",
                   "Predictor at memorization (rate from 100 steps after train accuracy 0.995): "):
        assert _row(V, prefix).verdict != NO_DATA


def test_the_predictor_is_judged_with_the_papers_window_and_ours_is_our_own(book):
    P, r, V, ds = book
    paper, ours = _row(V, "Predictor at memorization (rate from 100 steps"), _row(
        V, "Predictor at memorization (rate from the first 300 steps after T_mem)")
    assert paper.claimant == "paper 3" and ours.claimant == "ours (chapter 3)"
    mae = dict((p["name"], p) for p in paper.judgement["parts"])["MAE"]
    assert tuple(mae["paper"]) == (30.0, 39.4)
    assert r.predictors["paper window"].v_post == r.predictors["window"].v_post  # calibration seeds only
    assert set(r.evals["seed_role"]) == {"evaluation"} and set(r.calib["seed_role"]) == {"calibration"}
    assert (r.qm["t_995"] >= r.qm["t_mem"]).all()
    assert paper.diagnosis.startswith("3C, the paper's window") and paper.diagnosis == ours.diagnosis


def test_text_and_released_data_are_both_judged(book):
    _, _, V, _ = book
    for prefix, text, data in (("The delay follows ln(V_mem/V_post) across moduli", (0.91, 0.91), (0.836, 0.836)),
                               ("…with slope about 1", (0.93, 1.23), (2.03, 2.03))):
        row = _row(V, prefix)
        assert row.basis == "text" and row.data_verdict and row.data_paper
        assert tuple(row.judgement["paper"]) == pytest.approx(text)
        assert row.diagnosis.startswith("R0, text against its released data")


def test_the_lambda_2_part_waits_for_the_papers_budget(book):
    _, _, V, _ = book
    parts = {p["name"]: p for p in _row(V, "Which λ grok").judgement["parts"]}
    assert parts["λ = 2"]["verdict"] == NO_DATA
    assert parts["λ = 2"]["reason"] == "budget 50,000 < the paper's 80,000: the check could not fail"


def test_the_rows_the_policy_moved_say_from_what(book):
    _, _, V, _ = book
    gamma = _row(V, "V contracts geometrically")
    assert gamma.verdict == CONSISTENT and "against the point 0.00141 it would be close" in gamma.diagnosis
    slope = _row(V, "T_grok ∝ 1/λ")
    assert "against the point 1182" in slope.diagnosis
    ratio = _row(V, "…but only approximately")
    assert ratio.diagnosis.startswith("R0, the matched grid") and "6.9×" in ratio.diagnosis


def test_pending_deciding_runs_are_said(book):
    _, r, V, _ = book
    assert r.dl_law_want + r.dl_above_want == r.dl_want and r.dl_above_want == 10  # λ = 2: 10 seeds
    if len(r.dl_law) < r.dl_law_want:  # the two rows wait only for the runs they read (λ ∈ [0.1, 1])
        assert _row(V, "T_grok ∝ 1/λ").diagnosis.startswith(
            f"undecided: {len(r.dl_law)} of the {r.dl_law_want} runs of 3A over λ ∈ [0.1, 1]")
    else:
        assert r.dl_slope is not None and "(3A) the slope is" in _row(V, "T_grok ∝ 1/λ").diagnosis
    if len(r.dm) < r.dm_want:
        assert _row(V, "Multiplication groks").diagnosis.startswith(f"undecided: {len(r.dm)} of the {r.dm_want} ")


# ---------------------------------------------------------------------------- the rules, on constructed readings
def _decided(book, **readings):
    P, r, _, _ = book
    r = dataclasses.replace(r, **readings)
    V = ch.verdicts(P, r)
    return V, {d.claim: d.outcome for d in ch.diagnose(P, r, V)}


def _stand_in(n, **columns):
    return pd.DataFrame({"key": [f"k{i}" for i in range(n)], **columns})


def test_3a_decides_scale_or_genuine(book):
    _, r, _, _ = book
    full, holds, narrow = _stand_in(r.dl_want), Estimate(1200.0, 1150.0, 1250.0), Estimate(1500.0, 1450.0, 1550.0)
    far = Estimate(1600.0, 1550.0, 1650.0)  # beyond the 15 % of the paper's CI: differs at the book's scale
    full = _stand_in(r.dl_law_want)
    V, ds = _decided(book, dl_law=full, dl_slope=holds, lam_slope=far)
    assert _row(V, "T_grok ∝ 1/λ").verdict == "differs" and ds["T_grok ∝ 1/λ"].endswith(": scale (R1)")
    _, ds = _decided(book, dl_law=full, dl_slope=narrow)
    assert ds["T_grok ∝ 1/λ"].endswith(": genuine (R1, not scale): our delays grow faster than 1/λ toward small λ")
    _, ds = _decided(book, dl_law=full, dl_slope=holds)  # the book's row holds already (R0, the paper's CI)
    assert ds["T_grok ∝ 1/λ"].endswith("so not scale (R1)")
    _, ds = _decided(book, dl_law=full, dl_slope=Estimate(1500.0, 1000.0, 2000.0))
    assert "undecided (R1)" in ds["T_grok ∝ 1/λ"]


def test_3as_lambda_2_cell_judges_the_count_row_at_the_papers_budget(book):
    P, r, _, _ = book
    which = ch.CLAIM_WHICH
    assert P.decide_lambda_budget == ch.PAPER["lam_budget"] and 2.0 in P.decide_lambdas
    cell = lambda status: _stand_in(len(status), status=status, weight_decay=[2.0] * len(status))  # noqa: E731
    _, ds = _decided(book, dl_above=cell(["censored"] * 4))
    assert "; 3A at 80,000 steps: λ = 2: undecided: 4 of the 10 runs of those cells are in " in ds[which]
    _, ds = _decided(book, dl_above=cell(["grokked"] * 3 + ["censored"] * 7))
    assert "; 3A at 80,000 steps: λ = 2: 3/10 grok against the paper's 3/10, " in ds[which]
    _, ds = _decided(book, dl_above=cell(["censored"] * 10))
    assert "λ = 2: 0/10 grok against the paper's 3/10" in ds[which]
    _, ds = _decided(book, dl_above_want=0)
    assert "3A at" not in ds[which]
    short = ch.PARAMETERS.resolve("book", train=False, decide_lambda_budget=50_000)
    assert ch._lambda_above(short, r) == ("; 3A at 50,000 steps: below the paper's 80,000, so its λ > 1 cannot "
                                          "test the count")


def test_3b_decides_protocol_scale_or_genuine(book):
    _, r, _, _ = book
    n = r.dm_want
    full = _stand_in(n, p=[53, 67, 89, 97] * (n // 4), variant=(["as now"] * (n // 2) + ["nonzero"] * (n // 2)),
                     grokked=[True] * n, t_grok=[4000.0] * n, t_mem=[400.0] * n, v_mem=[9000.0] * n)
    near, far = Estimate(3.0, 2.8, 3.2), Estimate(0.9, 0.8, 1.0)
    cases = {("far", "near"): "protocol (residue 0)", ("near", "far"): "scale", ("far", "far"): "genuine"}
    for (i, ii), word in cases.items():
        ratios = {"as now": near if i == "near" else far, "nonzero": near if ii == "near" else far}
        _, ds = _decided(book, dm=full, dm_ratio=ratios)
        outcome = ds["Multiplication groks"]
        assert outcome.startswith("3B: per p = 53 / 67 / 89 / 97 (as now, means): T_grok 4,000 / 4,000")
        assert f": {word}" in outcome and "against 4480 / 4440 / 4040 / 3920" in outcome


def test_3c_decides_the_window(book):
    _, r, _, _ = book
    good = dataclasses.replace(r.errors["paper window"], mae=Estimate(33.0, 30.0, 36.0), over=r.errors["window"].n,
                               within_2x=r.errors["window"].n)
    V, ds = _decided(book, errors={**r.errors, "paper window": good})
    assert _row(V, "Predictor at memorization (rate from 100 steps").verdict in (CONSISTENT, CLOSE)
    if _row(V, "Predictor at memorization (rate from the first").verdict not in (CONSISTENT, CLOSE):
        assert ds["Predictor at memorization (rate from 100 steps"].endswith(": definition of the window")
    bad = dataclasses.replace(good, mae=Estimate(90.0, 80.0, 100.0))
    _, ds = _decided(book, errors={**r.errors, "paper window": bad})
    assert ": not the definition of the window" in ds["Predictor at memorization (rate from 100 steps"]
