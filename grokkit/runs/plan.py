"""What a sweep is about to train, and how long that may take on this machine.

Before a sweep trains anything it says what it will train: how many runs in how many batches,
their step budget in run-steps (an upper bound: runs stop when they grok), and an estimate of
the time from this machine's measured speed. The speed is measured here and now: one short
probe per kind of batch (the same batch key: model, widths, task size, optimizer, dtype) times a
few training steps of up to :data:`PROBE_RUNS` of its runs and turns them into run-steps per
second. A reader who asked for the paper preset on a laptop learns it will take days before the
first step, not after hours; the progress bar then keeps the bound up to date from the speed the
sweep actually reaches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

from ..engine.config import RunConfig

#: Runs of a batch the probe trains (a batch's speed per run levels off beyond a few runs).
PROBE_RUNS = 16
#: Timed steps of a probe, after :data:`PROBE_WARMUP` untimed ones.
PROBE_STEPS, PROBE_WARMUP = 8, 2


@dataclass
class TrainingPlan:
    """The runs a sweep is about to train, in batches, and the measured speed of each kind."""

    batches: list[list[RunConfig]]
    rates: dict[tuple, float] = field(default_factory=dict)  # batch key -> run-steps per second here

    @property
    def runs(self) -> int:
        return sum(len(b) for b in self.batches)

    @property
    def budget(self) -> int:
        """Run-steps if every run used its whole budget (forked arms count from their fork)."""
        return sum(c.max_steps - c.fork_step for b in self.batches for c in b)

    def seconds(self) -> float | None:
        """At most this many seconds at the measured speeds (None when a kind was not measured)."""
        total = 0.0
        for b in self.batches:
            rate = self.rates.get(b[0].batch_key())
            if not rate:
                return None
            total += sum(c.max_steps - c.fork_step for c in b) / rate
        return total

    def remaining_seconds(self, run_steps_left: float, rate_now: float) -> float:
        """The bound on the time left, from the run-steps still budgeted and the speed reached."""
        return run_steps_left / rate_now if rate_now > 0 else float("inf")

    def describe(self, device_name: str = "") -> str:
        """One paragraph: runs, batches, the budget and the time it may take here."""
        kinds = len({b[0].batch_key() for b in self.batches})
        text = (f"about to train {self.runs} run{'s' if self.runs != 1 else ''} in {len(self.batches)} "
                f"batch{'es' if len(self.batches) != 1 else ''} ({kinds} kind{'s' if kinds != 1 else ''}): at most "
                f"{_steps(self.budget)} run-steps (runs stop when they grok)")
        secs = self.seconds()
        if secs is not None:
            speeds = ", ".join(f"{_model_of(k)} {r:,.0f}" for k, r in sorted(self.rates.items(), key=str))
            where = f" on {device_name}" if device_name else " here"
            text += (f"; measured{where} just now (run-steps/s: {speeds}), that is at most {duration(secs)}")
        return text


def measure_rates(batches: Sequence[Sequence[RunConfig]], device: str | None = "auto") -> dict[tuple, float]:
    """Run-steps per second of each kind of batch on ``device``, from a short probe of the largest
    batch of each kind (forked arms are probed as their free pre-fork runs)."""
    from ..engine.trainer import Trainer

    largest: dict[tuple, Sequence[RunConfig]] = {}
    for b in batches:
        key = b[0].batch_key()
        if len(b) > len(largest.get(key, ())):
            largest[key] = b
    rates = {}
    for key, b in largest.items():
        configs = list({(c.prefork() if c.fork_step else c).key: (c.prefork() if c.fork_step else c)
                        for c in b}.values())[:PROBE_RUNS]
        trainer = Trainer(configs, device)
        for _ in range(PROBE_WARMUP):
            trainer.step()
        start = time.perf_counter()
        for _ in range(PROBE_STEPS):
            trainer.step()
        rates[key] = len(configs) * PROBE_STEPS / max(time.perf_counter() - start, 1e-9)
    return rates


def plan(batches: Sequence[Sequence[RunConfig]], device: str | None = "auto", measure: bool = True) -> TrainingPlan:
    """The :class:`TrainingPlan` of ``batches``, its speeds measured on ``device`` unless ``measure`` is False."""
    batches = [list(b) for b in batches]
    return TrainingPlan(batches, measure_rates(batches, device) if measure and batches else {})


def duration(seconds: float) -> str:
    """``"3.2 h"``, ``"14 min"``, ``"40 s"``, ``"2.5 days"``."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def _steps(n: float) -> str:
    return f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.0f} k" if n >= 1e4 else f"{n:,.0f}"


def _model_of(key: tuple) -> str:
    """A batch key in a few words: the model and the modulus."""
    d = dict(key) if key and isinstance(key[0], tuple) else {}
    model = d.get("model", "runs")
    p = d.get("p")
    return f"{model} p={p}" if p else str(model)
