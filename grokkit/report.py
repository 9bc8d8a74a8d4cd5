"""What every chapter shares: parameters and presets, checks, glued numbers, the verdict table.

Chapter conventions
-------------------
* A cell tagged ``parameters`` holds ``preset`` ("smoke" for tests, "book" for the
  rendered book, "paper" for the papers' full scale) and individual parameters that
  default to ``None``; :func:`resolve` merges the preset with the ones given.
* :func:`check` validates every parameter *before any training*, with an error
  naming the parameter.
* Numbers in prose are glued from the computation (:func:`glue`).
* The chapter ends with a :class:`Verdicts` table (claim, paper's value, ours with
  CI, verdict, scale), also written as JSON to ``results_dir``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable, Mapping

import pandas as pd

from .config import is_prime
from .stats import Estimate

REPRODUCED, PARTLY, NOT_REPRODUCED, NO_DATA = "reproduced", "partly", "not reproduced", "no data"


# ---------------------------------------------------------------- parameters
class Params(SimpleNamespace):
    """Resolved chapter parameters; shows itself as a two-column table."""

    def _repr_html_(self) -> str:
        df = pd.DataFrame({"parameter": list(vars(self)), "value": [repr(v) for v in vars(self).values()]})
        return df.to_html(index=False)


def resolve(presets: Mapping[str, Mapping[str, Any]], preset: str, **overrides: Any) -> Params:
    """The parameters of ``preset``, with every override that is not ``None`` applied.

    Raises ValueError for an unknown preset or an override the presets do not define.
    """
    if preset not in presets:
        raise ValueError(f"preset: unknown preset {preset!r}; expected one of {sorted(presets)}")
    values = dict(presets[preset])
    for name, value in overrides.items():
        if name not in values:
            raise ValueError(f"{name}: not a parameter of this chapter (known: {sorted(values)})")
        if value is not None:
            values[name] = value
    return Params(**values)


def resolve_from(presets: Mapping[str, Mapping[str, Any]], preset: str, namespace: Mapping[str, Any]) -> Params:
    """:func:`resolve` with the overrides read from ``namespace`` (a notebook's ``globals()``):
    every parameter the presets define is looked up there by name."""
    names = {k for values in presets.values() for k in values}
    return resolve(presets, preset, **{k: namespace.get(k) for k in names})


def check(name: str, ok: bool, msg: str) -> None:
    """Raise ``ValueError("<name>: <msg>")`` unless ``ok``."""
    if not ok:
        raise ValueError(f"{name}: {msg}")


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def check_primes(name: str, values: Any) -> None:
    """Every value must be a prime integer (a modulus)."""
    for v in _as_list(values):
        check(name, isinstance(v, int) and is_prime(v), f"must be prime integers, got {v!r}")


def check_fractions(name: str, values: Any) -> None:
    """Every value must lie strictly between 0 and 1."""
    for v in _as_list(values):
        check(name, isinstance(v, (int, float)) and 0 < v < 1, f"must lie strictly between 0 and 1, got {v!r}")


def check_positive(name: str, values: Any, integer: bool = False) -> None:
    """Every value must be a positive (finite) number, or a positive integer."""
    for v in _as_list(values):
        ok = isinstance(v, int) if integer else isinstance(v, (int, float)) and math.isfinite(v)
        check(name, ok and not isinstance(v, bool) and v > 0,
              f"must be positive {'integers' if integer else 'numbers'}, got {v!r}")


# ---------------------------------------------------------------- glue
class _Text(str):
    """A string whose repr is itself, so ``{glue:text}`` shows it without quotes."""

    def __repr__(self) -> str:
        return str(self)


def glue(name: str, value: Any, fmt: str | None = None) -> Any:
    """Glue ``value`` for the book's prose (``{glue:text}`name``` in MyST) and return it.

    Numbers are formatted with ``fmt`` (e.g. ``".1f"``) when given; strings and
    estimates are glued as plain text.
    """
    shown = _Text(format(value, fmt)) if fmt else (_Text(str(value)) if isinstance(value, (str, Estimate)) else value)
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - myst-nb comes with jupyter-book
        return value
    _glue(name, shown, display=False)
    return value


# ---------------------------------------------------------------- verdicts
def judge(paper: float, ours: Estimate, rel_tol: float) -> str:
    """Verdict for a value claim.

    * reproduced: the paper's value lies in our CI, or within ``rel_tol`` of our estimate;
    * partly: within ``3 * rel_tol`` of our estimate, or our CI reaches within ``rel_tol`` of it;
    * not reproduced: otherwise; no data when our estimate is not finite.
    """
    if ours is None or not math.isfinite(ours.value):
        return NO_DATA
    rel = abs(ours.value - paper) / abs(paper) if paper else abs(ours.value)
    if ours.contains(paper) or rel <= rel_tol:
        return REPRODUCED
    gap = min(abs(ours.lo - paper), abs(ours.hi - paper)) / abs(paper) if paper else math.inf
    if rel <= 3 * rel_tol or gap <= rel_tol:
        return PARTLY
    return NOT_REPRODUCED


def judge_at_most(ours: Estimate, bound: float, slack: float = 2.0) -> str:
    """Verdict for an upper-bound claim ("CV is 1-2 %"): reproduced if our estimate is at
    most ``bound``, partly if at most ``slack * bound`` (or our CI reaches below ``bound``)."""
    if ours is None or not math.isfinite(ours.value):
        return NO_DATA
    if ours.value <= bound:
        return REPRODUCED
    if ours.value <= slack * bound or ours.lo <= bound:
        return PARTLY
    return NOT_REPRODUCED


def judge_all(verdicts: Iterable[str]) -> str:
    """Combine verdicts: reproduced if all are, not reproduced if none is, else partly."""
    vs = [v for v in verdicts if v != NO_DATA]
    if not vs:
        return NO_DATA
    if all(v == REPRODUCED for v in vs):
        return REPRODUCED
    if all(v == NOT_REPRODUCED for v in vs):
        return NOT_REPRODUCED
    return PARTLY


@dataclass
class Verdict:
    """One row of a chapter's verdict table."""

    claim: str
    paper: str
    ours: str
    verdict: str
    scale: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdicts:
    """A chapter's verdict table: add rows, show them, write them as JSON."""

    chapter: str
    rows: list[Verdict] = field(default_factory=list)

    def add(self, claim: str, paper: str, ours: Any, verdict: str, scale: str,
            values: Mapping[str, Any] | None = None) -> Verdict:
        """Add a row; ``values`` holds the machine-readable numbers behind it (for the JSON)."""
        row = Verdict(claim, paper, str(ours), verdict, scale, _jsonable(dict(values or {})))
        self.rows.append(row)
        return row

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"claim": r.claim, "paper": r.paper, "ours (95% CI)": r.ours,
                              "verdict": r.verdict, "scale": r.scale} for r in self.rows])

    def _repr_html_(self) -> str:
        colors = {REPRODUCED: "#d8f0d8", PARTLY: "#fdf0c8", NOT_REPRODUCED: "#f8d8d8", NO_DATA: "#eeeeee"}
        styled = self.frame().style.apply(
            lambda col: [f"background-color: {colors.get(v, '')}" for v in col], subset=["verdict"]
        ).hide(axis="index").set_properties(**{"text-align": "left"})
        return styled.to_html()

    def write(self, results_dir: str | Path | None = None) -> Path:
        """Write ``<results_dir>/<chapter>.json`` (default: the project's ``results/``) and return its path."""
        path = results_path(results_dir) / f"{self.chapter}.json"
        path.write_text(json.dumps({"chapter": self.chapter, "rows": [asdict(r) for r in self.rows]}, indent=2) + "\n")
        return path


def results_path(results_dir: str | Path | None = None) -> Path:
    """The folder chapters write their verdicts and run manifests to (created if needed):
    ``results_dir``, or ``$GROKKIT_RESULTS``, or the project's ``results/``."""
    import os

    if results_dir is None:
        from .store import project_root

        results_dir = os.environ.get("GROKKIT_RESULTS") or (project_root() or Path.cwd()) / "results"
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Estimate):
        return _jsonable(obj.as_dict())
    if hasattr(obj, "item") and callable(obj.item):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def fmt_ci(est: Estimate | None, fmt: str = ".3g", unit: str = "", scale: float = 1.0) -> str:
    """``"7.64 [7.47, 7.81]"`` with a number format, an optional unit and a scale factor
    (``scale=100, unit=" %"`` shows a fraction as a percentage)."""
    if est is None or not math.isfinite(est.value):
        return "n/a"
    v, lo, hi = (scale * x for x in (est.value, est.lo, est.hi))
    return f"{v:{fmt}}{unit} [{lo:{fmt}}, {hi:{fmt}}]"
