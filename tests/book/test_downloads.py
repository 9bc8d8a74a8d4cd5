"""What the book hands its reader as data (grokkit.book.downloads): each chapter's runs and
trajectories as CSV, the verdicts as CSV and JSON, and the landing page's bottom line.

Three tiny runs (p = 13, a few hundred steps) are trained once into a temporary store; a
chapter's manifest files them under two overlapping sweeps, with one run the store lacks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import grokkit
from grokkit.analysis.stats import Estimate
from grokkit.book import downloads, scoreboard, verdicts
from grokkit.book import results as results_mod
from grokkit.book.results import write_manifest
from grokkit.runs.design import Design


def tiny(seed: int, lr: float = 1e-2, max_steps: int = 400) -> grokkit.RunConfig:
    return grokkit.paper1(p=13, d_embed=8, d_hidden=16, train_frac=0.8, max_steps=max_steps, lr=lr,
                          weight_decay=1.0, grok_threshold=0.5, eval_schedule="every:50", seed=seed)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(store, results_dir, configs): chapter "07_t" with sweeps "lr" (lr) and "arms" (arm, lr),
    which share a run; "arms" also holds a run that was never trained."""
    root = tmp_path_factory.mktemp("downloads")
    store = grokkit.RunStore(root / "store")
    configs = [tiny(0), tiny(1), tiny(0, lr=3e-3)]
    grokkit.sweep(configs, store=store, train=True, progress=False)
    d = Design()
    for cfg in configs[:2]:
        d.add("lr", cfg, lr=cfg.lr)
    d.add("arms", configs[0], arm="a", lr=configs[0].lr)
    d.add("arms", configs[2], arm="b", lr=configs[2].lr)
    d.add("arms", tiny(9, max_steps=450), arm="b", lr=1e-2)  # never trained
    write_manifest(d, root / "results", "07_t", "7. A test chapter")
    return store, root / "results", configs


def test_runs_table_one_row_per_run(world):
    store, results, configs = world
    manifest = json.loads((results / "07_t.runs.json").read_text())
    table = downloads.runs_table(manifest, store)
    assert list(table["key"]) == [configs[0].key, configs[1].key, configs[2].key, tiny(9, max_steps=450).key]
    assert list(table.columns[:6]) == ["key", "sweeps", "label:lr", "label:arm", "status", "t_mem"]
    assert list(table["sweeps"]) == ["lr; arms", "lr", "arms", "arms"]
    assert list(table["label:arm"].fillna("")) == ["a", "", "b", "b"]
    assert list(table["status"])[-1] == "missing" and set(table["status"][:3]) <= {"grokked", "censored", "diverged"}
    assert list(table["seed"][:3]) == [0, 1, 0] and table["lr"][2] == pytest.approx(3e-3)
    traj = downloads.trajectories_table(manifest, store)
    assert list(traj.columns) == ["key", *downloads.TRAJECTORY_COLUMNS]
    assert len(traj) == sum(len(store.load(c.key)["trajectory"]["step"]) for c in configs)


def test_chapter_files_and_links(world):
    store, results, configs = world
    html = downloads.chapter_links("07_t", results, store)._repr_html_()
    folder = results / "site" / "downloads"
    assert results_mod.site_folder(results) == results / "site"
    for name in ("07_t.runs.csv", "07_t.trajectories.csv"):
        assert (folder / name).is_file() and f'href="../downloads/{name}"' in html
    assert "4 runs, 1 of them not in the run store yet" in html
    assert "<code>t_grok</code>" in html and "<code>key</code> joins them" in html
    assert 'href="../pages/explorer.html#chapter=07_t"' in html
    # a reader needs only pandas
    runs = pd.read_csv(folder / "07_t.runs.csv")
    traj = pd.read_csv(folder / "07_t.trajectories.csv")
    assert len(runs) == 4 and set(traj["key"]) == {c.key for c in configs}
    grokked = runs[runs["status"] == "grokked"]
    assert (grokked["t_grok"] >= grokked["t_mem"]).all()
    # no manifest: a sentence, no files
    assert "nothing to download" in downloads.chapter_links("08_none", results, store)._repr_html_()
    assert not (folder / "08_none.runs.csv").exists()


def test_large_trajectories_are_thinned(world, monkeypatch):
    store, results, configs = world
    monkeypatch.setattr(downloads, "MAX_TRAJECTORY_BYTES", 10)
    files = downloads.write_chapter_files("07_t", results, store)
    assert files["thinned"] and files["missing"] == 1 and files["n_runs"] == 4
    assert "thinned to the explorer's resolution" in downloads.chapter_links("07_t", results, store)._repr_html_()


def _write_verdicts(results: Path) -> None:
    one = verdicts.Verdicts("01_a", "1. A", "book", claimant="paper 1")
    one.add("agrees", verdicts.compare(1.0, Estimate(1.0, 0.9, 1.1), tol=0.1), paper="1.0", section="sec-ch1-x")
    one.add("far off", verdicts.compare(1.0, Estimate(3.0, 2.9, 3.1), tol=0.1), paper="1.0", section="sec-ch1-y",
            diagnosis="a smaller model")
    one.add("a bit off", verdicts.compare(1.0, Estimate(1.5, 1.45, 1.55), tol=0.1), paper="1.0", section="sec-ch1-z")
    one.write(results)
    two = verdicts.Verdicts("02_b", "2. B", "book", claimant="paper 2")
    two.add("close", verdicts.compare(1.0, Estimate(1.05, 1.04, 1.06), tol=0.1), paper="1.0", section="sec-ch2-a")
    two.add("our idea", verdicts.compare(1.0, Estimate(9.0, 8.9, 9.1), tol=0.1), paper="1.0", section="sec-ch2-b",
            claimant="ours (chapter 2)")
    two.write(results)


def test_verdict_files(tmp_path):
    assert downloads.write_verdict_files(tmp_path) == {}
    assert "no verdicts yet" in downloads.verdict_links(tmp_path)._repr_html_()
    _write_verdicts(tmp_path)
    html = downloads.verdict_links(tmp_path)._repr_html_()
    assert 'href="../downloads/verdicts.csv"' in html and 'href="../downloads/verdicts.json"' in html
    table = pd.read_csv(tmp_path / "site" / "downloads" / "verdicts.csv")
    assert list(table.columns) == list(downloads.VERDICT_COLUMNS) and len(table) == 5
    row = table.set_index("claim").loc["far off"]
    assert row["verdict"] == "differs" and row["ours_value"] == 3.0 and row["paper_lo"] == 1.0
    assert row["diagnosis"] == "a smaller model" and row["page"] == "chapters/01_a.html#sec-ch1-y"
    doc = json.loads((tmp_path / "site" / "downloads" / "verdicts.json").read_text())
    assert len(doc["claims"]) == 5 and doc["claims"][1]["judgement"]["ours"]["value"] == 3.0
    assert {c["claimant"] for c in doc["claims"]} == {"paper 1", "paper 2", "ours (chapter 2)"}


def test_bottom_line(tmp_path):
    assert "No verdicts yet" in scoreboard.bottom_line(tmp_path)._repr_html_()
    _write_verdicts(tmp_path)
    html = scoreboard.bottom_line(tmp_path)._repr_html_()
    # the papers' 4 claims counted, ours apart
    assert "re-runs 4 claims of the three papers in 2 chapters" in html
    assert "<b>1</b> consistent" in html and "<b>1</b> close" in html and "<b>2</b> differs" in html
    assert "Our own hypotheses, counted apart: " in html
    assert "At the <code>book</code> preset (fewer seeds" in html
    moved = json.loads((tmp_path / "02_b.json").read_text()) | {"preset": "paper"}  # a chapter moved up
    (tmp_path / "02_b.json").write_text(json.dumps(moved))
    assert ("Chapter 1 at the <code>book</code> preset (fewer seeds and shorter budgets than the papers'); "
            "chapter 2 at the <code>paper</code> preset; each row says its scale") in scoreboard.bottom_line(tmp_path)._repr_html_()
    (tmp_path / "02_b.json").write_text(json.dumps(moved | {"preset": "book"}))
    # per paper
    for label in ("all three papers", "paper 1", "paper 2", "our own hypotheses (apart)"):
        assert f"<td>{label}</td>" in html
    # the largest disagreement first, with where the book says why; our own hypothesis is not one
    far, bit = html.index(">far off</a>"), html.index(">a bit off</a>")
    assert far < bit and "our idea" not in html
    assert 'href="chapters/01_a.html#sec-ch1-y"' in html and 'href="chapters/01_a.html#sec-ch1-why-we-differ"' in html
    assert "a smaller model" in html and 'href="pages/scoreboard.html"' in html
    worst = scoreboard.disagreements(scoreboard.load(tmp_path))
    assert list(worst["claim"]) == ["far off", "a bit off"]
    assert worst["deviation"].iloc[0] == pytest.approx(20.0) and worst["deviation"].iloc[1] == pytest.approx(5.0)
