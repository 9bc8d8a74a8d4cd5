"""Chapter 2 (the exponential pinned-norm law) under the verdict policy and its registered diagnoses:
preset "auto"'s store check, the rows the policy changed, the new coverage row, and a diagnosis for
every row that calls for one at the book preset, read from the project's run store (nothing trains)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from grokkit.analysis import cells
from grokkit.analysis.stats import Estimate
from grokkit.book import claims, diagnoses
from grokkit.book.chapters import pinned_norm_law as ch
from grokkit.book.verdicts import CLOSE, CONSISTENT, DIFFERS, INCONCLUSIVE, Verdicts, compare

STORE = ROOT / "data" / "runs"


# ---------------------------------------------------------------- the store checks
def test_complete_is_false_and_progress_counts_every_run_on_an_empty_store(store_dir):
    for preset in ("smoke", "book", "paper"):
        P = ch.PARAMETERS.resolve(preset, train=False, store=str(store_dir))
        assert ch.complete(P) is False
        have, want = ch.progress(P)
        assert have == 0 and want > len(ch.controls(P).configs())
    assert list(store_dir.iterdir()) == []  # nothing trained, nothing written


def test_the_deciding_experiment_is_the_paper_preset():
    P = ch.PARAMETERS.resolve("book", store="somewhere")
    P2 = ch.deciding(P)
    assert P2.preset == "paper" and P2.store == "somewhere"
    assert {k: getattr(P2, k) for k in ch.PRESETS["paper"]} == ch.PRESETS["paper"]
    smoke = ch.deciding(ch.PARAMETERS.resolve("smoke"))
    assert smoke.eval_schedule == ch.PRESETS["paper"]["eval_schedule"] and smoke.seeds == ch.PRESETS["smoke"]["seeds"]


# ---------------------------------------------------------------- the paper's released table
def test_the_papers_learning_rate_lever_is_computed_from_its_table():
    levers = ch.TAB1_LR_LEVERS
    assert min(levers.values()) == pytest.approx(1.65, abs=0.005)
    assert max(levers.values()) == pytest.approx(3.25, abs=0.005) and max(levers, key=levers.get) == 1.00
    assert ch.TAB1_LR_LEVER == pytest.approx(2.19, abs=0.005)
    assert ch.PAPER["lr_lever"] == (1.5, 2.5)  # "about 2×" as the interval of its rounding
    assert ch.PAPER["hold_vs_free_data"] == pytest.approx(0.79, abs=0.005)
    assert ch.PAPER["norm_lever"] == pytest.approx(18.71, abs=0.01)


# ---------------------------------------------------------------- the collapse on ‖W‖/√p
def _scan(rng: np.random.Generator, seeds: int = 6) -> pd.DataFrame:
    rows = []
    for q, wc in ((41, 49.5), (53, 52.5), (59, 54.7), (71, 58.7)):
        for rho in (0.85, 1.00, 1.15):
            for s in range(seeds):
                t = float(np.exp(7.5 * rho + 0.02 * q) * rng.lognormal(0, 0.1))
                rows.append(dict(p=q, rho=rho, seed=s, clamp_target=round(rho * wc, 4), t_grok=t, status="grokked",
                                 final_step=t, max_steps=200_000))
    return pd.DataFrame(rows)


def test_the_collapse_r2_on_rho_is_the_shared_fits_and_the_delta_has_a_bootstrap_ci():
    scan = _scan(np.random.default_rng(1))
    c = ch.collapse(scan)
    assert c.r2_rho == pytest.approx(cells.shared_slope_fit(scan, "rho", "p").r2, abs=1e-12)
    assert c.delta.value == pytest.approx(c.r2_norm - c.r2_rho)
    assert c.delta.lo <= c.delta.value <= c.delta.hi and c.n_cells == 12
    assert ch.collapse(scan[scan.p == 41]) is None  # one modulus: nothing to collapse


# ---------------------------------------------------------------- rule R1 on constructed rows
def _row(verdict_est: Estimate, paper: float = 0.70):
    V = Verdicts("x")
    V.add("The law bends", compare(paper, verdict_est, tol=0.10, fmt=".2f"), paper="0.70")
    return V.rows[0]


def test_rule_r1_names_scale_not_scale_or_no_decision():
    small = _row(Estimate(0.63, 0.625, 0.66))  # close
    assert small.verdict == CLOSE
    scale = ch._r1(small, _row(Estimate(0.69, 0.67, 0.72)), "book", "paper")
    assert scale.startswith("R1, scale:") and "consistent" in scale
    not_scale = ch._r1(_row(Estimate(0.60, 0.55, 0.66)), _row(Estimate(0.55, 0.54, 0.56)), "book", "paper")
    assert not_scale.startswith("R1, not scale:")
    still_close = ch._r1(small, _row(Estimate(0.64, 0.635, 0.645)), "book", "paper")
    assert still_close.startswith("R1 does not decide")


# ---------------------------------------------------------------- the book preset, from the store
def _from_store(preset: str):
    """The chapter's parameters and results at ``preset``, read from data/runs (skips when incomplete)."""
    P = ch.PARAMETERS.resolve(preset, train=False, store=str(STORE))
    if not ch.complete(P):
        pytest.skip(f"the {preset} preset's runs are not all in data/runs")
    return P, ch.analyse(P, *ch.from_store(P))


@pytest.fixture(scope="module")
def book():
    P, r = _from_store("book")
    V = ch.verdicts(P, r)
    ds = ch.diagnose(P, r, V)
    diagnoses.apply(V, ds)
    return P, r, V, ds


def _get(V, prefix):
    return next(row for row in V.rows if row.claim.startswith(prefix))


def test_every_row_that_needs_a_diagnosis_has_one_at_the_book_preset(book):
    P, r, V, ds = book
    assert diagnoses.undiagnosed(V) == []
    assert {d.claim for d in ch.DIAGNOSES} <= {d.claim for d in ds}
    for d in ds:
        assert d.outcome, d.claim
    for prefix in ("The law bends", "A one-shot rescale"):  # R1: pending until 2A is stored, or decided
        assert _get(V, prefix).diagnosis.startswith(("R1", "undecided")), _get(V, prefix).diagnosis
    for prefix in ("…the learning rate much less", "Exponent at each learning rate"):
        assert _get(V, prefix).diagnosis.startswith("R0, text against its released data")
    for row in V.rows:
        if row.verdict == INCONCLUSIVE:
            assert row.diagnosis.startswith("too few seeds") and row.seeds_to_decide, row.claim


def test_the_rows_the_policy_changed(book):
    P, r, V, ds = book
    assert all(row.claimant == "paper 1" for row in V.rows)
    lever = _get(V, "…the learning rate much less")
    assert lever.basis == "text" and lever.judgement["paper"] == pytest.approx([1.5, 2.5]) and lever.data_verdict
    assert "2.54 / 3.25 / 1.68 / 1.65" in lever.paper
    per_lr = _get(V, "Exponent at each learning rate")
    assert per_lr.basis == "text" and per_lr.data_verdict
    assert per_lr.judgement["parts"][0]["paper"] == pytest.approx([7.35, 7.45])
    hold = _get(V, "Held at ρ = 1 against free")
    assert hold.basis == "text" and hold.judgement["paper"] == [1.0, 1.0] and hold.data_verdict
    assert "0.79" in hold.data_paper
    per_p = _get(V, "Per-modulus exponents")
    assert [tuple(j["paper"]) for j in per_p.judgement["parts"]] == list(ch.PAPER["alpha_per_p_ci"].values())
    once = _get(V, "A one-shot rescale")
    parts = [j["paper"] for j in once.judgement["parts"]]
    assert parts == [pytest.approx([1.225, 1.235]), pytest.approx([7.275, 7.285])]


def test_the_new_coverage_row_exists_and_every_headline_of_the_chapter_has_its_row(book):
    P, r, V, ds = book
    row = _get(V, "ρ against ‖W‖/√p")
    assert row.basis == "released data" and row.judgement["kind"] == "at_least"
    assert row.judgement["allowed"] == ch.TOL["collapse"] == 0.005
    assert row.verdict in (CONSISTENT, CLOSE, INCONCLUSIVE, DIFFERS)
    assert math.isfinite(r.collapse.delta.value) and r.collapse.r2_rho == pytest.approx(r.shared.r2)
    for h in claims.HEADLINES:
        if h.chapter == ch.CHAPTER:
            assert any(v.claim.startswith(h.row) for v in V.rows), h.row


def test_with_the_deciding_runs_stored_rule_r1_is_computed_from_them(book, monkeypatch):
    P, r, V, ds = book
    # stand in the book preset (all stored) for 2A, which trains in the background: the R1 rows then
    # compare the book preset with itself, and R1 decides nothing (neither row is consistent there)
    monkeypatch.setattr(ch, "deciding", lambda _: P)
    V2 = ch.verdicts(P, r)
    outcomes = {d.claim: d.outcome for d in ch.diagnose(P, r, V2)}
    for prefix in ("The law bends", "A one-shot rescale"):
        assert outcomes[prefix].startswith("R1 does not decide") and "the book preset" in outcomes[prefix]


def test_the_runs_behind_an_r1_row_are_counted_with_their_calibration(store_dir):
    P2 = ch.PARAMETERS.resolve("paper", train=False, store=str(store_dir))
    rhos = len(set(P2.rhos) | {P2.rho_bend})
    assert ch.cells_stored(P2, ("dense",)) == (0, P2.seeds + P2.seeds * rhos)
    assert ch.cells_stored(P2, ("dense", "once")) == (0, P2.seeds + P2.seeds * (rhos + len(P2.once_rhos)))
    assert list(store_dir.iterdir()) == []  # nothing trained


def test_an_r1_row_is_judged_from_its_own_runs_before_the_rest_of_2a(book, monkeypatch):
    P, r, V, ds = book
    # the book preset stands in for 2A again; 2A counts as incomplete, the runs behind each row as stored
    monkeypatch.setattr(ch, "deciding", lambda _: P)
    monkeypatch.setattr(ch, "complete", lambda _: False)
    monkeypatch.setattr(ch, "progress", lambda _: (300, 700))
    monkeypatch.setattr(ch, "cells_stored", lambda P2, exps: (16 * len(exps), 16 * len(exps)))
    outcomes = {d.claim: d.outcome for d in ch.diagnose(P, r, ch.verdicts(P, r))}
    assert outcomes["The law bends"].startswith("R1 does not decide")
    assert "the dense ρ sweep at p = 59" in outcomes["The law bends"] and "300 of 2A's 700" in outcomes["The law bends"]
    assert "the one-shot rescales" in outcomes["A one-shot rescale"]
    monkeypatch.setattr(ch, "cells_stored", lambda P2, exps: (3, 16))
    outcomes = {d.claim: d.outcome for d in ch.diagnose(P, r, ch.verdicts(P, r))}
    assert outcomes["The law bends"].startswith("R1 (scale) undecided: 3 of the 16 runs behind this row")


# ---------------------------------------------------------------- experiment 2B (kernels off), registered later
def test_a_row_not_registered_gets_the_generic_diagnosis_without_2b():
    from grokkit.book import verdicts as vd
    V = vd.Verdicts("02_pinned_norm_law", "2. T", "paper")
    V.add("Held at ρ = 2 (an unregistered row)", vd.compare(1.0, Estimate(2.0, 1.9, 2.1), tol=0.1), paper="1", scale="s")
    plain = ch._generic(V.rows[0])
    assert plain.outcome.startswith("not registered") and "2B" not in plain.outcome


def test_2b_reads_its_own_store_beside_the_chapters():
    P = ch.PARAMETERS.resolve("paper", store="somewhere/runs")
    assert ch.store_2b(P).root.as_posix() == "somewhere/" + ch.STORE_2B


def _2b(alpha_off: float, have: int = 48) -> ch.KernelsOff:
    return ch.KernelsOff(have, 48, alpha_on=Estimate(9.18, 8.74, 9.48), alpha_off=Estimate(alpha_off, alpha_off - 0.3,
                                                                                         alpha_off + 0.3),
                         shared_on=Estimate(7.94, 7.76, 8.03), shared_off=Estimate(7.71, 7.54, 7.79))


@pytest.mark.parametrize("alpha_off, have, start", [
    (8.29, 48, "numerical path"),  # consistent with 7.92 kernels off, differs on
    (9.60, 48, "undecided between seeds or grid and genuine"),  # still differs kernels off
    (8.29, 47, None)])  # 2B incomplete: nothing claimed
def test_rule_2b_on_constructed_exponents(alpha_off, have, start):
    out = ch.outcome_2b(_2b(alpha_off, have), "Per-modulus exponents")
    assert "registered at commit dc52c2e, after the row moved" in out
    if start is None:
        assert "holds 47 of the 48 runs" in out and "no explanation is claimed" in out
    else:
        assert out.startswith(start + ":") or out.startswith(start + " (")
        assert "shared exponent" not in out
        assert "shared exponent is 7.71 [7.54, 7.79] kernels off, consistent" in ch.outcome_2b(
            _2b(alpha_off, have), "One exponent shared across moduli 41/53/59/71")


@pytest.fixture(scope="module")
def paper():
    return _from_store("paper")


def test_2b_decides_the_two_p41_rows_at_the_paper_preset(paper):
    P, r = paper
    k = ch.kernels_off(P, r)
    if not k.complete:
        pytest.skip("experiment 2B's runs are not all in data/runs-2b-kernels-off")
    assert k.have == k.want == len(P.scan_rhos) * P.seeds
    on, off = (k.cells[k.cells.path == x].set_index("rho") for x in ("kernels on", "kernels off"))
    assert (on.loc[[0.85, 1.00], "t_median"] == off.loc[[0.85, 1.00], "t_median"]).all()  # the fast cells agree
    assert off.loc[1.15, "t_median"] < 0.8 * on.loc[1.15, "t_median"]  # the slow cell moves back
    V = ch.verdicts(P, r)
    ds = {d.claim.split(" 41/")[0]: d for d in ch.diagnose(P, r, V)}
    for claim in ch.ROWS_2B:
        d = ds[claim]
        assert d.experiment == ch.EXPERIMENT_2B and d.rule == ch.RULE_2B
        assert d.outcome.startswith("numerical path: 2B (registered at commit dc52c2e"), d.outcome
    table = ch.kernels_off_table(k)
    assert list(table.columns) == ["ρ", "paper 1", "ours, kernels on", "ours, kernels off"] and len(table) == 4
    assert table.iloc[-1].tolist() == ["exponent α", "7.92 [7.06, 8.47]", ch.fmt_ci(k.alpha_on, ".2f"),
                                       ch.fmt_ci(k.alpha_off, ".2f")]
    assert ch.kernels_off_glue(k)["alpha_shared_off"] == ch.fmt_ci(k.shared_off, ".2f")


def test_2b_counts_its_missing_runs(paper, tmp_path):
    import shutil
    P, r = paper
    src = ch.store_2b(P).root
    if not src.is_dir():
        pytest.skip("no experiment 2B store")
    shutil.copytree(src, tmp_path / ch.STORE_2B)
    P_tmp = ch.PARAMETERS.resolve("paper", train=False, store=str(tmp_path / "runs"))
    first = next((tmp_path / ch.STORE_2B).glob("*/*.json"))
    first.unlink()
    k = ch.kernels_off(P_tmp, r)
    want = len(P.scan_rhos) * P.seeds
    assert (k.have, k.want, k.complete, k.cells) == (want - 1, want, False, None)
    glue = ch.kernels_off_glue(k)
    assert set(glue.values()) == {"not read (2B incomplete)"} and f"{want - 1} of the {want}" in ch.kernels_off_note(k)
