"""Run configurations: one small frozen value per training run.

A :class:`RunConfig` says everything that determines a run's result: the task and
its split, the model, the optimizer, the loss, the norm clamp, the budget and the
evaluation schedule. It validates itself on construction (a ``ValueError`` naming
the field) and hashes to the key of its record in the run store.

Three rules keep sweeps honest:

* **Matched counterfactuals.** A run's initialization and train/test split depend
  only on :meth:`RunConfig.base_seed`, a hash of the task, the model and ``seed``.
  The intervention arm (learning rate, weight decay, clamp, temperature, budget)
  never changes them, so a clamped run and its free control start from the same
  state.
* **Canonical keys.** Fields that cannot change a run (the clamp's start when there
  is no clamp, SGD's momentum in an AdamW run, ...) are left out of the key, so
  equal runs share one record.
* **Versioned results.** :data:`RESULTS_VERSION` is part of every key; bump it when a
  change to the trainer changes results, and old records stop matching.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, fields
from typing import Any

#: Bump when a code change alters the numbers a run produces (init, split, step).
RESULTS_VERSION = 1

TASKS = ("add", "mul", "parity")
MODELS = ("mlp", "attn", "encoder", "parity_mlp")
OPTIMIZERS = ("adamw", "sgd")
LOSSES = ("ce", "mse")
DECAY_ORDERS = ("before", "after")
CLAMP_MODES = ("hold", "once")
DTYPES = ("float32", "float64")

# Width defaults per model kind (d_embed, d_hidden, n_heads), as the papers define them.
_MODEL_DEFAULTS = {
    "mlp": (128, 256, 1),  # paper 1/2 MLP: E p x 128, W1 256 x 256, W2 256 x p
    "attn": (128, 512, 4),  # paper 1 one-layer attention: d 128, MLP 512, 4 heads
    "encoder": (128, 512, 4),  # paper 3 post-LN encoder layer: d 128, FFN 512, 4 heads
    "parity_mlp": (0, 512, 1),  # paper 1 sparse-parity MLP: n -> 512 -> 2
}
_MODULAR_MODELS = ("mlp", "attn", "encoder")
#: Test-accuracy thresholds whose first crossing (step, norm) every run records, so
#: that T_grok and the norm at grok can be read at other thresholds after the fact.
CROSSING_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99)
#: The named parameter groups of each model (grokkit.engine.models defines their members).
MODEL_GROUPS = {
    "mlp": ("embed", "hidden", "unembed"),
    "attn": ("embed", "attn", "mlp", "unembed"),
    "encoder": ("embed", "attn", "mlp", "norm", "unembed"),
    "parity_mlp": ("hidden", "out"),
}


def is_prime(n: int) -> bool:
    """True when ``n`` is a prime number."""
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    k = 3
    while k * k <= n:
        if n % k == 0:
            return False
        k += 2
    return True


def _check(cond: bool, name: str, msg: str) -> None:
    if not cond:
        raise ValueError(f"{name}: {msg}")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run.

    Parameters are grouped as task, model, optimizer, loss, clamp and budget; see
    the field comments. Width fields left at ``None`` take the model's defaults.
    Use :func:`dataclasses.replace` (or :meth:`replace`) to derive arms.
    """

    # --- task -----------------------------------------------------------------
    task: str = "add"  # "add" (a+b mod p), "mul" (a*b mod p) or "parity"
    p: int = 59  # modulus (modular tasks)
    train_frac: float = 0.4  # fraction of the p^2 pairs used for training
    parity_n: int = 30  # sparse parity: input bits
    parity_k: int = 3  # sparse parity: relevant bits (the first k)
    parity_train: int = 1000  # sparse parity: training examples
    parity_test: int = 2000  # sparse parity: fresh test examples
    seed: int = 0  # base seed: with task and model, fixes init and split
    # --- model ----------------------------------------------------------------
    model: str = "mlp"  # "mlp", "attn", "encoder" or "parity_mlp"
    d_embed: int | None = None  # embedding / residual width
    d_hidden: int | None = None  # hidden (MLP) width
    n_heads: int | None = None  # attention heads
    layernorm: bool = False  # mlp: parameter-free LN before unembedding; attn: LN variant
    # --- optimizer ------------------------------------------------------------
    optimizer: str = "adamw"  # "adamw" (decoupled decay) or "sgd" (coupled L2)
    lr: float = 1e-3
    weight_decay: float = 1.0
    decay_order: str = "before"  # adamw: decay "before" (paper 1) or "after" (paper 2) the Adam step
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    momentum: float = 0.0  # sgd only
    batch_size: int | None = None  # None: full batch; else minibatches drawn with replacement
    # --- loss -----------------------------------------------------------------
    loss: str = "ce"  # "ce" or "mse", both on z / temperature
    temperature: float = 1.0  # output temperature tau (not a parameter, not in the norm)
    # --- norm clamp -----------------------------------------------------------
    clamp_target: float | None = None  # absolute target norm (e.g. rho * Wc)
    clamp_scale: float | None = None  # or: target = scale * norm at clamp_start (per run)
    clamp_start: int = 500  # t_int: first step count at which the norm is set
    clamp_mode: str = "hold"  # "hold": after every step from t_int on; "once": one rescale at t_int
    clamp_group: str | None = None  # clamp one named group instead of the counted norm
    fork_step: int = 0  # >0: temperature and clamp act from here, on a state shared with the free run
    # --- budget, stopping, evaluation ------------------------------------------
    max_steps: int = 30_000  # budget; a run that has not grokked by then is censored
    stop_at_grok: bool = True  # stop at T_grok (+ extra_steps)
    extra_steps: int = 0  # steps to continue after T_grok, for post-grok measurements
    eval_schedule: str = "every:50"  # "every:K" or "log:K" (K log-spaced steps, paper 1)
    trace_every: int = 0  # >0: also record the norms (cheap, no forward pass) every this many steps
    mem_threshold: float = 0.99  # T_mem: first evaluated step with train accuracy >= this
    grok_threshold: float = 0.9  # T_grok: first evaluated step with test accuracy >= this
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.model in _MODEL_DEFAULTS:
            d_embed, d_hidden, n_heads = _MODEL_DEFAULTS[self.model]
            for name, default in (("d_embed", d_embed), ("d_hidden", d_hidden), ("n_heads", n_heads)):
                if getattr(self, name) is None:
                    object.__setattr__(self, name, default)
        self._validate()

    # ------------------------------------------------------------------ checks
    def _validate(self) -> None:
        _check(self.task in TASKS, "task", f"unknown task {self.task!r}; expected one of {TASKS}")
        _check(self.model in MODELS, "model", f"unknown model {self.model!r}; expected one of {MODELS}")
        _check(_is_int(self.seed) and self.seed >= 0, "seed", f"must be a non-negative integer, got {self.seed!r}")
        if self.task == "parity":
            _check(self.model == "parity_mlp", "model", f"task 'parity' needs model 'parity_mlp', got {self.model!r}")
            _check(_is_int(self.parity_n) and self.parity_n >= 1, "parity_n", f"must be a positive integer, got {self.parity_n!r}")
            _check(
                _is_int(self.parity_k) and 1 <= self.parity_k <= self.parity_n,
                "parity_k",
                f"must be an integer in [1, parity_n={self.parity_n}], got {self.parity_k!r}",
            )
            _check(_is_int(self.parity_train) and self.parity_train >= 1, "parity_train", f"must be a positive integer, got {self.parity_train!r}")
            _check(_is_int(self.parity_test) and self.parity_test >= 1, "parity_test", f"must be a positive integer, got {self.parity_test!r}")
        else:
            _check(self.model in _MODULAR_MODELS, "model", f"task {self.task!r} needs one of {_MODULAR_MODELS}, got {self.model!r}")
            _check(_is_int(self.p) and is_prime(self.p), "p", f"must be a prime number, got {self.p!r}")
            _check(_is_real(self.train_frac) and 0.0 < self.train_frac < 1.0, "train_frac", f"must lie strictly between 0 and 1, got {self.train_frac!r}")
            n_train = round(self.train_frac * self.p**2)
            _check(0 < n_train < self.p**2, "train_frac", f"leaves an empty train or test set at p={self.p} (n_train={n_train})")
        for name in ("d_embed", "d_hidden", "n_heads"):
            v = getattr(self, name)
            _check(_is_int(v) and v >= (0 if name == "d_embed" and self.model == "parity_mlp" else 1), name, f"must be a positive integer, got {v!r}")
        if self.model in ("attn", "encoder"):
            _check(self.d_embed % self.n_heads == 0, "n_heads", f"must divide d_embed={self.d_embed}, got {self.n_heads}")
        _check(self.optimizer in OPTIMIZERS, "optimizer", f"unknown optimizer {self.optimizer!r}; expected one of {OPTIMIZERS}")
        _check(_is_real(self.lr) and self.lr > 0 and math.isfinite(self.lr), "lr", f"must be a positive finite number, got {self.lr!r}")
        _check(_is_real(self.weight_decay) and self.weight_decay >= 0 and math.isfinite(self.weight_decay), "weight_decay", f"must be a non-negative finite number, got {self.weight_decay!r}")
        _check(self.decay_order in DECAY_ORDERS, "decay_order", f"must be one of {DECAY_ORDERS}, got {self.decay_order!r}")
        _check(_is_real(self.beta1) and 0 <= self.beta1 < 1, "beta1", f"must lie in [0, 1), got {self.beta1!r}")
        _check(_is_real(self.beta2) and 0 <= self.beta2 < 1, "beta2", f"must lie in [0, 1), got {self.beta2!r}")
        _check(_is_real(self.eps) and self.eps > 0, "eps", f"must be positive, got {self.eps!r}")
        _check(_is_real(self.momentum) and 0 <= self.momentum < 1, "momentum", f"must lie in [0, 1), got {self.momentum!r}")
        _check(self.batch_size is None or (_is_int(self.batch_size) and self.batch_size >= 1), "batch_size", f"must be None (full batch) or a positive integer, got {self.batch_size!r}")
        _check(self.loss in LOSSES, "loss", f"unknown loss {self.loss!r}; expected one of {LOSSES}")
        _check(_is_real(self.temperature) and self.temperature > 0 and math.isfinite(self.temperature), "temperature", f"must be a positive finite number, got {self.temperature!r}")
        _check(self.clamp_mode in CLAMP_MODES, "clamp_mode", f"must be one of {CLAMP_MODES}, got {self.clamp_mode!r}")
        _check(self.clamp_group is None or self.clamp_group in MODEL_GROUPS[self.model], "clamp_group",
               f"unknown group {self.clamp_group!r} for model {self.model!r}; expected None or one of {MODEL_GROUPS[self.model]}")
        _check(self.clamp_target is None or self.clamp_scale is None, "clamp_target", "give clamp_target or clamp_scale, not both")
        for name in ("clamp_target", "clamp_scale"):
            v = getattr(self, name)
            _check(v is None or (_is_real(v) and v > 0 and math.isfinite(v)), name, f"must be a positive finite number (or None), got {v!r}")
        _check(_is_int(self.clamp_start) and self.clamp_start >= 0, "clamp_start", f"must be a non-negative integer, got {self.clamp_start!r}")
        _check(_is_int(self.max_steps) and self.max_steps >= 1, "max_steps", f"must be a positive integer, got {self.max_steps!r}")
        if self.clamped:
            _check(self.max_steps > self.clamp_start, "max_steps", f"budget {self.max_steps} must exceed clamp_start (t_int) {self.clamp_start}")
        _check(_is_int(self.fork_step) and self.fork_step >= 0, "fork_step", f"must be a non-negative integer, got {self.fork_step!r}")
        if self.fork_step:
            _check(self.max_steps > self.fork_step, "max_steps", f"budget {self.max_steps} must exceed fork_step {self.fork_step}")
            if self.clamped:
                _check(self.clamp_start >= self.fork_step, "clamp_start", f"must not precede fork_step {self.fork_step}, got {self.clamp_start}")
        _check(_is_int(self.extra_steps) and self.extra_steps >= 0, "extra_steps", f"must be a non-negative integer, got {self.extra_steps!r}")
        parse_schedule(self.eval_schedule)
        _check(_is_int(self.trace_every) and self.trace_every >= 0, "trace_every", f"must be a non-negative integer, got {self.trace_every!r}")
        for name in ("mem_threshold", "grok_threshold"):
            v = getattr(self, name)
            _check(_is_real(v) and 0 < v <= 1, name, f"must lie in (0, 1], got {v!r}")
        _check(self.dtype in DTYPES, "dtype", f"must be one of {DTYPES}, got {self.dtype!r}")

    # --------------------------------------------------------------- derived
    @property
    def clamped(self) -> bool:
        """True when this run's norm is clamped (absolute or relative target)."""
        return self.clamp_target is not None or self.clamp_scale is not None

    @property
    def modular(self) -> bool:
        return self.task in ("add", "mul")

    @property
    def n_train(self) -> int:
        """Number of training examples."""
        return round(self.train_frac * self.p**2) if self.modular else self.parity_train

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def canonical(self) -> dict[str, Any]:
        """The fields that can change this run's result, as a plain dict.

        Irrelevant fields (the clamp's when there is no clamp, parity's in a
        modular run, ...) are dropped so that equal runs share one key.
        """
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        drop: set[str] = set()
        if self.modular:
            drop |= {"parity_n", "parity_k", "parity_train", "parity_test"}
        else:
            drop |= {"p", "train_frac"}
        if self.model in ("mlp", "parity_mlp"):
            drop.add("n_heads")
        if self.model == "parity_mlp":
            drop |= {"d_embed", "layernorm"}
        if self.model == "encoder":
            drop.add("layernorm")  # the encoder always has its LayerNorms
        if self.optimizer == "adamw":
            drop.add("momentum")
        else:
            drop |= {"beta1", "beta2", "eps", "decay_order"}
        if not self.clamped:
            drop |= {"clamp_target", "clamp_scale", "clamp_start", "clamp_mode", "clamp_group"}
        elif self.clamp_target is None:
            drop.add("clamp_target")
        else:
            drop.add("clamp_scale")
        if not self.fork_step:
            drop.add("fork_step")
        if not self.stop_at_grok:
            drop.add("extra_steps")
        if not self.trace_every:
            drop.add("trace_every")
        return {k: v for k, v in d.items() if k not in drop}

    @property
    def key(self) -> str:
        """The run's record key: a hash of its canonical fields and RESULTS_VERSION."""
        payload = {"results_version": RESULTS_VERSION, **self.canonical()}
        return _digest(payload)[:16]

    def base_fields(self) -> dict[str, Any]:
        """The fields that fix initialization and split (task, model, dtype, seed)."""
        names = (
            "task p train_frac parity_n parity_k parity_train parity_test "
            "model d_embed d_hidden n_heads layernorm seed"
        ).split()
        c = self.canonical()
        return {k: c[k] for k in names if k in c}

    @property
    def base_seed(self) -> int:
        """Seed of the init and split generator: never depends on the intervention arm."""
        return int(_digest(self.base_fields()), 16) % (2**63 - 1)

    def batch_key(self) -> tuple:
        """Runs with equal batch keys can train as one batched computation.

        They share data shapes, model shapes, optimizer kind, loss, clamp mode,
        evaluation schedule and dtype; seeds, learning rates, weight decays, clamp
        targets, temperatures and budgets may differ per run.
        """
        return (
            self.task, self.p if self.modular else None, self.n_train,
            self.parity_n if not self.modular else None, self.parity_test if not self.modular else None,
            self.model, self.d_embed, self.d_hidden, self.n_heads, self.layernorm,
            self.optimizer, self.decay_order, self.beta1, self.beta2, self.eps,
            self.batch_size, self.loss, self.clamp_mode, self.clamp_group,
            self.eval_schedule, self.dtype,
        )

    def prefork(self) -> RunConfig:
        """The free run whose state at ``fork_step`` this arm continues from."""
        if not self.fork_step:
            raise ValueError("fork_step: this run is not a fork (fork_step=0)")
        return self.replace(
            fork_step=0, clamp_target=None, clamp_scale=None, temperature=1.0,
            max_steps=self.fork_step, stop_at_grok=False,
        )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _digest(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def parse_schedule(schedule: str) -> tuple[str, int]:
    """Parse ``"every:K"`` or ``"log:K"`` into ``(kind, K)``; raises ValueError otherwise."""
    kind, _, num = str(schedule).partition(":")
    ok = kind in ("every", "log") and num.isdigit() and int(num) >= 1
    _check(ok, "eval_schedule", f"must be 'every:K' or 'log:K' with K >= 1, got {schedule!r}")
    return kind, int(num)


def eval_steps(schedule: str, max_steps: int) -> list[int]:
    """The evaluated step counts from 0 to ``max_steps`` (both included)."""
    import numpy as np

    kind, k = parse_schedule(schedule)
    if kind == "every":
        steps = set(range(0, max_steps + 1, k))
    else:  # paper 1's grid: unique(round(geomspace(1, max_steps, K))) with 0
        steps = set(int(s) for s in np.unique(np.round(np.geomspace(1, max_steps, k))))
        steps.add(0)
    steps.add(max_steps)
    return sorted(steps)
