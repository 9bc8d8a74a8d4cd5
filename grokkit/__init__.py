"""grokkit: reproduce and stress-test the 2026 weight-norm theories of grokking.

Four rooms, whose imports run one way (book → analysis → runs → engine):

=================  =============================================================================
``grokkit.engine``   what trains: :class:`RunConfig` and the papers' protocols, tasks, models,
                     optimizers, the norm clamp, metrics, the batched :class:`Trainer`, the fused
                     CPU kernels and run shards
``grokkit.runs``     runs as data: the run store, :func:`sweep` (train what the store lacks), the
                     executors that train on other processes or machines, :class:`Design`
``grokkit.analysis`` numbers from tables of runs: stats (estimates, survival, fits), per-cell
                     summaries, paper 3's contraction, paper 2's mediation
``grokkit.book``     the pages: chapter parameters, verdicts, text, tables, plots, the
                     scoreboard, the run explorer, costs, headless execution, the Sphinx hook
=================  =============================================================================

``python -m grokkit.bench`` measures the engine's speed against the papers' plain loops.

Importing ``grokkit`` imports no torch and leaves the process as it is: the
allocator and OpenMP are tuned where training starts (:mod:`grokkit.engine.process`).
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .engine.config import RunConfig
from .engine.protocols import paper1, paper2, paper3
from .runs.design import Design
from .runs.store import RunStore
from .runs.sweep import MissingRunsError, SweepError, sweep

# Loaded on first use (the trainer imports torch; the explorer pandas and the store's runs).
_LAZY = {"Trainer": "grokkit.engine.trainer", "explore": "grokkit.book.explorer"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'grokkit' has no attribute {name!r}")


__all__ = ["__version__", "RunConfig", "paper1", "paper2", "paper3", "RunStore", "sweep", "Design",
           "MissingRunsError", "SweepError", *_LAZY]
