"""Build the whole book strictly (warnings are errors), as the README says, without training.

The build executes every chapter at its "book" preset, reading its runs from data/runs;
GROKKIT_NO_TRAIN=1 makes sure nothing is trained. Output goes to a temporary folder.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, child_env

#: Jupyter Book's command next to the running interpreter (the project's venv).
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"


def toc_files() -> list[str]:
    """The root and every chapter file named in _toc.yml (without suffix)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.skipif(not JUPYTER_BOOK.exists(), reason="jupyter-book is not installed next to this Python")
def test_book_builds_strictly(tmp_path: Path) -> None:
    files = toc_files()
    missing = [f for f in files if not any((ROOT / f).with_suffix(s).exists() for s in (".md", ".ipynb"))]
    assert not missing, f"_toc.yml names files that do not exist: {missing}"
    cmd = [str(JUPYTER_BOOK), "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, env=child_env(GROKKIT_NO_TRAIN="1"), capture_output=True, text=True,
                          timeout=3600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"jupyter-book build failed (exit {proc.returncode}):\n{log[-15000:]}"
    html = tmp_path / "_build" / "html"
    for f in files:
        assert (html / f"{f}.html").is_file(), f"no HTML page for {f} in {html}"
