"""Tables as the book shows them: columns named with one label map, numbers rounded to
their meaning, censored medians written out, no index.

:data:`LABELS` is the one map from a column or parameter name to the symbol a reader sees
(``weight_decay`` is "λ" in every table, figure legend and selector of the book, the run
explorer included).
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from ..analysis.stats import Estimate
from .text import fmt_ci, fmt_num


class HTML:
    """HTML that Jupyter (and glue) display as HTML."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text


#: Cell padding and a slightly smaller font, so wide tables stay readable in the book's column.
TABLE_STYLE = [{"selector": "", "props": [("font-size", "0.88em"), ("border-collapse", "collapse")]},
               {"selector": "th, td", "props": [("padding", "0.3em 0.5em"), ("text-align", "left"), ("vertical-align", "top")]},
               {"selector": "thead th", "props": [("border-bottom", "1px solid #999")]}]
#: The style of a dense table (:data:`COMPACT_COLUMNS` columns or more, or asked for): smaller type and
#: padding, so that it fits the text column (688 px wide in a 1,200 px window) without scrolling sideways.
COMPACT_STYLE = [{"selector": "", "props": [("font-size", "0.78em"), ("border-collapse", "collapse")]},
                 {"selector": "th, td", "props": [("padding", "0.3em 0.35em"), *TABLE_STYLE[1]["props"][1:]]},
                 TABLE_STYLE[2]]
COMPACT_COLUMNS = 9

#: How the book names common columns.
LABELS = {
    "rho": "ρ", "temperature": "τ", "tau": "τ", "train_frac": "train fraction", "weight_decay": "λ", "lr": "lr", "p": "p",
    "n": "runs", "n_grokked": "grokked", "n_censored": "censored", "n_diverged": "diverged",
    "t_median": "median T_grok", "budget": "budget (steps)", "norm_median": "‖W‖ at T_grok",
}

def _formatter(name: str, spec: str) -> Callable[[Any], str]:
    def show(v: Any) -> str:
        try:
            return fmt_num(float(v), spec) if v is not None else "—"
        except (TypeError, ValueError):
            return str(v)
    return lambda v: "—" if v is None or (isinstance(v, float) and math.isnan(v)) else show(v)

def column_format(name: str) -> str | None:
    """The number format the book uses for a column, from its name (None: leave as is)."""
    n = name.lower()
    if re.fullmatch(r"(ρ|rho\w*|τ|tau|temperature|train.?frac\w*|fraction\w*|ratio\w*|α|alpha\w*)", n):
        return ".2f"
    if re.fullmatch(r"(r2|r²)\w*", n):
        return ".3f"
    if re.fullmatch(r"(p|n|n_\w+|runs|seeds?|budget.*|final_step|steps?|grokked|censored|diverged|t_\w+|.*t_grok.*|.*t_mem.*|delay\w*)", n):
        return ",.0f"
    if re.fullmatch(r"(lr|η|eta|λ|lambda|weight.?decay\w*|momentum)", n):
        return "g"
    if "norm" in n or "‖" in n or n in ("wc", "w_c"):
        return ".1f"
    return None

def table(df: pd.DataFrame, formats: Mapping[str, str] | None = None, labels: Mapping[str, str] | None = None,
          columns: Sequence[str] | None = None, compact: bool | None = None):
    """A table as the book shows it: chosen ``columns``, each rounded to its meaning (ρ to 2
    decimals, steps as integers with thousands separators, norms to 1 decimal, learning rates
    as 1e-3; see :func:`column_format`; ``formats`` overrides by column), renamed with
    :data:`LABELS` (and ``labels``), no index, in :data:`TABLE_STYLE`, or in :data:`COMPACT_STYLE`
    when ``compact`` (None: when it has :data:`COMPACT_COLUMNS` columns or more). Returns a pandas
    Styler (it renders as HTML)."""
    frame = df[list(columns)] if columns is not None else df
    names = {**LABELS, **(labels or {})}
    specs = {c: (formats or {}).get(c) or column_format(str(c)) for c in frame.columns}
    out = frame.rename(columns={c: names.get(c, c) for c in frame.columns})
    fmts = {names.get(c, c): _formatter(c, s) for c, s in specs.items()
            if s is not None and pd.api.types.is_numeric_dtype(frame[c])}
    dense = len(frame.columns) >= COMPACT_COLUMNS if compact is None else compact
    return out.style.format(fmts, na_rep="—").hide(axis="index").set_table_styles(COMPACT_STYLE if dense else TABLE_STYLE)

def cells_table(cells: pd.DataFrame, by: str | Iterable[str], *, norm: str | None = "‖W‖ at T_grok",
                time: str = "median T_grok", formats: Mapping[str, str] | None = None):
    """A :func:`grokkit.analysis.cells.cell_table` as the book shows it: the cell columns, runs, grokked,
    censored, diverged, the median time with its CI in one column (∞ when more than half are
    censored), the median norm at grokking with its CI, and the budget."""
    by = [by] if isinstance(by, str) else list(by)
    view = cells[by + ["n", "n_grokked", "n_censored", "n_diverged"]].copy()
    view[f"{time} [95 % CI]"] = [
        f"{fmt_num(m, ',.0f')} [{fmt_num(lo, ',.0f')}, {fmt_num(hi, ',.0f')}]" if math.isfinite(m)
        else f"not reached (> {b:,.0f})" for m, lo, hi, b in zip(cells["t_median"], cells["t_lo"], cells["t_hi"], cells["budget"])]
    if norm:
        view[f"{norm} [95 % CI]"] = [fmt_ci(Estimate(m, lo, hi), ".1f") for m, lo, hi in
                                    zip(cells["norm_median"], cells["norm_lo"], cells["norm_hi"])]
    view["budget"] = cells["budget"]
    return table(view, formats=formats)
