"""Run shards (grokkit.threads): a CPU batch split by runs across threads computes exactly what
the whole batch computes, keeps forked arms with their pre-fork run, and fails cleanly."""

from __future__ import annotations

import threading

import pytest
import torch

from grokkit import RunStore, paper1
from grokkit import sweep
from grokkit.runs.executors import shard_batch
from grokkit.engine.shards import StepPool, in_shards, shard_count, split_runs

TINY = dict(p=13, d_embed=8, d_hidden=16, train_frac=0.5, max_steps=300, eval_schedule="every:50")


def test_split_runs_deals_round_robin_without_empty_shards():
    assert split_runs(list(range(7)), 3) == [[0, 3, 6], [1, 4], [2, 5]]
    assert split_runs([1, 2], 4) == [[1], [2]]
    assert split_runs([], 2) == [[]]
    with pytest.raises(ValueError, match="k"):
        split_runs([1], 0)


def test_shard_count_follows_threads_and_the_environment(monkeypatch):
    monkeypatch.delenv("GROKKIT_SHARDS", raising=False)
    assert shard_count(1, "cpu") == 1
    assert shard_count(64, "cpu") == torch.get_num_threads()
    assert shard_count(64, "meta") == 1  # not the CPU: one batch
    monkeypatch.setenv("GROKKIT_SHARDS", "3")
    assert shard_count(64, "cpu") == 3 and shard_count(2, "cpu") == 2
    monkeypatch.setenv("GROKKIT_SHARDS", "zero")
    with pytest.raises(ValueError, match="GROKKIT_SHARDS"):
        shard_count(4, "cpu")


def _records(store_dir):
    store = RunStore(store_dir)
    out = {}
    for key in store.keys():
        r = store.load(key)
        out[key] = (r["summary"], r["trajectory"])
    return out


@pytest.mark.parametrize("clamp", [False, True])
def test_sharded_sweep_equals_one_batch(tmp_path, monkeypatch, clamp):
    extra = dict(clamp_target=6.0, clamp_start=100) if clamp else {}
    cfgs = [paper1(**TINY, seed=s, lr=lr, **extra) for s in range(3) for lr in (1e-3, 3e-3)]
    monkeypatch.setenv("GROKKIT_SHARDS", "1")
    sweep(cfgs, store=tmp_path / "one", progress=False)
    monkeypatch.setenv("GROKKIT_SHARDS", "3")
    sweep(cfgs, store=tmp_path / "three", progress=False)
    one, three = _records(tmp_path / "one"), _records(tmp_path / "three")
    assert one.keys() == three.keys() and len(one) == len(cfgs)
    for key in one:
        assert one[key][0] == three[key][0], key  # summaries, exactly
        assert one[key][1] == three[key][1], key  # trajectories, exactly
    # the shards are one batch for the cost accounting: one id, the process's threads
    prov = [RunStore(tmp_path / "three").load(k)["provenance"] for k in three]
    assert len({p["batch_id"] for p in prov}) == 1
    assert {p["device"] for p in prov} == {f"cpu:{torch.get_num_threads()} threads"}


def test_forked_arms_stay_with_their_prefork_run(monkeypatch):
    monkeypatch.setenv("GROKKIT_SHARDS", "2")
    base = [paper1(**TINY, seed=s) for s in range(3)]
    arms = [b.replace(fork_step=100, clamp_start=100, clamp_scale=x) for b in base for x in (0.9, 1.1)]
    shards = shard_batch(arms, torch.device("cpu"))
    assert len(shards) == 2 and sorted(len(s) for s in shards) == [2, 4]
    for shard in shards:
        bases = {a.prefork().key for a in shard}
        assert all(a in shard for a in arms if a.prefork().key in bases)


def test_in_shards_runs_each_in_its_own_thread_and_the_last_takes_all_threads():
    threads = torch.get_num_threads()
    seen = []
    lock = threading.Lock()
    release = threading.Event()

    def quick(team):
        with lock:
            seen.append((threading.get_ident(), torch.get_num_threads()))
        return "quick"

    def slow(team):
        start = torch.get_num_threads()
        while team.running > 1:  # wait for the quick shard to finish
            release.wait(0.01)
        team.widen_if_alone()
        return start, torch.get_num_threads()

    out = in_shards([slow, quick])
    assert out[1] == "quick" and out[0] == (1, threads)
    assert seen[0][1] == 1 and seen[0][0] != threading.get_ident()
    assert torch.get_num_threads() == threads  # the caller's threads are as they were


def test_in_shards_raises_a_shards_error_after_all_have_stopped():
    finished = []

    def fails(team):
        raise RuntimeError("shard failed")

    def works(team):
        finished.append(True)
        return 1

    with pytest.raises(RuntimeError, match="shard failed"):
        in_shards([fails, works])
    assert finished == [True]


def test_step_pool_calls_each_function_with_one_thread():
    pool = StepPool(2)
    try:
        assert pool.map([torch.get_num_threads, torch.get_num_threads]) == [1, 1]
    finally:
        pool.close()
