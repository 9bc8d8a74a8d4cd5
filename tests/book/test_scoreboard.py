"""The scoreboard reads every chapter's verdict JSON; the cost table reads the store's provenance."""

import json

import pytest

from grokkit import paper1
from grokkit.book import costs, results, scoreboard, verdicts
from grokkit import sweep
from grokkit.analysis.stats import Estimate
from grokkit.runs.design import Design


def write_chapter(results, stem, title, rows):
    V = verdicts.Verdicts(stem, title, "book")
    for claim, judgement in rows:
        V.add(claim, judgement, paper="p", scale="s", section=f"sec-{stem}")
    V.write(results)


def test_every_chapter_appears_with_links_and_a_later_one_without_editing(tmp_path):
    assert scoreboard.load(tmp_path).empty
    write_chapter(tmp_path, "01_a", "1. A", [("c1", verdicts.compare(1.0, Estimate(1.0, 0.9, 1.1), tol=0.1))])
    write_chapter(tmp_path, "02_b", "2. B", [("c2", verdicts.combine({"x": verdicts.compare(1.0, Estimate(2, 1.9, 2.1), tol=0.1),
                                                                   "y": verdicts.compare(1.0, Estimate(1, 0.9, 1.1), tol=0.1)}))])
    (tmp_path / "02_b.runs.json").write_text(json.dumps({"chapter": "02_b", "sweeps": {}}))  # manifests are skipped
    board = scoreboard.load(tmp_path)
    assert list(board["chapter"]) == ["01_a", "02_b"] and list(board["verdict"]) == ["consistent", "partly"]
    html = scoreboard.table_html(board)
    assert 'href="../chapters/01_a.html#sec-01_a"' in html and "holds: y; differs: x" in html
    tally = scoreboard.tally(board).set_index("chapter")
    assert tally.loc["all chapters: the papers' claims", "claims"] == 2
    dev = scoreboard.deviations(board)
    assert list(dev["header"]) == [False, True, False, False]  # the two-part claim: a title row, then its parts
    assert dev.loc[0, "value"] == 0 and dev.loc[2, "value"] == pytest.approx(10.0)
    write_chapter(tmp_path, "03_c", "3. C", [("c3", verdicts.compare(1.0, None, tol=0.1))])
    assert list(scoreboard.load(tmp_path)["chapter"]) == ["01_a", "02_b", "03_c"]


def test_chapter_costs_add_up_batches_from_provenance(tmp_path):
    cfgs = [paper1(p=13, d_embed=8, d_hidden=16, train_frac=0.5, max_steps=100, eval_schedule="every:50",
                   stop_at_grok=False, seed=s) for s in range(3)]
    store = tmp_path / "store"
    sweep(cfgs, store=store, progress=False)
    d = Design()
    for c in cfgs[:2]:
        d.add("cell", c, seed_role="x")
    results.write_manifest(d, tmp_path / "results", "07_tiny", "7. Tiny")
    runs = costs.run_costs(store)
    assert len(runs) == 3 and (runs["steps"] == 100).all() and (runs["core_s"] > 0).all()
    assert runs["device_s"].sum() == pytest.approx(max(json.loads(p.read_text())["provenance"]["wall_s"]
                                                       for p in store.rglob("*.json")), rel=1e-6)
    table = costs.chapter_costs(tmp_path / "results", store)
    assert list(table["chapter"]) == ["7. Tiny"] and int(table["runs"][0]) == 2 and int(table["run-steps"][0]) == 200


def test_runs_trained_before_a_speed_change_are_costed_at_todays_speed(tmp_path):
    cfgs = [paper1(p=13, d_embed=8, d_hidden=16, train_frac=0.5, max_steps=100, eval_schedule="every:50",
                   stop_at_grok=False, seed=s) for s in range(2)]
    store = tmp_path / "store"
    sweep(cfgs, store=store, progress=False, device="cpu")
    d = Design()
    for c in cfgs:
        d.add("cell", c, seed_role="x")
    results.write_manifest(d, tmp_path / "results", "07_tiny", "7. Tiny")

    def change(since):
        return {"since": since, "before": {"models": {"mlp": {"grokkit": {"16": 100.0}}}},
                "after": {"models": {"mlp": {"grokkit": {"16": 250.0}}}}}
    speed = tmp_path / "cpu_speed.json"
    speed.write_text(json.dumps({"changes": [change("2999-01-01T00:00:00Z"), change("2000-01-01T00:00:00Z")]}))
    table = costs.chapter_costs(tmp_path / "results", store, speed=speed)
    then, now = table["hours on 2 cores"][0], table["hours on 2 cores with today's steps (estimate)"][0]
    assert now == pytest.approx(then / 2.5)  # only the change made after the runs trained counts
    assert costs.speedup_since("2026-01-01T00:00:00+00:00", "parity_mlp", [change("2999-01-01T00:00:00Z")]) == 1.0
    assert costs.bench_model({"model": "attn", "layernorm": False}) == "attn-noln"
    assert costs.speed_changes(tmp_path / "absent.json") == []


def test_coverage_finds_each_headlines_row_and_costs_the_untested(tmp_path):
    from grokkit.book import claims

    V = verdicts.Verdicts("01_critical_norm", "1. The critical norm", "book", claimant="paper 1")
    V.add("W_c at p = 59, train fraction 0.40", verdicts.compare(54.6, Estimate(55, 54.5, 55.5), tol=0.03), paper="54.6")
    V.write(tmp_path)
    cov = claims.coverage(scoreboard.load(tmp_path), {"mlp": 1000.0})
    first = cov.iloc[0]
    assert first["claim"] == "W_c at p = 59" and first["status"] == "consistent"
    assert (cov["status"] == "no row yet").sum() == sum(h.tested for h in claims.HEADLINES) - 1
    untested = cov[cov["status"] == "not tested"].set_index("claim")
    h = next(h for h in claims.HEADLINES if not h.tested and h.model == "mlp")
    assert untested.loc[h.claim, "cost (hours here)"] == pytest.approx(h.runs * h.steps / 1000 / 3600)
    assert untested["why not tested"].str.len().min() > 0
    html = scoreboard.coverage_html(cov)
    assert html.count("colspan=") == len(untested)  # a line under each untested headline only
    assert f"{h.why}; testing it would take about" in html and ">1</td>" in html  # the chapter's number


def test_measured_rates_per_model_come_from_the_stores_cpu_runs(tmp_path):
    cfgs = [paper1(p=13, d_embed=8, d_hidden=16, train_frac=0.5, max_steps=100, eval_schedule="every:50",
                   stop_at_grok=False, seed=s) for s in range(2)]
    sweep(cfgs, store=tmp_path / "store", progress=False, device="cpu")
    rates = costs.rates(tmp_path / "store")
    assert set(rates) == {"mlp"} and rates["mlp"] > 0
    assert costs.rates(tmp_path / "empty") == {}
