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


@pytest.mark.notebook
@pytest.mark.slow
def test_build_holds_what_the_pages_wrote(built_book) -> None:
    """The files the pages write while the book builds are copied into the output: the explorer's
    data of every chapter with a run manifest, the verdicts as CSV and JSON; and the landing page
    opens with the bottom line, above the rest of the introduction."""
    from grokkit.book import explorer

    proc, html = built_book
    assert proc.returncode == 0, "the book did not build; see test_book_builds_strictly"
    chapters = list(explorer.load_manifests())
    assert chapters, "no run manifest in results/ after the build"
    for chapter in chapters:
        data = html / "explorer" / f"{chapter}.js"
        assert data.is_file() and data.stat().st_size > 0, f"no explorer data for {chapter} in the build"
    for name in ("verdicts.csv", "verdicts.json"):
        assert (html / "downloads" / name).is_file(), f"no downloads/{name} in the build"
    intro = (html / "intro.html").read_text(encoding="utf-8")
    assert "grokkit-bottom-line" in intro and "claims of the three papers" in intro
    assert intro.index("grokkit-bottom-line") < intro.index('id="grokking-in-one-paragraph"')
    explorer_page = (html / "pages" / "explorer.html").read_text(encoding="utf-8")
    assert "grokkitExplorer.mount(" in explorer_page and "needs a running Jupyter kernel" not in explorer_page


@pytest.mark.notebook
@pytest.mark.slow
def test_every_headline_result_has_its_row_or_says_why_not(built_book) -> None:
    """The scoreboard's coverage: every headline result that grokkit.book.claims says a chapter
    judges is found among the verdict rows the build wrote; the untested ones say why and what
    testing them would cost; every row that does not simply agree carries a diagnosis."""
    from grokkit.book import claims, costs, diagnoses, scoreboard

    proc, _ = built_book
    assert proc.returncode == 0, "the book did not build; see test_book_builds_strictly"
    board = scoreboard.load(ROOT / "results")
    coverage = claims.coverage(board, costs.rates())
    assert "no row yet" not in set(coverage["status"]), coverage[coverage["status"] == "no row yet"]["claim"].tolist()
    untested = coverage[coverage["status"] == "not tested"]
    assert len(untested) and all(untested["why not tested"].str.len() > 0)
    undiagnosed = board[board["verdict"].isin(diagnoses.NEEDS_DIAGNOSIS) & (board["diagnosis"].str.len() == 0)]
    assert undiagnosed.empty, undiagnosed["claim"].tolist()
