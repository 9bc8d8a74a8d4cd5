"""The book build: pages that summarise the chapters are executed after the chapters, the
files the pages write (downloads, the explorer's data) are copied into the output, MathJax is
loaded on every page (chapter titles in the navigation hold math), and the pages load without a
JavaScript error (the browser test, tests/book/test_browser.py, checks it).

Jupyter Book executes each notebook while Sphinx reads it, and Sphinx reads pages in
sorted order. The landing page, the scoreboard, the run explorer and the re-run page read
what the chapters write during the same build (verdict JSON, run manifests), so they must be
read last wherever they sit in the table of contents. ``_config.yml`` loads this
module as a Sphinx extension and lists those pages in ``grokkit_summary_pages``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _summaries_last(app: Any, env: Any, docnames: list[str]) -> None:
    last = set(app.config.grokkit_summary_pages)
    docnames.sort(key=lambda name: name in last)  # stable: the chapters keep their order


def _summaries_outdated(app: Any, env: Any, added: set, changed: set, removed: set) -> list[str]:
    """Re-read (re-execute) the summary pages at every build: what they show comes from the
    chapters' outputs, which Sphinx does not know they depend on."""
    return [name for name in app.config.grokkit_summary_pages if name in env.found_docs]


def _site_folder(app: Any, config: Any) -> None:
    """Create ``<results>/site`` and copy it into the HTML output (``html_extra_path``).

    The pages write their downloads and the explorer's data there while the build executes them
    (:mod:`grokkit.book.downloads`); Sphinx copies the extra paths into the output when it has
    written every page, so files written during the build are in the book. A missing extra path
    is a warning (an error under ``-W``), hence the folder is made here, before the build reads
    anything. The results folder is the one the pages write to: ``$GROKKIT_RESULTS``, else the
    book's ``results/``.
    """
    from .results import SITE_FOLDER, project_root

    env = os.environ.get("GROKKIT_RESULTS")
    src = Path(app.srcdir)
    site = (Path(env) if env else (project_root(src) or src) / "results") / SITE_FOLDER
    site.mkdir(parents=True, exist_ok=True)
    if str(site) not in [str(p) for p in config.html_extra_path]:
        config.html_extra_path = [*config.html_extra_path, str(site)]


def _unique_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Drop repeated script tags and give the theme a colour mode.

    Inline scripts that extensions add after the builder starts (sphinx-thebe's
    ``const THEBE_JS_URL``, sphinx-togglebutton's selector) reach the page twice, once with the
    file name ``None`` and once with ``''``; a repeated ``const`` is a JavaScript error. Without
    ``default_mode`` the theme starts from an empty mode and logs an error; the book's figures
    are drawn on white, so it starts light (readers can still switch).
    """
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", str(script)) or "", repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique
    context.setdefault("default_mode", "light")


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("grokkit_summary_pages", [], "env")
    app.connect("env-get-outdated", _summaries_outdated)
    app.connect("env-before-read-docs", _summaries_last)
    app.connect("config-inited", _site_folder)
    # MathJax on every page, not only on pages with formulas: chapter titles hold math and
    # appear in every page's navigation.
    app.set_html_assets_policy("always")
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
