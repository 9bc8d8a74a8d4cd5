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

The MLP also has a hand-written training step, :meth:`MLP.loss_and_grads` (forward, loss
and backward without autograd, a few runs at a time), which the trainer uses on the CPU; it
equals autograd through :meth:`MLP.forward` up to float rounding (tests/test_fast_step.py). On
a GPU the trainer keeps autograd: there a step is bound by kernel launches, and that path is the
one tests/test_cuda.py checked against the CPU.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from . import kernels
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


class MLP(Model):
    """Papers 1 and 2: shared embedding E (p x d), [E_a; E_b] -> W1 (2d x H) + b1 -> GELU
    -> [parameter-free LN] -> W2 (H x p) + b2.

    Init: E ~ N(0, 1/d), W1 ~ N(0, 1/2d), W2 ~ N(0, 1/H), biases ~ 1e-6 N(0, 1).
    """

    counted = ("E", "W1", "W2")
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

    def _buffer(self, name: str, shape: tuple[int, ...] | torch.Size, like: torch.Tensor,
                zero: bool = False) -> torch.Tensor:
        """A work buffer kept from call to call (``zero``: zero-filled when first made)."""
        ws = self.__dict__.setdefault("_workspace", {})
        b = ws.get(name)
        if b is None or b.shape != tuple(shape) or b.dtype != like.dtype or b.device != like.device:
            b = ws[name] = (torch.zeros if zero else torch.empty)(shape, dtype=like.dtype, device=like.device)
        return b

    @staticmethod
    def _runs_per_chunk(per_run: int, device: torch.device) -> int:
        """Runs per chunk of the hidden layer: on the CPU, about 2**19 numbers (2 MB in float32)
        per tensor and thread, so a chunk's activations stay in cache; on a GPU, all runs at once."""
        if device.type != "cpu":
            return 1 << 30
        return max(1, (torch.get_num_threads() << 19) // per_run)


class Attention(Model):
    """Paper 1's one-layer attention model on tokens [a, b, '='] (vocabulary p + 1).

    E (V x d), learned positions (3 x d), 4 heads Wq Wk Wv Wo (d x d), MLP Win (d x 4d)
    -> GELU -> Wout (4d x d), unembedding U (d x V); no biases. The query comes from
    the '=' position. With ``layernorm``, parameter-free LNs act on the attention
    input (all positions), the MLP input and the unembedding input; the residual
    stream adds un-normalised values. All nine matrices count in the norm.
    Init: N(0, 1/fan_in) for every matrix, positions 0.1 N(0, 1/d).
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


class Encoder(Model):
    """Paper 3's model: token (p x d) and position (2 x d) embeddings, one post-LN
    ``nn.TransformerEncoderLayer`` (4 heads, FFN 4d... as configured, GELU, no dropout),
    a final LayerNorm on the last position and a linear head with bias.

    PyTorch's default init: embeddings N(0, 1); in-projection Xavier-uniform with zero
    bias; out-projection U(+-1/sqrt(d)) with zero bias; FFN and head weights and biases
    U(+-1/sqrt(fan_in)); LayerNorm gains 1 and biases 0. Every parameter counts in the
    norm (paper 3's V = ||theta||^2) and is decayed.
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
