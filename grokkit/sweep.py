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

import json
import os
import sys
import threading
import time
import uuid
import warnings
from collections import defaultdict
from concurrent.futures import Executor
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from .config import RunConfig
from .store import RunStore


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

    from .train import Trainer, resolve_device

    if executor is not None:  # the device is resolved on the workers
        batches = plan_batches(missing, max_batch or 32)
        with tqdm(total=len(missing), desc=desc, unit="run", disable=not progress, file=sys.stderr,
                  dynamic_ncols=True, mininterval=1.0) as bar:
            _train_on_executor(batches, store, executor, device, bar)
        return
    dev = resolve_device(device)
    max_batch = max_batch or (256 if dev.type == "cuda" else 32)
    parallel = workers > 1
    if parallel and dev.type == "cpu":  # smaller batches, so that every worker has work
        max_batch = min(max_batch, max(1, -(-len(missing) // (2 * workers))))
    batches = plan_batches(missing, max_batch)
    bar = tqdm(total=len(missing), desc=desc, unit="run", disable=not progress, file=sys.stderr,
               dynamic_ncols=True, mininterval=1.0)
    started = time.perf_counter()
    run_steps = [0]

    def finished(steps: int) -> None:
        run_steps[0] += steps
        bar.update(1)

    def update(trainers: list[Trainer]) -> None:
        in_flight = sum(t.n_active for t in trainers)
        done = run_steps[0] + sum(t.step * t.n_active for t in trainers)
        rate = done / max(1e-9, time.perf_counter() - started)
        bar.set_postfix(in_flight=in_flight, step=max(t.step for t in trainers), run_steps_s=f"{rate:.0f}",
                        refresh=False)

    try:
        if parallel:
            _train_in_workers(batches, store, workers, finished, bar, started, run_steps, dev.type)
            return
        for batch in batches:
            _train_batch(batch, store, dev, finished, update)
    finally:
        bar.close()


def _train_batch(batch: list[RunConfig], store: RunStore, device, finished, callback=None) -> None:
    """Train the runs of ``batch`` that the store still lacks, saving each as it finishes.

    ``finished(steps)`` is called once per run of the batch (with 0 for a run that another
    sweep stored meanwhile); ``callback(trainers)`` after every evaluation, with the trainers
    of the batch's shards (:mod:`grokkit.threads`: on the CPU a batch is split by runs across
    threads).
    """
    fresh = [c for c in batch if c.key not in store]
    for _ in range(len(batch) - len(fresh)):
        finished(0)
    if fresh:
        _train_sharded(fresh, store.save, device, finished, callback)


def shard_batch(runs: list[RunConfig], device) -> list[list[RunConfig]]:
    """``runs`` (one batch) split into :mod:`grokkit.threads` shards as a sweep trains them (the
    benchmark splits its batches the same way); forked arms that start from one pre-fork run stay
    in one shard, so that run is trained once."""
    from .threads import shard_count, split_runs

    groups: dict[str, list[RunConfig]] = defaultdict(list)
    for c in runs:
        groups[c.prefork().key if c.fork_step else c.key].append(c)
    units = list(groups.values())
    return [sum(shard, []) for shard in split_runs(units, shard_count(len(units), device))]


def _train_sharded(runs: list[RunConfig], save, device, finished=None, callback=None) -> None:
    """Train ``runs`` (one batch) as :mod:`grokkit.threads` shards; ``save`` gets every finished
    run (and pre-fork run), ``finished(steps)`` each requested run as it finishes, and
    ``callback(trainers)`` is called after every evaluation of any shard. Calls are serialized."""
    import torch

    from .threads import in_shards
    from .train import resolve_device

    dev = resolve_device(device)
    lock = threading.Lock()
    live: dict[int, "Trainer"] = {}
    shards = shard_batch(runs, dev)
    shard_of = (uuid.uuid4().hex[:12], torch.get_num_threads()) if len(shards) > 1 else None

    def locked_save(result) -> None:
        with lock:
            save(result)

    def shard(i: int, cfgs: list[RunConfig], team) -> None:
        trainer = _batch_trainer(cfgs, locked_save, dev, shard_of)
        live[i] = trainer

        def each_eval(_trainer) -> None:
            team.widen_if_alone()
            if callback is not None:
                with lock:
                    callback(list(live.values()))

        for result in trainer.run(callback=each_eval):
            with lock:
                save(result)
                if finished is not None:
                    finished(result.summary["final_step"])

    in_shards([lambda team, i=i, cfgs=cfgs: shard(i, cfgs, team) for i, cfgs in enumerate(shards)])


# ------------------------------------------------------------------ worker processes
_queue = None  # set in each worker process


def _worker_init(threads: int, queue, parent: int) -> None:
    """Set up a worker of the sweep process ``parent``: its threads, its progress queue, and a
    watch that ends it when ``parent`` is gone (a sweep killed with SIGKILL leaves no orphans
    training on). ``parent`` is passed in, not read here: the sweep may already be dead."""
    global _queue
    import threading

    def exit_with_parent() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(1.0)

    threading.Thread(target=exit_with_parent, daemon=True, name="grokkit-parent-watch").start()
    import torch

    torch.set_num_threads(threads)
    _queue = queue


def _worker_train(batch: list[RunConfig], root: str, device: str = "cpu") -> None:
    """Train one batch in a worker process (progress goes back through the queue)."""
    _train_batch(batch, RunStore(root), device, _queue.put)


def _train_in_workers(batches, store: RunStore, workers: int, finished, bar, started: float, run_steps,
                      device: str = "cpu") -> None:
    import multiprocessing as mp
    import queue as queue_mod
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init, initargs=(threads, queue, os.getpid())) as pool:
        futures = [pool.submit(_worker_train, b, str(store.root), device) for b in batches]
        while True:
            try:
                finished(queue.get(timeout=0.5))
                rate = run_steps[0] / max(1e-9, time.perf_counter() - started)
                bar.set_postfix(workers=workers, run_steps_s=f"{rate:.0f}", refresh=False)
            except queue_mod.Empty:
                for f in futures:
                    if f.done() and f.exception() is not None:
                        for g in futures:
                            g.cancel()
                        raise f.exception()
                if all(f.done() for f in futures) and queue.empty():
                    break


class SweepError(RuntimeError):
    """Some batches of a sweep failed; the runs of the others are in the store."""


def train_batch_records(batch: list[RunConfig], device: str | None = "auto") -> list[dict]:
    """Train one batch wherever this is called (a remote worker) and return the records of its
    finished runs in the order of ``batch`` (:func:`grokkit.store.make_record`; for forked arms, their
    pre-fork runs first)."""
    from .store import make_record

    records: list[dict] = []
    _train_sharded(batch, lambda result: records.append(make_record(result)), device)
    order = {c.key: i for i, c in enumerate(batch)}  # pre-fork runs first, then the batch's order
    return sorted(records, key=lambda r: order.get(r["key"], -1))


def _train_on_executor(batches: list[list[RunConfig]], store: RunStore, executor: Executor, device, bar) -> None:
    """One task per batch on ``executor``; write each task's records as it finishes."""
    from concurrent.futures import as_completed

    futures = {executor.submit(train_batch_records, batch, device): batch for batch in batches}
    failed: list[tuple[list[RunConfig], BaseException]] = []
    for future in as_completed(futures):
        batch = futures[future]
        try:
            records = future.result()
        except Exception as err:  # a worker died, ran out of memory, ...: the other batches go on
            failed.append((batch, err))
            bar.update(len(batch))
            continue
        wanted = {c.key for c in batch}
        for record in records:
            store.write(record)
            if record["key"] in wanted:
                bar.update(1)
    if failed:
        n = sum(len(b) for b, _ in failed)
        raise SweepError(f"{len(failed)} of {len(batches)} batches ({n} runs) failed; the other runs are stored, "
                         f"and running the sweep again trains what is missing. First error: {failed[0][1]!r}")


def _batch_trainer(batch: list[RunConfig], save, device, shard_of: tuple[str, int] | None = None) -> "Trainer":
    """The trainer of one batch: forked arms start from their pre-fork runs (which ``save`` gets).

    ``shard_of`` (batch id, process threads): the batch is one run shard of a larger batch
    (:func:`_train_sharded`); its records carry that batch's id and the process's threads, so
    that :mod:`grokkit.costs` counts the shards' concurrent wall time once, on all threads."""
    from .train import Trainer

    if batch[0].fork_step:
        return _forked_trainer(batch, save, device, shard_of)
    return _as_shard(Trainer(batch, device), shard_of)


def _as_shard(trainer: "Trainer", shard_of: tuple[str, int] | None, phase: str = "") -> "Trainer":
    if shard_of is not None:
        trainer.batch_id, trainer.process_threads = shard_of[0] + phase, shard_of[1]
    return trainer


def _forked_trainer(arms: list[RunConfig], save, device, shard_of: tuple[str, int] | None = None) -> "Trainer":
    """Train the arms' free pre-fork runs to the fork step, ``save`` them, and fork the arms."""
    from .train import Trainer

    bases = list({a.prefork().key: a.prefork() for a in arms}.values())
    base = _as_shard(Trainer(bases, device), shard_of, "-prefork")  # a batch of its own before the arms'
    for result in base.run(snapshot_at=arms[0].fork_step):
        save(result)
    assert base.snapshot is not None
    return _as_shard(Trainer.fork(base.snapshot, arms), shard_of)


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

    def write(self, results_dir: str | os.PathLike[str] | None, chapter: str, title: str = "") -> Path:
        """Write :meth:`manifest` to ``<results_dir>/<chapter>.runs.json`` (default: the project's
        ``results/``); several designs of one chapter can be merged with ``|``-ed manifests."""
        from .report import results_path

        path = results_path(results_dir) / f"{chapter}.runs.json"
        path.write_text(json.dumps(self.manifest(chapter, title), indent=1, default=float) + "\n")
        return path

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
