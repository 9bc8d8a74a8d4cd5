"""Store keys are pinned: a refactor of RunConfig must not change any run's key.

``tests/data/store_keys.json`` holds the canonical fields, key and base seed of a spread of
configs (every drop rule of the canonical form: no clamp, absolute and relative targets, one
group, forks, SGD, parity, widths, traces, ...), computed before RunConfig's fields were
declared with their metadata. ``tests/data/batch_key_relation.json`` pins which changes of one
field keep a run in the same batch. And every record in the project's run store must still be
found under the key its config hashes to.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grokkit import RunConfig, RunStore

DATA = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parents[2]
CASES = json.loads((DATA / "store_keys.json").read_text())
RELATION = json.loads((DATA / "batch_key_relation.json").read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_pinned_keys_are_unchanged(name: str) -> None:
    case = CASES[name]
    cfg = RunConfig(**case["fields"])
    assert cfg.canonical() == case["config"]
    assert cfg.key == case["key"]
    assert cfg.base_seed == case["base_seed"]


def test_batch_key_relation_is_unchanged() -> None:
    for name, field, value, same in RELATION:
        cfg = RunConfig(**CASES[name]["fields"])
        assert (cfg.replace(**{field: value}).batch_key() == cfg.batch_key()) == same, (name, field, value)


def test_every_stored_record_is_found_under_its_key() -> None:
    store = RunStore(ROOT / "data" / "runs")
    keys = store.keys()
    assert len(keys) > 1000
    for key in keys:
        record = json.loads(store.path(key).read_text())
        cfg = RunConfig(**record["config"])
        assert cfg.key == key
        assert cfg.canonical() == record["config"]
