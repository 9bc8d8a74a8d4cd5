"""A chapter's experiments as data: named lists of run configs, each run with its labels.

``design.add("dense", cfg, rho=0.85)`` files a run under an experiment with the labels its
analysis needs; :meth:`Design.run` sweeps every config once (a run filed under several
experiments trains once), :meth:`Design.table` returns one experiment's runs with their labels
in front, and :meth:`Design.manifest` is the design as plain data (what the run explorer reads).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Iterable

import pandas as pd

from ..engine.config import RunConfig
from .sweep import sweep


class Design:
    """A chapter's experiments: named lists of run configs, each run with its labels.

    ``add("dense", cfg, rho=0.85)`` files a run under an experiment with the labels
    the analysis needs (a run may appear in several experiments with different
    labels; it is trained once). :meth:`run` sweeps every config; :meth:`table`
    returns one experiment's runs with their labels in front.
    """

    def __init__(self) -> None:
        self.experiments: dict[str, list[tuple[RunConfig, dict]]] = defaultdict(list)
        self._runs: pd.DataFrame | None = None

    def add(self, experiment: str, config: RunConfig, **labels) -> RunConfig:
        self.experiments[experiment].append((config, labels))
        return config

    def configs(self, experiments: Iterable[str] | None = None) -> list[RunConfig]:
        names = list(self.experiments) if experiments is None else list(experiments)
        seen: dict[str, RunConfig] = {}
        for name in names:
            for cfg, _ in self.experiments[name]:
                seen.setdefault(cfg.key, cfg)
        return list(seen.values())

    def run(self, **sweep_kwargs) -> pd.DataFrame:
        """Sweep every config of the design (see :func:`sweep` for the options)."""
        self._runs = sweep(self.configs(), **sweep_kwargs)
        return self._runs

    @property
    def missing(self) -> int:
        """How many requested runs the last :meth:`run` could not provide (training off)."""
        return 0 if self._runs is None else int(self._runs.attrs.get("missing", 0))

    def manifest(self, chapter: str, title: str = "") -> dict:
        """The design as plain data: for each experiment, its label names and runs (key and labels).

        This is what :meth:`write` saves and what the run explorer reads to offer a chapter's sweeps.
        """
        sweeps = {}
        for name, entries in self.experiments.items():
            labels = list(dict.fromkeys(k for _, lab in entries for k in lab))
            sweeps[name] = {"labels": labels, "runs": [{"key": c.key, **lab} for c, lab in entries]}
        return {"chapter": chapter, "title": title, "sweeps": sweeps}

    def __or__(self, other: "Design") -> "Design":
        """A design holding the experiments of both (a chapter's controls and its main runs)."""
        merged = Design()
        for d in (self, other):
            for name, entries in d.experiments.items():
                merged.experiments[name].extend(entries)
        return merged

    def table(self, experiment: str, labels: Iterable[str] = ()) -> pd.DataFrame:
        """The runs of one experiment: its labels, then every run column (missing runs left out).

        ``labels`` names label columns that must exist even when the experiment has no runs. A run
        filed twice under one experiment with the same labels (two scans sharing a cell) is one row.
        """
        if self._runs is None:
            raise RuntimeError("call Design.run() before Design.table()")
        tags = pd.DataFrame([{"key": c.key, **lab} for c, lab in self.experiments.get(experiment, [])])
        tags = tags.drop_duplicates(ignore_index=True)
        for name in ("key", *labels):
            if name not in tags.columns:
                tags[name] = pd.Series(dtype=object if name == "key" else float)
        runs = self._runs.drop(columns=[c for c in tags.columns if c != "key" and c in self._runs.columns])
        return tags.merge(runs, on="key", how="inner")


def held_norm(rho: float, wc: float) -> float:
    """The clamp target of a run held at ``rho`` times the critical norm ``wc``, rounded to 4
    decimals (the target is part of the run's store key, so every chapter rounds it the same way)."""
    return round(rho * wc, 4)


def exponential_budget(base: float, rho: float, rate: float, floor: int, cap: int | None = None,
                       round_to: int = 1000) -> int:
    """A clamped run's step budget: ``base * exp(rate * (rho - 1))`` (the delay grows
    exponentially in the held norm), rounded up to a multiple of ``round_to`` and kept within
    ``[floor, cap]``. Paper 2's rule, "1.9x per 0.05 of rho", is ``rate = log(1.9) / 0.05``."""
    steps = max(floor, round_to * math.ceil(base * math.exp(rate * (rho - 1)) / round_to))
    return int(min(steps, cap) if cap is not None else steps)
