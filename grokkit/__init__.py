"""grokkit: reproduce and stress-test the 2026 weight-norm theories of grokking.

The package is small and layered; each module holds one idea:

==============  ===============================================================
``config``      :class:`RunConfig`, a run's complete, validated, hashable setup
``tasks``       modular arithmetic and sparse parity, per-run splits
``models``      the papers' models, batched along a leading run axis
``optim``       batched AdamW (decay before/after) and SGD with per-run hyperparameters
``clamp``       the weight-norm clamp
``metrics``     accuracies, losses, norms, logit scale, softmax collapse
``train``       the batched trainer (per-run stopping, fork)
``store``       the durable run store (one JSON record per run)
``sweep``       train what the store lacks, return the table of runs
``stats``       estimates (bootstrap CIs), survival (censored medians), fits (laws)
``cells``       per-cell summaries of a table of runs
``params``      chapter parameters: presets, overrides, checks
``report``      the verdict scale, verdict tables, glue, tables for the page
``plots``       the book's seaborn style and figures
``scoreboard``  every chapter's verdicts in one table and one figure
``explorer``    ``grokkit.explore()``: an ipywidgets panel over the run store
``costs``       what a chapter's runs cost, from the store's provenance
``book``        the Sphinx hook that executes summary pages after the chapters
``bench``       ``python -m grokkit.bench``: speed against a plain PyTorch loop
==============  ===============================================================

Importing ``grokkit`` does not import torch; the modules that train do.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._process import tune_malloc, tune_openmp

__version__ = "0.1.0"

tune_openmp()
tune_malloc()

from .config import RunConfig, paper1, paper2, paper3  # noqa: E402
from .store import RunStore  # noqa: E402
from .sweep import MissingRunsError, SweepError, sweep  # noqa: E402

# Loaded on first use (they import torch or ipywidgets). ``grokkit.train`` is the trainer's module,
# so its function of the same name is not exported here: use ``grokkit.train.train``.
_EXPORTS = {"Trainer": "train", "explore": "explorer"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'grokkit' has no attribute {name!r}")


__all__ = ["__version__", "RunConfig", "paper1", "paper2", "paper3", "RunStore", "sweep", "MissingRunsError", "SweepError", *_EXPORTS]
