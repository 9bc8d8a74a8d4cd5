"""Open the built book in headless Chromium and check what a reader would see.

Two ways in:

* **Served** (``test_every_page_renders_in_chromium``): every page over a local HTTP server. A page
  fails on a JavaScript console error or uncaught exception, a request to a URL that is not the
  local server (the book must work offline: no CDN), a local request that fails, an image that did
  not load, an error output (traceback or stderr) in a cell, math that MathJax left untypeset, or a
  table wider than the text column in a 1,200 px window (a reader would have to scroll it sideways).
* **From disk** (``file://``, no server, as a reader who opens the folder does): the run explorer,
  every control of which must redraw its figure (the SVG is compared, not the page text), every
  chapter offered and every cell of every sweep reachable; the download links of the chapter pages
  and the scoreboard, which must name files of the build; the landing page's links. Here a request
  to anything but a ``file:`` URL is a failure.

Full-page screenshots of every page are saved under ``_build/browser-screenshots/`` (or
``$GROKKIT_SCREENSHOTS``) as the test's artifacts, with the explorer showing a cell of chapter 3
(λ sweep), chapter 5 (τ) and chapter 6 (the LayerNorm transformer).

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
from urllib.parse import unquote, urlparse

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
  return {images, errors, math};
}
"""
#: The narrowest window at which the theme shows the page's contents beside the text, so the text
#: column is narrowest (688 px): every table must fit it there.
NARROW = 1200
#: In the page: the tables wider than the text column, named by their section's heading.
WIDE_TABLES = r"""
() => {
  const article = document.querySelector("article");
  if (!article) { return []; }
  const head = (t) => ((t.closest("section") || article).querySelector("h1, h2, h3") || t).textContent.replace(/#\s*$/, "").trim().slice(0, 80);
  const box = (t) => {  // the nearest box that would scroll the table sideways, else the text column
    for (let b = t.parentElement; b && b !== article; b = b.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(b).overflowX)) { return b; }
    }
    return article;
  };
  return [...article.querySelectorAll("table")].filter(t => t.scrollWidth > box(t).clientWidth + 1)
    .map(t => `${head(t)} (${t.scrollWidth} px in a ${box(t).clientWidth} px box)`);
}
"""

#: The explorer cells saved as screenshots: file name, chapter, sweep, label values (as shown).
EXPLORER_SHOTS = [
    ("explorer-ch3-encoder-lambda", "03_free_contraction_law", "lambda", {"weight_decay": "0.3"}),
    ("explorer-ch5-tau", "05_logit_scale", "ce", {"p": "59", "rho": "1.15", "tau": "1.3"}),
    ("explorer-ch6-layernorm-transformer", "06_layernorm", "ln fractions", {}),
]


def find_chromium() -> str | None:
    """$GROKKIT_CHROMIUM, else Debian's chromium on the PATH."""
    return os.environ.get("GROKKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def html_dir(built_book) -> Path:
    """The built book's HTML folder (the test fails if the book did not build)."""
    proc, html = built_book
    if proc.returncode != 0 or not (html / "index.html").is_file():
        pytest.fail(f"the book did not build (exit {proc.returncode}); see test_book_builds_strictly")
    return html


@pytest.fixture(scope="module")
def site(html_dir: Path) -> Iterator[str]:
    """Serve the built book on 127.0.0.1 (a free port) for the module's tests; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
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


@pytest.fixture(scope="module")
def browser():
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("SKIPPED browser check: no Chromium found (install Debian's 'chromium' package, "
                    "as .ci/run does, or set GROKKIT_CHROMIUM to a Chromium binary)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements.txt)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


# --------------------------------------------------------------------------- served
@pytest.mark.notebook
@pytest.mark.slow
def test_every_page_renders_in_chromium(site: str, browser) -> None:
    problems: dict[str, list[str]] = {}
    for page_file in toc_files():
        found = check_page(browser, site, page_file)
        if found:
            problems[page_file] = found
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
        page.screenshot(path=str(SCREENSHOTS / f"{page_file.replace('/', '__')}.png"), full_page=True)
        page.set_viewport_size({"width": NARROW, "height": 900})
        found += [f"table wider than the text column at {NARROW} px (it scrolls sideways): {text}"
                  for text in page.evaluate(WIDE_TABLES)]
    finally:
        page.close()
    return found


# --------------------------------------------------------------------------- from disk
def open_from_disk(browser, path: Path, problems: list[str], hash_: str = ""):
    """A new page showing ``path`` as a ``file://`` URL; console errors, uncaught exceptions and any
    request that is not for a local file are appended to ``problems`` (and such requests refused)."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.on("console", lambda m: problems.append(f"console error: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})")
            if r.url.startswith("file:") else None)

    def route(r) -> None:
        if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            problems.append(f"request left the machine (blocked): {r.request.url}")
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri() + hash_, wait_until="load", timeout=60_000)
    return page


def manifest_chapters() -> list[str]:
    from grokkit.book import explorer

    return list(explorer.load_manifests())


FIGURE = ".gkx .gkx-figure"


def _figure(page) -> str:
    return page.inner_html(FIGURE)


def _wait_chapter(page, chapter: str) -> None:
    page.wait_for_function(f"document.querySelector('.gkx').dataset.chapter === {chapter!r}", timeout=30_000)


#: In the page: walk every cell of every sweep of one chapter through the controls, as a reader
#: would (the chapter picked, each sweep picked, each label set in order), and report any cell
#: the controls do not reach or do not show.
EVERY_CELL = """
async (chapter) => {
  const root = document.querySelector(".gkx");
  const fire = (sel, value) => { sel.value = value; sel.dispatchEvent(new Event("change")); };
  const problems = [];
  fire(root.querySelector(".gkx-chapter"), chapter);
  for (let i = 0; i < 300 && root.dataset.chapter !== chapter; i++) { await new Promise(r => setTimeout(r, 50)); }
  const data = window.grokkitExplorerData[chapter];
  if (!data) { return ["no data loaded for " + chapter]; }
  let n = 0;
  data.sweeps.forEach((sw, si) => {
    fire(root.querySelector(".gkx-sweep"), String(si));
    sw.cells.forEach((cell, ci) => {
      const sels = [...root.querySelectorAll("select.gkx-label")];
      if (sels.length !== sw.labels.length) { problems.push(`${sw.name}: ${sels.length} label selectors`); }
      sels.forEach((s, j) => fire(s, String(cell.at[j])));
      n += 1;
      const where = `${chapter} / ${sw.name} / ${cell.d}`;
      if (root.dataset.sweep !== sw.name || root.dataset.cell !== String(ci)) { problems.push(where + ": not reached"); return; }
      if (root.querySelector(".gkx-summary").textContent !== cell.summary) { problems.push(where + ": wrong summary"); }
      const svg = root.querySelector(".gkx-figure svg");
      if (cell.keys.length && !(svg && svg.querySelectorAll("polyline").length >= cell.keys.length)) {
        problems.push(where + ": no figure");
      }
    });
  });
  return {problems, cells: n};
}
"""


@pytest.mark.notebook
@pytest.mark.slow
def test_explorer_works_from_disk(html_dir: Path, browser) -> None:
    problems: list[str] = []
    page = open_from_disk(browser, html_dir / "pages" / "explorer.html", problems)
    try:
        page.wait_for_selector(f"{FIGURE} svg", timeout=30_000)
        # every chapter with a run manifest is offered, and has its data file in the build
        chapters = manifest_chapters()
        offered = page.eval_on_selector_all(".gkx-chapter option", "os => os.map(o => o.value)")
        assert offered == chapters, f"the explorer offers {offered}, the manifests are {chapters}"
        for chapter in chapters:
            assert (html_dir / "explorer" / f"{chapter}.js").is_file(), f"no explorer/{chapter}.js in the build"

        # each control redraws the figure
        start = _figure(page)
        options = page.eval_on_selector_all(".gkx-sweep option", "os => os.map(o => o.value)")
        assert len(options) > 1, "the opening chapter has a single sweep: cannot test the sweep selector"
        current = page.eval_on_selector(".gkx-sweep", "s => s.value")
        page.select_option(".gkx-sweep", next(o for o in options if o != current))
        after_sweep = _figure(page)
        assert after_sweep != start, "changing the sweep did not change the figure"
        changed_label = False
        for chapter in chapters:
            if changed_label:
                break
            page.select_option(".gkx-chapter", chapter)
            _wait_chapter(page, chapter)
            for sweep in page.eval_on_selector_all(".gkx-sweep option", "os => os.map(o => o.value)"):
                page.select_option(".gkx-sweep", sweep)
                for label in page.eval_on_selector_all("select.gkx-label", "ss => ss.map(s => s.dataset.label)"):
                    sel = f"select.gkx-label[data-label='{label}']"
                    values = page.eval_on_selector_all(f"{sel} option", "os => os.map(o => o.value)")
                    if len(values) < 2 or page.locator(f"{FIGURE} svg").count() == 0:
                        continue
                    before = _figure(page)
                    value = page.eval_on_selector(sel, "s => s.value")
                    page.select_option(sel, next(v for v in values if v != value))
                    if page.locator(f"{FIGURE} svg").count() and _figure(page) != before:
                        changed_label = True
                        break
                if changed_label:
                    break
        assert changed_label, "no label selector changed the figure"
        before = _figure(page)
        page.check(".gkx-log")
        assert _figure(page) != before, "the log-step toggle did not change the figure"
        page.uncheck(".gkx-log")
        other = next(c for c in chapters if c != page.eval_on_selector(".gkx-chapter", "s => s.value"))
        before = _figure(page)
        page.select_option(".gkx-chapter", other)
        _wait_chapter(page, other)
        assert _figure(page) != before, "changing the chapter did not change the figure"

        # every cell of every sweep of every chapter is reached by the controls and drawn
        total = 0
        for chapter in chapters:
            result = page.evaluate(EVERY_CELL, chapter)
            assert isinstance(result, dict), result
            problems += result["problems"]
            total += result["cells"]
        assert total > 0
    finally:
        page.close()
    assert not problems, "explorer opened from disk:\n  " + "\n  ".join(problems[:40])


@pytest.mark.notebook
@pytest.mark.slow
def test_explorer_screenshots(html_dir: Path, browser) -> None:
    """A cell of chapter 3 (encoder, λ sweep), of chapter 5 (τ) and of chapter 6 (LayerNorm
    transformer), opened by a link to the explorer (its URL fragment) and saved as screenshots."""
    problems: list[str] = []
    chapters = manifest_chapters()
    for name, chapter, sweep, labels in EXPLORER_SHOTS:
        if chapter not in chapters:
            problems.append(f"{name}: chapter {chapter} has no run manifest")
            continue
        fragment = "#" + "&".join(f"{k}={v}" for k, v in {"chapter": chapter, "sweep": sweep, **labels}.items())
        page = open_from_disk(browser, html_dir / "pages" / "explorer.html", problems, fragment)
        try:
            _wait_chapter(page, chapter)
            page.wait_for_selector(f"{FIGURE} svg", timeout=30_000)
            assert page.eval_on_selector(".gkx", "r => r.dataset.sweep") == sweep
            for label, value in labels.items():
                shown = page.eval_on_selector(f"select.gkx-label[data-label='{label}']", "s => s.selectedOptions[0].text")
                assert shown == value, f"{name}: {label} = {shown}, asked for {value}"
            page.locator(".gkx").screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        finally:
            page.close()
    assert not problems, problems


def _local_target(href: str) -> tuple[Path, str]:
    url = urlparse(href)
    assert url.scheme == "file", f"not a link into the build: {href}"
    return Path(unquote(url.path)), url.fragment


@pytest.mark.notebook
@pytest.mark.slow
def test_download_links_resolve_to_files_in_the_build(html_dir: Path, browser) -> None:
    """Every chapter page offers its runs, the scoreboard its verdicts; each link names a file of
    the build; the landing page's links reach pages and sections that exist."""
    problems: list[str] = []
    pages = {f: 2 for f in toc_files() if f.startswith("chapters/")} | {"pages/scoreboard": 2}
    for page_file, at_least in pages.items():
        page = open_from_disk(browser, html_dir / f"{page_file}.html", problems)
        try:
            hrefs = page.eval_on_selector_all("a.grokkit-download", "as => as.map(a => a.href)")
        finally:
            page.close()
        if len(hrefs) < at_least:
            problems.append(f"{page_file}: {len(hrefs)} download links (at least {at_least} expected; "
                            "a chapter shows them with grokkit.book.downloads.chapter_links)")
        for href in hrefs:
            path, _ = _local_target(href)
            if not (path.is_file() and path.stat().st_size > 0 and html_dir in path.parents):
                problems.append(f"{page_file}: the download link {href} names no file of the build")
    page = open_from_disk(browser, html_dir / "intro.html", problems)
    try:
        assert page.locator(".grokkit-bottom-line").count() == 1, "the landing page has no bottom line"
        hrefs = page.eval_on_selector_all(".grokkit-bottom-line a", "as => as.map(a => a.href)")
    finally:
        page.close()
    for href in hrefs:
        path, anchor = _local_target(href)
        if not path.is_file():
            problems.append(f"intro: {href} names no page of the build")
        elif anchor and f'id="{anchor}"' not in path.read_text(encoding="utf-8"):
            problems.append(f"intro: {href}: no section {anchor!r} on that page")
    assert not problems, "\n".join(problems)
