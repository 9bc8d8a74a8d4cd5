"""What the runs of a chapter cost to train, measured from the run store's provenance.

Every record keeps the wall time of its batch when the run finished (``wall_s``), the
device and its thread count, and (since batch ids were added) the batch it trained in.
A batch's cost is its longest ``wall_s`` times its threads, in core-seconds; a run's share is
proportional to its steps. Older records without a batch id are grouped by their start time
(``date - wall_s``). Summing the shares of a chapter's runs (its run manifest,
:func:`grokkit.book.results.write_manifest`) gives what its preset cost, on the machine that trained it.

Runs trained before a change of the CPU step code cost what that code cost. ``docs/cpu_speed.json``
keeps, for each such change, the bench's run-steps per second of every model before and after it,
measured back to back (``python -m grokkit.bench --runs 16 --save``); :func:`chapter_costs` divides
an older run's cost by its model's ratio to estimate what the same runs cost today.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from .results import project_root, results_path
from ..runs.store import RunStore


def _threads(device: str) -> int:
    if device.startswith("cpu:"):
        try:
            return int(device.split(":")[1].split()[0])
        except (IndexError, ValueError):
            return 1
    return 0  # a GPU: core-seconds do not apply


def _batch_of(record: dict[str, Any]) -> tuple:
    prov = record.get("provenance", {})
    if prov.get("batch_id"):
        return ("id", prov["batch_id"])
    date = dt.datetime.fromisoformat(prov["date"]).timestamp()
    return ("start", prov.get("device"), prov.get("batch_runs"), round((date - prov.get("wall_s", 0.0)) / 5))


def run_costs(store: RunStore | str | None = None) -> pd.DataFrame:
    """One row per stored run: key, steps, device, and its share of its batch's cost
    (``core_s`` on a CPU, ``device_s`` in seconds of the device either way)."""
    store = store if isinstance(store, RunStore) else RunStore(store)
    batches: dict[tuple, list[tuple[str, int, float, str]]] = defaultdict(list)
    for key in store.keys():
        try:
            rec = store.load(key)
        except (KeyError, ValueError):
            continue
        prov = rec.get("provenance", {})
        if "wall_s" not in prov or "date" not in prov:
            continue
        steps = int(rec["summary"].get("final_step") or 0)
        batches[_batch_of(rec)].append((key, steps, float(prov["wall_s"]), str(prov.get("device", "")),
                                        prov["date"], bench_model(rec["config"])))
    rows = []
    for members in batches.values():
        wall = max(m[2] for m in members)
        total = sum(m[1] for m in members) or 1
        for key, steps, _, device, date, model in members:
            share = wall * steps / total
            rows.append({"key": key, "steps": steps, "device": device, "device_s": share,
                         "core_s": share * _threads(device), "date": date, "bench_model": model})
    return pd.DataFrame(rows, columns=["key", "steps", "device", "device_s", "core_s", "date", "bench_model"])


def bench_model(config: dict[str, Any]) -> str | None:
    """The name ``python -m grokkit.bench`` gives a run's model (None: a model it does not time)."""
    model = config.get("model")
    if model == "attn":
        return "attn" if config.get("layernorm", True) else "attn-noln"
    return model if model in ("mlp", "encoder") else None


def speed_changes(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The changes of the CPU step code recorded in ``docs/cpu_speed.json`` (none if it is absent)."""
    path = Path(path) if path is not None else (project_root() or Path.cwd()) / "docs" / "cpu_speed.json"
    return json.loads(path.read_text())["changes"] if path.is_file() else []


def speedup_since(date: str, model: str | None, changes: list[dict[str, Any]]) -> float:
    """How many times faster a CPU run of ``model`` trained at ``date`` would train with today's code:
    the product of after/before at N = 16 over the changes made after it (1 for a model not timed)."""
    factor = 1.0
    when = dt.datetime.fromisoformat(date.replace("Z", "+00:00"))
    for change in changes:
        before, after = change["before"]["models"], change["after"]["models"]
        if model in before and model in after and when < dt.datetime.fromisoformat(change["since"].replace("Z", "+00:00")):
            factor *= after[model]["grokkit"]["16"] / before[model]["grokkit"]["16"]
    return factor


def rates(store: RunStore | str | None = None) -> dict[str, float]:
    """Run-steps per second of wall time on the CPU, per model kind, measured from the store's own
    CPU runs (their steps over their share of their batch's wall time): what a CPU machine like the
    one that trained them gets. Models without CPU runs are absent."""
    store = store if isinstance(store, RunStore) else RunStore(store)
    costs = run_costs(store)
    costs = costs[costs["device"].str.startswith("cpu")]
    if costs.empty:
        return {}
    models = store.table(list(costs["key"]))[["key", "model"]]
    merged = costs.merge(models, on="key")
    sums = merged.groupby("model")[["steps", "device_s"]].sum()
    return {m: float(r.steps / r.device_s) for m, r in sums.iterrows() if r.device_s > 0}


def chapter_costs(results_dir: str | Path | None = None, store: RunStore | str | None = None,
                  cores: int = 2, speed: str | Path | None = None) -> pd.DataFrame:
    """Per chapter (from its run manifest): runs asked for, runs in the store, run-steps, the
    measured training cost in core-hours, the hours that makes on ``cores`` cores, and an estimate
    of those hours with today's CPU steps (:func:`speedup_since` with ``speed``, ``docs/cpu_speed.json``
    by default; GPU runs keep their cost)."""
    costs = run_costs(store).set_index("key")
    changes = speed_changes(speed)
    now = f"hours on {cores} cores with today's steps (estimate)"
    costs["core_s_now"] = [c / (speedup_since(d, m, changes) if dev.startswith("cpu") else 1.0)
                           for c, d, m, dev in zip(costs["core_s"], costs["date"], costs["bench_model"], costs["device"])]
    rows = []
    for path in sorted(results_path(results_dir).glob("*.runs.json")):
        manifest = json.loads(path.read_text())
        keys = list(dict.fromkeys(r["key"] for s in manifest.get("sweeps", {}).values() for r in s.get("runs", [])))
        have = costs.loc[costs.index.intersection(keys)]
        devices = sorted(set(have["device"]))
        rows.append({"chapter": manifest.get("title") or manifest.get("chapter", path.stem),
                     "runs": len(keys), "stored": len(have), "run-steps": int(have["steps"].sum()),
                     "core-hours": have["core_s"].sum() / 3600, f"hours on {cores} cores": have["core_s"].sum() / 3600 / cores,
                     now: have["core_s_now"].sum() / 3600 / cores, "trained on": ", ".join(devices)})
    return pd.DataFrame(rows, columns=["chapter", "runs", "stored", "run-steps", "core-hours", f"hours on {cores} cores", now,
                                       "trained on"])


def measure_smoke(notebooks: list[Path], out: Path) -> dict[str, Any]:
    """Execute every notebook at its smoke preset in a temporary store (training on) and
    write the wall times, with the machine, to ``out`` (JSON); returns what was written."""
    import os
    import platform
    import tempfile
    import time

    import papermill
    import torch

    timings = {}
    for nb in notebooks:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            papermill.execute_notebook(str(nb), str(Path(tmp) / nb.name), cwd=str(nb.parent), progress_bar=False,
                                       parameters=dict(preset="smoke", store=str(Path(tmp) / "store"),
                                                       results_dir=str(Path(tmp) / "results")))
            timings[nb.stem] = round(time.perf_counter() - start, 1)
    data = {"date": dt.date.today().isoformat(), "cpu_cores": os.cpu_count(), "machine": platform.machine(),
            "torch": torch.__version__, "seconds": timings}
    out.write_text(json.dumps(data, indent=2) + "\n")
    return data


def _main() -> None:
    import argparse

    root = project_root() or Path.cwd()
    ap = argparse.ArgumentParser(description="Measure what each chapter's smoke preset costs here.")
    ap.add_argument("--out", type=Path, default=root / "docs" / "smoke_costs.json")
    ap.add_argument("chapters", nargs="*", type=Path, default=sorted((root / "chapters").glob("*.ipynb")))
    args = ap.parse_args()
    print(json.dumps(measure_smoke(args.chapters, args.out), indent=2))


if __name__ == "__main__":
    _main()
