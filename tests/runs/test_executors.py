"""Sweeps on an executor (any concurrent.futures.Executor; Dask's distributed scheduler in a
LocalCluster): the same records as training here, written by the calling process only; a
failed task loses only its batch; a killed Dask worker loses nothing; and worker processes of
a sweep killed with SIGKILL do not train on as orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from grokkit import RunStore, SweepError, paper1
from grokkit import sweep
from grokkit.runs.executors import train_batch_records

TINY = dict(p=13, d_embed=8, d_hidden=16, train_frac=0.5, max_steps=200, eval_schedule="every:50")
SAME = ["status", "t_mem", "t_grok", "final_step", "norm_final", "test_acc_final"]


def configs(n=4, **kw):
    return [paper1(**{**TINY, **kw}, seed=s) for s in range(n)]


def test_a_local_process_pool_gives_the_records_of_training_here(tmp_path):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    cfgs = configs(4)
    here = sweep(cfgs, store=tmp_path / "here", progress=False)
    # "spawn", not Linux's default "fork": a child forked from a process whose OpenMP pool has
    # run (training here, above) can hang in its first parallel torch op.
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        there = sweep(cfgs, store=tmp_path / "there", executor=pool, max_batch=2, progress=False)
    assert list(there["key"]) == list(here["key"])
    assert there[SAME].equals(here[SAME])


def test_forked_arms_come_back_with_their_pre_fork_run(tmp_path):
    base = paper1(**{**TINY, "max_steps": 300})
    arms = [base.replace(fork_step=100, clamp_start=100, clamp_scale=s) for s in (0.9, 1.1)]
    with ThreadPoolExecutor(1) as pool:
        table = sweep(arms, store=tmp_path, executor=pool, progress=False)
    assert list(table["clamp_scale"]) == [0.9, 1.1]
    assert arms[0].prefork().key in RunStore(tmp_path)


class OneBatchFails(ThreadPoolExecutor):
    """An executor whose task for seed 0's batch fails (as if its worker had died)."""

    def submit(self, fn, batch, *args, **kwargs) -> Future:
        if any(c.seed == 0 for c in batch):
            f: Future = Future()
            f.set_exception(OSError("worker lost"))
            return f
        return super().submit(fn, batch, *args, **kwargs)


def test_a_failed_task_loses_only_its_batch(tmp_path):
    cfgs = configs(3)
    with OneBatchFails(1) as pool, pytest.raises(SweepError, match="1 of 3 batches"):
        sweep(cfgs, store=tmp_path, executor=pool, max_batch=1, progress=False)
    store = RunStore(tmp_path)
    assert [c.key in store for c in cfgs] == [False, True, True]
    assert len(sweep(cfgs, store=store, progress=False)) == 3  # running it again trains the rest


def test_the_remote_task_needs_no_store():
    records = train_batch_records(configs(2), "cpu")
    assert [r["key"] for r in records] == [c.key for c in configs(2)]
    assert {"config", "summary", "trajectory", "provenance"} <= set(records[0])


@pytest.mark.slow
def test_dask_local_cluster_with_a_worker_killed_mid_sweep(tmp_path):
    distributed = pytest.importorskip("distributed")
    cfgs = configs(6, max_steps=600, stop_at_grok=False)
    here = sweep(cfgs, store=tmp_path / "here", progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  worker_dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        killer = ThreadPoolExecutor(1)
        killer.submit(lambda: (time.sleep(1.5), os.kill(pids[0], signal.SIGKILL)))
        there = sweep(cfgs, store=tmp_path / "there", executor=client.get_executor(), max_batch=1, progress=False)
        killer.shutdown()
    assert len(there) == 6  # the killed worker's task was run again elsewhere
    assert there[SAME].equals(here[SAME])


@pytest.mark.slow
def test_workers_do_not_outlive_a_killed_sweep(tmp_path):
    script = textwrap.dedent(f"""
        from grokkit import paper1
        from grokkit import sweep
        cfgs = [paper1(p=13, d_embed=8, d_hidden=16, train_frac=0.5, max_steps=100_000, eval_schedule="every:50",
                       stop_at_grok=False, seed=s) for s in range(4)]
        if __name__ == "__main__":
            sweep(cfgs, store={str(tmp_path / 'store')!r}, workers=2, max_batch=1, progress=False)
    """)
    path = tmp_path / "run.py"
    path.write_text(script)
    proc = subprocess.Popen([sys.executable, str(path)])
    deadline = time.time() + 60
    workers: list[int] = []
    while time.time() < deadline and len(workers) < 2:
        time.sleep(0.5)
        workers = [pid for pid in _children(proc.pid) if "multiprocessing" in _cmdline(pid)]
    assert len(workers) >= 2, "the sweep's worker processes did not start"
    time.sleep(2.0)  # let them start training
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.25)
    assert not any(_alive(pid) for pid in workers), "worker processes kept training after the sweep was killed"


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
