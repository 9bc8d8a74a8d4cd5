"""Chapter parameters: presets, overrides and checks made before any training.

A chapter's first code cell (tagged ``parameters``) holds ``preset`` ("smoke" for the
tests, "book" for the rendered book, "paper" for the papers' own scale) and one
variable per parameter, ``None`` by default. papermill overrides any of them
(``-p seeds 16``). :func:`resolve_from` merges the preset with the overrides, and the
``check_*`` helpers validate every value with an error that names the parameter,
before anything is trained.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Mapping

import pandas as pd

from ..engine.config import is_prime


class Params(SimpleNamespace):
    """Resolved chapter parameters; shows itself as a two-column table."""

    def _repr_html_(self) -> str:
        df = pd.DataFrame({"parameter": list(vars(self)), "value": [repr(v) for v in vars(self).values()]})
        return df.to_html(index=False)


def resolve(presets: Mapping[str, Mapping[str, Any]], preset: str, **overrides: Any) -> Params:
    """The parameters of ``preset``, with every override that is not ``None`` applied.

    The result also carries ``preset`` itself. Raises ValueError for an unknown
    preset or an override the presets do not define.
    """
    if preset not in presets:
        raise ValueError(f"preset: unknown preset {preset!r}; expected one of {sorted(presets)}")
    values = dict(presets[preset])
    for name, value in overrides.items():
        if name not in values:
            raise ValueError(f"{name}: not a parameter of this chapter (known: {sorted(values)})")
        if value is not None:
            values[name] = value
    return Params(preset=preset, **values)


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


def notebook_parameters(path: str | Path) -> pd.DataFrame:
    """The parameters a notebook declares in its cell tagged ``parameters``: name, default
    and the comment that explains it (what papermill's ``-p name value`` overrides)."""
    import ast
    import json
    import re

    nb = json.loads(Path(path).read_text())
    rows = []
    for c in nb.get("cells", []):
        if c.get("cell_type") == "code" and "parameters" in c.get("metadata", {}).get("tags", []):
            for line in "".join(c["source"]).splitlines():
                m = re.match(r"^(\w+)\s*=\s*(.*?)\s*(?:#\s*(.*))?$", line)
                if m:
                    try:
                        default = ast.literal_eval(m.group(2))
                    except (ValueError, SyntaxError):
                        default = m.group(2)
                    rows.append({"parameter": m.group(1), "default": default, "meaning": m.group(3) or ""})
    return pd.DataFrame(rows, columns=["parameter", "default", "meaning"])


def notebook_presets(path: str | Path) -> dict[str, dict[str, Any]]:
    """The ``PRESETS = {"smoke": dict(...), ...}`` a chapter defines, read from its source
    without running it (every preset value must be a literal)."""
    import ast
    import json

    nb = json.loads(Path(path).read_text())
    for c in nb.get("cells", []):
        if c.get("cell_type") != "code":
            continue
        for node in ast.parse("".join(c["source"])).body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PRESETS" for t in node.targets):
                out = {}
                for k, v in zip(node.value.keys, node.value.values):
                    if isinstance(v, ast.Call):
                        out[ast.literal_eval(k)] = {kw.arg: _literal(kw.value) for kw in v.keywords}
                return out
    return {}


def parameter_table(path: str | Path) -> pd.DataFrame:
    """A chapter's parameters with their meaning and their value in each preset."""
    table = notebook_parameters(path)
    presets = notebook_presets(path)
    for name, values in presets.items():
        table[name] = [name if p == "preset" else _short(values.get(p, d)) for p, d in zip(table["parameter"], table["default"])]
    return table.drop(columns="default")


def _short(v: Any) -> str:
    text = repr(v) if not isinstance(v, str) else v
    return text if len(text) <= 40 else text[:37] + "…"


def _literal(node: Any) -> Any:
    """A literal's value; an expression that is not a literal (``[10] * 8``) as its source text."""
    import ast

    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)
