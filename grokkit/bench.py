"""Speed benchmark: ``python -m grokkit.bench``.

For paper 1's MLP at p = 59 (train fraction 0.4, full batch, AdamW, norm clamp on)
it prints, for N = 1, 16 and 64 runs:

* run-steps per second of grokkit's batched trainer;
* run-steps per second of the same runs trained one after another by a plain
  PyTorch loop (``nn.Module`` + ``torch.optim.AdamW``, concatenated embeddings, the
  way most grokking code trains);
* their ratio;
* the fraction of a float32 matmul peak that each achieves, counting the FLOPs
  each actually performs, with the peak measured in the same process.

Ratios, not seconds, are the point: absolute speed depends on the machine.
Every figure is the best of ``--repeats`` timings (like ``timeit``): on a shared
CPU the small steps of one run are noisy. Options: ``--p``, ``--runs 1 16 64``,
``--steps`` (timed steps per measurement), ``--repeats``, ``--device``.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import paper1
from .train import Trainer, resolve_device


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


def flops_grokkit(p: int, n_train: int, d: int = 128, h: int = 256) -> float:
    """FLOPs of one factorized training step of one run (matmuls, forward + backward)."""
    tables = 2 * (2 * p * d * h)  # E @ W1_top and E @ W1_bottom
    out = 2 * n_train * h * p  # h @ W2
    return 3 * (tables + out)


def flops_plain(p: int, n_train: int, d: int = 128, h: int = 256) -> float:
    """FLOPs of one plain training step: [E_a; E_b] @ W1 per example, then h @ W2."""
    return 3 * (2 * n_train * 2 * d * h + 2 * n_train * h * p)


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


def bench_plain(p: int, n_runs: int, steps: int, device: torch.device, target: float = 54.0,
                repeats: int = 3) -> float:
    """Run-steps per second of ``n_runs`` plain runs trained one after another (clamp on); for each
    run the best of ``repeats`` timings of ``steps`` steps, as for :func:`bench_grokkit`."""
    cfg = paper1(p=p)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(p * p, generator=g)[: cfg.n_train]
    x = torch.stack([perm // p, perm % p], dim=1).to(device)
    y = (x[:, 0] + x[:, 1]) % p
    total = 0.0
    for seed in range(n_runs):
        torch.manual_seed(seed)
        model = PlainMLP(p).to(device)
        weights = [model.embed.weight, model.hidden.weight, model.out.weight]
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0)

        def step() -> None:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                scale = target / torch.sqrt(sum(w.pow(2).sum() for w in weights))
                for w in weights:
                    w.mul_(scale)

        for _ in range(3):
            step()
        timings = []
        for _ in range(repeats):
            _sync(device)
            t = time.perf_counter()
            for _ in range(steps):
                step()
            _sync(device)
            timings.append(time.perf_counter() - t)
        total += min(timings)
    return n_runs * steps / total


def bench_grokkit(p: int, n_runs: int, steps: int, device: torch.device, target: float = 54.0,
                  repeats: int = 3) -> float:
    """Run-steps per second of ``n_runs`` runs trained as one grokkit batch (clamp on); the best of
    ``repeats`` timings of ``steps`` steps, as ``timeit`` does (small steps are noisy on a shared CPU)."""
    configs = [paper1(p=p, seed=s, max_steps=10**6, clamp_target=target, clamp_start=0) for s in range(n_runs)]
    trainer = Trainer(configs, device)
    for _ in range(3):
        trainer._train_step()
        trainer.step += 1
    best = 0.0
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        for _ in range(steps):
            trainer._train_step()
            trainer.step += 1
        _sync(device)
        best = max(best, n_runs * steps / (time.perf_counter() - t))
    return best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m grokkit.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--p", type=int, default=59)
    ap.add_argument("--runs", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--steps", type=int, default=40, help="timed steps per measurement")
    ap.add_argument("--plain-runs", type=int, default=4, help="plain runs timed (its rate does not depend on N)")
    ap.add_argument("--repeats", type=int, default=3, help="timings per measurement; the best one counts")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    n_train = paper1(p=args.p).n_train
    peak = matmul_peak(device)
    f_gk, f_plain = flops_grokkit(args.p, n_train), flops_plain(args.p, n_train)
    print(f"grokkit bench: paper-1 MLP, p={args.p}, train fraction 0.4 (n_train={n_train}), full batch, AdamW, clamp on")
    print(f"device {device} ({torch.get_num_threads()} threads), torch {torch.__version__}; "
          f"float32 matmul peak measured {peak / 1e9:.0f} GFLOP/s")
    print(f"matmul FLOPs per run-step: grokkit {f_gk / 1e6:.0f} M (factorized), plain {f_plain / 1e6:.0f} M; "
          f"ceiling at 100 % of peak: grokkit {peak / f_gk:.0f} run-steps/s, plain {peak / f_plain:.0f}")
    plain = bench_plain(args.p, args.plain_runs, args.steps, device, repeats=args.repeats)
    print(f"\n{'N':>4} {'grokkit run-steps/s':>20} {'plain run-steps/s':>18} {'ratio':>7} "
          f"{'grokkit % peak':>15} {'plain % peak':>13}")
    for n in args.runs:
        gk = bench_grokkit(args.p, n, args.steps, device, repeats=args.repeats)
        print(f"{n:>4} {gk:>20.0f} {plain:>18.0f} {gk / plain:>6.1f}x "
              f"{100 * gk * f_gk / peak:>14.0f}% {100 * plain * f_plain / peak:>12.0f}%")


if __name__ == "__main__":
    main()
