"""The run explorer: browse the seeds of any cell of any chapter's sweep.

Every chapter writes a *run manifest*, ``<results_dir>/<chapter>.runs.json``
(:func:`grokkit.book.results.write_manifest`): for each of its sweeps, the label names (``rho``,
``lr``, ``p``, ...) and every run's key with its label values. A **cell** of a sweep
is one combination of label values; its runs differ by seed. The explorer reads the
manifests and the run store and draws, for the seeds of one cell, the test accuracy,
the weight norm and the logit scale against the step, with T_mem and T_grok marked.

Two layers, so that the drawing is testable without a front end:

* :func:`cell_view` (pure: a manifest, a sweep, a cell, a store in; the cell's runs,
  a Matplotlib figure and a one-line summary out) and its helpers
  :func:`load_manifests`, :func:`cells`, :func:`format_value`;
* :func:`explore`, an ``ipywidgets`` panel (chapter, sweep and one dropdown per label)
  that redraws :func:`cell_view` whenever a control changes. It is live in Jupyter;
  in the static book it shows the state it was saved in.

``import grokkit`` does not import this module (nor ipywidgets); ``grokkit.explore``
loads it on first use.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from ..runs.store import RunStore
from .results import project_root
from .tables import LABELS

#: A chapter's run manifest is ``<results_dir>/<chapter><MANIFEST_SUFFIX>``.
MANIFEST_SUFFIX = ".runs.json"

#: The three panels: trajectory column, y-axis label.
PANELS = (("test_acc", "test accuracy"), ("norm", "weight norm ‖W‖"), ("logit_scale", "logit scale L"))


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


def label_name(label: str) -> str:
    """A label's display name (``rho`` -> ``ρ``)."""
    return LABELS.get(label, label.replace("_", " "))


def describe_cell(cell: Mapping[str, Any]) -> str:
    """``ρ = 1.00, lr = 1e-3``."""
    return ", ".join(f"{label_name(k)} = {format_value(k, v)}" for k, v in cell.items()) or "all runs"


# --------------------------------------------------------------------------- the view of one cell
@dataclass
class CellView:
    """One cell of one sweep, as the explorer shows it.

    ``runs``: the store's table rows of the cell's runs (sorted by seed; runs missing from
    the store are left out and counted in ``missing``); ``trajectories``: their evaluated
    trajectories in long form; ``figure``: the three-panel figure (``None`` when the cell
    has no stored run); ``summary``: the line of text shown under the figure (or instead
    of it: why there is nothing to draw).
    """

    chapter: str
    sweep: str
    cell: dict[str, Any]
    keys: list[str]
    runs: pd.DataFrame
    trajectories: pd.DataFrame
    missing: int
    figure: Figure | None
    summary: str
    counts: dict[str, int] = field(default_factory=dict)
    median_t_grok: float = float("nan")


def cell_keys(manifest: Mapping[str, Any], sweep: str, cell: Mapping[str, Any]) -> list[str]:
    """The keys (deduplicated, in manifest order) of the runs of ``sweep`` in ``cell``."""
    entry = _sweep(manifest, sweep)
    keys = [r["key"] for r in entry.get("runs", []) if all(_same(r.get(k), v) for k, v in cell.items())]
    return list(dict.fromkeys(keys))


def cell_view(manifest: Mapping[str, Any], sweep: str, cell: Mapping[str, Any] | None = None,
              store: RunStore | str | os.PathLike[str] | None = None, *, logx: bool = False) -> CellView:
    """The runs of one cell of a chapter's sweep, their figure and a summary line.

    Parameters
    ----------
    manifest : mapping
        A chapter's run manifest (see :func:`load_manifests`).
    sweep : str
        One of the manifest's sweeps (``"dense"``, ``"matrix"``, ...).
    cell : mapping, optional
        Label values (``{"rho": 1.0}``); labels left out take the sweep's first cell that
        fits. Values must be values of the sweep (floats match up to round-off).
    store : RunStore or path, optional
        The run store (default: the project's ``data/runs``).
    logx : bool
        Draw the step axis on a log scale.
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
    missing = len(keys) - len(present)
    what = describe_cell(cell)
    empty = pd.DataFrame(columns=["key", "step"])
    if not keys:
        return CellView(chapter, sweep, cell, keys, store.table([]), empty, 0, None,
                        f"No runs in this cell: sweep {sweep!r} has no run with {what}.")
    if not present:
        return CellView(chapter, sweep, cell, keys, store.table([]), empty, missing, None,
                        f"None of the {missing} runs of this cell ({what}) is in the run store "
                        f"({_display_path(store.root)}): run chapter {chapter!r} with training allowed "
                        "to train them.")
    runs = store.table(present)
    runs = runs.sort_values(["seed", "key"], kind="stable").reset_index(drop=True)
    traj = store.trajectories(list(runs["key"]))
    title = f"{manifest.get('title') or chapter}: {sweep}, {what}"
    fig = plot_cell(runs, traj, title=title, logx=logx)
    counts = {
        "runs": len(runs),
        "grokked": int(runs["status"].eq("grokked").sum()),
        "censored": int(runs["status"].eq("censored").sum()),
        "diverged": int(runs["status"].eq("diverged").sum()),
    }
    median, text = _median_text(runs)
    summary = (f"{what}: {counts['runs']} runs ({_seeds(runs['seed'])}): {counts['grokked']} grokked, "
               f"{counts['censored']} censored, {counts['diverged']} diverged; {text}.")
    if missing:
        summary += f" {missing} of the cell's {len(keys)} runs are missing from the run store and not shown."
    return CellView(chapter, sweep, cell, keys, runs, traj, missing, fig, summary, counts, median)


def _seeds(seeds: pd.Series) -> str:
    s = sorted(int(x) for x in seeds)
    if s == list(range(s[0], s[-1] + 1)) and len(s) > 2:
        return f"seeds {s[0]}–{s[-1]}"
    return ("seed " if len(s) == 1 else "seeds ") + ", ".join(map(str, s))


def _median_text(runs: pd.DataFrame) -> tuple[float, str]:
    """The Kaplan-Meier median of T_grok (censored and diverged runs count as not yet grokked)."""
    from ..analysis.cells import grok_times
    from ..analysis.stats import censored_median

    t, events = grok_times(runs)
    if not events.any():
        return float("nan"), "no run grokked (median T_grok beyond the budget)"
    med = censored_median(t, events, n_boot=1000)
    if not np.isfinite(med.median):
        return float("nan"), "median T_grok beyond the budget (more than half did not grok)"
    hi = "∞" if not np.isfinite(med.hi) else f"{med.hi:,.0f}"
    return float(med.median), f"median T_grok {med.median:,.0f} steps (95% CI {med.lo:,.0f}–{hi}; Kaplan–Meier)"


def _step_format(x: float, _pos: Any = None) -> str:
    return f"{x / 1000:g}k" if abs(x) >= 1000 else f"{x:g}"


def plot_cell(runs: pd.DataFrame, traj: pd.DataFrame, *, title: str = "", logx: bool = False) -> Figure:
    """Three stacked panels sharing the step axis: test accuracy (train accuracy dotted),
    weight norm and logit scale, one colour per seed, T_mem (open circle) and T_grok (star)
    of each run marked on its curves. Returns a Matplotlib figure not registered with pyplot
    (so it is neither shown twice nor kept alive)."""
    import matplotlib as mpl
    import seaborn as sns

    from . import plots

    with mpl.rc_context():
        plots.style()
        fig = Figure(figsize=(8.0, 8.4), layout="constrained")
        axes = fig.subplots(len(PANELS), 1, sharex=True)
        palette = sns.color_palette("colorblind", max(len(runs), 1))
        handles = []
        for color, (_, run) in zip(palette, runs.iterrows()):
            g = traj[traj["key"] == run["key"]].sort_values("step")
            if logx:
                g = g[g["step"] > 0]
            for ax, (col, _) in zip(axes, PANELS):
                if col not in g or g[col].isna().all():
                    continue
                sns.lineplot(x=g["step"].to_numpy(), y=g[col].to_numpy(), ax=ax, color=color, lw=1.4,
                             estimator=None, sort=False)
                if col == "test_acc" and "train_acc" in g:
                    sns.lineplot(x=g["step"].to_numpy(), y=g["train_acc"].to_numpy(), ax=ax, color=color,
                                 lw=1.1, alpha=0.45, ls=":", estimator=None, sort=False)
                for t, on, marker in ((run.get("t_mem"), "train_acc" if col == "test_acc" else col, "o"),
                                      (run.get("t_grok"), col, "*")):
                    if t is None or not np.isfinite(float(t)) or on not in g or len(g) == 0:
                        continue
                    y = float(np.interp(float(t), g["step"], g[on]))
                    ax.plot([t], [y], marker=marker, ms=11 if marker == "*" else 7, ls="none", zorder=5,
                            mfc=color if marker == "*" else "white", mec=color if marker == "o" else "0.15",
                            mew=1.4 if marker == "o" else 0.6)
            handles.append(Line2D([], [], color=color, lw=2, label=f"seed {int(run['seed'])} ({run['status']})"))
        handles += [
            Line2D([], [], color="0.3", lw=1.4, label="test accuracy"),
            Line2D([], [], color="0.3", lw=1.1, ls=":", alpha=0.6, label="train accuracy"),
            Line2D([], [], ls="none", marker="o", ms=7, mfc="white", mec="0.3", mew=1.4,
                   label="$T_{mem}$ (train acc. reached)"),
            Line2D([], [], ls="none", marker="*", ms=11, mfc="0.3", mec="0.15", label="$T_{grok}$ (test acc. reached)"),
        ]
        for ax, (_, ylabel) in zip(axes, PANELS):
            ax.set_ylabel(ylabel)
            ax.set_xlabel("")
        axes[0].set_ylim(-0.03, 1.03)
        axes[-1].set_xlabel("step")
        if logx:
            axes[-1].set_xscale("log")
        else:
            axes[-1].xaxis.set_major_formatter(FuncFormatter(_step_format))
            axes[-1].set_xlim(left=0)
        if title:
            axes[0].set_title(title, loc="left", fontsize=11)
        # below the panels, so that the panels get the full width and no data is covered
        fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=9, frameon=False,
                   columnspacing=1.2, handlelength=1.8)
    return fig


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# --------------------------------------------------------------------------- the widget
def explore(results_dir: str | os.PathLike[str] | None = None, store: RunStore | str | os.PathLike[str] | None = None,
            *, chapter: str | None = None, sweep: str | None = None, logx: bool = False, strict: bool = True,
            **cell: Any):
    """An ipywidgets panel over the run store: pick a chapter, a sweep and a cell, see its seeds.

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
        first available one instead of raising (the book's explorer page opens this way, so it
        renders whichever chapters have run).
    **cell
        Label values of the cell shown first (``rho=1.0``); labels left out take the first value.

    Returns
    -------
    ipywidgets.VBox
        The controls, the figure (an ``Image``) and the summary line (an ``HTML``). Display it
        in Jupyter; it redraws whenever a control changes. Without any manifest it holds only
        a message saying how to create them.

    Raises
    ------
    ValueError
        If ``chapter``, ``sweep`` or a cell label/value is not in the manifests.
    """
    import ipywidgets as widgets

    manifests = load_manifests(results_dir)
    if not manifests:
        return widgets.VBox([widgets.HTML(f"<p><b>Run explorer:</b> {html.escape(no_manifests_message(results_dir))}</p>")])
    store = store if isinstance(store, RunStore) else RunStore(store)
    if not strict:
        chapter, sweep, cell = _available(manifests, chapter, sweep, cell)
    if chapter is None:
        chapter = next(iter(manifests))
    if chapter not in manifests:
        raise ValueError(f"chapter={chapter!r} has no run manifest in {_display_path(results_folder(results_dir))}; "
                         f"the chapters with one are {list(manifests)}")
    sweeps = list(manifests[chapter]["sweeps"])
    if not sweeps:
        raise ValueError(f"chapter={chapter!r}: its run manifest lists no sweeps")
    if sweep is None:
        sweep = sweeps[0]
    _sweep(manifests[chapter], sweep)
    cell = _resolve_cell(manifests[chapter], sweep, cell)
    return _Explorer(widgets, manifests, store, chapter, sweep, cell, logx).widget


def _available(manifests: Mapping[str, dict], chapter: str | None, sweep: str | None,
               cell: Mapping[str, Any]) -> tuple[str | None, str | None, dict[str, Any]]:
    """The part of a selection that the manifests have (what they lack is left to the defaults)."""
    if chapter not in manifests:
        return None, None, {}
    if sweep not in manifests[chapter]["sweeps"]:
        return chapter, None, {}
    values = label_values(manifests[chapter], sweep)
    return chapter, sweep, {k: v for k, v in cell.items() if k in values and any(_same(v, w) for w in values[k])}


class _Explorer:
    """The state and callbacks behind :func:`explore`'s widget."""

    def __init__(self, widgets: Any, manifests: dict[str, dict], store: RunStore, chapter: str, sweep: str,
                 cell: dict[str, Any], logx: bool) -> None:
        self.w = widgets
        self.manifests = manifests
        self.store = store
        self.busy = False
        self.view: CellView | None = None
        wide = {"description_width": "initial"}
        self.chapter = widgets.Dropdown(
            options=[(m.get("title") or c, c) for c, m in manifests.items()], value=chapter,
            description="chapter", style=wide, layout=widgets.Layout(width="auto"))
        self.sweep = widgets.Dropdown(description="sweep", style=wide, layout=widgets.Layout(width="auto"))
        self.logx = widgets.Checkbox(value=logx, description="log step axis", indent=False,
                                     layout=widgets.Layout(width="auto"))
        self.labels: dict[str, Any] = {}
        self.label_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto", margin="0"))
        self.summary = widgets.HTML()
        self.widget = widgets.VBox([
            widgets.HBox([self.chapter, self.sweep], layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self.label_box, self.logx], layout=widgets.Layout(flex_flow="row wrap")),
            self.image,
            self.summary,
        ])
        self.chapter.observe(self._on_chapter, names="value")
        self.sweep.observe(self._on_sweep, names="value")
        self.logx.observe(self._redraw, names="value")
        self._set_sweeps(sweep, cell)

    # ---------------------------------------------------------------- controls
    def _set_sweeps(self, sweep: str, cell: Mapping[str, Any]) -> None:
        manifest = self.manifests[self.chapter.value]
        self.busy = True
        try:
            self.sweep.options = [(f"{name} ({len(cells(manifest, name))} cells)", name)
                                  for name in manifest["sweeps"]]
            self.sweep.value = sweep
        finally:
            self.busy = False
        self._set_labels(cell)

    def _set_labels(self, cell: Mapping[str, Any]) -> None:
        manifest = self.manifests[self.chapter.value]
        values = label_values(manifest, self.sweep.value)
        keep = {k: v for k, v in cell.items() if k in values and any(_same(v, w) for w in values[k])}
        cell = _resolve_cell(manifest, self.sweep.value, keep)
        self.labels = {}
        for label, options in values.items():
            dd = self.w.Dropdown(options=[(format_value(label, v), v) for v in options], value=cell[label],
                                 description=label_name(label), style={"description_width": "initial"},
                                 layout=self.w.Layout(width="auto"))
            dd.observe(self._redraw, names="value")
            self.labels[label] = dd
        self.label_box.children = tuple(self.labels.values())
        self._redraw()

    def _current_cell(self) -> dict[str, Any]:
        return {label: dd.value for label, dd in self.labels.items()}

    def _on_chapter(self, change: Any) -> None:
        if self.busy:
            return
        sweeps = list(self.manifests[change["new"]]["sweeps"])
        current = self.sweep.value if self.sweep.value in sweeps else (sweeps[0] if sweeps else None)
        if current is None:
            self.summary.value = f"<p>Chapter {html.escape(change['new'])}: its manifest lists no sweeps.</p>"
            return
        self._set_sweeps(current, self._current_cell())

    def _on_sweep(self, change: Any) -> None:
        if not self.busy:
            self._set_labels(self._current_cell())

    # ---------------------------------------------------------------- drawing
    def _redraw(self, change: Any = None) -> None:
        if self.busy:
            return
        manifest = self.manifests[self.chapter.value]
        self.view = view = cell_view(manifest, self.sweep.value, self._current_cell(), self.store,
                                     logx=self.logx.value)
        if view.figure is not None:
            self.image.value = figure_png(view.figure)
            self.image.layout.display = None
        else:
            self.image.layout.display = "none"
        self.summary.value = f"<p>{html.escape(view.summary)}</p>"


__all__ = ["explore", "cell_view", "CellView", "cells", "cell_keys", "label_values", "load_manifests",
           "format_value", "describe_cell", "plot_cell", "figure_png", "no_manifests_message"]
