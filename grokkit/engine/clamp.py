"""The norm clamp: hold each run's weight norm at its own target.

From step ``t_int`` on, after every optimizer step, each clamped run's counted
weights (or one named group) are multiplied by one scalar, ``target / norm``, so
their norm equals the target exactly while direction and the ratios between layers
are kept at that instant. Optimizer moments are left alone. A one-shot variant
rescales once, at ``t_int``, and then lets the run train freely.

Runs of a batch that are not clamped, or not yet, get a factor of exactly 1.
"""

from __future__ import annotations

import torch

from . import kernels

Params = dict[str, torch.Tensor]


def sq_norm(params: Params, names: tuple[str, ...] | list[str]) -> torch.Tensor:
    """Per-run squared Frobenius norm summed over the named parameters: ``[N]``."""
    total = None
    for k in names:
        w = params[k]
        s = w.reshape(w.shape[0], -1).pow(2).sum(dim=1)
        total = s if total is None else total + s
    assert total is not None, "no parameters named"
    return total


def norm(params: Params, names: tuple[str, ...] | list[str]) -> torch.Tensor:
    """Per-run Frobenius norm over the named parameters: ``[N]``."""
    return sq_norm(params, names).sqrt()


def _sq_norm64(w: torch.Tensor) -> torch.Tensor:
    """Each run's sum of squares of ``w``, accumulated in float64: ``[N]``."""
    fused = kernels.for_tensors(w)
    if fused is not None:
        return fused.sq_norms(w)  # without a float64 copy of w
    return torch.linalg.vector_norm(w.reshape(len(w), -1), dim=1, dtype=torch.float64).square()


@torch.no_grad()
def rescale_(params: Params, names: tuple[str, ...], target: torch.Tensor, active: torch.Tensor) -> None:
    """Scale the named parameters of each ``active`` run so that their norm equals ``target``.

    ``target`` is ``[N]`` (ignored where ``active`` is False) and ``active`` is ``[N]`` bool.
    The factor is computed in float64 to keep the held norm exact in float32. The caller
    decides (on the host, without a device sync) whether any run is active at all.
    """
    current = sum(_sq_norm64(params[k].detach()) for k in names).sqrt()
    factor = torch.where(active, target.double() / current, torch.ones_like(current))
    for k in names:
        w = params[k]
        w.mul_(factor.to(w.dtype).view(-1, *([1] * (w.dim() - 1))))
