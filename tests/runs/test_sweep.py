"""Sweeps train only what the store lacks, refuse to train when told, and survive SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from grokkit import MissingRunsError, RunStore, paper1
from grokkit import sweep
from grokkit.runs.design import Design
from grokkit.runs.sweep import plan_batches

TINY = dict(p=13, d_embed=8, d_hidden=16, train_frac=0.5, max_steps=200, eval_schedule="every:50")


def configs(n=4):
    return [paper1(**TINY, seed=s) for s in range(n)]


def mtimes(store):
    return {k: store.path(k).stat().st_mtime_ns for k in store.keys()}


def test_sweep_trains_missing_then_nothing(tmp_path):
    store = RunStore(tmp_path)
    cfgs = configs(3)
    table = sweep(cfgs[:2], store=store, progress=False)
    assert list(table["seed"]) == [0, 1] and set(table["status"]) <= {"grokked", "censored"}
    before = mtimes(store)
    table = sweep(cfgs + cfgs[:1], store=store, progress=False)  # one new run, a duplicate
    assert list(table["seed"]) == [0, 1, 2]
    after = mtimes(store)
    assert {k: after[k] for k in before} == before  # finished runs were not retrained
    sweep(cfgs, store=store, progress=False)
    assert mtimes(store) == after


def test_training_off_raises_or_reports_missing(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    cfgs = configs(2)
    sweep(cfgs[:1], store=store, progress=False)
    with pytest.raises(MissingRunsError, match="1 run"):
        sweep(cfgs, store=store, train=False)
    monkeypatch.setenv("GROKKIT_NO_TRAIN", "1")
    with pytest.raises(MissingRunsError):
        sweep(cfgs, store=store)
    with pytest.warns(UserWarning, match="not in the store"):
        table = sweep(cfgs, store=store, allow_missing=True)
    assert len(table) == 1 and table.attrs["missing"] == 1
    assert len(store.keys()) == 1


def test_bad_configs_fail_before_training(tmp_path):
    with pytest.raises(ValueError, match="p:"):
        sweep([paper1(**TINY), paper1(**{**TINY, "p": 60})], store=tmp_path)
    assert RunStore(tmp_path).keys() == []
    with pytest.raises(ValueError, match="configs"):
        sweep([dict(p=13)], store=tmp_path)


def test_plan_batches_groups_by_batch_key():
    cfgs = configs(3) + [paper1(**{**TINY, "p": 17})] + [c.replace(lr=2e-3) for c in configs(2)]
    batches = plan_batches(cfgs, max_batch=4)
    assert sorted(len(b) for b in batches) == [1, 1, 4]
    for b in batches:
        assert len({c.batch_key() for c in b}) == 1


def test_design_labels(tmp_path):
    d = Design()
    for s in range(2):
        d.add("a", paper1(**TINY, seed=s), arm="x")
        d.add("b", paper1(**TINY, seed=s), arm="y")  # the same runs, other labels: trained once
    d.run(store=tmp_path, progress=False)
    assert len(RunStore(tmp_path).keys()) == 2
    assert list(d.table("a")["arm"]) == ["x", "x"] and list(d.table("b")["arm"]) == ["y", "y"]
    d.add("a", paper1(**TINY, seed=0), arm="x")  # filed again by a second scan through the same cell
    d.add("a", paper1(**TINY, seed=0), arm="z")  # ... but other labels: a row of its own
    d.run(store=tmp_path, progress=False)
    assert sorted(d.table("a")["arm"]) == ["x", "x", "z"]


def test_forked_arms_through_sweep(tmp_path):
    base = paper1(**{**TINY, "max_steps": 300})
    arms = [base.replace(fork_step=100, clamp_start=100, clamp_scale=s) for s in (0.9, 1.1)]
    table = sweep(arms, store=tmp_path, progress=False)
    assert list(table["clamp_scale"]) == [0.9, 1.1]
    store = RunStore(tmp_path)
    assert arms[0].prefork().key in store  # the free pre-fork run is stored too
    for key in table["key"]:
        steps = store.load(key)["trajectory"]["step"]
        assert steps[0] == 0  # the arm's history includes the shared pre-fork part


def test_sigkill_mid_sweep_loses_only_runs_in_flight(tmp_path):
    store_dir = tmp_path / "store"
    script = textwrap.dedent(f"""
        from grokkit import paper1
        from grokkit import sweep
        cfgs = [paper1(p=13, d_embed=8, d_hidden=16, train_frac=0.5, max_steps=400, eval_schedule="every:50",
                       stop_at_grok=False, seed=s) for s in range(12)]
        sweep(cfgs, store={str(store_dir)!r}, max_batch=1, progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    store = RunStore(store_dir)
    deadline = time.time() + 120
    while len(store.keys()) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = store.keys()
    assert 3 <= len(done) < 12, "the sweep should have been killed mid-way"
    snapshot = {}
    for k in done:
        text = store.path(k).read_text()
        json.loads(text)  # every finished record is complete
        snapshot[k] = (text, store.path(k).stat().st_mtime_ns)
    cfgs = [paper1(p=13, d_embed=8, d_hidden=16, train_frac=0.5, max_steps=400, eval_schedule="every:50",
                   stop_at_grok=False, seed=s) for s in range(12)]
    table = sweep(cfgs, store=store, progress=False)
    assert len(table) == 12 and list(table["seed"]) == list(range(12))
    for k, (text, mtime) in snapshot.items():
        assert store.path(k).read_text() == text and store.path(k).stat().st_mtime_ns == mtime


def test_workers_give_the_same_records(tmp_path):
    cfgs = configs(4)
    a = sweep(cfgs, store=tmp_path / "one", progress=False)
    b = sweep(cfgs, store=tmp_path / "two", workers=2, progress=False)
    assert list(a["key"]) == list(b["key"])
    assert (a["norm_final"] - b["norm_final"]).abs().max() < 1e-5
    with pytest.raises(ValueError, match="workers"):
        sweep(configs(5)[4:], store=tmp_path / "three", workers=0)


def test_two_sweeps_writing_one_store_at_once_lose_and_corrupt_nothing(tmp_path):
    """Two processes sweep overlapping runs into one store at the same time (max_batch=1, so
    they interleave run by run); afterwards every run is there, every record is complete, no
    temporary file is left, and a third sweep trains nothing."""
    store_dir = tmp_path / "store"
    script = textwrap.dedent(f"""
        import sys
        from grokkit import paper1
        from grokkit import sweep
        seeds = range(0, 8) if sys.argv[1] == "a" else range(4, 12)
        cfgs = [paper1(p=13, d_embed=8, d_hidden=16, train_frac=0.5, max_steps=150, eval_schedule="every:50",
                       stop_at_grok=False, seed=s) for s in seeds]
        sweep(cfgs, store={str(store_dir)!r}, max_batch=1, progress=False)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, who]) for who in "ab"]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    store = RunStore(store_dir)
    assert len(store.keys()) == 12
    for k in store.keys():
        assert store.load(k)["key"] == k
    assert not list(store_dir.rglob("*.tmp")), "a temporary file was left behind"
    cfgs = [paper1(p=13, d_embed=8, d_hidden=16, train_frac=0.5, max_steps=150, eval_schedule="every:50",
                   stop_at_grok=False, seed=s) for s in range(12)]
    before = mtimes(store)
    assert len(sweep(cfgs, store=store, progress=False)) == 12
    assert mtimes(store) == before


def test_a_damaged_record_is_trained_again(tmp_path):
    from grokkit.runs.store import DamagedRecordWarning

    store = RunStore(tmp_path)
    cfgs = configs(2)
    sweep(cfgs, store=store, progress=False)
    store.path(cfgs[0].key).write_text('{"key": "trunc')
    with pytest.warns(DamagedRecordWarning, match=cfgs[0].key):
        table = sweep(cfgs, store=store, progress=False)
    assert list(table["seed"]) == [0, 1]
    assert store.load(cfgs[0].key)["key"] == cfgs[0].key


def test_a_read_only_store_fails_before_training(tmp_path):
    from grokkit.runs.store import StoreNotWritableError

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreNotWritableError, match="cannot write run records"):
        sweep(configs(1), store=blocker / "runs", progress=False)
