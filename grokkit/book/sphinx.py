"""The book build: pages that summarise the chapters are executed after the chapters,
MathJax is loaded on every page (chapter titles in the navigation hold math), and the pages
load without a JavaScript error (the browser test, tests/test_browser.py, checks it).

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


def _summaries_outdated(app: Any, env: Any, added: set, changed: set, removed: set) -> list[str]:
    """Re-read (re-execute) the summary pages at every build: what they show comes from the
    chapters' outputs, which Sphinx does not know they depend on."""
    return [name for name in app.config.grokkit_summary_pages if name in env.found_docs]


#: ipywidgets 8 typesets widget labels with MathJax 2's ``MathJax.Hub.Queue``; the book ships
#: MathJax 3, which has no ``Hub``. This gives MathJax 3 a ``Hub`` before the widget manager
#: renders (it renders on "load", after DOMContentLoaded).
MATHJAX2_HUB_SHIM = """document.addEventListener("DOMContentLoaded", function () {
  var mj = window.MathJax;
  if (mj && !mj.Hub) {
    mj.Hub = {Queue: function (job) {
      var el = job && job[2];
      if (el && window.MathJax.typesetPromise) { window.MathJax.typesetPromise([el]).catch(function () {}); }
    }};
  }
});"""


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
    # MathJax on every page, not only on pages with formulas: chapter titles hold math and
    # appear in every page's navigation.
    app.set_html_assets_policy("always")
    app.add_js_file(None, body=MATHJAX2_HUB_SHIM)
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
