"""Every chapter follows the book's conventions, so a reader meets the same page each time.

A chapter opens with its result (a "Result at a glance" section with the glued verdict table),
has a cell tagged ``parameters`` and a ``preset`` parameter with smoke/book/paper presets,
collapses its plumbing, keeps the code a reader sees short, and is committed without outputs.
"""

from __future__ import annotations

import json

import pytest

from conftest import chapter_notebooks
from grokkit.book.parameters import notebook_parameters, notebook_presets

NOTEBOOKS = chapter_notebooks()
HIDDEN = {"hide-input", "remove-input", "remove-cell"}
#: The code a reader sees: at most this many lines per cell, of at most this many characters.
MAX_LINES, MAX_CHARS = 14, 78  # 78: what the rendered code box shows at a 1280-pixel window without scrolling


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
def test_parameters_and_presets(nb):
    params = notebook_parameters(nb)
    names = set(params["parameter"])
    assert {"preset", "train", "store", "results_dir"} <= names, f"{nb.name}: missing standard parameters"
    presets = notebook_presets(nb)
    assert set(presets) == {"smoke", "book", "paper"}, f"{nb.name}: presets must be smoke, book and paper"
    for name, values in presets.items():
        unknown = set(values) - names
        assert not unknown, f"{nb.name}: preset {name!r} sets {sorted(unknown)}, which the parameters cell lacks"


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
