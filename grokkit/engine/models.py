"""Batched models, as the papers define them.

Every parameter carries a leading run axis ``N``: ``params["W1"]`` of the MLP is
``[N, 2d, H]``, and ``forward`` maps inputs ``[N, M, ...]`` to logits ``[N, M, C]``.
Weights are stored in ``x @ W`` orientation (input dimension first).

Each model declares

* ``counted``: the parameters in "the weight norm"; they are also the ones that
  receive weight decay and that the clamp rescales (papers 1 and 2: the weight
  matrices only; paper 3: every parameter);
* ``groups``: named groups (embedding, hidden, attention, unembedding, ...) for
  per-group norms and single-group clamps.

The forwards are exact rewrites that skip work the output never reads:

* MLP: ``[E_a; E_b] @ W1 = (E @ W1_top)[a] + (E @ W1_bot)[b]``, so the first layer
  costs p rows instead of one row per example;
* attention models: the logits read only the last position, so queries, the
  attention output and the MLP are computed for that position alone, and every
  per-token quantity (keys, values, values times W_O) is a table over the
  vocabulary, gathered per example.

Gathers use ``index_select`` on a flattened ``[N * R, C]`` view: its backward is a
fast index_add, unlike advanced indexing's.

The MLP, the attention model and the encoder also have a hand-written training step,
``loss_and_grads`` (forward, loss and backward without autograd, in buffers kept from step to
step, so that no step maps fresh memory), which the trainer uses on the CPU (``hand_written``);
each equals autograd through its ``forward`` up to float rounding
(tests/engine/test_fast_step.py). ``GROKKIT_HAND_STEP=0`` makes the trainer use autograd
everywhere. The attention model's and the encoder's steps (:class:`PieceStep`) compute a run's
examples in :data:`PIECES` fixed pieces, each piece's sums apart, so that a single run's pieces
can go to different threads (:func:`grokkit.engine.shards.split_work`) and a run rounds the same
whatever its batch, shard or threads (tests/engine/test_split_step.py). On a GPU the trainer
keeps autograd: there a step is bound by kernel launches, and that path is the one
tests/engine/test_cuda.py checked against the CPU.
"""

from __future__ import annotations

import math
import os
from functools import partial
from types import SimpleNamespace
from typing import Callable

import torch
import torch.nn.functional as F

from . import kernels, shards
from .config import RunConfig
from .tasks import n_classes

#: Named tensors with a leading run axis: a batch's parameters by name (or their gradients, or moments).
Weights = dict[str, torch.Tensor]


def gather_rows(table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Per-run row gather: ``out[n, m] = table[n, idx[n, m]]``.

    ``table`` is ``[N, R, *C]`` and ``idx`` is ``[N, M]`` (long); returns ``[N, M, *C]``.
    """
    n, r = table.shape[:2]
    rest = table.shape[2:]
    offsets = (torch.arange(n, device=idx.device) * r).unsqueeze(1)
    flat = table.reshape(n * r, *rest)
    out = flat.index_select(0, (idx + offsets).reshape(-1))
    return out.view(n, idx.shape[1], *rest)


def _ln(x: torch.Tensor) -> torch.Tensor:
    """Parameter-free LayerNorm over the last axis (eps 1e-5, biased variance)."""
    return F.layer_norm(x, x.shape[-1:], eps=1e-5)


def _normal(g: torch.Generator, *shape: int, std: float) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64) * std


def _uniform(g: torch.Generator, *shape: int, bound: float) -> torch.Tensor:
    return (torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) * bound


class Model:
    """Base class: a batched functional model.

    Subclasses set ``counted`` and ``groups`` and implement ``init_params`` (one
    run, float64, drawn from the run's generator) and ``forward``.
    """

    counted: tuple[str, ...] = ()
    groups: dict[str, tuple[str, ...]] = {}
    #: whether the model has a hand-written CPU training step, ``loss_and_grads(params, x, y,
    #: temperature, loss)``: each run's mean loss ``[N]`` and the gradients of their sum
    hand_written: bool = False

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.n_classes = n_classes(cfg)

    def init_params(self, g: torch.Generator) -> Weights:
        raise NotImplementedError

    def forward(self, params: Weights, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def group_names(self, group: str | None) -> tuple[str, ...]:
        """Parameter names of a named group (``None``: the counted parameters)."""
        if group is None:
            return self.counted
        if group not in self.groups:
            raise ValueError(f"clamp_group: unknown group {group!r} for model {self.cfg.model!r}; "
                             f"expected one of {sorted(self.groups)}")
        return self.groups[group]

    def _buffer(self, name: str, shape: tuple[int, ...] | torch.Size, like: torch.Tensor,
                zero: bool = False) -> torch.Tensor:
        """A work buffer kept from call to call (``zero``: zero-filled when first made)."""
        ws = self.__dict__.setdefault("_workspace", {})
        b = ws.get(name)
        if b is None or b.shape != tuple(shape) or b.dtype != like.dtype or b.device != like.device:
            b = ws[name] = (torch.zeros if zero else torch.empty)(shape, dtype=like.dtype, device=like.device)
        return b

    def _scratch(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """A contiguous ``shape`` view of a flat work buffer kept from call to call, grown when too small
        (one per name: the chunks of a step share it whatever their sizes)."""
        ws = self.__dict__.setdefault("_workspace", {})
        numel = math.prod(shape)
        b = ws.get(name)
        if b is None or b.numel() < numel or b.dtype != like.dtype or b.device != like.device:
            b = ws[name] = torch.empty(numel, dtype=like.dtype, device=like.device)
        return b[:numel].view(shape)


def hand_step_wanted() -> bool:
    """Whether ``GROKKIT_HAND_STEP`` lets the trainer use the models' hand-written CPU steps (unset: yes;
    ``0``: autograd for every model)."""
    value = os.environ.get("GROKKIT_HAND_STEP", "1").strip()
    if value not in ("0", "1"):
        raise ValueError(f"GROKKIT_HAND_STEP: must be 0 (autograd) or 1 (the hand-written steps), got {value!r}")
    return value == "1"


#: Pieces a run's examples are split into by the attention model's and the encoder's hand-written
#: steps (fixed: a run's rounding must not depend on the threads that compute it).
PIECES = 2


def piece_bounds(m: int) -> list[tuple[int, int]]:
    """The pieces of a run's ``m`` examples: ``[0, ceil(m / 2))`` and ``[ceil(m / 2), m)``."""
    if m < PIECES:
        return [(0, m)]
    cuts = [(m * i + PIECES - 1) // PIECES for i in range(PIECES + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def work_plan(n: int, n_pieces: int, workers: int, per_chunk: int) -> list[list[tuple[int, int, int]]]:
    """The pieces of ``n`` runs dealt to ``workers`` threads: for each, its chunks ``(piece, first run,
    end run)`` of at most ``per_chunk`` consecutive runs' same piece. Pieces are ordered piece by
    piece, then run by run, and each worker takes an equal run of them: one run on two workers
    gives each one piece."""
    units = [(s, r) for s in range(n_pieces) for r in range(n)]
    workers = max(1, min(workers, len(units)))
    plans = []
    for w in range(workers):
        chunks: list[tuple[int, int, int]] = []
        for s, r in units[len(units) * w // workers:len(units) * (w + 1) // workers]:
            if chunks and chunks[-1][0] == s and chunks[-1][2] == r and r - chunks[-1][1] < per_chunk:
                chunks[-1] = (s, chunks[-1][1], r + 1)
            else:
                chunks.append((s, r, r + 1))
        plans.append(chunks)
    return plans


def _modes_active() -> bool:
    """Whether a torch dispatch or function mode is active in this thread (a FLOP counter, say): such
    modes are per thread, so the step then stays in this one."""
    return bool(torch._C._len_torch_dispatch_stack() or torch._C._len_torch_function_stack())


def _heads(t: torch.Tensor, nh: int) -> torch.Tensor:
    """``[N, R, d]`` rows split into heads, head-major: ``[N * nh, R, d / nh]`` (a copy)."""
    n, r, d = t.shape
    return t.view(n, r, nh, d // nh).transpose(1, 2).reshape(n * nh, r, d // nh)


def _unheads(t: torch.Tensor, n: int) -> torch.Tensor:
    """The inverse of :func:`_heads`: ``[N * nh, R, dh]`` to ``[N, R, nh * dh]`` (a copy)."""
    nh_n, r, dh = t.shape
    return t.view(n, nh_n // n, r, dh).transpose(1, 2).reshape(n, r, -1)


class PieceStep(Model):
    """The hand-written CPU step of the attention model and the encoder (``loss_and_grads``).

    A step has three phases. The per-token tables (keys, values through W_O, scores ...) are
    computed for every run at once. Then each run's examples, in :data:`PIECES` fixed pieces,
    go forward and backward through attention, the MLP block, the unembedding and the loss, a
    chunk of pieces at a time in buffers kept from step to step; every sum over a piece's
    examples (a weight's gradient, a table's) is that piece's own, and the pieces' sums are added
    at the end. With more than one intra-op thread the pieces are dealt to that many threads of
    one intra-op thread each (:func:`grokkit.engine.shards.split_work`). Last, the tables'
    gradients go back to the weights, for every run at once. Elementwise passes are fused kernels
    (:func:`grokkit.engine.kernels.for_step`) or, with ``GROKKIT_KERNELS=0``, the same in torch
    operations. Gradients are work buffers: valid until the next call.
    """

    hand_written = True

    def _examples_per_chunk(self) -> int:
        """Numbers per run and example of a chunk's widest activations."""
        return self.cfg.d_hidden

    @torch.no_grad()
    def loss_and_grads(self, params: Weights, x: torch.Tensor, y: torch.Tensor, temperature: torch.Tensor,
                       loss: str) -> tuple[torch.Tensor, Weights]:
        """Each run's mean loss on ``(x, y)`` (logits over the run's temperature), ``[N]``, and the
        gradients of their sum: what autograd gives through :meth:`forward`, to float rounding."""
        if loss not in ("ce", "mse"):
            raise ValueError(f"loss: unknown loss {loss!r}; expected 'ce' or 'mse'")
        like = next(iter(params.values()))
        n, m = x.shape[:2]
        bounds = piece_bounds(m)
        with shards.one_intra_op_thread() as threads:
            ctx = SimpleNamespace(P=params, like=like, n=n, m=m, mse=loss == "mse", tau=temperature,
                                  ops=kernels.for_step(like), gelu=kernels.for_mlp_step(like))
            ctx.grads = {k: self._buffer("d" + k, v.shape, v) for k, v in params.items()}
            ctx.bounds = bounds
            self._tables(ctx)
            self._pieces(ctx, x, y)
            ctx.loss = self._buffer("loss_parts", (len(bounds), n), like)
            per_chunk = max(1, (1 << 19) // (bounds[0][1] * self._examples_per_chunk()))
            workers = 1 if _modes_active() else threads
            plan = work_plan(n, len(bounds), workers, per_chunk)
            shards.split_work([partial(self._chunks, ctx, chunks, w) for w, chunks in enumerate(plan)])
            per_run = self._total(ctx.loss, torch.empty(n, dtype=like.dtype, device=like.device))
            self._finish(ctx)
        return per_run, ctx.grads

    def _chunks(self, ctx: SimpleNamespace, chunks: list[tuple[int, int, int]], worker: int) -> None:
        for s, r0, r1 in chunks:
            self._chunk(ctx, s, r0, r1, f"@{worker}")

    def _parts(self, ctx: SimpleNamespace, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        """A buffer of every piece's partial sums of something ``shape`` per run: ``[pieces, N, *shape]``."""
        return self._buffer("part_" + name, (len(ctx.bounds), ctx.n, *shape), ctx.like)

    @staticmethod
    def _total(parts: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The pieces' partial sums ``[pieces, ...]`` added up, in piece order, into ``out``."""
        if parts.shape[0] == 1:
            return out.copy_(parts[0])
        torch.add(parts[0], parts[1], out=out)
        for part in parts[2:]:
            out.add_(part)
        return out

    def _gelu(self, ctx: SimpleNamespace, u: torch.Tensor, key: str) -> tuple[torch.Tensor, torch.Tensor]:
        """GELU of ``u``: ``(act, saved)``, where ``saved`` is the slope (the fused float32 pass, in
        place) or ``u`` itself (torch's exact GELU)."""
        if ctx.gelu is not None:
            slope = self._scratch("slope" + key, tuple(u.shape), u)
            ctx.gelu.gelu_slope_(u, slope)
            return u, slope
        act = self._scratch("act" + key, tuple(u.shape), u)
        torch.ops.aten.gelu.out(u, out=act)
        return act, u

    @staticmethod
    def _gelu_back(ctx: SimpleNamespace, dact: torch.Tensor, saved: torch.Tensor,
                   sums: torch.Tensor | None) -> torch.Tensor:
        """GELU's backward in place on ``dact``, and (``sums``) each piece's column sums of the result."""
        if ctx.gelu is not None:
            ctx.gelu.gelu_grad_(dact, saved, sums if sums is not None else dact, sums is not None)
            return dact
        du = torch.ops.aten.gelu_backward.grad_input(dact, saved, grad_input=dact)
        if sums is not None:
            ctx.ops.col_sums(du, sums)
        return du

    @staticmethod
    def _padded(ctx: SimpleNamespace, name: str, w: torch.Tensor, buf: Callable) -> torch.Tensor:
        """``w / tau`` ``[N, ..., C]`` at an aligned width (a multiple of 16; the padded columns stay 0).

        Skinny products run faster at an aligned width; and the logits' gradient ``dz``, kept at that
        width, puts every piece of a chunk at a 64-byte boundary: MKL's products may round by the
        alignment of their operands (measured: a piece at an offset of 1,352 bytes in a float64
        chunk rounded otherwise than alone), and a piece must round the same in any chunk or batch.
        Every other operand of a product, per piece or per run (and per head), has d, the hidden
        width or the head width as its last axis, so it starts on a 64-byte boundary where those
        are multiples of 16 (128, 512 and 32 in every model of the book); products of other shapes
        are done as sums in kernels whose order is fixed."""
        c = w.shape[-1]
        out = buf(name, (*w.shape[:-1], c + (-c % 16)), w, zero=True)
        torch.div(w, ctx.tau.view(-1, *([1] * (w.dim() - 1))), out=out[..., :c])
        return out


class MLP(Model):
    """Papers 1 and 2: shared embedding E (p x d), [E_a; E_b] -> W1 (2d x H) + b1 -> GELU
    -> [parameter-free LN] -> W2 (H x p) + b2.

    Init: E ~ N(0, 1/d), W1 ~ N(0, 1/2d), W2 ~ N(0, 1/H), biases ~ 1e-6 N(0, 1).
    """

    counted = ("E", "W1", "W2")
    hand_written = True
    # "features": E and W1 together, everything before the unembedding (what a LayerNorm before W2
    # makes the output blind to the scale of)
    groups = {"embed": ("E",), "hidden": ("W1",), "unembed": ("W2",), "features": ("E", "W1")}

    def init_params(self, g: torch.Generator) -> Weights:
        p, d, h = self.cfg.p, self.cfg.d_embed, self.cfg.d_hidden
        return {
            "E": _normal(g, p, d, std=1 / math.sqrt(d)),
            "W1": _normal(g, 2 * d, h, std=1 / math.sqrt(2 * d)),
            "b1": _normal(g, h, std=1e-6),
            "W2": _normal(g, h, p, std=1 / math.sqrt(h)),
            "b2": _normal(g, p, std=1e-6),
        }

    def forward(self, params: Weights, x: torch.Tensor) -> torch.Tensor:
        E, W1 = params["E"], params["W1"]
        d = E.shape[-1]
        top = torch.bmm(E, W1[:, :d])  # [N, p, H]: what operand a contributes
        bot = torch.bmm(E, W1[:, d:])  # [N, p, H]: what operand b contributes
        pre = gather_rows(top, x[..., 0]) + gather_rows(bot, x[..., 1]) + params["b1"].unsqueeze(1)
        h = F.gelu(pre)
        if self.cfg.layernorm:
            h = _ln(h)
        W2, b2 = params["W2"], params["b2"]
        p = W2.shape[-1]
        pad = -p % 16
        if pad:  # skinny matmuls run faster on an aligned width; the padded logits are dropped
            W2, b2 = F.pad(W2, (0, pad)), F.pad(b2, (0, pad))
            return torch.baddbmm(b2.unsqueeze(1), h, W2)[..., :p]
        return torch.baddbmm(b2.unsqueeze(1), h, W2)

    # ------------------------------------------------------------ the training step, by hand
    @torch.no_grad()
    def loss_and_grads(self, params: Weights, x: torch.Tensor, y: torch.Tensor, temperature: torch.Tensor,
                       loss: str) -> tuple[torch.Tensor, Weights]:
        """The training step's forward and backward, written out (no autograd).

        Returns each run's mean loss ``[N]`` on ``(x, y)`` (logits divided by the run's
        temperature) and the gradients of their sum: what autograd gives for :meth:`forward`,
        up to float rounding. The first layer acts on the table of both operands at once: one
        bmm over ``2N`` matrices gives ``[E @ W1_top + b1; E @ W1_bot]``, and each example's
        pre-activation is the sum of two rows of it (an ``embedding_bag``). The hidden layer,
        the loss and their gradients are computed a few runs at a time, so the ``[runs, M, H]``
        activations stay in cache between the passes that read them, in buffers kept from
        call to call. The gradients are such buffers too: valid until the next call. In float32,
        the passes over the hidden layer and the cross-entropy are fused CPU kernels where they
        build (:mod:`grokkit.engine.kernels`: the embedding sum, GELU and its slope in one pass; the
        slope times the incoming gradient, scattered back into the table, in another).
        """
        E, W1, b1, W2, b2 = (params[k] for k in ("E", "W1", "b1", "W2", "b2"))
        n, p, d = E.shape
        hid, m, c = W1.shape[-1], x.shape[1], W2.shape[-1]
        cp = c + (-c % 16)  # an aligned width for the skinny matmuls (see forward)
        buf = self._buffer
        fused = kernels.for_mlp_step(E)
        grads = {k: buf("d" + k, v.shape, v) for k, v in params.items()}
        E2 = E.unsqueeze(1).expand(n, 2, p, d).reshape(2 * n, p, d)  # E twice per run
        table = torch.bmm(E2, W1.view(2 * n, d, hid), out=buf("table", (2 * n, p, hid), E))
        table.view(n, 2, p, hid)[:, 0].add_(b1.unsqueeze(1))
        offsets = torch.tensor([0, p], device=x.device) + 2 * p * torch.arange(n, device=x.device).view(n, 1, 1)
        bags = (x + offsets).view(n * m, 2)  # each example's two table rows
        # the second layer, divided by the temperature: z = h @ (W2 / tau) + b2 / tau, at the aligned
        # width (the padded columns stay 0); the backward needs no padding
        tau = temperature.view(n, 1, 1)
        W2z, b2z = buf("W2z", (n, hid, cp), E, zero=True), buf("b2z", (n, 1, cp), E, zero=True)
        torch.div(W2, tau, out=W2z[..., :c])
        torch.div(b2.unsqueeze(1), tau, out=b2z[..., :c])
        dtable = buf("dtable", table.shape, E).zero_()
        dW2t = buf("dW2t", (n, c, hid), E)
        db2 = buf("db2", (n, c), E)
        per_run = torch.empty(n, dtype=E.dtype, device=E.device)
        k = self._runs_per_chunk(m * hid, E.device)
        for lo in range(0, n, k):
            s, ex = slice(lo, min(n, lo + k)), slice(lo * m, min(n, lo + k) * m)
            nk = s.stop - lo
            act = buf("act", (k, m, hid), E)[:nk]
            if fused is not None:  # act and GELU's slope in one pass (grokkit.engine.kernels)
                slope = buf("slope", (k, m, hid), E)[:nk]
                fused.hidden_forward(table.view(-1, hid), bags[ex], act, slope)
            else:
                pre = F.embedding_bag(bags[ex], table.view(-1, hid), mode="sum").view(nk, m, hid)
                torch.ops.aten.gelu.out(pre, out=act)
            h = act
            if self.cfg.layernorm:
                h, mean, rstd = torch.native_layer_norm(act, [hid], None, None, 1e-5)
            zp = torch.baddbmm(b2z[s], h, W2z[s], out=buf("z", (k, m, cp), E)[:nk])
            z = zp[..., :c]
            target = y[s].unsqueeze(-1)
            if loss == "ce" and fused is not None:  # the same, in one pass
                dz = buf("dz", (k, m, c), E)[:nk]
                fused.cross_entropy(zp, c, y[s].contiguous(), per_run[s], dz)
            elif loss == "ce":  # dz = (softmax(z) - onehot(y)) / M, as autograd computes it
                logp = torch.log_softmax(z, dim=-1)
                per_run[s] = -logp.gather(-1, target).squeeze(-1).mean(dim=1)
                g = buf("g", (k, m, c), E)[:nk].zero_().scatter_(-1, target, -1.0 / m)
                dz = torch.ops.aten._log_softmax_backward_data(g, logp, -1, logp.dtype)
            elif loss == "mse":  # dz = 2 (z - onehot(y)) / M
                dz = z.contiguous()
                dz.scatter_add_(-1, target, torch.full_like(target, -1, dtype=dz.dtype))
                per_run[s] = dz.pow(2).sum(dim=-1).mean(dim=1)
                dz.mul_(2.0 / m)
            else:
                raise ValueError(f"loss: unknown loss {loss!r}; expected 'ce' or 'mse'")
            torch.sum(dz, dim=1, out=db2[s])
            torch.bmm(dz.transpose(1, 2), h, out=dW2t[s])
            dh = torch.bmm(dz, W2z[s, :, :c].transpose(1, 2), out=buf("dh", (k, m, hid), E)[:nk])
            if self.cfg.layernorm:
                dh = torch.ops.aten.native_layer_norm_backward(dh, act, [hid], mean, rstd, None, None,
                                                               [True, False, False])[0]
            if fused is not None:
                fused.hidden_backward(dh.contiguous(), slope, bags[ex], dtable.view(-1, hid), m)
            else:
                dpre = torch.ops.aten.gelu_backward.grad_input(dh, pre, grad_input=dh).view(-1, hid)
                dtable.view(-1, hid).index_add_(0, bags[ex, 0], dpre).index_add_(0, bags[ex, 1], dpre)
        torch.div(dW2t.transpose(1, 2), tau, out=grads["W2"])  # d/dlogits = dz / tau
        torch.div(db2, tau.view(n, 1), out=grads["b2"])
        torch.sum(dtable.view(n, 2, p, hid)[:, 0], dim=1, out=grads["b1"])
        torch.bmm(E2.transpose(1, 2), dtable, out=grads["W1"].view(2 * n, d, hid))
        dE2 = torch.bmm(dtable, W1.view(2 * n, d, hid).transpose(1, 2), out=buf("dE2", E2.shape, E))
        torch.sum(dE2.view(n, 2, p, d), dim=1, out=grads["E"])
        return per_run, grads

    @staticmethod
    def _runs_per_chunk(per_run: int, device: torch.device) -> int:
        """Runs per chunk of the hidden layer: on the CPU, about 2**19 numbers (2 MB in float32)
        per tensor and thread, so a chunk's activations stay in cache; on a GPU, all runs at once."""
        if device.type != "cpu":
            return 1 << 30
        return max(1, (torch.get_num_threads() << 19) // per_run)


class Attention(PieceStep):
    """Paper 1's one-layer attention model on tokens [a, b, '='] (vocabulary p + 1).

    E (V x d), learned positions (3 x d), 4 heads Wq Wk Wv Wo (d x d), MLP Win (d x 4d)
    -> GELU -> Wout (4d x d), unembedding U (d x V); no biases. The query comes from
    the '=' position. With ``layernorm``, parameter-free LNs act on the attention
    input (all positions), the MLP input and the unembedding input; the residual
    stream adds un-normalised values. All nine matrices count in the norm.
    Init: N(0, 1/fan_in) for every matrix, positions 0.1 N(0, 1/d).

    The CPU training step is :meth:`PieceStep.loss_and_grads`, written out below.
    """

    counted = ("E", "pos", "Wq", "Wk", "Wv", "Wo", "Win", "Wout", "U")
    groups = {"embed": ("E", "pos"), "attn": ("Wq", "Wk", "Wv", "Wo"), "mlp": ("Win", "Wout"), "unembed": ("U",)}

    def init_params(self, g: torch.Generator) -> Weights:
        v, d, h = self.cfg.p + 1, self.cfg.d_embed, self.cfg.d_hidden
        s = 1 / math.sqrt(d)
        return {
            "E": _normal(g, v, d, std=s),
            "pos": _normal(g, 3, d, std=0.1 * s),
            "Wq": _normal(g, d, d, std=s),
            "Wk": _normal(g, d, d, std=s),
            "Wv": _normal(g, d, d, std=s),
            "Wo": _normal(g, d, d, std=s),
            "Win": _normal(g, d, h, std=s),
            "Wout": _normal(g, h, d, std=1 / math.sqrt(h)),
            "U": _normal(g, d, v, std=s),
        }

    def forward(self, params: Weights, x: torch.Tensor) -> torch.Tensor:
        ln = _ln if self.cfg.layernorm else (lambda t: t)
        E, pos = params["E"], params["pos"]
        n, v, d = E.shape
        p, nh = v - 1, self.cfg.n_heads
        dh = d // nh
        tok = E[:, :p]  # operand tokens
        eq = E[:, p] + pos[:, 2]  # the '=' position's input, one per run: [N, d]
        x0, x1 = tok + pos[:, 0:1], tok + pos[:, 1:2]  # per-token inputs at positions 0 and 1
        q = (ln(eq).unsqueeze(1) @ params["Wq"]).view(n, nh, dh)  # [N, H, dh]

        def tables(xj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """Attention scores [N, T, H] and head outputs through Wo [N, T, H, d] per token."""
            nj = ln(xj)
            k = (nj @ params["Wk"]).view(n, -1, nh, dh)
            val = (nj @ params["Wv"]).view(n, -1, nh, dh)
            score = torch.einsum("nthd,nhd->nth", k, q) / math.sqrt(dh)
            vo = torch.einsum("nthe,nhed->nthd", val, params["Wo"].view(n, nh, dh, d))
            return score, vo

        s0, vo0 = tables(x0)
        s1, vo1 = tables(x1)
        s2, vo2 = tables(eq.unsqueeze(1))  # [N, 1, H], [N, 1, H, d]
        a, b = x[..., 0], x[..., 1]
        m = a.shape[1]
        scores = torch.stack([gather_rows(s0, a), gather_rows(s1, b), s2.expand(n, m, nh)], dim=-1)
        w = scores.softmax(dim=-1)  # [N, M, H, 3]
        attn = (w[..., 0:1] * gather_rows(vo0, a) + w[..., 1:2] * gather_rows(vo1, b)
                + w[..., 2:3] * vo2.expand(n, m, nh, d)).sum(dim=2)  # [N, M, d]
        resid = eq.unsqueeze(1) + attn
        resid = resid + F.gelu(ln(resid) @ params["Win"]) @ params["Wout"]
        return ln(resid) @ params["U"]

    # ------------------------------------------------------------ the training step, by hand (PieceStep)
    def _tables(self, ctx: SimpleNamespace) -> None:
        """Per-token tables of every run: rows ``[a's tokens; b's tokens; '=']`` (R = 2p + 1) of the
        input X, its LN Xn, keys, values through W_O per head ``VO [N, H, R, d]``, scores ``S [N, R, H]``."""
        P, buf, like = ctx.P, self._buffer, ctx.like
        E, pos = P["E"], P["pos"]
        n, v, d = E.shape
        p, nh = v - 1, self.cfg.n_heads
        dh, r = d // nh, 2 * v - 1
        ctx.p, ctx.d, ctx.nh, ctx.dh, ctx.R, ctx.C = p, d, nh, dh, r, P["U"].shape[-1]
        X = buf("X", (n, r, d), like)
        torch.add(E[:, :p], pos[:, 0:1], out=X[:, :p])
        torch.add(E[:, :p], pos[:, 1:2], out=X[:, p:2 * p])
        torch.add(E[:, p], pos[:, 2], out=X[:, 2 * p])
        if self.cfg.layernorm:
            Xn, ctx.Xmean, ctx.Xrstd = torch.native_layer_norm(X, [d], None, None, 1e-5)
        else:
            Xn = X
        ctx.X, ctx.Xn = X, Xn
        ctx.q = torch.bmm(Xn[:, 2 * p:], P["Wq"])  # [N, 1, d]: the query, from '=' only
        Kt = torch.bmm(Xn, P["Wk"], out=buf("Kt", (n, r, d), like))
        ctx.Kh = _heads(Kt, nh)  # [N * H, R, dh]
        ctx.Vh = _heads(torch.bmm(Xn, P["Wv"], out=buf("Vv", (n, r, d), like)), nh)
        ctx.S = (Kt.view(n, r, nh, dh) * ctx.q.view(n, 1, nh, dh)).sum(-1).div_(math.sqrt(dh))  # [N, R, H]
        ctx.VO = torch.bmm(ctx.Vh, P["Wo"].view(n * nh, dh, d), out=buf("VO", (n * nh, r, d), like)).view(n, nh, r, d)
        ctx.eq = buf("eq", (n, d), like).copy_(X[:, 2 * p])
        ctx.Uz = self._padded(ctx, "Uz", P["U"], buf)
        hid = P["Win"].shape[-1]
        ctx.pU, ctx.pWin, ctx.pWout = (self._parts(ctx, k, shape) for k, shape in
                                       (("U", (d, ctx.C)), ("Win", (d, hid)), ("Wout", (hid, d))))
        ctx.pdeq, ctx.pdS, ctx.pdVO = (self._parts(ctx, k, shape) for k, shape in
                                       (("deq", (d,)), ("dS", (r, nh)), ("dVO", (nh, r, d))))

    def _pieces(self, ctx: SimpleNamespace, x: torch.Tensor, y: torch.Tensor) -> None:
        offset = torch.tensor([0, ctx.p], device=x.device)
        ctx.rows = [(x[:, lo:hi] + offset).contiguous() for lo, hi in ctx.bounds]  # table rows of a and b
        ctx.ys = [y[:, lo:hi].contiguous() for lo, hi in ctx.bounds]

    def _chunk(self, ctx: SimpleNamespace, s: int, r0: int, r1: int, key: str) -> None:
        """Forward and backward of piece ``s`` of runs ``r0 .. r1 - 1``, into the pieces' partial sums."""
        P, sc, ops, ln, like = ctx.P, self._scratch, ctx.ops, self.cfg.layernorm, ctx.like
        rows, runs = ctx.rows[s][r0:r1], slice(r0, r1)
        k, mh = rows.shape[:2]
        d, c, Win, Wout, Uz = ctx.d, ctx.C, P["Win"][runs], P["Wout"][runs], ctx.Uz[runs]
        hid = Win.shape[-1]
        resid = sc("resid" + key, (k, mh, d), like)
        w = sc("w" + key, (k, mh, ctx.nh, 3), like)
        n1 = sc("n1" + key, (k, mh, d), like) if ln else resid
        rstd1 = sc("rstd1" + key, (k, mh), like) if ln else resid
        ops.attn_forward(ctx.S[runs], ctx.VO[runs], ctx.eq[runs], rows, ln, resid, w, n1, rstd1)
        act, saved = self._gelu(ctx, torch.bmm(n1, Win, out=sc("u" + key, (k, mh, hid), like)), key)
        r2 = torch.baddbmm(resid, act, Wout, out=sc("r2" + key, (k, mh, d), like))
        n2, mean2, rstd2 = torch.native_layer_norm(r2, [d], None, None, 1e-5) if ln else (r2, None, None)
        z = torch.bmm(n2, Uz, out=sc("z" + key, (k, mh, Uz.shape[-1]), like))
        dz = sc("dz" + key, (k, mh, Uz.shape[-1]), like)  # the aligned width (see _padded)
        ops.loss_sum(z, c, ctx.ys[s][runs], 1.0 / ctx.m, ctx.mse, ctx.loss[s, runs], dz)
        dz = dz[..., :c]
        torch.bmm(n2.transpose(1, 2), dz, out=ctx.pU[s, runs])
        dr2 = torch.bmm(dz, Uz[..., :c].transpose(1, 2), out=sc("dn2" + key, (k, mh, d), like))
        if ln:
            dr2 = torch.ops.aten.native_layer_norm_backward(dr2, r2, [d], mean2, rstd2, None, None,
                                                            [True, False, False])[0]
        torch.bmm(act.transpose(1, 2), dr2, out=ctx.pWout[s, runs])
        du = self._gelu_back(ctx, torch.bmm(dr2, Wout.transpose(1, 2), out=sc("dg" + key, (k, mh, hid), like)),
                             saved, None)
        torch.bmm(n1.transpose(1, 2), du, out=ctx.pWin[s, runs])
        dn1 = torch.bmm(du, Win.transpose(1, 2), out=sc("dn1" + key, (k, mh, d), like))
        ops.attn_backward(dr2, dn1, n1, rstd1, w, rows, ctx.VO[runs], ln, ctx.pdeq[s, runs], ctx.pdS[s, runs],
                          ctx.pdVO[s, runs])

    def _finish(self, ctx: SimpleNamespace) -> None:
        """The pieces' sums added up, and the tables' gradients taken back to the weights."""
        P, g, buf, like = ctx.P, ctx.grads, self._buffer, ctx.like
        n, p, d, nh, dh, r = ctx.n, ctx.p, ctx.d, ctx.nh, ctx.dh, ctx.R
        self._total(ctx.pU, g["U"]).div_(ctx.tau.view(n, 1, 1))
        self._total(ctx.pWin, g["Win"])
        self._total(ctx.pWout, g["Wout"])
        deq = self._total(ctx.pdeq, buf("deq", (n, d), like))
        dS = self._total(ctx.pdS, buf("dS", (n, r, nh), like)).div_(math.sqrt(dh))
        dVO = self._total(ctx.pdVO, buf("dVO", (n, nh, r, d), like)).view(n * nh, r, d)
        torch.bmm(ctx.Vh.transpose(1, 2), dVO, out=g["Wo"].view(n * nh, dh, d))
        dVv = _unheads(torch.bmm(dVO, P["Wo"].view(n * nh, dh, d).transpose(1, 2)), n)  # [N, R, d]
        dq = buf("dq", (n, 1, d), like)  # sum over rows of dS times the keys (col_sums: no alignment effects)
        ctx.ops.col_sums((dS.unsqueeze(-1) * ctx.Kh.view(n, nh, r, dh).transpose(1, 2)).reshape(n, r, d), dq.view(n, d))
        dK = (dS.unsqueeze(-1) * ctx.q.view(n, 1, nh, dh)).view(n, r, d)
        Xn = ctx.Xn
        torch.bmm(Xn[:, 2 * p:].transpose(1, 2), dq, out=g["Wq"])
        torch.bmm(Xn.transpose(1, 2), dK, out=g["Wk"])
        torch.bmm(Xn.transpose(1, 2), dVv, out=g["Wv"])
        dX = torch.bmm(dK, P["Wk"].transpose(1, 2), out=buf("dXn", (n, r, d), like))
        dX.baddbmm_(dVv, P["Wv"].transpose(1, 2))
        dX[:, 2 * p:].add_(torch.bmm(dq, P["Wq"].transpose(1, 2)))
        if self.cfg.layernorm:
            dX = torch.ops.aten.native_layer_norm_backward(dX, ctx.X, [d], ctx.Xmean, ctx.Xrstd, None, None,
                                                           [True, False, False])[0]
        dX[:, 2 * p].add_(deq)  # the residual stream starts from '=''s input
        torch.add(dX[:, :p], dX[:, p:2 * p], out=g["E"][:, :p])
        g["E"][:, p].copy_(dX[:, 2 * p])
        sums = buf("dpos01", (n, 2, d), like)
        ctx.ops.col_sums(dX[:, :2 * p].reshape(2 * n, p, d), sums.view(2 * n, d))
        g["pos"][:, :2].copy_(sums)
        g["pos"][:, 2].copy_(dX[:, 2 * p])


class Encoder(PieceStep):
    """Paper 3's model: token (p x d) and position (2 x d) embeddings, one post-LN
    ``nn.TransformerEncoderLayer`` (4 heads, FFN 4d... as configured, GELU, no dropout),
    a final LayerNorm on the last position and a linear head with bias.

    PyTorch's default init: embeddings N(0, 1); in-projection Xavier-uniform with zero
    bias; out-projection U(+-1/sqrt(d)) with zero bias; FFN and head weights and biases
    U(+-1/sqrt(fan_in)); LayerNorm gains 1 and biases 0. Every parameter counts in the
    norm (paper 3's V = ||theta||^2) and is decayed.

    The CPU training step is :meth:`PieceStep.loss_and_grads`, written out below. The key bias
    ``bk`` gets a gradient that is zero in exact arithmetic (it adds one constant to all of a
    query's scores); both steps give it rounding noise, each its own.
    """

    _names = ("E", "P", "Wq", "Wk", "Wv", "bq", "bk", "bv", "Wo", "bo", "W1", "c1", "W2", "c2",
              "g1", "h1", "g2", "h2", "gf", "hf", "Wh", "bh")
    counted = _names
    groups = {
        "embed": ("E", "P"),
        "attn": ("Wq", "Wk", "Wv", "bq", "bk", "bv", "Wo", "bo"),
        "mlp": ("W1", "c1", "W2", "c2"),
        "norm": ("g1", "h1", "g2", "h2", "gf", "hf"),
        "unembed": ("Wh", "bh"),
    }

    def init_params(self, g: torch.Generator) -> Weights:
        p, d, f = self.cfg.p, self.cfg.d_embed, self.cfg.d_hidden
        xavier = math.sqrt(6 / (d + 3 * d))  # in_proj_weight is one [3d, d] matrix
        inproj = _uniform(g, 3 * d, d, bound=xavier)  # rows: q, k, v (torch's layout, out x in)
        params = {
            "E": _normal(g, p, d, std=1.0),
            "P": _normal(g, 2, d, std=1.0),
            "Wq": inproj[:d].T.contiguous(),
            "Wk": inproj[d:2 * d].T.contiguous(),
            "Wv": inproj[2 * d:].T.contiguous(),
            "bq": torch.zeros(d, dtype=torch.float64),
            "bk": torch.zeros(d, dtype=torch.float64),
            "bv": torch.zeros(d, dtype=torch.float64),
            "Wo": _uniform(g, d, d, bound=1 / math.sqrt(d)).T.contiguous(),
            "bo": torch.zeros(d, dtype=torch.float64),
            "W1": _uniform(g, f, d, bound=1 / math.sqrt(d)).T.contiguous(),
            "c1": _uniform(g, f, bound=1 / math.sqrt(d)),
            "W2": _uniform(g, d, f, bound=1 / math.sqrt(f)).T.contiguous(),
            "c2": _uniform(g, d, bound=1 / math.sqrt(f)),
            "g1": torch.ones(d, dtype=torch.float64),
            "h1": torch.zeros(d, dtype=torch.float64),
            "g2": torch.ones(d, dtype=torch.float64),
            "h2": torch.zeros(d, dtype=torch.float64),
            "gf": torch.ones(d, dtype=torch.float64),
            "hf": torch.zeros(d, dtype=torch.float64),
            "Wh": _uniform(g, p, d, bound=1 / math.sqrt(d)).T.contiguous(),
            "bh": _uniform(g, p, bound=1 / math.sqrt(d)),
        }
        return params

    def forward(self, params: Weights, x: torch.Tensor) -> torch.Tensor:
        P = params
        n, p, d = P["E"].shape
        nh = self.cfg.n_heads
        dh = d // nh

        def lin(t: torch.Tensor, w: str, b: str) -> torch.Tensor:
            return torch.baddbmm(P[b].unsqueeze(1), t, P[w]) if t.dim() == 3 else t @ P[w] + P[b]

        def affine_ln(t: torch.Tensor, gname: str, hname: str) -> torch.Tensor:
            return _ln(t) * P[gname].unsqueeze(1) + P[hname].unsqueeze(1)

        x0 = P["E"] + P["P"][:, 0:1]  # token tables at position 0 (operand a) and 1 (operand b)
        x1 = P["E"] + P["P"][:, 1:2]
        q1 = lin(x1, "Wq", "bq").view(n, p, nh, dh)  # the query comes from the last position
        k0 = lin(x0, "Wk", "bk").view(n, p, nh, dh)
        k1 = lin(x1, "Wk", "bk").view(n, p, nh, dh)
        wo = P["Wo"].view(n, nh, dh, d)
        vo0 = torch.einsum("nthe,nhed->nthd", lin(x0, "Wv", "bv").view(n, p, nh, dh), wo)
        vo1 = torch.einsum("nthe,nhed->nthd", lin(x1, "Wv", "bv").view(n, p, nh, dh), wo)
        s11 = (q1 * k1).sum(-1) / math.sqrt(dh)  # [N, p, H]: score of b's query on its own key
        a, b = x[..., 0], x[..., 1]
        qb = gather_rows(q1, b)  # [N, M, H, dh]
        s0 = (qb * gather_rows(k0, a)).sum(-1) / math.sqrt(dh)
        w = torch.stack([s0, gather_rows(s11, b)], dim=-1).softmax(dim=-1)  # [N, M, H, 2]
        attn = (w[..., 0:1] * gather_rows(vo0, a) + w[..., 1:2] * gather_rows(vo1, b)).sum(dim=2)
        y = affine_ln(gather_rows(x1, b) + attn + P["bo"].unsqueeze(1), "g1", "h1")
        ff = lin(F.gelu(lin(y, "W1", "c1")), "W2", "c2")
        z = affine_ln(y + ff, "g2", "h2")
        return lin(affine_ln(z, "gf", "hf"), "Wh", "bh")

    # ------------------------------------------------------------ the training step, by hand (PieceStep)
    def _tables(self, ctx: SimpleNamespace) -> None:
        """Per-token tables of every run: inputs ``X [N, 2p, d]`` (a's tokens, then b's), b's queries,
        keys and values (with their biases), values through W_O per head ``VO [N, H, 2p, d]`` and
        each b token's score on its own key ``s11 [N, p, H]``."""
        P, buf, like = ctx.P, self._buffer, ctx.like
        E = P["E"]
        n, p, d = E.shape
        nh = self.cfg.n_heads
        dh = d // nh
        ctx.p, ctx.d, ctx.nh, ctx.dh, ctx.C = p, d, nh, dh, P["Wh"].shape[-1]
        X = buf("X", (n, 2 * p, d), like)
        torch.add(E, P["P"][:, 0:1], out=X[:, :p])
        torch.add(E, P["P"][:, 1:2], out=X[:, p:])
        ctx.X = X
        ctx.Q = torch.baddbmm(P["bq"].unsqueeze(1), X[:, p:], P["Wq"], out=buf("Q", (n, p, d), like))
        ctx.Kt = torch.baddbmm(P["bk"].unsqueeze(1), X, P["Wk"], out=buf("Kt", (n, 2 * p, d), like))
        Vv = torch.baddbmm(P["bv"].unsqueeze(1), X, P["Wv"], out=buf("Vv", (n, 2 * p, d), like))
        ctx.Vh = _heads(Vv, nh)
        ctx.VO = torch.bmm(ctx.Vh, P["Wo"].view(n * nh, dh, d),
                           out=buf("VO", (n * nh, 2 * p, d), like)).view(n, nh, 2 * p, d)
        ctx.s11 = (ctx.Q.view(n, p, nh, dh) * ctx.Kt[:, p:].view(n, p, nh, dh)).sum(-1).div_(math.sqrt(dh))
        ctx.Whz = self._padded(ctx, "Whz", P["Wh"], buf)
        ctx.bhz = self._padded(ctx, "bhz", P["bh"].unsqueeze(1), buf)
        f = P["W1"].shape[-1]
        parts = {"Wh": (d, ctx.C), "bh": (ctx.Whz.shape[-1],), "W2": (f, d), "c1": (f,), "W1": (d, f),
                 "dx1": (p, d), "dQ": (p, d), "dKt": (2 * p, d), "ds11": (p, nh), "dVO": (nh, 2 * p, d),
                 **{k: (d,) for k in ("gf", "hf", "g2", "h2", "c2", "g1", "h1", "bo")}}
        for name, shape in parts.items():
            setattr(ctx, "p" + name, self._parts(ctx, name, shape))

    def _pieces(self, ctx: SimpleNamespace, x: torch.Tensor, y: torch.Tensor) -> None:
        ctx.ab = [x[:, lo:hi].contiguous() for lo, hi in ctx.bounds]
        ctx.ys = [y[:, lo:hi].contiguous() for lo, hi in ctx.bounds]

    def _chunk(self, ctx: SimpleNamespace, s: int, r0: int, r1: int, key: str) -> None:
        """Forward and backward of piece ``s`` of runs ``r0 .. r1 - 1``, into the pieces' partial sums."""
        P, sc, ops, like, runs = ctx.P, self._scratch, ctx.ops, ctx.like, slice(r0, r1)
        ab = ctx.ab[s][runs]
        k, mh = ab.shape[:2]
        d, c, scale = ctx.d, ctx.C, math.sqrt(ctx.dh)
        W1, W2, Whz = P["W1"][runs], P["W2"][runs], ctx.Whz[runs]
        f = W1.shape[-1]
        y1, yhat = sc("y" + key, (k, mh, d), like), sc("yhat" + key, (k, mh, d), like)
        rstd1, w = sc("rstd1" + key, (k, mh), like), sc("w" + key, (k, mh, ctx.nh, 2), like)
        ops.enc_forward(ctx.Q[runs], ctx.Kt[runs], ctx.s11[runs], ctx.VO[runs], ctx.X[runs], P["bo"][runs],
                        P["g1"][runs], P["h1"][runs], ab, scale, y1, yhat, rstd1, w)
        u = torch.baddbmm(P["c1"][runs].unsqueeze(1), y1, W1, out=sc("u" + key, (k, mh, f), like))
        act, saved = self._gelu(ctx, u, key)
        r2 = torch.baddbmm(y1, act, W2, out=sc("r2" + key, (k, mh, d), like))  # y + the FFN, less c2
        z2hat, zfhat, zf = (sc(name + key, (k, mh, d), like) for name in ("z2hat", "zfhat", "zf"))
        rstd2, rstdf = sc("rstd2" + key, (k, mh), like), sc("rstdf" + key, (k, mh), like)
        ops.ln2f_forward(r2, P["c2"][runs], P["g2"][runs], P["h2"][runs], P["gf"][runs], P["hf"][runs], z2hat, rstd2,
                         zfhat, rstdf, zf)
        z = torch.baddbmm(ctx.bhz[runs], zf, Whz, out=sc("z" + key, (k, mh, Whz.shape[-1]), like))
        dz = sc("dz" + key, (k, mh, Whz.shape[-1]), like)  # the aligned width (see _padded)
        ops.loss_sum(z, c, ctx.ys[s][runs], 1.0 / ctx.m, ctx.mse, ctx.loss[s, runs], dz)
        ops.col_sums(dz, ctx.pbh[s, runs])
        dz = dz[..., :c]
        torch.bmm(zf.transpose(1, 2), dz, out=ctx.pWh[s, runs])
        dzf = torch.bmm(dz, Whz[..., :c].transpose(1, 2), out=sc("dzf" + key, (k, mh, d), like))
        dr2 = sc("dr2" + key, (k, mh, d), like)
        ops.ln2f_backward(dzf, z2hat, rstd2, zfhat, rstdf, P["g2"][runs], P["gf"][runs], dr2, ctx.pgf[s, runs],
                          ctx.phf[s, runs], ctx.pg2[s, runs], ctx.ph2[s, runs], ctx.pc2[s, runs])
        torch.bmm(act.transpose(1, 2), dr2, out=ctx.pW2[s, runs])
        du = self._gelu_back(ctx, torch.bmm(dr2, W2.transpose(1, 2), out=sc("dg" + key, (k, mh, f), like)), saved,
                             ctx.pc1[s, runs])
        torch.bmm(y1.transpose(1, 2), du, out=ctx.pW1[s, runs])
        dy = torch.baddbmm(dr2, du, W1.transpose(1, 2), out=sc("dy" + key, (k, mh, d), like))
        ops.enc_backward(dy, yhat, rstd1, w, ab, ctx.Q[runs], ctx.Kt[runs], ctx.VO[runs], P["g1"][runs], scale,
                         ctx.pg1[s, runs], ctx.ph1[s, runs], ctx.pbo[s, runs], ctx.pdx1[s, runs], ctx.pdQ[s, runs],
                         ctx.pdKt[s, runs], ctx.pds11[s, runs], ctx.pdVO[s, runs])

    def _finish(self, ctx: SimpleNamespace) -> None:
        """The pieces' sums added up, and the tables' gradients taken back to the weights."""
        P, g, buf, like, ops = ctx.P, ctx.grads, self._buffer, ctx.like, ctx.ops
        n, p, d, nh, dh = ctx.n, ctx.p, ctx.d, ctx.nh, ctx.dh
        self._total(ctx.pWh, g["Wh"]).div_(ctx.tau.view(n, 1, 1))
        dbh = self._total(ctx.pbh, buf("dbhz", ctx.pbh.shape[1:], like))  # at the aligned width
        torch.div(dbh[:, :ctx.C], ctx.tau.view(n, 1), out=g["bh"])
        for name in ("gf", "hf", "g2", "h2", "c2", "W2", "c1", "W1", "g1", "h1", "bo"):
            self._total(getattr(ctx, "p" + name), g[name])
        dx1 = self._total(ctx.pdx1, buf("dx1", (n, p, d), like))
        dQ = self._total(ctx.pdQ, buf("dQ", (n, p, d), like))
        dK = self._total(ctx.pdKt, buf("dKt", (n, 2 * p, d), like))
        ds11 = self._total(ctx.pds11, buf("ds11", (n, p, nh), like)).div_(math.sqrt(dh)).unsqueeze(-1)
        dVO = self._total(ctx.pdVO, buf("dVO", (n, nh, 2 * p, d), like)).view(n * nh, 2 * p, d)
        dQ.view(n, p, nh, dh).addcmul_(ds11, ctx.Kt[:, p:].view(n, p, nh, dh))  # s11 = q1 . k1
        dK[:, p:].view(n, p, nh, dh).addcmul_(ds11, ctx.Q.view(n, p, nh, dh))
        torch.bmm(ctx.Vh.transpose(1, 2), dVO, out=g["Wo"].view(n * nh, dh, d))
        dVv = _unheads(torch.bmm(dVO, P["Wo"].view(n * nh, dh, d).transpose(1, 2)), n)  # [N, 2p, d]
        ops.col_sums(dQ, g["bq"])
        ops.col_sums(dK, g["bk"])
        ops.col_sums(dVv, g["bv"])
        X = ctx.X
        torch.bmm(X[:, p:].transpose(1, 2), dQ, out=g["Wq"])
        torch.bmm(X.transpose(1, 2), dK, out=g["Wk"])
        torch.bmm(X.transpose(1, 2), dVv, out=g["Wv"])
        dX = torch.bmm(dK, P["Wk"].transpose(1, 2), out=buf("dX", (n, 2 * p, d), like))
        dX.baddbmm_(dVv, P["Wv"].transpose(1, 2))
        dX[:, p:].add_(torch.bmm(dQ, P["Wq"].transpose(1, 2))).add_(dx1)
        torch.add(dX[:, :p], dX[:, p:], out=g["E"])
        ops.col_sums(dX.view(2 * n, p, d), g["P"].view(2 * n, d))


class ParityMLP(Model):
    """Paper 1's sparse-parity MLP: n -> H (GELU) -> 2, with biases.
    Init: W1 ~ N(0, 1/n), W2 ~ N(0, 1/H), biases 0. The norm counts W1 and W2."""

    counted = ("W1", "W2")
    groups = {"hidden": ("W1",), "out": ("W2",)}

    def init_params(self, g: torch.Generator) -> Weights:
        n, h = self.cfg.parity_n, self.cfg.d_hidden
        return {
            "W1": _normal(g, n, h, std=1 / math.sqrt(n)),
            "b1": torch.zeros(h, dtype=torch.float64),
            "W2": _normal(g, h, 2, std=1 / math.sqrt(h)),
            "b2": torch.zeros(2, dtype=torch.float64),
        }

    def forward(self, params: Weights, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(torch.baddbmm(params["b1"].unsqueeze(1), x, params["W1"]))
        return torch.baddbmm(params["b2"].unsqueeze(1), h, params["W2"])


MODEL_CLASSES: dict[str, Callable[[RunConfig], Model]] = {
    "mlp": MLP,
    "attn": Attention,
    "encoder": Encoder,
    "parity_mlp": ParityMLP,
}


def build_model(cfg: RunConfig) -> Model:
    """The model of a run config (shapes come from the config)."""
    model = MODEL_CLASSES[cfg.model](cfg)
    if cfg.clamp_group is not None:
        model.group_names(cfg.clamp_group)  # raises a clear error for an unknown group
    return model
