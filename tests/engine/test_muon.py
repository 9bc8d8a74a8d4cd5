"""Batched Muon: torch.optim.Muon on the per-run matrices, grokkit's AdamW on the rest.

A single run of :class:`grokkit.engine.optim.Muon` takes the steps ``torch.optim.Muon`` (on the
matrices) and ``torch.optim.AdamW`` (on the other parameters) take, to float tolerance; runs in a
batch, selected or forked, take the steps they take alone; whole runs train and are stored.
"""

from __future__ import annotations

import math

import pytest
import torch

from grokkit import RunStore, sweep
from grokkit.engine.batch import make_optimizer
from grokkit.engine.models import build_model
from grokkit.engine.optim import NS_COEFFICIENTS, NS_EPS, Muon, matrices, newton_schulz
from grokkit.engine.protocols import paper1, paper3
from grokkit.engine.trainer import Trainer, train

DTYPES = {"float32": torch.float32, "float64": torch.float64}
#: Tolerances of the comparisons with torch (relative, absolute), per dtype.
TOL = {"float32": dict(rtol=1e-6, atol=1e-7), "float64": dict(rtol=1e-12, atol=1e-14)}
TINY = dict(p=11, d_embed=8, d_hidden=16, train_frac=0.5, eval_schedule="every:1")


def muon_cfg(**overrides):
    """Paper 1's MLP protocol under Muon, at tiny widths."""
    return paper1(**{**TINY, "optimizer": "muon", "lr": 2e-2, "weight_decay": 0.5, "momentum": 0.95,
                     **overrides})


class TorchPair:
    """The reference: ``torch.optim.Muon`` on the matrices and ``torch.optim.AdamW`` on the other
    parameters (decayed ones and not, in groups), on one run's weights without the run axis."""

    def __init__(self, weights: dict[str, torch.Tensor], decayed: tuple[str, ...], lr: float, wd: float,
                 momentum: float, nesterov: bool = True) -> None:
        self.params = {k: torch.nn.Parameter(w[0].clone()) for k, w in weights.items()}
        mats = [p for p in self.params.values() if p.ndim == 2]
        assert all(k in decayed for k, p in self.params.items() if p.ndim == 2)  # every matrix is counted
        rest = [(k, p) for k, p in self.params.items() if p.ndim != 2]
        groups = [{"params": [p for k, p in rest if k in decayed], "weight_decay": wd},
                  {"params": [p for k, p in rest if k not in decayed], "weight_decay": 0.0}]
        self.opts = [torch.optim.Muon(mats, lr=lr, weight_decay=wd, momentum=momentum, nesterov=nesterov)]
        if rest:
            self.opts.append(torch.optim.AdamW([g for g in groups if g["params"]], lr=lr))

    def step(self, grads: dict[str, torch.Tensor]) -> None:
        for k, p in self.params.items():
            p.grad = grads[k][0].clone()
        for opt in self.opts:
            opt.step()


def assert_matches(ours: dict[str, torch.Tensor], ref: TorchPair, dtype: str) -> None:
    """Run 0 of ``ours`` equals the reference's weights to the dtype's tolerance."""
    for k, w in ours.items():
        torch.testing.assert_close(w[0].detach(), ref.params[k].detach(), **TOL[dtype], msg=lambda m: f"{k}: {m}")


def per_run(values, dtype):
    """A per-run hyperparameter tensor."""
    return torch.tensor(values, dtype=DTYPES[dtype])


# ------------------------------------------------------------------ the update
@pytest.mark.parametrize("shape", [(1, 7, 4), (512, 16, 16), (512, 16, 11), (64, 3, 128), (512, 17, 17), (64, 17, 40),
                                   (8, 59, 128), (4, 256, 59)])
def test_newton_schulz_is_torchs_for_every_run_bit_for_bit(shape):
    """Against torch's own (private) Newton-Schulz function, with its constants. Small matrices
    (16 x 16 and below) would differ in a few elements if they were batched (PER_RUN_SIDE)."""
    from torch.optim._muon import DEFAULT_A, DEFAULT_B, DEFAULT_C, DEFAULT_NS_STEPS, EPS, _zeropower_via_newtonschulz

    assert NS_COEFFICIENTS == (DEFAULT_A, DEFAULT_B, DEFAULT_C) and NS_EPS == EPS
    gen = torch.Generator().manual_seed(0)
    g = torch.randn(*shape, generator=gen, dtype=torch.float64) * torch.rand(shape[0], 1, 1, generator=gen)
    ours = newton_schulz(g)
    assert ours.shape == g.shape and ours.dtype == torch.bfloat16
    for i in range(shape[0]):
        ref = _zeropower_via_newtonschulz(g[i], NS_COEFFICIENTS, DEFAULT_NS_STEPS, NS_EPS)
        assert torch.equal(ours[i], ref)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("nesterov", [True, False])
def test_one_run_equals_torch_muon_and_adamw(dtype, nesterov):
    """A tall, a wide and a square matrix, a decayed vector and an undecayed one."""
    g = torch.Generator().manual_seed(1)
    shapes = {"tall": (9, 4), "wide": (3, 7), "square": (5, 5), "gain": (5,), "bias": (4,)}
    weights = {k: torch.randn(1, *s, generator=g, dtype=torch.float64).to(DTYPES[dtype]) for k, s in shapes.items()}
    decayed = ("tall", "wide", "square", "gain")
    ref = TorchPair(weights, decayed, lr=0.03, wd=0.7, momentum=0.9, nesterov=nesterov)
    opt = Muon(weights, decayed, per_run([0.03], dtype), per_run([0.7], dtype), per_run([0.9], "float64"),
               nesterov=nesterov)
    assert opt.matrices == {"tall", "wide", "square"}
    for _ in range(6):
        grads = {k: torch.randn(w.shape, generator=g, dtype=torch.float64).to(w.dtype) for k, w in weights.items()}
        opt.step(weights, grads)
        ref.step(grads)
        assert_matches(weights, ref, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("widths", [{}, dict(p=59, d_embed=128, d_hidden=256)], ids=["tiny", "paper1"])
def test_mlp_steps_equal_torch_muon_and_adamw(dtype, widths):
    """Paper 1's MLP (E, W1, W2 by Muon; the undecayed biases b1, b2 by AdamW), gradients of training.
    At paper 1's widths a last-bit difference in the momentum buffer would show (bfloat16 iteration)."""
    cfg = muon_cfg(dtype=dtype, max_steps=100, **widths)
    trainer = Trainer([cfg], "cpu")
    b = trainer.batch
    assert isinstance(b.opt, Muon) and b.opt.matrices == {"E", "W1", "W2"}
    ref = TorchPair(b.params, trainer.model.counted, cfg.lr, cfg.weight_decay, cfg.momentum)
    for _ in range(20):
        x, y = b.train_examples()
        _, grads = trainer._loss_and_grads(x, y)
        grads = {k: v.clone() for k, v in grads.items()}
        b.opt.step(b.params, grads)
        ref.step(grads)
        assert_matches(b.params, ref, dtype)


def test_learning_rate_scale_and_decay_of_one_matrix():
    """One step without momentum: w (1 - lr wd) - lr sqrt(max(1, a / b)) NS(g)."""
    w0 = torch.randn(1, 8, 2, dtype=torch.float64)
    g = torch.randn(1, 8, 2, dtype=torch.float64)
    w = {"W": w0.clone()}
    lr, wd, mu = 0.1, 0.2, 0.0  # momentum 0: the update is the gradient itself
    Muon(w, ("W",), per_run([lr], "float64"), per_run([wd], "float64"), per_run([mu], "float64")).step(w, {"W": g})
    expected = w0 * (1 - lr * wd) - lr * math.sqrt(8 / 2) * newton_schulz(g).double()
    torch.testing.assert_close(w["W"], expected, rtol=0, atol=1e-15)


# ------------------------------------------------------------------ batches, select, fork
def three_arms():
    """Three runs of one batch with their own seeds, learning rates, weight decays and momenta."""
    base = muon_cfg(dtype="float64", max_steps=100)
    return [base.replace(seed=0), base.replace(seed=1, lr=5e-3, weight_decay=1.0, momentum=0.5),
            base.replace(seed=2, lr=3e-2, weight_decay=0.1, momentum=0.0)]


def step(trainer, n):
    for _ in range(n):
        trainer.step()


def assert_same_run(batched, i, alone):
    """Run ``i`` of ``batched`` has the weights and optimizer state of the one-run trainer ``alone``."""
    for k, w in batched.batch.params.items():
        torch.testing.assert_close(w[i], alone.batch.params[k][0], rtol=1e-10, atol=1e-12)
    for name, bufs in batched.batch.opt.state.items():
        for k, v in bufs.items():
            torch.testing.assert_close(v[i], alone.batch.opt.state[name][k][0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("model", ["mlp", "attn"])
def test_batch_of_three_equals_the_runs_alone(model):
    """Long enough for a difference in one bfloat16 rounding to show (about 100 steps here)."""
    configs = [c.replace(model=model, n_heads=2) for c in three_arms()]
    assert len({c.batch_key() for c in configs}) == 1
    batched = Trainer(configs, "cpu")
    alone = [Trainer([c], "cpu") for c in configs]
    step(batched, 150)
    for i, t in enumerate(alone):
        step(t, 150)
        assert_same_run(batched, i, t)


def test_select_and_fork_keep_runs_in_step():
    configs = three_arms()
    batched = Trainer(configs, "cpu")
    alone = [Trainer([c], "cpu") for c in configs]
    step(batched, 4)
    forked = Trainer.from_batch(batched.model, batched.batch.fork([2, 0, 2], [configs[2], configs[0], configs[2]],
                                                                  batched.model), 4)
    batched.batch.select([2, 0])  # run 1 retires
    step(batched, 6)
    step(forked, 6)
    for t in alone:
        step(t, 10)
    assert_same_run(batched, 0, alone[2])
    assert_same_run(batched, 1, alone[0])
    for i, j in enumerate([2, 0, 2]):
        assert_same_run(forked, i, alone[j])


def test_optimizer_state_and_hyperparameters_per_run():
    configs = three_arms()
    model = build_model(configs[0])
    params = {k: v.unsqueeze(0).expand(3, *v.shape).clone() for k, v in model.init_params(torch.Generator()).items()}
    opt = make_optimizer(configs, model, params)
    assert isinstance(opt, Muon)
    assert set(opt.state["buf"]) == {"E", "W1", "W2"} and set(opt.state["m"]) == set(opt.state["v"]) == {"b1", "b2"}
    assert opt.momentum.tolist() == [0.95, 0.5, 0.0] and opt.lr.tolist() == [2e-2, 5e-3, 3e-2]
    assert matrices(params) == ("E", "W1", "W2")


# ------------------------------------------------------------------ configs and whole runs
def test_muon_runs_have_keys_of_their_own():
    muon = muon_cfg()
    adamw, sgd = muon.replace(optimizer="adamw"), muon.replace(optimizer="sgd")
    assert len({muon.key, adamw.key, sgd.key}) == 3
    canonical = muon.canonical()
    assert {"momentum", "beta1", "beta2", "eps"} <= set(canonical) and "decay_order" not in canonical
    assert muon.replace(momentum=0.9).key != muon.key and muon.replace(beta2=0.98).key != muon.key
    assert muon.replace(decay_order="after").key == muon.key  # Muon decays before its step
    assert muon.replace(momentum=0.9).batch_key() == muon.batch_key()  # momentum may differ per run
    assert muon.base_seed == adamw.base_seed  # the same init and split


@pytest.mark.parametrize("model", ["mlp", "attn", "encoder"])
def test_whole_runs_train_and_are_stored(model, tmp_path):
    if model == "encoder":
        cfg = paper3(p=11, d_embed=8, d_hidden=16, n_heads=2, batch_size=32, optimizer="muon", momentum=0.95,
                     lr=1e-2, max_steps=60, eval_schedule="every:20")
    else:
        cfg = muon_cfg(model=model, d_embed=8, d_hidden=16, n_heads=2, max_steps=60, eval_schedule="every:20")
    cfgs = [cfg, cfg.replace(seed=1, lr=5e-3, momentum=0.9)]
    results = train(cfgs, "cpu")
    for r in results:
        assert r.summary["status"] != "diverged" and r.summary["final_step"] == 60
        for name in ("norm", "sq_norm_all", "train_loss"):
            assert all(math.isfinite(v) for v in r.trajectory[name]), name
    table = sweep(cfgs, store=tmp_path, progress=False)
    assert len(table) == 2 and set(table["optimizer"]) == {"muon"}
    store = RunStore(tmp_path)
    assert sorted(store.keys()) == sorted(c.key for c in cfgs)
    record = store.load(cfgs[0].key)
    assert record["trajectory"]["norm"] == pytest.approx(results[0].trajectory["norm"], rel=1e-5)
