"""Tasks: modular arithmetic over all p^2 pairs, and sparse parity.

Every run draws its split (or its examples) from its own generator, seeded by
:attr:`RunConfig.base_seed`, *before* the model draws its initial weights from the
same generator. Both therefore depend on the task, the model and the seed, never on
the intervention arm.

A batch of runs is stacked along a leading run axis into :class:`TaskData`:

* ``train_x``/``train_y``: each run's training examples, ``[N, M, ...]``/``[N, M]``;
* ``eval_x``/``eval_y``/``eval_is_train``: the inputs evaluated on schedule. For the
  modular tasks these are *all* p^2 pairs in a-major order ((p - 1)^2 for "mul_nonzero",
  the multiplication of the nonzero residues), with a per-run mask of which pairs are
  training pairs; for parity, each run's training examples followed by its fresh test
  examples.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import RunConfig


@dataclass
class TaskData:
    """Stacked data of a batch of runs (leading run axis ``N``)."""

    train_x: torch.Tensor  # [N, M, 2] long (modular) or [N, M, n] float (parity)
    train_y: torch.Tensor  # [N, M] long
    eval_x: torch.Tensor  # [N, K, ...]
    eval_y: torch.Tensor  # [N, K] long
    eval_is_train: torch.Tensor  # [N, K] bool
    n_classes: int

    def select(self, idx: torch.Tensor) -> TaskData:
        """Keep the runs at positions ``idx`` (in that order)."""
        return TaskData(
            *(t.index_select(0, idx.to(t.device)) for t in
              (self.train_x, self.train_y, self.eval_x, self.eval_y, self.eval_is_train)),
            n_classes=self.n_classes,
        )

    def to(self, device: torch.device | str) -> TaskData:
        return TaskData(
            *(t.to(device) for t in (self.train_x, self.train_y, self.eval_x, self.eval_y, self.eval_is_train)),
            n_classes=self.n_classes,
        )


def all_pairs(p: int, nonzero: bool = False) -> torch.Tensor:
    """All p^2 operand pairs ``(a, b)`` in a-major order, shape ``[p*p, 2]`` (``nonzero``: the
    (p - 1)^2 pairs of residues 1..p-1)."""
    values = torch.arange(1 if nonzero else 0, p)
    a = values.repeat_interleave(len(values))
    b = values.repeat(len(values))
    return torch.stack([a, b], dim=1)


def modular_labels(pairs: torch.Tensor, p: int, op: str) -> torch.Tensor:
    """``(a + b) mod p`` or ``(a * b) mod p`` for each pair ("mul_nonzero" multiplies too)."""
    a, b = pairs[:, 0], pairs[:, 1]
    if op == "add":
        return (a + b) % p
    if op in ("mul", "mul_nonzero"):
        return (a * b) % p
    raise ValueError(f"op: unknown modular operation {op!r}; expected 'add', 'mul' or 'mul_nonzero'")


def parity_examples(n_bits: int, k: int, m: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``m`` random inputs in {-1, +1}^n and their labels: 1 when the product of the first k bits is +1."""
    x = torch.randint(0, 2, (m, n_bits), generator=g, dtype=torch.int64).to(torch.float64) * 2 - 1
    y = (x[:, :k].prod(dim=1) > 0).long()
    return x, y


@dataclass
class RunData:
    """One run's data before stacking."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    eval_x: torch.Tensor
    eval_y: torch.Tensor
    eval_is_train: torch.Tensor


def make_run_data(cfg: RunConfig, g: torch.Generator) -> RunData:
    """Draw one run's split (modular) or examples (parity) from ``g``."""
    if cfg.modular:
        p = cfg.p
        pairs = all_pairs(p, nonzero=cfg.task == "mul_nonzero")
        labels = modular_labels(pairs, p, cfg.task)
        perm = torch.randperm(len(pairs), generator=g)
        train_idx = perm[: cfg.n_train]
        is_train = torch.zeros(len(pairs), dtype=torch.bool)
        is_train[train_idx] = True
        return RunData(pairs[train_idx], labels[train_idx], pairs, labels, is_train)
    x_tr, y_tr = parity_examples(cfg.parity_n, cfg.parity_k, cfg.parity_train, g)
    x_te, y_te = parity_examples(cfg.parity_n, cfg.parity_k, cfg.parity_test, g)
    is_train = torch.cat([torch.ones(len(y_tr), dtype=torch.bool), torch.zeros(len(y_te), dtype=torch.bool)])
    return RunData(x_tr, y_tr, torch.cat([x_tr, x_te]), torch.cat([y_tr, y_te]), is_train)


def n_classes(cfg: RunConfig) -> int:
    """Number of output classes (the attention model also predicts its '=' token)."""
    if not cfg.modular:
        return 2
    return cfg.p + 1 if cfg.model == "attn" else cfg.p


def stack(runs: list[RunData], n_cls: int, dtype: torch.dtype) -> TaskData:
    """Stack per-run data along a leading run axis (float inputs cast to ``dtype``)."""
    def cat(name: str) -> torch.Tensor:
        t = torch.stack([getattr(r, name) for r in runs])
        return t.to(dtype) if t.is_floating_point() else t

    return TaskData(cat("train_x"), cat("train_y"), cat("eval_x"), cat("eval_y"), cat("eval_is_train"), n_cls)
