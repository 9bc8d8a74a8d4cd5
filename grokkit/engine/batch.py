"""A batch of runs in flight: every per-run piece of state, stacked along a leading run axis.

:class:`RunBatch` holds the runs' weights, data, optimizer (with its per-run learning rates,
weight decays and moments), temperatures, clamp schedule, divergence flags, minibatch sampler
and host-side records. Every field is per run, so :meth:`RunBatch.select` keeps a subset of the
runs in all of them at once, and a field added later is selected with the others.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields, replace
from typing import Any, Sequence

import torch

from .clamp import ClampSchedule
from .config import RunConfig
from .events import RunRecord
from .models import Model, Weights, gather_rows
from .optim import SGD, AdamW, Muon, Optimizer
from .tasks import TaskData, make_run_data, stack

DTYPES = {"float32": torch.float32, "float64": torch.float64}


class MinibatchSampler:
    """Minibatches drawn with replacement, one independent stream per run.

    Each run's generator is seeded from its base seed and refilled in blocks of
    ``block`` steps, so a run draws the same indices whether it trains alone or in a batch.
    """

    def __init__(self, seeds: list[int], n_train: int, batch: int, device: torch.device, block: int = 128):
        self.gens = [torch.Generator().manual_seed(s) for s in seeds]
        self.n_train, self.batch, self.device, self.block = n_train, batch, device, block
        self.buf: torch.Tensor | None = None  # [N, block, batch]: the indices of the next steps
        self.pos = block

    def next(self) -> torch.Tensor:
        """Each run's example indices for this step: ``[N, batch]``."""
        if self.pos == self.block:
            draws = [torch.randint(self.n_train, (self.block, self.batch), generator=g) for g in self.gens]
            self.buf = torch.stack(draws).to(self.device)
            self.pos = 0
        assert self.buf is not None
        out = self.buf[:, self.pos]
        self.pos += 1
        return out

    def select(self, idx: torch.Tensor) -> None:
        """Keep the runs at positions ``idx`` (in that order). A position may repeat (arms forked
        from one run): each copy gets a generator of its own, in the same state, so that every arm
        draws the minibatches it would draw trained alone."""
        self.gens = [_clone(self.gens[i]) for i in idx.tolist()]
        if self.buf is not None:
            self.buf = self.buf.index_select(0, idx.to(self.buf.device))


def _clone(g: torch.Generator) -> torch.Generator:
    """A generator of its own in the state of ``g``."""
    h = torch.Generator()
    h.set_state(g.get_state())
    return h


@dataclass
class RunBatch:
    """The state of a batch of runs; every field is per run (leading run axis ``N``)."""

    runs: list[RunRecord]  # host side: config, history, events
    params: Weights  # requires grad
    data: TaskData
    opt: Optimizer  # per-run lr, weight decay (momentum) and moments
    temperature: torch.Tensor  # [N], the params' dtype
    clamp: ClampSchedule
    bad: torch.Tensor  # [N] bool: the loss was not finite at some step since the last evaluation
    sampler: MinibatchSampler | None  # None: full batch

    @classmethod
    def start(cls, configs: Sequence[RunConfig], model: Model, device: torch.device) -> RunBatch:
        """Fresh runs: each run's split, then its initial weights, drawn from its base seed."""
        dtype = DTYPES[configs[0].dtype]
        runs_data, runs_weights = [], []
        for cfg in configs:
            g = torch.Generator().manual_seed(cfg.base_seed)
            runs_data.append(make_run_data(cfg, g))  # the split first, then the weights
            runs_weights.append(model.init_params(g))
        params = {k: torch.stack([w[k] for w in runs_weights]).to(device, dtype).requires_grad_()
                  for k in runs_weights[0]}
        batch_size = configs[0].batch_size
        return cls(
            runs=[RunRecord.start(c) for c in configs],
            params=params,
            data=stack(runs_data, model.n_classes, dtype).to(device),
            opt=make_optimizer(configs, model, params),
            temperature=_per_run([c.temperature for c in configs], params),
            clamp=ClampSchedule.for_runs(configs, model.group_names(configs[0].clamp_group), device),
            bad=torch.zeros(len(configs), dtype=torch.bool, device=device),
            sampler=(MinibatchSampler([c.base_seed ^ 0x5EED for c in configs], configs[0].n_train, batch_size, device)
                     if batch_size else None),
        )

    def fork(self, rows: list[int], arms: Sequence[RunConfig], model: Model) -> RunBatch:
        """A batch of ``arms``, each continuing the run at its position in ``rows`` (rows may repeat).

        The arms take a copy of those runs' weights, data, optimizer moments and update count,
        divergence flags, minibatch streams and records; their learning rates, weight decays,
        temperatures and clamps are their own from now on.
        """
        base = copy.deepcopy(self)
        base.select(rows)
        opt = make_optimizer(arms, model, base.params)
        opt.steps, opt.state = base.opt.steps, base.opt.state
        return replace(
            base,
            runs=[run.continued_as(arm) for run, arm in zip(base.runs, arms)],
            opt=opt,
            temperature=_per_run([a.temperature for a in arms], base.params),
            clamp=ClampSchedule.for_runs(arms, model.group_names(arms[0].clamp_group), base.device),
        )

    @property
    def device(self) -> torch.device:
        """Where the batch's tensors live."""
        return self.bad.device

    def select(self, keep: Sequence[int]) -> None:
        """Keep only the runs at positions ``keep`` (in that order), in every field."""
        idx = torch.as_tensor(keep, dtype=torch.long, device=self.device)
        for f in fields(self):
            setattr(self, f.name, _select(getattr(self, f.name), list(keep), idx))

    def train_examples(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This step's training inputs and labels of every run: all of them, or each run's minibatch."""
        if self.sampler is None:
            return self.data.train_x, self.data.train_y
        idx = self.sampler.next()
        return gather_rows(self.data.train_x, idx), gather_rows(self.data.train_y.unsqueeze(-1), idx).squeeze(-1)


def _select(value: Any, keep: list[int], idx: torch.Tensor) -> Any:
    """The runs at positions ``keep`` (``idx``: the same, as a tensor on the batch's device) of a per-run field."""
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return value.detach().index_select(0, idx).requires_grad_(value.requires_grad)
    if isinstance(value, dict):
        return {k: _select(v, keep, idx) for k, v in value.items()}
    if isinstance(value, list):
        return [value[i] for i in keep]
    if isinstance(value, TaskData):  # a value: its select returns the selection
        return value.select(idx)
    value.select(idx)  # the optimizer, the clamp schedule, the sampler: selected in place
    return value


def _per_run(values: list[float], like: Weights) -> torch.Tensor:
    """A per-run hyperparameter: ``[N]``, on the device and in the dtype of the weights ``like``."""
    w = next(iter(like.values()))
    return torch.tensor(values, dtype=w.dtype, device=w.device)


def make_optimizer(configs: Sequence[RunConfig], model: Model, params: Weights) -> Optimizer:
    """The batch's optimizer, with each run's learning rate and weight decay (and SGD's or Muon's
    momentum); only the model's counted weights are decayed."""
    lr = _per_run([c.lr for c in configs], params)
    wd = _per_run([c.weight_decay for c in configs], params)
    shared = configs[0]  # optimizer kind, betas, eps and decay order are shared by the batch
    if shared.optimizer == "adamw":
        return AdamW(params, model.counted, lr, wd, (shared.beta1, shared.beta2), shared.eps, shared.decay_order)
    momentum = [c.momentum for c in configs]
    if shared.optimizer == "muon":  # Muon's momentum in float64, as torch's (see optim.Muon)
        mu = torch.tensor(momentum, dtype=torch.float64, device=lr.device)
        return Muon(params, model.counted, lr, wd, mu, (shared.beta1, shared.beta2), shared.eps)
    return SGD(params, model.counted, lr, wd, _per_run(momentum, params))
