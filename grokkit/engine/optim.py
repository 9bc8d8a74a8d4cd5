"""Batched optimizers with per-run hyperparameters.

Both optimizers update a dict of parameters that carry a leading run axis ``N``;
the learning rate and weight decay are ``[N]`` tensors, so every run of a batch can
have its own. Only the ``decayed`` parameters (the model's counted weights) receive
weight decay.

* :class:`AdamW`: bias-corrected Adam with *decoupled* weight decay
  ``w <- w (1 - lr * lambda)`` applied before the Adam step (paper 1, and
  ``torch.optim.AdamW``) or ``w <- w - lr * lambda * w`` after it (paper 2).
* :class:`SGD`: plain SGD with *coupled* L2 (the decay enters the gradient,
  ``g <- g + lambda * w``, as in ``torch.optim.SGD(weight_decay=...)``), with
  optional heavy-ball momentum.
"""

from __future__ import annotations

import torch

from . import kernels
from .models import Weights


def _per_run(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape an ``[N]`` vector to broadcast against a parameter ``[N, ...]``."""
    return v.view(-1, *([1] * (like.dim() - 1)))


class Optimizer:
    """Base class: holds per-run hyperparameters and state tensors with a leading run axis."""

    state_names: tuple[str, ...] = ()

    def __init__(self, params: Weights, decayed: tuple[str, ...], lr: torch.Tensor, weight_decay: torch.Tensor) -> None:
        self.decayed = frozenset(decayed)
        self.lr = lr
        self.weight_decay = weight_decay
        self.steps = 0  # updates taken (shared by the batch)
        self.state: dict[str, Weights] = {s: {k: torch.zeros_like(v) for k, v in params.items()} for s in self.state_names}

    @torch.no_grad()
    def step(self, params: Weights, grads: Weights) -> None:
        raise NotImplementedError

    def select(self, idx: torch.Tensor) -> None:
        """Keep the runs at positions ``idx`` (retire the others)."""
        self.lr = self.lr.index_select(0, idx)
        self.weight_decay = self.weight_decay.index_select(0, idx)
        for bufs in self.state.values():
            for k in bufs:
                bufs[k] = bufs[k].index_select(0, idx)


class AdamW(Optimizer):
    """Bias-corrected AdamW with decoupled weight decay (``order`` "before" or "after")."""

    state_names = ("m", "v")

    def __init__(self, params: Weights, decayed: tuple[str, ...], lr: torch.Tensor, weight_decay: torch.Tensor,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, order: str = "before") -> None:
        super().__init__(params, decayed, lr, weight_decay)
        if order not in ("before", "after"):
            raise ValueError(f"decay_order: must be 'before' or 'after', got {order!r}")
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.order = order

    @torch.no_grad()
    def step(self, params: Weights, grads: Weights) -> None:
        self.steps += 1
        t = self.steps
        bc1 = 1 - self.beta1**t
        bc2 = 1 - self.beta2**t
        for k, w in params.items():
            g = grads[k]
            decay = k in self.decayed
            m, v = self.state["m"][k], self.state["v"][k]
            fused = kernels.for_tensors(w, g, m, v, self.lr, self.weight_decay)
            if fused is not None:
                fused.adamw_(w.detach(), g, m, v, self.lr, self.weight_decay, self.order if decay else "none",
                             self.beta1, self.beta2, self.eps, bc1, bc2)  # all below, in one pass
                continue
            lr = _per_run(self.lr, w)
            if decay and self.order == "before":
                w.mul_(1 - lr * _per_run(self.weight_decay, w))
            m.mul_(self.beta1).add_(g, alpha=1 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            denom = (v / bc2).sqrt_().add_(self.eps)
            w.sub_(lr / bc1 * m / denom)
            if decay and self.order == "after":
                w.sub_(lr * _per_run(self.weight_decay, w) * w)


class SGD(Optimizer):
    """SGD with coupled L2 weight decay and optional heavy-ball momentum (``buf <- mu buf + g``,
    as ``torch.optim.SGD``); ``momentum`` is an ``[N]`` tensor, one value per run."""

    state_names = ("buf",)

    def __init__(self, params: Weights, decayed: tuple[str, ...], lr: torch.Tensor, weight_decay: torch.Tensor,
                 momentum: torch.Tensor) -> None:
        super().__init__(params, decayed, lr, weight_decay)
        self.momentum = momentum

    @torch.no_grad()
    def step(self, params: Weights, grads: Weights) -> None:
        self.steps += 1
        for k, w in params.items():
            g = grads[k]
            if k in self.decayed:
                g = g + _per_run(self.weight_decay, w) * w
            buf = self.state["buf"][k]
            if self.steps > 1:  # with momentum 0 this is buf = g
                buf.mul_(_per_run(self.momentum, w)).add_(g)
            else:
                buf.copy_(g)
            w.sub_(_per_run(self.lr, w) * buf)

    def select(self, idx: torch.Tensor) -> None:
        super().select(idx)
        self.momentum = self.momentum.index_select(0, idx)
