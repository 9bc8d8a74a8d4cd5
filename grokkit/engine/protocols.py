"""The three papers' protocols as config factories: each returns a :class:`RunConfig` with
the paper's task, model, optimizer, loss, clamp start, threshold and evaluation grid, and
accepts any field as an override (``paper1(p=97, seed=3)``)."""

from __future__ import annotations

from typing import Any

from .config import RunConfig


def paper1(**overrides: Any) -> RunConfig:
    """Paper 1's MLP protocol: AdamW (decay before the step), lr 1e-3, lambda 1, full batch,
    train fraction 0.4, T_grok at test accuracy 0.9, clamp from t_int = 500."""
    base = dict(task="add", model="mlp", train_frac=0.4, optimizer="adamw", lr=1e-3, weight_decay=1.0,
                decay_order="before", loss="ce", clamp_start=500, grok_threshold=0.9, eval_schedule="every:25")
    return RunConfig(**{**base, **overrides})


def paper2(**overrides: Any) -> RunConfig:
    """Paper 2's protocol: paper 1's MLP, decay after the Adam step, evaluation every 25 steps."""
    base = dict(task="add", model="mlp", train_frac=0.4, optimizer="adamw", lr=1e-3, weight_decay=1.0,
                decay_order="after", loss="ce", clamp_start=500, grok_threshold=0.9, eval_schedule="every:25")
    return RunConfig(**{**base, **overrides})


def paper3(**overrides: Any) -> RunConfig:
    """Paper 3's protocol: post-LN encoder, AdamW on all parameters, minibatch 512 with
    replacement, train fraction 0.5, T_grok at test accuracy 0.99, evaluation every 200 steps."""
    base = dict(task="add", p=97, model="encoder", train_frac=0.5, optimizer="adamw", lr=1e-3,
                weight_decay=1.0, decay_order="before", batch_size=512, loss="ce", grok_threshold=0.99,
                eval_schedule="every:200", max_steps=50_000)
    return RunConfig(**{**base, **overrides})
