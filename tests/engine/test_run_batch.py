"""The run batch and the trainer's schedule, exactly: a run's numbers do not depend on its batch, on
the runs that left it, on the clamp's bookkeeping or on a fork.

Float64 throughout: there the batched matmuls give every run the bits it gets alone (float32 may
round differently by batch size on the CPU), so every comparison here is exact equality.
"""

from __future__ import annotations

import json

import pytest
import torch

from grokkit.engine.batch import RunBatch
from grokkit.engine.clamp import norm, rescale_
from grokkit.engine.protocols import paper1, paper3
from grokkit.engine.trainer import Trainer, train

SMALL = dict(p=13, d_embed=8, d_hidden=16, train_frac=0.5, eval_schedule="every:5", dtype="float64")


def mixed_runs(max_steps: int = 60) -> list:
    """One batch: free, absolute and relative clamps from different steps, temperatures, learning
    rates, budgets (runs leave the batch at different times) and a run that diverges."""
    base = paper1(**SMALL, max_steps=max_steps, clamp_start=20)
    return [
        base.replace(seed=0),
        base.replace(seed=1, clamp_target=9.0, temperature=1.5, lr=3e-2),
        base.replace(seed=2, clamp_scale=0.9, clamp_start=10, max_steps=max_steps - 20),
        base.replace(seed=3, lr=5e-3, temperature=0.7),
        base.replace(seed=4, lr=1e30),  # overflows: diverged
        base.replace(seed=5, clamp_scale=1.1, clamp_start=30, stop_at_grok=False, trace_every=3),
    ]


def outcome(result) -> str:
    """A result's summary, trajectory and trace, exactly (NaN included)."""
    return json.dumps([result.summary, result.trajectory, result.trace])


def steps(trainer: Trainer, n: int) -> None:
    for _ in range(n):
        trainer.step()


def tensors(obj, path: str = "batch"):
    """Every tensor reachable from ``obj`` (attributes, dicts, lists), with its path."""
    if isinstance(obj, torch.Tensor):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from tensors(v, f"{path}[{k!r}]")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from tensors(v, f"{path}[{i}]")
    elif hasattr(obj, "__dict__") and not isinstance(obj, torch.Generator):
        for k, v in vars(obj).items():
            yield from tensors(v, f"{path}.{k}")


def test_a_runs_results_do_not_depend_on_its_batch():
    configs = mixed_runs()
    batched = train(configs, "cpu")
    assert [r.summary["status"] for r in batched].count("diverged") == 1
    for cfg, result in zip(configs, batched):
        (alone,) = train([cfg], "cpu")
        assert outcome(result) == outcome(alone), cfg


@pytest.mark.parametrize("kind", ["mlp", "encoder-minibatch"])
def test_select_keeps_every_per_run_tensor_in_step(kind):
    """Keep two of four runs mid-run, in a new order: every per-run tensor follows, and the kept runs
    go on exactly as those runs trained alone."""
    if kind == "mlp":
        configs = mixed_runs(max_steps=100)[:4]
    else:  # minibatches: the sampler's streams and its drawn block must follow too
        base = paper3(p=13, d_embed=8, d_hidden=16, n_heads=2, batch_size=16, dtype="float64", clamp_start=20)
        configs = [base.replace(seed=0), base.replace(seed=1, clamp_scale=0.9),
                   base.replace(seed=2, clamp_target=30.0, temperature=0.7), base.replace(seed=3, lr=3e-3)]
    keep = [2, 1]  # an absolute and a relative clamp
    trainer = Trainer(configs, "cpu")
    steps(trainer, 25)  # past every clamp's start: the relative targets are fixed
    trainer.batch.select(keep)
    assert [r.config for r in trainer.batch.runs] == [configs[i] for i in keep]
    for path, t in tensors(trainer.batch):
        assert t.shape[0] == len(keep), f"{path} has {t.shape[0]} runs, not {len(keep)}"
    steps(trainer, 140)  # the sampler refills its block of 128 steps
    kept = dict(tensors(trainer.batch))
    for i, row in enumerate(keep):
        alone = Trainer([configs[row]], "cpu")
        steps(alone, 165)
        for path, t in tensors(alone.batch):
            torch.testing.assert_close(kept[path][i:i + 1], t, rtol=0, atol=0, equal_nan=True, msg=path)


def test_hold_clamps_after_every_update_from_t_int():
    """A held run is the free run rescaled to its target after each update from t_int on (a relative
    target: the scale times the norm after update t_int)."""
    free = paper1(**SMALL, max_steps=100)
    held = Trainer([free.replace(clamp_start=10, clamp_scale=0.8)], "cpu")
    by_hand = Trainer([free], "cpu")
    names, target = by_hand.model.counted, None
    for t in range(1, 31):
        held.step()
        by_hand.step()
        if t >= 10:
            if target is None:
                target = 0.8 * norm(by_hand.batch.params, names)
            rescale_(by_hand.batch.params, names, target, torch.tensor([True]))
        for k in names:
            assert torch.equal(held.batch.params[k], by_hand.batch.params[k]), (t, k)
    assert torch.equal(held.batch.clamp.target, target)


def test_once_rescales_at_t_int_before_that_steps_update_then_lets_go():
    free = paper1(**SMALL, max_steps=100)
    once = Trainer([free.replace(clamp_mode="once", clamp_start=10, clamp_target=5.0)], "cpu")
    by_hand = Trainer([free.replace(clamp_mode="once")], "cpu")
    names = by_hand.model.counted
    for t in range(30):
        if t == 10:
            rescale_(by_hand.batch.params, names, torch.tensor([5.0], dtype=torch.float64), torch.tensor([True]))
        once.step()
        by_hand.step()
        for k in names:
            assert torch.equal(once.batch.params[k], by_hand.batch.params[k]), (t, k)
    assert float(norm(once.batch.params, names).detach()) != pytest.approx(5.0, rel=1e-3)  # free again


def test_a_fork_continues_exactly():
    """A forked arm that changes nothing is the straight free run, bit for bit; arms whose clamp starts
    at or after the fork are the straight clamped runs from the fork on."""
    free = paper1(**SMALL, max_steps=80, stop_at_grok=False)
    arms = [free.replace(fork_step=30), free.replace(fork_step=30, clamp_start=30, clamp_scale=1.1),
            free.replace(fork_step=30, clamp_start=45, clamp_target=7.0)]
    base = Trainer([arms[0].prefork()], "cpu")
    (pre,) = base.run(snapshot_at=30)
    assert pre.trajectory["step"][-1] == 30 and base.snapshot is not None
    forked = {r.key: r for r in Trainer.fork(base.snapshot, arms).run()}
    straight = train([a.replace(fork_step=0) for a in arms], "cpu")
    assert outcome(forked[arms[0].key]) == outcome(straight[0])
    for arm, run in zip(arms[1:], straight[1:]):
        f, g = forked[arm.key].trajectory, run.trajectory
        assert f["step"] == g["step"]
        later = f["step"].index(35)  # the clamp at 30 acts on the snapshot, after its evaluation at 30
        assert json.dumps({k: v[later:] for k, v in f.items()}) == json.dumps({k: v[later:] for k, v in g.items()})


def test_from_batch_continues_a_batch():
    configs = mixed_runs()[:2]
    trainer = Trainer(configs, "cpu")
    steps(trainer, 10)
    same = Trainer.from_batch(trainer.model, trainer.batch, trainer.step_count, trainer.last_evaluated)
    steps(same, 10)
    straight = Trainer(configs, "cpu")
    steps(straight, 20)
    assert same.step_count == 20 and isinstance(same.batch, RunBatch)
    for k, v in straight.batch.params.items():
        assert torch.equal(same.batch.params[k], v)


def test_minibatch_arms_of_one_prefork_run_draw_their_own_minibatches():
    """Arms forked from one pre-fork run each get their own copy of its minibatch stream (no stored
    run was a minibatch fork when this was fixed, so no record changed)."""
    enc = paper3(p=13, d_embed=8, d_hidden=16, n_heads=2, batch_size=16, max_steps=200, eval_schedule="every:10",
                 dtype="float64", stop_at_grok=False)
    arms = [enc.replace(fork_step=40, clamp_start=40, clamp_scale=s) for s in (1.0, 0.9)]
    base = Trainer([arms[0].prefork()], "cpu")
    list(base.run(snapshot_at=40))
    together = {r.key: r for r in Trainer.fork(base.snapshot, arms).run()}
    for arm in arms:
        (alone,) = Trainer.fork(base.snapshot, [arm]).run()
        assert together[arm.key].trajectory == alone.trajectory
