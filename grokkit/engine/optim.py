"""Batched optimizers with per-run hyperparameters.

Every optimizer updates a dict of parameters that carry a leading run axis ``N``;
the learning rate and weight decay are ``[N]`` tensors, so every run of a batch can
have its own. Only the ``decayed`` parameters (the model's counted weights) receive
weight decay.

* :class:`AdamW`: bias-corrected Adam with *decoupled* weight decay
  ``w <- w (1 - lr * lambda)`` applied before the Adam step (paper 1, and
  ``torch.optim.AdamW``) or ``w <- w - lr * lambda * w`` after it (paper 2).
* :class:`SGD`: plain SGD with *coupled* L2 (the decay enters the gradient,
  ``g <- g + lambda * w``, as in ``torch.optim.SGD(weight_decay=...)``), with
  optional heavy-ball momentum.
* :class:`Muon`: ``torch.optim.Muon`` (Newton-Schulz orthogonalized Nesterov momentum) on
  the parameters that are 2-D matrices per run, paired with AdamW on the others.
"""

from __future__ import annotations

import math

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


def _adamw_update(w: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor, lr: torch.Tensor,
                  weight_decay: torch.Tensor, order: str, betas: tuple[float, float], eps: float,
                  bc1: float, bc2: float) -> None:
    """One AdamW update of the parameter ``w`` (in place, with its moments ``m`` and ``v``).

    ``lr`` and ``weight_decay`` are ``[N]``; ``order`` is "before", "after" or "none" (not
    decayed); ``bc1``, ``bc2`` are this step's bias corrections. A fused CPU kernel does it
    in one pass where it applies (:mod:`grokkit.engine.kernels`).
    """
    beta1, beta2 = betas
    fused = kernels.for_tensors(w, g, m, v, lr, weight_decay)
    if fused is not None:
        fused.adamw_(w.detach(), g, m, v, lr, weight_decay, order, beta1, beta2, eps, bc1, bc2)
        return
    lr = _per_run(lr, w)
    if order == "before":
        w.mul_(1 - lr * _per_run(weight_decay, w))
    m.mul_(beta1).add_(g, alpha=1 - beta1)
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    denom = (v / bc2).sqrt_().add_(eps)
    w.sub_(lr / bc1 * m / denom)
    if order == "after":
        w.sub_(lr * _per_run(weight_decay, w) * w)


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
        bc1, bc2 = 1 - self.beta1**self.steps, 1 - self.beta2**self.steps
        for k, w in params.items():
            _adamw_update(w, grads[k], self.state["m"][k], self.state["v"][k], self.lr, self.weight_decay,
                          self.order if k in self.decayed else "none", (self.beta1, self.beta2), self.eps, bc1, bc2)


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


# torch.optim.Muon's constants (Keller Jordan's Muon): the quintic Newton-Schulz coefficients
# and the floor of the norm that scales the update before the iteration
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_EPS = 1e-7
#: On the CPU, matrices whose smaller side is at most this are orthogonalized run by run. A
#: bfloat16 product with ``m k n <= 16**3`` takes another kernel in ``mm`` than in ``bmm`` (oneDNN
#: takes only larger products, and ``bmm`` counts the whole batch), and the two round a few
#: elements in 10^5 differently: batched, such a run would drift from the same run alone and
#: from ``torch.optim.Muon``. Every product of the iteration on a matrix whose smaller side
#: exceeds 16 is larger, and ``bmm`` then rounds as ``mm`` does (measured with torch 2.13 on an
#: AVX-512 CPU; tests/engine/test_muon.py checks both sides of the bound).
PER_RUN_SIDE = 16


def matrices(params: Weights) -> tuple[str, ...]:
    """The parameters that are 2-D matrices per run (``[N, a, b]``): the ones Muon orthogonalizes."""
    return tuple(k for k, w in params.items() if w.dim() == 3)


def newton_schulz(update: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """``torch.optim.Muon``'s orthogonalization of each run's matrix of ``update`` (``[N, a, b]``).

    As torch computes it, in bfloat16: each matrix is divided by its Frobenius norm (at least
    :data:`NS_EPS`), taken as ``b x a`` when it is tall (``a > b``), and put through ``steps``
    quintic iterations ``X <- a X + (b A + c A A) X`` with ``A = X X^T``. Returns ``[N, a, b]``
    in bfloat16. The runs' matrices go through batched products, except small ones on the CPU
    (:data:`PER_RUN_SIDE`); on the CPU every run's matrix equals, bit for bit, what torch's
    single-matrix ``_zeropower_via_newtonschulz`` returns, whatever the batch.
    """
    if update.device.type == "cpu" and min(update.shape[-2:]) <= PER_RUN_SIDE:
        return torch.stack([_orthogonalize(u, steps) for u in update])
    return _orthogonalize(update, steps)


def _orthogonalize(update: torch.Tensor, steps: int) -> torch.Tensor:
    """The Newton-Schulz iteration on one matrix ``[a, b]`` (2-D products, as torch's) or on a
    batch ``[N, a, b]`` (batched products)."""
    a, b, c = NS_COEFFICIENTS
    fma = torch.addmm if update.dim() == 2 else torch.baddbmm  # beta * input + alpha * (m1 @ m2)
    x = update.bfloat16()
    tall = update.size(-2) > update.size(-1)
    if tall:
        x = x.mT
    x = x.div(torch.linalg.vector_norm(x, dim=(-2, -1), keepdim=True).clamp(min=NS_EPS))
    for _ in range(steps):
        gram = x @ x.mT
        x = fma(x, fma(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.mT if tall else x


class Muon(Optimizer):
    """``torch.optim.Muon`` on the per-run matrices, AdamW on the other parameters.

    The matrices (:func:`matrices`: every parameter that is ``[N, a, b]``) take torch's Muon
    update with its defaults (Nesterov momentum, 5 Newton-Schulz steps in bfloat16,
    ``adjust_lr_fn=None``, i.e. Keller Jordan's "original" scale)::

        buf <- mu buf + (1 - mu) g                        (torch: buf.lerp_(g, 1 - mu))
        u   <- (1 - mu) g + mu buf    (nesterov)  or  buf
        O   <- newton_schulz(u)
        w   <- w (1 - lr lambda)                          (decoupled decay, before the update)
        w   <- w - lr sqrt(max(1, a / b)) O

    ``lr``, ``lambda`` and ``mu`` are the run's (``[N]`` tensors; ``momentum`` in float64, as a Python
    float is, because torch forms ``1 - mu`` in double precision and the bfloat16 iteration turns the
    last bit of the buffer into a visible difference). The embeddings are matrices too and take
    Muon (torch's docs suggest AdamW for them; here every 2-D weight is Muon's). The other
    parameters (biases, LayerNorm gains and shifts) take grokkit's AdamW with the run's ``lr``
    and ``lambda``, ``betas`` and ``eps``, decay before the Adam step, as ``torch.optim.AdamW``.

    Weight decay acts on the ``decayed`` (counted) parameters only, whichever update they take.
    Every matrix of grokkit's four models is counted, so the matrices are decayed as
    ``torch.optim.Muon`` decays all of its parameters; the other parameters are decayed as
    grokkit's AdamW decays them (paper 3's encoder: its biases and gains too; the MLPs: not
    their biases).

    State: ``buf`` (the momentum) of the matrices, ``m`` and ``v`` (Adam's moments) of the
    others; ``steps`` counts the updates (Adam's bias correction).
    """

    def __init__(self, params: Weights, decayed: tuple[str, ...], lr: torch.Tensor, weight_decay: torch.Tensor,
                 momentum: torch.Tensor, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 nesterov: bool = True, ns_steps: int = 5) -> None:
        super().__init__(params, decayed, lr, weight_decay)
        self.momentum = momentum
        self.betas, self.eps = betas, eps
        self.nesterov, self.ns_steps = nesterov, ns_steps
        self.matrices = frozenset(matrices(params))
        rest = [k for k in params if k not in self.matrices]
        self.state = {
            "buf": {k: torch.zeros_like(params[k]) for k in params if k in self.matrices},
            "m": {k: torch.zeros_like(params[k]) for k in rest},
            "v": {k: torch.zeros_like(params[k]) for k in rest},
        }

    @torch.no_grad()
    def step(self, params: Weights, grads: Weights) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        bc1, bc2 = 1 - beta1**self.steps, 1 - beta2**self.steps
        dtype = next(iter(params.values())).dtype
        keep, take = self.momentum.to(dtype), (1 - self.momentum).to(dtype)  # mu and 1 - mu, as torch rounds them
        for k, w in params.items():
            g = grads[k]
            decay = k in self.decayed
            if k not in self.matrices:
                _adamw_update(w, g, self.state["m"][k], self.state["v"][k], self.lr, self.weight_decay,
                              "before" if decay else "none", self.betas, self.eps, bc1, bc2)
                continue
            buf = self.state["buf"][k]
            buf.lerp_(g, _per_run(take, w))
            update = newton_schulz(g.lerp(buf, _per_run(keep, w)) if self.nesterov else buf, self.ns_steps)
            lr = _per_run(self.lr, w)
            if decay:
                w.mul_(1 - lr * _per_run(self.weight_decay, w))
            w.sub_(lr * math.sqrt(max(1.0, w.size(-2) / w.size(-1))) * update)

    def select(self, idx: torch.Tensor) -> None:
        super().select(idx)
        self.momentum = self.momentum.index_select(0, idx)
