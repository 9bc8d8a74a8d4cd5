"""Metrics: losses, accuracies, norms, logit scale and softmax collapse.

All functions act on a batch of runs (leading run axis ``N``) and return ``[N]``
tensors, so one evaluation serves every run of a batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .clamp import norm, sq_norm
from .models import Model, Weights
from .tasks import TaskData


def per_example_loss(z: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    """Loss of each example, ``[N, M]``, on (temperature-scaled) logits ``z`` ``[N, M, C]``.

    ``"ce"``: cross-entropy; ``"mse"``: squared error against the one-hot target,
    summed over the classes (paper 2's definition).
    """
    if kind == "ce":
        return F.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1), reduction="none").view(y.shape)
    if kind == "mse":
        onehot = F.one_hot(y, z.shape[-1]).to(z.dtype)
        return (z - onehot).pow(2).sum(dim=-1)
    raise ValueError(f"loss: unknown loss {kind!r}; expected 'ce' or 'mse'")


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.to(values.dtype)
    return (values * m).sum(dim=1) / m.sum(dim=1).clamp_min(1)


@torch.no_grad()
def evaluate(model: Model, params: Weights, data: TaskData, temperature: torch.Tensor, loss: str,
             max_elements: int = 1 << 25) -> dict[str, torch.Tensor]:
    """Evaluate every run on its evaluation inputs.

    Returns ``[N]`` tensors: ``train_acc``, ``test_acc``, ``train_loss``,
    ``test_loss``, ``logit_scale`` (mean over all evaluation inputs of the L2 norm of
    z / tau; for the modular tasks these are all p^2 pairs, as paper 2 defines L) and
    ``sc_frac`` (the fraction of training points whose correct-class softmax
    probability is exactly 1.0 in working precision: softmax collapse).
    Runs are evaluated in chunks so that no intermediate holds more than about
    ``max_elements`` numbers.
    """
    n, k = data.eval_y.shape
    width = max(model.n_classes, model.cfg.d_hidden, 4 * (model.cfg.d_embed or 1))
    chunk = max(1, min(n, max_elements // max(1, k * width)))
    parts: list[dict[str, torch.Tensor]] = []
    for lo in range(0, n, chunk):
        sl = slice(lo, min(n, lo + chunk))
        z = model.forward({name: v[sl] for name, v in params.items()}, data.eval_x[sl])
        z = z / temperature[sl].view(-1, 1, 1)
        y, is_train = data.eval_y[sl], data.eval_is_train[sl]
        correct = (z.argmax(dim=-1) == y).to(z.dtype)
        ex_loss = per_example_loss(z, y, loss)
        p_correct = z.softmax(dim=-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)
        parts.append({
            "train_acc": _masked_mean(correct, is_train),
            "test_acc": _masked_mean(correct, ~is_train),
            "train_loss": _masked_mean(ex_loss, is_train),
            "test_loss": _masked_mean(ex_loss, ~is_train),
            "logit_scale": z.norm(dim=-1).mean(dim=1),
            "sc_frac": _masked_mean((p_correct == 1.0).to(z.dtype), is_train),
        })
    return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}


@torch.no_grad()
def norms(model: Model, params: Weights) -> dict[str, torch.Tensor]:
    """Per-run norms: ``norm`` (the counted weights), ``sq_norm_all`` (||theta||^2 over
    every parameter) and ``norm_<group>`` for each named group."""
    out = {"norm": norm(params, model.counted), "sq_norm_all": sq_norm(params, tuple(params))}
    for group, names in model.groups.items():
        out[f"norm_{group}"] = norm(params, names)
    return out

