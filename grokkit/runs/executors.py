"""Where a batch of missing runs trains: in this process as run shards, in worker processes
that share the machine, or as tasks on any :class:`concurrent.futures.Executor` (a Dask cluster).

Every route trains the same batches with the same trainer and hands each finished run's record
to the store the moment it finishes, so a killed sweep loses at most the runs in flight.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from ..engine.config import RunConfig
from .store import RunStore, make_record

if TYPE_CHECKING:
    from ..engine.trainer import Trainer


# ------------------------------------------------------------------ in this process
def train_batch(batch: list[RunConfig], store: RunStore, device, finished, callback=None) -> None:
    """Train the runs of ``batch`` that the store still lacks, saving each as it finishes.

    ``finished(steps)`` is called once per run of the batch (with 0 for a run that another
    sweep stored meanwhile); ``callback(trainers)`` after every evaluation, with the trainers
    of the batch's shards (:mod:`grokkit.engine.shards`: on the CPU a batch is split by runs across
    threads).
    """
    fresh = [c for c in batch if c.key not in store]
    for _ in range(len(batch) - len(fresh)):
        finished(0)
    if fresh:
        _train_sharded(fresh, store.save, device, finished, callback)

def shard_batch(runs: list[RunConfig], device) -> list[list[RunConfig]]:
    """``runs`` (one batch) split into :mod:`grokkit.engine.shards` shards as a sweep trains them (the
    benchmark splits its batches the same way); forked arms that start from one pre-fork run stay
    in one shard, so that run is trained once."""
    from ..engine.shards import shard_count, split_runs

    groups: dict[str, list[RunConfig]] = defaultdict(list)
    for c in runs:
        groups[c.prefork().key if c.fork_step else c.key].append(c)
    units = list(groups.values())
    return [sum(shard, []) for shard in split_runs(units, shard_count(len(units), device))]

def _train_sharded(runs: list[RunConfig], save, device, finished=None, callback=None) -> None:
    """Train ``runs`` (one batch) as :mod:`grokkit.engine.shards` shards; ``save`` gets every finished
    run (and pre-fork run), ``finished(steps)`` each requested run as it finishes, and
    ``callback(trainers)`` is called after every evaluation of any shard. Calls are serialized."""
    import torch

    from ..engine.shards import in_shards
    from ..engine.trainer import resolve_device

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

def _batch_trainer(batch: list[RunConfig], save, device, shard_of: tuple[str, int] | None = None) -> "Trainer":
    """The trainer of one batch: forked arms start from their pre-fork runs (which ``save`` gets).

    ``shard_of`` (batch id, process threads): the batch is one run shard of a larger batch
    (:func:`_train_sharded`); its records carry that batch's id and the process's threads, so
    that :mod:`grokkit.book.costs` counts the shards' concurrent wall time once, on all threads."""
    from ..engine.trainer import Trainer

    if batch[0].fork_step:
        return _forked_trainer(batch, save, device, shard_of)
    return _as_shard(Trainer(batch, device), shard_of)

def _as_shard(trainer: "Trainer", shard_of: tuple[str, int] | None, phase: str = "") -> "Trainer":
    if shard_of is not None:
        trainer.batch_id, trainer.process_threads = shard_of[0] + phase, shard_of[1]
    return trainer

def _forked_trainer(arms: list[RunConfig], save, device, shard_of: tuple[str, int] | None = None) -> "Trainer":
    """Train the arms' free pre-fork runs to the fork step, ``save`` them, and fork the arms."""
    from ..engine.trainer import Trainer

    bases = list({a.prefork().key: a.prefork() for a in arms}.values())
    base = _as_shard(Trainer(bases, device), shard_of, "-prefork")  # a batch of its own before the arms'
    for result in base.run(snapshot_at=arms[0].fork_step):
        save(result)
    assert base.snapshot is not None
    return _as_shard(Trainer.fork(base.snapshot, arms), shard_of)


# ------------------------------------------------------------------ worker processes
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
    train_batch(batch, RunStore(root), device, _queue.put)

def train_in_workers(batches, store: RunStore, workers: int, finished, bar, started: float, run_steps,
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


# ------------------------------------------------------------------ any executor
class SweepError(RuntimeError):
    """Some batches of a sweep failed; the runs of the others are in the store."""

def train_batch_records(batch: list[RunConfig], device: str | None = "auto") -> list[dict]:
    """Train one batch wherever this is called (a remote worker) and return the records of its
    finished runs in the order of ``batch`` (:func:`grokkit.runs.store.make_record`; for forked arms, their
    pre-fork runs first)."""
    records: list[dict] = []
    _train_sharded(batch, lambda result: records.append(make_record(result)), device)
    order = {c.key: i for i, c in enumerate(batch)}  # pre-fork runs first, then the batch's order
    return sorted(records, key=lambda r: order.get(r["key"], -1))

def train_on_executor(batches: list[list[RunConfig]], store: RunStore, executor: Executor, device, bar) -> None:
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
