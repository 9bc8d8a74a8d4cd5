"""The book build: pages that summarise the chapters are executed after the chapters.

Jupyter Book executes each notebook while Sphinx reads it, and Sphinx reads pages in
sorted order. The scoreboard, the run explorer and the re-run page read what the
chapters write during the same build (verdict JSON, run manifests), so they must be
read last wherever they sit in the table of contents. ``_config.yml`` loads this
module as a Sphinx extension and lists those pages in ``grokkit_summary_pages``.
"""

from __future__ import annotations

from typing import Any


def _summaries_last(app: Any, env: Any, docnames: list[str]) -> None:
    last = set(app.config.grokkit_summary_pages)
    docnames.sort(key=lambda name: name in last)  # stable: the chapters keep their order


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("grokkit_summary_pages", [], "env")
    app.connect("env-before-read-docs", _summaries_last)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
