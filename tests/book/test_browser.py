"""Open every page of the built book in headless Chromium and check what a reader would see.

A page fails on: a JavaScript console error or uncaught exception, a request to a URL that is
not the local server (the book must work offline: no CDN), a local request that fails, an image
that did not load, an error output (traceback or stderr) in a cell, math that MathJax left
untypeset, or a saved ipywidget that did not render. A full-page screenshot of every page is
saved under ``_build/browser-screenshots/`` (or ``$GROKKIT_SCREENSHOTS``) as the test's artifact.

The browser is Debian's ``chromium`` (``.ci/run`` installs it when it is missing), driven by
Playwright with ``executable_path``: Playwright downloads no browser. Without a browser the
test is skipped and says why.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT, toc_files

#: Flags for a sandbox without network: no first-run, sync or background connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

#: Where the screenshots go.
SCREENSHOTS = Path(os.environ.get("GROKKIT_SCREENSHOTS", ROOT / "_build" / "browser-screenshots"))

#: Runs in the page after it has loaded: everything a reader would notice as broken.
PAGE_CHECKS = """
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const text = (el) => (el.textContent || "").trim().slice(0, 120);
  const images = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
  const errors = [...document.querySelectorAll(".output.traceback, .output.stderr, .output.error")].map(text);
  const math = [...document.querySelectorAll(".math")].filter(e => !e.querySelector("mjx-container")).map(text);
  const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
  const widgets = views.filter(s => {
    const box = s.previousElementSibling;
    return !box || !box.querySelector(".jupyter-widgets, .widget-container, .widget-box")
        || box.querySelector(".widget-error, .jupyter-widgets-error-widget");
  }).map(s => s.textContent.slice(0, 80));
  return {images, errors, math, widgets, views: views.length};
}
"""


def find_chromium() -> str | None:
    """$GROKKIT_CHROMIUM, else Debian's chromium on the PATH."""
    return os.environ.get("GROKKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def site(built_book) -> Iterator[str]:
    """Serve the built book on 127.0.0.1 (a free port) for the module's tests; yields its base URL."""
    proc, html = built_book
    if proc.returncode != 0 or not (html / "index.html").is_file():
        pytest.fail(f"the book did not build (exit {proc.returncode}); see test_book_builds_strictly")
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass


@pytest.mark.notebook
@pytest.mark.slow
def test_every_page_renders_in_chromium(site: str) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("SKIPPED browser check: no Chromium found (install Debian's 'chromium' package, "
                    "as .ci/run does, or set GROKKIT_CHROMIUM to a Chromium binary)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements.txt)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: dict[str, list[str]] = {}
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for page_file in toc_files():
                found = check_page(browser, site, page_file)
                if found:
                    problems[page_file] = found
        finally:
            browser.close()
    report = "\n".join(f"{page}:\n  " + "\n  ".join(found) for page, found in problems.items())
    assert not problems, f"pages with problems (screenshots in {SCREENSHOTS}):\n{report}"


def check_page(browser, site: str, page_file: str) -> list[str]:
    """Load one page, collect its problems as sentences and save its screenshot."""
    found: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: found.append(f"console error: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(f"uncaught exception: {e}"))
    page.on("requestfailed", lambda r: found.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: found.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

    def route(r) -> None:
        url = r.request.url
        if url.startswith(site) or url.startswith(("data:", "blob:", "about:")):
            r.continue_()
        else:
            found.append(f"non-local request (blocked): {url}")
            r.abort()

    page.route("**/*", route)
    try:
        page.goto(f"{site}/{page_file}.html", wait_until="networkidle", timeout=60_000)
        result = page.evaluate(PAGE_CHECKS)
        found += [f"image did not load: {src}" for src in result["images"]]
        found += [f"error output: {text!r}" for text in result["errors"]]
        found += [f"math not typeset: {text!r}" for text in result["math"]]
        found += [f"widget did not render: {text!r}" for text in result["widgets"]]
        page.screenshot(path=str(SCREENSHOTS / f"{page_file.replace('/', '__')}.png"), full_page=True)
    finally:
        page.close()
    return found
