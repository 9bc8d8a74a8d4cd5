"""The batched trainer: batched == alone, the clamp holds, arms are matched, runs stop and diverge right."""

import pytest
import torch

from grokkit.engine.protocols import paper1, paper3
from grokkit.engine.optim import SGD, AdamW
from grokkit.engine.trainer import Trainer, train

SMALL = dict(p=13, d_embed=8, d_hidden=16, train_frac=0.5, eval_schedule="every:1")


def arms(dtype="float64", max_steps=60):
    """Three runs with different seeds and per-run hyperparameters, one unclamped."""
    base = paper1(**SMALL, dtype=dtype, max_steps=max_steps, clamp_start=20)
    return [
        base.replace(seed=0, lr=1e-2, weight_decay=1.0),
        base.replace(seed=1, lr=3e-2, weight_decay=0.5, clamp_target=9.0, temperature=1.5),
        base.replace(seed=2, lr=5e-3, weight_decay=2.0, clamp_target=7.0),
    ]


def step(trainer, n=1):
    for _ in range(n):
        trainer.step()


def assert_same_weights(batched, i, alone, **tol):
    """Run ``i`` of the trainer ``batched`` has the weights of the one-run trainer ``alone``."""
    for k, w in batched.batch.params.items():
        torch.testing.assert_close(w[i], alone.batch.params[k][0], **tol)


def test_batched_run_equals_runs_trained_alone_step_by_step():
    configs = arms()
    batched = Trainer(configs, "cpu")
    alone = [Trainer([c], "cpu") for c in configs]
    for _ in range(40):  # crosses t_int = 20: clamp on for two of the runs
        step(batched)
        for i, t in enumerate(alone):
            step(t)
            assert_same_weights(batched, i, t, rtol=1e-10, atol=1e-12)


def test_batched_records_equal_records_alone():
    configs = [c.replace(dtype="float32", max_steps=40) for c in arms()]
    batched = train(configs, "cpu")
    for cfg, rb in zip(configs, batched):
        (ra,) = train([cfg], "cpu")
        assert rb.summary["status"] == ra.summary["status"]
        for metric in ("train_loss", "test_loss", "norm", "test_acc"):
            torch.testing.assert_close(torch.tensor(rb.trajectory[metric]), torch.tensor(ra.trajectory[metric]),
                                       rtol=1e-5, atol=1e-6)


def test_batched_minibatch_runs_equal_runs_alone():
    base = paper3(p=13, d_embed=8, d_hidden=16, n_heads=2, batch_size=16, max_steps=15, eval_schedule="every:5")
    configs = [base.replace(seed=0), base.replace(seed=1, lr=3e-3)]
    batched = Trainer(configs, "cpu")
    alone = [Trainer([c], "cpu") for c in configs]
    step(batched, 15)
    for i, t in enumerate(alone):
        step(t, 15)
        assert_same_weights(batched, i, t, rtol=1e-5, atol=1e-6)


def test_clamp_holds_each_runs_norm_at_its_own_target_float32():
    base = paper1(**SMALL, max_steps=200, clamp_start=10)
    targets = [6.0, 9.0, 13.5]
    configs = [base.replace(seed=s, clamp_target=t, lr=1e-2 * (s + 1)) for s, t in enumerate(targets)]
    trainer = Trainer(configs, "cpu")
    for s in range(60):
        step(trainer)
        if trainer.step_count >= 10:
            params = trainer.batch.params
            norms = torch.sqrt(sum(params[k].detach().double().pow(2).sum(dim=(1, 2)) for k in ("E", "W1", "W2")))
            rel = (norms / torch.tensor(targets, dtype=torch.float64) - 1).abs()
            assert float(rel.max()) <= 1e-5


def test_clamp_on_one_group_and_relative_target():
    base = paper1(**SMALL, max_steps=100, clamp_start=10, clamp_group="unembed")
    trainer = Trainer([base.replace(clamp_scale=1.2)], "cpu")
    free = Trainer([paper1(**SMALL, max_steps=100)], "cpu")  # its matched control: same init and split
    step(trainer, 9)
    before = float(trainer.batch.params["W2"].detach().norm())
    step(trainer)  # the 10th update, then the clamp fixes its target from the norm it finds
    step(free, 10)  # the same 10 updates, unclamped: the norm the clamp found
    target = float(trainer.batch.clamp.target[0])
    assert target == pytest.approx(1.2 * float(free.batch.params["W2"].detach().double().norm()), rel=1e-5)
    step(trainer, 30)
    assert float(trainer.batch.params["W2"].detach().double().norm()) == pytest.approx(target, rel=1e-6)
    assert before != pytest.approx(target)


def test_one_shot_rescale_then_free():
    base = paper1(**SMALL, max_steps=100, clamp_start=10, clamp_mode="once", clamp_target=5.0)
    trainer = Trainer([base], "cpu")
    step(trainer, 10)
    params = trainer.batch.params
    trainer.batch.clamp.apply(params, 10, exact=True)  # what the 11th step does first
    counted = lambda: float(torch.sqrt(sum(params[k].detach().double().pow(2).sum() for k in ("E", "W1", "W2"))))
    assert counted() == pytest.approx(5.0, rel=1e-6)
    step(trainer, 20)
    assert counted() != pytest.approx(5.0, rel=1e-3)  # free again


def test_clamped_arm_and_free_control_share_init_split_and_prefix():
    free = paper1(**SMALL, max_steps=40, clamp_start=20)
    arm = free.replace(clamp_target=6.0)
    a, b = Trainer([free], "cpu"), Trainer([arm], "cpu")
    assert torch.equal(a.batch.data.train_x, b.batch.data.train_x)
    for k in a.batch.params:
        assert torch.equal(a.batch.params[k], b.batch.params[k])
    step(a, 19)
    step(b, 19)  # the clamp acts after update 20: until then the runs are identical
    for k in a.batch.params:
        assert torch.equal(a.batch.params[k], b.batch.params[k])
    step(a)
    step(b)
    assert not torch.equal(a.batch.params["W1"], b.batch.params["W1"])


def test_fork_continues_arms_from_one_state():
    free = paper1(**SMALL, max_steps=80, stop_at_grok=False)
    arms_ = [free.replace(fork_step=30, clamp_start=30, clamp_scale=s) for s in (1.0, 1.15)]
    base = Trainer([a.prefork() for a in arms_[:1]], "cpu")
    list(base.run(snapshot_at=30))
    forked = {r.config.clamp_scale: r for r in Trainer.fork(base.snapshot, arms_).run()}
    straight = {r.config.clamp_scale: r for r in train([a.replace(fork_step=0) for a in arms_], "cpu")}
    for s in (1.0, 1.15):
        f, g = forked[s].trajectory, straight[s].trajectory
        assert f["step"] == g["step"]
        after = [i for i, st in enumerate(f["step"]) if st > 30]
        for metric in ("train_loss", "norm", "test_acc"):
            torch.testing.assert_close(torch.tensor([f[metric][i] for i in after]),
                                       torch.tensor([g[metric][i] for i in after]), rtol=1e-5, atol=1e-6)


def test_runs_stop_at_grok_plus_extra_or_at_budget():
    base = paper1(p=41, d_embed=32, d_hidden=64, train_frac=0.5, lr=1e-2, eval_schedule="every:10", seed=2)
    results = train([base.replace(max_steps=3000, extra_steps=50), base.replace(seed=1, max_steps=30)], "cpu")
    grokked, short = results
    from grokkit.runs.store import SUMMARY_FIELDS

    assert tuple(grokked.summary) == SUMMARY_FIELDS
    assert grokked.summary["status"] == "grokked"
    assert grokked.summary["final_step"] == grokked.summary["t_grok"] + 50
    assert grokked.summary["t_mem"] <= grokked.summary["t_grok"]
    assert grokked.summary["norm_grok"] == pytest.approx(grokked.trajectory["norm"][grokked.trajectory["step"].index(grokked.summary["t_grok"])])
    assert short.summary["status"] == "censored" and short.summary["t_grok"] is None
    assert short.summary["final_step"] == 30


def test_nan_producing_config_ends_diverged_never_grokked():
    base = paper1(**SMALL, max_steps=50)
    results = train([base.replace(lr=1e30), base.replace(seed=1)], "cpu")  # weights overflow to inf, then NaN
    bad, good = results
    assert bad.summary["status"] == "diverged"
    assert bad.summary["t_grok"] is None and bad.summary["diverged_at"] is not None
    assert good.summary["status"] != "diverged"


def test_optimizers_match_torch():
    torch.manual_seed(0)
    w0 = torch.randn(1, 4, 3, dtype=torch.float64)
    grads = [torch.randn(1, 4, 3, dtype=torch.float64) for _ in range(5)]
    lr, wd = torch.tensor([0.1], dtype=torch.float64), torch.tensor([0.3], dtype=torch.float64)
    ours = {"w": w0.clone()}
    ref = w0.clone().requires_grad_()
    opt = AdamW(ours, ("w",), lr, wd, order="before")
    topt = torch.optim.AdamW([ref], lr=0.1, weight_decay=0.3)
    for g in grads:
        opt.step(ours, {"w": g})
        ref.grad = g.clone()
        topt.step()
        torch.testing.assert_close(ours["w"], ref.detach())
    ours = {"w": w0.clone()}
    ref = w0.clone().requires_grad_()
    sgd = SGD(ours, ("w",), lr, wd, momentum=torch.tensor([0.9], dtype=torch.float64))
    tsgd = torch.optim.SGD([ref], lr=0.1, weight_decay=0.3, momentum=0.9)
    for g in grads:
        sgd.step(ours, {"w": g})
        ref.grad = g.clone()
        tsgd.step()
        torch.testing.assert_close(ours["w"], ref.detach())


def test_batched_sgd_runs_with_different_momenta_equal_runs_alone():
    base = paper1(**SMALL, optimizer="sgd", lr=0.05, weight_decay=1e-3, max_steps=20, dtype="float64")
    configs = [base.replace(seed=0, momentum=0.0), base.replace(seed=1, momentum=0.9), base.replace(seed=2, momentum=0.5)]
    assert len({c.batch_key() for c in configs}) == 1  # one batch, three momenta
    batched = Trainer(configs, "cpu")
    alone = [Trainer([c], "cpu") for c in configs]
    step(batched, 12)
    for i, t in enumerate(alone):
        step(t, 12)
        assert_same_weights(batched, i, t, rtol=1e-10, atol=1e-12)


def test_adamw_decay_after_the_step():
    w = {"w": torch.ones(1, 2, dtype=torch.float64)}
    g = {"w": torch.full((1, 2), 0.5, dtype=torch.float64)}
    opt = AdamW(w, ("w",), torch.tensor([0.1], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64), order="after")
    opt.step(w, g)
    adam = 1 - 0.1 * 1.0 / (1 + 1e-8)  # first bias-corrected Adam step is lr * sign(g)
    assert float(w["w"][0, 0]) == pytest.approx(adam - 0.1 * adam)


def test_mixed_batch_keys_are_refused():
    with pytest.raises(ValueError, match="configs"):
        Trainer([paper1(p=13), paper1(p=17)], "cpu")


def test_norm_trace_is_recorded_every_k_steps_and_matches_the_evaluated_norm(tmp_path):
    from grokkit import RunStore
    from grokkit import sweep

    cfgs = [paper1(**{**SMALL, "eval_schedule": "every:50", "seed": s, "max_steps": 100, "stop_at_grok": False, "trace_every": 5}) for s in range(2)]
    untraced = cfgs[0].replace(trace_every=0)
    assert untraced.key != cfgs[0].key and "trace_every" not in untraced.canonical()
    sweep(cfgs, store=tmp_path, progress=False)
    store = RunStore(tmp_path)
    rec = store.load(cfgs[0].key)
    assert rec["trace"]["step"] == list(range(0, 101, 5))
    traj = dict(zip(rec["trajectory"]["step"], rec["trajectory"]["sq_norm_all"]))
    trace = dict(zip(rec["trace"]["step"], rec["trace"]["sq_norm_all"]))
    for step, value in traj.items():  # the trace and the evaluation read the same weights
        assert trace[step] == pytest.approx(value, rel=1e-5)
    long = store.traces([c.key for c in cfgs])
    assert set(long.columns) >= {"key", "step", "norm", "sq_norm_all"} and len(long) == 2 * 21
    with pytest.raises(ValueError, match="trace_every"):
        paper1(trace_every=-1)


def test_the_mlp_features_group_clamps_e_and_w1_together():
    """Chapter 6's deciding clamp: only the weights before the unembedding (E and W1) are held."""
    import math

    from grokkit import paper1
    from grokkit.engine.trainer import train

    cfg = paper1(p=23, d_embed=16, d_hidden=32, max_steps=80, eval_schedule="every:20", clamp_group="features",
                 clamp_target=6.0, clamp_start=20, layernorm=True)
    t = train([cfg], "cpu")[0].trajectory
    after = [i for i, s in enumerate(t["step"]) if s >= 20]
    for i in after:
        assert t["norm_features"][i] == pytest.approx(6.0, rel=1e-5)
        assert math.hypot(t["norm_embed"][i], t["norm_hidden"][i]) == pytest.approx(6.0, rel=1e-5)
    assert len({round(t["norm_unembed"][i], 6) for i in after}) > 1  # W2 is free
