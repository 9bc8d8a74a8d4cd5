"""The book's figures: one seaborn style, readable on a laptop screen, the paper beside us.

Conventions every figure follows: axes labelled with units (steps, norms), step axes read
"10k", laws drawn on the axis on which they are straight (log-y for an exponential delay
law, log-log for a power law), legends outside the data (to the right or in an empty
corner), the paper's values drawn as black crosses next to ours, and a grey note saying
the scale of the runs. Each function draws on an ``Axes`` it is given (or a new figure)
and returns the figure or axes, so chapters compose panels and glue figures into their
"result at a glance".
"""

from __future__ import annotations

import textwrap
from typing import Any, Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..analysis.cells import fraction_grokked, grok_times

#: Colour for "ours" where one colour is enough, and for the paper's values.
OURS, PAPER = "#0072B2", "black"
PAPER_MARKER = dict(marker="x", color=PAPER, ms=7, mew=1.6, ls="none")


def style() -> None:
    """Apply the book's style: seaborn's whitegrid theme, the colour-blind palette, figures
    7 in wide at 100 dpi (700 px: the width of the book's text column, so nothing is shrunk)."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind", font_scale=0.9, rc={
        "figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (7.0, 3.9),
        "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 11.5,
        "legend.fontsize": 9, "legend.frameon": False, "grid.alpha": 0.5,
        "figure.constrained_layout.use": True,
    })


def colors(n: int, cmap: str = "viridis") -> list:
    """``n`` colours of a sequential palette (ordered levels such as ρ or the learning rate)."""
    return list(sns.color_palette(cmap, max(n, 1)))


def _ax(ax: plt.Axes | None, figsize: tuple[float, float] | None = None) -> plt.Axes:
    return ax if ax is not None else plt.figure(figsize=figsize).add_subplot()


def thousands_axis(axis) -> None:
    """Label a step axis 0, 10k, 20k, ... instead of 0, 10000, 20000."""
    axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k" if abs(x) >= 1000 else f"{x:g}"))


def log_steps_axis(axis) -> None:
    """A logarithmic step axis labelled at 1, 2 and 5 times each power of ten: 1k, 2k, 5k, 10k."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k" if abs(x) >= 1000 else f"{x:g}"))
    axis.set_minor_locator(LogLocator(base=10, subs="auto"))
    axis.set_minor_formatter(NullFormatter())


def level_labels(levels: Sequence[float]) -> list[str]:
    """The levels written with the fewest decimals (at most 4) that show every one exactly, the
    same number for all: 0.85, 0.925, 1 -> 0.850, 0.925, 1.000."""
    for decimals in range(5):
        if all(abs(round(v, decimals) - v) < 1e-9 for v in levels):
            break
    return [f"{v:.{decimals}f}" for v in levels]


def level_colorbar(fig: plt.Figure, ax: plt.Axes, levels: Sequence[float], cmap: str, label: str,
                   fmt: str | None = None) -> None:
    """A colour bar for discrete levels (one colour each, as :func:`colors` gives them): a compact
    legend for many curves. ``fmt`` formats each level; by default :func:`level_labels`."""
    levels = list(levels)
    cm = mpl.colors.ListedColormap(colors(len(levels), cmap))
    edges = np.arange(len(levels) + 1) - 0.5
    bar = fig.colorbar(mpl.cm.ScalarMappable(norm=mpl.colors.BoundaryNorm(edges, cm.N), cmap=cm), ax=ax,
                       ticks=np.arange(len(levels)), fraction=0.05, pad=0.02, aspect=30)
    bar.ax.set_yticklabels(level_labels(levels) if fmt is None else [fmt.format(v) for v in levels])
    bar.set_label(label)


def annotate_scale(ax: plt.Axes, text: str, loc: str = "lower right") -> None:
    """A small grey note in a corner of the axes (the scale of the runs), wrapped to fit."""
    x, ha = (0.99, "right") if "right" in loc else (0.01, "left")
    y, va = (0.01, "bottom") if "lower" in loc else (0.99, "top")
    ax.text(x, y, textwrap.fill(text, 52), transform=ax.transAxes, ha=ha, va=va, fontsize=7.5, color="0.35")


def legend_outside(ax: plt.Axes, title: str | None = None, handles: Sequence | None = None) -> None:
    """A legend to the right of the axes, so it never covers data."""
    kw = {"handles": handles} if handles is not None else {}
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title=title, **kw)


def legend_below(fig: plt.Figure, ax: plt.Axes, ncol: int | None = None) -> None:
    """A legend under the axes, across the figure's width: for long labels, which a legend to
    the right would buy with half of the plot's width. Two columns unless the labels are too
    long to fit the figure's width side by side."""
    handles, labels = ax.get_legend_handles_labels()
    if ncol is None:
        ncol = 2 if max((len(lab) for lab in labels), default=0) <= 48 else 1
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=8.5)


def paper_points(ax: plt.Axes, values: Mapping[float, float], label: str = "paper") -> None:
    """The paper's values as black crosses."""
    if values:
        xs, ys = zip(*sorted(values.items()))
        ax.plot(xs, ys, **PAPER_MARKER, label=label, zorder=5)


def trajectories(traj: pd.DataFrame, y: str, *, ax: plt.Axes | None = None, color: str | None = None,
                 label: str | None = None, alpha: float = 0.8, lw: float = 1.2) -> plt.Axes:
    """One line per run (``key``) of metric ``y`` against ``step``."""
    ax = _ax(ax)
    for i, (_, g) in enumerate(traj.groupby("key", sort=False)):
        ax.plot(g["step"], g[y], color=color, alpha=alpha, lw=lw, label=label if i == 0 else None)
    ax.set_xlabel("step")
    return ax


# ---------------------------------------------------------------- delay against a level
def medians_vs_level(cells: pd.DataFrame, x: str, *, ax: plt.Axes | None = None, fit=None,
                     color: str | None = None, label: str | None = None, marker: str = "o",
                     fit_range: tuple[float, float] | None = None, time_label: str = "median $T_{grok}$ (steps)") -> plt.Axes:
    """Cell medians of T_grok with their 95 % CIs against a level, on a log axis, with an
    optional fitted exponential drawn as a line. A cell where more than half the runs are
    censored has no median: it is drawn as an open triangle at its budget (a lower bound)."""
    ax = _ax(ax)
    ok = np.isfinite(cells["t_median"])
    lo = (cells.loc[ok, "t_median"] - cells.loc[ok, "t_lo"]).clip(lower=0)
    hi = (cells.loc[ok, "t_hi"] - cells.loc[ok, "t_median"]).clip(lower=0).replace(np.inf, 0)
    ax.errorbar(cells.loc[ok, x], cells.loc[ok, "t_median"], yerr=[lo, hi], fmt=marker, color=color,
                label=label, capsize=3, ms=5, lw=1.2)
    if (~ok).any():
        label_c = "over half censored: budget (lower bound)"
        seen = label_c in ax.get_legend_handles_labels()[1]
        ax.scatter(cells.loc[~ok, x], cells.loc[~ok, "budget"], marker="^", facecolors="none",
                   edgecolors=color or "k", label=None if seen else label_c, zorder=4)
    if fit is not None:
        xs = np.linspace(*(fit_range or (cells[x].min(), cells[x].max())), 100)
        ax.plot(xs, fit.predict(xs), color=color, lw=1.3, alpha=0.85)
    ax.set_yscale("log")
    log_steps_axis(ax.yaxis)
    ax.set_ylabel(time_label)
    return ax


def survival(df: pd.DataFrame, by: str, *, ax: plt.Axes | None = None, steps: np.ndarray | None = None,
             fmt: str = "{}", cmap: str = "viridis", colorbar: str | None = None) -> plt.Axes:
    """Fraction of runs grokked against steps, one curve per value of ``by`` (censored runs stay
    in the denominator, so a curve that ends below 1 says how many never grokked in budget).
    With ``colorbar`` (its label) the levels get a colour bar instead of legend entries."""
    ax = _ax(ax)
    levels = sorted(df[by].unique())
    last, _ = grok_times(df)
    top = 1.05 * float(np.nanmax(last)) if len(df) else 1.0
    steps = steps if steps is not None else np.linspace(0, top, 400)
    for c, level in zip(colors(len(levels), cmap), levels):
        g = df[df[by] == level]
        ax.step(steps, fraction_grokked(g, steps), where="post", color=c, label=None if colorbar else fmt.format(level))
    if colorbar and levels:
        level_colorbar(ax.figure, ax, levels, cmap, colorbar)
    thousands_axis(ax.xaxis)
    ax.set_xlabel("step")
    ax.set_ylabel("fraction of runs grokked")
    ax.set_ylim(-0.02, 1.02)
    return ax


def exponential_law(cells: pd.DataFrame, runs: pd.DataFrame, x: str, *, fit=None, fit_range=None,
                    paper: Mapping[float, float] | None = None, paper_label: str = "paper",
                    xlabel: str = r"held norm $\rho = \|W\| / W_c$", label: str = "ours: median (95 % CI)",
                    scale: str = "", title: str = "", colorbar_label: str = r"$\rho$") -> plt.Figure:
    """Two panels: the cell medians of T_grok against a level on a log axis, with the fitted
    exponential and the paper's medians; and the fraction of runs grokked against steps."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.4, 3.5), gridspec_kw={"width_ratios": [1, 1]})
    if len(cells):
        medians_vs_level(cells, x, ax=ax, fit=fit, color=OURS, label=label, fit_range=fit_range)
        if fit is not None:
            ax.plot([], [], color=OURS, lw=1.3, label=f"fit: α = {fit.alpha.value:.2f}, R² = {fit.r2:.3f}")
        paper_points(ax, paper or {}, paper_label)
        survival(runs, x, ax=ax2, colorbar=colorbar_label)
    ax.set_xlabel(xlabel)
    ax.legend(loc="upper left", fontsize=7.5)
    ax.set_title(title)
    ax2.set_title("fraction grokked by each step")
    if scale:
        annotate_scale(ax, scale)
    return fig


def law_by_group(cells: pd.DataFrame, x: str, group: str, *, fits: Mapping[Any, Any] | None = None,
                 paper: Mapping[Any, Mapping[float, float]] | None = None, group_fmt: str = "{}",
                 xlabel: str = r"held norm $\rho$", title: str = "", scale: str = "", cmap: str = "viridis",
                 fit_range: tuple[float, float] | None = None) -> plt.Figure:
    """Cell medians of T_grok against a level, one colour per group (modulus, learning rate),
    each with its own fitted exponential; the paper's medians as crosses in the group's colour."""
    fig, ax = plt.subplots(figsize=(7.0, 3.9))
    groups = sorted(cells[group].unique()) if len(cells) else []
    for c, gv in zip(colors(len(groups), cmap), groups):
        sub = cells[cells[group] == gv]
        f = (fits or {}).get(gv)
        lab = group_fmt.format(gv) + (f": α = {f.alpha.value:.2f}" if f is not None else "")
        medians_vs_level(sub, x, ax=ax, fit=f, color=c, label=lab, fit_range=fit_range)
        pts = (paper or {}).get(gv)
        if pts:
            xs, ys = zip(*sorted(pts.items()))
            ax.plot(xs, ys, marker="x", color=c, ms=7, mew=1.6, ls="none")
    if paper:
        ax.plot([], [], **{**PAPER_MARKER, "color": "0.3"}, label="paper (same colour)")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    legend_outside(ax)
    if scale:
        annotate_scale(ax, scale)
    return fig


# ---------------------------------------------------------------- norms
def norm_and_accuracy(runs: pd.DataFrame, traj: pd.DataFrame, wc=None, *, title: str = "", scale: str = "",
                      zoom: bool = True) -> plt.Figure:
    """Chapter 1's picture of free training: the weight norm (top) and train/test accuracy
    (bottom) against steps, one colour per seed; each seed's T_grok marked on both panels, and
    W_c (the median norm at T_grok, with its CI) as a dashed line."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7.0, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    info = runs.set_index("key")
    for c, (key, g) in zip(colors(len(runs)), traj.groupby("key", sort=False)):
        run = info.loc[key]
        ax1.plot(g["step"], g["norm"], color=c, lw=1.2)
        ax2.plot(g["step"], g["test_acc"], color=c, lw=1.2)
        ax2.plot(g["step"], g["train_acc"], color=c, lw=0.8, ls=":")
        if run.status == "grokked":
            ax1.plot(run.t_grok, run.norm_grok, "o", color=c, ms=6, mec="k", zorder=5)
            ax2.plot(run.t_grok, run.grok_threshold, "o", color=c, ms=5, mec="k", zorder=5)
    if wc is not None and np.isfinite(wc.value):
        ax1.axhline(wc.value, color="k", ls="--", lw=1)
        ax1.axhspan(wc.lo, wc.hi, color="k", alpha=0.08)
        ax1.text(0.01, wc.value, f"  $W_c$ = {wc.value:.1f}", transform=ax1.get_yaxis_transform(), ha="left", va="bottom")
        if zoom and len(runs):  # the overshoot and the relaxation; the climb from init is cut
            peak = runs["norm_peak"].max()
            ax1.set_ylim(wc.value - 0.12 * (peak - wc.value) - 3, peak + 1)
    ax1.set_ylabel(r"weight norm $\|W\|$")
    ax1.set_title(title)
    if len(runs):
        ax2.axhline(runs["grok_threshold"].iloc[0], color="k", ls="--", lw=0.8)
        ax2.set_xlim(0, np.nanmax(runs["final_step"]) * 1.03)
    ax2.set_ylabel("accuracy")
    ax2.set_xlabel("step")
    thousands_axis(ax2.xaxis)
    handles = [Line2D([], [], color="0.3", lw=1.2, label="test accuracy"),
               Line2D([], [], color="0.3", lw=0.8, ls=":", label="train accuracy"),
               Line2D([], [], marker="o", color="0.5", mec="k", ls="none", label="$T_{grok}$ of a seed")]
    ax2.legend(handles=handles, loc="center right")
    if scale:
        annotate_scale(ax1, scale, loc="upper right")
    return fig


def norm_at_grok(panels: Sequence[tuple[pd.DataFrame, pd.DataFrame, str, str, bool]], *,
                 paper: Sequence[Mapping[float, float] | None] | None = None,
                 ylabel: str = r"$\|W\|$ at $T_{grok}$") -> plt.Figure:
    """One panel per scan: each seed's norm at grokking (grey dots) and the per-cell median with
    its CI (colour), against the scanned level; the cell's median T_grok printed above it.

    ``panels`` holds ``(runs, cells, column, xlabel, log_x)`` per panel; ``paper`` the paper's
    values per panel (crosses)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(min(7.0, 3.6 * len(panels) + 0.4), 3.6), sharey=True, squeeze=False)
    for i, (ax, (tab, ct, col, xlabel, logx)) in enumerate(zip(axes[0], panels)):
        g = tab[tab.status == "grokked"]
        ax.scatter(g[col], g["norm_grok"], s=14, alpha=0.55, color="0.45", label="one seed", zorder=2)
        ax.errorbar(ct[col], ct["norm_median"], yerr=[ct["norm_median"] - ct["norm_lo"], ct["norm_hi"] - ct["norm_median"]],
                    fmt="o", color=OURS, capsize=3, label="median (95 % CI)", zorder=3)
        if paper and paper[i]:
            paper_points(ax, paper[i])
        if logx:
            ax.set_xscale("log")
            ax.set_xticks(ct[col], [f"{v:g}" for v in ct[col]])
            ax.minorticks_off()
        for _, r in ct.iterrows():
            if np.isfinite(r.t_median):
                top = np.nanmax([r.norm_hi, g.loc[np.isclose(g[col], r[col]), "norm_grok"].max()])
                ax.annotate(f"{r.t_median / 1000:.1f}k", (r[col], top), textcoords="offset points", xytext=(0, 6),
                            ha="center", fontsize=7.5, color="0.3")
        ax.set_xlabel(xlabel)
        ax.margins(x=0.12, y=0.15)
    axes[0][0].set_ylabel(ylabel)
    axes[0][0].legend(loc="lower left")
    fig.text(0.99, 0.005, "numbers above the medians: the cell's median $T_{grok}$ (steps)", ha="right", fontsize=7.5,
             color="0.35")
    return fig


def _log_log_levels(ax: plt.Axes, levels: Any) -> None:
    """Log-log axes for a power law: a tick at each level on x, plain numbers on y (the minor
    ticks labelled at multiples of 10)."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    levels = sorted(set(levels))
    ax.set_xticks(levels, [f"{v:g}" for v in levels])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if round(v) % 10 == 0 else ""))
    ax.minorticks_on()
    ax.xaxis.set_minor_formatter(NullFormatter())


def power_law(runs: pd.DataFrame, cells: pd.DataFrame, x: str, *, fits: Sequence[tuple[Any, str, str]] = (),
              paper: Mapping[float, float] | None = None, paper_label: str = "paper", xlabel: str = "modulus p",
              ylabel: str = "$W_c$", scale: str = "") -> plt.Figure:
    """Each seed's norm at grokking and the per-level medians against a level on log-log axes,
    with fitted power laws (``fits``: (fit, label, linestyle)) and the paper's values."""
    fig, ax = plt.subplots(figsize=(7.0, 3.9))
    g = runs[runs.status == "grokked"]
    ax.scatter(g[x], g["norm_grok"], s=14, alpha=0.55, color="0.45", label="one seed")
    ax.errorbar(cells[x], cells["norm_median"], yerr=[cells["norm_median"] - cells["norm_lo"], cells["norm_hi"] - cells["norm_median"]],
                fmt="o", color=OURS, capsize=3, label="median (95 % CI)")
    for fit, lab, ls in fits:
        if fit is None:
            continue
        xs = np.geomspace(np.min(fit.x), np.max(fit.x), 100)
        ax.plot(xs, fit.predict(xs), color=OURS, ls=ls, lw=1.2, label=f"{lab}: k = {fit.exponent.value:.2f}")
    paper_points(ax, paper or {}, paper_label)
    _log_log_levels(ax, cells[x])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    legend_outside(ax)
    if scale:
        annotate_scale(ax, scale)
    return fig


def matched_levels(panels: Sequence[tuple[str, Mapping[float, Any], str, Mapping[float, float], str, str]], *,
                   xlabel: str = "modulus p", ylabel: str = "$W_c$") -> plt.Figure:
    """Ours against the paper at the paper's own conditions, one panel per condition, on shared
    log-log axes. Each panel is ``(title, ours, our_label, paper, paper_label, scale)``: ``ours``
    maps a level to an :class:`~grokkit.analysis.stats.Estimate` (drawn with its 95 % CI), ``paper``
    a level to the paper's value (black crosses; ``{}`` where the paper gives none at our condition)."""
    if not panels:
        raise ValueError("panels: at least one panel (a condition to compare at) is needed")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.9 * len(panels), 3.6), sharey=True, squeeze=False)
    for ax, (title, ours, our_label, paper, paper_label, scale) in zip(axes[0], panels):
        pts = sorted((x, e) for x, e in ours.items() if e is not None and np.isfinite(e.value))
        if pts:
            xs = [x for x, _ in pts]
            v = np.array([e.value for _, e in pts])
            err = [v - np.array([e.lo for _, e in pts]), np.array([e.hi for _, e in pts]) - v]
            ax.errorbar(xs, v, yerr=err, fmt="o", color=OURS, capsize=3, label=our_label)
        paper_points(ax, paper, paper_label)
        _log_log_levels(ax, set(ours) | set(paper))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.legend(loc="upper left", fontsize=8)
        if scale:
            annotate_scale(ax, scale)
    axes[0][0].set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def delays_by_arm(arms: Sequence[tuple[pd.DataFrame, str, str]], x: str, *, reference: float | None = None,
                  reference_label: str = "free control", xlabel: str = r"$\rho$", scale: str = "",
                  fits: Sequence[Any] | None = None, paper: Sequence[Mapping[float, float] | None] | None = None,
                  paper_label: str = "paper") -> plt.Figure:
    """Median T_grok against a level for several arms (``(cells, label, colour)``), on a log
    axis, with a horizontal reference line (the free control's median); ``fits`` (one per arm,
    or None) adds each arm's fitted exponential, its exponent in the legend; ``paper`` (one
    ``{level: T}`` per arm, or None) the paper's values as crosses in the arm's colour."""
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    for i, (cells, lab, c) in enumerate(arms):
        f = fits[i] if fits is not None and i < len(fits) else None
        if f is not None:
            lab = f"{lab}: α = {f.alpha.value:.2f}"
        if len(cells):
            medians_vs_level(cells, x, ax=ax, color=c, label=lab, fit=f)
        ref = paper[i] if paper is not None and i < len(paper) else None
        if ref:
            xs, ys = zip(*sorted(ref.items()))
            ax.plot(xs, ys, ls="none", marker="x", ms=7, mew=1.6, color=c, zorder=5)
    if paper is not None and any(paper):
        ax.plot([], [], ls="none", marker="x", ms=7, mew=1.6, color="0.3", label=paper_label)
    if reference is not None and np.isfinite(reference):
        ax.axhline(reference, color="k", ls="--", lw=1, label=reference_label)
    ax.set_xlabel(xlabel)
    legend_outside(ax)
    if scale:
        annotate_scale(ax, scale)
    return fig


# ---------------------------------------------------------------- free contraction (chapter 3)
def norm_decay(traces: pd.DataFrame, quantities: pd.DataFrame, *, paper: Mapping[str, float] | None = None,
               title: str = "", scale: str = "") -> plt.Figure:
    """V = ‖θ‖² (log axis) against the steps since memorization, one line per run, each run's
    T_grok as a dot, and each run's fitted decay ``A e^{kt} + C`` dashed over the first run;
    the paper's V_mem and V_post as horizontal marks (``paper = {"V_mem": ..., "V_post": ...}``)."""
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    q = quantities.set_index("key")
    shown = [k for k in q.index if k in set(traces["key"]) and np.isfinite(q.loc[k, "t_mem"])]
    palette = colors(len(shown), "viridis")
    for c, key in zip(palette, shown):
        g = traces[traces["key"] == key]
        t_mem = q.loc[key, "t_mem"]
        ax.plot(g["step"] - t_mem, g["sq_norm_all"], color=c, lw=1.0, alpha=0.75)
        if q.loc[key, "grokked"]:
            at = g.iloc[int(np.argmin(np.abs(g["step"].to_numpy() - q.loc[key, "t_grok"])))]
            ax.plot(at["step"] - t_mem, at["sq_norm_all"], "o", color=c, mec="k", mew=0.6, ms=5, zorder=4)
    ax.plot([], [], color=palette[0] if palette else OURS, lw=1.0, label="V = ‖θ‖² of a run (one colour per seed)")
    ax.plot([], [], "o", color="0.6", mec="k", mew=0.6, ms=5, label="its $T_{grok}$")
    for name, tex, ls in (("V_mem", "$V_{mem}$", ":"), ("V_post", "$V_{post}$", "--")):
        if paper and name in paper:
            ax.axhline(paper[name], color=PAPER, ls=ls, lw=1.1, label=f"paper: {tex} ≈ {paper[name]:,.0f}")
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("steps since memorization ($t - T_{mem}$)")
    ax.set_ylabel("$V = \\|\\theta\\|^2$ (all parameters)")
    thousands_axis(ax.xaxis)
    ax.set_title(title)
    legend_below(fig, ax)
    if scale:
        annotate_scale(ax, scale, loc="lower left")
    return fig


def inverse_law(cells: pd.DataFrame, x: str, *, fit=None, fit_range: tuple[float, float] | None = None,
                paper: Mapping[float, float] | None = None, paper_label: str = "paper", xlabel: str = "",
                title: str = "", scale: str = "") -> plt.Figure:
    """Median T_grok (95 % CI) against a hyperparameter on log-log axes, with a fitted
    ``T = a + b / x`` (``fit``: a :class:`grokkit.analysis.stats.LineFit` of T on 1/x) over ``fit_range``
    and the paper's values as crosses; cells where over half the runs are censored are drawn
    as open triangles at their budget."""
    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    if len(cells):
        medians_vs_level(cells, x, ax=ax, color=OURS, label="ours: median (95 % CI)")
    if fit is not None:
        lo, hi = fit_range or (cells[x].min(), cells[x].max())
        xs = np.geomspace(lo, hi, 100)
        ax.plot(xs, fit.predict(1.0 / xs), color=OURS, lw=1.3, alpha=0.85,
                label=f"fit $T = a + b/{x if len(x) == 1 else 'x'}$: b = {fit.slope:,.4g}, R² = {fit.r2:.3f}")
    paper_points(ax, paper or {}, paper_label)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    legend_below(fig, ax)
    if scale:
        annotate_scale(ax, scale, loc="lower left")
    return fig


def delay_vs_log_ratio(points: pd.DataFrame, hue: str, *, two_eta_lambda: float | None = None,
                       fit=None, hue_label: str = "", title: str = "", scale: str = "") -> plt.Figure:
    """Each grokked run's delay T_grok − T_mem against ln(V_mem / V_post), coloured by ``hue``,
    with the line ``delay = ln(ratio) / (2ηλ)`` (paper 3's escape time) and a fitted line."""
    fig, ax = plt.subplots(figsize=(7.0, 4.8))
    levels = sorted(points[hue].unique())
    for c, level in zip(colors(len(levels), "viridis"), levels):
        g = points[points[hue] == level]
        ax.scatter(g["log_ratio"], g["delay"], color=c, s=22, edgecolor="k", linewidth=0.4,
                   label=f"{hue_label or hue} = {level:g}")
    if len(points):  # the data's range: the lines are not extrapolated to ln(ratio) = 0
        lo, hi = points["log_ratio"].min(), points["log_ratio"].max()
        xs = np.linspace(lo - 0.05 * (hi - lo + 0.1), hi + 0.05 * (hi - lo + 0.1), 50)
    else:
        xs = np.array([0.0, 1.0])
    if two_eta_lambda:
        ax.plot(xs, xs / two_eta_lambda, color=PAPER, ls="--", lw=1.1,
                label=f"paper 3's escape time ln(ratio)/(2ηλ), 2ηλ = {two_eta_lambda:g}")
    if fit is not None:
        ax.plot(xs, fit.predict(xs), color=OURS, lw=1.3, label=f"least squares: slope {fit.slope:,.0f} steps")
    ax.set_xlabel("$\\ln(V_{mem} / V_{post})$")
    ax.set_ylabel("delay $T_{grok} - T_{mem}$ (steps)")
    ax.set_title(title)
    legend_below(fig, ax)
    if scale:
        annotate_scale(ax, scale, loc="lower right")
    return fig


def predicted_vs_actual(variants: Sequence[tuple[pd.DataFrame, str, str]], *, title: str = "",
                        scale: str = "") -> plt.Figure:
    """Predicted against actual delay (log-log), one marker style per predictor variant
    (``(frame with 'delay' and 'predicted', label, colour)``), with the diagonal and the
    band within a factor 2."""
    fig, ax = plt.subplots(figsize=(7.0, 5.4))
    values = [v for f, _, _ in variants for v in (*f["delay"], *f["predicted"]) if np.isfinite(v) and v > 0]
    lo, hi = (min(values) / 1.5, max(values) * 1.5) if values else (100.0, 10_000.0)
    xs = np.geomspace(lo, hi, 20)
    ax.fill_between(xs, xs / 2, xs * 2, color="0.9", label="within a factor 2", zorder=0)
    ax.plot(xs, xs, color="0.4", lw=1, label="predicted = actual")
    for (frame, label, c), m in zip(variants, "osD^v"):
        ax.scatter(frame["delay"], frame["predicted"], color=c, marker=m, s=22, edgecolor="k", linewidth=0.4,
                   label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    log_steps_axis(ax.xaxis)
    log_steps_axis(ax.yaxis)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("actual delay $T_{grok} - T_{mem}$ (steps)")
    ax.set_ylabel("predicted delay (steps)")
    ax.set_title(title)
    legend_below(fig, ax)
    if scale:
        annotate_scale(ax, scale, loc="lower right")
    return fig


# ---------------------------------------------------------------- optimizers (chapter 4)
def norm_by_arm(traj: pd.DataFrame, runs: pd.DataFrame, arms: Sequence[tuple[Any, str, str]], *,
                y: str = "sq_norm_all", ylabel: str = "$V = \\|\\theta\\|^2$ (all parameters)",
                paper: Mapping[str, float] | None = None, title: str = "", scale: str = "",
                legend: str = "right", paper_at_arm_end: bool = False) -> plt.Figure:
    """Trajectories of ``y`` (log axis) against the step for several arms, one colour per arm
    (``arms``: ``(mask over runs, label, colour)``), with each run's T_mem (open circle) and
    T_grok (filled dot) marked, and the paper's final values as black crosses at the right edge
    (``paper = {label: value}``, the label naming the arm), or with ``paper_at_arm_end`` at the
    median last step of the arm of that label (where its runs stop when they stop where the paper
    reads). ``legend="below"`` for long labels."""
    fig, ax = plt.subplots(figsize=(7.0, 5.2 if legend == "below" else 3.9))
    info = runs.set_index("key")
    right = float(np.nanmax(runs["final_step"])) if len(runs) else 1.0
    for mask, label, c in arms:
        keys = list(runs.loc[mask, "key"])
        if not keys:
            continue
        g_all = traj[traj["key"].isin(keys)]
        for i, (key, g) in enumerate(g_all.groupby("key", sort=False)):
            seeds = f"{len(keys)} seed{'s' if len(keys) > 1 else ''}"
            ax.plot(g["step"], g[y], color=c, lw=1.1, alpha=0.8, label=f"{label} ({seeds})" if i == 0 else None)
            run = info.loc[key]
            for t, style in ((run.t_mem, dict(mfc="white")), (run.t_grok if run.status == "grokked" else np.nan, {})):
                if np.isfinite(t):
                    at = g.iloc[int(np.argmin(np.abs(g["step"].to_numpy() - t)))]
                    ax.plot(at["step"], at[y], "o", color=c, mec="k", mew=0.6, ms=5, zorder=4, **style)
    ends = {label: float(runs.loc[mask, "final_step"].median()) for mask, label, _ in arms if mask.any()}
    for label, value in (paper or {}).items():
        x = ends.get(label, right) if paper_at_arm_end else right
        ax.plot(x, value, **{**PAPER_MARKER, "label": None}, zorder=5, clip_on=False)
        near_right = x > 0.5 * right
        ax.annotate(f"paper: {label}", (x, value), textcoords="offset points", xytext=(-6 if near_right else 6, 4),
                    ha="right" if near_right else "left", fontsize=7.5)
    ax.plot([], [], "o", color="0.6", mec="k", mew=0.6, ms=5, mfc="white", ls="none", label="$T_{mem}$ of a run")
    ax.plot([], [], "o", color="0.6", mec="k", mew=0.6, ms=5, ls="none", label="$T_{grok}$ of a run")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    thousands_axis(ax.xaxis)
    ax.set_title(title)
    if legend == "below":
        legend_below(fig, ax)
    else:
        legend_outside(ax)
    if scale:
        annotate_scale(ax, scale, loc="lower left")
    return fig


#: Line colours for runs of each outcome (darker than the map's squares, to read as lines).
OUTCOME_LINES = ("#b22222", "0.45", "#c98a00", "#7b3294", "#2b8a3e")
#: Colours of the outcome map, in the order of :data:`grokkit.analysis.cells.OUTCOMES`.
OUTCOME_COLORS = ("#b22222", "0.82", "#f0c05a", "#9970ab", "#2b8a3e")


def outcome_map(table: pd.DataFrame, x: str, y: str, facet: str | None = None, *, xlabel: str = "",
                ylabel: str = "", facet_label: str = "", title: str = "", scale: str = "") -> plt.Figure:
    """Where runs memorize and grok: one square per cell of ``x`` × ``y`` (one panel per value of
    ``facet``), coloured by the cell's majority outcome (:func:`grokkit.analysis.cells.outcome_table`),
    with the counts written in it ("2/2" runs grokked, and the median T_grok; "div 2/2" for
    diverged runs, "grok→div" for runs that grokked and diverged later, "mem 1/2" for runs that
    memorized but did not grok)."""
    from ..analysis.cells import OUTCOMES

    if not len(table):
        fig, ax = plt.subplots(figsize=(7.0, 1.5))
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no runs in the store for this map yet", ha="center", va="center", color="0.35")
        return fig
    facets = sorted(table[facet].unique()) if facet else [None]
    xs, ys = sorted(table[x].unique()), sorted(table[y].unique())
    fig, axes = plt.subplots(1, len(facets), figsize=(7.0, 0.55 * len(ys) + 1.9), sharey=True, squeeze=False)
    for ax, f in zip(axes[0], facets):
        sub = table if f is None else table[table[facet] == f]
        for _, r in sub.iterrows():
            i, j = xs.index(r[x]), ys.index(r[y])
            ax.add_patch(mpl.patches.Rectangle((i - 0.48, j - 0.48), 0.96, 0.96,
                                               color=OUTCOME_COLORS[OUTCOMES.index(r["majority"])], lw=0))
            n = r["n"]
            if r["grokked"]:
                t = f"\n{r['t_median'] / 1000:.1f}k" if np.isfinite(r["t_median"]) else ""
                text = f"{r['grokked']}/{n}{t}"
            elif r["grokked, then diverged"]:
                text = f"grok→div\n{r['grokked, then diverged']}/{n}"
            elif r["diverged"]:
                text = f"div {r['diverged']}/{n}"
            else:
                text = f"mem {r['memorized, did not grok']}/{n}" if r["memorized, did not grok"] else f"0/{n}"
            dark = r["majority"] in (OUTCOMES[0], OUTCOMES[3], OUTCOMES[4])
            ax.text(i, j, text, ha="center", va="center", fontsize=7, color="white" if dark else "0.15")
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_ylim(-0.5, len(ys) - 0.5)
        ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs], rotation=45)
        ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
        ax.grid(False)
        ax.set_xlabel(xlabel or x)
        if f is not None:
            ax.set_title(f"{facet_label or facet} = {f:g}", fontsize=10)
    axes[0][0].set_ylabel(ylabel or y)
    handles = [mpl.patches.Patch(color=c, label=o) for o, c in zip(OUTCOMES, OUTCOME_COLORS)]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8, title=scale or None,
               title_fontsize=7.5)
    if title:
        fig.suptitle(title, fontsize=11.5)
    return fig


# ---------------------------------------------------------------- logit scale (chapter 5)
TAU_MARKERS = ("o", "s", "D", "^", "v", "P", "X")


def logit_collapse(cells: pd.DataFrame, *, group: str = "p", fits: Mapping[Any, Any] | None = None,
                   paper: Mapping[Any, Sequence[tuple[float, float]]] | None = None, scale: str = "",
                   title: str = "") -> plt.Figure:
    """Median T_grok (log axis) against the logit scale L at grokking for every (ρ, τ) cell:
    one colour per ``group`` (the modulus), one marker per temperature τ, the CI as a bar. ``fits``
    maps a group to ``(intercept, slope)`` of ``ln T = a + b L``, drawn as a line; ``paper`` maps a
    group to the paper's ``(L, T)`` cells, drawn as crosses in the group's colour."""
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    groups = sorted(cells[group].unique()) if len(cells) else []
    taus = sorted(cells["tau"].unique()) if len(cells) else []
    for c, gv in zip(sns.color_palette("colorblind", len(groups)), groups):
        sub = cells[cells[group] == gv]
        for tau, m in zip(taus, TAU_MARKERS):
            t = sub[np.isclose(sub["tau"], tau) & np.isfinite(sub["t_median"])]
            lo = (t["t_median"] - t["t_lo"]).clip(lower=0)
            hi = (t["t_hi"] - t["t_median"]).clip(lower=0).replace(np.inf, 0)
            ax.errorbar(t["L"], t["t_median"], yerr=[lo, hi], fmt=m, color=c, ms=5.5, capsize=2, lw=1)
        if fits and gv in fits:
            a, b = fits[gv]
            xs = np.linspace(sub["L"].min(), sub["L"].max(), 50)
            ax.plot(xs, np.exp(a + b * xs), color=c, lw=1.2, alpha=0.8)
        if paper and gv in paper:
            pl, pt = zip(*paper[gv])
            ax.plot(pl, pt, marker="x", color=c, ms=6, mew=1.4, ls="none", alpha=0.8)
    handles = [Line2D([], [], color=c, lw=1.2, label=f"{group} = {gv} (fit: ln T linear in L)")
               for c, gv in zip(sns.color_palette("colorblind", len(groups)), groups)]
    handles += [Line2D([], [], marker=m, color="0.3", ls="none", label=f"τ = {tau:g}") for tau, m in zip(taus, TAU_MARKERS)]
    if paper:
        handles.append(Line2D([], [], **{**PAPER_MARKER, "color": "0.3"}, label="paper (same colour)"))
    ax.set_yscale("log")
    log_steps_axis(ax.yaxis)
    ax.set_xlabel(r"logit scale $L$ at grokking (mean $\|z/\tau\|_2$ over all $p^2$ inputs)")
    ax.set_ylabel("median $T_{grok}$ (steps)")
    ax.set_title(title)
    legend_outside(ax, handles=handles)
    if scale:
        annotate_scale(ax, scale)
    return fig


def temperature_rescue(cells: pd.DataFrame, recoveries: Mapping[Any, Any], *, group: str = "p",
                       paper: Mapping[Any, Sequence[tuple[float, float]]] | None = None,
                       scale: str = "") -> plt.Figure:
    """One panel per ``group``: the norm-raised cells' median T_grok against their logit scale L
    (one point per temperature, labelled), the baseline (held at w_c, τ = 1) as a star, and the
    recovery read-out: ``T2`` is the raised curve at the baseline's L (paper 2's interpolation).
    ``cells`` needs columns ``arm`` ("baseline" or "raised"), ``tau``, ``L``, ``t_median``."""
    groups = sorted(cells[group].unique()) if len(cells) else []
    fig, axes = plt.subplots(1, max(1, len(groups)), figsize=(7.0, 3.6), squeeze=False)
    for ax, gv in zip(axes[0], groups):
        sub = cells[cells[group] == gv]
        up = sub[sub["arm"] == "raised"].sort_values("L")
        base = sub[sub["arm"] == "baseline"]
        ax.plot(up["L"], up["t_median"], "o-", color=OURS, label="raised norm, τ varied")
        for _, r in up.iterrows():
            ax.annotate(f"τ={r['tau']:g}", (r["L"], r["t_median"]), textcoords="offset points", xytext=(4, 3),
                        fontsize=7.5, color="0.3")
        ax.plot(base["L"], base["t_median"], "*", color="C3", ms=12, label="baseline (ρ = 1, τ = 1)")
        rec = recoveries.get(gv)
        if rec is not None:
            ax.axvline(rec.l0, color="C3", ls=":", lw=1)
            ax.plot([rec.l0], [rec.t2], "D", color="C2", ms=6, label="$T_2$: raised at the baseline's L")
        if paper and gv in paper:
            pl, pt = zip(*paper[gv])
            ax.plot(pl, pt, **PAPER_MARKER, label="paper (raised cells)")
        ax.set_yscale("log")
        log_steps_axis(ax.yaxis)
        ax.set_xlabel("logit scale $L$ at grokking")
        ax.set_title(f"{group} = {gv}")
    axes[0][0].set_ylabel("median $T_{grok}$ (steps)")
    legend_below(fig, axes[0][0])
    if scale:
        annotate_scale(axes[0][-1], scale, loc="lower right")
    return fig


def fork_arms(cells: pd.DataFrame, arms: Sequence[str], *, group: str = "p",
              paper: Mapping[Any, Mapping[str, float]] | None = None, scale: str = "") -> plt.Figure:
    """Median delay after a same-state fork (log axis) for each arm, one colour per ``group``,
    with 95 % CIs; the paper's medians as crosses. ``cells`` needs ``arm``, ``d_median``, ``d_lo``
    and ``d_hi`` (delays counted from the fork)."""
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    groups = sorted(cells[group].unique()) if len(cells) else []
    width = 0.18
    for i, (c, gv) in enumerate(zip(sns.color_palette("colorblind", len(groups)), groups)):
        sub = cells[cells[group] == gv].set_index("arm").reindex(list(arms))
        x = np.arange(len(arms)) + (i - (len(groups) - 1) / 2) * width
        lo = (sub["d_median"] - sub["d_lo"]).clip(lower=0)
        hi = (sub["d_hi"] - sub["d_median"]).clip(lower=0).replace(np.inf, 0)
        ax.errorbar(x, sub["d_median"], yerr=[lo, hi], fmt="o", color=c, capsize=3, label=f"ours, {group} = {gv}")
        if paper and gv in paper:
            ax.plot(x, [paper[gv].get(a, np.nan) for a in arms], marker="x", color=c, ms=7, mew=1.5, ls="none",
                    label=f"paper, {group} = {gv}")
    ax.set_xticks(np.arange(len(arms)), list(arms))
    ax.set_yscale("log")
    log_steps_axis(ax.yaxis)
    ax.set_ylabel("median delay from the fork (steps)")
    ax.set_xlabel("arm (held norm after the fork)")
    legend_outside(ax)
    if scale:
        annotate_scale(ax, scale, loc="upper left")
    return fig


def relative_norms(runs: pd.DataFrame, by: str, columns: Mapping[str, str], *, xlabel: str = "",
                   scale: str = "") -> plt.Figure:
    """Norms at grokking of the runs that grokked, each divided by its mean over all of them, per
    level of ``by``: one colour per norm (``columns`` maps a label to a column), a line through
    the medians. A norm that marks the grokking point stays near 1 at every level."""
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    g = runs[runs["status"] == "grokked"]
    levels = sorted(g[by].unique())
    for i, (lab, col) in enumerate(columns.items()):
        rel = g[col].astype(float) / g[col].astype(float).mean()
        xs = g[by].map({v: k for k, v in enumerate(levels)}) + (i - (len(columns) - 1) / 2) * 0.12
        ax.scatter(xs, rel, s=14, color=f"C{i}", alpha=0.6)
        med = rel.groupby(g[by]).median().reindex(levels)
        ax.plot(np.arange(len(levels)) + (i - (len(columns) - 1) / 2) * 0.12, med, "-o", color=f"C{i}", ms=4,
                label=lab)
    ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
    ax.set_xticks(np.arange(len(levels)), [f"{v:g}" for v in levels])
    ax.set_xlabel(xlabel or by)
    ax.set_ylabel("norm at $T_{grok}$ / its mean")
    legend_outside(ax, title="norm")
    if scale:
        annotate_scale(ax, scale)
    return fig


def scaled_delay(points: pd.DataFrame, hue: str, *, paper_ratio: float | None = None, scale: str = "",
                 from_peak: bool = False) -> plt.Figure:
    """Paper 3's law with the rates divided out: each grokked run's delay times 2ηλ against
    ln(V_mem / V_post), coloured by ``hue`` (a label column). On the diagonal, the delay equals
    the escape time ln(V_mem / V_post) / (2ηλ); ``paper_ratio`` draws escape time = ratio × delay.
    ``from_peak`` adds each run clocked from V's peak after memorization (hollow markers:
    ``log_ratio_peak`` against ``delay_peak`` times 2ηλ)."""
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    rate = 2 * points["lr"] * points["weight_decay"]
    palette = sns.color_palette("colorblind", points[hue].nunique())
    for c, (lab, g) in zip(palette, points.groupby(hue, sort=False)):
        ax.scatter(g["log_ratio"], g["delay"] * rate[g.index], color=c, s=24, edgecolor="k", linewidth=0.4,
                   label=lab)
        if from_peak:
            ax.scatter(g["log_ratio_peak"], g["delay_peak"] * rate[g.index], facecolors="none", edgecolors=c,
                       s=30, linewidth=1.1)
    if from_peak and len(points):
        ax.scatter([], [], facecolors="none", edgecolors="0.3", s=30, label="from V's peak (same colours)")
    xcols = ["log_ratio", "log_ratio_peak"] if from_peak else ["log_ratio"]
    xv = points[xcols].to_numpy(dtype=float) if len(points) else np.array([0.0, 1.0])
    lo, hi = min(0.0, float(np.nanmin(xv))), float(np.nanmax(xv)) * 1.1
    xs = np.array([lo, max(hi, 1e-9)])
    ax.plot(xs, xs, color=PAPER, ls="--", lw=1.1, label="escape time = delay")
    if paper_ratio:
        ax.plot(xs, xs / paper_ratio, color="0.5", ls=":", lw=1.1, label=f"escape time = {paper_ratio:.2f} × delay")
    ax.set_xlabel(r"$\ln(V_{mem} / V_{post})$" + (r" (filled), $\ln(V_{peak} / V_{post})$ (hollow)" if from_peak else ""))
    ax.set_ylabel(r"delay $\times\ 2\eta\lambda$")
    top = ax.get_ylim()[1]
    ax.set_ylim(top=top * 1.25)
    legend_outside(ax)
    if scale:
        annotate_scale(ax, scale, loc="upper left")
    return fig


# ---------------------------------------------------------------- scoreboard
def verdict_deviations(rows: pd.DataFrame) -> plt.Figure:
    """Every claim on one axis: our estimate (dot) and CI (bar) as a deviation from the paper's
    value in units of the tolerance the chapter stated (0: the paper's value; ±1: the tolerance;
    a bound claim is negative on its allowed side), coloured by verdict. ``rows`` has columns
    label, value, lo, hi, verdict and header (a claim's title row above its parts)."""
    from .verdicts import VERDICT_COLORS, VERDICTS

    edge = {"consistent": "#2b7a2b", "close": "#7a8f1c", "partly": "#b07d00", "inconclusive": "#4a5f8f",
            "differs": "#b22222", "no data": "0.5"}
    n = len(rows)
    height = 0.24 * n + 1.2
    fig = plt.figure(figsize=(7.0, height), layout="none")
    ax = fig.add_axes([0.50, 0.8 / height, 0.36, 1 - 1.0 / height])
    ax.axvspan(-1, 1, color="0.88", lw=0)
    ax.axvline(0, color="k", lw=1)
    ys = np.arange(n)[::-1]
    for y, r in zip(ys, rows.itertuples()):
        if getattr(r, "header", False):
            continue
        if not np.isfinite(r.value):
            ax.text(0.02, y, "no data", transform=ax.get_yaxis_transform(), va="center", fontsize=7, color="0.4")
            continue
        lo, hi = (r.lo if np.isfinite(r.lo) else r.value), (r.hi if np.isfinite(r.hi) else r.value)
        ax.plot([lo, hi], [y, y], color=edge[r.verdict], lw=2, solid_capstyle="butt")
        ax.plot(r.value, y, "o", color=VERDICT_COLORS[r.verdict], mec=edge[r.verdict], mew=1.4, ms=6)
    ax.set_yticks(ys, rows["label"], fontsize=7.5)
    for tick, header in zip(ax.get_yticklabels(), rows.get("header", pd.Series(False, index=rows.index))):
        tick.set_fontweight("bold" if header else "normal")
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xscale("symlog", linthresh=2)
    ticks = [t for t in (-20, -10, -5, -2, -1, 0, 1, 2, 5, 10, 20) if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks], fontsize=8)
    ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
    ax.set_xlabel("ours − paper, in stated tolerances", fontsize=8.5)
    ax.grid(axis="y", visible=False)
    handles = [Line2D([], [], marker="o", color=edge[v], mfc=VERDICT_COLORS[v], lw=2, label=v) for v in VERDICTS[:4]]
    handles.append(mpl.patches.Patch(color="0.88", label="within the\nstated tolerance"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.03, 1.0), title="verdict", fontsize=7.5,
              title_fontsize=8)
    return fig
