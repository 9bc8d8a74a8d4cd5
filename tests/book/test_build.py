"""Build the whole book strictly (warnings are errors), as the README says, without training.

The build executes every chapter at its "book" preset, reading its runs from data/runs;
GROKKIT_NO_TRAIN=1 makes sure nothing is trained. The build itself is the session fixture
``built_book`` (conftest), shared with the browser test.
"""

from __future__ import annotations

import pytest

from conftest import ROOT, toc_files


@pytest.mark.notebook
@pytest.mark.slow
def test_book_builds_strictly(built_book) -> None:
    files = toc_files()
    missing = [f for f in files if not any((ROOT / f).with_suffix(s).exists() for s in (".md", ".ipynb"))]
    assert not missing, f"_toc.yml names files that do not exist: {missing}"
    proc, html = built_book
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"jupyter-book build failed (exit {proc.returncode}):\n{log[-15000:]}"
    for f in files:
        assert (html / f"{f}.html").is_file(), f"no HTML page for {f} in {html}"
