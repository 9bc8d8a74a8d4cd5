"""The hand-written training steps (``loss_and_grads``: no autograd, the fused CPU kernels of
``grokkit.engine.kernels`` or plain torch operations, float64 clamp norm) follow the trajectory of
the step they replaced: autograd through the model's ``forward``, the unfused AdamW and the clamp
as they were written before (copied below as the reference), over 50 steps, for runs with different
learning rates, weight decays, temperatures and clamps (free and clamped runs in one batch), both
losses, in float32 and float64, with the kernels on and off: paper 1's MLP (both decay orders, with
and without its LayerNorm), paper 1's attention model with and without LayerNorm, and paper 3's
encoder (on minibatches)."""

from __future__ import annotations

import copy

import pytest
import torch

from grokkit.engine.clamp import norm
from grokkit.engine.protocols import paper1, paper3
from grokkit.engine.metrics import per_example_loss
from grokkit.engine.models import MLP
from grokkit.engine.trainer import Trainer

STEPS = 50
SMALL = dict(p=23, d_embed=16, d_hidden=32)


def _per_run(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (like.dim() - 1)))


def reference(trainer: Trainer, steps: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The step as it was: autograd, the unfused AdamW, the clamp's float64 norm by ``.double()``.

    Returns the final parameters and the per-run losses of every step ``[steps, N]``."""
    batch, model = trainer.batch, trainer.model
    cfg = batch.runs[0].config
    params = {k: v.detach().clone().requires_grad_() for k, v in batch.params.items()}
    m = {k: torch.zeros_like(v) for k, v in params.items()}
    v = {k: torch.zeros_like(w) for k, w in params.items()}
    lr, wd, b1, b2 = batch.opt.lr, batch.opt.weight_decay, cfg.beta1, cfg.beta2
    stream = copy.deepcopy(batch)  # the same examples each step (minibatches: a copy of the sampler)
    losses = []
    for t in range(1, steps + 1):
        x, y = stream.train_examples()
        z = model.forward(params, x) / batch.temperature.view(-1, 1, 1)
        per_run = per_example_loss(z, y, cfg.loss).mean(dim=1)
        grads = dict(zip(params, torch.autograd.grad(per_run.sum(), list(params.values()))))
        losses.append(per_run.detach())
        with torch.no_grad():
            for k, w in params.items():
                g, decay = grads[k], k in model.counted
                lr_k = _per_run(lr, w)
                if decay and cfg.decay_order == "before":
                    w.mul_(1 - lr_k * _per_run(wd, w))
                m[k].mul_(b1).add_(g, alpha=1 - b1)
                v[k].mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (v[k] / (1 - b2**t)).sqrt_().add_(cfg.eps)
                w.sub_(lr_k / (1 - b1**t) * m[k] / denom)
                if decay and cfg.decay_order == "after":
                    w.sub_(lr_k * _per_run(wd, w) * w)
            active = (batch.clamp.start >= 0) & (batch.clamp.start <= t)
            if bool(active.any()):
                names = model.counted
                current = sum(params[k].double().reshape(len(lr), -1).pow(2).sum(dim=1) for k in names).sqrt()
                factor = torch.where(active, batch.clamp.target / current, torch.ones_like(current))
                for k in names:
                    params[k].mul_(_per_run(factor.to(params[k].dtype), params[k]))
    return {k: w.detach() for k, w in params.items()}, torch.stack(losses)


def fast(trainer: Trainer, steps: int) -> torch.Tensor:
    """Train ``trainer`` for ``steps`` steps; the per-run losses of every step ``[steps, N]``."""
    losses = []
    step = trainer.model.loss_and_grads

    def recording(*args, **kwargs):
        per_run, grads = step(*args, **kwargs)
        losses.append(per_run.clone())
        return per_run, grads

    trainer.model.loss_and_grads = recording
    for _ in range(steps):
        trainer.step()
    return torch.stack(losses)


def runs(dtype: str, loss: str, order: str, layernorm: bool = False, **shape) -> list:
    base = paper1(**{**SMALL, **shape}, dtype=dtype, loss=loss, decay_order=order, layernorm=layernorm,
                  clamp_start=10, max_steps=10**4)
    return [
        base.replace(seed=0, lr=1e-2, weight_decay=1.0),  # free
        base.replace(seed=1, lr=3e-3, weight_decay=0.3, temperature=2.0, clamp_target=20.0),
        base.replace(seed=2, lr=5e-3, weight_decay=2.0, temperature=0.5, clamp_target=12.0),
        base.replace(seed=3, lr=1e-2, weight_decay=1.0, temperature=1.5),  # shares lr and wd with run 0
    ]


#: The other models, small: paper 1's attention model (with and without its LayerNorms) and paper 3's
#: encoder on minibatches of 24 drawn with replacement.
MODELS = {
    "attn": lambda **kw: paper1(model="attn", p=11, d_embed=16, d_hidden=32, n_heads=4, layernorm=True, **kw),
    "attn-noln": lambda **kw: paper1(model="attn", p=11, d_embed=16, d_hidden=32, n_heads=4, layernorm=False, **kw),
    "encoder": lambda **kw: paper3(p=13, d_embed=16, d_hidden=32, n_heads=4, batch_size=24, **kw),
}


def model_runs(kind: str, dtype: str, loss: str) -> list:
    """A free run, two clamped runs from step 10 (targets 0.9 and 1.1 times the initial weight norm),
    temperatures, learning rates and weight decays, for one of :data:`MODELS`."""
    base = MODELS[kind](dtype=dtype, loss=loss, clamp_start=10, max_steps=10**4)
    start = Trainer([base], "cpu")
    norm0 = float(norm(start.batch.params, start.model.counted).detach())
    # learning rates a few times the papers' (1e-3): larger ones make 50 float32 steps of the attention
    # model chaotic enough that rounding alone parts the trajectories by more than TOL
    return [
        base.replace(seed=0, lr=3e-3, weight_decay=1.0),  # free
        base.replace(seed=1, lr=1e-3, weight_decay=0.3, temperature=2.0, clamp_target=round(0.9 * norm0, 3)),
        base.replace(seed=2, lr=2e-3, weight_decay=2.0, temperature=0.5, clamp_target=round(1.1 * norm0, 3)),
        base.replace(seed=3, lr=3e-3, weight_decay=1.0, temperature=1.5),  # shares lr and wd with run 0
    ]


TOL = {"float64": dict(rtol=1e-9, atol=1e-11), "float32": dict(rtol=2e-4, atol=1e-4)}
#: Parameters whose gradient is zero in exact arithmetic, so that rounding noise alone moves them (Adam
#: turns noise far below its eps into updates of up to a tenth of lr): the encoder's key bias adds one
#: constant to all of a query's scores, which the softmax ignores (tests/engine/test_cuda.py says
#: more). Their distance to the reference is compared against the run's whole weight norm.
NULL_GRADIENT = ("bk",)
NULL_TOL = {"float64": 1e-8, "float32": 3e-3}


def check(configs: list, chunk: int | None = None, monkeypatch=None) -> None:
    if chunk is not None:
        monkeypatch.setattr(MLP, "_runs_per_chunk", staticmethod(lambda per_run, device: chunk))
    trainer = Trainer(configs, "cpu")
    assert trainer.hand_written_step
    want, want_losses = reference(trainer, STEPS)
    got_losses = fast(trainer, STEPS)
    tol = TOL[configs[0].dtype]
    torch.testing.assert_close(got_losses, want_losses, **tol)
    scale = torch.sqrt(sum(w.double().pow(2).flatten(1).sum(1) for w in want.values()))  # each run's norm
    for k in want:
        got = trainer.batch.params[k].detach()
        if k in NULL_GRADIENT:
            gap = (got - want[k]).double().flatten(1).norm(dim=1)
            assert bool((gap <= NULL_TOL[configs[0].dtype] * scale).all()), f"{k}: {gap} against norms {scale}"
            continue
        torch.testing.assert_close(got, want[k], **tol, msg=lambda s: f"{k}: {s}")


@pytest.fixture(params=["kernels on", "kernels off"])
def kernels_switch(request, monkeypatch):
    """Run the test with grokkit's fused CPU kernels on (where they build) and off."""
    monkeypatch.setenv("GROKKIT_KERNELS", "1" if request.param == "kernels on" else "0")
    return request.param


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("order", ["before", "after"])
def test_fast_step_follows_the_reference(dtype, loss, order, kernels_switch):
    check(runs(dtype, loss, order))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fast_step_with_layernorm(dtype, kernels_switch):
    check(runs(dtype, "ce", "before", layernorm=True))


@pytest.mark.parametrize("chunk", [1, 3])
def test_fast_step_in_chunks_of_runs(chunk, monkeypatch):
    check(runs("float64", "ce", "after"), chunk, monkeypatch)


def test_fast_step_at_the_benchmarks_size(kernels_switch):
    """Paper 1's MLP (p = 59: the logits are padded to 64 columns), several chunks of runs."""
    check(runs("float32", "ce", "before", p=59, d_embed=128, d_hidden=256)[:3])



@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_hand_written_steps_of_the_other_models_follow_the_reference(kind, dtype, loss, kernels_switch):
    check(model_runs(kind, dtype, loss))


@pytest.mark.parametrize("kind", list(MODELS))
def test_hand_written_steps_at_odd_sizes(kind, kernels_switch):
    """Widths that are no whole number of vectors (d = 12, hidden 20: the kernels' scalar tails), an
    odd number of examples (pieces of unequal sizes) and decay after the Adam step."""
    extra = dict(batch_size=23) if kind == "encoder" else dict(train_frac=0.5)
    base = MODELS[kind](dtype="float32", loss="ce", decay_order="after", clamp_start=10, max_steps=10**4)
    base = base.replace(d_embed=12, d_hidden=20, n_heads=3, **extra)
    start = Trainer([base], "cpu")
    target = round(0.9 * float(norm(start.batch.params, start.model.counted).detach()), 3)
    check([base.replace(seed=0, lr=3e-3), base.replace(seed=1, lr=1e-3, clamp_target=target, temperature=1.3)])
