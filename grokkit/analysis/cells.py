"""Per-cell summaries of a table of runs (the DataFrame that :func:`grokkit.runs.sweep` returns).

A *cell* is a set of runs that differ only by seed (one clamp level, one modulus,
one learning rate, ...). The helpers here turn a run table into the per-cell
numbers the chapters report, honouring censoring:

* a **grokked** run has an event at ``t_grok``;
* a **censored** run (budget spent) is right-censored at its last step;
* a **diverged** run (non-finite loss or weights) is right-censored at the step
  where it diverged and counted separately: it is never a grokked run.
"""

from __future__ import annotations

import re

from typing import Sequence

import numpy as np
import pandas as pd

from .stats import Estimate, bootstrap_ci, censored_median, geometric_mean_ratio, km_median, ratio_ci


def grok_times(df: pd.DataFrame, time: str = "t_grok") -> tuple[np.ndarray, np.ndarray]:
    """Per-run ``(times, events)`` for survival statistics.

    ``time`` is ``"t_grok"`` or a crossing column such as ``"t_test_0.95"``. A run
    without an event is censored at its last evaluated step (``final_step``).
    """
    grokked = df["status"].eq("grokked") if time == "t_grok" else df[time].notna() & df["status"].ne("diverged")
    t = np.where(grokked, df[time].astype(float), df["final_step"].astype(float))
    return t, grokked.to_numpy(bool)


def cell_table(df: pd.DataFrame, by: str | Sequence[str], *, time: str = "t_grok", norm: str = "norm_grok",
               n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per cell: run counts, the Kaplan-Meier median of ``time`` with a bootstrap CI,
    and the median norm at that time over the runs that got there (with a CI).

    Columns: the ``by`` columns, ``n``, ``n_grokked``, ``n_censored``, ``n_diverged``,
    ``t_median``, ``t_lo``, ``t_hi`` (inf when more than half are censored),
    ``norm_median``, ``norm_lo``, ``norm_hi``, ``budget`` (largest budget in the cell).
    """
    by = [by] if isinstance(by, str) else list(by)
    rows = []
    for key, g in df.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        t, ev = grok_times(g, time)
        med = censored_median(t, ev, n_boot=n_boot, seed=seed)
        norms = g.loc[ev, norm].astype(float).to_numpy() if norm in g else np.array([])
        nest = bootstrap_ci(norms, np.median, n_boot=n_boot, seed=seed) if len(norms) else None
        rows.append({
            **dict(zip(by, key)),
            "n": len(g),
            "n_grokked": int(ev.sum()),
            "n_censored": int((g["status"] == "censored").sum()),
            "n_diverged": int((g["status"] == "diverged").sum()),
            "t_median": med.median, "t_lo": med.lo, "t_hi": med.hi,
            "norm_median": nest.value if nest else np.nan,
            "norm_lo": nest.lo if nest else np.nan,
            "norm_hi": nest.hi if nest else np.nan,
            "budget": int(g["max_steps"].max()),
        })
    columns = [*by, "n", "n_grokked", "n_censored", "n_diverged", "t_median", "t_lo", "t_hi",
               "norm_median", "norm_lo", "norm_hi", "budget"]
    return pd.DataFrame(rows, columns=columns)


def fraction_grokked(df: pd.DataFrame, steps: np.ndarray, time: str = "t_grok") -> np.ndarray:
    """Fraction of the runs in ``df`` that have grokked by each of ``steps`` (censored runs
    count in the denominator: they had not grokked by their budget)."""
    t, ev = grok_times(df, time)
    return np.array([(ev & (t <= s)).sum() / max(1, len(t)) for s in steps])


class ScaleNote(str):
    """A scale note (text), which also knows the fewest seeds per cell behind it (``seeds``), so that
    an inconclusive verdict can say how many would decide it."""

    seeds: int | None = None

    def __new__(cls, text: str, seeds: int | None = None) -> "ScaleNote":
        note = super().__new__(cls, text)
        note.seeds = seeds
        return note


def scale_note(df: pd.DataFrame, by: str | Sequence[str] | None = None) -> ScaleNote:
    """A one-line statement of the scale used: runs, seeds per cell, budgets, censored and diverged
    runs (``.seeds``: the fewest runs per cell, all runs when ``by`` is not given)."""
    by = [by] if isinstance(by, str) else list(by or [])
    n = len(df)
    if n == 0:
        return ScaleNote("no runs")
    per_cell = df.groupby(by).size() if by else pd.Series([n])
    seeds = f"{per_cell.min()}" if per_cell.min() == per_cell.max() else f"{per_cell.min()}-{per_cell.max()}"
    budgets = sorted(df["max_steps"].unique())
    budget = f"{budgets[0]:,}" if len(budgets) == 1 else f"{budgets[0]:,}-{budgets[-1]:,}"
    cens = int((df["status"] == "censored").sum())
    div = int((df["status"] == "diverged").sum())
    plural = lambda k, word: f"{k} {word}{'' if k == 1 else 's'}"  # noqa: E731
    layout = f" ({plural(len(per_cell), 'cell')} x {seeds} seed{'' if seeds == '1' else 's'})" if by else ""
    return ScaleNote(f"{n} runs{layout}, budget {budget} steps; {cens} censored, {div} diverged", int(per_cell.min()))


def seeds_per_cell(scale: str) -> str:
    """"3-10 seeds per cell" read back from a :func:`scale_note`'s text (a verdict row keeps only
    the text); the note's first clause when it names no cells ("8 runs")."""
    m = re.search(r"x (\S+) seeds?\)", scale)
    return f"{m.group(1)} seeds per cell" if m else scale.split(",")[0]


def spread_of_medians(df: pd.DataFrame, by: str, value: str = "norm_grok", *, n_boot: int = 2000,
                      seed: int = 0) -> Estimate:
    """Coefficient of variation (std / mean, ddof 1) of the per-group medians of ``value``
    over grokked runs, with a bootstrap CI from resampling runs within each group.

    This is "how much does W_c move across data fractions (or learning rates)": the
    seed-to-seed scatter enters only through the medians' uncertainty.
    """
    g = df[df["status"].eq("grokked")]
    groups = [grp[value].astype(float).to_numpy() for _, grp in g.groupby(by)]
    groups = [x for x in groups if len(x)]
    if len(groups) < 2:
        return Estimate(np.nan, np.nan, np.nan)

    def cv(meds: np.ndarray) -> float:
        return float(np.std(meds, ddof=1) / np.mean(meds))

    value_ = cv(np.array([np.median(x) for x in groups]))
    rng = np.random.default_rng(seed)
    boots = np.array([cv(np.array([np.median(rng.choice(x, len(x))) for x in groups])) for _ in range(n_boot)])
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return Estimate(value_, float(lo), float(hi))


def median_ci(values, *, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Median with a bootstrap CI; NaN (not an error) when there are no values."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return Estimate(np.nan, np.nan, np.nan)
    return bootstrap_ci(values, np.median, n_boot=n_boot, seed=seed)


def mean_ci(values, *, n_boot: int = 2000, seed: int = 0) -> Estimate | None:
    """Mean of the finite ``values`` with a bootstrap CI; None with fewer than two."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return bootstrap_ci(values, np.mean, n_boot=n_boot, seed=seed) if values.size >= 2 else None


def select(df: pd.DataFrame, **where: float) -> pd.DataFrame:
    """The runs of ``df`` whose columns equal the given values (floats compared with ``np.isclose``).

    >>> select(runs, rho=1.15, lr=1e-3)  # doctest: +SKIP
    """
    mask = np.ones(len(df), bool)
    for column, value in where.items():
        if column not in df.columns:
            return df.iloc[:0]
        mask &= np.isclose(df[column].astype(float), float(value))
    return df[mask]


def between(df: pd.DataFrame, column: str, lo: float, hi: float) -> pd.DataFrame:
    """The rows of ``df`` with ``lo <= column <= hi`` (ends included, up to float round-off)."""
    values = df[column].astype(float)
    return df[(values >= lo - 1e-9) & (values <= hi + 1e-9)]


def delay_ratio(reference: pd.DataFrame, other: pd.DataFrame, *, time: str = "t_grok",
                n_boot: int = 2000, seed: int = 0) -> Estimate | None:
    """Ratio of Kaplan-Meier median delays ``median(other) / median(reference)`` with a bootstrap CI.

    Returns None when either cell has no runs (e.g. a partial run store), so a chapter
    can print "n/a" instead of failing.
    """
    if len(reference) == 0 or len(other) == 0:
        return None
    return ratio_ci(*grok_times(reference, time), *grok_times(other, time), n_boot=n_boot, seed=seed)


def mean_delay_ratio(pairs: Sequence[tuple[pd.DataFrame, pd.DataFrame]], *, time: str = "t_grok",
                     n_boot: int = 2000, seed: int = 0) -> Estimate | None:
    """Geometric mean over ``(reference, other)`` pairs of cells of the ratio of their
    Kaplan-Meier median delays, with a bootstrap CI; None when a cell is empty."""
    pairs = [(a, b) for a, b in pairs]
    if not pairs or any(len(a) == 0 or len(b) == 0 for a, b in pairs):
        return None
    return geometric_mean_ratio([(*grok_times(a, time), *grok_times(b, time)) for a, b in pairs], n_boot=n_boot, seed=seed)


def exponential_fit(df: pd.DataFrame, x: str, *, time: str = "t_grok"):
    """:func:`grokkit.analysis.stats.fit_exponential` of the runs' censored delays against the level ``x``
    (``ln median T = a + alpha x``); None when fewer than two levels have a median (runs, more
    than half of them grokked)."""
    from .stats import fit_exponential

    medians = [km_median(*grok_times(g, time)) for _, g in df.groupby(x)] if len(df) else []
    if np.isfinite(medians).sum() < 2:  # a partial store, or cells more than half censored
        return None
    return fit_exponential(df[x].to_numpy(float), *grok_times(df, time))


def shared_slope_fit(df: pd.DataFrame, x: str, group: str, *, time: str = "t_grok"):
    """:func:`grokkit.analysis.stats.fit_shared_slope` (one exponent, one intercept per ``group``); None
    when fewer than two groups have runs."""
    from .stats import fit_shared_slope

    if df[group].nunique() < 2:
        return None
    return fit_shared_slope(df[x].to_numpy(float), *grok_times(df, time), df[group].to_numpy())


def power_fit(df: pd.DataFrame, x: str, y: str):
    """:func:`grokkit.analysis.stats.fit_power_law` of ``y`` against ``x`` over the rows of ``df``; None
    when fewer than two levels of ``x`` are present."""
    from .stats import fit_power_law

    if df[x].nunique() < 2:
        return None
    return fit_power_law(df[x].to_numpy(float), df[y].to_numpy(float))


#: What a run reached, in order: the outcome map of chapter 4 colours cells by these.
OUTCOMES = ("diverged", "did not memorize", "memorized, did not grok", "grokked, then diverged", "grokked")


def grokked_before_diverging(runs: pd.DataFrame, traj: pd.DataFrame) -> pd.Series:
    """Per run, whether a diverged run's test accuracy had reached its grokking threshold at an
    evaluation before it diverged (``traj``: the runs' trajectories, long form). Such a run is
    still *diverged* in the store, never counted as grokked; this only says how far it got."""
    if not len(runs) or not len(traj):
        return pd.Series(False, index=runs.index, name="grokked_before_diverging")
    best = traj.groupby("key")["test_acc"].max()
    reached = runs["key"].map(best).fillna(0.0) >= runs["grok_threshold"]
    return (runs["status"].eq("diverged") & reached).rename("grokked_before_diverging")


def outcome(df: pd.DataFrame) -> pd.Series:
    """Per run, the furthest it got (:data:`OUTCOMES`): ``"diverged"`` (non-finite loss or
    weights before grokking), ``"did not memorize"``, ``"memorized, did not grok"`` (censored
    after memorizing), ``"grokked, then diverged"`` (only where ``df`` has the column
    ``grokked_before_diverging``, see :func:`grokked_before_diverging`) or ``"grokked"``.
    A diverged run is never counted as a failure to grok."""
    first = df["grokked_before_diverging"].astype(bool) if "grokked_before_diverging" in df else False
    out = np.where(df["status"].eq("diverged"), np.where(first, OUTCOMES[3], OUTCOMES[0]),
                   np.where(df["status"].eq("grokked"), OUTCOMES[4],
                            np.where(df["t_mem"].notna(), OUTCOMES[2], OUTCOMES[1])))
    return pd.Series(out, index=df.index, name="outcome")


def outcome_table(df: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """One row per cell of ``by``: the number of runs reaching each outcome (:data:`OUTCOMES`),
    the cell's majority outcome (ties go to the further one), the Kaplan-Meier median T_grok
    (``t_median``, NaN when under half grokked) and the budget."""
    by = list(by)
    rows = []
    for key, g in df.assign(outcome=outcome(df)).groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        counts = {o: int((g["outcome"] == o).sum()) for o in OUTCOMES}
        top = max(OUTCOMES, key=lambda o: (counts[o], OUTCOMES.index(o)))
        t, ev = grok_times(g)
        rows.append({**dict(zip(by, key)), "n": len(g), **counts, "majority": top,
                     "t_median": _finite_or_nan(km_median(t, ev)) if ev.any() else np.nan,
                     "budget": int(g["max_steps"].max())})
    return pd.DataFrame(rows, columns=[*by, "n", *OUTCOMES, "majority", "t_median", "budget"])


def _finite_or_nan(x: float) -> float:
    return float(x) if np.isfinite(x) else np.nan


def critical_norm(df: pd.DataFrame, norm: str = "norm_grok") -> float:
    """``W_c`` of one cell of free runs: the median norm at ``T_grok`` over the runs that grokked;
    NaN unless more than half the runs grokked."""
    grokked = df[df["status"] == "grokked"]
    if not len(df) or 2 * len(grokked) <= len(df):
        return float("nan")
    return float(grokked[norm].astype(float).median())


def with_norms_at_grok(df: pd.DataFrame, traj: pd.DataFrame, groups: Sequence[str]) -> pd.DataFrame:
    """``df`` with a column ``norm_<group>_grok`` per group: that group's norm at each run's
    ``T_grok`` (NaN for runs that did not grok), read from the trajectories ``traj`` (long form,
    as ``RunStore.trajectories`` gives them)."""
    cols = ["key", "step", *(f"norm_{g}" for g in groups if f"norm_{g}" in traj)]
    at = traj[cols].rename(columns={"step": "_at", **{f"norm_{g}": f"norm_{g}_grok" for g in groups}})
    at = at.astype({"key": str, "_at": float})
    out = df.assign(_at=df["t_grok"].astype(float)).merge(at, how="left", on=["key", "_at"]).drop(columns="_at")
    for g in groups:
        if f"norm_{g}_grok" not in out:
            out[f"norm_{g}_grok"] = np.nan
    return out


def group_norms_at_grok(df: pd.DataFrame, traj: pd.DataFrame, groups: Sequence[str]) -> dict[str, float]:
    """``W_c`` of each group: :func:`critical_norm` of the group's norm at ``T_grok``
    (:func:`with_norms_at_grok`); NaN for every group unless more than half the runs grokked."""
    runs = with_norms_at_grok(df, traj, groups)
    return {g: critical_norm(runs, norm=f"norm_{g}_grok") for g in groups}
