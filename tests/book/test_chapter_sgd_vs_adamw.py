"""Chapter 4 (SGD against AdamW) under the verdict policy and its registered diagnoses.

The store check behind ``preset = "auto"``, the deciding experiment 4A (the chapter's own cells,
only the budget and the post-grok steps changed), the verdict rows at the book preset read from
the project's run store (nothing trains), and each diagnosis's decision rule on constructed
readings at the matched step.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import pytest

from grokkit.analysis.stats import Estimate
from grokkit.book import claims, diagnoses
from grokkit.book.chapters import sgd_vs_adamw as ch
from grokkit.book.verdicts import CONSISTENT, DIFFERS, INCONCLUSIVE, NO_DATA, Judgement, before_policy
from grokkit.runs.store import RunStore

#: The config fields experiment 4A may change against the chapter's own cells.
CHANGED = {"max_steps", "extra_steps"}


def _fields(cfg) -> dict:
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}


def test_complete_asks_for_the_design_and_experiment_4a(tmp_path, monkeypatch):
    P = ch.PARAMETERS.resolve("smoke", store=str(tmp_path))
    asked: list[str] = []

    def missing(self, configs):
        asked.extend(c.key for c in configs)
        return []

    monkeypatch.setattr(RunStore, "missing", missing)
    assert ch.complete(P)
    want = {c.key for c in (ch.design(P) | ch.deciding_design(P)).configs()}
    assert set(asked) == want
    auto = ch.PARAMETERS.read({"preset": "auto", "store": str(tmp_path)}, complete=ch.complete)
    assert auto.preset == "paper" and "paper preset" in auto.auto


def test_preset_auto_falls_back_to_the_book_preset_on_an_empty_store(tmp_path):
    P = ch.PARAMETERS.read({"preset": "auto", "store": str(tmp_path / "none")}, complete=ch.complete)
    assert P.preset == "book" and P.auto.startswith('preset "auto"')


@pytest.mark.parametrize("preset", ["smoke", "book", "paper"])
def test_experiment_4a_is_the_chapters_cells_read_at_the_papers_steps(preset):
    P = ch.PARAMETERS.resolve(preset)
    own = {(c.seed, c.optimizer, c.weight_decay): c for c in ch.design(P).configs(["paper"])}
    deciding = ch.deciding_design(P).configs()
    assert len(deciding) == len(own) == P.seeds * (1 + len(P.sgd_decay_factors))
    for cfg in deciding:
        base = own[(cfg.seed, cfg.optimizer, cfg.weight_decay)]
        a, b = _fields(cfg), _fields(base)
        assert {k for k in a if a[k] != b[k]} <= CHANGED
        if cfg.optimizer == "sgd":
            assert (cfg.max_steps, cfg.extra_steps) == (P.sgd_long_budget, P.post_grok_steps)
        else:
            assert (cfg.max_steps, cfg.extra_steps) == (P.adamw_budget, P.adamw_post_grok)


def test_the_paper_preset_reads_where_the_paper_does():
    book, paper = ch.PARAMETERS.preset("book"), ch.PARAMETERS.preset("paper")
    for values in (book, paper):
        assert (values["sgd_long_budget"], values["adamw_post_grok"]) == (50_000, 3000)
    P = ch.PARAMETERS.resolve("paper")
    sgd = {c.key for c in ch.design(P).configs(["paper"]) if c.optimizer == "sgd"}
    assert sgd <= {c.key for c in ch.deciding_design(P).configs()}  # the store trains them once


# ---------------------------------------------------------------------------- the book preset, stored runs
@pytest.fixture(scope="module")
def book():
    """The chapter at the book preset from the project's store (training off)."""
    P = ch.PARAMETERS.resolve("book", train=False)
    design, deciding = ch.design(P), ch.deciding_design(P)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 4A's runs may not all be in the store yet
        for d in (design, deciding):
            d.run(store=P.store, train=False, allow_missing=True, progress=False)
    if design.missing:
        pytest.skip(f"{design.missing} of the chapter's book runs are not in the store")
    r = ch.analyse(P, design, deciding)
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


def test_every_headline_of_the_chapter_has_its_row_with_claimant_and_basis(book):
    _, _, V, _ = book
    heads = [h for h in claims.HEADLINES if h.chapter == ch.CHAPTER]
    assert len(heads) == 4
    for h in heads:
        row = _row(V, h.row)
        assert row.claimant == "paper 3" and row.basis == "text"


def test_the_counts_are_inconclusive_at_five_seeds_and_say_how_many_would_decide(book):
    _, _, V, _ = book
    for prefix in ("SGD with coupled L2", "AdamW groks"):
        row = _row(V, prefix)
        assert row.verdict == INCONCLUSIVE
        assert row.seeds_to_decide and row.seeds_to_decide > 5
        assert row.diagnosis.startswith("too few seeds: ") and f"about {row.seeds_to_decide} seeds" in row.diagnosis
        assert "it was consistent before the verdict policy" in row.diagnosis


def test_adamws_t_grok_is_judged_against_the_interval_of_the_papers_mean(book):
    _, _, V, _ = book
    parts = {p["name"]: p for p in _row(V, "AdamW groks").judgement["parts"]}
    lo, hi = parts["T_grok"]["paper"]
    half = 1.959964 * 150 / math.sqrt(5)
    assert (lo, hi) == pytest.approx((1760 - half, 1760 + half))


def test_the_v_final_rows_wait_for_the_matched_runs(book):
    P, r, V, ds = book
    sgd, adam = _row(V, "SGD's V collapses"), _row(V, "AdamW's V_final")
    if len(r.long_sgd) < r.want_sgd:
        assert sgd.verdict == NO_DATA and "the matched runs are not in the store yet" in sgd.reason
        assert sgd.diagnosis.startswith("undecided: ")
    else:
        assert sgd.verdict != NO_DATA and sgd.diagnosis.startswith("R0, the matched step")
        assert ch.texts(P, r)["sgd_steps"] == f"{P.sgd_long_budget:,}"  # the page quotes V where the paper reads it
    if len(r.adam_post) < r.want_adam:
        assert adam.verdict == NO_DATA
        assert adam.reason == ("ours is read at T_grok + 2,000; the paper's at T_grok + 3,000: the matched runs "
                               "are not in the store yet")
        assert adam.diagnosis.startswith("undecided: ") and "233 ± 35 over 5 seeds" in adam.diagnosis
    else:
        assert adam.verdict != NO_DATA and adam.diagnosis.startswith("R0, the matched step")



def test_the_norm_figure_draws_4as_runs_once_they_are_all_stored(book):
    P, r, V, ds = book
    assert r.decided == (len(r.long_sgd) >= r.want_sgd and len(r.adam_post) >= r.want_adam)
    drawn = set(r.fig_traj["key"])
    if r.decided:  # the SGD runs end where the paper reads V
        assert set(r.fig_runs["key"]) == set(r.decide["key"]) and drawn == set(r.decide["key"])
        assert r.fig_runs.loc[r.fig_runs["optimizer"] == "sgd", "final_step"].max() == P.sgd_long_budget
        assert ch.texts(P, r)["fig_norms_runs"].startswith("experiment 4A's runs")
    else:
        assert set(r.fig_runs["key"]) == set(r.paper["key"]) and drawn == set(r.paper["key"])
        assert ch.texts(P, r)["fig_norms_runs"].startswith("the design's runs")
    assert sum(int(mask.sum()) for mask, _, _ in r.arms) == len(r.fig_runs)  # every drawn run in one arm

# ---------------------------------------------------------------------------- the rules, on constructed readings
def _decided(book, **readings):
    P, r, _, _ = book
    r = dataclasses.replace(r, **readings)
    V = ch.verdicts(P, r)
    ds = {d.claim: d for d in ch.diagnose(P, r, V)}
    return V, ds


def test_adamws_v_at_the_matched_step_decides_condition_or_not(book):
    _, r, _, _ = book
    stand_in = r.adam.assign(status="grokked")  # five runs standing for 4A's
    V, ds = _decided(book, adam_post=stand_in, adam_post_v=Estimate(240.0, 228.0, 252.0))
    assert _row(V, "AdamW's V_final").verdict == CONSISTENT
    assert "condition: the matched step holds" in ds["AdamW's V_final"].outcome
    assert "against the point 233 it would be" in ds["AdamW's V_final"].outcome
    V, ds = _decided(book, adam_post=stand_in, adam_post_v=Estimate(400.0, 390.0, 410.0))
    assert _row(V, "AdamW's V_final").verdict == DIFFERS
    assert ds["AdamW's V_final"].outcome.startswith("R0, the matched step") and "not condition" in ds[
        "AdamW's V_final"].outcome


def test_sgds_v_at_the_matched_step_decides_condition_or_not(book):
    _, r, _, _ = book
    near = {f: Estimate(math.log10(v), math.log10(v) - 0.05, math.log10(v) + 0.05)
            for f, v in ch.PAPER["sgd_v"].items()}
    V, ds = _decided(book, long_sgd=r.sgd, long_log_v=near)
    assert _row(V, "SGD's V collapses").verdict == CONSISTENT
    assert "condition: the matched step holds" in ds["SGD's V collapses"].outcome
    far = {f: Estimate(e.value - 3, e.lo - 3, e.hi - 3) for f, e in near.items()}
    V, ds = _decided(book, long_sgd=r.sgd, long_log_v=far)
    assert _row(V, "SGD's V collapses").verdict == DIFFERS
    assert "not condition" in ds["SGD's V collapses"].outcome


def test_before_policy_reads_an_inconclusive_part_as_consistent(book):
    _, _, V, _ = book
    j = Judgement.from_dict(_row(V, "SGD with coupled L2").judgement)
    assert j.verdict == INCONCLUSIVE and before_policy(j) == CONSISTENT
