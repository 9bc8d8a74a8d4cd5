"""Every chapter follows the book's conventions, so a reader meets the same page each time.

A chapter opens with its result (a "Result at a glance" section with the glued verdict table),
has a cell tagged ``parameters`` written from its module's declaration (smoke/book/paper presets),
collapses its plumbing, keeps the code a reader sees short, keeps its logic in grokkit (no code
cell over :data:`MAX_CELL_LINES` lines, hidden or not, and at most :data:`MAX_CODE_LINES` code
lines in all), and is committed without outputs.
"""

from __future__ import annotations

import json

import pytest

from conftest import chapter_notebooks
from grokkit.book import chapters

NOTEBOOKS = chapter_notebooks()
HIDDEN = {"hide-input", "remove-input", "remove-cell"}
#: The code a reader sees: at most this many lines per cell, of at most this many characters.
MAX_LINES, MAX_CHARS = 14, 78  # 78: what the rendered code box shows at a 1280-pixel window without scrolling
#: Any code cell but the parameters cell, hidden or not: logic longer than this belongs in grokkit.
MAX_CELL_LINES = 40
#: A chapter's code lines in all (the parameters cell included): narrative plus short calls.
MAX_CODE_LINES = 200


def _cells(nb):
    return json.loads(nb.read_text())["cells"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_opens_with_its_result(nb):
    first = "".join(_cells(nb)[0]["source"])
    assert first.startswith("# "), f"{nb.name}: the first cell must be the chapter's title"
    assert "## Result at a glance" in first, f"{nb.name}: the page must open with a 'Result at a glance' section"
    assert "```{glue} verdicts" in first, f"{nb.name}: the glance must show the glued verdict table"
    assert "{glue:figure}" in first, f"{nb.name}: the glance must show one figure"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_chapter_has_a_module_with_its_parameters_and_presets(nb):
    module = chapters.for_notebook(nb.stem)
    assert {"preset", "train", "store", "results_dir"} <= set(module.PARAMETERS.all)
    assert set(module.PRESETS) == {"smoke", "book", "paper"}, f"{nb.name}: presets must be smoke, book and paper"
    for name in ("TITLE", "PAPER", "TOL", "tolerances", "verdicts"):
        assert hasattr(module, name), f"{module.__name__} lacks {name}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_logic_lives_in_grokkit(nb):
    total = 0
    for i, cell in enumerate(_cells(nb)):
        if cell["cell_type"] != "code":
            continue
        n = len("".join(cell["source"]).splitlines())
        total += n
        if "parameters" not in cell.get("metadata", {}).get("tags", []):
            assert n <= MAX_CELL_LINES, f"{nb.name}: code cell {i} has {n} lines (at most {MAX_CELL_LINES}, hidden " \
                                        "or not); move its logic into the chapter's module in grokkit.book.chapters"
    assert total <= MAX_CODE_LINES, f"{nb.name}: {total} code lines (at most {MAX_CODE_LINES})"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_plumbing_is_collapsed_and_visible_code_is_short(nb):
    for i, cell in enumerate(_cells(nb)):
        if cell["cell_type"] != "code":
            continue
        assert not cell.get("outputs"), f"{nb.name}: cell {i} was committed with outputs"
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & HIDDEN:
            continue
        lines = "".join(cell["source"]).splitlines()
        assert len(lines) <= MAX_LINES, f"{nb.name}: visible cell {i} has {len(lines)} lines (at most {MAX_LINES}); " \
                                        "move logic into grokkit or collapse it (hide-input)"
        long = [line for line in lines if len(line) > MAX_CHARS]
        assert not long, f"{nb.name}: visible cell {i} has lines over {MAX_CHARS} characters: {long[:2]}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_cell_ids_are_unique(nb):
    ids = [c.get("id") for c in _cells(nb)]
    assert len(set(ids)) == len(ids), f"{nb.name}: cell ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}"
