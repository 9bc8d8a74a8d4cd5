"""Figures the chapters share: one style, readable at book width.

Every function draws on a Matplotlib ``Axes`` it is given (or a new one) and
returns it, so chapters compose panels freely.
"""

from __future__ import annotations

import textwrap
from typing import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter
import numpy as np
import pandas as pd

from .cells import fraction_grokked, grok_times

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]


def style() -> None:
    """The book's Matplotlib style: large enough text, light grid, no top/right spines."""
    mpl.rcParams.update({
        "figure.dpi": 110,
        "savefig.dpi": 110,
        "figure.figsize": (7.0, 4.2),
        "font.size": 11,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "legend.fontsize": 9,
        "legend.frameon": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": mpl.cycler(color=PALETTE),
    })


def colors(n: int, cmap: str = "viridis") -> list:
    """``n`` colours spread over a sequential colormap (for ordered levels such as rho)."""
    return [plt.get_cmap(cmap)(x) for x in np.linspace(0.05, 0.9, max(n, 1))]


def _ax(ax: plt.Axes | None) -> plt.Axes:
    return ax if ax is not None else plt.figure().add_subplot()


def trajectories(traj: pd.DataFrame, y: str, *, ax: plt.Axes | None = None, color: str | None = None,
                 label: str | None = None, alpha: float = 0.8, lw: float = 1.2) -> plt.Axes:
    """One line per run (``key``) of metric ``y`` against ``step``."""
    ax = _ax(ax)
    for i, (_, g) in enumerate(traj.groupby("key", sort=False)):
        ax.plot(g["step"], g[y], color=color, alpha=alpha, lw=lw, label=label if i == 0 else None)
    ax.set_xlabel("step")
    return ax


def medians_vs_level(cells: pd.DataFrame, x: str, *, ax: plt.Axes | None = None, fit=None,
                     color: str | None = None, label: str | None = None, marker: str = "o",
                     fit_range: tuple[float, float] | None = None) -> plt.Axes:
    """Cell medians of T_grok (with their CIs) against a level, on a log axis, with an optional
    exponential fit drawn as a line. Cells with more than half censored are drawn as open
    triangles at their budget."""
    ax = _ax(ax)
    ok = np.isfinite(cells["t_median"])
    lo = (cells.loc[ok, "t_median"] - cells.loc[ok, "t_lo"]).clip(lower=0)
    hi = (cells.loc[ok, "t_hi"] - cells.loc[ok, "t_median"]).clip(lower=0).replace(np.inf, 0)
    ax.errorbar(cells.loc[ok, x], cells.loc[ok, "t_median"], yerr=[lo, hi], fmt=marker, color=color,
                label=label, capsize=3, ms=5)
    if (~ok).any():
        label_c = "more than half censored (at budget)"
        seen = label_c in ax.get_legend_handles_labels()[1]
        ax.scatter(cells.loc[~ok, x], cells.loc[~ok, "budget"], marker="^", facecolors="none",
                   edgecolors=color or "k", label=None if seen else label_c)
    if fit is not None:
        xs = np.linspace(*(fit_range or (cells[x].min(), cells[x].max())), 100)
        ax.plot(xs, fit.predict(xs), color=color, lw=1.2, alpha=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("median $T_{grok}$ (steps)")
    return ax


def survival(df: pd.DataFrame, by: str, *, ax: plt.Axes | None = None, steps: np.ndarray | None = None,
             fmt: str = "{}", cmap: str = "viridis") -> plt.Axes:
    """Fraction of runs grokked against steps, one curve per value of ``by`` (censored runs
    stay in the denominator)."""
    ax = _ax(ax)
    levels = sorted(df[by].unique())
    # up to the last event or censoring time (not the largest budget, which may be far beyond)
    last, _ = grok_times(df)
    top = 1.05 * float(np.nanmax(last)) if len(df) else 1.0
    steps = steps if steps is not None else np.linspace(0, top, 400)
    for c, level in zip(colors(len(levels), cmap), levels):
        g = df[df[by] == level]
        ax.step(steps, fraction_grokked(g, steps), where="post", color=c, label=fmt.format(level))
    thousands_axis(ax.xaxis)
    ax.set_xlabel("step")
    ax.set_ylabel("fraction grokked")
    ax.set_ylim(-0.02, 1.02)
    return ax


def thousands_axis(axis) -> None:
    """Label a step axis 0, 10k, 20k, ... instead of 0, 10000, 20000 (readable when long)."""
    axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k" if abs(x) >= 1000 else f"{x:g}"))


def annotate_scale(ax: plt.Axes, text: str) -> None:
    """A small grey note in the lower-right corner (e.g. the scale of the runs), wrapped so that
    it fits an axes narrowed by a legend outside it."""
    text = textwrap.fill(text, 48)
    ax.text(0.99, 0.01, text, transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color="0.4")


def legend_outside(ax: plt.Axes, title: str | None = None, handles: Sequence | None = None) -> None:
    """A legend to the right of the axes."""
    kw = {"handles": handles} if handles is not None else {}
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title=title, **kw)
