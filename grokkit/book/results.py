"""Where a chapter's outputs go: the book's folder and its ``results/`` (verdict JSON and
run manifests, which the scoreboard, the explorer and the re-run page read back), and the
``results/site/`` folder whose files the build copies into the HTML.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def project_root(start: Path | None = None) -> Path | None:
    """The book's folder (it holds ``_toc.yml``) at or above ``start`` (default: the working
    directory), else the folder above the installed package if it holds the book."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").exists():
            return folder
    pkg_parent = Path(__file__).resolve().parents[2]
    if (pkg_parent / "_toc.yml").exists():
        return pkg_parent
    return None


def results_path(results_dir: str | Path | None = None) -> Path:
    """The folder chapters write their verdicts and run manifests to (created if needed):
    ``results_dir``, or ``$GROKKIT_RESULTS``, or the project's ``results/``."""
    if results_dir is None:
        results_dir = os.environ.get("GROKKIT_RESULTS") or (project_root() or Path.cwd()) / "results"
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


#: The folder under the results folder whose files the book build copies into the root of its HTML.
SITE_FOLDER = "site"


def site_folder(results_dir: str | Path | None = None) -> Path:
    """``<results>/site`` (created): what the book build copies into the root of its HTML output
    (the chapters' downloads, the explorer's data)."""
    out = results_path(results_dir) / SITE_FOLDER
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_manifest(design, results_dir: str | Path | None, chapter: str, title: str = "") -> Path:
    """Write a chapter's :meth:`grokkit.runs.Design.manifest` to ``<results_dir>/<chapter>.runs.json``
    (what the run explorer and the re-run page read); returns its path."""
    path = results_path(results_dir) / f"{chapter}.runs.json"
    path.write_text(json.dumps(design.manifest(chapter, title), indent=1, default=float) + "\n")
    return path
