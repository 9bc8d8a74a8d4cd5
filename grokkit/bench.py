"""Speed benchmark: ``python -m grokkit.bench``.

For every model the book trains, at its paper's size, it prints for N = 1, 16 and 64 runs:

* run-steps per second of grokkit's batched trainer (on the CPU, the batch split into run
  shards across threads as a sweep splits it, :mod:`grokkit.engine.shards`);
* run-steps per second of the same runs trained one after another by the plain PyTorch
  loop that model's paper uses (``nn.Module`` + ``torch.optim.AdamW``), timed in a child
  process that runs as a plain script would (OpenMP's default wait policy);
* their ratio;
* the fraction of a float32 matmul peak each achieves, counting the matmul FLOPs each
  actually performs (``torch.utils.flop_counter`` on one step), with the peak measured in
  the same process.

The models (``--models``, default all): ``mlp`` (paper 1's MLP, p = 59, train fraction 0.4,
full batch, norm clamp on), ``attn`` and ``attn-noln`` (paper 1's one-layer attention model
with and without its parameter-free LayerNorms, p = 59, full batch) and ``encoder`` (paper 3's
post-LN encoder, p = 97, minibatches of 512 drawn with replacement).

On the CPU, every model but the parity MLP trains with its hand-written step (forward and backward
without autograd, :mod:`grokkit.engine.models`) and grokkit's fused kernels
(:mod:`grokkit.engine.kernels`) where they build; the header line says whether each is on.
``GROKKIT_HAND_STEP=0`` times the autograd step instead, ``GROKKIT_KERNELS=0`` the step without the
kernels. A single run (N = 1) of the attention models or the encoder splits its examples across two
threads (:func:`grokkit.engine.shards.split_work`).

Ratios, not seconds, are the point: absolute speed depends on the machine. Every figure is the
best of ``--repeats`` timings (like ``timeit``): on a shared CPU the small steps of one run are
noisy. Options: ``--models``, ``--runs 1 16 64``, ``--steps`` (timed steps per measurement),
``--repeats``, ``--device``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .engine import process as _process

_process.prepare()  # grokkit's side trains as a sweep does; the plain loop runs in a child without it

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from ._version import __version__  # noqa: E402
from .engine import kernels  # noqa: E402
from .engine.config import RunConfig  # noqa: E402
from .engine.models import hand_step_wanted  # noqa: E402
from .engine.protocols import paper1, paper3  # noqa: E402
from .engine.shards import StepPool  # noqa: E402
from .engine.tasks import make_run_data  # noqa: E402
from .engine.trainer import Trainer, resolve_device  # noqa: E402
from .runs.executors import shard_batch  # noqa: E402


def matmul_peak(device: torch.device, n: int = 2048, repeats: int = 5) -> float:
    """Measured float32 matmul throughput (FLOP/s) on ``device``: the best of ``repeats`` products."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_flops(step: Callable[[], None]) -> float:
    """Matmul FLOPs of one call of ``step`` (forward and backward), as torch's FLOP counter sees them."""
    with FlopCounterMode(display=False) as counter:
        step()
    return float(counter.get_total_flops())


# ---------------------------------------------------------------- the plain loops, one run each
class PlainMLP(nn.Module):
    """Paper 1's MLP written the usual way: embed both operands, concatenate, two layers."""

    def __init__(self, p: int, d: int = 128, h: int = 256) -> None:
        super().__init__()
        self.embed = nn.Embedding(p, d)
        self.hidden = nn.Linear(2 * d, h)
        self.out = nn.Linear(h, p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.embed(x).flatten(1)
        return self.out(F.gelu(self.hidden(e)))


class PlainAttention(nn.Module):
    """Paper 1's one-layer attention model as its code writes it: tokens [a, b, '='], learned
    positions, 4 heads with the query from '=' only, an MLP block, no biases; parameter-free
    LayerNorms before attention, the MLP and the unembedding when ``layernorm``."""

    def __init__(self, p: int, d: int = 128, h: int = 512, heads: int = 4, layernorm: bool = True) -> None:
        super().__init__()
        v = p + 1
        self.heads, self.layernorm = heads, layernorm
        self.E = nn.Parameter(torch.randn(v, d) / math.sqrt(d))
        self.pos = nn.Parameter(0.1 * torch.randn(3, d) / math.sqrt(d))
        self.Wq, self.Wk, self.Wv, self.Wo = (nn.Linear(d, d, bias=False) for _ in range(4))
        self.Win, self.Wout = nn.Linear(d, h, bias=False), nn.Linear(h, d, bias=False)
        self.U = nn.Linear(d, v, bias=False)

    def ln(self, t: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(t, t.shape[-1:]) if self.layernorm else t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, d, nh = x.shape[0], self.E.shape[1], self.heads
        xs = self.E[x] + self.pos  # [B, 3, d]
        n = self.ln(xs)
        q = self.Wq(n[:, 2]).view(b, nh, 1, d // nh)
        k = self.Wk(n).view(b, 3, nh, d // nh).transpose(1, 2)
        v = self.Wv(n).view(b, 3, nh, d // nh).transpose(1, 2)
        w = (q @ k.transpose(-1, -2) / math.sqrt(d // nh)).softmax(-1)
        last = xs[:, 2] + self.Wo((w @ v).reshape(b, d))
        last = last + self.Wout(F.gelu(self.Win(self.ln(last))))
        return self.U(self.ln(last))


class PlainEncoder(nn.Module):
    """Paper 3's model as its code writes it: token and position embeddings, one post-LN
    ``nn.TransformerEncoderLayer``, a final LayerNorm on the last position, a linear head."""

    def __init__(self, p: int, d: int = 128, h: int = 512, heads: int = 4) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(p, d), nn.Embedding(2, d)
        self.layer = nn.TransformerEncoderLayer(d, heads, h, dropout=0.0, activation="gelu", batch_first=True)
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.layer(self.tok(x) + self.pos.weight)
        return self.head(self.norm(z[:, -1]))


def _plain_step(cfg: RunConfig, device: torch.device) -> Callable[[], None]:
    """One plain training step of ``cfg``'s model (a closure over a fresh model and optimizer)."""
    torch.manual_seed(cfg.seed)
    data = make_run_data(cfg, torch.Generator().manual_seed(cfg.seed))  # the run's own split
    x, y, p = data.train_x, data.train_y, cfg.p
    if cfg.model == "mlp":
        model: nn.Module = PlainMLP(p, cfg.d_embed, cfg.d_hidden)
    elif cfg.model == "attn":
        model = PlainAttention(p, cfg.d_embed, cfg.d_hidden, cfg.n_heads, cfg.layernorm)
        x = torch.cat([x, torch.full((len(x), 1), p)], dim=1)  # the '=' token
    else:
        model = PlainEncoder(p, cfg.d_embed, cfg.d_hidden, cfg.n_heads)
    model, x, y = model.to(device), x.to(device), y.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    weights = [w for w in model.parameters() if w.dim() > 1]
    target = cfg.clamp_target

    def step() -> None:
        if cfg.batch_size:  # minibatch drawn with replacement, as paper 3's code does
            i = torch.randint(0, len(x), (cfg.batch_size,), device=device)
            xb, yb = x[i], y[i]
        else:
            xb, yb = x, y
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if target:
            with torch.no_grad():
                scale = target / torch.sqrt(sum(w.pow(2).sum() for w in weights))
                for w in weights:
                    w.mul_(scale)

    return step


@dataclass(frozen=True)
class Case:
    """One model of the book at its paper's size: a run's config for a seed, and a label."""

    name: str
    label: str
    config: Callable[[int], RunConfig]


CASES = {
    "mlp": Case("mlp", "paper 1's MLP, p = 59, train fraction 0.4, full batch, AdamW, clamp on",
                lambda s: paper1(p=59, seed=s, max_steps=10**6, clamp_target=54.0, clamp_start=0)),
    "attn": Case("attn", "paper 1's attention model with LayerNorms, p = 59, full batch, AdamW",
                 lambda s: paper1(p=59, model="attn", layernorm=True, seed=s, max_steps=10**6, clamp_start=0)),
    "attn-noln": Case("attn-noln", "paper 1's attention model without LayerNorm, p = 59, full batch, AdamW",
                      lambda s: paper1(p=59, model="attn", layernorm=False, lr=5e-4, seed=s, max_steps=10**6,
                                       clamp_start=0)),
    "encoder": Case("encoder", "paper 3's post-LN encoder, p = 97, minibatch 512 with replacement, AdamW",
                    lambda s: paper3(seed=s, max_steps=10**6)),
}


def _best_rate(step: Callable[[], None], n_runs: int, steps: int, repeats: int, device: torch.device) -> float:
    """Run-steps per second of ``step`` (which advances ``n_runs`` runs): the best of ``repeats`` timings."""
    for _ in range(3):
        step()
    best = 0.0
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        best = max(best, n_runs * steps / (time.perf_counter() - t))
    return best


class _GrokkitStep:
    """One training step of a grokkit batch, split into run shards as a sweep splits it
    (:mod:`grokkit.engine.shards`); call :meth:`close` when done."""

    def __init__(self, configs: list[RunConfig], device: torch.device) -> None:
        shards = shard_batch(configs, device)
        self.trainers = [Trainer(s, device) for s in shards]
        self.pool = StepPool(len(shards)) if len(shards) > 1 else None
        self.steps = [t.step for t in self.trainers]

    def __call__(self) -> None:
        if self.pool is None:
            self.steps[0]()
        else:
            self.pool.map(self.steps)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def bench_plain(case: Case, n_runs: int, steps: int, device: torch.device, repeats: int = 3) -> float:
    """Run-steps per second of ``n_runs`` plain runs trained one after another."""
    total = 0.0
    for seed in range(n_runs):
        total += steps / _best_rate(_plain_step(case.config(seed), device), 1, steps, repeats, device)
    return n_runs * steps / total


def bench_plain_as_script(case: Case, n_runs: int, steps: int, device: torch.device, repeats: int = 3) -> float:
    """:func:`bench_plain` in a child process that runs as a plain PyTorch script does: torch
    imported before grokkit, so OpenMP keeps its default wait policy (grokkit makes its own
    OpenMP threads sleep while they wait, :mod:`grokkit.engine.process`, which slows a plain loop)."""
    env = dict(os.environ)
    if _process.openmp_policy_set_here:
        env.pop("OMP_WAIT_POLICY", None)
    code = ("import torch\nfrom grokkit import bench\n"
            f"print(bench.bench_plain(bench.CASES[{case.name!r}], {n_runs}, {steps}, "
            f"torch.device({str(device)!r}), {repeats}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"the plain loop's process failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def bench_grokkit(case: Case, n_runs: int, steps: int, device: torch.device, repeats: int = 3) -> float:
    """Run-steps per second of ``n_runs`` runs trained as one grokkit batch."""
    step = _GrokkitStep([case.config(s) for s in range(n_runs)], device)
    try:
        return _best_rate(step, n_runs, steps, repeats, device)
    finally:
        step.close()


def bench_case(case: Case, runs: list[int], steps: int, plain_runs: int, repeats: int, device: torch.device,
               peak: float) -> dict[str, Any]:
    """Print one model's table and return it: run-steps/s of grokkit per N and of the plain loop."""
    cfg = case.config(0)
    f_gk = step_flops(_GrokkitStep([cfg], device))
    f_plain = step_flops(_plain_step(cfg, device))
    print(f"\n== {case.name}: {case.label}")
    print(f"matmul FLOPs per run-step: grokkit {f_gk / 1e6:,.0f} M, plain {f_plain / 1e6:,.0f} M; "
          f"ceiling at 100 % of peak: grokkit {peak / f_gk:,.0f} run-steps/s, plain {peak / f_plain:,.0f}")
    plain = bench_plain_as_script(case, plain_runs, steps, device, repeats)
    print(f"{'N':>4} {'grokkit run-steps/s':>20} {'plain run-steps/s':>18} {'ratio':>7} "
          f"{'grokkit % peak':>15} {'plain % peak':>13}")
    rates = {}
    for n in runs:
        gk = rates[str(n)] = bench_grokkit(case, n, steps, device, repeats)
        print(f"{n:>4} {gk:>20,.0f} {plain:>18,.0f} {gk / plain:>6.1f}x "
              f"{100 * gk * f_gk / peak:>14.0f}% {100 * plain * f_plain / peak:>12.0f}%", flush=True)
    return {"grokkit": rates, "plain": plain, "flops_grokkit": f_gk, "flops_plain": f_plain}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m grokkit.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--runs", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--steps", type=int, default=40, help="timed steps per measurement")
    ap.add_argument("--plain-runs", type=int, default=2, help="plain runs timed (its rate does not depend on N)")
    ap.add_argument("--repeats", type=int, default=3, help="timings per measurement; the best one counts")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--save", metavar="PATH", help="also write the tables as JSON (run-steps/s per model and N)")
    args = ap.parse_args(argv)
    for name, value in (("runs", args.runs), ("steps", [args.steps]), ("plain-runs", [args.plain_runs]),
                        ("repeats", [args.repeats])):
        if any(v < 1 for v in value):
            ap.error(f"--{name}: must be positive integers, got {value}")
    device = resolve_device(args.device)
    peak = matmul_peak(device)
    fused = "on" if device.type == "cpu" and kernels.compiled() is not None else "off"
    hand = "on" if device.type == "cpu" and hand_step_wanted() else "off"
    print(f"grokkit bench: device {device} ({torch.get_num_threads()} threads), torch {torch.__version__}; "
          f"float32 matmul peak measured {peak / 1e9:.0f} GFLOP/s; hand-written steps {hand}; "
          f"fused CPU kernels {fused}")
    tables = {name: bench_case(CASES[name], args.runs, args.steps, args.plain_runs, args.repeats, device, peak)
              for name in args.models}
    if args.save:
        Path(args.save).write_text(json.dumps({
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "device": str(device),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "grokkit": __version__,
            "peak_gflops": peak / 1e9, "hand_step": hand, "kernels": fused, "steps": args.steps,
            "repeats": args.repeats, "models": tables}, indent=2) + "\n")


if __name__ == "__main__":
    main()
