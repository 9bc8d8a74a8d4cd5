"""The run explorer: browse the seeds of any cell of any chapter's sweep, with or without a kernel.

Every chapter writes a *run manifest*, ``<results_dir>/<chapter>.runs.json``
(:func:`grokkit.book.results.write_manifest`): for each of its sweeps, the label names (``rho``,
``lr``, ``p``, ...) and every run's key with its label values. A **cell** of a sweep is one
combination of label values; its runs differ by seed. The explorer shows, for the seeds of one
cell, test and train accuracy, the weight norm and the logit scale against the step, with T_mem
and T_grok marked, and under the figure the cell's counts (grokked, censored, diverged) and its
Kaplan-Meier median T_grok with a bootstrap CI (censored and diverged runs count as not yet
grokked, as in the chapters: :func:`grokkit.analysis.cells.grok_times`,
:func:`grokkit.analysis.stats.censored_median`).

The machinery, and why
----------------------
The panel is a small self-contained script (:data:`PANEL_JS`, about 18 kB, no library) that
draws the figure as SVG and fills ``<select>`` controls from plain data. Python precomputes
everything that needs the analysis code (which runs form each cell, their statuses, the
censored median and its CI, the summary line), so the browser only picks and draws. Why this
and not the alternatives:

* **It works where most readers are: the static book opened from disk.** There is no kernel
  and no server, and Chromium refuses ``fetch()`` of ``file://`` URLs; the data therefore
  arrives as ``<script src=...>`` files, one per chapter (``explorer/<chapter>.js`` in the
  built book), loaded when the reader picks that chapter. ipywidgets with ``jslink`` can only
  switch between outputs rendered in advance: every cell of every sweep (260 in the book today)
  would be a saved figure, plus a 1.9 MB widget manager; Vega-Lite (vega, vega-lite, vega-embed:
  about 1 MB of vendored JavaScript) would need its data inlined or fetched (blocked on
  ``file://``) and a specification per chapter; anywidget needs a kernel to load its module.
* **A chapter added later appears by itself**: the page offers every chapter whose run manifest
  is in ``results/`` when the book is built, and each sweep's cells come from the manifest.
* **Light.** The page carries the script and an index of the chapters; a chapter's data is a
  few hundred kB (the page states the numbers when the book is built). Trajectories are thinned
  to at most :data:`MAX_POINTS` evaluations per run (half log-spaced, half evenly spaced, as the
  store does), always keeping T_mem, T_grok, the last step and the evaluation just before
  T_mem and T_grok, so no jump is drawn across either (:func:`thin`).
* **No request leaves the machine**: no CDN, no web font, nothing fetched but the chapter files
  next to the page.
* **The same panel lives in Jupyter.** :func:`explore` returns a :class:`Panel` whose HTML holds
  the same script with every chapter's data inlined (a few MB in all: the price of needing no
  server); Jupyter runs the script of a trusted output, so the controls work in a live notebook
  without a round trip to the kernel.

Layers, so that everything but the drawing is testable without a browser:

* manifests and cells: :func:`load_manifests`, :func:`cells`, :func:`label_values`,
  :func:`format_value`, :func:`cell_keys`;
* :func:`cell_view` (pure: a manifest, a sweep, a cell, a store in; the cell's runs, their
  trajectories, counts, median T_grok and summary out);
* :func:`chapter_data` (what the panel draws, for one chapter) and :func:`write_book_data`
  (those as ``explorer/<chapter>.js`` files in the folder the book build copies into its output);
* :func:`book_panel` (the book's explorer page) and :func:`explore` (a live notebook).

``import grokkit`` does not import this module; ``grokkit.explore`` loads it on first use.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..runs.store import RunStore, downsample, flatten_record
from .results import project_root, site_folder
from .tables import LABELS

#: A chapter's run manifest is ``<results_dir>/<chapter><MANIFEST_SUFFIX>``.
MANIFEST_SUFFIX = ".runs.json"

#: The series the panel draws (and the trajectory columns :func:`chapter_data` keeps).
SERIES = ("step", "test_acc", "train_acc", "norm", "logit_scale")

#: Evaluations kept per run for the panel (before T_mem, T_grok and their predecessors are added).
MAX_POINTS = 100

#: Bootstrap resamples behind each cell's CI of the median T_grok.
N_BOOT = 1000

#: Where the book's explorer data go, inside the folder the build copies into its output.
DATA_FOLDER = "explorer"


# --------------------------------------------------------------------------- manifests
def results_folder(results_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the manifests are read from: ``results_dir``, else ``$GROKKIT_RESULTS``, else the
    project's ``results/`` (the folder the chapters write to). Nothing is created."""
    if results_dir is not None:
        return Path(results_dir)
    env = os.environ.get("GROKKIT_RESULTS")
    if env:
        return Path(env)
    return (project_root() or Path.cwd()) / "results"


def load_manifests(results_dir: str | os.PathLike[str] | None = None) -> dict[str, dict]:
    """Every readable run manifest in the results folder, keyed by chapter, in chapter order.

    A file that is not valid JSON or lacks ``sweeps`` is left out (see :func:`unreadable_manifests`).
    """
    out: dict[str, dict] = {}
    folder = results_folder(results_dir)
    for path in sorted(folder.glob(f"*{MANIFEST_SUFFIX}")) if folder.is_dir() else []:
        manifest = _read_manifest(path)
        if manifest is not None:
            out[str(manifest.get("chapter") or path.name[: -len(MANIFEST_SUFFIX)])] = manifest
    return out


def unreadable_manifests(results_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """File names of the manifests in the results folder that :func:`load_manifests` skips."""
    folder = results_folder(results_dir)
    paths = sorted(folder.glob(f"*{MANIFEST_SUFFIX}")) if folder.is_dir() else []
    return [p.name for p in paths if _read_manifest(p) is None]


def _read_manifest(path: Path) -> dict | None:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sweeps"), dict):
        return None
    return manifest


def no_manifests_message(results_dir: str | os.PathLike[str] | None = None) -> str:
    """What to do when there is nothing to explore."""
    folder = _display_path(results_folder(results_dir))
    bad = unreadable_manifests(results_dir)
    text = (
        f"No run manifests found in {folder}. Each chapter writes one (<chapter>{MANIFEST_SUFFIX}) when it "
        "runs: build the book (jupyter-book build .) or run the chapters (e.g. papermill "
        "chapters/02_pinned_norm_law.ipynb out.ipynb), then open the explorer again."
    )
    if bad:
        text += f" Unreadable manifests skipped: {', '.join(bad)}."
    return text


def _display_path(path: Path) -> str:
    """``path`` relative to the project (``results/``) when it lies inside it."""
    root = project_root()
    try:
        return str(path.resolve().relative_to(root)) + "/" if root is not None else str(path)
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- cells
def _same(a: Any, b: Any) -> bool:
    """Label values are equal (numbers up to float round-off; 1 == 1.0)."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b or (type(a) is type(b) and a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def _sweep(manifest: Mapping[str, Any], sweep: str) -> dict:
    sweeps = manifest.get("sweeps", {})
    if sweep not in sweeps:
        raise ValueError(f"sweep={sweep!r} is not a sweep of chapter {manifest.get('chapter')!r}; "
                         f"its sweeps are {list(sweeps)}")
    return sweeps[sweep]


def label_values(manifest: Mapping[str, Any], sweep: str) -> dict[str, list]:
    """For each label of ``sweep``, its distinct values in sorted order."""
    entry = _sweep(manifest, sweep)
    out = {}
    for label in entry.get("labels", []):
        values: list = []
        for run in entry.get("runs", []):
            v = run.get(label)
            if not any(_same(v, w) for w in values):
                values.append(v)
        out[label] = sorted(values, key=_sort_key)
    return out


def cells(manifest: Mapping[str, Any], sweep: str) -> list[dict[str, Any]]:
    """The cells of ``sweep`` (the label combinations that have runs), in sorted order."""
    entry = _sweep(manifest, sweep)
    labels = entry.get("labels", [])
    found: list[dict] = []
    for run in entry.get("runs", []):
        cell = {label: run.get(label) for label in labels}
        if not any(all(_same(cell[k], c[k]) for k in labels) for c in found):
            found.append(cell)
    return sorted(found, key=lambda c: tuple(_sort_key(c[k]) for k in labels))


def _resolve_cell(manifest: Mapping[str, Any], sweep: str, cell: Mapping[str, Any]) -> dict[str, Any]:
    """``cell`` with every label of the sweep, given values snapped to the manifest's own values.

    Labels left out take the first value of the sweep's first cell that matches the given ones.
    """
    values = label_values(manifest, sweep)
    unknown = [k for k in cell if k not in values]
    if unknown:
        raise ValueError(f"{unknown[0]}= is not a label of sweep {sweep!r}; its labels are {list(values)}")
    out: dict[str, Any] = {}
    for label, given in cell.items():
        match = [v for v in values[label] if _same(v, given)]
        if not match:
            shown = ", ".join(format_value(label, v) for v in values[label])
            raise ValueError(f"{label}={given!r} is not a value of sweep {sweep!r}; its values are {shown}")
        out[label] = match[0]
    fitting = [c for c in cells(manifest, sweep) if all(_same(c[k], v) for k, v in out.items())]
    first = fitting[0] if fitting else {k: v[0] for k, v in values.items() if v}
    return {label: out.get(label, first.get(label)) for label in values}


def format_value(label: str, value: Any) -> str:
    """A label value as the explorer shows it: ρ with 2 decimals, learning rates as ``1e-3``,
    integers as integers, other numbers with 3 significant digits."""
    if value is None:
        return "none"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    integral = label in ("p", "seed") or label.startswith("d_")
    if isinstance(value, int) or (integral and float(value).is_integer()):
        return str(int(value))
    v = float(value)
    if label.startswith("rho") or label == "train_frac":
        return f"{v:.2f}"
    if label in ("lr", "eps") or label.endswith("_lr") or (v != 0 and abs(v) < 1e-2):
        mantissa, exponent = f"{v:.2e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{v:.3g}"


def format_values(label: str, values: Sequence[Any]) -> list[str]:
    """:func:`format_value` of each value, with more digits where two values would read the same."""
    shown = [format_value(label, v) for v in values]
    if len(set(shown)) < len(shown):
        shown = [s if shown.count(s) == 1 or not isinstance(v, float) else f"{v:.6g}" for s, v in zip(shown, values)]
    return shown


def label_name(label: str) -> str:
    """A label's display name (``rho`` -> ``ρ``)."""
    return LABELS.get(label, label.replace("_", " "))


def describe_cell(cell: Mapping[str, Any]) -> str:
    """``ρ = 1.00, lr = 1e-3``."""
    return ", ".join(f"{label_name(k)} = {format_value(k, v)}" for k, v in cell.items()) or "all runs"


def cell_keys(manifest: Mapping[str, Any], sweep: str, cell: Mapping[str, Any]) -> list[str]:
    """The keys (deduplicated, in manifest order) of the runs of ``sweep`` in ``cell``."""
    entry = _sweep(manifest, sweep)
    keys = [r["key"] for r in entry.get("runs", []) if all(_same(r.get(k), v) for k, v in cell.items())]
    return list(dict.fromkeys(keys))


# --------------------------------------------------------------------------- the view of one cell
@dataclass
class CellView:
    """One cell of one sweep, as the explorer shows it.

    ``runs``: the store's table rows of the cell's runs (sorted by seed; runs missing from
    the store are left out and counted in ``missing``); ``trajectories``: their stored
    trajectories in long form; ``summary``: the line of text shown under the figure (or instead
    of it: why there is nothing to draw); ``median_t_grok`` with ``ci`` (lo, hi): the cell's
    Kaplan-Meier median T_grok and its 95 % bootstrap CI (NaN when no run grokked or more than
    half did not; ``hi`` is infinite when the CI is open above).
    """

    chapter: str
    sweep: str
    cell: dict[str, Any]
    keys: list[str]
    runs: pd.DataFrame
    trajectories: pd.DataFrame
    missing: int
    summary: str
    counts: dict[str, int] = field(default_factory=dict)
    median_t_grok: float = float("nan")
    ci: tuple[float, float] = (float("nan"), float("nan"))


def cell_view(manifest: Mapping[str, Any], sweep: str, cell: Mapping[str, Any] | None = None,
              store: RunStore | str | os.PathLike[str] | None = None) -> CellView:
    """The runs of one cell of a chapter's sweep, their trajectories, counts and a summary line.

    Parameters
    ----------
    manifest : mapping
        A chapter's run manifest (see :func:`load_manifests`).
    sweep : str
        One of the manifest's sweeps (``"dense"``, ``"matrix"``, ...).
    cell : mapping, optional
        Label values (``{"rho": 1.0}``); labels left out match any value. Values must be values
        of the sweep (floats match up to round-off).
    store : RunStore or path, optional
        The run store (default: the project's ``data/runs``).
    """
    store = store if isinstance(store, RunStore) else RunStore(store)
    chapter = str(manifest.get("chapter", ""))
    _sweep(manifest, sweep)
    cell = dict(cell or {})
    labels = list(label_values(manifest, sweep))
    unknown = [k for k in cell if k not in labels]
    if unknown:
        raise ValueError(f"{unknown[0]}= is not a label of sweep {sweep!r}; its labels are {labels}")
    keys = cell_keys(manifest, sweep, cell)
    present = [k for k in keys if k in store]
    runs = store.table(present).sort_values(["seed", "key"], kind="stable").reset_index(drop=True) \
        if present else store.table([])
    summary, counts, median = _summarize(describe_cell(cell), chapter, sweep, runs, len(keys), store)
    traj = store.trajectories(list(runs["key"])) if present else pd.DataFrame(columns=["key", "step"])
    return CellView(chapter, sweep, cell, keys, runs, traj, len(keys) - len(present), summary, counts,
                    median[0], (median[1], median[2]))


def _summarize(what: str, chapter: str, sweep: str, runs: pd.DataFrame, n_keys: int,
               store: RunStore) -> tuple[str, dict[str, int], tuple[float, float, float]]:
    """The summary line, counts and (median, lo, hi) of T_grok of a cell whose stored runs are ``runs``."""
    nan3 = (math.nan, math.nan, math.nan)
    missing = n_keys - len(runs)
    if not n_keys:
        return f"No runs in this cell: sweep {sweep!r} has no run with {what}.", {}, nan3
    if runs.empty:
        return (f"None of the {missing} runs of this cell ({what}) is in the run store "
                f"({_display_path(store.root)}): run chapter {chapter!r} with training allowed to train them.",
                {}, nan3)
    counts = {"runs": len(runs), **{s: int(runs["status"].eq(s).sum()) for s in ("grokked", "censored", "diverged")}}
    median, text = _median(runs)
    summary = (f"{what}: {counts['runs']} runs ({_seeds(runs['seed'])}): {counts['grokked']} grokked, "
               f"{counts['censored']} censored, {counts['diverged']} diverged; {text}.")
    if missing:
        summary += f" {missing} of the cell's {n_keys} runs are missing from the run store and not shown."
    return summary, counts, median


def _seeds(seeds: pd.Series) -> str:
    s = sorted(int(x) for x in seeds)
    if s == list(range(s[0], s[-1] + 1)) and len(s) > 2:
        return f"seeds {s[0]}–{s[-1]}"
    return ("seed " if len(s) == 1 else "seeds ") + ", ".join(map(str, s))


def _median(runs: pd.DataFrame) -> tuple[tuple[float, float, float], str]:
    """The Kaplan-Meier median of T_grok with its bootstrap CI (censored and diverged runs count
    as not yet grokked), and the words for it."""
    from ..analysis.cells import grok_times
    from ..analysis.stats import censored_median

    t, events = grok_times(runs)
    nan3 = (math.nan, math.nan, math.nan)
    if not events.any():
        return nan3, "no run grokked (median T_grok beyond the budget)"
    med = censored_median(t, events, n_boot=N_BOOT)
    if not np.isfinite(med.median):
        return nan3, "median T_grok beyond the budget (more than half did not grok)"
    hi = "∞" if not np.isfinite(med.hi) else f"{med.hi:,.0f}"
    return ((float(med.median), float(med.lo), float(med.hi)),
            f"median T_grok {med.median:,.0f} steps (95% CI {med.lo:,.0f}–{hi}; Kaplan–Meier)")


# --------------------------------------------------------------------------- the panel's data
def thin(trajectory: Mapping[str, Sequence[Any]], keep_steps: set[int], max_points: int = MAX_POINTS) -> dict[str, list]:
    """At most about ``max_points`` evaluations of a stored trajectory (the store's scheme: half
    log-spaced, half evenly spaced, the first and the last), plus every step in ``keep_steps``
    and the evaluation just before each of them, so that a jump at T_mem or T_grok is drawn
    between the two evaluations that bracket it, never across thinned-out points."""
    steps = list(trajectory.get("step", []))
    keep = set(keep_steps)
    for i, s in enumerate(steps):
        if s in keep_steps and i > 0:
            keep.add(steps[i - 1])
    return downsample(trajectory, keep, max_points)


def _sig(v: Any, digits: int = 4) -> Any:
    """``v`` with ``digits`` significant digits (None for missing or non-finite values)."""
    if v is None:
        return None
    v = float(v)
    if not math.isfinite(v):
        return None
    return float(f"{v:.{digits}g}")


def _run_data(record: Mapping[str, Any], max_points: int) -> dict[str, Any]:
    """One run as the panel draws it: seed, status, T_mem, T_grok, thresholds and thinned series."""
    s = record["summary"]
    cfg = record["config"]
    traj = {k: record["trajectory"][k] for k in SERIES if k in record["trajectory"]}
    keep = {int(s[k]) for k in ("t_mem", "t_grok", "final_step", "diverged_at") if s.get(k) is not None}
    thinned = thin(traj, keep, max_points)
    out: dict[str, Any] = {"seed": cfg.get("seed"), "status": s.get("status"), "t_mem": s.get("t_mem"),
                           "t_grok": s.get("t_grok"), "thr": [cfg.get("mem_threshold"), cfg.get("grok_threshold")]}
    for name, values in thinned.items():
        if name == "step":
            out[name] = [int(v) for v in values]
        else:
            out[name] = [_sig(v, 3 if name.endswith("_acc") else 4) for v in values]
    return out


def chapter_data(manifest: Mapping[str, Any], store: RunStore | str | os.PathLike[str] | None = None, *,
                 max_points: int = MAX_POINTS) -> dict[str, Any]:
    """Everything the panel needs to show every cell of one chapter's sweeps, as plain data.

    ``{"chapter", "title", "runs": {key: run}, "sweeps": [sweep]}``; a run holds its seed,
    status, T_mem, T_grok, thresholds and its thinned series (:data:`SERIES`, :func:`thin`); a
    sweep its ``name``, ``labels``, their display ``names``, the formatted ``values`` of each
    label in order and its ``cells``; a cell its value index per label (``at``), description
    (``d``), the keys of its stored runs in seed order, how many of its runs the store lacks, its
    counts, median T_grok and CI (``null`` for none / infinite) and the summary line.
    """
    store = store if isinstance(store, RunStore) else RunStore(store)
    chapter = str(manifest.get("chapter", ""))
    every = list(dict.fromkeys(r["key"] for e in manifest.get("sweeps", {}).values() for r in e.get("runs", [])))
    records = {}
    for key in every:
        if key in store:
            try:
                records[key] = store.load(key)
            except KeyError:  # damaged: moved aside by the store, counted as missing
                pass
    table = pd.DataFrame([flatten_record(r) for r in records.values()])
    if not table.empty:
        table = table.sort_values(["seed", "key"], kind="stable").set_index("key", drop=False)
    sweeps = []
    for name in manifest.get("sweeps", {}):
        values = label_values(manifest, name)
        labels = list(values)
        entry = {"name": name, "labels": labels, "names": [label_name(k) for k in labels],
                 "values": [format_values(k, values[k]) for k in labels], "cells": []}
        for cell in cells(manifest, name):
            keys = cell_keys(manifest, name, cell)
            present = {k for k in keys if k in records}
            runs = table.loc[[k for k in table.index if k in present]] if present else table.iloc[0:0]
            summary, counts, (med, lo, hi) = _summarize(describe_cell(cell), chapter, name, runs, len(keys), store)
            entry["cells"].append({
                "at": [next(i for i, v in enumerate(values[k]) if _same(v, cell[k])) for k in labels],
                "d": describe_cell(cell), "keys": list(runs["key"]) if present else [], "n": len(keys),
                "missing": len(keys) - len(present), "counts": counts,
                "median": _sig(med, 6), "lo": _sig(lo, 6), "hi": _sig(hi, 6) if math.isfinite(hi) else None,
                "summary": summary})
        sweeps.append(entry)
    return {"chapter": chapter, "title": manifest.get("title") or chapter,
            "runs": {k: _run_data(r, max_points) for k, r in records.items()}, "sweeps": sweeps}


def _json(data: Any) -> str:
    """Compact JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def data_script(data: Mapping[str, Any]) -> str:
    """A chapter's data as a script that registers it with the panel (``explorer/<chapter>.js``):
    a ``<script src>`` can load it from a page opened from disk, where ``fetch()`` cannot."""
    return (f"(window.grokkitExplorerData=window.grokkitExplorerData||{{}})[{json.dumps(data['chapter'])}]="
            f"{_json(data)};\n")


def data_folder(results_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`write_book_data` writes (created): ``explorer/`` in the folder that the book
    build copies into its output (:func:`grokkit.book.results.site_folder`)."""

    out = site_folder(results_dir) / DATA_FOLDER
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_book_data(results_dir: str | os.PathLike[str] | None = None,
                    store: RunStore | str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Write every chapter's :func:`chapter_data` as ``<site>/explorer/<chapter>.js`` (files of
    chapters without a manifest any more are removed); returns the index the panel opens with:
    one ``{"chapter", "title", "file", "bytes"}`` per chapter, in chapter order."""
    store = store if isinstance(store, RunStore) else RunStore(store)
    folder = data_folder(results_dir)
    index = []
    manifests = load_manifests(results_dir)
    for chapter, manifest in manifests.items():
        path = folder / f"{chapter}.js"
        path.write_text(data_script(chapter_data(manifest, store)), encoding="utf-8")
        index.append({"chapter": chapter, "title": manifest.get("title") or chapter, "file": path.name,
                      "bytes": path.stat().st_size})
    for stale in folder.glob("*.js"):
        if stale.stem not in manifests:
            stale.unlink()
    return index


# --------------------------------------------------------------------------- the panel
@dataclass
class Panel:
    """The explorer as HTML (the same panel in the book and in Jupyter, where it displays itself).

    ``chapters``: the index (chapter, title, data file, bytes); ``initial``: the selection it
    opens on; ``data``: the inlined chapter data (live panels; empty in the book, which loads
    ``explorer/<chapter>.js`` on demand); ``message``: why there is nothing to explore.
    """

    html: str
    chapters: list[dict[str, Any]] = field(default_factory=list)
    initial: dict[str, Any] = field(default_factory=dict)
    data: dict[str, dict] = field(default_factory=dict)
    message: str = ""

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.message or f"run explorer over {len(self.chapters)} chapters"

    @property
    def weight(self) -> dict[str, int]:
        """Bytes: ``panel`` (the panel's own HTML, script and index), then each chapter's data."""
        return {"panel": len(self.html.encode()), **{c["chapter"]: int(c.get("bytes", 0)) for c in self.chapters}}


_counter = itertools.count()


def _panel_html(index: list[dict[str, Any]], initial: Mapping[str, Any], *, base: str | None = None,
                inline: Mapping[str, Any] | None = None, logx: bool = False, use_hash: bool = False,
                downloads: str | None = None) -> str:
    uid = f"gkx-{os.getpid():x}-{next(_counter)}"
    config = {"chapters": index, "initial": dict(initial), "base": base, "logx": bool(logx), "hash": use_hash,
              "downloads": downloads, "inline": f"{uid}-data" if inline is not None else None}
    parts = [f'<div class="gkx" id="{uid}"><p class="gkx-status">Loading the run explorer…</p>',
             '<noscript>The run explorer needs JavaScript.</noscript></div>',
             f"<style>{PANEL_CSS}</style>", f"<script>{PANEL_JS}</script>"]
    if inline is not None:
        parts.append(f'<script type="application/json" id="{uid}-data">{_json(dict(inline))}</script>')
    parts.append(f"<script>window.grokkitExplorer.mount({json.dumps(uid)}, {_json(config)});</script>")
    return "\n".join(parts)


def _message_panel(text: str) -> Panel:
    return Panel(f"<p><b>Run explorer:</b> {html.escape(text)}</p>", message=text)


def _initial(manifests: Mapping[str, Mapping[str, Any]], chapter: str | None, sweep: str | None,
             cell: Mapping[str, Any], strict: bool, results_dir: Any) -> dict[str, Any]:
    """The selection a panel opens on: chapter, sweep and the formatted value of each label."""
    if not strict:
        chapter, sweep, cell = _available(manifests, chapter, sweep, cell)
    if chapter is None:
        chapter = next(iter(manifests))
    if chapter not in manifests:
        raise ValueError(f"chapter={chapter!r} has no run manifest in {_display_path(results_folder(results_dir))}; "
                         f"the chapters with one are {list(manifests)}")
    sweeps = list(manifests[chapter]["sweeps"])
    if not sweeps:
        if cell or sweep is not None:
            raise ValueError(f"chapter={chapter!r}: its run manifest lists no sweeps")
        return {"chapter": chapter}
    if sweep is None:
        sweep = sweeps[0]
    _sweep(manifests[chapter], sweep)
    resolved = _resolve_cell(manifests[chapter], sweep, cell)
    values = label_values(manifests[chapter], sweep)
    labels = {}
    for k, v in resolved.items():
        i = next(i for i, w in enumerate(values[k]) if _same(v, w))
        labels[k] = format_values(k, values[k])[i]
    return {"chapter": chapter, "sweep": sweep, "labels": labels}


def _available(manifests: Mapping[str, dict], chapter: str | None, sweep: str | None,
               cell: Mapping[str, Any]) -> tuple[str | None, str | None, dict[str, Any]]:
    """The part of a selection that the manifests have (what they lack is left to the defaults)."""
    if chapter not in manifests:
        return None, None, {}
    if sweep not in manifests[chapter]["sweeps"]:
        return chapter, None, {}
    values = label_values(manifests[chapter], sweep)
    return chapter, sweep, {k: v for k, v in cell.items() if k in values and any(_same(v, w) for w in values[k])}


def explore(results_dir: str | os.PathLike[str] | None = None, store: RunStore | str | os.PathLike[str] | None = None,
            *, chapter: str | None = None, sweep: str | None = None, logx: bool = False, strict: bool = True,
            **cell: Any) -> Panel:
    """The run explorer in a notebook: pick a chapter, a sweep and a cell, see its seeds.

    Parameters
    ----------
    results_dir : path, optional
        Where the chapters' run manifests are (default: ``$GROKKIT_RESULTS`` or ``results/``).
    store : RunStore or path, optional
        The run store (default: the project's ``data/runs``).
    chapter : str, optional
        The chapter shown first (``"02_pinned_norm_law"``); default: the first one.
    sweep : str, optional
        Its sweep shown first (``"dense"``); default: the chapter's first.
    logx : bool
        Start with a log step axis.
    strict : bool
        If False, a ``chapter``, ``sweep`` or cell value the manifests lack is replaced by the
        first available one instead of raising.
    **cell
        Label values of the cell shown first (``rho=1.0``); labels left out take the first value.

    Returns
    -------
    Panel
        Displays itself in Jupyter as the same panel as the book's explorer page, with every
        chapter's data inlined (the controls need no kernel). Without any manifest it holds only
        a message saying how to create them.

    Raises
    ------
    ValueError
        If ``chapter``, ``sweep`` or a cell label/value is not in the manifests.
    """
    manifests = load_manifests(results_dir)
    if not manifests:
        return _message_panel(no_manifests_message(results_dir))
    initial = _initial(manifests, chapter, sweep, cell, strict, results_dir)
    store = store if isinstance(store, RunStore) else RunStore(store)
    data = {c: chapter_data(m, store) for c, m in manifests.items()}
    index = [{"chapter": c, "title": m.get("title") or c, "file": None, "bytes": len(_json(data[c]).encode())}
             for c, m in manifests.items()]
    return Panel(_panel_html(index, initial, inline=data, logx=logx), index, initial, data)


def book_panel(results_dir: str | os.PathLike[str] | None = None,
               store: RunStore | str | os.PathLike[str] | None = None, *, chapter: str | None = None,
               sweep: str | None = None, logx: bool = False, base: str = "../", **cell: Any) -> Panel:
    """The book's explorer page: writes every chapter's data (:func:`write_book_data`) and returns
    the panel that loads them from ``<base>explorer/<chapter>.js`` when the reader picks a chapter.
    The selection it opens on is lenient (``strict=False`` in :func:`explore`); the page's URL
    fragment (``#chapter=…&sweep=…&rho=1.00``) overrides it and follows the reader's choices."""
    manifests = load_manifests(results_dir)
    if not manifests:
        return _message_panel(no_manifests_message(results_dir))
    index = write_book_data(results_dir, store)
    initial = _initial(manifests, chapter, sweep, cell, False, results_dir)
    html_text = _panel_html(index, initial, base=f"{base}{DATA_FOLDER}/", logx=logx, use_hash=True,
                            downloads=f"{base}downloads/")
    return Panel(html_text, index, initial)


def weight_note(panel: Panel) -> str:
    """The page weight in words (Markdown): the panel's own bytes and each chapter's data."""
    if not panel.chapters:
        return ""
    sizes = panel.weight
    per = ", ".join(f"{c['title'].split('. ', 1)[0]}: {_kb(sizes[c['chapter']])}" for c in panel.chapters)
    total = sum(v for k, v in sizes.items() if k != "panel")
    return (f"**Weight.** The panel (its script, style and index) adds {_kb(sizes['panel'])} to this page; "
            f"a chapter's data ({_kb(total)} for all {len(panel.chapters)}) loads only when you pick the "
            f"chapter — by chapter: {per}.")


def _kb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"


# --------------------------------------------------------------------------- the browser side
PANEL_CSS = """
.gkx{font-size:0.92rem;margin:0.5rem 0 1rem;color:#222}
.gkx .gkx-controls{display:flex;flex-wrap:wrap;gap:0.4rem 1rem;align-items:center;margin-bottom:0.4rem}
.gkx label{display:inline-flex;align-items:center;gap:0.35rem;white-space:nowrap}
.gkx select{font:inherit;padding:0.1rem 0.25rem;max-width:26rem;background:#fff;color:#222;border:1px solid #999;border-radius:3px}
.gkx svg{width:100%;max-width:820px;height:auto;display:block;background:#fff}
.gkx svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#222}
.gkx .gkx-legend{display:flex;flex-wrap:wrap;gap:0.15rem 1.1rem;font-size:0.85rem;margin:0.3rem 0;max-width:820px}
.gkx .gkx-legend span{white-space:nowrap}
.gkx .gkx-summary{margin:0.3rem 0;max-width:820px}
.gkx .gkx-status{color:#555;font-style:italic}
.gkx .gkx-sw{display:inline-block;width:1.4em;height:0;border-top:3px solid;vertical-align:middle;margin-right:0.3em}
"""

#: The panel's script: builds the controls, loads a chapter's data (inlined, or an
#: ``explorer/<chapter>.js`` file added as a ``<script>``), draws a cell as SVG.
PANEL_JS = r"""
(function () {
  "use strict";
  var VERSION = 1;
  if (window.grokkitExplorer && window.grokkitExplorer.version >= VERSION) { return; }
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494",
                "#ece133", "#56b4e9"];
  var DATA = window.grokkitExplorerData = window.grokkitExplorerData || {};
  var loading = {};
  var PANELS = [["acc", "accuracy"], ["norm", "weight norm \u2016W\u2016"], ["logit_scale", "logit scale L"]];

  function h(tag, attrs, parent, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function s(tag, attrs, parent, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs || {}) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function int(x) { return x === null || x === undefined ? "\u2014" : Math.round(x).toLocaleString("en-US"); }
  function stepText(x) {
    if (Math.abs(x) >= 1000) { return String(+(x / 1000).toPrecision(3)) + "k"; }
    return String(+x.toPrecision(3));
  }
  function numText(x) {
    var a = Math.abs(x);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) { return x.toExponential(1).replace("e+", "e"); }
    return String(+x.toPrecision(3));
  }
  function niceTicks(lo, hi, n) {
    var span = hi - lo, raw = span / Math.max(1, n), mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; }).filter(function (v) { return v >= raw; })[0];
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) { out.push(+v.toPrecision(12)); }
    return out;
  }
  function logTicks(lo, hi) {
    var out = [], a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
    var mult = b - a <= 2 ? [1, 2, 5] : b - a <= 4 ? [1, 3] : [1];
    for (var e = a; e <= b; e++) {
      mult.forEach(function (m) { var v = m * Math.pow(10, e); if (v >= lo * 0.999 && v <= hi * 1.001) { out.push(v); } });
    }
    return out;
  }
  function scale(lo, hi, a, b, log) {
    if (log) { lo = Math.log10(lo); hi = Math.log10(hi); }
    var k = hi > lo ? (b - a) / (hi - lo) : 0;
    return function (v) { return a + ((log ? Math.log10(v) : v) - lo) * k; };
  }
  function interp(xs, ys, x) {
    for (var i = 0; i < xs.length; i++) {
      if (xs[i] === x) { return ys[i]; }
      if (xs[i] > x) {
        if (i === 0 || ys[i] === null || ys[i - 1] === null) { return ys[i]; }
        return ys[i - 1] + (ys[i] - ys[i - 1]) * (x - xs[i - 1]) / (xs[i] - xs[i - 1]);
      }
    }
    return ys.length ? ys[ys.length - 1] : null;
  }
  function star(x, y, r) {
    var pts = [];
    for (var i = 0; i < 10; i++) {
      var a = -Math.PI / 2 + i * Math.PI / 5, q = i % 2 ? r * 0.45 : r;
      pts.push((x + q * Math.cos(a)).toFixed(1) + "," + (y + q * Math.sin(a)).toFixed(1));
    }
    return pts.join(" ");
  }
  function parseHash() {
    var out = {};
    (window.location.hash || "").replace(/^#/, "").split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) { out[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1)); }
    });
    return out;
  }

  function loadChapter(cfg, entry) {
    var ch = entry.chapter;
    if (DATA[ch]) { return Promise.resolve(DATA[ch]); }
    if (!cfg.base || !entry.file) { return Promise.reject(new Error("no data for chapter " + ch)); }
    if (!loading[ch]) {
      loading[ch] = new Promise(function (resolve, reject) {
        var el = document.createElement("script");
        el.src = cfg.base + entry.file;
        el.onload = function () {
          if (DATA[ch]) { resolve(DATA[ch]); } else { delete loading[ch]; reject(new Error(el.src + " holds no data")); }
        };
        el.onerror = function () { delete loading[ch]; reject(new Error("could not load " + el.src)); };
        document.head.appendChild(el);
      });
    }
    return loading[ch];
  }

  function Explorer(root, cfg) {
    this.root = root; this.cfg = cfg;
    this.data = null; this.sweep = 0; this.at = []; this.cell = -1;
    root.innerHTML = "";
    var bar = h("div", {"class": "gkx-controls"}, root);
    var self = this;
    function labelled(text, parent) { var l = h("label", {}, parent || bar); h("span", {}, l, text); return l; }
    this.chapterSel = h("select", {"class": "gkx-chapter", "aria-label": "chapter"}, labelled("chapter"));
    cfg.chapters.forEach(function (c) { h("option", {value: c.chapter}, self.chapterSel, c.title); });
    this.sweepSel = h("select", {"class": "gkx-sweep", "aria-label": "sweep"}, labelled("sweep"));
    this.labelBox = h("span", {"class": "gkx-controls gkx-labels"}, bar);
    this.labelBox.style.margin = "0";
    var lg = h("label", {}, bar);
    this.logBox = h("input", {type: "checkbox", "class": "gkx-log"}, lg);
    h("span", {}, lg, "log step axis");
    this.logBox.checked = !!cfg.logx;
    this.status = h("p", {"class": "gkx-status"}, root);
    this.figure = h("div", {"class": "gkx-figure"}, root);
    this.legend = h("div", {"class": "gkx-legend"}, root);
    this.summary = h("p", {"class": "gkx-summary"}, root);
    this.chapterSel.addEventListener("change", function () { self.setChapter(self.chapterSel.value, {}); });
    this.sweepSel.addEventListener("change", function () { self.setSweep(+self.sweepSel.value, self.wanted()); });
    this.logBox.addEventListener("change", function () { self.draw(true); });
    if (cfg.hash) {
      window.addEventListener("hashchange", function () { self.fromHash(); });
    }
  }
  Explorer.prototype.fromHash = function () {
    var q = parseHash();
    if (!q.chapter || !this.cfg.chapters.some(function (c) { return c.chapter === q.chapter; })) { return false; }
    if (q.log !== undefined) { this.logBox.checked = q.log === "1"; }
    var labels = {};
    for (var k in q) { if (k !== "chapter" && k !== "sweep" && k !== "log") { labels[k] = q[k]; } }
    this.setChapter(q.chapter, {sweep: q.sweep, labels: labels});
    return true;
  };
  Explorer.prototype.wanted = function () {
    var out = {};
    if (!this.data) { return out; }
    var sw = this.data.sweeps[this.sweep];
    if (!sw) { return out; }
    for (var j = 0; j < sw.labels.length; j++) { out[sw.labels[j]] = sw.values[j][this.at[j]]; }
    return out;
  };
  Explorer.prototype.setChapter = function (ch, want) {
    var self = this, entry = this.cfg.chapters.filter(function (c) { return c.chapter === ch; })[0];
    if (!entry) { return; }
    this.chapterSel.value = ch;
    var keepSweep = this.data && this.data.sweeps[this.sweep] ? this.data.sweeps[this.sweep].name : null;
    var keepLabels = this.wanted();
    this.status.textContent = "Loading " + entry.title + "\u2026";
    loadChapter(this.cfg, entry).then(function (data) {
      if (self.chapterSel.value !== ch) { return; }
      self.data = data;
      self.status.textContent = "";
      self.sweepSel.innerHTML = "";
      data.sweeps.forEach(function (sw, i) {
        h("option", {value: String(i)}, self.sweepSel, sw.name + " (" + sw.cells.length + (sw.cells.length === 1 ? " cell)" : " cells)"));
      });
      if (!data.sweeps.length) { self.clear("Chapter " + entry.title + ": its run manifest lists no sweeps."); return; }
      var name = want.sweep || keepSweep, si = 0;
      data.sweeps.forEach(function (sw, i) { if (sw.name === name) { si = i; } });
      self.setSweep(si, want.labels || keepLabels);
    }, function (err) {
      self.clear("The data of " + entry.title + " could not be loaded (" + err.message + ").");
    });
  };
  Explorer.prototype.setSweep = function (si, labels) {
    var self = this, sw = this.data.sweeps[si];
    this.sweep = si;
    this.sweepSel.value = String(si);
    this.labelBox.innerHTML = "";
    this.selects = sw.labels.map(function (label, j) {
      var l = h("label", {}, self.labelBox);
      h("span", {}, l, sw.names[j]);
      var sel = h("select", {"class": "gkx-label", "data-label": label, "aria-label": sw.names[j]}, l);
      sw.values[j].forEach(function (v, i) { h("option", {value: String(i)}, sel, v); });
      sel.addEventListener("change", function () { self.at[j] = +sel.value; self.pick(j); });
      return sel;
    });
    this.at = sw.labels.map(function (label, j) {
      var i = sw.values[j].indexOf(labels && labels[label] !== undefined ? String(labels[label]) : "\u0000");
      return i;
    });
    this.pick(-1);
  };
  Explorer.prototype.pick = function (fixed) {
    // the cell with the changed label's value that keeps as many of the others as possible,
    // earlier labels first (so setting the labels in order reaches any cell)
    var sw = this.data.sweeps[this.sweep], at = this.at, best = -1, bestScore = -1, n = at.length;
    sw.cells.forEach(function (c, ci) {
      if (fixed >= 0 && c.at[fixed] !== at[fixed]) { return; }
      var score = 0;
      for (var j = 0; j < n; j++) { if (j !== fixed && c.at[j] === at[j]) { score += Math.pow(2, n - j); } }
      if (score > bestScore) { best = ci; bestScore = score; }
    });
    this.cell = best < 0 ? 0 : best;
    var cell = sw.cells[this.cell];
    this.at = cell ? cell.at.slice() : [];
    var self = this;
    (this.selects || []).forEach(function (sel, j) { sel.value = String(self.at[j]); });
    this.draw(true);
  };
  Explorer.prototype.clear = function (text) {
    this.figure.innerHTML = ""; this.legend.innerHTML = ""; this.summary.textContent = "";
    this.status.textContent = text;
    this.root.removeAttribute("data-cell");
  };
  Explorer.prototype.record = function () {
    if (!this.cfg.hash || !this.data) { return; }
    var sw = this.data.sweeps[this.sweep], parts = ["chapter=" + encodeURIComponent(this.data.chapter),
      "sweep=" + encodeURIComponent(sw.name)];
    var w = this.wanted();
    for (var k in w) { parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(w[k])); }
    if (this.logBox.checked) { parts.push("log=1"); }
    try { window.history.replaceState(null, "", "#" + parts.join("&")); } catch (e) { /* file:// in some browsers */ }
  };
  Explorer.prototype.draw = function (record) {
    var data = this.data, sw = data && data.sweeps[this.sweep], cell = sw && sw.cells[this.cell];
    if (!cell) { this.clear("This sweep has no cells."); return; }
    this.root.setAttribute("data-chapter", data.chapter);
    this.root.setAttribute("data-sweep", sw.name);
    this.root.setAttribute("data-cell", String(this.cell));
    if (record) { this.record(); }
    this.status.textContent = "";
    this.summary.textContent = cell.summary;
    this.figure.innerHTML = ""; this.legend.innerHTML = "";
    var runs = cell.keys.map(function (k) { return data.runs[k]; }).filter(Boolean);
    if (!runs.length) { return; }
    var logx = this.logBox.checked;
    this.figure.appendChild(drawCell(runs, data.title + ": " + sw.name + ", " + cell.d, logx));
    var lg = this.legend;
    runs.forEach(function (r, i) {
      var e = h("span", {}, lg);
      h("span", {"class": "gkx-sw", style: "border-color:" + COLORS[i % COLORS.length]}, e);
      e.appendChild(document.createTextNode("seed " + r.seed + " \u00b7 " + r.status + " \u00b7 T_mem " + int(r.t_mem) +
        " \u00b7 T_grok " + int(r.t_grok)));
    });
    h("span", {}, lg, "\u2014 test accuracy");
    h("span", {}, lg, "\u00b7\u00b7\u00b7 train accuracy");
    h("span", {}, lg, "\u25cb T_mem (train accuracy reached its threshold)");
    h("span", {}, lg, "\u2605 T_grok (test accuracy reached its threshold)");
  };

  function drawCell(runs, title, logx) {
    var W = 760, L = 72, R = 16, T = 34, PH = 150, GAP = 16, H = T + 3 * PH + 2 * GAP + 42;
    var svg = s("svg", {viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title, "class": "gkx-svg"});
    s("text", {x: 4, y: 18, "font-size": 14, "font-weight": 600}, svg, title);
    var xmin = Infinity, xmax = -Infinity;
    runs.forEach(function (r) {
      r.step.forEach(function (x) { if (!logx || x > 0) { xmin = Math.min(xmin, x); xmax = Math.max(xmax, x); } });
    });
    if (!isFinite(xmin)) { xmin = logx ? 1 : 0; xmax = xmin + 1; }
    if (!logx) { xmin = 0; }
    if (xmax <= xmin) { xmax = xmin + 1; }
    var xt = logx ? logTicks(xmin, xmax) : niceTicks(xmin, xmax, 6);
    // a little room on the right, so that a star at the last step is drawn whole
    var X = logx ? scale(xmin, Math.pow(10, Math.log10(xmax) + 0.02 * Math.log10(xmax / xmin)), L, W - R, true)
                 : scale(xmin, xmax * 1.02, L, W - R, false);
    PANELS.forEach(function (panel, pi) {
      var top = T + pi * (PH + GAP), bottom = top + PH, key = panel[0];
      var series = key === "acc" ? ["test_acc", "train_acc"] : [key];
      var lo = Infinity, hi = -Infinity;
      runs.forEach(function (r) {
        series.forEach(function (k) {
          (r[k] || []).forEach(function (v, i) {
            if (v !== null && (!logx || r.step[i] > 0)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
          });
        });
      });
      var logy = false;
      if (key === "acc") { lo = 0; hi = 1; }
      else if (!isFinite(lo)) { lo = 0; hi = 1; }
      else if (lo > 0 && hi / lo > 30) { logy = true; lo = lo / 1.15; hi = hi * 1.15; }
      else { var pad = (hi - lo) * 0.06 || Math.abs(hi) * 0.05 || 1; lo -= pad; hi += pad; }
      var Y = scale(key === "acc" ? -0.03 : lo, key === "acc" ? 1.03 : hi, bottom, top, logy);
      var g = s("g", {"class": "gkx-panel", "data-panel": key}, svg);
      s("rect", {x: L, y: top, width: W - R - L, height: PH, fill: "#fafafa", stroke: "#bbb", "stroke-width": 0.8}, g);
      var yt = logy ? logTicks(lo, hi) : niceTicks(lo, hi, 4);
      yt.forEach(function (v) {
        var y = Y(v);
        if (y < top - 0.5 || y > bottom + 0.5) { return; }
        s("line", {x1: L, x2: W - R, y1: y, y2: y, stroke: "#e4e4e4"}, g);
        s("text", {x: L - 6, y: y + 4, "font-size": 12, "text-anchor": "end"}, g, numText(v));
      });
      xt.forEach(function (v) {
        var x = X(v);
        s("line", {x1: x, x2: x, y1: top, y2: bottom, stroke: "#ececec"}, g);
        if (pi === 2) { s("text", {x: x, y: bottom + 16, "font-size": 12, "text-anchor": "middle"}, g, stepText(v)); }
      });
      s("text", {x: 16, y: (top + bottom) / 2, "font-size": 13, "text-anchor": "middle",
                 transform: "rotate(-90 16 " + (top + bottom) / 2 + ")"}, g, panel[1] + (logy ? " (log)" : ""));
      if (key === "acc" && runs[0].thr && runs.every(function (r) { return r.thr && r.thr[1] === runs[0].thr[1]; })) {
        var yg = Y(runs[0].thr[1]);
        s("line", {x1: L, x2: W - R, y1: yg, y2: yg, stroke: "#888", "stroke-dasharray": "5 4", "stroke-width": 0.8}, g);
      }
      runs.forEach(function (r, ri) {
        var color = COLORS[ri % COLORS.length];
        series.forEach(function (k) {
          var ys = r[k];
          if (!ys) { return; }
          var seg = [], segs = [seg];
          r.step.forEach(function (x, i) {
            var v = ys[i];
            if (v === null || (logx && x <= 0) || (logy && v <= 0)) { if (seg.length) { seg = []; segs.push(seg); } return; }
            seg.push(X(x).toFixed(1) + "," + Y(v).toFixed(1));
          });
          segs.forEach(function (pts) {
            if (pts.length < 1) { return; }
            var line = s("polyline", {points: pts.join(" "), fill: "none", stroke: color,
              "stroke-width": k === "train_acc" ? 1.3 : 1.6, "stroke-linejoin": "round",
              "stroke-dasharray": k === "train_acc" ? "1.5 3" : "none", opacity: k === "train_acc" ? 0.7 : 1}, g);
            s("title", {}, line, "seed " + r.seed + " (" + r.status + "): " + (k === "train_acc" ? "train accuracy" : k === "test_acc" ? "test accuracy" : panel[1]));
          });
        });
        [["t_mem", key === "acc" ? "train_acc" : key], ["t_grok", key === "acc" ? "test_acc" : key]].forEach(function (m) {
          var t = r[m[0]], ys = r[m[1]];
          if (t === null || t === undefined || !ys || (logx && t <= 0)) { return; }
          var v = interp(r.step, ys, t);
          if (v === null || (logy && v <= 0)) { return; }
          var x = X(t), y = Y(v), mark;
          if (m[0] === "t_mem") {
            mark = s("circle", {cx: x.toFixed(1), cy: y.toFixed(1), r: 4.5, fill: "#fff", stroke: color, "stroke-width": 1.6, "class": "gkx-tmem"}, g);
          } else {
            mark = s("polygon", {points: star(x, y, 7.5), fill: color, stroke: "#222", "stroke-width": 0.6, "class": "gkx-tgrok"}, g);
          }
          s("title", {}, mark, "seed " + r.seed + ": " + (m[0] === "t_mem" ? "T_mem" : "T_grok") + " = " + int(t));
        });
      });
    });
    var last = T + 2 * (PH + GAP) + PH;
    s("text", {x: (L + W - R) / 2, y: last + 36, "font-size": 13, "text-anchor": "middle"}, svg, "step" + (logx ? " (log scale)" : ""));
    return svg;
  }

  function mount(id, cfg) {
    var root = document.getElementById(id);
    if (!root) { return; }
    if (cfg.inline) {
      var holder = document.getElementById(cfg.inline);
      var inline = holder ? JSON.parse(holder.textContent) : {};
      for (var k in inline) { DATA[k] = inline[k]; }
    }
    if (!cfg.chapters.length) { root.textContent = "No chapter has a run manifest yet."; return; }
    var ex = new Explorer(root, cfg);
    if (!(cfg.hash && ex.fromHash())) {
      var init = cfg.initial || {};
      ex.setChapter(init.chapter || cfg.chapters[0].chapter, {sweep: init.sweep, labels: init.labels || {}});
    }
    root.grokkitExplorer = ex;
  }

  window.grokkitExplorer = {version: VERSION, mount: mount, data: DATA};
})();
"""


__all__ = ["explore", "book_panel", "Panel", "cell_view", "CellView", "cells", "cell_keys", "label_values",
           "load_manifests", "format_value", "describe_cell", "chapter_data", "write_book_data", "thin",
           "no_manifests_message", "weight_note"]
