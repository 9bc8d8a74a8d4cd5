"""The run store: one durable, human-readable JSON record per run.

Layout: ``<root>/<key[:2]>/<key>.json``, where ``key`` is :attr:`RunConfig.key`, a
hash of the run's canonical configuration and the results version. A record holds

* ``config``: the canonical configuration (enough to rebuild the run's key);
* ``summary``: status (grokked / censored / diverged), T_mem, T_grok, norms at
  memorization, grok and the end, logit scale, softmax collapse, threshold crossings;
* ``trajectory``: the evaluated metrics, one list per metric, downsampled to at most
  :data:`MAX_POINTS` points (the steps of T_mem, T_grok and each crossing are kept);
* ``provenance``: grokkit and torch versions, device, date, wall time;
* ``trace`` (runs with ``trace_every``): the norms every few steps, cheap to record and
  dense enough to fit a contraction rate right after memorization.

Writes are atomic (a temporary file with a unique name in the same folder, flushed,
fsync'ed and renamed over the target), so a process killed at any moment leaves every
record either complete or absent, and two sweeps writing one store at once never mix
their bytes (the same run written twice is the same record). A record that cannot be read
(truncated, not JSON, filed under another key) is moved aside into ``<root>/_damaged/``
with a :class:`DamagedRecordWarning` naming it, and its run counts as missing, so the next
sweep trains it again. Records load as a pandas DataFrame with :meth:`RunStore.table`.
The store never imports torch.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import warnings
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..engine.config import CROSSING_THRESHOLDS, RunConfig

#: Trajectories longer than this are downsampled when written.
MAX_POINTS = 240
#: Norm traces (``trace_every``) longer than this are downsampled when written; the
#: first :data:`TRACE_WINDOW` steps after T_mem are always kept at full resolution.
MAX_TRACE_POINTS = 600
TRACE_WINDOW = 1000
#: Significant digits kept for floats in trajectories.
DIGITS = 6


#: Where a project keeps its runs, relative to the project's folder.
STORE_DIR = Path("data") / "runs"


def default_root() -> Path:
    """``$GROKKIT_STORE`` if set; else the nearest ``data/runs`` folder at or above the working
    directory; else the one next to the installed package (an editable install in a project);
    else ``data/runs`` under the working directory."""
    env = os.environ.get("GROKKIT_STORE")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / STORE_DIR).is_dir():
            return folder / STORE_DIR
    beside = Path(__file__).resolve().parents[2] / STORE_DIR
    return beside if beside.is_dir() else here / STORE_DIR


#: The sections every record has.
RECORD_SECTIONS = ("key", "config", "summary", "trajectory", "provenance")
#: Where unreadable records are moved (inside the store's root).
DAMAGED_DIR = "_damaged"


class DamagedRecordWarning(UserWarning):
    """A record could not be read; it was moved aside and its run will be trained again."""


class StoreNotWritableError(PermissionError):
    """The run store's folder cannot be written (raised before any training starts)."""


class RunStore:
    """A folder of run records keyed by :attr:`RunConfig.key`."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    # ----------------------------------------------------------------- paths
    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.path(key).is_file()

    def keys(self) -> list[str]:
        """Keys of every record in the store (damaged ones included until they are read)."""
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*/*.json") if p.parent.name != DAMAGED_DIR)

    def missing(self, configs: Iterable[RunConfig]) -> list[RunConfig]:
        """The configs (deduplicated, in order) without a readable record. Each existing
        record is read: a damaged one is moved aside (see :meth:`load`) and its run counted
        as missing."""
        seen: set[str] = set()
        out = []
        for c in configs:
            if c.key not in seen and not self._readable(c.key):
                out.append(c)
            seen.add(c.key)
        return out

    def _readable(self, key: str) -> bool:
        try:
            self.load(key)
        except KeyError:
            return False
        return True

    def check_writable(self) -> None:
        """Raise :class:`StoreNotWritableError` unless a record can be written under the root
        (creating the folder if needed); sweeps call it before they train anything."""
        probe = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".write-probe.", suffix=".tmp")
            os.close(fd)
        except OSError as err:
            raise StoreNotWritableError(
                f"store: cannot write run records to {self.root} ({err.strerror or err}); pass another "
                "folder as store=... (or set GROKKIT_STORE), or make this one writable") from err
        finally:
            if probe is not None:
                os.unlink(probe)

    # ----------------------------------------------------------------- read/write
    def load(self, key: str) -> dict[str, Any]:
        """One record as a dict. Raises KeyError if it is absent, or if it is damaged
        (truncated, not JSON, without its sections, or filed under another key): a damaged
        record is first moved into ``<root>/_damaged/`` with a :class:`DamagedRecordWarning`."""
        path = self.path(key)
        if not path.is_file():
            raise KeyError(f"no record {key} in {self.root}")
        try:
            record = json.loads(path.read_text())
        except FileNotFoundError:  # another process moved it aside meanwhile
            raise KeyError(f"no record {key} in {self.root}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            self._set_aside(path, f"not valid JSON: {err}")
            raise KeyError(f"record {key} was damaged and moved aside") from None
        problem = _record_problem(record, key)
        if problem:
            self._set_aside(path, problem)
            raise KeyError(f"record {key} was damaged and moved aside") from None
        return record

    def _set_aside(self, path: Path, why: str) -> None:
        dest = self.root / DAMAGED_DIR / f"{path.stem}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}.json"
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
            where = f"moved it to {dest}"
        except FileNotFoundError:
            return  # another reader moved it first (and warned)
        except OSError as err:
            where = f"could not move it aside ({err})"
        warnings.warn(f"run store: record {path} is unreadable ({why}); {where}; its run will be trained again",
                      DamagedRecordWarning, stacklevel=3)

    def save(self, result: Any) -> Path:
        """Write one finished run atomically; returns its path.

        ``result`` is a :class:`grokkit.engine.trainer.RunResult` or anything with
        ``config``, ``summary``, ``trajectory`` and ``provenance`` attributes.
        """
        return self.write(make_record(result))

    def write(self, record: Mapping[str, Any]) -> Path:
        """Write a record made by :func:`make_record` (e.g. on another machine) atomically."""
        problem = _record_problem(record, record.get("key", "") if isinstance(record, Mapping) else "")
        if problem:
            raise ValueError(f"not a run record: {problem}")
        path = self.path(record["key"])
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, dumps_record(dict(record)))
        return path

    # ----------------------------------------------------------------- tables
    def table(self, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """One row per run: ``key``, every config field, the summary and provenance. Without
        ``keys``, every readable record (damaged ones are moved aside and left out).

        Threshold crossings become columns ``t_test_<thr>`` and ``norm_test_<thr>``
        (the first evaluated step with test accuracy >= thr, and the norm there).
        """
        rows = []
        for k in (self.keys() if keys is None else keys):
            try:
                rows.append(flatten_record(self.load(k)))
            except KeyError:
                if keys is not None:  # asked for by name: absent (or just moved aside as damaged)
                    raise
        return pd.DataFrame(rows) if rows else _empty_table()

    def trajectories(self, keys: Iterable[str]) -> pd.DataFrame:
        """The stored trajectories of ``keys`` in long form: one row per (run, evaluated step)."""
        frames = []
        for k in keys:
            traj = self.load(k)["trajectory"]
            df = pd.DataFrame({m: np.asarray(v, dtype=float) for m, v in traj.items()})
            df.insert(0, "key", k)
            frames.append(df)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["key", "step"])

    def traces(self, keys: Iterable[str]) -> pd.DataFrame:
        """The norm traces (runs with ``trace_every``) of ``keys`` in long form: one row per
        (run, traced step), with ``norm`` and ``sq_norm_all``; runs without a trace are skipped."""
        frames = []
        for k in keys:
            trace = self.load(k).get("trace")
            if not trace:
                continue
            df = pd.DataFrame({m: np.asarray(v, dtype=float) for m, v in trace.items()})
            df.insert(0, "key", k)
            frames.append(df)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["key", "step", "norm", "sq_norm_all"])


def flatten_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as one flat table row."""
    cfg = RunConfig(**record["config"])
    row: dict[str, Any] = {"key": record["key"], **asdict(cfg)}
    summary = dict(record["summary"])
    crossings = summary.pop("crossings", None) or {}
    for thr in CROSSING_THRESHOLDS:
        step, norm = crossings.get(str(thr), (None, None))
        row[f"t_test_{thr}"] = step
        row[f"norm_test_{thr}"] = norm
    row.update(summary)
    prov = record.get("provenance", {})
    row["wall_s"] = prov.get("wall_s")
    row["device"] = prov.get("device")
    return row


#: The summary fields of a record (grokkit.engine.summary writes exactly these).
SUMMARY_FIELDS = (
    "status", "t_mem", "t_grok", "final_step", "diverged_at", "norm_init", "norm_mem", "norm_grok", "norm_final",
    "norm_peak", "t_norm_peak", "sq_norm_all_mem", "sq_norm_all_grok", "sq_norm_all_final", "logit_scale_mem",
    "logit_scale_grok", "logit_scale_final", "sc_frac_max", "train_acc_final", "test_acc_final", "crossings",
    "clamp_target",
)


def _empty_table() -> pd.DataFrame:
    """A table with no runs but the columns a table of runs has."""
    cols = ["key", *(f.name for f in fields(RunConfig))]
    cols += [f"{m}_test_{thr}" for thr in CROSSING_THRESHOLDS for m in ("t", "norm")]
    cols += [f for f in SUMMARY_FIELDS if f not in ("crossings", "clamp_target")] + ["wall_s", "device"]
    return pd.DataFrame(columns=cols)


# --------------------------------------------------------------------- format
def dumps_record(record: Mapping[str, Any]) -> str:
    """Diff-friendly JSON: one key per line, each trajectory metric on one line."""
    lines = ["{", f'  "key": {json.dumps(record["key"])},']
    for section in ("config", "summary", "provenance"):
        body = json.dumps(record[section], indent=4, sort_keys=True, allow_nan=False)
        lines.append(f'  "{section}": ' + body.replace("\n", "\n  ") + ",")
    series = [s for s in ("trajectory", "trace") if s in record]
    for i, section in enumerate(series):
        items = [f'    {json.dumps(k)}: {json.dumps(v, allow_nan=False, separators=(",", ":"))}'
                 for k, v in record[section].items()]
        comma = "," if i < len(series) - 1 else ""
        lines.append(f'  "{section}": {{\n' + ",\n".join(items) + "\n  }" + comma)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _clean(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become None, numpy scalars become Python ones."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return float(f"{v:.{DIGITS}g}") if math.isfinite(v) else None
    return v


def _keep_steps(summary: Mapping[str, Any]) -> set[int]:
    steps = {summary.get(k) for k in ("t_mem", "t_grok", "t_norm_peak", "final_step", "diverged_at")}
    for step, _ in (summary.get("crossings") or {}).values():
        steps.add(step)
    return {int(s) for s in steps if s is not None}


def downsample(trajectory: Mapping[str, list], keep_steps: set[int] = frozenset(), max_points: int = MAX_POINTS) -> dict[str, list]:
    """At most ``max_points`` evaluated points: half log-spaced, half evenly spaced in
    the evaluation index, plus the first, the last and every step in ``keep_steps``."""
    steps = list(trajectory.get("step", []))
    n = len(steps)
    if n <= max_points:
        idx = list(range(n))
    else:
        half = max_points // 2
        chosen = set(np.unique(np.round(np.geomspace(1, n, half)).astype(int) - 1).tolist())
        chosen |= set(np.unique(np.round(np.linspace(0, n - 1, half)).astype(int)).tolist())
        chosen |= {0, n - 1} | {i for i, s in enumerate(steps) if s in keep_steps}
        idx = sorted(chosen)
    return {k: [_round(v[i]) for i in idx] for k, v in trajectory.items()}


def make_record(result: Any) -> dict[str, Any]:
    """The record of a finished run (a :class:`grokkit.engine.trainer.RunResult`): what the store
    writes, small and JSON-ready, so a remote worker can send it back to the sweep."""
    cfg: RunConfig = result.config
    record = {
        "key": cfg.key,
        "config": cfg.canonical(),
        "summary": _clean(result.summary),
        "trajectory": downsample(result.trajectory, _keep_steps(result.summary)),
        "provenance": _clean(result.provenance),
    }
    trace = getattr(result, "trace", None)
    if trace:
        t_mem = result.summary.get("t_mem")
        window = {s for s in trace["step"] if t_mem is not None and t_mem <= s <= t_mem + TRACE_WINDOW}
        record["trace"] = downsample(trace, window | _keep_steps(result.summary), MAX_TRACE_POINTS)
    return record


def _record_problem(record: Any, key: str) -> str:
    """Why ``record`` is not a usable record filed under ``key`` ('' if it is)."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not a record"
    absent = [name for name in RECORD_SECTIONS if name not in record]
    if absent:
        return f"no {', '.join(absent)}"
    if record["key"] != key:
        return f"it holds run {record['key']}, not {key}"
    return ""


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; records are shared files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on folders
        pass
