"""Shared fixtures for grokkit's tests.

The markers ``slow`` and ``notebook`` are registered in pyproject.toml.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The repository root (it holds _toc.yml, grokkit/ and chapters/).
ROOT = Path(__file__).resolve().parents[1]
#: The folder of the chapter notebooks.
CHAPTERS_DIR = ROOT / "chapters"


def chapter_notebooks() -> list[Path]:
    """Every chapter notebook, in order."""
    return sorted(CHAPTERS_DIR.glob("*.ipynb"))


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
