"""Shared fixtures for grokkit's tests.

The markers ``slow`` and ``notebook`` are registered in pyproject.toml. Every test marked
``notebook`` (it executes a chapter or page, or builds the book) counts as ``slow`` too, so
``pytest -m "not slow"`` runs the unit tests alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grokkit.engine import process

# The tests train in this process: tune it as a sweep does where training starts, before any
# test module imports torch (OpenMP reads its wait policy once, when torch loads).
process.prepare()

#: The repository root (it holds _toc.yml, grokkit/ and chapters/).
ROOT = Path(__file__).resolve().parents[1]
#: The folder of the chapter notebooks.
CHAPTERS_DIR = ROOT / "chapters"


def chapter_notebooks() -> list[Path]:
    """Every chapter notebook, in order."""
    return sorted(CHAPTERS_DIR.glob("*.ipynb"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that executes notebooks is slow, whatever else it is marked."""
    for item in items:
        if item.get_closest_marker("notebook") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """An empty run-store folder that lives only as long as the test."""
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """A folder for a chapter's verdict JSON."""
    return tmp_path / "results"


@pytest.fixture
def training_env(monkeypatch: pytest.MonkeyPatch):
    """Make sure the environment neither forbids training nor redirects the store;
    returns a function that forbids training from then on (``GROKKIT_NO_TRAIN=1``)."""
    monkeypatch.delenv("GROKKIT_NO_TRAIN", raising=False)
    monkeypatch.delenv("GROKKIT_STORE", raising=False)

    def forbid_training() -> None:
        monkeypatch.setenv("GROKKIT_NO_TRAIN", "1")

    return forbid_training


def store_snapshot(root: Path) -> dict[str, int]:
    """Relative path -> modification time (ns) of every file in a store folder."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


def child_env(**extra: str) -> dict[str, str]:
    """os.environ with ``extra`` set (for subprocesses)."""
    env = dict(os.environ)
    env.update(extra)
    return env


#: Jupyter Book's command next to the running interpreter (the project's venv).
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"


def toc_files() -> list[str]:
    """The root and every file named in _toc.yml (without suffix), in reading order."""
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


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """Build the whole book once per test session, strictly (``-W -n``) and without training
    (``GROKKIT_NO_TRAIN=1``), into a temporary folder; returns the build's process and its HTML folder.
    The strict-build test and the browser test share this one build."""
    if not JUPYTER_BOOK.exists():
        pytest.skip(f"jupyter-book is not installed next to this Python ({JUPYTER_BOOK})")
    out = tmp_path_factory.mktemp("book")
    cmd = [str(JUPYTER_BOOK), "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=child_env(GROKKIT_NO_TRAIN="1"), capture_output=True, text=True,
                          timeout=3600)
    return proc, out / "_build" / "html"
