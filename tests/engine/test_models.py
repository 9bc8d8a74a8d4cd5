"""The batched, rewritten forwards equal the models written the plain way."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from grokkit.engine.config import RunConfig
from grokkit.engine.protocols import paper1, paper3
from grokkit.engine.models import build_model, gather_rows
from grokkit.engine.tasks import all_pairs


def _stacked(cfg, seeds):
    model = build_model(cfg)
    params = [model.init_params(torch.Generator().manual_seed(s)) for s in seeds]
    return model, {k: torch.stack([p[k] for p in params]) for k in params[0]}


def test_gather_rows():
    table = torch.arange(2 * 5 * 3).view(2, 5, 3).double()
    idx = torch.tensor([[4, 0], [1, 1]])
    out = gather_rows(table, idx)
    assert torch.equal(out[0, 0], table[0, 4]) and torch.equal(out[1, 1], table[1, 1])


@pytest.mark.parametrize("layernorm", [False, True])
def test_mlp_factorized_equals_concatenated(layernorm):
    cfg = paper1(p=13, d_embed=8, d_hidden=16, layernorm=layernorm)
    model, P = _stacked(cfg, [0, 1])
    x = all_pairs(13).expand(2, -1, -1)
    fast = model.forward(P, x)
    for n in range(2):
        e = torch.cat([P["E"][n][x[n, :, 0]], P["E"][n][x[n, :, 1]]], dim=1)
        h = F.gelu(e @ P["W1"][n] + P["b1"][n])
        if layernorm:
            h = F.layer_norm(h, h.shape[-1:])
        ref = h @ P["W2"][n] + P["b2"][n]
        torch.testing.assert_close(fast[n], ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("layernorm", [False, True])
def test_attention_last_position_equals_full_model(layernorm):
    p, d, heads = 11, 16, 4
    cfg = RunConfig(model="attn", p=p, d_embed=d, d_hidden=32, n_heads=heads, layernorm=layernorm)
    model, P = _stacked(cfg, [0])
    x = all_pairs(p).unsqueeze(0)
    fast = model.forward(P, x)[0]
    ln = (lambda t: F.layer_norm(t, t.shape[-1:])) if layernorm else (lambda t: t)
    W = {k: v[0] for k, v in P.items()}
    tokens = torch.cat([x[0], torch.full((p * p, 1), p)], dim=1)  # [a, b, '=']
    h = W["E"][tokens] + W["pos"]  # [M, 3, d]
    n = ln(h)
    q = (n @ W["Wq"]).view(-1, 3, heads, d // heads).transpose(1, 2)
    k = (n @ W["Wk"]).view(-1, 3, heads, d // heads).transpose(1, 2)
    v = (n @ W["Wv"]).view(-1, 3, heads, d // heads).transpose(1, 2)
    att = (q @ k.transpose(-1, -2) / math.sqrt(d // heads)).softmax(-1) @ v  # all positions
    out = att.transpose(1, 2).reshape(-1, 3, d) @ W["Wo"]
    last = h[:, 2] + out[:, 2]
    last = last + F.gelu(ln(last) @ W["Win"]) @ W["Wout"]
    ref = ln(last) @ W["U"]
    torch.testing.assert_close(fast, ref, rtol=1e-9, atol=1e-9)


def test_encoder_equals_torch_transformer_encoder_layer():
    p, d, heads, ff = 13, 16, 4, 32
    cfg = paper3(p=p, d_embed=d, d_hidden=ff, n_heads=heads)
    model, P = _stacked(cfg, [0])
    W = {k: v[0] for k, v in P.items()}
    layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, activation="gelu", batch_first=True).double()
    final, head = nn.LayerNorm(d).double(), nn.Linear(d, p).double()
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(torch.cat([W["Wq"].T, W["Wk"].T, W["Wv"].T]))
        layer.self_attn.in_proj_bias.copy_(torch.cat([W["bq"], W["bk"], W["bv"]]))
        layer.self_attn.out_proj.weight.copy_(W["Wo"].T)
        layer.self_attn.out_proj.bias.copy_(W["bo"])
        layer.linear1.weight.copy_(W["W1"].T); layer.linear1.bias.copy_(W["c1"])
        layer.linear2.weight.copy_(W["W2"].T); layer.linear2.bias.copy_(W["c2"])
        for ln, g, b in ((layer.norm1, "g1", "h1"), (layer.norm2, "g2", "h2"), (final, "gf", "hf")):
            ln.weight.copy_(W[g] + 0.1 * torch.randn(d, dtype=torch.float64))  # non-trivial gains
            ln.bias.copy_(W[b] + 0.1 * torch.randn(d, dtype=torch.float64))
            W[g], W[b] = ln.weight.detach().clone(), ln.bias.detach().clone()
        head.weight.copy_(W["Wh"].T); head.bias.copy_(W["bh"])
    P = {k: v.unsqueeze(0) for k, v in W.items()}
    layer.eval()
    x = all_pairs(p)
    emb = W["E"][x] + W["P"]  # [M, 2, d]
    ref = head(final(layer(emb)[:, -1]))
    fast = model.forward(P, x.unsqueeze(0))[0]
    torch.testing.assert_close(fast, ref, rtol=1e-9, atol=1e-9)


def test_encoder_init_matches_torch_defaults_in_scale():
    cfg = paper3(p=97)
    _, P = _stacked(cfg, [0])
    # token embeddings N(0, 1): ||E||^2 ~ p * d, as paper 3 notes (about 12.4k at p = 97)
    assert 11_000 < float(P["E"].pow(2).sum()) < 14_000
    assert torch.all(P["g1"] == 1) and torch.all(P["bq"] == 0)


def test_counted_norm_groups():
    for kind, extra in [("mlp", {}), ("attn", {}), ("encoder", {}), ("parity_mlp", dict(task="parity"))]:
        model = build_model(RunConfig(model=kind, p=11, **extra))
        params = model.init_params(torch.Generator().manual_seed(0))
        assert set(model.counted) <= set(params)
        assert set().union(*model.groups.values()) <= set(params)
    mlp = build_model(paper1(p=11))
    assert mlp.counted == ("E", "W1", "W2")  # papers 1 and 2: weight matrices only, biases excluded
    enc = build_model(paper3(p=11))
    assert set(enc.counted) == set(enc.init_params(torch.Generator().manual_seed(0)))  # paper 3: everything


def test_which_models_have_a_hand_written_step():
    """The trainer uses ``loss_and_grads`` on the CPU for these (tests/engine/test_fast_step.py holds them
    to autograd); the parity MLP trains by autograd."""
    flags = {kind: build_model(RunConfig(model=kind, p=11, **extra)).hand_written
             for kind, extra in [("mlp", {}), ("attn", {}), ("encoder", {}), ("parity_mlp", dict(task="parity"))]}
    assert flags == {"mlp": True, "attn": True, "encoder": True, "parity_mlp": False}
