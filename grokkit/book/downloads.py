"""What the built book hands its reader as data: every chapter's runs, the verdicts, and the
landing page's bottom line computed from those verdicts.

The files are written while the book builds, into ``<results>/site/`` (:func:`site_folder`);
the Sphinx hook (:mod:`grokkit.book.sphinx`) creates that folder when the build starts and adds
it to ``html_extra_path``, so Sphinx copies its contents into the root of the HTML output at
the end of the build:

=================================================  ==============================================
``downloads/<chapter>.runs.csv``                   one row per run of the chapter (its labels,
                                                   summary and configuration), :func:`runs_table`
``downloads/<chapter>.trajectories.csv``           one row per run and evaluated step, as the run
                                                   store keeps them, :func:`trajectories_table`
``downloads/verdicts.csv``, ``verdicts.json``      every verdict row of every chapter
``explorer/<chapter>.js``                          the run explorer's data (:mod:`.explorer`)
=================================================  ==============================================

A chapter shows its links with one call, after it has written its run manifest::

    display(downloads.chapter_links(chapter.CHAPTER, P.results_dir, P.store))

which writes the chapter's two CSV files from the manifest and the store and returns the links
with a line on what the columns mean; the scoreboard calls :func:`verdict_links`, the landing
page :func:`bottom_line`. Nothing here needs grokkit to *read* the files: they are plain CSV and
JSON for a spreadsheet or ``pandas.read_csv``.
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ..runs.store import RunStore, flatten_record
from .results import results_path, site_folder

#: The downloads' folder inside the site folder (:func:`grokkit.book.results.site_folder`) and the built book.
DOWNLOADS = "downloads"

#: The trajectory columns of the download (the store's names), in this order.
TRAJECTORY_COLUMNS = ("step", "train_acc", "test_acc", "train_loss", "test_loss", "norm", "sq_norm_all",
                     "logit_scale", "sc_frac")
#: A chapter's trajectories at the store's resolution up to this size; above it they are thinned
#: to the explorer's resolution (:data:`grokkit.book.explorer.MAX_POINTS` evaluations a run).
MAX_TRAJECTORY_BYTES = 20_000_000

#: The summary columns, first in the runs file (after the key, the sweeps and the labels).
SUMMARY_FIRST = ("status", "t_mem", "t_grok", "final_step", "diverged_at", "mem_threshold", "grok_threshold",
                 "norm_init", "norm_mem", "norm_grok", "norm_final", "norm_peak", "t_norm_peak",
                 "sq_norm_all_mem", "sq_norm_all_grok", "sq_norm_all_final", "logit_scale_mem", "logit_scale_grok",
                 "logit_scale_final", "sc_frac_max", "train_acc_final", "test_acc_final")

#: What the columns of the runs file mean (shown under the links).
RUNS_COLUMNS_TEXT = (
    "<b>Runs</b>: one row per run. <code>key</code> names its record in the run store "
    "(<code>data/runs/&lt;first two characters&gt;/&lt;key&gt;.json</code>); <code>sweeps</code> lists the chapter's "
    "sweeps that use it; <code>label:&lt;name&gt;</code> is its value of each sweep label (<code>rho</code>: the held "
    "norm as a multiple of the critical norm W<sub>c</sub>; <code>tau</code>: the output temperature; "
    "<code>arm</code>, <code>seed_role</code>, … as the chapter names them); <code>status</code> is grokked, censored "
    "(budget spent first), diverged, or missing (not in the store); <code>t_mem</code> and <code>t_grok</code> are the "
    "first evaluated steps with train accuracy ≥ <code>mem_threshold</code> and test accuracy ≥ "
    "<code>grok_threshold</code> (empty: not reached); <code>norm_*</code> is the weight norm ‖W‖ at initialization, "
    "T<sub>mem</sub>, T<sub>grok</sub>, the end and its peak, <code>sq_norm_all_*</code> the squared norm of all "
    "parameters, <code>logit_scale_*</code> the logit scale L; <code>t_test_x</code> and <code>norm_test_x</code> are "
    "the first step with test accuracy ≥ x and ‖W‖ there; then the run's configuration (task, p, model, optimizer, "
    "lr, weight_decay, clamp, budget, seed, …), its wall time in seconds and its device. "
    "A cell's median T<sub>grok</sub> counts censored and diverged runs as censored at <code>final_step</code> "
    "(Kaplan–Meier), as the chapters do."
)
#: What the columns of the trajectories file mean.
TRAJECTORIES_COLUMNS_TEXT = (
    "<b>Trajectories</b>: one row per run and evaluated step; <code>key</code> joins them to the runs file; "
    "<code>train_acc</code>, <code>test_acc</code>, <code>train_loss</code>, <code>test_loss</code>; "
    "<code>norm</code> (‖W‖), <code>sq_norm_all</code> (‖θ‖² over all parameters), <code>logit_scale</code> (L, the "
    "mean norm of the logits over all inputs) and <code>sc_frac</code> (the fraction of training points whose "
    "softmax is exactly 1 in working precision)."
)


# --------------------------------------------------------------------------- folders
def downloads_folder(results_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<results>/site/downloads`` (created): the book's ``downloads/``."""
    out = site_folder(results_dir) / DOWNLOADS
    out.mkdir(parents=True, exist_ok=True)
    return out


# --------------------------------------------------------------------------- a chapter's runs
def _manifest(chapter: str, results_dir: str | os.PathLike[str] | None) -> dict | None:
    from .explorer import load_manifests

    return load_manifests(results_path(results_dir)).get(chapter)


def _memberships(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """key -> {"sweeps": [...], label: value, ...} over every sweep of the manifest, in order."""
    out: dict[str, dict[str, Any]] = {}
    for name, entry in manifest.get("sweeps", {}).items():
        for run in entry.get("runs", []):
            row = out.setdefault(run["key"], {"sweeps": []})
            if name not in row["sweeps"]:
                row["sweeps"].append(name)
            for label in entry.get("labels", []):
                value = run.get(label)
                if label in row and row[label] != value:  # the same label read two ways by two sweeps
                    value = f"{row[label]} | {value}"
                row[label] = value
    return out


def runs_table(manifest: Mapping[str, Any], store: RunStore | str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per run of a chapter's manifest: ``key``, ``sweeps`` (``;``-separated),
    ``label:<name>`` for every sweep label, then the summary (:data:`SUMMARY_FIRST` first), the
    configuration, ``wall_s`` and ``device``. Runs the store lacks get ``status`` "missing"."""
    store = store if isinstance(store, RunStore) else RunStore(store)
    members = _memberships(manifest)
    labels = list(dict.fromkeys(label for e in manifest.get("sweeps", {}).values() for label in e.get("labels", [])))
    rows = []
    for key, m in members.items():
        row: dict[str, Any] = {"key": key, "sweeps": "; ".join(m["sweeps"])}
        row.update({f"label:{label}": m.get(label) for label in labels})
        try:
            flat = flatten_record(store.load(key)) if key in store else None
        except KeyError:
            flat = None
        if flat is None:
            row["status"] = "missing"
        else:
            flat.pop("key")
            row.update(flat)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["key", "sweeps", *(f"label:{label}" for label in labels), "status"])
    first = ["key", "sweeps", *(f"label:{label}" for label in labels), *(c for c in SUMMARY_FIRST if c in frame)]
    return frame[first + [c for c in frame.columns if c not in first]]


def trajectories_table(manifest: Mapping[str, Any], store: RunStore | str | os.PathLike[str] | None = None, *,
                       max_points: int | None = None) -> pd.DataFrame:
    """The stored trajectories of a chapter's runs in long form (:data:`TRAJECTORY_COLUMNS`, after
    ``key``); with ``max_points``, thinned as the explorer thins them (T_mem and T_grok kept)."""
    from .explorer import thin

    store = store if isinstance(store, RunStore) else RunStore(store)
    frames = []
    for key in _memberships(manifest):
        try:
            record = store.load(key) if key in store else None
        except KeyError:
            record = None
        if record is None:
            continue
        traj = {c: record["trajectory"][c] for c in TRAJECTORY_COLUMNS if c in record["trajectory"]}
        if max_points is not None:
            s = record["summary"]
            traj = thin(traj, {int(s[k]) for k in ("t_mem", "t_grok", "final_step") if s.get(k) is not None}, max_points)
        frame = pd.DataFrame(traj)
        frame.insert(0, "key", key)
        frames.append(frame)
    columns = ["key", *TRAJECTORY_COLUMNS]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)
    return out[[c for c in columns if c in out]]


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, float_format="%.6g", lineterminator="\n")


def write_chapter_files(chapter: str, results_dir: str | os.PathLike[str] | None = None,
                        store: RunStore | str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Write ``<chapter>.runs.csv`` and ``<chapter>.trajectories.csv`` into the downloads folder
    from the chapter's run manifest and the store. Returns ``{"runs": path, "trajectories": path,
    "thinned": bool, "n_runs": int, "missing": int}``; ``{}`` when the chapter has no manifest."""
    manifest = _manifest(chapter, results_dir)
    if manifest is None:
        return {}
    folder = downloads_folder(results_dir)
    runs = runs_table(manifest, store)
    runs_path = folder / f"{chapter}.runs.csv"
    runs_path.write_text(_csv(runs), encoding="utf-8")
    text = _csv(trajectories_table(manifest, store))
    thinned = len(text.encode()) > MAX_TRAJECTORY_BYTES
    if thinned:
        from .explorer import MAX_POINTS

        text = _csv(trajectories_table(manifest, store, max_points=MAX_POINTS))
    traj_path = folder / f"{chapter}.trajectories.csv"
    traj_path.write_text(text, encoding="utf-8")
    return {"runs": runs_path, "trajectories": traj_path, "thinned": thinned, "n_runs": len(runs),
            "missing": int(runs["status"].eq("missing").sum()) if len(runs) else 0}


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"


def _link(path: Path, base: str) -> str:
    return (f'<a class="grokkit-download" href="{html.escape(base + DOWNLOADS + "/" + path.name)}" download>'
            f"<code>{html.escape(path.name)}</code></a> ({_size(path)})")


def chapter_links(chapter: str, results_dir: str | os.PathLike[str] | None = None,
                  store: RunStore | str | os.PathLike[str] | None = None, *, base: str = "../"):
    """Write a chapter's runs and trajectories as CSV (:func:`write_chapter_files`) and return the
    HTML a chapter page shows: the two download links, their sizes, and what the columns mean.

    ``base`` is the way from the page to the book's root (``"../"`` from ``chapters/``)."""
    from IPython.display import HTML

    files = write_chapter_files(chapter, results_dir, store)
    if not files:
        return HTML(f"<p><b>The runs as data</b>: chapter {html.escape(chapter)} has written no run manifest yet, "
                    "so there is nothing to download.</p>")
    how = ("thinned to the explorer's resolution (this chapter's full trajectories would exceed "
           f"{MAX_TRAJECTORY_BYTES // 1_000_000} MB; the run store holds them)" if files["thinned"] else
           "at the run store's resolution (up to 240 evaluations a run, T<sub>mem</sub> and T<sub>grok</sub> always "
           "among them)")
    missing = (f", {files['missing']} of them not in the run store yet (status <code>missing</code>)"
               if files["missing"] else "")
    return HTML(
        f'<div class="grokkit-downloads"><p><b>The runs as data.</b> Every run of this chapter '
        f'({files["n_runs"]} runs{missing}) as CSV, to '
        f"re-analyse in a spreadsheet or with <code>pandas.read_csv</code>, no grokkit needed: "
        f"{_link(files['runs'], base)}, one row per run, and {_link(files['trajectories'], base)}, its "
        f"trajectories {how}; the same runs can be browsed cell by cell in the "
        f'<a href="{html.escape(base)}pages/explorer.html#chapter={html.escape(chapter)}">run explorer</a>.</p>'
        f'<details style="font-size:0.85em;color:#444"><summary>What the columns mean</summary>'
        f"<p>{RUNS_COLUMNS_TEXT}</p><p>{TRAJECTORIES_COLUMNS_TEXT}</p></details></div>")


# --------------------------------------------------------------------------- the verdicts
#: The columns of the verdicts' CSV (the JSON has the same fields, with the judgement nested).
VERDICT_COLUMNS = ("chapter", "title", "preset", "claim", "claimant", "basis", "paper", "ours", "verdict", "reason",
                   "scale", "diagnosis", "data_paper", "data_verdict", "kind", "paper_lo", "paper_hi", "ours_value",
                   "ours_lo", "ours_hi", "tolerance", "allowed", "page")

VERDICTS_COLUMNS_TEXT = (
    "One row per claim: the chapter, whose claim it is (<code>claimant</code>: a paper, or <code>ours…</code> for the "
    "book's own hypotheses) and on what <code>basis</code> (the paper's text, its released data, a theory); the "
    "paper's value and ours (95 % CI) as the tables show them, and as numbers (<code>paper_lo</code>, "
    "<code>paper_hi</code>, <code>ours_value</code>, <code>ours_lo</code>, <code>ours_hi</code>; empty for a claim "
    "of several parts, whose parts are in the JSON); the verdict, its reason, the tolerance stated before any "
    "result was read (<code>allowed</code>: as an absolute deviation), the scale of the runs, why we differ "
    "(<code>diagnosis</code>) and the <code>page</code> (from the book's root) where the claim is measured."
)


def verdict_rows(board: pd.DataFrame) -> pd.DataFrame:
    """The scoreboard (:func:`grokkit.book.scoreboard.load`) as flat rows (:data:`VERDICT_COLUMNS`)."""
    rows = []
    for r in board.to_dict("records"):
        j = r.get("judgement") or {}
        paper = j.get("paper") or [None, None]
        ours = j.get("ours") or {}
        section = r.get("section") or ""
        rows.append({**{c: r.get(c, "") for c in VERDICT_COLUMNS if c in board.columns},
                     "kind": j.get("kind", ""), "paper_lo": paper[0], "paper_hi": paper[1],
                     "ours_value": ours.get("value"), "ours_lo": ours.get("lo"), "ours_hi": ours.get("hi"),
                     "tolerance": j.get("tolerance", ""), "allowed": j.get("allowed"),
                     "page": f"chapters/{r['chapter']}.html" + (f"#{section}" if section else "")})
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))


def write_verdict_files(results_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Write ``verdicts.csv`` and ``verdicts.json`` into the downloads folder from every chapter's
    verdict JSON; returns their paths (``{}`` when no chapter has written verdicts)."""
    from . import scoreboard

    board = scoreboard.load(results_dir)
    if board.empty:
        return {}
    folder = downloads_folder(results_dir)
    flat = verdict_rows(board)
    csv_path, json_path = folder / "verdicts.csv", folder / "verdicts.json"
    csv_path.write_text(_csv(flat), encoding="utf-8")
    claims = [{**{k: v for k, v in r.items() if k != "judgement"}, "page": p, "judgement": r.get("judgement") or {}}
              for r, p in zip(board.to_dict("records"), flat["page"])]
    doc = {"about": "Every verdict of every chapter of the grokkit book (the scoreboard), one object per claim; "
                    "'judgement' holds the numbers behind the verdict (for claims of several parts, each part).",
           "claims": claims}
    json_path.write_text(json.dumps(_plain(doc), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"csv": csv_path, "json": json_path}


def _plain(obj: Any) -> Any:
    """JSON-safe: non-finite floats become None."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def verdict_links(results_dir: str | os.PathLike[str] | None = None, *, base: str = "../"):
    """Write the verdicts as CSV and JSON (:func:`write_verdict_files`) and return the links the
    scoreboard shows, with what the columns mean."""
    from IPython.display import HTML

    files = write_verdict_files(results_dir)
    if not files:
        return HTML("<p><b>Download</b>: no verdicts yet, so nothing to download.</p>")
    return HTML(f'<div class="grokkit-downloads"><p><b>Download the table</b>, to re-analyse it without grokkit: '
                f"{_link(files['csv'], base)} and {_link(files['json'], base)} (the same rows, with the numbers "
                f'behind each verdict).</p><details style="font-size:0.85em;color:#444"><summary>What the columns '
                f"mean</summary><p>{VERDICTS_COLUMNS_TEXT}</p></details></div>")


__all__ = ["downloads_folder", "runs_table", "trajectories_table", "write_chapter_files",
           "chapter_links", "verdict_rows", "write_verdict_files", "verdict_links"]
