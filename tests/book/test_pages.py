"""The summary pages (landing page, scoreboard, explorer, re-run) before any chapter has run: a
new user's first look, with an empty results folder and an empty run store. They must execute
and say that there is nothing yet, never fail. With results they are exercised by the book build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT

papermill = pytest.importorskip("papermill")

#: Each summary page, and what it must say when nothing has run yet.
PAGES = {"intro": "No verdicts yet", "pages/scoreboard": "No verdicts yet", "pages/explorer": "No run manifests found",
         "pages/rerun": ""}


def _outputs_text(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text())
    chunks = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"{nb_path.name}: error output {out.get('ename')}"
            data = out.get("data", {})
            chunks += ["".join(data.get(kind, "")) for kind in ("text/markdown", "text/plain", "text/html")]
            chunks.append("".join(out.get("text", "")))
    return "\n".join(chunks)


@pytest.mark.notebook
@pytest.mark.parametrize("page", PAGES)
def test_summary_page_with_nothing_run_yet(page: str, tmp_path: Path, store_dir: Path) -> None:
    empty_results = tmp_path / "results"
    empty_results.mkdir()
    parameters = {"results_dir": str(empty_results)}
    if page not in ("intro", "pages/scoreboard"):
        parameters["store"] = str(store_dir)
    source = ROOT / f"{page}.ipynb"
    out = tmp_path / source.name
    papermill.execute_notebook(str(source), str(out), parameters=parameters, cwd=str(source.parent),
                               kernel_name="python3", progress_bar=False)
    text = _outputs_text(out)
    assert PAGES[page] in text
    # nothing was written where the book build would copy it from
    assert not (empty_results / "site" / "downloads").exists() or not any((empty_results / "site" / "downloads").iterdir())
