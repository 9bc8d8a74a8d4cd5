"""Chapter 7 (the three laws together): the implementation of its registration (commit d8cece4).

The registered constants are read, never changed; the presets are the registration's values; the
designs ask for the registered runs; the rules are computed as registered (rule 1P exact on its own
calibration, C4's continuation and late-censoring, C6's paired bootstrap within strata, C7's
categories, C8's clamp start, X1's families and window); with no runs every row is "no data" with a
reason; and, on the project's own store at the book preset, every registered row is there with its
claimant and basis, §1-§3 are scored and the new designs' rows wait for their runs.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from grokkit.analysis.stats import Estimate
from grokkit.book import claims, diagnoses
from grokkit.book.chapters import three_laws as ch
from grokkit.book.verdicts import CONSISTENT, DIFFERS, INCONCLUSIVE, NO_DATA, PARTLY
from grokkit.runs.design import held_norm

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "data" / "runs"


# ---------------------------------------------------------------------------- the registration, untouched
def test_the_registration_is_the_committed_one():
    assert ch.REGISTERED == "d8cece4" and ch.REGISTRATION_DOC == "docs/chapter7-registration.md"
    assert [p.id for p in ch.PREDICTIONS][:4] == ["1a", "1b", "1c-progress", "1c-threshold"]
    assert len(ch.PREDICTIONS) == 33 and len({p.id for p in ch.PREDICTIONS}) == 33
    assert ch.TOL["male"] == 0.10 and ch.TOL["bias"] == pytest.approx(math.log(1.25))
    assert ch.BOOTSTRAP == dict(resamples=2000, seed=0, ci=0.95, method="percentile", rng="numpy.random.default_rng")
    for p in ch.PREDICTIONS:  # calibration and evaluation disjoint, unless the set rotates
        rotating = {s for s in (*p.calibration, *p.evaluation) if ch.RUN_SETS[s].role == "rotating"}
        assert not (set(p.calibration) & set(p.evaluation)) - rotating, p.id


def test_the_presets_are_the_registered_values():
    book, paper, smoke = (ch.PARAMETERS.preset(n) for n in ("book", "paper", "smoke"))
    assert (book["enc_seeds"], book["enc_head_seeds"], book["enc_head_rhos"], book["enc_cap"]) == (6, 4, [0.85, 1.3],
                                                                                                     40_000)
    assert list(zip(book["muon_lrs"], book["muon_wds"])) == [(0.01, 0.1), (0.02, 0.05), (0.005, 0.2)]
    assert all(math.isclose(lr * wd, 1e-3) for lr, wd in zip(book["muon_lrs"], book["muon_wds"]))  # eta lambda
    assert (book["muon_momentum"], book["muon_free_budget"], book["muon_floor"], book["muon_cap"]) == (0.95, 40_000,
                                                                                                       8000, 80_000)
    assert list(zip(book["sgd_lrs"], book["sgd_wds"], book["sgd_momenta"])) == [(0.3, 1e-4, 0.9)]
    assert list(zip(paper["sgd_lrs"], paper["sgd_wds"], paper["sgd_momenta"])) == [(0.3, 1e-4, 0.9), (0.3, 1e-3, 0.0)]
    assert (book["par_free_m"], book["par_bridge_m"], book["par_t_int"], book["par_budget"]) == (
        [600, 1000, 1500], [5000, 25000], 1000, 50_000)
    assert (paper["par_seeds"], paper["par_ns"], paper["muon_eval"]) == (16, [30, 20, 40], "log:360")
    assert (smoke["enc_own_control"], smoke["enc_t_int"], smoke["muon_t_int"], smoke["sgd_t_int"]) == (True, 200, 100,
                                                                                                        200)


# ---------------------------------------------------------------------------- the designs
def _control(wc: float, t_int: int, t_free: float, wc_head: float = float("nan")) -> ch.Control:
    return ch.Control(pd.DataFrame(), True, wc=wc, t_int=t_int, t_free=t_free, wc_head=wc_head, a=t_int, b=t_int)


def test_the_book_designs_ask_for_the_registered_runs():
    P = ch.PARAMETERS.resolve("book")
    enc = ch.encoder_clamps(P, _control(33.6465, 1000, 1800.0, 13.1751))
    total, head = enc.experiments["7E total"], enc.experiments["7E head"]
    assert len(total) == 24 and len(head) == 8
    for cfg, lab in total:
        assert cfg.model == "encoder" and cfg.p == 97 and cfg.clamp_group is None and cfg.clamp_start == 1000
        assert cfg.clamp_target == held_norm(lab["rho"], 33.6465) and cfg.eval_schedule == "every:200"
    assert {c.clamp_group for c, _ in head} == {"unembed"}
    assert sorted({c.max_steps for c, _ in total}) == [5000, 8000, 24_000, 40_000]  # 4 T_free e^{8(rho-1)}, clipped
    muon = ch.muon_clamps(P, _control(60.0, 500, 5000.0), 0)
    cfgs = [c for c, _ in muon.experiments["7M clamp"]]
    assert len(cfgs) == 24 and {c.optimizer for c in cfgs} == {"muon"} and {c.momentum for c in cfgs} == {0.95}
    assert {(c.lr, c.weight_decay) for c in cfgs} == {(0.01, 0.1)} and {c.clamp_start for c in cfgs} == {500}
    assert len(ch.muon_free(P, 2).experiments["7M free"]) == 6
    sgd = ch.sgd_clamps(P, {(0.3, 1e-4, 0.9): _control(80.0, 1200, 3000.0)})
    assert len(sgd.experiments["7S clamp"]) == 16 and len(ch.sgd_free(P).experiments["7S free"]) == 4
    free = ch.parity_free(P)
    assert len(free.experiments["7P free"]) == 24 and len(free.experiments["7P bridge"]) == 8
    assert {c.extra_steps for c, _ in free.experiments["7P free"]} == {2000}
    assert {(c.parity_train, c.max_steps) for c, _ in free.experiments["7P bridge"]} == {(5000, 5000), (25000, 5000)}
    par = ch.parity_clamps(P, _control(20.6, 1000, 2650.0)).experiments["7P clamp"]
    assert len(par) == 16 and {c.clamp_start for c, _ in par} == {1000} and {c.parity_train for c, _ in par} == {1000}
    assert not ch.encoder_clamps(P, ch.Control(pd.DataFrame(), False, "no control")).configs()


def _free(t_mem, t_grok, norms, status=None) -> pd.DataFrame:
    n = len(t_mem)
    return pd.DataFrame({"t_mem": t_mem, "t_grok": t_grok, "norm_grok": norms, "final_step": [max(t_grok)] * n,
                         "norm_final": norms, "status": status or ["grokked"] * n, "max_steps": [40_000] * n})


def test_rule_c8_sets_w_c_and_the_clamp_start():
    runs = _free([400, 425, 450, 475], [2000, 2400, 2800, 3200], [54.0, 55.0, 56.0, 57.0])
    c = ch.c8(runs, 25)
    a = np.quantile([400, 425, 450, 475], 0.75) + 25
    assert c.ok and c.wc == 55.5 and c.t_int == 25 * math.ceil(a / 25) and c.window
    assert ch.c8(runs, 25, start_500=True).t_int == 500  # 7M: 500 fits the window
    late = _free([3000, 3100, 3200, 3300], [3100, 3200, 3300, 3400], [50.0] * 4)
    c = ch.c8(late, 25)
    assert c.ok and not c.window and c.t_int == 25 * math.floor((np.quantile([3100, 3200, 3300, 3400], 0.25) - 25) / 25)
    fail = _free([400] * 4, [2000] * 4, [50.0] * 4, status=["grokked", "grokked", "censored", "censored"])
    assert not ch.c8(fail, 25).ok and "2 of 4" in ch.c8(fail, 25).reason
    smoke = ch.c8(fail, 25, fixed=100, smoke=True)
    assert smoke.ok and smoke.fallback and smoke.t_int == 100 and smoke.wc == 50.0


# ---------------------------------------------------------------------------- the rules
def _series(steps, n, v=None) -> ch.Series:
    steps, n = np.asarray(steps, float), np.asarray(n, float)
    v = np.asarray(v if v is not None else n ** 2, float)
    return ch.Series(steps, n, v, steps, np.ones_like(steps))


def _dense(levels: dict[float, list[float]]) -> pd.DataFrame:
    rows = [{"clamp_target": n, "t_grok": t, "status": "grokked", "final_step": t} for n, ts in levels.items()
            for t in ts]
    return pd.DataFrame(rows)


def test_rule_1p_is_exact_on_its_own_calibration_and_continues_past_the_last_step():
    law = ch.clamp_law(_dense({50.0: [1500, 1500, 1500], 55.0: [4500] * 3, 60.0: [12_500] * 3}))
    assert law.delay(55.0) == pytest.approx(4000) and law.beta > 0
    held = ch.progress(_series(np.arange(0, 20_001, 25), np.full(801, 55.0)), law)
    assert held.reach(1.0)[0] == pytest.approx(4500)  # a run held at N from 500 groks at T_clamp(N)
    short = ch.progress(_series(np.arange(0, 2501, 25), np.full(101, 55.0)), law)  # stops at 2500: P = 0.5
    assert short.at(2500) == pytest.approx(0.5) and short.reach(1.0)[0] == pytest.approx(2500 + 0.5 * 4000)
    assert law.delay(70.0) == pytest.approx(12_000 * math.exp(law.beta * 10))  # continued with the OLS slope
    literal = ch.clamp_law(_dense({50.0: [1500] * 3, 55.0: [4500] * 3}), literal=True)
    assert literal.delay(55.0) == pytest.approx(4500)  # S1: 1 / T_clamp
    assert ch.clamp_law(_dense({50.0: [1500] * 3})).beta == 0.0


def test_the_threshold_reading_crosses_after_the_norm_peak_or_is_late_censored():
    s = _series([0, 100, 200, 300, 400], [40.0, 60.0, 58.0, 52.0, 48.0])
    assert ch.threshold_time(s, 0.0, 55.0)[0] == pytest.approx(200 + 3 / 6 * 100)
    assert ch.threshold_time(s, 0.0, 45.0)[0] == np.inf
    e = ch.log_errors([np.inf, 200.0, -5.0], [100.0, 100.0, 100.0])
    assert e[0] == ch.CENSORED_LOG_ERROR and e[1] == pytest.approx(math.log(2)) and e[2] == ch.CENSORED_LOG_ERROR


def test_the_paired_bootstrap_resamples_within_strata():
    idx = ch.boot_index(["a", "a", "b", "b", "b"], n_boot=50)
    assert idx.shape == (50, 5)
    assert set(idx[:, :2].ravel()) <= {0, 1} and set(idx[:, 2:].ravel()) <= {2, 3, 4}
    d = ch.male_diff(np.array([0.1, -0.1, 0.2, 0.1]), np.array([1.0, -1.0, 0.8, 1.2]), ["x", "x", "y", "y"])
    assert d.hi < 0 and ch.decision(d) == "better" and ch.c6(d).verdict == CONSISTENT
    assert ch.decision(Estimate(0.3, 0.1, 0.5)) == "worse" and ch.decision(Estimate(0.0, -0.1, 0.1)) == "tie"


def _fit(value: float, lo: float, hi: float, r2: float) -> SimpleNamespace:
    return SimpleNamespace(alpha=Estimate(value, lo, hi), r2=r2)


def test_the_exponential_rule_c7():
    assert ch.exp_category(_fit(7.0, 6.0, 8.0, 0.95)) == "strong"
    assert ch.exp_judgement(_fit(7.0, 6.0, 8.0, 0.95)).verdict == CONSISTENT
    assert ch.exp_category(_fit(7.0, 6.0, 8.0, 0.5)) == "weak" and ch.exp_category(_fit(1.5, 0.5, 2.5, 0.9)) == "weak"
    assert ch.exp_judgement(_fit(1.5, 0.5, 2.5, 0.9)).verdict == PARTLY
    assert ch.exp_category(_fit(0.2, -1.5, 1.9, 0.1)) == "flat"
    assert ch.exp_judgement(_fit(0.2, -1.5, 1.9, 0.1)).verdict == DIFFERS
    assert ch.exp_category(_fit(-3.0, -4.0, -2.5, 0.9)) == "inverse"
    assert ch.exp_category(_fit(0.5, -3.0, 4.0, 0.9)) == "undecided"
    assert ch.exp_judgement(_fit(0.5, -3.0, 4.0, 0.9)).verdict == INCONCLUSIVE
    assert ch.exp_judgement(None).verdict == NO_DATA
    same = ch.same_exponent(_fit(7.64, 7.5, 7.8, 0.99), _fit(6.0, 5.5, 6.3, 0.99))
    assert same.allowed == pytest.approx(0.25 * 7.64)


def test_rule_x1_families_and_window():
    base = dict(fork_step=0, temperature=1.0, layernorm=False, clamp_group=None, clamp_target=np.nan,
                clamp_scale=np.nan, clamp_mode="hold", lr=1e-3, weight_decay=1.0, p=59, train_frac=0.4)
    row = lambda **kw: SimpleNamespace(**{**base, **kw})  # noqa: E731
    assert ch.family(row(fork_step=800, temperature=0.5)) == "fork"
    assert ch.family(row(temperature=0.5, clamp_target=60.0)) == "temperature"
    assert ch.family(row(clamp_target=60.0, clamp_group="unembed")) == "group clamp"
    assert ch.family(row(clamp_target=60.0, clamp_mode="once")) == "one-shot"
    assert ch.family(row(clamp_target=60.0)) == "clamp"
    assert ch.family(row(lr=3e-3, weight_decay=3.0)) == "free: η"
    assert [ch.family(row(p=97)), ch.family(row(train_frac=0.5)), ch.family(row())] == [
        "free: p", "free: fraction", "free: base"]
    steps, values = np.array([0.0, 500, 1000, 1500]), np.array([0.0, 10.0, 20.0, 20.0])
    assert ch.window_average(steps, values, 500, 1500) == pytest.approx(17.5)
    assert ch.window_average(steps, values, 500, 400) == pytest.approx(8.0)  # empty window: the value at T_grok


def test_cells_and_the_configured_clamp_target():
    t = pd.DataFrame({"clamp_target": [59.2, 60.0], "clamp_scale": [1.0, np.nan]})
    c = ch.config_table(t)
    assert np.isnan(c["clamp_target"][0]) and c["clamp_held"][0] == 59.2 and c["clamp_target"][1] == 60.0


def test_enc_main_is_chapter_3s_main_cell_and_not_every_run_of_its_fields():
    """Chapter 4's AdamW runs of 4A share the main cell's fields but read V 3,000 steps after grokking: they
    must not join enc_main (they moved w_c, and 7E's clamp targets with it, when they landed)."""
    from grokkit.book.chapters.three_laws.designs import main_cell_protocol, select_run_set

    P = ch.PARAMETERS.resolve("book", train=False, store=str(STORE))
    main = select_run_set(_store_table(), "enc_main", P)
    if not len(main):
        pytest.skip("chapter 3's main cell is not in data/runs")
    assert (main["extra_steps"] == main_cell_protocol(P)["extra_steps"]).all()
    twin = main.iloc[:1].assign(extra_steps=3000, key="twin")
    both = pd.concat([main, twin], ignore_index=True)
    assert "twin" not in set(select_run_set(both, "enc_main", P)["key"])


def _store_table() -> pd.DataFrame:
    from grokkit.runs.store import RunStore
    return RunStore(STORE).table() if STORE.is_dir() else pd.DataFrame()


# ---------------------------------------------------------------------------- nothing in the store
def test_complete_is_false_on_an_empty_store_and_nothing_trains(tmp_path):
    for preset in ("smoke", "book", "paper"):
        assert ch.complete(ch.PARAMETERS.resolve(preset, store=str(tmp_path / "runs"))) is False
    assert not any(tmp_path.rglob("*.json")), "complete() must never train or write"
    P = ch.PARAMETERS.read({"preset": "auto", "store": str(tmp_path)}, complete=ch.complete)
    assert P.preset == "book" and "book preset" in P.auto


def test_without_runs_every_row_is_no_data_with_its_reason(tmp_path):
    P = ch.PARAMETERS.resolve("book", train=False, store=str(tmp_path / "runs"), results_dir=str(tmp_path / "res"))
    new = ch.train(P)
    st = ch.stored(P)
    r = ch.analyse(P, st, new)
    V = ch.verdicts(P, r)
    assert [row.claim for row in V.rows] == [p.claim for p in ch.PREDICTIONS]
    assert {row.verdict for row in V.rows} == {NO_DATA}
    assert all(row.reason for row in V.rows)
    assert ch.diagnose(P, r, V) == []
    texts = ch.texts(P, r, V)
    assert "rows say no data until the chapter trains them" in texts["new_short"]
    assert texts["bias_verb"] == "cannot yet be said to reach" and texts["v_1d"] == NO_DATA
    assert ch.training_table(P, new)["in the store"].sum() == 0
    assert not any((tmp_path / "runs").rglob("*.json"))


# ---------------------------------------------------------------------------- the book preset, real store
@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The chapter at the book preset from the project's store (nothing trains)."""
    if not STORE.is_dir():
        pytest.skip("no data/runs")
    results = tmp_path_factory.mktemp("results")
    P = ch.PARAMETERS.resolve("book", train=False, store=str(STORE), results_dir=str(results))
    st = ch.stored(P)
    if not len(st.sets["free_eval_059"]) or not len(st.sets["C2_dense"]):
        pytest.skip("chapter 2's runs and the free scans are not in data/runs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        new = ch.train(P)
    r = ch.analyse(P, st, new)
    V = ch.verdicts(P, r)
    ds = ch.diagnose(P, r, V)
    return P, r, V, ds


def test_every_registered_row_is_there_with_its_claimant_and_basis(book):
    P, r, V, ds = book
    assert [row.claim for row in V.rows] == [p.claim for p in ch.PREDICTIONS]
    for row, p in zip(V.rows, ch.PREDICTIONS):
        assert row.claimant == p.claimant and row.basis == p.basis and row.section == ch.SECTIONS[p.section]
    assert diagnoses.undiagnosed(V) == []
    for d in ds:
        assert d.outcome.startswith(("as registered", "too few seeds")), d.outcome


def test_sections_1_to_3_are_scored_on_the_stored_runs(book):
    P, r, V, ds = book
    by_id = {p.id: row for p, row in zip(ch.PREDICTIONS, V.rows)}
    for pid in ("1a", "1b", "1c-progress", "1c-threshold", "1d", "1e", "1e-threshold", "1f-constant", "1f-wc",
                "2a-1", "2a-2", "2c-1", "2c-2", "2c-3", "2c-4", "3a", "3b", "3c-L", "3c-rho"):
        assert by_id[pid].verdict != NO_DATA, pid
    assert r.s1.law is not None and len(r.s1.law.levels) >= 4
    assert len(r.s1.pred) >= 40 and r.s1.pred["cell"].nunique() >= 7  # the registered inventory
    assert len(r.s2a.runs) >= 48 and set(r.s2a.table["held-out setting"]).__len__() == 5
    # the mirrors are one comparison read both ways
    d1, d2 = r.s1.d["1c-progress"], r.s1.d["1c-threshold"]
    assert d1.value == pytest.approx(-d2.value) and d1.lo == pytest.approx(-d2.hi)
    assert r.s3 is not None and int(r.s3.cells["counts"].sum()) >= 160
    assert set(r.s3.cells["family"]) <= set(ch.FAMILIES)


def test_the_new_designs_rows_wait_for_their_runs_with_a_reason(book):
    P, r, V, ds = book
    by_id = {p.id: row for p, row in zip(ch.PREDICTIONS, V.rows)}
    for pid, sweep in (("2b-1", r.s2b.complete), ("4a", r.s4.muon.complete), ("5b", r.s5.have("free"))):
        if not sweep:
            assert by_id[pid].verdict == NO_DATA and "store" in by_id[pid].reason, pid
    assert r.new.enc.ok and r.new.enc.t_int % 200 == 0  # chapter 3's main cell is in the store: 7E is asked for
    assert len(r.new.enc_clamps.configs()) == 32
    if ch.complete(P):  # every run of the book preset is in the store: every row is judged
        assert all(row.verdict != NO_DATA for row in V.rows), [row.claim for row in V.rows if row.verdict == NO_DATA]
        from grokkit.book.chapters.three_laws.page import _sentences
        glance = _sentences(r, V)["new_short"]
        assert "Under Muon holding the norm" in glance and "On sparse parity" in glance, glance


def test_the_parity_headline_is_judged_by_this_chapter():
    h = next(h for h in claims.HEADLINES if h.claim == "A critical norm on sparse parity")
    assert h.tested and h.chapter == ch.CHAPTER
    assert any(p.claim.startswith(h.row) for p in ch.PREDICTIONS)
