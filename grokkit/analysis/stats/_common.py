"""Helpers shared by the statistics modules: number formatting, JSON conversion, input
validation and percentile intervals.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Hashable

import numpy as np
import pandas as pd


def _fmt(x: float, digits: int = 3) -> str:
    """Format a number with ``digits`` significant digits (integers if large)."""
    x = float(x)
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    if abs(x) >= 10**digits:
        return f"{x:.0f}"
    text = f"{x:#.{digits}g}"  # '#' keeps trailing zeros: 7.60, not 7.6
    return text[:-1] if text.endswith(".") else text


def _jsonable(obj: Any) -> Any:
    """Recursively convert results to plain Python objects for ``json.dumps``."""
    if hasattr(obj, "as_dict") and dataclasses.is_dataclass(obj):
        return obj.as_dict()
    if isinstance(obj, pd.DataFrame):
        return [_jsonable(r) for r in obj.to_dict(orient="records")]
    if isinstance(obj, dict):
        return {_jsonable(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _fields_dict(obj: Any) -> dict[str, Any]:
    return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def _as_1d(values: Any, name: str, *, positive: bool = False, min_size: int = 1) -> np.ndarray:
    """Return ``values`` as a finite 1-D float array, or raise ``ValueError``."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric ({exc})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (got shape {arr.shape})")
    if arr.size == 0:
        raise ValueError(f"{name} must be non-empty")
    if arr.size < min_size:
        raise ValueError(f"{name} needs at least {min_size} values (got {arr.size})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN/inf)")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be strictly positive (a logarithm is taken); min is {arr.min()!r}")
    return arr


def _as_events(events: Any, n: int, name: str = "events", times_name: str = "times") -> np.ndarray:
    """Return ``events`` as a boolean array of length ``n`` (``None`` -> all True)."""
    if events is None:
        return np.ones(n, dtype=bool)
    arr = np.asarray(events)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (got shape {arr.shape})")
    if arr.size != n:
        raise ValueError(f"{name} must have the same length as {times_name} (got {arr.size} and {n})")
    if arr.dtype != bool:
        try:
            num = arr.astype(float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be boolean or 0/1") from None
        if not np.all((num == 0) | (num == 1)):
            raise ValueError(f"{name} must be boolean or 0/1")
        arr = num.astype(bool)
    return arr


def _check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{name_b} must have the same length as {name_a} (got {b.shape[0]} and {a.shape[0]})")


def _check_boot(n_boot: int, ci: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be an integer >= 1 (got {n_boot!r})")
    if not isinstance(ci, (int, float, np.floating)) or not 0.0 < float(ci) < 1.0:
        raise ValueError(f"ci must be in the open interval (0, 1) (got {ci!r})")


def _labels(values: Any, n: int, name: str) -> tuple[np.ndarray, list[Hashable]]:
    """Factorize group labels: (integer codes, list of distinct labels)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (got shape {arr.shape})")
    if arr.size != n:
        raise ValueError(f"{name} must have the same length as times (got {arr.size} and {n})")
    try:
        codes, uniques = pd.factorize(arr, sort=True)
    except TypeError:  # unorderable mix of label types: keep first-appearance order
        codes, uniques = pd.factorize(arr, sort=False)
    if np.any(codes < 0):
        raise ValueError(f"{name} must not contain missing values")
    labels = [u.item() if isinstance(u, np.generic) else u for u in uniques]
    return codes, labels


def _quantile_keep_inf(values: np.ndarray, q: float) -> float:
    """Linear-interpolated quantile that drops NaN and propagates infinities.

    Unlike :func:`numpy.quantile`, interpolating between a finite value and
    ``inf`` gives ``inf`` (never NaN).
    """
    v = np.asarray(values, dtype=float)
    v = np.sort(v[~np.isnan(v)])
    if v.size == 0:
        return float("nan")
    h = (v.size - 1) * q
    i = int(np.floor(h))
    j = min(i + 1, v.size - 1)
    frac = h - i
    a, b = v[i], v[j]
    if frac == 0 or a == b:
        return float(a)
    if np.isinf(a) and np.isinf(b):  # -inf and +inf
        return float("nan")
    if np.isinf(a):
        return float(a)
    if np.isinf(b):
        return float(b)
    return float(a + (b - a) * frac)


def _interval(boot: np.ndarray, ci: float) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (NaN dropped, inf kept)."""
    alpha = (1.0 - ci) / 2.0
    return _quantile_keep_inf(boot, alpha), _quantile_keep_inf(boot, 1.0 - alpha)
