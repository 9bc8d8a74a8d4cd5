"""The run explorer (grokkit.book.explorer): cells, the panel's data, the book's data files and
the panel itself (its script checked by node, and driven in Chromium when one is installed).

A handful of tiny runs (p = 13, a few hundred steps) is trained once into a temporary store;
two chapters' manifests are written next to it with :func:`grokkit.book.results.write_manifest`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import grokkit
from grokkit.book import explorer
from grokkit.runs.design import Design
from grokkit.book.results import write_manifest

LRS = (1e-2, 3e-3)
SEEDS = (0, 1)


def tiny(seed: int, lr: float = 1e-2, max_steps: int = 600) -> grokkit.RunConfig:
    # a grok threshold of 0.5 lets some of these tiny runs grok within a few hundred steps
    return grokkit.paper1(p=13, d_embed=8, d_hidden=16, train_frac=0.8, max_steps=max_steps, lr=lr,
                          weight_decay=1.0, grok_threshold=0.5, eval_schedule="every:50", seed=seed)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(store, results_dir): 4 trained runs; chapter "98_a" with sweeps "lr" (lr, 2 seeds per cell)
    and "partial" (one trained and one untrained run), chapter "99_b" with sweep "ghost" (untrained)."""
    root = tmp_path_factory.mktemp("explore")
    store = grokkit.RunStore(root / "store")
    configs = [tiny(s, lr) for lr in LRS for s in SEEDS]
    grokkit.sweep(configs, store=store, train=True, progress=False)
    a = Design()
    for cfg in configs:
        a.add("lr", cfg, lr=cfg.lr)
    a.add("partial", tiny(0), wd=1.0)
    a.add("partial", tiny(7, max_steps=650), wd=1.0)  # never trained
    write_manifest(a, root / "results", "98_a", "A. Tiny learning rates")
    b = Design()
    for s in SEEDS:
        b.add("ghost", tiny(s, max_steps=700), rho=0.5, optimizer="adamw")
    write_manifest(b, root / "results", "99_b", "B. Nothing trained </script>")
    return store, root / "results"


def manifest(results_dir: Path, chapter: str = "98_a") -> dict:
    return explorer.load_manifests(results_dir)[chapter]


# --------------------------------------------------------------------------- cells
def test_manifests_and_cells(world):
    store, results = world
    manifests = explorer.load_manifests(results)
    assert list(manifests) == ["98_a", "99_b"]
    assert explorer.cells(manifests["98_a"], "lr") == [{"lr": 3e-3}, {"lr": 1e-2}]
    assert explorer.label_values(manifests["99_b"], "ghost") == {"rho": [0.5], "optimizer": ["adamw"]}
    with pytest.raises(ValueError, match="sweep='nope'"):
        explorer.cells(manifests["98_a"], "nope")


def test_selecting_a_cell_gives_its_runs(world):
    store, results = world
    view = explorer.cell_view(manifest(results), "lr", {"lr": 0.01}, store)
    expected = {tiny(s, 1e-2).key for s in SEEDS}
    assert set(view.keys) == expected and set(view.runs["key"]) == expected
    assert list(view.runs["seed"]) == list(SEEDS)
    assert view.missing == 0 and set(view.trajectories["key"]) == expected
    assert view.counts["runs"] == 2 and sum(view.counts[s] for s in ("grokked", "censored", "diverged")) == 2
    assert "lr = 1e-2: 2 runs" in view.summary
    if view.counts["grokked"] == 2:  # a Kaplan-Meier median with its CI
        assert view.ci[0] <= view.median_t_grok <= view.ci[1] and "Kaplan–Meier" in view.summary
    # float values match up to round-off; unknown labels and values are named in the error
    assert set(explorer.cell_view(manifest(results), "lr", {"lr": 0.01 + 1e-15}, store).keys) == expected
    with pytest.raises(ValueError, match="rho= is not a label"):
        explorer.cell_view(manifest(results), "lr", {"rho": 1.0}, store)


def test_missing_records_and_empty_cells(world):
    store, results = world
    partial = explorer.cell_view(manifest(results), "partial", {"wd": 1.0}, store)
    assert partial.missing == 1 and len(partial.runs) == 1
    assert "1 of the cell's 2 runs are missing from the run store" in partial.summary
    ghost = explorer.cell_view(manifest(results, "99_b"), "ghost", {"rho": 0.5}, store)
    assert ghost.missing == 2 and ghost.runs.empty
    assert "None of the 2 runs of this cell" in ghost.summary and "run store" in ghost.summary
    empty = explorer.cell_view(manifest(results, "99_b"), "ghost", {"optimizer": "sgd"}, store)
    assert empty.keys == [] and "No runs in this cell" in empty.summary


def test_no_manifests_message(tmp_path, world):
    store, _ = world
    assert explorer.load_manifests(tmp_path / "nowhere") == {}
    (tmp_path / "bad.runs.json").write_text("{not json")
    text = explorer.no_manifests_message(tmp_path)
    assert "No run manifests found" in text and "build the book" in text and "bad.runs.json" in text
    panel = grokkit.explore(tmp_path / "nowhere", store)
    assert "No run manifests found" in panel.message and "No run manifests found" in panel._repr_html_()
    assert "No run manifests found" in explorer.book_panel(tmp_path / "nowhere", store).message


def test_format_value():
    f = explorer.format_value
    assert [f("rho", 1.0), f("lr", 1e-3), f("lr", 2.5e-4), f("p", 59), f("p", 59.0), f("train_frac", 0.3)] == \
        ["1.00", "1e-3", "2.5e-4", "59", "59", "0.30"]
    assert [f("weight_decay", 1.0), f("optimizer", "sgd"), f("layernorm", True), f("x", None)] == \
        ["1", "sgd", "True", "none"]
    # two values that would read the same get more digits, so every option can be told apart
    assert explorer.format_values("rho", [0.85, 0.851, 1.0]) == ["0.85", "0.851", "1.00"]


# --------------------------------------------------------------------------- the panel's data
def test_thin_keeps_t_mem_t_grok_and_the_evaluation_before_each():
    steps = list(range(0, 50_000, 10))
    traj = {"step": steps, "test_acc": [min(1.0, s / 40_000) for s in steps]}
    keep = {12_340, 37_770}
    out = explorer.thin(traj, keep, max_points=60)
    assert len(out["step"]) <= 60 + 2 * len(keep) + 2
    for t in keep:
        assert t in out["step"] and t - 10 in out["step"]
    assert out["step"][0] == 0 and out["step"][-1] == steps[-1] and out["step"] == sorted(out["step"])
    short = {"step": [0, 10, 20], "test_acc": [0.0, 0.5, 1.0]}
    assert explorer.thin(short, {20}) == short


def test_chapter_data_reaches_every_cell(world):
    store, results = world
    data = explorer.chapter_data(manifest(results), store)
    assert data["chapter"] == "98_a" and data["title"] == "A. Tiny learning rates"
    assert [s["name"] for s in data["sweeps"]] == ["lr", "partial"]
    lr = data["sweeps"][0]
    assert lr["labels"] == ["lr"] and lr["names"] == ["lr"] and lr["values"] == [["3e-3", "1e-2"]]
    assert [c["at"] for c in lr["cells"]] == [[0], [1]]
    for cell, value in zip(lr["cells"], LRS[::-1]):
        view = explorer.cell_view(manifest(results), "lr", {"lr": value}, store)
        assert cell["keys"] == list(view.runs["key"]) and cell["summary"] == view.summary
        assert cell["counts"] == view.counts and cell["missing"] == 0 and cell["n"] == 2
        if np.isfinite(view.median_t_grok):
            assert cell["median"] == pytest.approx(view.median_t_grok, rel=1e-5)
        else:
            assert cell["median"] is None
    partial = data["sweeps"][1]["cells"][0]
    assert partial["missing"] == 1 and len(partial["keys"]) == 1
    # each stored run once, thinned, its T_mem and T_grok among its steps
    assert set(data["runs"]) == {tiny(s, lr).key for lr in LRS for s in SEEDS}
    for key, run in data["runs"].items():
        record = store.load(key)
        assert run["seed"] == record["config"]["seed"] and run["status"] == record["summary"]["status"]
        assert set(run) >= {"step", "test_acc", "train_acc", "norm", "logit_scale", "t_mem", "t_grok", "thr"}
        assert len(run["step"]) <= explorer.MAX_POINTS + 8 and all(len(run[k]) == len(run["step"]) for k in explorer.SERIES)
        for t in (run["t_mem"], run["t_grok"]):
            assert t is None or t in run["step"]
    ghost = explorer.chapter_data(manifest(results, "99_b"), store)
    assert ghost["runs"] == {} and ghost["sweeps"][0]["cells"][0]["keys"] == []
    assert "None of the 2 runs" in ghost["sweeps"][0]["cells"][0]["summary"]


def test_live_panel_inlines_every_chapter(world):
    store, results = world
    panel = grokkit.explore(results, store, chapter="98_a", sweep="lr", lr=1e-2)
    html = panel._repr_html_()
    assert explorer.PANEL_JS in html and "grokkitExplorer.mount(" in html
    assert set(panel.data) == {"98_a", "99_b"} and [c["chapter"] for c in panel.chapters] == ["98_a", "99_b"]
    assert panel.initial == {"chapter": "98_a", "sweep": "lr", "labels": {"lr": "1e-2"}}
    # a title with "</script>" cannot end the data's script element
    assert "B. Nothing trained <\\/script>" in html and "B. Nothing trained </script>" not in html
    assert panel.weight["panel"] == len(html.encode())
    assert grokkit.explore(results, store).initial == {"chapter": "98_a", "sweep": "lr", "labels": {"lr": "3e-3"}}


def test_book_panel_writes_one_data_file_per_chapter(world, tmp_path):
    store, results = world
    site = results / "site" / "explorer"
    site.mkdir(parents=True, exist_ok=True)
    (site / "97_gone.js").write_text("// a chapter without a manifest any more")
    panel = explorer.book_panel(results, store, chapter="98_a", sweep="partial")
    assert sorted(p.name for p in site.glob("*.js")) == ["98_a.js", "99_b.js"]
    assert [(c["chapter"], c["file"]) for c in panel.chapters] == [("98_a", "98_a.js"), ("99_b", "99_b.js")]
    html = panel._repr_html_()
    assert '"base":"../explorer/"' in html and '"hash":true' in html and not panel.data
    text = (site / "98_a.js").read_text()
    prefix = '(window.grokkitExplorerData=window.grokkitExplorerData||{})["98_a"]='
    assert text.startswith(prefix) and panel.chapters[0]["bytes"] == len(text.encode())
    assert json.loads(text[len(prefix):].rstrip().rstrip(";")) == explorer.chapter_data(manifest(results), store)
    assert panel.initial == {"chapter": "98_a", "sweep": "partial", "labels": {"wd": "1"}}
    # lenient: a selection the manifests lack falls back to the first cell
    assert explorer.book_panel(results, store, chapter="02_x", sweep="dense", rho=1.0).initial["chapter"] == "98_a"
    note = explorer.weight_note(panel)
    assert "kB" in note and "A: " in note


def test_panel_rejects_bad_selection(world):
    store, results = world
    with pytest.raises(ValueError, match="chapter='03_x'"):
        grokkit.explore(results, store, chapter="03_x")
    with pytest.raises(ValueError, match="sweep='nope'"):
        grokkit.explore(results, store, chapter="98_a", sweep="nope")
    with pytest.raises(ValueError, match="lr=0.5 is not a value"):
        grokkit.explore(results, store, chapter="98_a", sweep="lr", lr=0.5)


def test_lenient_selection_falls_back(world):
    store, results = world
    p = grokkit.explore(results, store, chapter="02_pinned_norm_law", sweep="dense", rho=1.0, strict=False)
    assert p.initial == {"chapter": "98_a", "sweep": "lr", "labels": {"lr": "3e-3"}}
    p = grokkit.explore(results, store, chapter="98_a", sweep="lr", lr=0.5, strict=False)
    assert p.initial["labels"] == {"lr": "3e-3"}


def test_lazy_export():
    # grokkit.explore stays the function after the module behind it is imported
    assert callable(grokkit.explore) and grokkit.explore is explorer.explore
    code = ("import sys, grokkit; assert 'ipywidgets' not in sys.modules and 'grokkit.book.explorer' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert json.loads(json.dumps(explorer.describe_cell({"rho": 1.0, "lr": 1e-3}))) == "ρ = 1.00, lr = 1e-3"


def test_panel_script_is_valid_javascript(tmp_path):
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("SKIPPED: no node to check the panel's script with")
    path = tmp_path / "panel.js"
    path.write_text(explorer.PANEL_JS)
    proc = subprocess.run([node, "--check", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- the live panel in a browser
def _chromium() -> str | None:
    return os.environ.get("GROKKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
def test_live_panel_works_in_chromium(world, tmp_path):
    """The panel that grokkit.explore() shows in Jupyter, opened from disk: every control redraws."""
    chromium = _chromium()
    if chromium is None:
        pytest.skip("SKIPPED browser check: no Chromium found (install Debian's 'chromium' or set GROKKIT_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements.txt)")
    store, results = world
    page_file = tmp_path / "live.html"
    page_file.write_text("<!doctype html><meta charset='utf-8'><body>"
                         + grokkit.explore(results, store, chapter="98_a", sweep="lr", lr=3e-3)._repr_html_() + "</body>")
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:", "about:"))
                       else (problems.append(r.request.url), r.abort()))
            page.goto(page_file.as_uri())
            page.wait_for_selector(".gkx svg")
            svg = lambda: page.inner_html(".gkx .gkx-figure")  # noqa: E731
            first = svg()
            assert first.count("<polyline") >= 2 * 4 and "lr = 3e-3" in page.inner_text(".gkx-summary")
            page.select_option("select[data-label=lr]", label="1e-2")
            second = svg()
            assert second != first and "lr = 1e-2" in page.inner_text(".gkx-summary")
            page.check(".gkx-log")
            assert svg() != second and "log scale" in svg()
            page.select_option(".gkx-sweep", label="partial (1 cell)")
            assert page.locator("select[data-label=wd]").count() == 1 and page.locator("select[data-label=lr]").count() == 0
            assert "missing from the run store" in page.inner_text(".gkx-summary")
            page.select_option(".gkx-chapter", "99_b")
            page.wait_for_function("document.querySelector('.gkx').dataset.chapter === '99_b'")
            assert "None of the 2 runs" in page.inner_text(".gkx-summary") and page.locator(".gkx svg").count() == 0
        finally:
            browser.close()
    assert not problems, problems
