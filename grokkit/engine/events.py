"""A run's record while it trains, and the events read from its evaluations.

Every evaluation of a run either lands on its evaluation grid (``eval_schedule``, plus its
budget) or finds the run diverged. From those evaluations, in order:

* **divergence**: the training loss or the weights stopped being finite (at the evaluation,
  or at any step since the last one): the run is recorded at that step and retires;
* **T_mem**: the first evaluated step with train accuracy ``>= mem_threshold``;
* **crossings**: for each of :data:`CROSSING_THRESHOLDS`, the first evaluated step (and the
  norm there) with test accuracy at or above it;
* **T_grok**: the first evaluated step with test accuracy ``>= grok_threshold``;
* **retirement**: the run is done ``extra_steps`` after T_grok (with ``stop_at_grok``) or
  when its budget ``max_steps`` is spent.

These are plain functions of the host-side :class:`RunRecord`; the trainer calls them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch

from .config import CROSSING_THRESHOLDS, RunConfig, eval_steps


@dataclass
class RunRecord:
    """Host-side record of one run in flight: its evaluations, norm trace and events so far."""

    config: RunConfig
    eval_steps: frozenset[int]  # the step counts on the run's evaluation grid
    history: dict[str, list[float]] = field(default_factory=dict)  # "step" and every metric, per evaluation
    trace: dict[str, list[float]] = field(default_factory=dict)  # norms every ``trace_every`` steps
    t_mem: int | None = None
    t_grok: int | None = None
    diverged_at: int | None = None
    crossings: dict[str, list[float]] = field(default_factory=dict)  # str(threshold) -> [step, norm]

    @classmethod
    def start(cls, config: RunConfig) -> RunRecord:
        """The empty record of a run about to start."""
        return cls(config, frozenset(eval_steps(config.eval_schedule, config.max_steps)))

    def continued_as(self, arm: RunConfig) -> RunRecord:
        """The record of a fork's ``arm``: a copy of this (pre-fork) run's history, trace and events."""
        new = RunRecord.start(arm)
        new.history, new.trace = copy.deepcopy(self.history), copy.deepcopy(self.trace)
        new.t_mem, new.t_grok, new.crossings = self.t_mem, self.t_grok, copy.deepcopy(self.crossings)
        return new

    def record(self, step: int, values: dict[str, float]) -> None:
        """Append one evaluation to the history."""
        self.history.setdefault("step", []).append(step)
        for k, v in values.items():
            self.history.setdefault(k, []).append(v)

    def record_trace(self, step: int, values: dict[str, float]) -> None:
        """Append the norms at ``step`` to the trace (once: a fork continues its pre-fork run's trace)."""
        if self.trace.get("step", [None])[-1] == step:
            return
        self.trace.setdefault("step", []).append(step)
        for k, v in values.items():
            self.trace.setdefault(k, []).append(v)

    def traced_at(self, step: int) -> bool:
        """True when the run's norms are due in its trace at step count ``step``."""
        every = self.config.trace_every
        return bool(every) and step % every == 0 and step <= self.config.max_steps


def nonfinite(bad: torch.Tensor, metrics: dict[str, torch.Tensor]) -> torch.Tensor:
    """``[N]`` bool: runs whose loss or weights are not finite, at this evaluation (``metrics``) or at a
    training step since the last one (``bad``)."""
    return bad | ~torch.isfinite(metrics["train_loss"]) | ~torch.isfinite(metrics["norm"]) \
        | ~torch.isfinite(metrics["sq_norm_all"])


def record_evaluation(run: RunRecord, step: int, values: dict[str, float], diverged: bool) -> bool:
    """Record ``run``'s evaluation at step count ``step`` and the events it shows (see the module
    docstring); True when the run is done and leaves the batch."""
    cfg = run.config
    on_grid = step in run.eval_steps
    if on_grid or diverged:
        run.record(step, values)
    if diverged:
        run.diverged_at = step
        return True
    if on_grid:
        if run.t_mem is None and values["train_acc"] >= cfg.mem_threshold:
            run.t_mem = step
        for threshold in CROSSING_THRESHOLDS:
            if str(threshold) not in run.crossings and values["test_acc"] >= threshold:
                run.crossings[str(threshold)] = [step, values["norm"]]
        if run.t_grok is None and values["test_acc"] >= cfg.grok_threshold:
            run.t_grok = step
    done_grokking = cfg.stop_at_grok and run.t_grok is not None and step >= run.t_grok + cfg.extra_steps
    return done_grokking or step >= cfg.max_steps
