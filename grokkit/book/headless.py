"""Run a chapter notebook's code cells as a plain Python script (no Jupyter needed).

The chapters are papermill-parameterised notebooks whose ``Design.run(...)`` calls train the
missing runs and write them into the run store. On a bare GPU server (torch, numpy, pandas,
scipy, matplotlib, seaborn, tqdm; no Jupyter, papermill, nbformat, IPython or myst_nb) this
module trains a chapter's runs by executing its code cells in order, in one namespace::

    python -m grokkit.book.headless chapters/05_logit_scale.ipynb -p preset paper
    python -m grokkit.book.headless chapters/01_critical_norm.ipynb -p preset smoke \\
        -p store /tmp/store -p results_dir /tmp/results --cells-until training

What it does, and how it differs from papermill:

* The ``.ipynb`` is read with :mod:`json`; every code cell is run with :func:`exec` in one dict
  namespace (``__name__ == "__main__"``) with the working directory set to the notebook's folder
  (chapters use relative paths); the previous working directory is restored afterwards.
* ``-p NAME VALUE`` works like papermill's: the assignments run right after the cell tagged
  ``parameters``, so they win over its defaults. ``VALUE`` is parsed with
  :func:`ast.literal_eval` (``-p seeds 4``, ``-p lrs "[1e-3, 3e-3]"``, ``-p train False``) and
  falls back to the raw string (``-p preset paper``). The namespace keeps IPython's input
  history ``In`` (every cell's source, and the overrides as papermill's ``# Parameters`` cell),
  so a chapter rejects a misspelled name exactly as it does under papermill
  (:meth:`grokkit.book.parameters.Parameters.read`).
* Displays are text only: ``display(...)`` prints a short text form, and the value of a cell's
  last expression is shown the same way (unless the line ends with ``;``, as in Jupyter).
  Without IPython a minimal stand-in for ``IPython`` / ``IPython.display`` (``display``,
  ``Markdown``, ``HTML``, ``clear_output``) is installed for the duration of the run.
* ``myst_nb`` is hidden during the run, so :func:`grokkit.book.text.glue` is a silent no-op even
  where myst_nb is installed (gluing only matters when the book is built).
* matplotlib uses the ``Agg`` backend; all figures are closed after every cell.
* Every cell prints its index, the first line of its source and its wall time (flushed, so the
  log is useful under ``timeout`` or ``nohup``).
* ``--cells-until TAG`` stops after the first cell tagged ``TAG`` (e.g. a chapter's last
  training cell, tagged ``training``), so the analysis cells are skipped.
* A failing cell prints its traceback and the exit status is 1; ``--keep-going`` goes on with
  the next cell (the exit status is still 1).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import linecache
import os
import sys
import time
import traceback
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["Cell", "read_cells", "parse_value", "text_form", "display", "install_ipython_stub",
           "run_notebook", "main"]

#: Longest text a display prints (longer texts are cut, with a note).
MAX_DISPLAY_CHARS = 2000
#: Rows and columns of a DataFrame's text form.
MAX_ROWS, MAX_COLS = 20, 12
#: Marks a module that was not in :data:`sys.modules` at all.
_ABSENT: Any = object()


# ---------------------------------------------------------------- reading the notebook
class Cell:
    """A code cell: its index in the notebook, its source and its tags."""

    def __init__(self, index: int, source: str, tags: Sequence[str]) -> None:
        self.index = index
        self.source = source
        self.tags = list(tags)

    @property
    def first_line(self) -> str:
        for line in self.source.splitlines():
            if line.strip():
                return line.strip()
        return ""

    def __repr__(self) -> str:
        return f"Cell({self.index}, tags={self.tags}, {self.first_line!r})"


def read_cells(path: str | os.PathLike[str]) -> list[Cell]:
    """The code cells of the notebook at ``path`` (nbformat 4 JSON), in order."""
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    cells = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(src)
        tags = (cell.get("metadata") or {}).get("tags") or []
        cells.append(Cell(i, src, tags))
    return cells


def parse_value(text: str) -> Any:
    """A ``-p`` value: a Python literal when it parses as one, else the string itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


# ---------------------------------------------------------------- text displays
def _shorten(text: str, limit: int = MAX_DISPLAY_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [{len(text) - limit} more characters]"


def text_form(obj: Any) -> str:
    """A short text form of ``obj`` for a log: DataFrames (and Stylers, via their ``.data``)
    as truncated tables, Markdown/HTML-like objects as their source text, others as repr."""
    name = type(obj).__name__
    if name == "Styler" and hasattr(obj, "data"):  # a pandas Styler: show the frame it styles
        obj = obj.data
        name = type(obj).__name__
    if name in ("DataFrame", "Series") and hasattr(obj, "to_string"):
        try:
            if name == "DataFrame":
                text = obj.to_string(max_rows=MAX_ROWS, max_cols=MAX_COLS)
            else:
                text = obj.to_string(max_rows=MAX_ROWS)
        except Exception:  # noqa: BLE001 - a log line must never fail the run
            text = repr(obj)
        return _shorten(text)
    if hasattr(obj, "_repr_markdown_"):
        try:
            md = obj._repr_markdown_()
        except Exception:  # noqa: BLE001
            md = None
        if isinstance(md, tuple):  # (data, metadata)
            md = md[0]
        if isinstance(md, str):
            return _shorten(md)
    data = getattr(obj, "data", None)
    if isinstance(data, str):
        return _shorten(data)
    try:
        return _shorten(repr(obj))
    except Exception:  # noqa: BLE001
        return f"<{name} object>"


def display(*objs: Any, **kwargs: Any) -> None:
    """Print a short text form of every object (IPython's ``display`` for a log)."""
    if kwargs.get("raw"):  # raw mime bundles (e.g. from myst_nb): nothing readable to print
        return
    for obj in objs:
        print(text_form(obj), flush=True)


def clear_output(wait: bool = False) -> None:
    """Nothing to clear in a log."""


class _DisplayObject:
    def __init__(self, data: Any = None, url: str | None = None, filename: str | None = None,
                 metadata: Any = None) -> None:
        if data is None and filename is not None:
            data = Path(filename).read_text()
        self.data = data if data is not None else (url or "")
        self.url, self.filename, self.metadata = url, filename, metadata

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.data!r})"


class Markdown(_DisplayObject):
    """Stand-in for ``IPython.display.Markdown``."""

    def _repr_markdown_(self) -> str:
        return str(self.data)


class HTML(_DisplayObject):
    """Stand-in for ``IPython.display.HTML``."""

    def _repr_html_(self) -> str:
        return str(self.data)


def install_ipython_stub() -> dict[str, Any]:
    """Put a minimal ``IPython`` and ``IPython.display`` into :data:`sys.modules` (``display``,
    ``Markdown``, ``HTML``, ``clear_output``). Returns the previous entries (:data:`_ABSENT`
    for absent ones; an entry may also be ``None``, which blocks the import), which
    :func:`_restore_modules` puts back."""
    saved = {name: sys.modules.get(name, _ABSENT) for name in ("IPython", "IPython.display")}
    pkg = types.ModuleType("IPython")
    pkg.__doc__ = "grokkit.book.headless's stand-in for IPython (text-only displays)."
    pkg.__path__ = []  # a package, so ``import IPython.display`` works
    disp = types.ModuleType("IPython.display")
    disp.__doc__ = "grokkit.book.headless's stand-in for IPython.display."
    for name, obj in (("display", display), ("Markdown", Markdown), ("HTML", HTML),
                      ("clear_output", clear_output)):
        setattr(disp, name, obj)
    pkg.display = disp  # type: ignore[attr-defined]
    # What libraries probe: no shell is running (matplotlib, pandas, tqdm call get_ipython()), and a
    # recent version, so matplotlib skips its fix-ups for IPython < 8.24 (which import IPython.core).
    pkg.get_ipython = lambda: None  # type: ignore[attr-defined]
    pkg.version_info = (99, 0, 0, "headless-stub")  # type: ignore[attr-defined]
    pkg.__version__ = "99.0.0+headless-stub"
    sys.modules["IPython"] = pkg
    sys.modules["IPython.display"] = disp
    return saved


def _restore_modules(saved: dict[str, Any]) -> None:
    for name, module in saved.items():
        if module is _ABSENT:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


@contextlib.contextmanager
def _text_displays() -> Iterator[None]:
    """Text-only displays for the duration of the run: the stand-in when IPython is absent,
    otherwise IPython's own classes with ``display``/``clear_output`` swapped for the text ones.
    myst_nb is hidden, so ``glue`` does nothing (and starts no IPython shell)."""
    saved_modules: dict[str, Any] = {"myst_nb": sys.modules.get("myst_nb", _ABSENT)}
    patched: list[tuple[Any, str, Any]] = []
    try:
        import IPython.display as ipy_display  # type: ignore[import-not-found]
    except ImportError:
        ipy_display = None
    if ipy_display is None or getattr(ipy_display, "display", None) is display:
        saved_modules.update(install_ipython_stub())
    else:
        for name, obj in (("display", display), ("clear_output", clear_output)):
            patched.append((ipy_display, name, getattr(ipy_display, name, None)))
            setattr(ipy_display, name, obj)
    sys.modules["myst_nb"] = None  # type: ignore[assignment]  # makes ``import myst_nb`` fail
    try:
        yield
    finally:
        for module, name, old in reversed(patched):
            setattr(module, name, old)
        _restore_modules(saved_modules)


def _use_agg() -> None:
    """Force matplotlib's non-interactive Agg backend (before any cell imports pyplot)."""
    os.environ["MPLBACKEND"] = "Agg"
    try:
        import matplotlib
    except ImportError:
        return
    matplotlib.use("Agg", force=True)


def _close_figures() -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        with contextlib.suppress(Exception):
            plt.close("all")


# ---------------------------------------------------------------- running cells
def _compile_cell(source: str, filename: str) -> tuple[types.CodeType | None, types.CodeType | None]:
    """Compile a cell into (body, last expression): like Jupyter, a trailing expression
    statement is evaluated separately so its value can be shown (not when it ends with ``;``)."""
    # Register the source so tracebacks show the cell's lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tree = ast.parse(source, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not source.rstrip().endswith(";"):
        last = ast.Expression(tree.body.pop().value)
    body = compile(tree, filename, "exec")
    return body, (compile(last, filename, "eval") if last is not None else None)


def _run_cell(cell: Cell, namespace: dict[str, Any]) -> None:
    body, last = _compile_cell(cell.source, f"<cell {cell.index}>")
    exec(body, namespace)  # noqa: S102 - running the notebook is the point
    if last is not None:
        value = eval(last, namespace)  # noqa: S307
        if value is not None:
            display(value)


def _parameter_source(params: dict[str, Any]) -> str:
    """The overrides as papermill writes its injected cell (the chapters read the names from it)."""
    return "# Parameters\n" + "".join(f"{name} = {value!r}\n" for name, value in params.items())


def run_notebook(path: str | os.PathLike[str], params: dict[str, Any] | None = None,
                 cells_until: str | None = None, keep_going: bool = False) -> int:
    """Execute the code cells of the notebook at ``path`` in one namespace; returns the exit
    status (0: every cell ran, 1: a cell failed). See the module's docstring."""
    path = Path(path).resolve()
    params = dict(params or {})
    cells = read_cells(path)
    if cells_until is not None and not any(cells_until in c.tags for c in cells):
        print(f"[headless] warning: no cell is tagged {cells_until!r}; running every cell",
              file=sys.stderr, flush=True)
    if params and not any("parameters" in c.tags for c in cells):
        print("[headless] warning: no cell is tagged 'parameters'; the overrides run before the first cell",
              file=sys.stderr, flush=True)
    # ``In`` is IPython's input history: the chapters read from it which parameters were set
    # (grokkit.book.parameters.Parameters.read), so every cell run here is appended to it.
    history: list[str] = [""]
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__,
                                 "__file__": str(path), "In": history}
    _use_agg()
    # Relative entries of sys.path would move with the working directory.
    sys.path[:] = [os.getcwd() if p == "" else p for p in sys.path]
    failed: list[int] = []
    start = time.perf_counter()
    old_cwd = os.getcwd()
    print(f"[headless] {path.name}: {len(cells)} code cells"
          + (f", parameters {params}" if params else ""), flush=True)
    try:
        os.chdir(path.parent)
        with _text_displays():
            if params and not any("parameters" in c.tags for c in cells):
                history.append(_parameter_source(params))
                exec(history[-1], namespace)  # noqa: S102
            for n, cell in enumerate(cells, 1):
                print(f"[cell {cell.index}] ({n}/{len(cells)}) {cell.first_line[:100]}", flush=True)
                t0 = time.perf_counter()
                ok = True
                try:
                    history.append(cell.source)
                    _run_cell(cell, namespace)
                    if "parameters" in cell.tags and params:
                        print(f"[cell {cell.index}] injected parameters: "
                              + ", ".join(f"{k} = {v!r}" for k, v in params.items()), flush=True)
                        history.append(_parameter_source(params))
                        exec(history[-1], namespace)  # noqa: S102
                except Exception:  # noqa: BLE001 - reported, then stop or go on
                    ok = False
                    failed.append(cell.index)
                    sys.stdout.flush()
                    print(f"[cell {cell.index}] FAILED after {time.perf_counter() - t0:.2f} s:",
                          file=sys.stderr, flush=True)
                    traceback.print_exc()
                    sys.stderr.flush()
                finally:
                    _close_figures()
                if ok:
                    print(f"[cell {cell.index}] done in {time.perf_counter() - t0:.2f} s", flush=True)
                elif not keep_going:
                    break
                if cells_until is not None and cells_until in cell.tags:
                    print(f"[headless] stopping after cell {cell.index} (tagged {cells_until!r})", flush=True)
                    break
    finally:
        os.chdir(old_cwd)
    total = time.perf_counter() - start
    if failed:
        print(f"[headless] FAILED: cell(s) {', '.join(map(str, failed))} of {path.name} "
              f"({total:.1f} s)", file=sys.stderr, flush=True)
        return 1
    print(f"[headless] finished {path.name} in {total:.1f} s", flush=True)
    return 0


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m grokkit.book.headless",
        description="Execute a chapter notebook's code cells in order as plain Python "
                    "(no Jupyter, papermill, IPython or myst_nb needed), e.g. to train its runs on a GPU server.")
    ap.add_argument("notebook", help="the .ipynb file")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="override a parameter (after the cell tagged 'parameters'); VALUE is a Python "
                         "literal or else a string. Repeatable.")
    ap.add_argument("--cells-until", metavar="TAG", default=None,
                    help="stop after the first cell tagged TAG (default: run all cells)")
    ap.add_argument("--keep-going", action="store_true",
                    help="after a failing cell, go on with the next one (the exit status is still 1)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if not Path(args.notebook).is_file():
        print(f"[headless] no such notebook: {args.notebook}", file=sys.stderr)
        return 2
    params = {name: parse_value(value) for name, value in args.parameter}
    return run_notebook(args.notebook, params, cells_until=args.cells_until, keep_going=args.keep_going)


if __name__ == "__main__":
    sys.exit(main())
