"""``python -m grokkit.bench`` runs for every model the book trains (a tiny measurement: the
figures themselves are read from the bench's output, never asserted on in a test)."""

from __future__ import annotations

import json

import pytest
import torch

from grokkit import bench


def test_the_bench_covers_every_model_and_saves_its_tables(capsys, tmp_path):
    saved = tmp_path / "bench.json"
    bench.main(["--runs", "1", "--steps", "1", "--repeats", "1", "--plain-runs", "1", "--device", "cpu",
                "--save", str(saved)])
    out = capsys.readouterr().out
    for name in ("mlp", "attn", "attn-noln", "encoder"):
        assert f"== {name}:" in out
    assert "hand-written steps on" in out
    assert out.count("% peak") == 8  # a header per model
    tables = json.loads(saved.read_text())
    assert set(tables["models"]) == {"mlp", "attn", "attn-noln", "encoder"}
    assert all(t["grokkit"]["1"] > 0 and t["plain"] > 0 for t in tables["models"].values())


@pytest.mark.parametrize("name", list(bench.CASES))
def test_plain_models_train_and_count_their_flops(name):
    step = bench._plain_step(bench.CASES[name].config(0), torch.device("cpu"))
    assert bench.step_flops(step) > 0


def test_bad_bench_arguments_fail_with_the_option_named(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--runs", "0"])
    assert "--runs" in capsys.readouterr().err
