"""The norm clamp: hold each run's weight norm at its own target.

From step ``t_int`` on, after every optimizer step, each clamped run's counted
weights (or one named group) are multiplied by one scalar, ``target / norm``, so
their norm equals the target exactly while direction and the ratios between layers
are kept at that instant. Optimizer moments are left alone. A one-shot variant
rescales once, at ``t_int``, and then lets the run train freely.

A target is absolute (``clamp_target``) or relative (``clamp_scale``: the scale times
the norm the run has when its clamp first acts). :class:`ClampSchedule` holds every
run's start, target and scale; runs of a batch that are not clamped, or not yet, get a
factor of exactly 1.
"""

from __future__ import annotations

from typing import Sequence

import torch

from . import kernels
from .config import RunConfig
from .models import Weights


def sq_norm(params: Weights, names: tuple[str, ...] | list[str]) -> torch.Tensor:
    """Per-run squared Frobenius norm summed over the named parameters: ``[N]``."""
    total = None
    for k in names:
        w = params[k]
        s = w.reshape(w.shape[0], -1).pow(2).sum(dim=1)
        total = s if total is None else total + s
    assert total is not None, "no parameters named"
    return total


def norm(params: Weights, names: tuple[str, ...] | list[str]) -> torch.Tensor:
    """Per-run Frobenius norm over the named parameters: ``[N]``."""
    return sq_norm(params, names).sqrt()


def _sq_norm64(w: torch.Tensor) -> torch.Tensor:
    """Each run's sum of squares of ``w``, accumulated in float64: ``[N]``."""
    fused = kernels.for_tensors(w)
    if fused is not None:
        return fused.sq_norms(w)  # without a float64 copy of w
    return torch.linalg.vector_norm(w.reshape(len(w), -1), dim=1, dtype=torch.float64).square()


@torch.no_grad()
def rescale_(params: Weights, names: tuple[str, ...], target: torch.Tensor, active: torch.Tensor) -> None:
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


class ClampSchedule:
    """Every run's clamp: from which step count it acts, and to which norm.

    Per-run tensors (leading run axis ``N``):

    * ``start``: the step count ``t_int`` from which the run is clamped; -1: never;
    * ``target``: the norm it is held at (float64); NaN while unclamped, or while a
      relative target is not fixed yet;
    * ``scale``: a relative target's factor (float64); NaN for an absolute target.

    A relative target is fixed, ``scale * norm``, at the first :meth:`apply` that acts on
    its run. The tensors are the state; the step counts at which some run's clamp starts,
    or some relative target is still to be fixed, are read from them to the host whenever
    they change (rarely), so that a step that clamps nobody costs nothing and no step waits
    for the device.
    """

    def __init__(self, names: tuple[str, ...], start: torch.Tensor, target: torch.Tensor,
                 scale: torch.Tensor) -> None:
        self.names = names  # the parameters whose joint norm is clamped
        self.start, self.target, self.scale = start, target, scale
        self._read_timetable()

    @classmethod
    def for_runs(cls, configs: Sequence[RunConfig], names: tuple[str, ...], device: torch.device) -> ClampSchedule:
        """The schedule of ``configs`` (their clamp fields) over the parameters ``names``."""
        def per_run(values: list[float | None]) -> torch.Tensor:
            return torch.tensor([float("nan") if v is None else v for v in values], dtype=torch.float64, device=device)

        start = torch.tensor([c.clamp_start if c.clamped else -1 for c in configs], device=device)
        return cls(names, start, per_run([c.clamp_target for c in configs]), per_run([c.clamp_scale for c in configs]))

    def _read_timetable(self) -> None:
        """Copy to the host the step counts at which clamps start and relative targets are fixed."""
        starts, unfixed = self.start.tolist(), (torch.isnan(self.target) & (self.start >= 0)).tolist()
        self._starts = sorted({s for s in starts if s >= 0})
        self._unfixed = sorted({s for s, u in zip(starts, unfixed) if u})

    def select(self, idx: torch.Tensor) -> None:
        """Keep the runs at positions ``idx`` (in that order)."""
        self.start, self.target, self.scale = (t.index_select(0, idx) for t in (self.start, self.target, self.scale))
        self._read_timetable()

    @torch.no_grad()
    def apply(self, params: Weights, at_step: int, exact: bool) -> None:
        """Rescale the runs whose clamp acts at step count ``at_step``.

        ``exact``: only the runs whose clamp starts at ``at_step`` (the one-shot rescale);
        otherwise every run clamped from ``at_step`` or earlier (the hold).
        """
        if exact:
            if at_step not in self._starts:
                return
            active = self.start == at_step
            fixing = at_step in self._unfixed
        else:
            if not self._starts or at_step < self._starts[0]:
                return
            active = (self.start >= 0) & (self.start <= at_step)
            fixing = bool(self._unfixed) and self._unfixed[0] <= at_step
        if fixing:  # a relative target is fixed from the norm at the moment its clamp first acts
            now = norm(params, self.names).double()
            self.target = torch.where(active & torch.isnan(self.target), self.scale * now, self.target)
            self._read_timetable()
        rescale_(params, self.names, self.target, active)
