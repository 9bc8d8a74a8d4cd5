"""Numbers and words on a page: formats, prose lists, and the glue that puts computed values
into a chapter's text.

``fmt_num`` and ``fmt_ci`` write a number or an estimate with its CI as the page shows it;
``and_list`` and ``levels`` write lists of values in prose; ``glue`` hands a value to the book's
prose (``{glue:text}`name```). Nothing here computes a result.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from ..analysis.stats import Estimate


# ---------------------------------------------------------------- numbers in words
def fmt_num(x: float, fmt: str = ".3g", unit: str = "") -> str:
    """A number as the page shows it (``inf`` as ∞, NaN as n/a)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:{fmt}}{unit}"

def fmt_ci(est: Estimate | None, fmt: str = ".3g", unit: str = "", scale: float = 1.0) -> str:
    """``"7.64 [7.47, 7.81]"`` with a number format, an optional unit and a scale factor
    (``scale=100, unit=" %"`` shows a fraction as a percentage)."""
    if est is None or not math.isfinite(est.value):
        return "n/a"
    v, lo, hi = (scale * x for x in (est.value, est.lo, est.hi))
    return f"{fmt_num(v, fmt)}{unit} [{fmt_num(lo, fmt)}, {fmt_num(hi, fmt)}]"

def scaled(est: Estimate | None, factor: float) -> Estimate | None:
    """``est`` multiplied by ``factor`` (e.g. 100 for percentages)."""
    return None if est is None else Estimate(est.value * factor, est.lo * factor, est.hi * factor, est.ci)


# ---------------------------------------------------------------- prose
def and_list(items: Iterable[str]) -> str:
    """``"a, b and c"`` (prose lists of glued values)."""
    items = [str(i) for i in items]
    return " and ".join(items) if len(items) < 3 else ", ".join(items[:-1]) + " and " + items[-1]

def levels(values: Iterable[Any], fmt: str = "g", sep: str = " / ") -> str:
    """Per-level values in one string, as the verdict rows and the prose show them:
    ``levels([62.94, 55.2, 49.31], ".1f")`` is ``"62.9 / 55.2 / 49.3"``; estimates show their
    value; nothing at all is ``"n/a"``."""
    shown = [fmt_num(v.value if isinstance(v, Estimate) else v, fmt) for v in values]
    return sep.join(shown) or "n/a"


def missing_runs_note(*designs: Any) -> str:
    """The note a chapter shows when training was off and some of its runs are not in the store
    (``""`` when none is missing): each design's :attr:`grokkit.runs.Design.missing` summed."""
    missing = sum(int(getattr(d, "missing", 0)) for d in designs)
    if not missing:
        return ""
    return (f"**{missing} requested runs are not in the store** (training was off); "
            "the numbers below use the runs that are.")


def device_name(device: str) -> str:
    """A run record's device in words: ``"cuda:NVIDIA H200"`` is "an NVIDIA H200 GPU",
    ``"cpu:2 threads"`` is "the CPU"."""
    kind, _, name = str(device).partition(":")
    return f"an {name} GPU" if kind == "cuda" and name else ("a GPU" if kind == "cuda" else "the CPU")


# ---------------------------------------------------------------- glue
class _Text(str):
    """A glued string. myst-nb renders ``{glue:text}`` from the ``text/plain`` form through
    ``ast.literal_eval`` (to strip a string's quotes), so a bare ``30,000`` would come out as the
    tuple ``(30, 0)`` and ``{1, 2}`` as a set: the plain form is the quoted string, which
    evaluates back to exactly this text."""

    def __repr__(self) -> str:
        return repr(str(self))

def glue(name: str, value: Any, fmt: str | None = None) -> None:
    """Glue ``value`` for the book's prose (``{glue:text}`name``` in MyST, or ```{glue} name```
    for a figure or table). Numbers are formatted with ``fmt`` when given; strings and estimates
    are glued as plain text; figures and displayable objects as themselves. Returns nothing, so
    a cell that ends with a glue shows no stray output."""
    if fmt is not None:
        shown: Any = _Text(fmt_num(value, fmt))
    elif isinstance(value, (str, Estimate)):
        shown = _Text(str(value))
    else:
        shown = value
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - myst-nb comes with jupyter-book
        return None
    _glue(name, shown, display=False)
    return None


def glue_all(values: Mapping[str, Any]) -> None:
    """:func:`glue` every ``name: value`` of a mapping (a chapter's :meth:`texts`): values that are
    already text, figures or tables are glued as they are."""
    for name, value in values.items():
        glue(name, value)
