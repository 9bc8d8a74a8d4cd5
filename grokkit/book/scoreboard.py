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
import os
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .results import results_path
from .verdicts import DIFFERS, NO_DATA, VERDICT_COLORS, VERDICTS, Judgement, verdict_table

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


def coverage_html(table: pd.DataFrame) -> str:
    """:func:`grokkit.book.claims.coverage` as the scoreboard shows it, narrow enough for the book's
    column: paper, where, claim, the paper's figure, the status coloured as a verdict and the chapter's
    number; under an untested headline, one line with why it is not tested and what testing it would
    cost here."""
    def why(r) -> str:
        if r["status"] != "not tested":
            return ""
        hours = r["cost (hours here)"]
        cost = f"; testing it would take about {hours:,.1f} h on this CPU" if pd.notna(hours) else ""
        return f"{r['why not tested']}{cost}"

    view = table[["paper", "where", "claim", "paper's figure", "status"]].copy()
    view["chapter"] = [_chapter_number(c) if c else "" for c in table["chapter"]]
    view["why"] = [why(r) for _, r in table.iterrows()]
    return verdict_table(view, verdict_col="status")


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


# --------------------------------------------------------------------------- the bottom line
def _paper_counts(board: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`tally` that count the papers' claims (all
    papers, then each), renamed for the landing page."""
    tally_rows = tally(board)
    keep = tally_rows[tally_rows["chapter"].str.startswith(("all chapters", "… "))].copy()
    keep["chapter"] = [("all three papers" if c == "all chapters: the papers' claims" else
                        "our own hypotheses (apart)" if c == "all chapters: our own hypotheses" else
                        c.removeprefix("… ").removesuffix("'s claims")) for c in keep["chapter"]]
    return keep.rename(columns={"chapter": "claims of"})


def _deviation(judgement: Mapping[str, Any]) -> float:
    """How far our estimate lies from the paper's value in units of the stated tolerance (the
    largest over a claim's parts; :meth:`grokkit.book.verdicts.Judgement.deviation`); NaN when the
    row has no such number."""
    j = Judgement.from_dict(judgement)
    if j.parts:
        values = [v for v in (_deviation(p.as_dict()) for _, p in j.parts) if not math.isnan(v)]
        return max(values) if values else math.nan
    return abs(j.deviation(j.ours.value)) if j.ours is not None else math.nan


def disagreements(board: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The papers' claims that differ from our runs, largest deviation first (in units of the
    tolerance each chapter stated; rows without one last), at most ``n``."""
    rows = board[(board["verdict"] == DIFFERS) & ~board["claimant"].map(is_ours)].copy()
    rows["deviation"] = [_deviation(j or {}) for j in rows["judgement"]]
    rows["context"] = [_context(board, i) for i in rows.index]
    rows["_order"] = rows["deviation"].fillna(-1.0)
    return rows.sort_values("_order", ascending=False, kind="stable").drop(columns="_order").head(n)


def _context(board: pd.DataFrame, i: Any) -> str:
    """For a row that continues the one above it (its claim starts with "…"), the claim it
    continues (the nearest row above in the same chapter that does not start with "…"); else ''."""
    claims = board["claim"].astype(str)
    if not claims[i].startswith(("…", "...")):
        return ""
    above = board.loc[:i].iloc[:-1]
    above = above[(above["chapter"] == board.loc[i, "chapter"]) & ~claims[above.index].str.startswith(("…", "..."))]
    return str(above["claim"].iloc[-1]) if len(above) else ""


def _has_label(chapter: str, label: str) -> bool:
    """Whether the chapter's source (``chapters/<chapter>.ipynb`` or ``.md`` in the project) holds
    the MyST label ``label``; True when the source cannot be found (the link is given)."""
    from .results import project_root

    root = project_root()
    sources = [root / "chapters" / f"{chapter}{suffix}" for suffix in (".ipynb", ".md")] if root else []
    found = [p for p in sources if p.is_file()]
    if not found:
        return True
    return any(f"({label})=" in p.read_text(encoding="utf-8") for p in found)


def _chapter_number(chapter: str) -> str:
    head = chapter.split("_", 1)[0]
    return str(int(head)) if head.isdigit() else chapter


def _scale_line(board: pd.DataFrame) -> str:
    """The sentence that says at which preset the chapters rendered: one preset for all, or which
    chapters at which (the book preset named as fewer seeds and shorter budgets than the papers')."""
    by_preset: dict[str, list[str]] = {}
    for chapter, preset in board[["chapter", "preset"]].drop_duplicates("chapter").itertuples(index=False):
        if preset:
            by_preset.setdefault(preset, []).append(_chapter_number(chapter))
    if not by_preset:
        return ""

    def named(preset: str) -> str:
        return f"the <code>{html.escape(preset)}</code> preset" + (
            " (fewer seeds and shorter budgets than the papers')" if preset == "book" else "")

    if len(by_preset) == 1:
        return f" At {named(next(iter(by_preset)))}; each row says its scale."
    parts = [f"{'chapter' if len(ch) == 1 else 'chapters'} {html.escape(', '.join(ch))} at {named(p)}"
             for p, ch in sorted(by_preset.items(), key=lambda kv: kv[1])]
    return " " + "; ".join(parts)[0].upper() + "; ".join(parts)[1:] + "; each row says its scale."


def bottom_line(results_dir: str | os.PathLike[str] | None = None, *, base: str = "", n: int = 5):
    """The book's result in a few lines, for the landing page, computed from every chapter's
    verdict JSON: the papers' claims per verdict (our own hypotheses apart), per paper, and the
    largest disagreements with links to the section that measures each and to where the chapter
    says why we differ (``sec-chN-why-we-differ``). ``base``: the way from the page to the book's
    root."""
    from IPython.display import HTML

    board = load(results_dir)
    if board.empty:
        return HTML("<p><b>No verdicts yet.</b> Build the book (or execute the chapters): each chapter writes its "
                    "verdicts to <code>results/&lt;chapter&gt;.json</code>, and this page sums them up.</p>")
    counts = _paper_counts(board)
    papers = board[~board["claimant"].map(is_ours)]
    ours = board[board["claimant"].map(is_ours)]

    def badge(verdict: str, k: int) -> str:
        return (f'<span style="background:{VERDICT_COLORS.get(verdict, "#eee")};padding:0 0.35em;border-radius:3px;'
                f'white-space:nowrap"><b>{k}</b> {html.escape(verdict)}</span>')

    def spread(rows: pd.DataFrame) -> str:
        return ", ".join(badge(v, int((rows["verdict"] == v).sum())) for v in VERDICTS if (rows["verdict"] == v).any())

    scale = _scale_line(board)
    chapters = board["chapter"].nunique()
    out = [f'<div class="grokkit-bottom-line"><p><b>The book re-runs {len(papers)} claims of the three papers '
           f"in {chapters} chapters:</b> {spread(papers)}.{scale}"]
    if len(ours):
        out.append(f" Our own hypotheses, counted apart: {spread(ours)}.")
    out.append("</p>")
    verdict_cols = [v for v in VERDICTS if counts[v].sum() > 0]
    if len(counts) > 1 or len(ours):
        head = "".join(f'<th style="background:{VERDICT_COLORS.get(v, "")}">{html.escape(v)}</th>' for v in verdict_cols)
        body = "".join(
            "<tr><td>" + html.escape(r["claims of"]) + "</td>" + "".join(f"<td>{int(r[v])}</td>" for v in verdict_cols)
            + f"<td>{int(r['claims'])}</td></tr>" for _, r in counts.iterrows())
        out.append('<table class="grokkit-tally" style="font-size:0.9em;border-collapse:collapse;margin-bottom:1em">'
                   f"<thead><tr><th>claims of</th>{head}<th>claims</th></tr></thead><tbody>{body}</tbody></table>")
    worst = disagreements(board, n)
    if len(worst):
        more = int((papers["verdict"] == "differs").sum()) - len(worst)
        out.append("<p><b>The largest disagreements</b> (ours against the paper's value, in units of the tolerance "
                   "the chapter stated before reading any result):</p><ol>")
        for r in worst.itertuples():
            page = f"{base}chapters/{r.chapter}.html"
            section = str(r.section or "")
            claim = f'<a href="{html.escape(page)}{"#" + html.escape(section) if section else ""}">{html.escape(str(r.claim))}</a>'
            if r.context:
                claim = f'<span style="color:#555">{html.escape(r.context)}</span> {claim}'
            who = f"chapter {_chapter_number(r.chapter)}" + (f", {html.escape(str(r.claimant))}" if r.claimant else "")
            dev = f"; {r.deviation:.1f} tolerances off" if not math.isnan(r.deviation) else ""
            why = ""
            if isinstance(r.diagnosis, str) and r.diagnosis:
                anchor = f"sec-ch{_chapter_number(r.chapter)}-why-we-differ"
                link = (f' <a href="{html.escape(page)}#{anchor}">Why we differ →</a>'
                        if _has_label(r.chapter, anchor) else "")
                why = f'<br><span style="font-size:0.9em;color:#444">{html.escape(r.diagnosis)}{link}</span>'
            out.append(f"<li>{claim} ({who}): paper {html.escape(str(r.paper))}; ours {html.escape(str(r.ours))}{dev}.{why}</li>")
        out.append("</ol>")
        if more > 0:
            out.append(f"<p>{more} more of the papers' claims differ. ")
        else:
            out.append("<p>")
    else:
        out.append("<p>None of the papers' claims differs from our runs. ")
    out.append(f'Every claim, with its numbers and the reason for its verdict, is on the '
               f'<a href="{html.escape(base)}pages/scoreboard.html">scoreboard</a>.</p></div>')
    return HTML("".join(out))
