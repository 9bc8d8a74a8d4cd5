"""The batched trainer: many grokking runs as one computation.

``Trainer(configs)`` stacks N runs that share a :meth:`RunConfig.batch_key` along a
leading run axis (a :class:`~grokkit.engine.batch.RunBatch`); seeds, learning rates, weight
decays, clamp targets, temperatures and budgets are per-run tensors. One step is::

    (one-shot clamp at t_int) -> forward all runs -> sum of per-run mean losses
    -> backward -> optimizer step (per-run lr, weight decay) -> hold clamp

Because the total loss is a sum of per-run losses, each run's gradients are its
own: a run trained in a batch follows the same trajectory as the run trained alone.

Runs are evaluated on schedule; a run stops when it groks (plus ``extra_steps``),
when its budget is spent (censored) or when its loss or weights stop being finite
(diverged): :mod:`grokkit.engine.events`. Finished runs leave the batch, so the others
run faster, and are yielded at once as :class:`RunResult` values
(:mod:`grokkit.engine.summary`). The trainer knows nothing of the run store or of chapters.

A batch can be snapshotted (parameters, optimizer moments, histories) and forked:
:meth:`Trainer.fork` continues several arms from one saved state.
"""

from __future__ import annotations

import copy
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from . import process

process.prepare()  # before torch is imported: OpenMP reads its wait policy once

import torch  # noqa: E402

from . import events  # noqa: E402
from .batch import RunBatch  # noqa: E402
from .clamp import norm  # noqa: E402
from .config import RunConfig  # noqa: E402
from .metrics import evaluate, norms, per_example_loss  # noqa: E402
from .models import Model, Weights, build_model, hand_step_wanted  # noqa: E402
from .summary import provenance, summarize  # noqa: E402


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` (or None) picks CUDA when available, else the CPU."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' was asked for but torch sees no CUDA device")
    return dev


@dataclass
class RunResult:
    """A finished run: its config, summary, full trajectory and provenance."""

    config: RunConfig
    summary: dict[str, Any]
    trajectory: dict[str, list[float]]
    provenance: dict[str, Any]
    trace: dict[str, list[float]] = field(default_factory=dict)  # norms every ``trace_every`` steps

    @property
    def key(self) -> str:
        return self.config.key


class Trainer:
    """Train a batch of runs that share a batch key (see the module docstring).

    ``Trainer(configs, device)`` starts the runs ``configs`` (they must share
    :meth:`RunConfig.batch_key`) on ``device`` (``"auto"``: CUDA when available, ``"cpu"`` or
    ``"cuda"``); :meth:`fork` continues arms from a :attr:`snapshot`; :meth:`from_batch` trains
    any :class:`RunBatch`. :meth:`run` trains to the end, :meth:`step` takes one step.
    """

    def __init__(self, configs: Sequence[RunConfig], device: str | torch.device | None = "auto") -> None:
        if not configs:
            raise ValueError("configs: at least one run config is needed")
        if len({c.batch_key() for c in configs}) > 1:
            raise ValueError("configs: runs in one batch must share task, model shape, optimizer kind, loss, "
                             "clamp mode, eval schedule and dtype (RunConfig.batch_key); "
                             "use grokkit.runs.sweep to group them")
        model = build_model(configs[0])
        self._setup(model, RunBatch.start(configs, model, resolve_device(device)), step_count=0, last_evaluated=-1)

    @classmethod
    def from_batch(cls, model: Model, batch: RunBatch, step_count: int = 0, last_evaluated: int = -1) -> Trainer:
        """A trainer of ``batch``, whose runs have taken ``step_count`` steps and were last evaluated at
        step count ``last_evaluated`` (-1: never)."""
        trainer = cls.__new__(cls)
        trainer._setup(model, batch, step_count, last_evaluated)
        return trainer

    def _setup(self, model: Model, batch: RunBatch, step_count: int, last_evaluated: int) -> None:
        """What both constructors set: the model, the batch, the counters and the provenance."""
        self.model, self.batch, self.device = model, batch, batch.device
        shared = batch.runs[0].config  # the fields of the batch key are every run's
        self.loss, self.clamp_mode = shared.loss, shared.clamp_mode
        # the model's hand-written step (loss_and_grads) on the CPU, unless GROKKIT_HAND_STEP=0
        self.hand_written_step = self.device.type == "cpu" and model.hand_written and hand_step_wanted()
        self.step_count = step_count  # training steps every active run has taken
        self.last_evaluated = last_evaluated
        self.eval_steps = sorted(set().union(*(r.eval_steps for r in batch.runs)))  # on any run's grid
        self.snapshot: Trainer | None = None  # a copy of the batch, saved by run(snapshot_at=...)
        self.started = time.perf_counter()
        self.batch_id = uuid.uuid4().hex[:12]  # shared by the records of one batch (costs, provenance)
        self.process_threads: int | None = None  # a run shard's process threads (grokkit.engine.shards)
        self.n_start = len(batch.runs)

    @property
    def n_active(self) -> int:
        """Runs still training."""
        return len(self.batch.runs)

    # ------------------------------------------------------------ training
    def run(self, *, snapshot_at: int | None = None,
            callback: Callable[[Trainer], None] | None = None) -> Iterator[RunResult]:
        """Train until every run has finished, yielding each run's result as it finishes.

        ``snapshot_at``: after evaluating at that step count (before any run
        retires), save the whole batch in :attr:`snapshot` for :meth:`fork`.
        ``callback(trainer)`` is called after every evaluation (progress bars).
        """
        self.snapshot = None
        due = iter([s for s in self.eval_steps if s >= self.step_count and s > self.last_evaluated])
        next_eval = next(due, None)
        tracing = any(r.config.trace_every for r in self.batch.runs)
        while self.batch.runs:
            if tracing:
                self._record_trace()
            if self.step_count == next_eval:
                next_eval = next(due, None)
                done = self._evaluate()
                if self.step_count == snapshot_at:
                    self.snapshot = self._copy()
                for i in done:
                    yield self._result(i)
                if done:
                    self.batch.select([i for i in range(self.n_active) if i not in done])
                if callback is not None:
                    callback(self)
                if not self.batch.runs:
                    break
            self.step()

    def step(self) -> None:
        """One training step of every active run (see the module docstring)."""
        b = self.batch
        if self.clamp_mode == "once":
            b.clamp.apply(b.params, self.step_count, exact=True)  # rescale at t_int, before that step's update
        x, y = b.train_examples()
        per_run, grads = self._loss_and_grads(x, y)
        b.bad |= ~torch.isfinite(per_run.detach())
        b.opt.step(b.params, grads)
        if self.clamp_mode == "hold":
            b.clamp.apply(b.params, self.step_count + 1, exact=False)  # hold from t_int on, after each update
        self.step_count += 1

    def _loss_and_grads(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, Weights]:
        """Each run's mean loss on ``(x, y)`` (logits over its temperature), ``[N]``, and the gradients of
        their sum: by the model's hand-written ``loss_and_grads`` on the CPU where it has one (the MLP,
        the attention model, the encoder), else by autograd."""
        b = self.batch
        if self.hand_written_step:
            return self.model.loss_and_grads(b.params, x, y, b.temperature, self.loss)
        z = self.model.forward(b.params, x) / b.temperature.view(-1, 1, 1)
        per_run = per_example_loss(z, y, self.loss).mean(dim=1)
        names = list(b.params)
        return per_run, dict(zip(names, torch.autograd.grad(per_run.sum(), [b.params[k] for k in names])))

    # ------------------------------------------------------------ measuring
    def _evaluate(self) -> list[int]:
        """Evaluate every run at the current step count, record it, and return the positions of the runs
        that are done."""
        b = self.batch
        self.last_evaluated = self.step_count
        metrics = evaluate(self.model, b.params, b.data, b.temperature, self.loss)
        metrics.update(norms(self.model, b.params))
        rows = _per_run_rows({**metrics, "diverged": events.nonfinite(b.bad, metrics)})
        done = []
        for i, (run, values) in enumerate(zip(b.runs, rows)):
            diverged = values.pop("diverged") > 0
            if events.record_evaluation(run, self.step_count, values, diverged):
                done.append(i)
        return done

    @torch.no_grad()
    def _record_trace(self) -> None:
        """Record the norms of the runs whose ``trace_every`` divides the current step count (no forward pass)."""
        due = [i for i, r in enumerate(self.batch.runs) if r.traced_at(self.step_count)]
        if not due:
            return
        params = self.batch.params
        rows = _per_run_rows({"norm": norm(params, self.model.counted),
                              "sq_norm_all": norm(params, tuple(params)).pow(2)})
        for i in due:
            self.batch.runs[i].record_trace(self.step_count, rows[i])

    def _result(self, i: int) -> RunResult:
        """The result of the run at position ``i``."""
        run = self.batch.runs[i]
        target = float(self.batch.clamp.target[i]) if run.config.clamped else None
        summary = summarize(run, self.step_count, target)
        prov = provenance(self.device, self.process_threads, time.perf_counter() - self.started, self.n_start,
                          self.batch_id)
        return RunResult(run.config, summary, run.history, prov, run.trace)

    # ------------------------------------------------------------ forks
    def _copy(self) -> Trainer:
        """A copy of the trainer with a deep copy of its batch (parameters, moments, data, records)."""
        new = copy.copy(self)
        new.batch = copy.deepcopy(self.batch)
        return new

    @classmethod
    def fork(cls, snapshot: Trainer, arms: Sequence[RunConfig]) -> Trainer:
        """Continue several arms from a snapshot of their free pre-fork runs.

        Each arm (``fork_step > 0``) continues the snapshot run whose config is
        ``arm.prefork()``, from that run's parameters, optimizer moments and
        history; from the fork on, the arm's temperature and clamp act.
        """
        if not arms:
            raise ValueError("arms: at least one arm is needed")
        index = {r.config.key: i for i, r in enumerate(snapshot.batch.runs)}
        rows = []
        for arm in arms:
            base = arm.prefork().key
            if base not in index:
                raise ValueError(f"arms: the snapshot holds no pre-fork run for arm {arm.key} (seed {arm.seed})")
            if arm.fork_step != snapshot.step_count:
                raise ValueError(f"fork_step: arm forks at {arm.fork_step} but the snapshot is at step "
                                 f"{snapshot.step_count}")
            rows.append(index[base])
        model = build_model(arms[0])
        batch = snapshot.batch.fork(rows, arms, model)
        if arms[0].clamp_mode == "hold":
            # a straight run holds the norm from the state at clamp_start on; at the fork
            # that state is the snapshot's, so clamps starting there act before the first update
            batch.clamp.apply(batch.params, snapshot.step_count, exact=False)
        return cls.from_batch(model, batch, snapshot.step_count, snapshot.last_evaluated)


def _per_run_rows(metrics: dict[str, torch.Tensor]) -> list[dict[str, float]]:
    """``[N]`` tensors as one dict of floats per run, fetched from the device at once."""
    names = list(metrics)
    table = torch.stack([metrics[k].double() for k in names]).cpu().tolist()
    return [dict(zip(names, column)) for column in zip(*table)]


def train(configs: Sequence[RunConfig], device: str | torch.device | None = "auto") -> list[RunResult]:
    """Train runs that share a batch key as one batch; return results in config order."""
    trainer = Trainer(configs, device)
    results = {r.key: r for r in trainer.run()}
    return [results[c.key] for c in configs]
