"""The run explorer (grokkit.explorer): cell selection, figure, messages and the widget.

A handful of tiny runs (p = 13, a few hundred steps) is trained once into a temporary store;
two chapters' manifests are written next to it with :func:`grokkit.book.results.write_manifest`.
"""

from __future__ import annotations

import json
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
    write_manifest(b, root / "results", "99_b", "B. Nothing trained")
    return store, root / "results"


def manifest(results_dir: Path, chapter: str = "98_a") -> dict:
    return explorer.load_manifests(results_dir)[chapter]


# --------------------------------------------------------------------------- pure functions
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
    # float values match up to round-off; unknown labels and values are named in the error
    assert set(explorer.cell_view(manifest(results), "lr", {"lr": 0.01 + 1e-15}, store).keys) == expected
    with pytest.raises(ValueError, match="rho= is not a label"):
        explorer.cell_view(manifest(results), "lr", {"rho": 1.0}, store)


def test_markers_for_t_mem_and_t_grok(world):
    store, results = world
    views = [explorer.cell_view(manifest(results), "lr", {"lr": lr}, store) for lr in LRS]
    n_grokked = sum(v.counts["grokked"] for v in views)
    assert n_grokked >= 1, "the tiny runs were chosen so that at least one groks"
    for view in views:
        fig = view.figure
        assert fig is not None
        axes = fig.axes
        assert [ax.get_ylabel() for ax in axes] == ["test accuracy", "weight norm ‖W‖", "logit scale L"]
        assert axes[-1].get_xlabel() == "step"
        n_mem = int(view.runs["t_mem"].notna().sum())
        for ax in axes:
            stars = [ln for ln in ax.lines if ln.get_marker() == "*"]
            circles = [ln for ln in ax.lines if ln.get_marker() == "o"]
            assert len(stars) == view.counts["grokked"]
            assert len(circles) == n_mem
        # the stars sit at T_grok on the test-accuracy curve, at or above the grok threshold
        grokked = view.runs[view.runs["status"] == "grokked"]
        xs = sorted(float(ln.get_xdata()[0]) for ln in axes[0].lines if ln.get_marker() == "*")
        assert xs == sorted(grokked["t_grok"].astype(float))
        for ln in (ln for ln in axes[0].lines if ln.get_marker() == "*"):
            assert ln.get_ydata()[0] >= 0.5
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert any("T_{mem}" in t for t in legend) and any("T_{grok}" in t for t in legend)
        assert len(explorer.figure_png(fig)) > 1000
    log = explorer.cell_view(manifest(results), "lr", {"lr": 1e-2}, store, logx=True)
    assert log.figure.axes[-1].get_xscale() == "log"


def test_missing_records_and_empty_cells(world):
    store, results = world
    partial = explorer.cell_view(manifest(results), "partial", {"wd": 1.0}, store)
    assert partial.missing == 1 and len(partial.runs) == 1 and partial.figure is not None
    assert "1 of the cell's 2 runs are missing from the run store" in partial.summary
    ghost = explorer.cell_view(manifest(results, "99_b"), "ghost", {"rho": 0.5}, store)
    assert ghost.figure is None and ghost.missing == 2 and ghost.runs.empty
    assert "None of the 2 runs of this cell" in ghost.summary and "run store" in ghost.summary
    empty = explorer.cell_view(manifest(results, "99_b"), "ghost", {"optimizer": "sgd"}, store)
    assert empty.figure is None and empty.keys == [] and "No runs in this cell" in empty.summary


def test_no_manifests_message(tmp_path, world):
    store, _ = world
    assert explorer.load_manifests(tmp_path / "nowhere") == {}
    (tmp_path / "bad.runs.json").write_text("{not json")
    text = explorer.no_manifests_message(tmp_path)
    assert "No run manifests found" in text and "build the book" in text and "bad.runs.json" in text
    w = grokkit.explore(tmp_path / "nowhere", store)
    assert "No run manifests found" in w.children[0].value


def test_format_value():
    f = explorer.format_value
    assert [f("rho", 1.0), f("lr", 1e-3), f("lr", 2.5e-4), f("p", 59), f("p", 59.0), f("train_frac", 0.3)] == \
        ["1.00", "1e-3", "2.5e-4", "59", "59", "0.30"]
    assert [f("weight_decay", 1.0), f("optimizer", "sgd"), f("layernorm", True), f("x", None)] == \
        ["1", "sgd", "True", "none"]


# --------------------------------------------------------------------------- the widget
def _find(widget, kind: str, description: str | None = None) -> list:
    found = []
    if type(widget).__name__ == kind and (description is None or widget.description == description):
        found.append(widget)
    for child in getattr(widget, "children", ()):
        found += _find(child, kind, description)
    return found


def test_widget_builds_and_redraws(world):
    store, results = world
    w = grokkit.explore(results, store, chapter="98_a", sweep="lr", lr=3e-3)
    (lr,) = _find(w, "Dropdown", "lr")
    (image,) = _find(w, "Image")
    (summary,) = _find(w, "HTML")
    assert [label for label, _ in lr.options] == ["3e-3", "1e-2"] and lr.value == 3e-3
    before, text = bytes(image.value), summary.value
    assert before.startswith(b"\x89PNG") and "lr = 3e-3" in text
    lr.value = 1e-2
    assert bytes(image.value) != before and "lr = 1e-2" in summary.value
    # another sweep brings its own label dropdowns; another chapter its own sweeps
    (sweep,) = _find(w, "Dropdown", "sweep")
    sweep.value = "partial"
    assert _find(w, "Dropdown", "lr") == [] and len(_find(w, "Dropdown", "wd")) == 1
    assert "missing from the run store" in summary.value
    (chapter,) = _find(w, "Dropdown", "chapter")
    chapter.value = "99_b"
    assert sweep.value == "ghost" and {d.description for d in _find(w, "Dropdown")} >= {"ρ", "optimizer"}
    assert "None of the 2 runs" in summary.value and image.layout.display == "none"
    (logx,) = _find(w, "Checkbox")
    chapter.value = "98_a"
    logx.value = True
    assert image.layout.display is None and "runs" in summary.value


def test_widget_rejects_bad_selection(world):
    store, results = world
    with pytest.raises(ValueError, match="chapter='03_x'"):
        grokkit.explore(results, store, chapter="03_x")
    with pytest.raises(ValueError, match="sweep='nope'"):
        grokkit.explore(results, store, chapter="98_a", sweep="nope")
    with pytest.raises(ValueError, match="lr=0.5 is not a value"):
        grokkit.explore(results, store, chapter="98_a", sweep="lr", lr=0.5)


def test_lazy_export():
    # grokkit.explore stays the function after the module behind it is imported
    assert callable(grokkit.explore) and grokkit.explore is explorer.explore
    code = "import sys, grokkit; assert 'ipywidgets' not in sys.modules and 'grokkit.explorer' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert json.loads(json.dumps(explorer.describe_cell({"rho": 1.0, "lr": 1e-3}))) == "ρ = 1.00, lr = 1e-3"
    assert np.isnan(explorer.CellView("c", "s", {}, [], None, None, 0, None, "").median_t_grok)


def test_lenient_selection_falls_back(world):
    store, results = world
    w = grokkit.explore(results, store, chapter="02_pinned_norm_law", sweep="dense", rho=1.0, strict=False)
    assert _find(w, "Dropdown", "chapter")[0].value == "98_a"
    assert _find(w, "Dropdown", "sweep")[0].value == "lr" and _find(w, "Dropdown", "lr")[0].value == 3e-3
    w = grokkit.explore(results, store, chapter="98_a", sweep="lr", lr=0.5, strict=False)
    assert _find(w, "Dropdown", "lr")[0].value == 3e-3
