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

COLUMNS = ["chapter", "title", "preset", "claim", "paper", "ours", "verdict", "reason", "scale", "section", "judgement",
           "claimant", "basis", "data_paper", "data_verdict", "diagnosis"]


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
                         "scale": r.get("scale", ""), "section": r.get("section", ""), "judgement": r.get("judgement") or {},
                         "claimant": r.get("claimant", ""), "basis": r.get("basis", "text"),
                         "data_paper": r.get("data_paper", ""), "data_verdict": r.get("data_verdict", ""),
                         "diagnosis": r.get("diagnosis", "")})
    return pd.DataFrame(rows, columns=COLUMNS)


def is_ours(claimant: str) -> bool:
    """A row that judges the book's own hypothesis, not a paper's claim."""
    return str(claimant).startswith("ours")


def tally(board: pd.DataFrame) -> pd.DataFrame:
    """Counts of each verdict per chapter, then in all: the papers' claims (what the scoreboard
    counts), the book's own hypotheses apart, and every paper separately."""
    cols = ["chapter", *VERDICTS, "claims"]
    if board.empty:
        return pd.DataFrame(columns=cols)

    def counts(rows: pd.DataFrame, label: str) -> dict:
        c = {v: int((rows["verdict"] == v).sum()) for v in VERDICTS}
        return {"chapter": label, **c, "claims": len(rows)}

    papers = board[~board["claimant"].map(is_ours)]
    out = [counts(board[board["title"] == t], t) for t in dict.fromkeys(board["title"])]
    out.append(counts(papers, "all chapters: the papers' claims"))
    for claimant in sorted(set(papers["claimant"]) - {""}):
        out.append(counts(papers[papers["claimant"] == claimant], f"… {claimant}'s claims"))
    ours = board[board["claimant"].map(is_ours)]
    if len(ours):
        out.append(counts(ours, "all chapters: our own hypotheses"))
    return pd.DataFrame(out, columns=cols)


def _link(chapter: str, section: str, text: str, base: str) -> str:
    anchor = f"#{section}" if section else ""
    return f'<a href="{base}{html.escape(chapter)}.html{anchor}">{html.escape(text)}</a>'


def table_html(board: pd.DataFrame, base: str = "../chapters/") -> str:
    """The scoreboard as HTML: the claim (with its chapter's number, linked to the section that
    measures it), the paper's value, ours with its CI, the verdict with its reason underneath,
    and the scale (preset, runs, budgets)."""
    def number(title: str) -> str:
        return title.split(". ", 1)[0] + " · " if ". " in title else ""

    def paper(r) -> str:
        who = f"<span style='font-size:0.85em;color:#444'>{html.escape(r.claimant)} · {html.escape(r.basis)}</span><br>" \
            if r.claimant else ""
        data = (f"<br><span style='font-size:0.85em;color:#444'>released data: {html.escape(r.data_paper)} "
                f"(<b>{html.escape(r.data_verdict)}</b> against ours)</span>") if r.data_verdict else ""
        return who + html.escape(r.paper) + data

    frame = pd.DataFrame({
        "claim": [number(t) + _link(c, s, cl, base) for c, s, cl, t in
                  zip(board["chapter"], board["section"], board["claim"], board["title"])],
        "paper": [paper(r) for r in board.itertuples()],
        "ours (95 % CI)": [html.escape(x) for x in board["ours"]],
        "verdict": [f"<b>{v}</b><br><span style='font-size:0.85em;color:#444'>{html.escape(r)}</span>"
                    for v, r in zip(board["verdict"], board["reason"])],
        "why we differ": [html.escape(d) for d in board["diagnosis"]],
        "scale": [html.escape(f"{p} preset: {s}" if p else s) for p, s in zip(board["preset"], board["scale"])],
    })
    return verdict_table(frame, escape=False)


def diagnosed(board: pd.DataFrame) -> pd.DataFrame:
    """The rows that carry a diagnosis (why we differ): the scoreboard's filter."""
    return board[board["diagnosis"].astype(str).str.len() > 0]


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
            jj = Judgement.from_dict(d)
            value = lo = hi = math.nan
            if jj.ours is not None and jj.paper is not None and jj.allowed:
                value, lo, hi = (jj.deviation(x) for x in (jj.ours.value, jj.ours.lo, jj.ours.hi))
                if jj.kind == "at_least":
                    lo, hi = hi, lo
            out.append({"label": text, "value": value, "lo": lo, "hi": hi,
                        "verdict": d.get("verdict", NO_DATA), "chapter": r.chapter, "header": header})
    return pd.DataFrame(out, columns=["label", "value", "lo", "hi", "verdict", "chapter", "header"])
