"""A finished run's summary (its status, event times and the metrics read at them) and provenance.

:func:`summarize` reads everything from the run's :class:`~grokkit.engine.events.RunRecord`; its
keys are exactly :data:`grokkit.runs.store.SUMMARY_FIELDS`, in that order. :func:`provenance` says
what computed the run: package and results versions, torch, device, date, wall time and batch.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

import torch

from .._version import __version__
from .config import RESULTS_VERSION
from .events import RunRecord


def summarize(run: RunRecord, step_count: int, clamp_target: float | None) -> dict[str, Any]:
    """The summary of a finished run.

    ``status`` is "diverged", "grokked" or "censored" (the budget ran out first). Metrics are read
    at the first evaluation (``_init``), at T_mem (``_mem``), at T_grok (``_grok``) and at the last
    evaluation (``_final``); ``norm_peak`` is the largest finite norm evaluated. ``step_count`` is
    the trainer's step count, the final step of a run never evaluated; ``clamp_target`` the run's
    (fixed) target norm, ``None`` for a free run.
    """
    h = run.history
    steps = h.get("step", [])
    status = "diverged" if run.diverged_at is not None else ("grokked" if run.t_grok is not None else "censored")

    def at(key: str, step: int | None) -> float | None:
        if step is None or key not in h:
            return None
        return h[key][steps.index(step)]

    t_grok = run.t_grok if status == "grokked" else None
    final = steps[-1] if steps else step_count
    norms = h.get("norm", [])
    peak = max(range(len(norms)), key=lambda j: norms[j] if math.isfinite(norms[j]) else -1) if norms else None
    return {
        "status": status,
        "t_mem": run.t_mem,
        "t_grok": t_grok,
        "final_step": final,
        "diverged_at": run.diverged_at,
        "norm_init": at("norm", steps[0] if steps else None),
        "norm_mem": at("norm", run.t_mem),
        "norm_grok": at("norm", t_grok),
        "norm_final": at("norm", final),
        "norm_peak": norms[peak] if peak is not None else None,
        "t_norm_peak": steps[peak] if peak is not None else None,
        "sq_norm_all_mem": at("sq_norm_all", run.t_mem),
        "sq_norm_all_grok": at("sq_norm_all", t_grok),
        "sq_norm_all_final": at("sq_norm_all", final),
        "logit_scale_mem": at("logit_scale", run.t_mem),
        "logit_scale_grok": at("logit_scale", t_grok),
        "logit_scale_final": at("logit_scale", final),
        "sc_frac_max": max(h["sc_frac"]) if h.get("sc_frac") else None,
        "train_acc_final": at("train_acc", final),
        "test_acc_final": at("test_acc", final),
        "crossings": {} if status == "diverged" else dict(run.crossings),
        "clamp_target": clamp_target,
    }


def provenance(device: torch.device, threads: int | None, wall_s: float, batch_runs: int,
               batch_id: str) -> dict[str, Any]:
    """What computed a run: versions, device (with the CPU threads: ``threads``, else torch's),
    date, the batch's wall time so far, its size at the start and its id."""
    return {
        "grokkit": __version__,
        "results_version": RESULTS_VERSION,
        "torch": torch.__version__,
        "device": device_name(device, threads),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(wall_s, 2),
        "batch_runs": batch_runs,
        "batch_id": batch_id,
    }


def device_name(device: torch.device, threads: int | None = None) -> str:
    """``cuda:<name>`` or ``cpu:<threads> threads``."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{threads or torch.get_num_threads()} threads"
