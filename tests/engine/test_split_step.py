"""The hand-written steps of the attention models and the encoder split a run's examples into fixed
pieces and may compute them in several threads (grokkit.engine.models.PieceStep,
grokkit.engine.shards.split_work). A run's numbers do not depend on that: on its batch, on the
chunks of pieces, or on the threads (one run on two threads), bit for bit, in float64 and float32."""

from __future__ import annotations

import contextlib
import threading

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from grokkit.engine import shards
from grokkit.engine.models import PieceStep, hand_step_wanted, piece_bounds, work_plan
from grokkit.engine.protocols import paper1, paper3
from grokkit.engine.trainer import Trainer

KINDS = {
    "attn": lambda **kw: paper1(model="attn", p=11, d_embed=16, d_hidden=32, n_heads=4, layernorm=True, **kw),
    "attn-noln": lambda **kw: paper1(model="attn", p=11, d_embed=16, d_hidden=32, n_heads=4, layernorm=False,
                                     **kw),
    "encoder": lambda **kw: paper3(p=13, d_embed=16, d_hidden=32, n_heads=4, batch_size=25, **kw),
}


@contextlib.contextmanager
def intra_op_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def trained(configs: list, steps: int) -> dict[str, torch.Tensor]:
    trainer = Trainer(configs, "cpu")
    assert trainer.hand_written_step
    for _ in range(steps):
        trainer.step()
    return {k: v.detach().clone() for k, v in trainer.batch.params.items()}


def runs(kind: str, dtype: str) -> list:
    base = KINDS[kind](dtype=dtype, clamp_start=5, max_steps=10**4)
    return [base.replace(seed=0, lr=1e-2), base.replace(seed=1, lr=3e-3, temperature=1.5, clamp_target=30.0),
            base.replace(seed=2, lr=5e-3, weight_decay=0.3)]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("fused", ["kernels on", "kernels off"])
def test_a_run_rounds_the_same_alone_on_two_threads_and_in_a_batch_on_one(kind, dtype, fused, monkeypatch):
    monkeypatch.setenv("GROKKIT_KERNELS", "1" if fused == "kernels on" else "0")
    calls = []
    split = shards.split_work
    monkeypatch.setattr(shards, "split_work", lambda fns: calls.append(len(fns)) or split(fns))
    configs = runs(kind, dtype)
    with intra_op_threads(1):
        batch = trained(configs, 15)
    assert set(calls) == {1}
    for i, cfg in enumerate(configs):
        calls.clear()
        with intra_op_threads(2):
            alone = trained([cfg], 15)
        assert set(calls) == {2}  # the run's two pieces in two threads
        for k, v in alone.items():
            assert torch.equal(v[0], batch[k][i]), (i, k)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_run_rounds_the_same_in_any_chunks_of_pieces(kind, monkeypatch):
    configs = runs(kind, "float32")
    with intra_op_threads(1):
        default = trained(configs, 10)
        for per_example in (1 << 40, 1):  # one piece per chunk; every run's piece in one chunk
            monkeypatch.setattr(PieceStep, "_examples_per_chunk", lambda self, n=per_example: n)
            other = trained(configs, 10)
            for k, v in other.items():
                assert torch.equal(v, default[k]), (per_example, k)


def test_a_flop_counter_sees_the_whole_step():
    """Torch's dispatch modes are per thread: under one, the step stays in the calling thread."""
    cfg = KINDS["encoder"]()
    counts = []
    for threads in (1, 2):
        trainer = Trainer([cfg], "cpu")
        with intra_op_threads(threads), FlopCounterMode(display=False) as counter:
            trainer.step()
        counts.append(counter.get_total_flops())
    assert counts[0] == counts[1] > 0


def test_piece_bounds_and_the_work_plan():
    assert piece_bounds(10) == [(0, 5), (5, 10)] and piece_bounds(7) == [(0, 4), (4, 7)]
    assert piece_bounds(1) == [(0, 1)]
    assert work_plan(1, 2, 2, 4) == [[(0, 0, 1)], [(1, 0, 1)]]  # one run, two threads: a piece each
    assert work_plan(5, 2, 1, 2) == [[(0, 0, 2), (0, 2, 4), (0, 4, 5), (1, 0, 2), (1, 2, 4), (1, 4, 5)]]
    assert work_plan(3, 2, 2, 8) == [[(0, 0, 3)], [(1, 0, 3)]]
    assert work_plan(1, 2, 4, 8) == [[(0, 0, 1)], [(1, 0, 1)]]  # no more threads than pieces
    plan = work_plan(7, 2, 3, 2)
    assert sorted((s, r) for chunks in plan for s, a, b in chunks for r in range(a, b)) == \
        [(s, r) for s in range(2) for r in range(7)]


def test_split_work_runs_each_call_in_a_thread_of_one_intra_op_thread_without_autograd():
    def probe():
        return threading.get_ident(), torch.get_num_threads(), torch.is_grad_enabled()

    with intra_op_threads(2), shards.one_intra_op_thread() as had:
        assert had == 2 and torch.get_num_threads() == 1
        out = shards.split_work([probe, probe, probe])
    assert out[0][0] == threading.get_ident() and len({o[0] for o in out}) == 3
    assert [o[1] for o in out] == [1, 1, 1] and [o[2] for o in out[1:]] == [False, False]


def test_split_work_raises_after_every_call_has_returned():
    finished = threading.Event()

    def slow():
        finished.wait(5)
        return 1

    def fails():
        finished.set()
        raise RuntimeError("a piece failed")

    with pytest.raises(RuntimeError, match="a piece failed"):
        shards.split_work([fails, slow])
    assert shards.split_work([lambda: 1, lambda: 2]) == [1, 2]  # the helper is free again


def test_one_intra_op_thread_gives_the_threads_back():
    with intra_op_threads(2):
        with shards.one_intra_op_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2


def test_the_environment_switches_the_hand_written_steps_off(monkeypatch):
    cfg = KINDS["attn"](max_steps=10**4)
    monkeypatch.setenv("GROKKIT_HAND_STEP", "0")
    assert not hand_step_wanted() and not Trainer([cfg], "cpu").hand_written_step
    trainer = Trainer([cfg], "cpu")
    for _ in range(5):
        trainer.step()
    off = {k: v.detach() for k, v in trainer.batch.params.items()}
    monkeypatch.setenv("GROKKIT_HAND_STEP", "1")
    on = trained([cfg], 5)
    for k in on:
        torch.testing.assert_close(on[k], off[k], rtol=2e-4, atol=1e-5)
    monkeypatch.setenv("GROKKIT_HAND_STEP", "yes")
    with pytest.raises(ValueError, match="GROKKIT_HAND_STEP"):
        Trainer([cfg], "cpu")


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_sharded_sweep_records_what_one_batch_records(kind, tmp_path, monkeypatch):
    """As tests/engine/test_shards.py checks for the MLP: records equal exactly, one batch or three
    shards (whose last one takes both threads back and splits its pieces)."""
    from grokkit import RunStore, sweep

    base = KINDS[kind](max_steps=60, eval_schedule="every:20", clamp_start=20)
    cfgs = [base.replace(seed=s, lr=lr) for s in range(3) for lr in (1e-3, 3e-3)]
    cfgs[1] = cfgs[1].replace(clamp_target=25.0, temperature=1.4)
    records = {}
    for shards_env in ("1", "3"):
        monkeypatch.setenv("GROKKIT_SHARDS", shards_env)
        sweep(cfgs, store=tmp_path / shards_env, progress=False)
        store = RunStore(tmp_path / shards_env)
        records[shards_env] = {k: (store.load(k)["summary"], store.load(k)["trajectory"]) for k in store.keys()}
    assert records["1"].keys() == records["3"].keys() and len(records["1"]) == len(cfgs)
    for key, (summary, trajectory) in records["1"].items():
        assert records["3"][key] == (summary, trajectory), key
