"""Every model kind, full batch and minibatch, cross-entropy and MSE, end to end through ``sweep``.

Runs leave a batch when they finish; these tests retire all runs of a batch at the same
evaluation and one at a time (different budgets), which is where a minibatch sampler
once failed (an empty list of survivors became a float index tensor).
"""

from __future__ import annotations

import itertools

import pytest

from grokkit import RunConfig, RunStore
from grokkit import sweep

MODEL_KINDS = {
    "mlp": dict(task="add", model="mlp", p=11, d_embed=8, d_hidden=16),
    "attn": dict(task="add", model="attn", p=11, d_embed=8, d_hidden=16, n_heads=2),
    "encoder": dict(task="add", model="encoder", p=11, d_embed=8, d_hidden=16, n_heads=2),
    "parity_mlp": dict(task="parity", model="parity_mlp", parity_n=6, parity_k=2, parity_train=64,
                       parity_test=32, d_hidden=16),
}
CASES = list(itertools.product(MODEL_KINDS, (None, 8), ("ce", "mse")))


def _configs(kind: str, batch_size: int | None, loss: str, budgets: list[int]) -> list[RunConfig]:
    base = dict(MODEL_KINDS[kind], train_frac=0.5, batch_size=batch_size, loss=loss, lr=1e-3,
                eval_schedule="every:10", stop_at_grok=False)
    if kind == "parity_mlp":
        base.pop("train_frac")
    return [RunConfig(**base, seed=s, max_steps=b) for s, b in enumerate(budgets)]


@pytest.mark.parametrize("kind,batch_size,loss", CASES, ids=[f"{k}-{'mb' if b else 'full'}-{l}" for k, b, l in CASES])
@pytest.mark.parametrize("retire", ["all at once", "one at a time"])
def test_sweep_end_to_end(tmp_path, kind, batch_size, loss, retire):
    budgets = [30, 30, 30] if retire == "all at once" else [10, 20, 30]
    cfgs = _configs(kind, batch_size, loss, budgets)
    table = sweep(cfgs, store=tmp_path, progress=False)
    assert list(table["seed"]) == [0, 1, 2]
    assert list(table["final_step"]) == budgets
    assert set(table["status"]) <= {"grokked", "censored"}
    store = RunStore(tmp_path)
    for cfg in cfgs:
        steps = store.load(cfg.key)["trajectory"]["step"]
        assert steps == list(range(0, cfg.max_steps + 1, 10))
