"""The book's scoreboard: every claim of every chapter, read from the verdict JSON they write.

Each chapter ends by writing ``<results>/<chapter>.json`` (:meth:`grokkit.book.verdicts.Verdicts.write`).
:func:`load` gathers every such file into one table, :func:`table_html` shows it with links to
the chapter sections that measure each claim, and :func:`deviations` puts every claim on one
axis (ours minus the paper's value, in units of the tolerance the chapter stated) for
:func:`grokkit.book.plots.verdict_deviations`. Nothing here is typed per chapter: a chapter added
later appears on the scoreboard as soon as it has been executed.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import pandas as pd

from .results import results_path
from .verdicts import NO_DATA, VERDICTS, Judgement, verdict_table
from ..analysis.stats import Estimate

COLUMNS = ["chapter", "title", "preset", "claim", "paper", "ours", "verdict", "reason", "scale", "section", "judgement"]


def load(results_dir: str | Path | None = None) -> pd.DataFrame:
    """One row per verdict of every chapter whose verdict JSON is in ``results_dir``, in
    chapter order; an empty table (with :data:`COLUMNS`) when there is none."""
    rows = []
    folder = results_path(results_dir)
    for path in sorted(folder.glob("*.json")):
        if path.name.endswith(".runs.json"):
            continue
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict) or "rows" not in data:
            continue
        for r in data["rows"]:
            rows.append({"chapter": data.get("chapter", path.stem), "title": data.get("title") or data.get("chapter", path.stem),
                         "preset": data.get("preset", ""), "claim": r.get("claim", ""), "paper": r.get("paper", ""),
                         "ours": r.get("ours", ""), "verdict": r.get("verdict", NO_DATA), "reason": r.get("reason", ""),
                         "scale": r.get("scale", ""), "section": r.get("section", ""), "judgement": r.get("judgement") or {}})
    return pd.DataFrame(rows, columns=COLUMNS)


def tally(board: pd.DataFrame) -> pd.DataFrame:
    """Counts of each verdict per chapter, and in all."""
    if board.empty:
        return pd.DataFrame(columns=["chapter", *VERDICTS, "claims"])
    counts = pd.crosstab(board["title"], board["verdict"]).reindex(columns=list(VERDICTS), fill_value=0)
    order = list(dict.fromkeys(board["title"]))
    counts = counts.loc[order]
    counts.loc["all chapters"] = counts.sum()
    counts["claims"] = counts.sum(axis=1)
    return counts.reset_index().rename(columns={"title": "chapter"})


def _link(chapter: str, section: str, text: str, base: str) -> str:
    anchor = f"#{section}" if section else ""
    return f'<a href="{base}{html.escape(chapter)}.html{anchor}">{html.escape(text)}</a>'


def table_html(board: pd.DataFrame, base: str = "../chapters/") -> str:
    """The scoreboard as HTML: the claim (with its chapter's number, linked to the section that
    measures it), the paper's value, ours with its CI, the verdict with its reason underneath,
    and the scale (preset, runs, budgets)."""
    def number(title: str) -> str:
        return title.split(". ", 1)[0] + " · " if ". " in title else ""

    frame = pd.DataFrame({
        "claim": [number(t) + _link(c, s, cl, base) for c, s, cl, t in
                  zip(board["chapter"], board["section"], board["claim"], board["title"])],
        "paper": [html.escape(x) for x in board["paper"]],
        "ours (95 % CI)": [html.escape(x) for x in board["ours"]],
        "verdict": [f"<b>{v}</b><br><span style='font-size:0.85em;color:#444'>{html.escape(r)}</span>"
                    for v, r in zip(board["verdict"], board["reason"])],
        "scale": [html.escape(f"{p} preset: {s}" if p else s) for p, s in zip(board["preset"], board["scale"])],
    })
    return verdict_table(frame, escape=False)


def _judgement(d: dict) -> Judgement:
    ours = d.get("ours")
    est = Estimate(*(math.nan if ours.get(k) is None else float(ours[k]) for k in ("value", "lo", "hi"))) if ours else None
    paper = tuple(d["paper"]) if d.get("paper") else None
    return Judgement(d.get("verdict", NO_DATA), d.get("reason", ""), d.get("kind", "none"), paper, est, d.get("allowed"))


def deviations(board: pd.DataFrame, width: int = 58) -> pd.DataFrame:
    """One row per compared quantity, for :func:`grokkit.book.plots.verdict_deviations`: a claim of
    several parts gives a header row (``header`` True, no values) and one row per part. Values
    are our estimate and CI as deviations from the paper in units of the stated tolerance."""
    out = []

    def short(text: str, n: int) -> str:
        return text if len(text) <= n else text[: n - 1] + "…"

    for r in board.itertuples():
        j = r.judgement or {}
        number = r.title.split(".", 1)[0] if "." in r.title else r.chapter
        label = f"{number} · {short(r.claim, width)}"
        parts = j.get("parts", [])
        rows = [(label, j, False)]
        if parts:
            out.append({"label": label, "value": math.nan, "lo": math.nan, "hi": math.nan,
                        "verdict": r.verdict, "chapter": r.chapter, "header": True})
            rows = [(f"      {short(p['name'], width - 6)}", p, False) for p in parts]
        for text, d, header in rows:
            jj = _judgement(d)
            value = lo = hi = math.nan
            if jj.ours is not None and jj.paper is not None and jj.allowed:
                value, lo, hi = (jj.deviation(x) for x in (jj.ours.value, jj.ours.lo, jj.ours.hi))
                if jj.kind == "at_least":
                    lo, hi = hi, lo
            out.append({"label": text, "value": value, "lo": lo, "hi": hi,
                        "verdict": d.get("verdict", NO_DATA), "chapter": r.chapter, "header": header})
    return pd.DataFrame(out, columns=["label", "value", "lo", "hi", "verdict", "chapter", "header"])
