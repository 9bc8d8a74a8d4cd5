"""Run shards: a CPU batch split by runs across threads of one intra-op thread each.

The steps of the book's models are short (milliseconds), and an OpenMP team spends a large
part of each parallel region waiting at its barriers; grokkit also makes those threads sleep
rather than spin while they wait (:mod:`grokkit.engine.process`), which keeps two trainings on one
machine from stealing each other's cores but costs every region a wake-up. Measured here
(2 cores, paper 1's MLP at p = 59, 16 runs, with grokkit's fused kernels): one batch with two
OpenMP threads, ~740 run-steps/s; the same batch as two shards of 8 runs, each in its own Python
thread with one intra-op thread, ~920 (``python -m grokkit.bench`` prints the current figures).
Torch releases the GIL inside its operators, and grokkit's kernels do too
(:mod:`grokkit.engine.kernels`), so the shards run at the same time.

Runs of a batch are independent, so a shard computes exactly what the whole batch computes
for its runs (``tests/test_threads.py``). When the other shards are done, the last one takes
all the threads back. ``GROKKIT_SHARDS=1`` turns sharding off (one batch, one OpenMP team);
``GROKKIT_SHARDS=k`` asks for k shards.

- :func:`shard_count` says how many shards a batch of ``n`` runs is split into;
- :func:`split_runs` splits a list of runs into that many shards, interleaved so that each
  shard gets a mix of the batch's runs (a batch's slow runs are often adjacent);
- :func:`in_shards` calls one function per shard, each in its own thread;
- :class:`StepPool` keeps such threads for calling one step per shard again and again (the
  benchmark's timed steps).

**A single run** cannot be sharded, and with one OpenMP team its many small operations pay the
sleeping threads' wake-ups. The hand-written steps of the attention models and the encoder
(:mod:`grokkit.engine.models`) split each run's examples into fixed *pieces* instead, and
:func:`split_work` computes pieces at once in this thread and in helper threads of one intra-op
thread each (:func:`one_intra_op_thread`): a run of a batch of one, or of a shard that took all the
threads back, uses every thread without an OpenMP team. A piece is computed the same way whoever
computes it, so the result does not depend on the threads (``tests/engine/test_split_step.py``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterator, Sequence, TypeVar

import torch

T = TypeVar("T")


def shard_count(n_runs: int, device: torch.device | str) -> int:
    """Shards for a batch of ``n_runs`` runs on ``device``: on the CPU one per intra-op thread,
    or ``GROKKIT_SHARDS`` if set (``1``: no sharding), and at most one per run; else 1."""
    if torch.device(device).type != "cpu" or n_runs < 2:
        return 1
    wanted = os.environ.get("GROKKIT_SHARDS")
    if wanted is not None:
        if not wanted.strip().isdigit() or int(wanted) < 1:
            raise ValueError(f"GROKKIT_SHARDS: must be a positive integer, got {wanted!r}")
        limit = int(wanted)
    else:
        limit = torch.get_num_threads()
    return max(1, min(n_runs, limit))


def split_runs(items: Sequence[T], k: int) -> list[list[T]]:
    """``items`` dealt into ``k`` shards round-robin (item i goes to shard i mod k); no empty shard."""
    if k < 1:
        raise ValueError(f"k: must be a positive integer, got {k!r}")
    return [list(items[i::k]) for i in range(min(k, len(items)))] or [[]]


class ShardTeam:
    """The threads of one sharded computation: each shard's thread runs with one intra-op
    thread until it is the last one still working, which then takes all of them
    (:meth:`widen_if_alone`, called by the shard between its steps)."""

    def __init__(self, n_shards: int) -> None:
        self.threads = torch.get_num_threads()
        self.running = n_shards
        self._lock = threading.Lock()

    def start(self) -> None:
        """Called first in a shard's thread."""
        torch.set_num_threads(1 if self.running > 1 else self.threads)

    def widen_if_alone(self) -> None:
        """In a shard's thread: take all the threads once every other shard is done."""
        if self.running == 1 and torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)

    def done(self) -> None:
        with self._lock:
            self.running -= 1


def in_shards(fns: Sequence[Callable[[ShardTeam], T]]) -> list[T]:
    """Call each of ``fns`` (one per shard, given the team) in its own thread; return their
    results in order. The first exception is raised after every shard has stopped."""
    team = ShardTeam(len(fns))
    if len(fns) == 1:
        return [fns[0](team)]
    threads = team.threads

    def one(fn: Callable[[ShardTeam], T]) -> T:
        team.start()
        try:
            return fn(team)
        finally:
            team.done()

    try:
        with ThreadPoolExecutor(len(fns), thread_name_prefix="grokkit-shard") as pool:
            futures = [pool.submit(one, fn) for fn in fns]
            return [f.result() for f in futures]
    finally:
        torch.set_num_threads(threads)  # threads started later inherit the process default again


class StepPool:
    """Threads with one intra-op thread each, kept for calling one function per shard many
    times (``grokkit.bench`` times sharded steps with it). Close it when done."""

    def __init__(self, n_shards: int) -> None:
        self._threads = torch.get_num_threads()
        self._pool = ThreadPoolExecutor(n_shards, thread_name_prefix="grokkit-step",
                                        initializer=torch.set_num_threads, initargs=(1,))

    def map(self, fns: Sequence[Callable[[], T]]) -> list[T]:
        """Call each of ``fns`` in a thread of the pool; return their results in order."""
        return [f.result() for f in [self._pool.submit(fn) for fn in fns]]

    def close(self) -> None:
        self._pool.shutdown()
        torch.set_num_threads(self._threads)


# ---------------------------------------------------------------- one step split across threads
@contextlib.contextmanager
def one_intra_op_thread() -> Iterator[int]:
    """Run the body with one intra-op thread in this thread (no OpenMP team); yields the number of
    intra-op threads the thread had, and gives them back after."""
    threads = torch.get_num_threads()
    if threads == 1:
        yield 1
        return
    torch.set_num_threads(1)
    try:
        yield threads
    finally:
        torch.set_num_threads(threads)


def _helper_loop(jobs: queue.SimpleQueue) -> None:
    torch.set_num_threads(1)
    while True:
        fn, future = jobs.get()
        try:
            with torch.no_grad():
                future.set_result(fn())
        except BaseException as err:  # handed to the caller
            future.set_exception(err)


_helpers: list[queue.SimpleQueue] = []
_helpers_lock = threading.Lock()


def _reset_helpers() -> None:  # a forked child has none of its parent's threads
    global _helpers, _helpers_lock
    _helpers, _helpers_lock = [], threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_helpers)


def split_work(fns: Sequence[Callable[[], T]]) -> list[T]:
    """Call ``fns`` at once: the first in this thread, each other in a helper thread of its own
    (kept for the process, one intra-op thread each, autograd off); return their results in order.
    The first exception is raised after every call has returned. Used inside
    :func:`one_intra_op_thread`, so that no call starts an OpenMP team."""
    if len(fns) == 1:
        return [fns[0]()]
    with _helpers_lock:
        while len(_helpers) < len(fns) - 1:
            jobs: queue.SimpleQueue = queue.SimpleQueue()
            threading.Thread(target=_helper_loop, args=(jobs,), name=f"grokkit-split-{len(_helpers)}",
                             daemon=True).start()
            _helpers.append(jobs)
        helpers = _helpers[:len(fns) - 1]
    futures: list[Future] = []
    for jobs, fn in zip(helpers, fns[1:]):
        futures.append(Future())
        jobs.put((fn, futures[-1]))
    try:
        first = fns[0]()
    finally:
        for f in futures:
            f.exception()  # wait for every helper before anything is raised
    return [first, *[f.result() for f in futures]]
