"""The MLP's fast training step (hand-written backward, the fused CPU kernels of
``grokkit.kernels`` or plain torch operations, float64 clamp norm) follows the trajectory of the
step it replaced: autograd through ``MLP.forward``, the unfused AdamW and the clamp as they were
written before (copied below as the reference), over 50 steps, for runs with different learning
rates, weight decays, temperatures and clamp targets, both losses, both decay orders, with and
without the LayerNorm, in float32 and float64, with the kernels on and off."""

from __future__ import annotations

import pytest
import torch

from grokkit.engine.protocols import paper1
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
    x, y = batch.data.train_x, batch.data.train_y
    losses = []
    for t in range(1, steps + 1):
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


TOL = {"float64": dict(rtol=1e-9, atol=1e-11), "float32": dict(rtol=2e-4, atol=1e-4)}


def check(configs: list, chunk: int | None = None, monkeypatch=None) -> None:
    if chunk is not None:
        monkeypatch.setattr(MLP, "_runs_per_chunk", staticmethod(lambda per_run, device: chunk))
    trainer = Trainer(configs, "cpu")
    want, want_losses = reference(trainer, STEPS)
    got_losses = fast(trainer, STEPS)
    tol = TOL[configs[0].dtype]
    torch.testing.assert_close(got_losses, want_losses, **tol)
    for k in want:
        torch.testing.assert_close(trainer.batch.params[k].detach(), want[k], **tol, msg=lambda s: f"{k}: {s}")


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

