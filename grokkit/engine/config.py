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

Each field is declared once, with its metadata (:class:`FieldMeta`): the check of its
value, when it enters the store key, whether it fixes init and split (a *base* field),
and whether runs of one batch must share it. :meth:`RunConfig.canonical`,
:meth:`~RunConfig.base_fields`, :meth:`~RunConfig.batch_key` and validation are loops
over that declaration; the few rules that span several fields are listed in ``_RULES``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Callable

#: Bump when a code change alters the numbers a run produces (init, split, step).
RESULTS_VERSION = 1

TASKS = ("add", "mul", "mul_nonzero", "parity")
#: The modular-arithmetic tasks ("mul_nonzero": a*b mod p over the nonzero residues only).
MODULAR_TASKS = ("add", "mul", "mul_nonzero")
MODELS = ("mlp", "attn", "encoder", "parity_mlp")
OPTIMIZERS = ("adamw", "sgd", "muon")
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
    "mlp": ("embed", "hidden", "unembed", "features"),
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


# ------------------------------------------------------------------ field metadata
@dataclass(frozen=True)
class Check:
    """A test of one field's value on its own, and what it expects in words."""

    expects: str  # completes "<field>: must be ..., got <value>"
    test: Callable[[Any], bool]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_schedule(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    kind, _, num = v.partition(":")
    return kind in ("every", "log") and num.isdigit() and int(num) >= 1


def one_of(options: tuple[str, ...]) -> Check:
    """The value is one of ``options``."""
    return Check(f"one of {options}", lambda v: isinstance(v, str) and v in options)


def optional(check: Check, none: str = "None") -> Check:
    """``None`` (described as ``none``) or a value that passes ``check``."""
    return Check(f"{none} or {check.expects}", lambda v: v is None or check.test(v))


POS_INT = Check("a positive integer", lambda v: _is_int(v) and v >= 1)
NONNEG_INT = Check("a non-negative integer", lambda v: _is_int(v) and v >= 0)
PRIME = Check("a prime number", lambda v: _is_int(v) and is_prime(v))
POSITIVE = Check("a positive finite number", lambda v: _is_real(v) and 0 < v < math.inf)
NONNEG = Check("a non-negative finite number", lambda v: _is_real(v) and 0 <= v < math.inf)
FRACTION = Check("a number strictly between 0 and 1", lambda v: _is_real(v) and 0 < v < 1)
RATE = Check("a number in [0, 1)", lambda v: _is_real(v) and 0 <= v < 1)
THRESHOLD = Check("a number in (0, 1]", lambda v: _is_real(v) and 0 < v <= 1)
BOOL = Check("True or False", lambda v: isinstance(v, bool))
NAME = Check("a name", lambda v: isinstance(v, str))
SCHEDULE = Check("'every:K' or 'log:K' with K >= 1", _is_schedule)


@dataclass(frozen=True)
class When:
    """A named condition on a config and the field's own value (``test(config, value)``)."""

    doc: str
    test: Callable[[RunConfig, Any], bool]


ALWAYS = When("always", lambda c, v: True)
MODULAR = When("modular task", lambda c, v: c.modular)
PARITY = When("parity task", lambda c, v: not c.modular)
CLAMPED = When("clamped", lambda c, v: c.clamped)
SET = When("set (not None, not 0)", lambda c, v: v is not None and v != 0)
STOPS_AT_GROK = When("stop_at_grok", lambda c, v: c.stop_at_grok)


def model_in(*kinds: str) -> When:
    """The config's model is one of ``kinds``."""
    return When(f"model is {' or '.join(kinds)}", lambda c, v: c.model in kinds)


def optimizer_is(*kinds: str) -> When:
    """The config's optimizer is one of ``kinds``."""
    return When(f"optimizer is {' or '.join(kinds)}", lambda c, v: c.optimizer in kinds)


@dataclass(frozen=True)
class FieldMeta:
    """What :class:`RunConfig` knows about one of its fields."""

    doc: str
    check: Check  # the value on its own; rules across fields are in _RULES
    key: When  # the field enters the store key (canonical form) when this holds
    base: bool  # fixes init and split: enters base_seed (when it is in the key)
    batch: When | None  # None: may differ within a batch; else runs share it while this holds
    batch_as: str | None = None  # share this derived property instead of the value itself

    def batch_value(self, cfg: RunConfig, name: str) -> Any:
        """The field's entry in ``cfg``'s batch key (``None`` where its condition fails)."""
        value = getattr(cfg, name)
        if self.batch is None or not self.batch.test(cfg, value):
            return None
        return getattr(cfg, self.batch_as) if self.batch_as else value

    @property
    def batch_doc(self) -> str:
        """When runs of one batch must share this field, in words."""
        if self.batch is None:
            return "no (may differ per run)"
        return self.batch.doc + (f" (as {self.batch_as})" if self.batch_as else "")


def field(default: Any, *, check: Check, key: When, batch: bool | When, doc: str, base: bool = False,
          batch_as: str | None = None) -> Any:
    """A :class:`RunConfig` field: its default and its :class:`FieldMeta`.

    ``batch`` is ``True`` (runs of one batch share the value), ``False`` (it may differ
    per run) or a :class:`When` (they share it while the condition holds).
    """
    when = ALWAYS if batch is True else None if batch is False else batch
    meta = FieldMeta(doc=doc, check=check, key=key, base=base, batch=when, batch_as=batch_as)
    return dataclasses.field(default=default, metadata={"grokkit": meta})


# ----------------------------------------------------------------------- config
@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run.

    Parameters are grouped as task, model, optimizer, loss, clamp and budget; each
    field's ``doc`` says what it is (:meth:`describe` lists them). Width fields left at
    ``None`` take the model's defaults. Use :meth:`replace` to derive arms.
    """

    # --- task -----------------------------------------------------------------
    task: str = field("add", check=one_of(TASKS), key=ALWAYS, base=True, batch=True,
                      doc='"add" (a+b mod p), "mul" (a*b mod p), "mul_nonzero" (a*b mod p for a, b in 1..p-1) or "parity"')
    p: int = field(59, check=PRIME, key=MODULAR, base=True, batch=MODULAR, doc="modulus (modular tasks)")
    train_frac: float = field(0.4, check=FRACTION, key=MODULAR, base=True, batch=MODULAR, batch_as="n_train",
                              doc="fraction of the p^2 pairs used for training")
    parity_n: int = field(30, check=POS_INT, key=PARITY, base=True, batch=PARITY,
                          doc="sparse parity: input bits")
    parity_k: int = field(3, check=POS_INT, key=PARITY, base=True, batch=False,
                          doc="sparse parity: relevant bits (the first k)")
    parity_train: int = field(1000, check=POS_INT, key=PARITY, base=True, batch=PARITY,
                              doc="sparse parity: training examples")
    parity_test: int = field(2000, check=POS_INT, key=PARITY, base=True, batch=PARITY,
                             doc="sparse parity: fresh test examples")
    seed: int = field(0, check=NONNEG_INT, key=ALWAYS, base=True, batch=False,
                      doc="base seed: with task and model, fixes init and split")
    # --- model ----------------------------------------------------------------
    model: str = field("mlp", check=one_of(MODELS), key=ALWAYS, base=True, batch=True,
                       doc='"mlp", "attn", "encoder" or "parity_mlp"')
    d_embed: int | None = field(None, check=NONNEG_INT, key=model_in(*_MODULAR_MODELS), base=True, batch=True,
                                doc="embedding / residual width (None: the model's default)")
    d_hidden: int | None = field(None, check=POS_INT, key=ALWAYS, base=True, batch=True,
                                 doc="hidden (MLP) width (None: the model's default)")
    n_heads: int | None = field(None, check=POS_INT, key=model_in("attn", "encoder"), base=True, batch=True,
                                doc="attention heads (None: the model's default)")
    layernorm: bool = field(False, check=BOOL, key=model_in("mlp", "attn"), base=True, batch=True,
                            doc="mlp: parameter-free LN before unembedding; attn: LN variant "
                                "(the encoder always has its LayerNorms)")
    # --- optimizer ------------------------------------------------------------
    optimizer: str = field("adamw", check=one_of(OPTIMIZERS), key=ALWAYS, batch=True,
                           doc='"adamw" (decoupled decay), "sgd" (coupled L2) or "muon" (torch.optim.Muon on the '
                               'per-run matrices, AdamW on the rest; decoupled decay, before the step)')
    lr: float = field(1e-3, check=POSITIVE, key=ALWAYS, batch=False, doc="learning rate")
    weight_decay: float = field(1.0, check=NONNEG, key=ALWAYS, batch=False, doc="weight decay lambda")
    decay_order: str = field("before", check=one_of(DECAY_ORDERS), key=optimizer_is("adamw"), batch=True,
                             doc='adamw: decay "before" (paper 1) or "after" (paper 2) the Adam step')
    beta1: float = field(0.9, check=RATE, key=optimizer_is("adamw", "muon"), batch=True,
                         doc="adamw (and muon's AdamW part): beta1")
    beta2: float = field(0.999, check=RATE, key=optimizer_is("adamw", "muon"), batch=True,
                         doc="adamw (and muon's AdamW part): beta2")
    eps: float = field(1e-8, check=POSITIVE, key=optimizer_is("adamw", "muon"), batch=True,
                       doc="adamw (and muon's AdamW part): epsilon")
    momentum: float = field(0.0, check=RATE, key=optimizer_is("sgd", "muon"), batch=False,
                            doc="sgd: heavy-ball momentum; muon: its momentum (torch's default is 0.95: "
                                "set it, the field's default 0 is SGD's)")
    batch_size: int | None = field(None, check=optional(POS_INT, "None (full batch)"), key=ALWAYS, batch=True,
                                   doc="None: full batch; else minibatches drawn with replacement")
    # --- loss -----------------------------------------------------------------
    loss: str = field("ce", check=one_of(LOSSES), key=ALWAYS, batch=True,
                      doc='"ce" or "mse", both on z / temperature')
    temperature: float = field(1.0, check=POSITIVE, key=ALWAYS, batch=False,
                               doc="output temperature tau (not a parameter, not in the norm)")
    # --- norm clamp -----------------------------------------------------------
    clamp_target: float | None = field(None, check=optional(POSITIVE), key=SET, batch=False,
                                       doc="absolute target norm (e.g. rho * Wc)")
    clamp_scale: float | None = field(None, check=optional(POSITIVE), key=SET, batch=False,
                                      doc="or: target = scale * norm at clamp_start (per run)")
    clamp_start: int = field(500, check=NONNEG_INT, key=CLAMPED, batch=False,
                             doc="t_int: first step count at which the norm is set")
    clamp_mode: str = field("hold", check=one_of(CLAMP_MODES), key=CLAMPED, batch=True,
                            doc='"hold": after every step from t_int on; "once": one rescale at t_int')
    clamp_group: str | None = field(None, check=optional(NAME), key=CLAMPED, batch=True,
                                    doc="clamp one named group (MODEL_GROUPS) instead of the counted norm")
    fork_step: int = field(0, check=NONNEG_INT, key=SET, batch=False,
                           doc=">0: temperature and clamp act from here, on a state shared with the free run")
    # --- budget, stopping, evaluation ------------------------------------------
    max_steps: int = field(30_000, check=POS_INT, key=ALWAYS, batch=False,
                           doc="budget; a run that has not grokked by then is censored")
    stop_at_grok: bool = field(True, check=BOOL, key=ALWAYS, batch=False,
                               doc="stop at T_grok (+ extra_steps)")
    extra_steps: int = field(0, check=NONNEG_INT, key=STOPS_AT_GROK, batch=False,
                             doc="steps to continue after T_grok, for post-grok measurements")
    eval_schedule: str = field("every:50", check=SCHEDULE, key=ALWAYS, batch=True,
                               doc='"every:K" or "log:K" (K log-spaced steps, paper 1)')
    trace_every: int = field(0, check=NONNEG_INT, key=SET, batch=False,
                             doc=">0: also record the norms (cheap, no forward pass) every this many steps")
    mem_threshold: float = field(0.99, check=THRESHOLD, key=ALWAYS, batch=False,
                                 doc="T_mem: first evaluated step with train accuracy >= this")
    grok_threshold: float = field(0.9, check=THRESHOLD, key=ALWAYS, batch=False,
                                  doc="T_grok: first evaluated step with test accuracy >= this")
    dtype: str = field("float32", check=one_of(DTYPES), key=ALWAYS, batch=True,
                       doc='"float32" or "float64"')

    def __post_init__(self) -> None:
        """Fill the widths left at ``None`` with the model's defaults, then validate."""
        if self.model in _MODEL_DEFAULTS:
            for name, default in zip(("d_embed", "d_hidden", "n_heads"), _MODEL_DEFAULTS[self.model]):
                if getattr(self, name) is None:
                    object.__setattr__(self, name, default)
        self._validate()

    def _validate(self) -> None:
        """Check every field on its own, then the rules across fields; the first failure raises."""
        for name, meta in _META.items():
            value = getattr(self, name)
            if not meta.check.test(value):
                raise ValueError(f"{name}: must be {meta.check.expects}, got {value!r}")
        for rule in _RULES:
            if not rule.holds(self):
                raise ValueError(f"{rule.field}: {rule.message(self)}")

    # --------------------------------------------------------------- derived
    @property
    def clamped(self) -> bool:
        """True when this run's norm is clamped (absolute or relative target)."""
        return self.clamp_target is not None or self.clamp_scale is not None

    @property
    def modular(self) -> bool:
        """True for the modular-arithmetic tasks (add, mul, mul_nonzero)."""
        return self.task in MODULAR_TASKS

    @property
    def n_pairs(self) -> int:
        """Number of operand pairs of a modular task: p^2, or (p - 1)^2 over the nonzero residues."""
        return (self.p - 1) ** 2 if self.task == "mul_nonzero" else self.p**2

    @property
    def n_train(self) -> int:
        """Number of training examples."""
        return round(self.train_frac * self.n_pairs) if self.modular else self.parity_train

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def canonical(self) -> dict[str, Any]:
        """The fields that can change this run's result, as a plain dict.

        A field enters when its key condition holds (:class:`FieldMeta`); irrelevant
        fields (the clamp's when there is no clamp, parity's in a modular run, ...) are
        left out so that equal runs share one key.
        """
        values = {name: getattr(self, name) for name in _META}
        return {name: v for name, v in values.items() if _META[name].key.test(self, v)}

    @property
    def key(self) -> str:
        """The run's record key: a hash of its canonical fields and RESULTS_VERSION."""
        payload = {"results_version": RESULTS_VERSION, **self.canonical()}
        return _digest(payload)[:16]

    def base_fields(self) -> dict[str, Any]:
        """The canonical fields that fix initialization and split: task, model, widths and seed."""
        return {name: v for name, v in self.canonical().items() if _META[name].base}

    @property
    def base_seed(self) -> int:
        """Seed of the init and split generator: never depends on the intervention arm."""
        return int(_digest(self.base_fields()), 16) % (2**63 - 1)

    def batch_key(self) -> tuple[tuple[str, Any], ...]:
        """Runs with equal batch keys can train as one batched computation.

        They share data shapes, model shapes, optimizer kind, loss, clamp mode,
        evaluation schedule and dtype; seeds, learning rates, weight decays, clamp
        targets, temperatures and budgets may differ per run. The key is a tuple of
        ``(name, value)`` pairs, one per field with a batch condition (:class:`FieldMeta`).
        """
        return tuple((meta.batch_as or name, meta.batch_value(self, name))
                     for name, meta in _META.items() if meta.batch)

    def prefork(self) -> RunConfig:
        """The free run whose state at ``fork_step`` this arm continues from."""
        if not self.fork_step:
            raise ValueError("fork_step: this run is not a fork (fork_step=0)")
        return self.replace(
            fork_step=0, clamp_target=None, clamp_scale=None, temperature=1.0,
            max_steps=self.fork_step, stop_at_grok=False,
        )

    @classmethod
    def describe(cls) -> list[dict[str, Any]]:
        """One row per field, for documentation: name, default, doc, what the value must be
        (``expects``), when it enters the store key (``key``), whether it fixes init and split
        (``base``) and when runs of one batch must share it (``batch``)."""
        rows = []
        for f in dataclasses.fields(cls):
            meta = _META[f.name]
            rows.append(dict(name=f.name, default=f.default, doc=meta.doc, expects=meta.check.expects,
                             key=meta.key.doc, base=meta.base, batch=meta.batch_doc))
        return rows


_META: dict[str, FieldMeta] = {f.name: f.metadata["grokkit"] for f in dataclasses.fields(RunConfig)}


# ------------------------------------------------------------ rules across fields
@dataclass(frozen=True)
class _Rule:
    """A rule across fields: where ``holds`` is false, the config fails as ``field: message``."""

    name: str  # what the rule asks, in words
    field: str  # the field a violation is reported against
    holds: Callable[[RunConfig], bool]
    message: Callable[[RunConfig], str]


_RULES = (
    _Rule("parity trains the parity MLP", "model",
          lambda c: c.modular or c.model == "parity_mlp",
          lambda c: f"task 'parity' needs model 'parity_mlp', got {c.model!r}"),
    _Rule("modular tasks train a modular model", "model",
          lambda c: not c.modular or c.model in _MODULAR_MODELS,
          lambda c: f"task {c.task!r} needs one of {_MODULAR_MODELS}, got {c.model!r}"),
    _Rule("the relevant bits are input bits", "parity_k",
          lambda c: c.modular or c.parity_k <= c.parity_n,
          lambda c: f"must be an integer in [1, parity_n={c.parity_n}], got {c.parity_k!r}"),
    _Rule("the train and test sets are non-empty", "train_frac",
          lambda c: not c.modular or 0 < c.n_train < c.n_pairs,
          lambda c: f"leaves an empty train or test set at p={c.p} (n_train={c.n_train})"),
    _Rule("only the parity MLP has no embedding", "d_embed",
          lambda c: c.model == "parity_mlp" or c.d_embed >= 1,
          lambda c: f"must be a positive integer for model {c.model!r}, got {c.d_embed!r}"),
    _Rule("the heads split the width", "n_heads",
          lambda c: c.model not in ("attn", "encoder") or c.d_embed % c.n_heads == 0,
          lambda c: f"must divide d_embed={c.d_embed}, got {c.n_heads}"),
    _Rule("the clamped group exists", "clamp_group",
          lambda c: c.clamp_group is None or c.clamp_group in MODEL_GROUPS[c.model],
          lambda c: f"unknown group {c.clamp_group!r} for model {c.model!r}; "
                    f"expected None or one of {MODEL_GROUPS[c.model]}"),
    _Rule("one clamp target", "clamp_target",
          lambda c: c.clamp_target is None or c.clamp_scale is None,
          lambda c: "give clamp_target or clamp_scale, not both"),
    _Rule("the clamp starts within the budget", "max_steps",
          lambda c: not c.clamped or c.max_steps > c.clamp_start,
          lambda c: f"budget {c.max_steps} must exceed clamp_start (t_int) {c.clamp_start}"),
    _Rule("the fork is within the budget", "max_steps",
          lambda c: not c.fork_step or c.max_steps > c.fork_step,
          lambda c: f"budget {c.max_steps} must exceed fork_step {c.fork_step}"),
    _Rule("a forked clamp starts at or after the fork", "clamp_start",
          lambda c: not (c.fork_step and c.clamped) or c.clamp_start >= c.fork_step,
          lambda c: f"must not precede fork_step {c.fork_step}, got {c.clamp_start}"),
)


def _digest(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def parse_schedule(schedule: str) -> tuple[str, int]:
    """Parse ``"every:K"`` or ``"log:K"`` into ``(kind, K)``; raises ValueError otherwise."""
    if not _is_schedule(schedule):
        raise ValueError(f"eval_schedule: must be {SCHEDULE.expects}, got {schedule!r}")
    kind, _, num = schedule.partition(":")
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
