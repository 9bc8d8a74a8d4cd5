"""Chapter 6 (LayerNorm decoupling) under the verdict policy and its registered diagnoses.

The store check behind ``preset = "auto"``, the deciding experiments' designs (6A, 6B), the
registered rules computed in code (the censoring rule of the CV, 6B's flat / exponential
readings, the data slope of paper 3's λ sweep), and, on the project's own store at the book
preset, that the new rows exist and every row that calls for a diagnosis has one.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from grokkit.analysis.stats import Estimate
from grokkit.book import diagnoses
from grokkit.book import parameters as pm
from grokkit.book.chapters import layernorm as ch
from grokkit.book.verdicts import CLOSE, CONSISTENT, DIFFERS, NO_DATA, PARTLY, Verdicts, compare
from grokkit.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "data" / "runs"


# ---------------------------------------------------------------------------- presets and designs
def test_preset_auto_falls_back_to_book_on_an_empty_store(tmp_path):
    P = ch.PARAMETERS.read({"preset": "auto", "store": str(tmp_path)}, complete=ch.complete)
    assert P.preset == "book" and "book preset" in P.auto
    assert "auto" in P.how_chosen
    assert ch.PARAMETERS.resolve("smoke").how_chosen == 'preset "smoke", given by name'


@pytest.mark.parametrize("overrides, message", [
    (dict(decide_ln_seeds=[8]), "decide_ln_moduli, decide_ln_seeds: must have the same length"),
    (dict(decide_group_budgets=[10_000]), "decide_group_rhos, decide_group_budgets: must have the same length"),
    (dict(decide_group_budgets=[400, 20_000, 60_000]), "decide_group_budgets, t_int: every budget must exceed"),
])
def test_the_deciding_parameters_are_checked(overrides, message):
    with pytest.raises(pm.ParameterError, match=message):
        ch.PARAMETERS.resolve("book", **overrides)


def _controls(wc: dict[bool, dict[str, float]]) -> SimpleNamespace:
    return SimpleNamespace(mlp_group_wc=wc)


def test_deciding_design_6a_reuses_the_chapters_free_runs_and_6b_holds_each_group_at_its_own_norm():
    P = ch.PARAMETERS.resolve("book")
    wc = {False: {"features": 48.8, "unembed": 24.7}, True: {"features": 19.8, "unembed": 12.9}}
    d = ch.deciding_design(P, _controls(wc))
    a, b = d.experiments[ch.EXP_6A], d.experiments[ch.EXP_6B]
    assert len(a) == 8 * 4 + 4 * 4  # p = 53 with 8 seeds, p = 71 with 4, four fractions each
    free = {cfg.key for cfg, lab in ch.free_design(P).experiments["ln fractions"]}
    shared = [cfg for cfg, lab in a if cfg.key in free]
    assert len(shared) == 4 * 4 and {cfg.seed for cfg in shared} == {0, 1, 2, 3}  # the chapter's seeds 0-3 at p = 53
    assert {cfg.max_steps for cfg, _ in a} == {P.ln_budget} and {cfg.lr for cfg, _ in a} == {P.ln_lr}
    assert len(b) == P.mlp_seeds * 2 * 2 * 3
    for cfg, lab in b:
        assert cfg.clamp_group == lab["group"] and cfg.layernorm == lab["layernorm"]
        assert cfg.clamp_target == pytest.approx(lab["rho"] * wc[lab["layernorm"]][lab["group"]], abs=1e-4)
        assert cfg.max_steps == dict(zip(P.decide_group_rhos, P.decide_group_budgets))[lab["rho"]]
        assert cfg.clamp_start == P.t_int and cfg.lr == P.mlp_lr and cfg.p == P.mlp_p
    no_target = ch.deciding_design(P, _controls({False: wc[False], True: {"features": np.nan, "unembed": 12.9}}))
    assert not any(lab["layernorm"] and lab["group"] == "features" for _, lab in no_target.experiments[ch.EXP_6B])


def test_the_features_norm_falls_back_to_embed_and_hidden_where_it_was_not_recorded():
    runs = pd.DataFrame({"key": ["a", "b", "c"], "status": ["grokked"] * 3, "t_grok": [100.0, 100.0, 100.0]})
    traj = pd.DataFrame({"key": ["a", "b", "c"], "step": [100.0] * 3, "norm_embed": [3.0, 6.0, 3.0],
                         "norm_hidden": [4.0, 8.0, 4.0], "norm_unembed": [1.0, 2.0, 3.0],
                         "norm_features": [np.nan, np.nan, 7.0]})
    wc = ch.mlp_group_norms(runs, traj)
    assert wc["features"] == pytest.approx(7.0)  # median of 5 (fallback), 10 (fallback) and 7 (recorded)
    assert wc["unembed"] == pytest.approx(2.0)


# ---------------------------------------------------------------------------- registered rules
def test_the_censoring_rule_leaves_out_fractions_without_a_grokked_majority():
    rows = []
    for f, statuses, norms in [(0.25, ["grokked", "censored", "censored", "censored"], [30, 0, 0, 0]),
                               (0.30, ["grokked"] * 4, [10, 10.5, 11, 10]),
                               (0.40, ["grokked"] * 4, [12, 12, 12.5, 12]),
                               (0.55, ["grokked", "grokked", "censored", "grokked"], [11, 11, 0, 11.5])]:
        rows += [{"train_frac": f, "status": s, "norm_grok": n} for s, n in zip(statuses, norms)]
    df = pd.DataFrame(rows)
    est, left, n = ch.majority_cv(df)
    assert (left, n) == (1, 4) and ch.mostly_censored(df) == [0.25]
    meds = np.array([10.25, 12.0, 11.0])
    assert est.value == pytest.approx(np.std(meds, ddof=1) / meds.mean())


def _fit(value: float, lo: float, hi: float, r2: float) -> SimpleNamespace:
    return SimpleNamespace(alpha=Estimate(value, lo, hi), r2=r2)


def test_6b_reads_flat_and_exponential_by_the_registered_rules():
    assert ch.arm_class(_fit(0.3, -1.5, 1.9, 0.2)) == (True, False)  # CI within [-2, 2]
    assert ch.arm_class(_fit(7.0, 6.5, 7.5, 0.99)) == (False, True)  # CI excludes 0, R² >= 0.8
    assert ch.arm_class(_fit(7.0, 6.5, 7.5, 0.5)) == (False, False)  # R² too low
    assert ch.arm_class(_fit(1.0, 0.5, 1.5, 0.9)) == (True, True)  # a shallow exponent: both
    assert ch.arm_class(_fit(0.5, -3.0, 4.0, 0.9)) == (False, False)
    assert ch.arm_class(None) == (False, False)
    assert ch.arm_word(_fit(0.5, -3.0, 4.0, 0.9)) == "neither flat nor exponential"


def _6b(fits: dict, complete: bool = True) -> SimpleNamespace:
    return SimpleNamespace(complete_b=complete, group_fits=fits, want_b=48,
                           decide_b=pd.DataFrame(index=range(48 if complete else 5)))


def test_6b_row_holds_when_features_are_flat_and_the_unembedding_exponential():
    flat, expo = _fit(0.1, -0.8, 0.9, 0.1), _fit(7.0, 6.5, 7.5, 0.99)
    assert ch.group_clamp_judgement(_6b({(True, "features"): flat, (True, "unembed"): expo})).verdict == CONSISTENT
    assert ch.group_clamp_judgement(_6b({(True, "features"): expo, (True, "unembed"): expo})).verdict == PARTLY
    assert ch.group_clamp_judgement(_6b({(True, "features"): _fit(1.0, 0.5, 1.5, 1.0),
                                         (True, "unembed"): expo})).verdict == CLOSE
    assert ch.group_clamp_judgement(_6b({(True, "features"): expo, (True, "unembed"): flat})).verdict == DIFFERS
    pending = ch.group_clamp_judgement(_6b({}, complete=False))
    assert pending.verdict == NO_DATA and "5 of its 48 runs" in pending.reason


def test_paper3s_own_lambda_data_give_a_slope_of_about_minus_0_79():
    assert ch.PAPER3_K_DATA == pytest.approx(-0.79, abs=0.01)


# ---------------------------------------------------------------------------- the book preset, real store
def _other_chapters(results: Path) -> None:
    """Chapters 2 and 3's estimates this chapter reads, as their verdict JSON gives them."""
    v2 = Verdicts("02_pinned_norm_law")
    v2.add("ln T_grok linear in ρ at p = 59", compare(7.8, Estimate(7.77, 7.61, 7.90), tol=0.1), paper="")
    v2.write(results)
    v3 = Verdicts("03_free_contraction_law")
    v3.add("The escape time ln(V_mem/V_post)/(2ηλ) over the delay",
           compare(1.25, Estimate(1.30, 1.23, 1.38), tol=0.15), paper="")
    v3.write(results)


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The chapter at the book preset from the project's store (nothing trains)."""
    results = tmp_path_factory.mktemp("results")
    _other_chapters(results)
    P = ch.PARAMETERS.resolve("book", train=False, store=str(STORE), results_dir=str(results))
    free = ch.free_design(P)
    if not STORE.is_dir() or RunStore(P.store).missing(free.configs()):
        pytest.skip("the book preset's free runs are not in data/runs")
    free.run(store=P.store, train=False, progress=False)
    c = ch.controls(P, free)
    design, deciding = ch.clamp_design(P, c), ch.deciding_design(P, c)
    with warnings.catch_warnings():  # the deciding runs not yet in the store are left out, with a warning
        warnings.simplefilter("ignore", UserWarning)
        design.run(store=P.store, train=False, allow_missing=True, progress=False)
        deciding.run(store=P.store, train=False, allow_missing=True, progress=False)
    r = ch.analyse(P, c, design, deciding)
    V = ch.verdicts(P, r)
    ds = ch.diagnose(P, r, V)
    return P, r, V, ds


def test_every_row_that_needs_a_diagnosis_has_one_at_the_book_preset(book):
    P, r, V, ds = book
    assert diagnoses.undiagnosed(V) == []
    for row in V.rows:
        if row.verdict in diagnoses.NEEDS_DIAGNOSIS:
            assert row.diagnosis and not row.diagnosis.startswith("unregistered"), row.claim
    cv = next(row for row in V.rows if row.claim.startswith(ch.CLAIM_CV))
    assert cv.diagnosis.startswith("6A") or cv.diagnosis.startswith("undecided")
    for row in V.rows:
        if row.verdict == "inconclusive" and not row.claim.startswith(ch.CLAIM_6B):
            assert row.diagnosis.startswith("too few seeds") and row.seeds_to_decide, row.claim
    for claim in (ch.CLAIM_ESC, ch.CLAIM_PEAK, ch.CLAIM_W):
        row = next(row for row in V.rows if row.claim.startswith(claim))
        assert row.diagnosis.startswith("6C"), row.diagnosis
        assert row.diagnosis.endswith(("definition of V", "does not carry over to this MLP"))


def test_the_new_rows_exist_and_the_hypothesis_row_is_replaced(book):
    P, r, V, ds = book
    claims = [row.claim for row in V.rows]
    assert not any(c.startswith("A LayerNorm before the MLP's unembedding removes") for c in claims)
    b6 = next(row for row in V.rows if row.claim == ch.CLAIM_6B)
    assert b6.claimant == ch.OURS and "control" in b6.ours
    w = next(row for row in V.rows if row.claim == ch.CLAIM_W)
    assert w.claimant == ch.OURS and w.verdict != NO_DATA
    k = next(row for row in V.rows if row.claim.startswith("Paper 3's law without LayerNorm"))
    assert k.claimant == "paper 3" and k.basis == "theory" and k.data_verdict and "-0.79" in k.data_reason
    assert {row.claimant for row in V.rows} <= {"paper 1", "paper 3", ch.OURS}
    cv = next(row for row in V.rows if row.claim.startswith(ch.CLAIM_CV))
    left, n = r.cv_left[r.q0]
    assert (f"{left} of {n} fractions left out: mostly censored" in cv.ours) == bool(left)
    # every registered diagnosis of the chapter has its row, and the table shows them
    assert all(any(c.startswith(d.claim) for c in claims) for d in ch.DIAGNOSES)
    assert "6C, V over the weight matrices only" in str(diagnoses.table(V, ds))


def test_the_cv_diagnosis_says_when_ours_moves_with_the_modulus():
    est = lambda v, lo, hi: Estimate(v, lo, hi)  # noqa: E731
    apart = {53: {"all": est(0.056, 0.021, 0.131)}, 71: {"all": est(0.214, 0.177, 0.266)}}
    clause = ch._across_moduli(apart, "0.15–0.17")
    assert "moves with the modulus" in clause and "0.056 at p = 53, 0.214 at p = 71" in clause
    overlapping = {53: {"all": est(0.08, 0.02, 0.19)}, 71: {"all": est(0.21, 0.17, 0.27)}}
    assert ch._across_moduli(overlapping, "0.15–0.17") == ""
    assert ch._across_moduli({53: apart[53]}, "0.15–0.17") == ""
