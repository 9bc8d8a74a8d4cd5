"""Sweeps: ask for runs, train only those the store lacks, get the table back.

:func:`sweep` is the one call a chapter makes to obtain results::

    table = sweep(configs)            # trains what is missing, returns one row per config

It validates every config before any training, asks the store which runs exist,
groups the missing ones into batches that can share one computation (equal
:meth:`RunConfig.batch_key`), trains each batch and writes each run's record the
moment that run finishes. Re-running with the same configs trains nothing; a sweep
killed at any moment loses at most the runs in flight.

With ``train=False`` (or the environment variable ``GROKKIT_NO_TRAIN=1``, which the
book build sets) nothing is trained: missing runs raise :class:`MissingRunsError`,
or, with ``allow_missing=True``, are reported and left out of the table.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections import defaultdict
from concurrent.futures import Executor
from typing import Iterable, Sequence

import pandas as pd

from ..engine.config import RunConfig
from .executors import SweepError, train_batch, train_in_workers, train_on_executor
from .plan import duration, plan
from .store import RunStore

__all__ = ["MissingRunsError", "SweepError", "plan_batches", "sweep", "training_allowed"]


class MissingRunsError(RuntimeError):
    """Raised when a sweep may not train and the store lacks some of its runs."""

    def __init__(self, missing: Sequence[RunConfig], store: RunStore) -> None:
        self.missing = list(missing)
        shown = "\n".join(f"  {c.key}  {_describe(c)}" for c in self.missing[:8])
        more = f"\n  ... and {len(self.missing) - 8} more" if len(self.missing) > 8 else ""
        super().__init__(
            f"{len(self.missing)} run(s) are not in the store at {store.root} and training is off "
            f"(train=False or GROKKIT_NO_TRAIN=1):\n{shown}{more}\n"
            "Run the chapter with training allowed to create them (see README, 'Re-running a chapter')."
        )

def _describe(c: RunConfig) -> str:
    parts = [f"{c.task} p={c.p}" if c.modular else f"parity n={c.parity_n}", f"{c.model}", f"seed={c.seed}",
             f"{c.optimizer} lr={c.lr:g} wd={c.weight_decay:g}"]
    if c.clamped:
        parts.append(f"clamp={c.clamp_target if c.clamp_target is not None else f'x{c.clamp_scale}'}@{c.clamp_start}")
    if c.temperature != 1.0:
        parts.append(f"tau={c.temperature:g}")
    parts.append(f"budget={c.max_steps}")
    return " ".join(parts)

def training_allowed(train: bool | None) -> bool:
    """``train`` if given, else False when ``GROKKIT_NO_TRAIN`` is set to a true value."""
    if train is not None:
        return bool(train)
    return os.environ.get("GROKKIT_NO_TRAIN", "").strip().lower() not in ("1", "true", "yes")

def plan_batches(configs: Sequence[RunConfig], max_batch: int) -> list[list[RunConfig]]:
    """Group configs into batches that can train together (same batch key, same fork),
    at most ``max_batch`` runs each; runs with similar budgets share a batch."""
    groups: dict[tuple, list[RunConfig]] = defaultdict(list)
    for c in configs:
        groups[(c.batch_key(), c.fork_step)].append(c)
    batches = []
    for members in groups.values():
        members = sorted(members, key=lambda c: c.max_steps)
        batches += [members[i:i + max_batch] for i in range(0, len(members), max_batch)]
    return batches

def sweep(
    configs: Iterable[RunConfig],
    *,
    store: RunStore | str | os.PathLike[str] | None = None,
    train: bool | None = None,
    allow_missing: bool = False,
    device: str | None = "auto",
    max_batch: int | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    desc: str = "sweep",
) -> pd.DataFrame:
    """Return the table of ``configs`` (one row per distinct config, in order), training
    the runs the store lacks.

    Parameters
    ----------
    configs:
        Run configs; each was validated when it was built.
    store:
        A :class:`RunStore`, a folder, or None for the default store (``data/runs``).
    train:
        False: train nothing (missing runs raise :class:`MissingRunsError`). None: train
        unless ``GROKKIT_NO_TRAIN=1``.
    allow_missing:
        With training off, warn about missing runs and return the others instead of raising.
    device:
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    max_batch:
        Most runs trained as one batch (default 32 on CPU, 256 on CUDA).
    workers:
        Train batches in this many processes at once (default ``$GROKKIT_WORKERS`` or 1). On
        the CPU they split the cores among them: small models use many cores poorly, so on a
        machine with many cores several workers train faster than one. On a GPU they share
        it: one batch of small steps leaves it mostly waiting for kernel launches, and
        several batches in flight fill those gaps.
    executor:
        Train on any :class:`concurrent.futures.Executor` instead: a Dask cluster's
        (``dask.distributed.Client(address).get_executor()``), Ray's, or a local process pool.
        Each batch of missing runs is one task, which returns its finished records; this
        process writes them into the store as each task finishes, so the workers need grokkit
        and torch but no access to the store. A task that fails (its worker killed, say) loses
        only its own runs: the other batches are still stored, then :class:`SweepError` is
        raised, and running the sweep again trains what is missing. ``workers`` is ignored.
    progress:
        Show a progress bar (runs finished, runs in flight, step, ETA).
    """
    configs = list(configs)
    for c in configs:
        if not isinstance(c, RunConfig):
            raise ValueError(f"configs: expected RunConfig values, got {type(c).__name__}")
    store = store if isinstance(store, RunStore) else RunStore(store)
    order = list(dict.fromkeys(c.key for c in configs))
    missing = store.missing(configs)
    if missing and not training_allowed(train):
        if not allow_missing:
            raise MissingRunsError(missing, store)
        warnings.warn(f"{len(missing)} of {len(order)} runs are not in the store and training is off; "
                      "they are left out of the table", stacklevel=2)
        gone = {c.key for c in missing}
        table = store.table([k for k in order if k not in gone])
        table.attrs["missing"] = len(missing)
        return table
    if missing:
        workers = int(os.environ.get("GROKKIT_WORKERS", "1")) if workers is None else workers
        if workers < 1:
            raise ValueError(f"workers: must be a positive integer, got {workers!r}")
        store.check_writable()  # a read-only store fails here, before any training
        _train_missing(missing, store, device, max_batch, workers, progress, desc, executor)
    table = store.table(order)
    table.attrs["missing"] = 0
    return table

def _train_missing(missing: list[RunConfig], store: RunStore, device: str | None, max_batch: int | None,
                   workers: int, progress: bool, desc: str, executor: Executor | None = None) -> None:
    from tqdm import tqdm

    from ..engine.trainer import Trainer, resolve_device

    if executor is not None:  # the device is resolved on the workers
        batches = plan_batches(missing, max_batch or 32)
        with tqdm(total=len(missing), desc=desc, unit="run", disable=not progress, file=sys.stderr,
                  dynamic_ncols=True, mininterval=1.0) as bar:
            train_on_executor(batches, store, executor, device, bar)
        return
    dev = resolve_device(device)
    max_batch = max_batch or (256 if dev.type == "cuda" else 32)
    parallel = workers > 1
    if parallel and dev.type == "cpu":  # smaller batches, so that every worker has work
        max_batch = min(max_batch, max(1, -(-len(missing) // (2 * workers))))
    batches = plan_batches(missing, max_batch)
    todo = plan(batches, dev, measure=progress)  # what is about to train, and for how long at most
    if progress:
        print(f"{desc}: {todo.describe(dev.type.upper() if dev.type == 'cuda' else 'this CPU')}", file=sys.stderr,
              flush=True)
    bar = tqdm(total=len(missing), desc=desc, unit="run", disable=not progress, file=sys.stderr,
               dynamic_ncols=True, mininterval=1.0)
    started = time.perf_counter()
    run_steps = [0]

    def finished(steps: int) -> None:
        run_steps[0] += steps
        bar.update(1)

    def update(trainers: list[Trainer]) -> None:
        in_flight = sum(t.n_active for t in trainers)
        done = run_steps[0] + sum(t.step_count * t.n_active for t in trainers)
        rate = done / max(1e-9, time.perf_counter() - started)
        left = duration(todo.remaining_seconds(max(todo.budget - done, 0), rate))
        bar.set_postfix(in_flight=in_flight, step=max(t.step_count for t in trainers), run_steps_s=f"{rate:.0f}",
                        at_most_left=left, refresh=False)

    try:
        if parallel:
            train_in_workers(batches, store, workers, finished, bar, started, run_steps, dev.type)
            return
        for batch in batches:
            train_batch(batch, store, dev, finished, update)
    finally:
        bar.close()
