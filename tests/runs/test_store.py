"""The run store needs no torch: records round-trip, downsample, load as a table, and fail loudly."""

import json
import sys
from types import SimpleNamespace

import pytest

from grokkit.engine.protocols import paper1
from grokkit.runs.store import DAMAGED_DIR, MAX_POINTS, DamagedRecordWarning, RunStore, StoreNotWritableError, downsample


def fake_result(cfg, n=1000, t_grok=700):
    steps = list(range(0, n * 10, 10))
    traj = {"step": steps, "norm": [50.0 + 1e-7 * i for i in range(n)], "test_acc": [min(1.0, s / 7000) for s in steps]}
    summary = {"status": "grokked", "t_grok": t_grok * 10, "t_mem": 100, "final_step": steps[-1], "norm_grok": 51.0,
               "crossings": {"0.9": [6300, 50.5]}, "clamp_target": None, "bad": float("nan")}
    return SimpleNamespace(config=cfg, summary=summary, trajectory=traj, provenance={"grokkit": "test", "wall_s": 1.0})


def test_store_does_not_import_torch():
    import subprocess  # other tests import torch: check in a fresh interpreter

    code = "import grokkit, grokkit.runs.store, grokkit.runs.sweep, grokkit.runs.design, grokkit.analysis.stats, grokkit.analysis.cells, grokkit.book.verdicts, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_roundtrip_and_table(tmp_path):
    store = RunStore(tmp_path)
    cfg = paper1(p=59, seed=3)
    path = store.save(fake_result(cfg))
    assert path == tmp_path / cfg.key[:2] / f"{cfg.key}.json"
    assert cfg.key in store and store.keys() == [cfg.key]
    rec = store.load(cfg.key)
    assert rec["config"]["seed"] == 3 and rec["summary"]["bad"] is None  # NaN stored as null
    assert len(rec["trajectory"]["step"]) <= MAX_POINTS + 10
    assert 7000 in rec["trajectory"]["step"] and 6300 in rec["trajectory"]["step"]  # T_grok and crossings kept
    table = store.table()
    assert table.loc[0, "seed"] == 3 and table.loc[0, "t_test_0.9"] == 6300 and table.loc[0, "norm_test_0.9"] == 50.5
    assert "t_test_0.95" in table.columns  # every crossing threshold has a column
    traj = store.trajectories([cfg.key])
    assert list(traj.columns[:2]) == ["key", "step"]


def test_record_is_diff_friendly_json(tmp_path):
    store = RunStore(tmp_path)
    cfg = paper1(p=59)
    text = store.save(fake_result(cfg, n=20)).read_text()
    json.loads(text)
    assert '\n      "seed": 0,' in text  # one config field per line
    assert text.count("\n") < 120


def test_missing_and_unreadable_records(tmp_path):
    store = RunStore(tmp_path)
    cfgs = [paper1(p=59, seed=s) for s in range(3)]
    store.save(fake_result(cfgs[1]))
    assert [c.seed for c in store.missing(cfgs + cfgs)] == [0, 2]
    with pytest.raises(KeyError):
        store.load(cfgs[0].key)
    store.path(cfgs[1].key).write_text("{ not json")
    with pytest.warns(DamagedRecordWarning, match=cfgs[1].key):
        with pytest.raises(KeyError, match="moved aside"):
            store.load(cfgs[1].key)
    assert cfgs[1].key not in store  # moved aside: the run is missing again


@pytest.mark.parametrize("damage", ["truncated", "not json", "a list", "no summary", "wrong key"])
def test_a_damaged_record_is_moved_aside_named_and_its_run_counts_as_missing(tmp_path, damage):
    store = RunStore(tmp_path)
    cfgs = [paper1(p=59, seed=s) for s in range(3)]
    for c in cfgs:
        store.save(fake_result(c))
    path = store.path(cfgs[1].key)
    text = path.read_text()
    record = json.loads(text)
    bad = {"truncated": text[: len(text) // 2], "not json": "\x00\x01 binary junk", "a list": "[1, 2]",
           "no summary": json.dumps({k: v for k, v in record.items() if k != "summary"}),
           "wrong key": json.dumps({**record, "key": cfgs[0].key})}[damage]
    path.write_text(bad)
    with pytest.warns(DamagedRecordWarning, match=str(path)):
        table = store.table()  # every other record still loads
    assert sorted(table["seed"]) == [0, 2]
    assert not path.exists()
    aside = list((tmp_path / DAMAGED_DIR).glob(f"{cfgs[1].key}.*.json"))
    assert len(aside) == 1 and aside[0].read_text() == bad  # kept for inspection, out of the store
    assert [c.seed for c in store.missing(cfgs)] == [1]
    assert cfgs[1].key not in store.keys()


def test_a_store_that_cannot_be_written_fails_before_training(tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    store = RunStore(blocker / "runs")
    with pytest.raises(StoreNotWritableError, match="cannot write run records to"):
        store.check_writable()
    RunStore(tmp_path / "fresh").check_writable()  # creates the folder, leaves nothing behind
    assert list((tmp_path / "fresh").iterdir()) == []


def test_downsample_keeps_ends_and_key_steps():
    traj = {"step": list(range(5000)), "x": [float(i) for i in range(5000)]}
    out = downsample(traj, {1234, 4321})
    assert out["step"][0] == 0 and out["step"][-1] == 4999
    assert 1234 in out["step"] and 4321 in out["step"]
    assert len(out["step"]) <= MAX_POINTS + 2
    assert downsample({"step": [0, 1], "x": [0.1234567891, 2.0]})["x"][0] == 0.123457
