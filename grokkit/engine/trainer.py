"""The batched trainer: many grokking runs as one computation.

``Trainer(configs)`` stacks N runs that share a :meth:`RunConfig.batch_key` along a
leading run axis; seeds, learning rates, weight decays, clamp targets,
temperatures and budgets are per-run tensors. One step is::

    (one-shot clamp at t_int) -> forward all runs -> sum of per-run mean losses
    -> backward -> optimizer step (per-run lr, weight decay) -> hold clamp

Because the total loss is a sum of per-run losses, each run's gradients are its
own: a run trained in a batch follows the same trajectory as the run trained alone.

Runs are evaluated on schedule; a run stops when it groks (plus ``extra_steps``),
when its budget is spent (censored) or when its loss or weights stop being finite
(diverged). Finished runs leave the batch, so the others run faster, and are
yielded at once as :class:`RunResult` values. The trainer knows nothing of the
run store or of chapters.

A batch can be snapshotted (parameters, optimizer moments, histories) and forked:
:meth:`Trainer.fork` continues several arms from one saved state.
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from . import process

process.prepare()  # before torch is imported: OpenMP reads its wait policy once

import torch  # noqa: E402

from .. import __version__
from .clamp import rescale_, norm as group_norm
from .config import CROSSING_THRESHOLDS, RESULTS_VERSION, RunConfig, eval_steps
from .metrics import evaluate, norms, per_example_loss
from .models import Model, build_model, gather_rows
from .optim import SGD, AdamW, Optimizer
from .tasks import TaskData, make_run_data, stack

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


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


@dataclass
class _Run:
    """Host-side bookkeeping of one run in flight."""

    cfg: RunConfig
    grid: frozenset[int]
    history: dict[str, list[float]] = field(default_factory=dict)
    t_mem: int | None = None
    t_grok: int | None = None
    diverged_at: int | None = None
    crossings: dict[str, list[float]] = field(default_factory=dict)
    trace: dict[str, list[float]] = field(default_factory=dict)

    def record(self, step: int, values: dict[str, float]) -> None:
        self.history.setdefault("step", []).append(step)
        for k, v in values.items():
            self.history.setdefault(k, []).append(v)

    def record_trace(self, step: int, values: dict[str, float]) -> None:
        if self.trace.get("step", [None])[-1] == step:  # a fork continues its pre-fork run's trace
            return
        self.trace.setdefault("step", []).append(step)
        for k, v in values.items():
            self.trace.setdefault(k, []).append(v)


class _Sampler:
    """Minibatches drawn with replacement, one independent stream per run.

    Each run's generator is seeded from its base seed and refilled in blocks of
    ``block`` steps, so a run draws the same indices whether it trains alone or in a batch.
    """

    def __init__(self, seeds: list[int], n_train: int, batch: int, device: torch.device, block: int = 128):
        self.gens = [torch.Generator().manual_seed(s) for s in seeds]
        self.n_train, self.batch, self.device, self.block = n_train, batch, device, block
        self.buf: torch.Tensor | None = None
        self.pos = block

    def next(self) -> torch.Tensor:
        if self.pos == self.block:
            draws = [torch.randint(self.n_train, (self.block, self.batch), generator=g) for g in self.gens]
            self.buf = torch.stack(draws).to(self.device)
            self.pos = 0
        assert self.buf is not None
        out = self.buf[:, self.pos]
        self.pos += 1
        return out

    def select(self, idx: list[int]) -> None:
        self.gens = [self.gens[i] for i in idx]
        if self.buf is not None:
            self.buf = self.buf.index_select(0, torch.as_tensor(idx, dtype=torch.long, device=self.buf.device))

    def copy(self) -> _Sampler:
        new = copy.copy(self)
        new.gens = []
        for g in self.gens:
            h = torch.Generator()
            h.set_state(g.get_state())
            new.gens.append(h)
        new.buf = None if self.buf is None else self.buf.clone()
        return new


class Trainer:
    """Train a batch of runs that share a batch key (see module docstring).

    Parameters
    ----------
    configs:
        The runs. They must share :meth:`RunConfig.batch_key`.
    device:
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    """

    def __init__(self, configs: Sequence[RunConfig], device: str | torch.device | None = "auto", *, _build: bool = True):
        if not configs:
            raise ValueError("configs: at least one run config is needed")
        keys = {c.batch_key() for c in configs}
        if len(keys) > 1:
            raise ValueError("configs: runs in one batch must share task, model shape, optimizer kind, loss, "
                             "clamp mode, eval schedule and dtype (RunConfig.batch_key); use grokkit.runs.sweep to group them")
        self.device = resolve_device(device)
        self.cfg0 = configs[0]
        self.model: Model = build_model(self.cfg0)
        self.dtype = _DTYPES[self.cfg0.dtype]
        self.step = 0
        self._last_eval = -1  # the step count evaluated last (a fork starts after its snapshot's evaluation)
        self.started = time.perf_counter()
        self.batch_id = uuid.uuid4().hex[:12]  # shared by the records of one batch (costs, provenance)
        self.process_threads: int | None = None  # a run shard's process threads (grokkit.engine.shards), for provenance
        self.n_start = len(configs)
        if not _build:
            return
        runs_data, runs_params = [], []
        for cfg in configs:
            g = torch.Generator().manual_seed(cfg.base_seed)
            runs_data.append(make_run_data(cfg, g))  # the split first, then the weights
            runs_params.append(self.model.init_params(g))
        self.data: TaskData = stack(runs_data, self.model.n_classes, self.dtype).to(self.device)
        self.params = {k: torch.stack([rp[k] for rp in runs_params]).to(self.device, self.dtype).requires_grad_()
                       for k in runs_params[0]}
        self._setup_runs(list(configs))
        self.opt = self._make_optimizer()
        self.sampler = (_Sampler([c.base_seed ^ 0x5EED for c in configs], self.cfg0.n_train, self.cfg0.batch_size, self.device)
                        if self.cfg0.batch_size else None)
        self.bad = torch.zeros(len(configs), dtype=torch.bool, device=self.device)

    # ------------------------------------------------------------ set-up
    def _setup_runs(self, configs: list[RunConfig]) -> None:
        """Per-run hyperparameter tensors and host-side records."""
        dev, dt = self.device, self.dtype
        self.runs = [_Run(c, frozenset(eval_steps(c.eval_schedule, c.max_steps))) for c in configs]
        self.temperature = torch.tensor([c.temperature for c in configs], dtype=dt, device=dev)
        nan = float("nan")
        self.clamp_target = torch.tensor([c.clamp_target if c.clamp_target is not None else nan for c in configs],
                                         dtype=torch.float64, device=dev)
        self.clamp_scale = torch.tensor([c.clamp_scale if c.clamp_scale is not None else nan for c in configs],
                                        dtype=torch.float64, device=dev)
        self.clamp_start = torch.tensor([c.clamp_start if c.clamped else -1 for c in configs], device=dev)
        self._clamp_starts = [c.clamp_start if c.clamped else None for c in configs]
        self._rel_pending = [c.clamp_scale is not None for c in configs]
        self.clamp_names = self.model.group_names(self.cfg0.clamp_group)
        self._eval_union = sorted(set().union(*(r.grid for r in self.runs)))

    def _make_optimizer(self) -> Optimizer:
        cfgs = [r.cfg for r in self.runs]
        lr = torch.tensor([c.lr for c in cfgs], dtype=self.dtype, device=self.device)
        wd = torch.tensor([c.weight_decay for c in cfgs], dtype=self.dtype, device=self.device)
        c = self.cfg0
        if c.optimizer == "adamw":
            return AdamW(self.params, self.model.counted, lr, wd, (c.beta1, c.beta2), c.eps, c.decay_order)
        momentum = torch.tensor([c.momentum for c in cfgs], dtype=self.dtype, device=self.device)
        return SGD(self.params, self.model.counted, lr, wd, momentum)

    @property
    def n_active(self) -> int:
        return len(self.runs)

    # ------------------------------------------------------------ stepping
    def _clamp_mask(self, at: int, exact: bool) -> torch.Tensor | None:
        """Runs whose clamp acts at step count ``at`` (``exact``: only those starting there)."""
        starts = [s for s in self._clamp_starts if s is not None]
        if not starts or (exact and at not in starts) or (not exact and at < min(starts)):
            return None
        return (self.clamp_start == at) if exact else (self.clamp_start >= 0) & (self.clamp_start <= at)

    @torch.no_grad()
    def _apply_clamp(self, at: int, exact: bool) -> None:
        active = self._clamp_mask(at, exact)
        if active is None:
            return
        acting = [p and s is not None and (s == at if exact else s <= at)
                  for p, s in zip(self._rel_pending, self._clamp_starts)]
        if any(acting):
            # a relative target is fixed from the norm at the moment its clamp first acts
            now = group_norm(self.params, self.clamp_names).double()
            fix = active & torch.isnan(self.clamp_target)
            self.clamp_target = torch.where(fix, self.clamp_scale * now, self.clamp_target)
            self._rel_pending = [p and not a for p, a in zip(self._rel_pending, acting)]
        rescale_(self.params, self.clamp_names, self.clamp_target, active)

    def _train_step(self) -> None:
        if self.cfg0.clamp_mode == "once":
            self._apply_clamp(self.step, exact=True)  # rescale at t_int, before that step's update
        if self.sampler is not None:
            idx = self.sampler.next()
            x, y = gather_rows(self.data.train_x, idx), gather_rows(self.data.train_y.unsqueeze(-1), idx).squeeze(-1)
        else:
            x, y = self.data.train_x, self.data.train_y
        if self.device.type == "cpu" and hasattr(self.model, "loss_and_grads"):  # the MLP's step by hand
            per_run, grads = self.model.loss_and_grads(self.params, x, y, self.temperature, self.cfg0.loss)
        else:
            names = list(self.params)
            logits = self.model.forward(self.params, x)
            z = logits / self.temperature.view(-1, 1, 1)
            per_run = per_example_loss(z, y, self.cfg0.loss).mean(dim=1)
            grads = dict(zip(names, torch.autograd.grad(per_run.sum(), [self.params[k] for k in names])))
        self.bad |= ~torch.isfinite(per_run.detach())
        self.opt.step(self.params, grads)
        if self.cfg0.clamp_mode == "hold":
            self._apply_clamp(self.step + 1, exact=False)  # hold from t_int on, after each update

    # ------------------------------------------------------------ evaluation
    def _evaluate(self) -> list[int]:
        """Evaluate all runs at the current step; update records; return indices to retire."""
        step = self._last_eval = self.step
        m = evaluate(self.model, self.params, self.data, self.temperature, self.cfg0.loss)
        m.update(norms(self.model, self.params))
        bad = self.bad | ~torch.isfinite(m["train_loss"]) | ~torch.isfinite(m["norm"]) | ~torch.isfinite(m["sq_norm_all"])
        names = list(m)
        table = torch.stack([m[k].double() for k in names] + [bad.double()]).cpu().tolist()
        retire = []
        for i, run in enumerate(self.runs):
            values = {k: table[j][i] for j, k in enumerate(names)}
            is_bad = table[-1][i] > 0
            cfg = run.cfg
            if step in run.grid or is_bad:
                run.record(step, values)
            if is_bad:
                run.diverged_at = step
                retire.append(i)
                continue
            if step in run.grid:
                if run.t_mem is None and values["train_acc"] >= cfg.mem_threshold:
                    run.t_mem = step
                for thr in CROSSING_THRESHOLDS:
                    if str(thr) not in run.crossings and values["test_acc"] >= thr:
                        run.crossings[str(thr)] = [step, values["norm"]]
                if run.t_grok is None and values["test_acc"] >= cfg.grok_threshold:
                    run.t_grok = step
            done_grok = cfg.stop_at_grok and run.t_grok is not None and step >= run.t_grok + cfg.extra_steps
            if done_grok or step >= cfg.max_steps:
                retire.append(i)
        return retire

    @torch.no_grad()
    def _trace(self) -> None:
        """Record the norms of the runs whose ``trace_every`` divides the current step (no forward pass)."""
        due = [i for i, r in enumerate(self.runs) if r.cfg.trace_every and self.step % r.cfg.trace_every == 0
               and self.step <= r.cfg.max_steps]
        if not due:
            return
        m = {"norm": group_norm(self.params, self.model.counted),
             "sq_norm_all": group_norm(self.params, tuple(self.params)).pow(2)}
        names = list(m)
        table = torch.stack([m[k].double() for k in names]).cpu().tolist()
        for i in due:
            self.runs[i].record_trace(self.step, {k: table[j][i] for j, k in enumerate(names)})

    def _select(self, keep: list[int]) -> None:
        """Keep only the runs at positions ``keep``."""
        idx = torch.as_tensor(keep, dtype=torch.long, device=self.device)
        self.params = {k: v.detach().index_select(0, idx).requires_grad_() for k, v in self.params.items()}
        self.data = self.data.select(idx)
        self.opt.select(idx)
        for name in ("temperature", "clamp_target", "clamp_scale", "clamp_start", "bad"):
            setattr(self, name, getattr(self, name).index_select(0, idx))
        self._clamp_starts = [self._clamp_starts[i] for i in keep]
        self._rel_pending = [self._rel_pending[i] for i in keep]
        self.runs = [self.runs[i] for i in keep]
        if self.sampler is not None:
            self.sampler.select(keep)

    # ------------------------------------------------------------ running
    def run(self, *, snapshot_at: int | None = None,
            callback: Callable[[Trainer], None] | None = None) -> Iterator[RunResult]:
        """Train until every run has finished, yielding each run's result as it finishes.

        ``snapshot_at``: after evaluating at that step count (before any run
        retires), save the whole batch in :attr:`snapshot` for :meth:`fork`.
        ``callback(trainer)`` is called after every evaluation (progress bars).
        """
        self.snapshot: Trainer | None = None
        pending = [s for s in self._eval_union if s >= self.step and s > self._last_eval]
        ptr = 0
        tracing = any(r.cfg.trace_every for r in self.runs)
        while self.runs:
            if tracing:
                self._trace()
            if ptr < len(pending) and self.step == pending[ptr]:
                ptr += 1
                retire = self._evaluate()
                if snapshot_at is not None and self.step == snapshot_at:
                    self.snapshot = self._copy()
                if retire:
                    for i in retire:
                        yield self._result(i)
                    self._select([i for i in range(len(self.runs)) if i not in set(retire)])
                if callback is not None:
                    callback(self)
                if not self.runs:
                    break
            self._train_step()
            self.step += 1

    def _copy(self) -> Trainer:
        """A deep copy of the batch (parameters, moments, data, histories)."""
        new = copy.copy(self)
        new.params = {k: v.detach().clone().requires_grad_() for k, v in self.params.items()}
        new.opt = copy.copy(self.opt)
        new.opt.state = {s: {k: v.clone() for k, v in bufs.items()} for s, bufs in self.opt.state.items()}
        new.runs = copy.deepcopy(self.runs)
        new.bad = self.bad.clone()
        new.sampler = None if self.sampler is None else self.sampler.copy()
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
        index = {r.cfg.key: i for i, r in enumerate(snapshot.runs)}
        rows = []
        for arm in arms:
            base = arm.prefork().key
            if base not in index:
                raise ValueError(f"arms: the snapshot holds no pre-fork run for arm {arm.key} (seed {arm.seed})")
            if arm.fork_step != snapshot.step:
                raise ValueError(f"fork_step: arm forks at {arm.fork_step} but the snapshot is at step {snapshot.step}")
            rows.append(index[base])
        new = cls(arms, snapshot.device, _build=False)
        idx = torch.as_tensor(rows, dtype=torch.long, device=snapshot.device)
        new.step, new._last_eval = snapshot.step, snapshot._last_eval
        new.data = snapshot.data.select(idx)
        new.params = {k: v.detach().index_select(0, idx).clone().requires_grad_() for k, v in snapshot.params.items()}
        new._setup_runs(list(arms))
        new.opt = new._make_optimizer()
        new.opt.steps = snapshot.opt.steps
        new.opt.state = {s: {k: v.index_select(0, idx).clone() for k, v in bufs.items()} for s, bufs in snapshot.opt.state.items()}
        new.bad = snapshot.bad.index_select(0, idx).clone()
        new.sampler = None
        if snapshot.sampler is not None:
            new.sampler = snapshot.sampler.copy()
            new.sampler.select(rows)
        for run, row in zip(new.runs, rows):
            old = snapshot.runs[row]
            run.history = copy.deepcopy(old.history)
            run.t_mem, run.t_grok, run.crossings = old.t_mem, old.t_grok, copy.deepcopy(old.crossings)
            run.trace = copy.deepcopy(old.trace)
        if new.cfg0.clamp_mode == "hold":
            # a straight run holds the norm from the state at clamp_start on; at the fork
            # that state is the snapshot's, so clamps starting there act before the first update
            new._apply_clamp(new.step, exact=False)
        return new

    # ------------------------------------------------------------ results
    def _result(self, i: int) -> RunResult:
        run = self.runs[i]
        h = run.history
        steps = h.get("step", [])
        status = "diverged" if run.diverged_at is not None else ("grokked" if run.t_grok is not None else "censored")

        def at(key: str, step: int | None) -> float | None:
            if step is None or key not in h:
                return None
            return h[key][steps.index(step)]

        t_grok = run.t_grok if status == "grokked" else None
        final = steps[-1] if steps else self.step
        norms_ = h.get("norm", [])
        peak = max(range(len(norms_)), key=lambda j: norms_[j] if math.isfinite(norms_[j]) else -1) if norms_ else None
        summary: dict[str, Any] = {
            "status": status,
            "t_mem": run.t_mem,
            "t_grok": t_grok,
            "final_step": final,
            "diverged_at": run.diverged_at,
            "norm_init": at("norm", steps[0] if steps else None),
            "norm_mem": at("norm", run.t_mem),
            "norm_grok": at("norm", t_grok),
            "norm_final": at("norm", final),
            "norm_peak": norms_[peak] if peak is not None else None,
            "t_norm_peak": steps[peak] if peak is not None else None,
            "sq_norm_all_mem": at("sq_norm_all", run.t_mem),
            "sq_norm_all_grok": at("sq_norm_all", t_grok),
            "sq_norm_all_final": at("sq_norm_all", final),
            "logit_scale_mem": at("logit_scale", run.t_mem),
            "logit_scale_grok": at("logit_scale", t_grok),
            "logit_scale_final": at("logit_scale", final),
            "sc_frac_max": max(h["sc_frac"]) if h.get("sc_frac") else None,
            "train_acc_final": at("train_acc", final),
            "test_acc_final": at("test_acc", final),
            "crossings": {} if status == "diverged" else dict(run.crossings),
            "clamp_target": float(self.clamp_target[i]) if run.cfg.clamped else None,
        }
        provenance = {
            "grokkit": __version__,
            "results_version": RESULTS_VERSION,
            "torch": torch.__version__,
            "device": _device_name(self.device, self.process_threads),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "wall_s": round(time.perf_counter() - self.started, 2),
            "batch_runs": self.n_start,
            "batch_id": self.batch_id,
        }
        return RunResult(run.cfg, summary, h, provenance, run.trace)


def _device_name(device: torch.device, threads: int | None = None) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{threads or torch.get_num_threads()} threads"


def train(configs: Sequence[RunConfig], device: str | torch.device | None = "auto") -> list[RunResult]:
    """Train runs that share a batch key as one batch; return results in config order."""
    trainer = Trainer(configs, device)
    results = {r.key: r for r in trainer.run()}
    return [results[c.key] for c in configs]
