"""The CUDA path of the trainer equals the CPU path: same init, split and minibatches
(exactly), same trajectories, summary times and final weights (to each dtype's tolerance),
for every model and every feature, forked batches included; a CUDA sweep says so in its records.

Every test here is skipped on a machine without CUDA. Runs are small (p = 13, widths 16/32,
60 steps, evaluation every 10) and train their whole budget (``stop_at_grok=False``), so the
file runs in well under a minute on a GPU. Each run is trained by the code path sweeps use
(:func:`grokkit.runs.executors._batch_trainer`: a plain batch, or pre-fork runs then forked arms).

Tolerances: float64 is tight (elementwise rtol 1e-6; accuracies and threshold times exactly
equal); float32 is looser (rtol 1e-3 on losses, norms and logit scales, a few examples' worth
of accuracy, threshold times within one evaluation interval), since the devices sum in
different orders.
"""

from __future__ import annotations

import math
import operator
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import pytest
import torch

from grokkit.engine.config import RunConfig, parse_schedule
from grokkit.engine.protocols import paper1, paper2, paper3

#: The device checked against the CPU reference (the harness was checked with "cpu" here too).
DEVICE = "cuda"
#: The reference device.
REFERENCE = "cpu"

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch sees none)")

DTYPES = ("float32", "float64")
#: Shared by every modular run: small, evaluated every 10 steps, each run trains its whole budget.
SMALL = dict(p=13, d_embed=16, d_hidden=32, train_frac=0.5, max_steps=60, eval_schedule="every:10",
             stop_at_grok=False, mem_threshold=0.8)


# ---------------------------------------------------------------------------- harness
@dataclass
class Outcome:
    """One finished run as the comparison sees it."""

    config: RunConfig
    summary: dict[str, Any]
    trajectory: dict[str, list[float]]
    params: dict[str, torch.Tensor] | None = None  # final weights (CPU, float64); None where not captured
    moments: dict[str, torch.Tensor] = field(default_factory=dict)  # final optimizer state, "<state>.<param>"


@dataclass(frozen=True)
class Tol:
    """How close two devices' runs must be."""

    rtol: float  # losses, norms, logit scales (elementwise, with atol)
    atol: float
    weights: float  # normwise relative error of each final parameter tensor
    moments: float  # ... and of each optimizer-state tensor (Adam's moments, SGD's momentum buffer)
    acc: float  # accuracies and softmax-collapse fractions (absolute)
    slack: int  # threshold times (T_mem, T_grok, crossings) may differ by this many evaluation intervals


TOL = {
    "float64": Tol(rtol=1e-6, atol=1e-9, weights=1e-6, moments=1e-6, acc=0.0, slack=0),
    "float32": Tol(rtol=1e-3, atol=1e-5, weights=1e-3, moments=1e-2, acc=0.03, slack=1),
}
#: Metrics compared as counts of examples (absolute tolerance ``Tol.acc``), not as continuous values.
_COUNTS = ("train_acc", "test_acc", "sc_frac")
#: Summary values read at a threshold time: compared only where both devices found the same time.
_AT_TIME = {"norm_mem": "t_mem", "sq_norm_all_mem": "t_mem", "logit_scale_mem": "t_mem",
            "norm_grok": "t_grok", "sq_norm_all_grok": "t_grok", "logit_scale_grok": "t_grok"}
#: Parameters whose gradient is zero in exact arithmetic, so rounding noise alone moves them
#: (Adam amplifies it to updates of order lr): the encoder's key bias, which adds one constant to
#: all of a query's scores, and the softmax ignores. Compared against the run's whole weight norm.
_NULL_GRADIENT = ("bk",)


def _train(configs: list[RunConfig], device: str) -> dict[str, Outcome]:
    """Train one batch on ``device`` by the sweeps' code path; every run by key, forked arms'
    pre-fork runs included. Final weights and optimizer state come from a snapshot of the
    batch at its last evaluation (all runs of a batch here share one budget)."""
    from grokkit.runs.executors import _batch_trainer

    budgets = {c.max_steps for c in configs}
    assert len(budgets) == 1 and not any(c.stop_at_grok for c in configs), "test batches share one full budget"
    saved: list[Any] = []
    trainer = _batch_trainer(list(configs), saved.append, device)
    assert trainer.device.type == torch.device(device).type
    results = list(trainer.run(snapshot_at=budgets.pop()))
    snap = trainer.snapshot
    assert snap is not None and len(snap.batch.runs) == len(configs)
    out = {r.key: Outcome(r.config, r.summary, r.trajectory) for r in saved}
    for r in results:
        i = [run.config.key for run in snap.batch.runs].index(r.key)
        params = {k: v.detach()[i].to("cpu", torch.float64) for k, v in snap.batch.params.items()}
        moments = {f"{s}.{k}": v[i].to("cpu", torch.float64) for s, bufs in snap.batch.opt.state.items() for k, v in bufs.items()}
        out[r.key] = Outcome(r.config, r.summary, r.trajectory, params, moments)
    assert len(out) == len(saved) + len(configs)
    return out


def _from_records(records: list[Mapping[str, Any]]) -> dict[str, Outcome]:
    """Store records (:func:`grokkit.runs.store.make_record`) as outcomes, without weights."""
    return {r["key"]: Outcome(RunConfig(**r["config"]), dict(r["summary"]), dict(r["trajectory"])) for r in records}


def _time_close(a: int | None, b: int | None, slack: int, last: int) -> bool:
    """Equal, or within ``slack`` steps; a time only one device found must lie within ``slack`` of the end."""
    if a == b:
        return True
    if a is None or b is None:
        return (b if a is None else a) > last - slack
    return abs(a - b) <= slack


def _close(a: float | None, b: float | None, rtol: float, atol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= atol + rtol * abs(b)


def _compare(a: dict[str, Outcome], b: dict[str, Outcome], tol: Tol) -> None:
    """Assert that two trainings of the same runs agree to ``tol`` (``b`` is the reference).

    Checks, run by run: evaluated steps (exactly), every recorded metric at every evaluation,
    status and final step, threshold times (T_mem, T_grok, each crossing) and the values read
    there, the peak norm, clamp targets, and the final weights and optimizer state where both
    sides have them. Where the norm peaks is not compared: a held norm is flat, so its argmax
    is decided by rounding.
    """
    assert set(a) == set(b), "the two trainings finished different runs"
    for key in b:
        ra, rb = a[key], b[key]
        cfg = rb.config
        assert ra.config == cfg
        where = f"run {key} ({cfg.model}, seed {cfg.seed}, {cfg.dtype})"
        kind, every = parse_schedule(cfg.eval_schedule)
        slack = tol.slack * every if kind == "every" else (cfg.max_steps if tol.slack else 0)
        last = rb.summary["final_step"]

        # trajectories: every metric at every evaluation
        ta, tb = ra.trajectory, rb.trajectory
        assert ta["step"] == tb["step"], f"{where}: evaluated at different steps"
        assert set(ta) == set(tb), f"{where}: different metrics recorded"
        for metric in tb:
            if metric == "step":
                continue
            rtol, atol = (0.0, tol.acc) if metric in _COUNTS else (tol.rtol, tol.atol)
            bad = [(s, x, y) for s, x, y in zip(tb["step"], ta[metric], tb[metric]) if not _close(x, y, rtol, atol)]
            assert not bad, f"{where}: {metric} differs at (step, {DEVICE}, {REFERENCE}) {bad[:3]}"

        # summary: status, times, values at those times
        sa, sb = ra.summary, rb.summary
        assert set(sa) == set(sb)
        assert sa["final_step"] == sb["final_step"] and sa["diverged_at"] == sb["diverged_at"], where
        for t in ("t_mem", "t_grok"):
            assert _time_close(sa[t], sb[t], slack, last), f"{where}: {t} {sa[t]} vs {sb[t]}"
        if sa["t_grok"] == sb["t_grok"]:
            assert sa["status"] == sb["status"], where
        for thr in set(sa["crossings"]) | set(sb["crossings"]):
            ca, cb = sa["crossings"].get(thr, (None, None)), sb["crossings"].get(thr, (None, None))
            assert _time_close(ca[0], cb[0], slack, last), f"{where}: crossing {thr} at {ca[0]} vs {cb[0]}"
            if ca[0] == cb[0]:
                assert _close(ca[1], cb[1], tol.rtol, tol.atol), f"{where}: norm at crossing {thr}"
        for name, vb in sb.items():
            if name in ("status", "crossings", "final_step", "diverged_at", "t_mem", "t_grok", "t_norm_peak"):
                continue
            if name in _AT_TIME and sa[_AT_TIME[name]] != sb[_AT_TIME[name]]:
                continue  # read at different (allowed) times
            rtol, atol = (0.0, tol.acc) if name.startswith(_COUNTS) else (tol.rtol, tol.atol)
            assert _close(sa[name], vb, rtol, atol), f"{where}: summary {name} {sa[name]} vs {vb}"

        # final weights and optimizer state
        if ra.params is not None and rb.params is not None:
            assert set(ra.params) == set(rb.params) and set(ra.moments) == set(rb.moments)
            whole = torch.cat([w.reshape(-1) for w in rb.params.values()]).norm()
            for k, wb in rb.params.items():
                scale = whole if k in _NULL_GRADIENT else wb.norm()
                err = float((ra.params[k] - wb).norm() / scale.clamp_min(1e-30))
                assert err <= tol.weights, f"{where}: final weight {k} differs by {err:.2e} (relative, normwise)"
            for k, mb in rb.moments.items():
                if k.split(".")[-1] in _NULL_GRADIENT:
                    continue  # rounding noise on both sides
                err = float((ra.moments[k] - mb).norm() / mb.norm().clamp_min(1e-30))
                assert err <= tol.moments, f"{where}: final optimizer state {k} differs by {err:.2e} (relative, normwise)"


def _check(configs: list[RunConfig]) -> None:
    """Train ``configs`` as one batch on :data:`DEVICE` and on :data:`REFERENCE`; they must agree."""
    _compare(_train(configs, DEVICE), _train(configs, REFERENCE), TOL[configs[0].dtype])


# ---------------------------------------------------------------------------- the runs
def _mlp(dtype: str, **kw: Any) -> list[RunConfig]:
    base = paper1(**SMALL, lr=1e-2, dtype=dtype, **kw)
    return [base.replace(seed=0), base.replace(seed=1, lr=5e-3, weight_decay=0.5)]


def _attn(dtype: str, layernorm: bool) -> list[RunConfig]:
    # a gentler lr than the MLP's: at 1e-2 the attention model memorizes within 60 steps and its
    # float32 train loss then magnifies rounding differences to ~1e-3
    base = paper1(**SMALL, model="attn", n_heads=2, layernorm=layernorm, lr=3e-3, dtype=dtype)
    return [base.replace(seed=0), base.replace(seed=1, lr=1e-3, weight_decay=2.0)]


def _encoder(dtype: str) -> list[RunConfig]:
    base = paper3(p=13, d_embed=16, d_hidden=32, n_heads=2, batch_size=32, max_steps=60, eval_schedule="every:10",
                  stop_at_grok=False, lr=3e-3, dtype=dtype)
    return [base.replace(seed=0), base.replace(seed=1, lr=1e-3)]


def _parity(dtype: str) -> list[RunConfig]:
    base = RunConfig(task="parity", model="parity_mlp", parity_n=12, parity_k=3, parity_train=200, parity_test=400,
                     d_hidden=32, lr=1e-2, max_steps=60, eval_schedule="every:10", stop_at_grok=False,
                     mem_threshold=0.8, grok_threshold=0.5, dtype=dtype)
    return [base.replace(seed=0), base.replace(seed=1, weight_decay=0.1)]


def _clamp_hold(dtype: str) -> list[RunConfig]:
    """A free run, an absolute target and a relative one (fixed from the norm at t_int), held from step 20."""
    base = paper1(**SMALL, lr=1e-2, clamp_start=20, dtype=dtype)
    return [base.replace(seed=0), base.replace(seed=1, clamp_target=6.0), base.replace(seed=2, clamp_scale=1.1)]


def _clamp_once_group(dtype: str) -> list[RunConfig]:
    """One-shot rescales of the unembedding at step 20, absolute and relative."""
    base = paper1(**SMALL, lr=1e-2, clamp_start=20, clamp_mode="once", clamp_group="unembed", dtype=dtype)
    return [base.replace(seed=0, clamp_target=2.5), base.replace(seed=1, clamp_scale=0.8)]


def _temperature(dtype: str, loss: str) -> list[RunConfig]:
    base = paper1(**SMALL, lr=1e-2, loss=loss, dtype=dtype)
    return [base.replace(seed=0), base.replace(seed=1, temperature=0.5), base.replace(seed=2, temperature=3.0)]


def _sgd(dtype: str) -> list[RunConfig]:
    base = paper1(**SMALL, optimizer="sgd", lr=0.1, weight_decay=1e-3, dtype=dtype)
    return [base.replace(seed=0, momentum=0.0), base.replace(seed=1, momentum=0.9)]


def _decay_after(dtype: str) -> list[RunConfig]:
    base = paper2(**SMALL, lr=1e-2, dtype=dtype)
    return [base.replace(seed=0), base.replace(seed=1, weight_decay=0.3, clamp_target=7.0, clamp_start=30)]


def _fork(dtype: str) -> list[RunConfig]:
    """Arms forked at step 20 from two free runs: relative clamps, and a temperature arm."""
    base = paper1(**SMALL, lr=1e-2, dtype=dtype, fork_step=20, clamp_start=20)
    return [base.replace(seed=s, clamp_scale=k) for s in (0, 1) for k in (1.0, 1.15)] + [base.replace(seed=0, temperature=2.0)]


CASES: dict[str, Callable[[str], list[RunConfig]]] = {
    "mlp": _mlp,
    "mlp-layernorm": lambda dt: _mlp(dt, layernorm=True),
    "attn": lambda dt: _attn(dt, layernorm=False),
    "attn-layernorm": lambda dt: _attn(dt, layernorm=True),
    "encoder-minibatch": _encoder,
    "parity_mlp": _parity,
    "clamp-hold": _clamp_hold,
    "clamp-once-group": _clamp_once_group,
    "temperature-ce": lambda dt: _temperature(dt, "ce"),
    "temperature-mse": lambda dt: _temperature(dt, "mse"),
    "sgd-momentum": _sgd,
    "decay-after": _decay_after,
    "fork": _fork,
}


# ---------------------------------------------------------------------------- tests
def test_float32_matmuls_on_cuda_are_full_precision() -> None:
    """Importing the trainer leaves float32 matmuls at full precision (no TF32): with TF32,
    float32 CUDA runs would drift from the CPU's by about 1e-3 per matmul."""
    import grokkit.engine.trainer  # noqa: F401

    assert torch.get_float32_matmul_precision() == "highest"
    assert not torch.backends.cuda.matmul.allow_tf32


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["mlp", "attn", "encoder-minibatch", "parity_mlp"])
def test_init_split_and_minibatches_are_identical_on_cuda(case: str, dtype: str) -> None:
    """A batch built on CUDA holds exactly the CPU's initial weights, split (or parity examples)
    and per-run hyperparameters, and draws exactly the CPU's minibatch indices, over several
    refills of the sampler's block and after a run leaves the batch."""
    from grokkit.engine.trainer import Trainer

    configs = CASES[case](dtype)
    dev, ref = Trainer(configs, DEVICE).batch, Trainer(configs, REFERENCE).batch
    for name in ("train_x", "train_y", "eval_x", "eval_y", "eval_is_train"):
        a, b = getattr(dev.data, name), getattr(ref.data, name)
        assert a.dtype == b.dtype and torch.equal(a.cpu(), b), name
    for k in ref.params:
        assert dev.params[k].dtype == ref.params[k].dtype == getattr(torch, dtype)
        assert torch.equal(dev.params[k].detach().cpu(), ref.params[k].detach()), k
    for name in ("temperature", "clamp.target", "clamp.scale", "clamp.start"):  # NaN: no target (yet)
        a, b = (operator.attrgetter(name)(batch) for batch in (dev, ref))
        torch.testing.assert_close(a.cpu(), b, rtol=0, atol=0, equal_nan=True, msg=name)
    if ref.sampler is None:
        assert dev.sampler is None
        return
    for t in range(300):  # the block is 128 steps: crosses two refills
        if t == 200:
            dev.sampler.select(torch.tensor([1]))
            ref.sampler.select(torch.tensor([1]))
        a, b = dev.sampler.next(), ref.sampler.next()
        assert a.device.type == torch.device(DEVICE).type
        assert torch.equal(a.cpu(), b), f"minibatch indices differ at draw {t}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CASES))
def test_cuda_training_equals_cpu(case: str, dtype: str) -> None:
    """Training a batch on CUDA gives the CPU's trajectories, summary times and final weights
    (and optimizer state), for each model and feature: layer norms, minibatches, parity, hold
    and one-shot clamps (absolute, relative, one group), temperatures with CE and MSE, SGD with
    momentum, decay after the Adam step, and arms forked from pre-fork runs."""
    _check(CASES[case](dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_forked_batch_records_on_cuda_equal_cpu(dtype: str) -> None:
    """The records a remote worker sends back (grokkit.runs.executors.train_batch_records, pre-fork runs
    included) agree across devices, to the store's six significant digits."""
    from grokkit.runs.executors import train_batch_records

    arms = _fork(dtype)
    a, b = train_batch_records(arms, DEVICE), train_batch_records(arms, REFERENCE)
    assert len(a) == len(b) == len(arms) + 2  # the arms and their two pre-fork runs
    tol = TOL[dtype]
    rounded = Tol(max(tol.rtol, 1e-5), max(tol.atol, 1e-8), tol.weights, tol.moments, max(tol.acc, 1e-5), tol.slack)
    _compare(_from_records(a), _from_records(b), rounded)
    for rec in a:
        assert rec["provenance"]["device"].startswith(f"{torch.device(DEVICE).type}:")


def test_sweep_on_cuda_writes_records_that_say_cuda(tmp_path: Path) -> None:
    """A sweep on CUDA stores records whose provenance, and the table's ``device`` column, name
    the CUDA device, and whose results match the same sweep on the CPU."""
    from grokkit import RunStore
    from grokkit import sweep

    configs = _mlp("float64") + _fork("float64")
    on_dev = sweep(configs, store=tmp_path / "dev", device=DEVICE, train=True, progress=False)
    on_ref = sweep(configs, store=tmp_path / "ref", device=REFERENCE, train=True, progress=False)
    kind = torch.device(DEVICE).type
    assert len(on_dev) == len(configs) and list(on_dev["key"]) == [c.key for c in configs]
    assert all(str(d).startswith(f"{kind}:") for d in on_dev["device"]), set(on_dev["device"])
    assert all(str(d).startswith(f"{REFERENCE}:") for d in on_ref["device"])
    store = RunStore(tmp_path / "dev")
    for c in configs:
        assert store.load(c.key)["provenance"]["device"].startswith(f"{kind}:")
    pre = {a.prefork().key for a in configs if a.fork_step}
    assert pre <= set(store.keys())  # pre-fork runs are stored too, with their device
    for k in pre:
        assert store.load(k)["provenance"]["device"].startswith(f"{kind}:")
    for col in ("status", "t_mem", "t_grok", "final_step"):
        assert list(on_dev[col].fillna(-1)) == list(on_ref[col].fillna(-1)), col
    for col in ("norm_final", "logit_scale_final", "sq_norm_all_final"):
        torch.testing.assert_close(torch.tensor(on_dev[col].to_numpy(float)), torch.tensor(on_ref[col].to_numpy(float)),
                                   rtol=1e-5, atol=1e-8)
