"""Verdicts on the papers' claims: one policy for every row of every chapter.

The verdict scale
-----------------
Every claim is compared with a tolerance that the chapter states before it reads any result:

``consistent``
    the paper's value (its interval, see the policy) meets our 95 % CI, and our CI stays within
    the tolerance band around it, so the data could have shown a difference;
``close``
    the paper's value lies outside our CI, but our estimate is within the stated tolerance of it;
``partly``
    a claim made of several parts, some of which hold (consistent or close) and some of
    which differ; the reason says which;
``inconclusive``
    our CI reaches the paper's value *and* beyond the tolerance band: it cannot tell agreement
    from disagreement (too few seeds); the row says about how many seeds per cell would decide it;
``differs``
    the paper's value lies outside our CI and our estimate beyond the tolerance;
``no data``
    nothing to measure it with (no runs yet, or a scale at which the claim does not apply).

The policy
----------
1. **Same condition.** The paper's value is taken at the condition we measured (the same
   modulus, training fraction, evaluation grid, step of the reading, fitted range), or the row
   says why no matched value exists.
2. **The paper's own uncertainty** is the interval we compare with: its CI as given; "± s over n
   seeds" as the 95 % interval of a mean, ± 1.96 s/√n (:func:`paper_sd`); a range as given; a
   rounded value as the interval of its rounding (:func:`paper_rounded`).
3. **Text or released data.** Where a paper's text and its released data disagree, the row judges
   the claim *as written* (``basis="text"``) and shows the verdict against the data beside it
   (``data=``); the scoreboard counts the verdict as written. Every row says its ``basis``:
   ``text``, ``released data`` or ``theory``.
4. **One-sided claims** ("at most 2 %", "concentrated") are judged one-sided (:func:`at_most`,
   :func:`at_least`).
5. **Too wide to decide** is *inconclusive*, never consistent.
6. **Whose claim.** A row states whose claim it judges (``claimant``): a paper's, or ours (a
   chapter's own hypothesis); the scoreboard counts ours apart from the papers'.

A :class:`Judgement` always carries its reason in words, e.g. "paper 0.69–0.71 outside our CI
[0.63, 0.66]; our 0.63 within the stated 10 %". Counts ("0/12 grok") use a proportion with an
exact binomial CI (:func:`grokkit.analysis.stats.proportion_ci`), and multi-part claims
:func:`combine`. A chapter collects its rows in :class:`Verdicts`, which shows them as a table and
writes them as JSON (with the numbers behind each row) for the book's scoreboard.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from ..analysis.stats import Estimate
from .results import results_path
from .tables import HTML, TABLE_STYLE
from .text import fmt_ci, fmt_num

CONSISTENT, CLOSE, DIFFERS, PARTLY, NO_DATA = "consistent", "close", "differs", "partly", "no data"
INCONCLUSIVE = "inconclusive"

#: Every verdict, best first.
VERDICTS = (CONSISTENT, CLOSE, PARTLY, INCONCLUSIVE, DIFFERS, NO_DATA)

#: Background colours of the verdicts in tables and figures (colour-blind safe, light).
VERDICT_COLORS = {CONSISTENT: "#cfe8cf", CLOSE: "#e6f0c0", PARTLY: "#fbe7b5", INCONCLUSIVE: "#dde3f0",
                  DIFFERS: "#f6cccc", NO_DATA: "#e8e8e8"}
#: What a row's ``basis`` may be: the claim as the paper writes it, its released data, or a theory's value.
BASES = ("text", "released data", "theory")
#: z of a two-sided 95 % interval.
Z95 = 1.959964
#: The verdict policy in words, as the scoreboard page shows it (the module docstring says the same
#: with the functions that carry out each rule).
POLICY = """One policy governs every verdict row of every chapter:

1. **Same condition.** The paper's value is taken at the condition we measured (the same modulus,
   training fraction, evaluation grid, step of the reading, fitted range), or the row says why no
   matched value exists (and is *no data*).
2. **The paper's own uncertainty** is the interval we compare with: its CI as given; "± s over n
   seeds" as the 95 % interval of a mean, ± 1.96 s/√n; a range as given; a rounded value as the
   interval of its rounding.
3. **Text or released data.** Where a paper's text and its released data disagree, the row judges
   the claim as written and shows our verdict against the data beside it; the counts below use the
   verdict as written. Every row says its basis: the text, the released data or a theory.
4. **One-sided claims** ("at most 2 %", "concentrated") are judged one-sided.
5. **Too wide to decide** is *inconclusive*, never consistent: our CI reaches the paper's value and
   also leaves the tolerance band, so these seeds could not have told agreement from disagreement;
   the row says about how many seeds per cell would decide it.
6. **Whose claim.** Each row names the claim's owner: one of the papers, or the book itself (a
   chapter's own hypothesis), and the book's hypotheses are counted apart from the papers' claims.

Tolerances are stated by each chapter before any result is read; a verdict moves only through
these rules or through more runs."""


# ---------------------------------------------------------------- judgements
@dataclass(frozen=True)
class Judgement:
    """A verdict, its reason in words, and the numbers behind it.

    ``kind`` is "value" (the paper's value or range against our CI), "at_most" /
    "at_least" (a bound), "parts" (several sub-claims) or "none" (no data).
    ``paper`` is the paper's range ``(lo, hi)`` (equal ends for one value; the bound for
    bound claims), ``ours`` our estimate, ``allowed`` the tolerance as an absolute
    deviation and ``tolerance`` the tolerance as the chapter states it.
    """

    verdict: str
    reason: str
    kind: str = "value"
    paper: tuple[float, float] | None = None
    ours: Estimate | None = None
    allowed: float | None = None
    tolerance: str = ""
    fmt: str = ".3g"
    unit: str = ""
    parts: tuple[tuple[str, "Judgement"], ...] = ()
    runs: int | None = None  # a count: the runs behind our proportion (its CI is exact, not 1/sqrt(n))

    @property
    def holds(self) -> bool:
        """Consistent or close."""
        return self.verdict in (CONSISTENT, CLOSE)

    def seeds_to_decide(self, seeds: int | None) -> int | None:
        """For an inconclusive judgement measured with ``seeds`` seeds per cell: about how many
        would narrow our CI (which shrinks as 1/√n) enough to decide, inside the tolerance band
        when our estimate lies in it, clear of the paper's value when it does not."""
        if self.verdict != INCONCLUSIVE or not seeds:
            return None
        if self.parts:
            need = [j.seeds_to_decide(seeds) for _, j in self.parts]
            return max((n for n in need if n), default=None)
        if self.ours is None or self.paper is None or self.allowed is None:
            return None
        if self.runs:
            return self._runs_to_decide(seeds)
        a, b = self.paper
        v, half = self.ours.value, (self.ours.hi - self.ours.lo) / 2
        lo_band = -math.inf if self.kind == "at_most" else a - self.allowed
        hi_band = math.inf if self.kind == "at_least" else b + self.allowed
        if lo_band <= v <= hi_band:
            room = min(v - lo_band, hi_band - v)
        else:
            room = a - v if v < a else v - b
        if not room > 0 or not half > 0:
            return None
        return max(seeds + 1, math.ceil(seeds * (half / room) ** 2))

    def deviation(self, y: float) -> float:
        """How far ``y`` lies from the paper's value, in units of the stated tolerance
        (0 inside the paper's range; for a bound, negative on the side the claim allows)."""
        if self.paper is None or not self.allowed or y is None or math.isnan(y):
            return math.nan
        a, b = self.paper
        if self.kind == "at_most":
            return (y - b) / self.allowed
        if self.kind == "at_least":
            return (a - y) / self.allowed
        return (y - min(max(y, a), b)) / self.allowed

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Judgement:
        """A judgement back from its JSON form (:meth:`as_dict`), parts included."""
        ours = d.get("ours")
        est = Estimate(*(math.nan if ours.get(k) is None else float(ours[k]) for k in ("value", "lo", "hi"))) \
            if ours else None
        return cls(d.get("verdict", NO_DATA), d.get("reason", ""), d.get("kind", "none"),
                   tuple(d["paper"]) if d.get("paper") else None, est, d.get("allowed"), d.get("tolerance", ""),
                   parts=tuple((q["name"], cls.from_dict(q)) for q in d.get("parts") or []), runs=d.get("runs"))

    def _runs_to_decide(self, seeds: int) -> int | None:
        """A count's seeds to decide, from the exact binomial CI: the fewest runs per cell (at our
        proportion) whose CI fits the tolerance band, or clears the paper's value (up to 100x)."""
        from ..analysis.stats import proportion_ci

        a, b = self.paper
        lo_band, hi_band = a - self.allowed, b + self.allowed
        share = self.ours.value
        for n in range(self.runs + 1, 100 * self.runs + 1):
            ci = proportion_ci(round(share * n), n)
            if (lo_band <= ci.lo and ci.hi <= hi_band) or ci.hi < a or ci.lo > b:
                return math.ceil(seeds * n / self.runs)
        return None

    def as_dict(self) -> dict[str, Any]:
        d = {"verdict": self.verdict, "reason": self.reason, "kind": self.kind,
             "paper": list(self.paper) if self.paper else None,
             "ours": self.ours.as_dict() if self.ours is not None else None,
             "allowed": self.allowed, "tolerance": self.tolerance}
        if self.parts:
            d["parts"] = [{"name": n, **j.as_dict()} for n, j in self.parts]
        if self.runs:
            d["runs"] = self.runs
        return _jsonable(d)

def no_data(reason: str = "no runs to measure it") -> Judgement:
    """A row that cannot be judged, and why."""
    return Judgement(NO_DATA, reason, kind="none")


def at_paper_condition(judgement: Judgement, ours: Any, paper: Any, name: str = "p") -> Judgement:
    """``judgement`` where our condition is the paper's (``ours == paper``), else "no data": a
    chapter re-run at another modulus (say) has no paper value to be judged against."""
    if ours == paper:
        return judgement
    return no_data(f"measured at {name} = {ours}, the paper's is {paper}")

def _tolerance(tol: float | None, atol: float | None, ref: float, fmt: str, unit: str) -> tuple[float, str]:
    if (tol is None) == (atol is None):
        raise ValueError("tol: give exactly one of tol (relative, e.g. 0.1 for 10 %) or atol (absolute)")
    if tol is not None:
        if not (isinstance(tol, (int, float)) and tol >= 0):
            raise ValueError(f"tol: must be a non-negative fraction, got {tol!r}")
        return tol * abs(ref), f"{100 * tol:g} %"
    if not (isinstance(atol, (int, float)) and atol >= 0):
        raise ValueError(f"atol: must be a non-negative number, got {atol!r}")
    return float(atol), f"± {fmt_num(atol, fmt)}{unit}"

def _finite(ours: Estimate | None) -> bool:
    return ours is not None and ours.value is not None and math.isfinite(ours.value)

def _range(paper: float | Sequence[float]) -> tuple[float, float]:
    if isinstance(paper, (int, float)):
        return float(paper), float(paper)
    a, b = (float(x) for x in paper)
    if a > b:
        raise ValueError(f"paper: a range must be (lo, hi) with lo <= hi, got {paper!r}")
    return a, b

def paper_sd(mean: float, sd: float, n: int) -> tuple[float, float]:
    """The paper's "mean ± sd over n seeds" as the 95 % interval of its mean (policy rule 2)."""
    half = Z95 * sd / math.sqrt(n)
    return mean - half, mean + half


def paper_rounded(text: str) -> tuple[float, float]:
    """A value the paper rounds ("≈ 63", "0.38", "12.16k") as the interval of its rounding:
    "63" is [62.5, 63.5], "0.38" is [0.375, 0.385], "12.16k" is [12155, 12165]."""
    t = text.strip().lstrip("≈~ ").replace(",", "")
    scale = 1000.0 if t.endswith("k") else 1.0
    t = t.rstrip("k")
    decimals = len(t.split(".")[1]) if "." in t else 0
    half = 0.5 * 10 ** -decimals
    value = float(t)
    return (value - half) * scale, (value + half) * scale


def compare(paper: float | Sequence[float], ours: Estimate | None, *, tol: float | None = None,
            atol: float | None = None, fmt: str = ".3g", unit: str = "") -> Judgement:
    """Judge a value claim: the paper's value (or range ``(lo, hi)``) against our estimate.

    ``tol`` is a relative tolerance (0.1: within 10 % of the paper's value), ``atol`` an
    absolute one; exactly one must be given, and the chapter states it before reading results.

    >>> compare(0.70, Estimate(0.63, 0.63, 0.66), tol=0.1).verdict
    'close'
    """
    a, b = _range(paper)
    ptxt = fmt_num(a, fmt, unit) if a == b else f"{fmt_num(a, fmt)}–{fmt_num(b, fmt)}{unit}"
    if not _finite(ours):
        return no_data()
    ref = a if ours.value < a else b  # the nearest end of the paper's range
    allowed, ttxt = _tolerance(tol, atol, ref, fmt, unit)
    base = dict(kind="value", paper=(a, b), ours=ours, allowed=allowed, tolerance=ttxt, fmt=fmt, unit=unit)
    citxt = f"[{fmt_num(ours.lo, fmt)}, {fmt_num(ours.hi, fmt)}]{unit}"
    if ours.lo <= b and ours.hi >= a:
        word = "inside" if a == b else "overlaps"
        lo_band = a - _tolerance(tol, atol, a, fmt, unit)[0]
        hi_band = b + _tolerance(tol, atol, b, fmt, unit)[0]
        if ours.lo < lo_band or ours.hi > hi_band:
            band = f"[{fmt_num(lo_band, fmt)}, {fmt_num(hi_band, fmt)}]{unit}"
            return Judgement(INCONCLUSIVE, f"paper {ptxt} {word} our CI {citxt}, but the CI also leaves the "
                                           f"tolerance band {band} (the stated {ttxt}): too few seeds to tell", **base)
        return Judgement(CONSISTENT, f"paper {ptxt} {word} our CI {citxt}", **base)
    dist = abs(ours.value - ref)
    how = f"{100 * dist / abs(ref):.0f} % from it" if tol is not None and ref else f"{fmt_num(dist, fmt)}{unit} from it"
    ourtxt = fmt_num(ours.value, fmt, unit)
    if dist <= allowed:
        return Judgement(CLOSE, f"paper {ptxt} outside our CI {citxt}; our {ourtxt} is {how}, within the stated {ttxt}", **base)
    return Judgement(DIFFERS, f"paper {ptxt} outside our CI {citxt}; our {ourtxt} is {how}, beyond the stated {ttxt}", **base)

def _bound(kind: str, bound: float, ours: Estimate | None, tol: float | None, atol: float | None,
           fmt: str, unit: str) -> Judgement:
    if not _finite(ours):
        return no_data()
    allowed, ttxt = _tolerance(tol, atol, bound, fmt, unit)
    base = dict(kind=kind, paper=(bound, bound), ours=ours, allowed=allowed, tolerance=ttxt, fmt=fmt, unit=unit)
    sign = "≤" if kind == "at_most" else "≥"
    btxt, ourtxt = fmt_num(bound, fmt, unit), fmt_num(ours.value, fmt, unit)
    citxt = f"[{fmt_num(ours.lo, fmt)}, {fmt_num(ours.hi, fmt)}]{unit}"
    over = (ours.value - bound) if kind == "at_most" else (bound - ours.value)
    near, far = (ours.lo, ours.hi) if kind == "at_most" else (ours.hi, ours.lo)
    reaches = near <= bound if kind == "at_most" else near >= bound
    beyond = (far - bound if kind == "at_most" else bound - far) > allowed
    if reaches and beyond:
        edge = fmt_num(bound + allowed if kind == "at_most" else bound - allowed, fmt, unit)
        return Judgement(INCONCLUSIVE, f"our CI {citxt} reaches the paper's {sign} {btxt} and also beyond {edge} "
                                       f"(the stated {ttxt}): too few seeds to tell", **base)
    if over <= 0:
        return Judgement(CONSISTENT, f"our {ourtxt} meets the paper's {sign} {btxt}", **base)
    if reaches:
        return Judgement(CONSISTENT, f"our {ourtxt} misses the paper's {sign} {btxt}, but our CI {citxt} reaches it", **base)
    if over <= allowed:
        return Judgement(CLOSE, f"our CI {citxt} misses the paper's {sign} {btxt}; our {ourtxt} within the stated {ttxt}", **base)
    return Judgement(DIFFERS, f"our CI {citxt} misses the paper's {sign} {btxt}; our {ourtxt} beyond the stated {ttxt}", **base)

def at_most(bound: float, ours: Estimate | None, *, tol: float | None = None, atol: float | None = None,
            fmt: str = ".3g", unit: str = "") -> Judgement:
    """Judge an upper-bound claim ("the CV is at most 2 %"): consistent when our estimate, or
    its CI, reaches the bound while the CI stays within the tolerance above it; inconclusive when
    the CI reaches both; close when our estimate exceeds the bound by at most the tolerance."""
    return _bound("at_most", bound, ours, tol, atol, fmt, unit)

def at_least(bound: float, ours: Estimate | None, *, tol: float | None = None, atol: float | None = None,
             fmt: str = ".3g", unit: str = "") -> Judgement:
    """Judge a lower-bound claim ("at least 90 % of the runs grok"), as :func:`at_most` mirrored."""
    return _bound("at_least", bound, ours, tol, atol, fmt, unit)

def combine(parts: Mapping[str, Judgement]) -> Judgement:
    """Judge a claim made of several parts.

    consistent if every part is; close if every part holds (consistent or close); partly if
    some hold and some differ (the reason lists both); differs if none holds; inconclusive if
    none differs but some cannot be decided; no data if no part has data. Parts without data are
    named but do not count.
    """
    items = tuple(parts.items())
    judged = [(n, j) for n, j in items if j.verdict != NO_DATA]
    if not judged:
        return Judgement(NO_DATA, "no part has data", kind="parts", parts=items)
    holds = [n for n, j in judged if j.holds]
    undecided = [n for n, j in judged if j.verdict == INCONCLUSIVE]
    differ = [n for n, j in judged if not j.holds and j.verdict != INCONCLUSIVE]
    missing = [n for n, j in items if j.verdict == NO_DATA]
    tail = (f"; too few seeds to tell: {', '.join(undecided)}" if undecided and differ else "") + (
        f"; no data: {', '.join(missing)}" if missing else "")
    if undecided and not differ:
        held = f"; holds: {', '.join(holds)}" if holds else ""
        return Judgement(INCONCLUSIVE, f"too few seeds to tell: {', '.join(undecided)}{held}{tail}", kind="parts",
                         parts=items)
    if not differ:
        verdict = CONSISTENT if all(j.verdict == CONSISTENT for _, j in judged) else CLOSE
        close = [n for n, j in judged if j.verdict == CLOSE]
        reason = "every part consistent" if verdict == CONSISTENT else f"every part holds; close, not consistent: {', '.join(close)}"
    elif holds:
        verdict, reason = PARTLY, f"holds: {', '.join(holds)}; differs: {', '.join(differ)}"
    else:
        verdict, reason = DIFFERS, f"every part differs: {', '.join(differ)}"
    return Judgement(verdict, reason + tail, kind="parts", parts=items)

def before_policy(j: Judgement | Mapping[str, Any]) -> str:
    """The verdict ``j`` (or its JSON form) had under the book's rules before this policy's rule 5:
    a CI that reached the paper's value was consistent, however wide it was."""
    j = j if isinstance(j, Judgement) else Judgement.from_dict(j)
    if j.parts:
        return combine({n: replace(p, verdict=before_policy(p), parts=()) for n, p in j.parts}).verdict
    return CONSISTENT if j.verdict == INCONCLUSIVE else j.verdict


def count(paper_k: int, paper_n: int, k: int | None, n: int | None, *, atol: float) -> Judgement:
    """Judge a count claim ("0/12 grok") as a proportion: the paper's fraction against ours,
    with an exact binomial CI (see :func:`grokkit.analysis.stats.proportion_ci`)."""
    from ..analysis.stats import proportion_ci

    if not n:
        return no_data()
    return replace(compare(paper_k / paper_n, proportion_ci(int(k), int(n)), atol=atol, fmt=".2f"), runs=int(n))


# ---------------------------------------------------------------- verdict tables
@dataclass
class Verdict:
    """One row of a chapter's verdict table."""

    claim: str
    paper: str
    ours: str
    verdict: str
    reason: str
    scale: str
    section: str = ""
    source: str = ""
    judgement: dict[str, Any] = field(default_factory=dict)
    claimant: str = ""  # whose claim: "paper 1", ..., or "ours (chapter 6)"
    basis: str = "text"  # what the paper's figure is: the claim as written, its released data, a theory
    data_paper: str = ""  # the paper's released data, where they differ from its text ...
    data_verdict: str = ""  # ... and our verdict against them (the row's verdict judges the text)
    data_reason: str = ""
    seeds_to_decide: int | None = None  # inconclusive rows: about how many seeds per cell would decide
    seeds: int | None = None  # the fewest seeds per cell behind the row (from its scale note)
    diagnosis: str = ""  # why we differ (rows that differ, hold partly or are close), in one sentence

@dataclass
class Verdicts:
    """A chapter's verdict table: add rows, show them, write them as JSON.

    ``chapter`` is the notebook's stem (``"02_pinned_norm_law"``), ``title`` its heading and
    ``preset`` the preset its numbers come from; the scoreboard reads all three.
    """

    chapter: str
    title: str = ""
    preset: str = ""
    rows: list[Verdict] = field(default_factory=list)
    claimant: str = ""  # the paper whose claims the chapter judges (each row may name another)

    def add(self, claim: str, judgement: Judgement, *, paper: str, ours: str | None = None, note: str = "",
            scale: str = "", section: str = "", source: str = "", claimant: str | None = None, basis: str = "text",
            data: Judgement | None = None, data_paper: str = "", diagnosis: str = "") -> Verdict:
        """Add a row. ``paper`` is the paper's figure as the paper gives it; ``ours`` defaults to
        our estimate with its CI (in the judgement's format), followed by ``note``;
        ``section`` is the label of the chapter section that measures the claim; ``claimant``
        whose claim it is (default: the chapter's paper); ``basis`` what the paper's figure is
        (:data:`BASES`); ``data`` our verdict against the paper's released data where they differ
        from its text (``data_paper``); ``diagnosis`` why we differ, in one sentence. An
        inconclusive row says about how many seeds per cell would decide it (from ``scale``,
        a :func:`grokkit.analysis.cells.scale_note`)."""
        if basis not in BASES:
            raise ValueError(f"basis: expected one of {BASES}, got {basis!r}")
        if ours is None:
            j = judgement
            ours = fmt_ci(j.ours, j.fmt, j.unit) if j.ours is not None else ("n/a" if not j.parts else "")
        ours = f"{ours}; {note}" if note and ours else (note or ours)
        reason = judgement.reason
        need = judgement.seeds_to_decide(getattr(scale, "seeds", None))
        if need:
            reason += f"; about {need} seeds per cell would decide it"
        row = Verdict(claim, paper, ours, judgement.verdict, reason, str(scale), section, source,
                      judgement.as_dict(), claimant or self.claimant, basis, data_paper,
                      data.verdict if data is not None else "", data.reason if data is not None else "", need,
                      getattr(scale, "seeds", None), diagnosis)
        self.rows.append(row)
        return row

    def diagnose(self, claim_prefix: str, diagnosis: str) -> None:
        """Give the row whose claim starts with ``claim_prefix`` its diagnosis (why we differ)."""
        for row in self.rows:
            if row.claim.startswith(claim_prefix):
                row.diagnosis = diagnosis
                return
        raise KeyError(f"claim_prefix: no row starts with {claim_prefix!r}")

    def frame(self) -> pd.DataFrame:
        """The rows as a table: claim, paper, ours, verdict, why, and the scale and diagnosis."""
        return pd.DataFrame([{"claim": r.claim, "paper": _with_data(r), "ours (95 % CI)": r.ours, "verdict": r.verdict,
                              "why": r.reason, "scale": r.scale, "diagnosis": r.diagnosis} for r in self.rows],
                            columns=["claim", "paper", "ours (95 % CI)", "verdict", "why", "scale", "diagnosis"])

    def tally(self) -> str:
        """"5 consistent, 2 close, 1 differs" (in the order of the scale)."""
        counts = {v: sum(r.verdict == v for r in self.rows) for v in VERDICTS}
        return ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no claims"

    def _repr_html_(self) -> str:
        return verdict_table(self.frame())

    def compact(self) -> HTML:
        """The table without the scale column, each reason under its verdict: for a page's
        "result at a glance" (the full table, with scales, closes the chapter)."""
        import html

        frame = pd.DataFrame({
            "claim": [html.escape(r.claim) for r in self.rows],
            "paper": [html.escape(_with_data(r)) for r in self.rows],
            "ours (95 % CI)": [html.escape(r.ours) for r in self.rows],
            "verdict": [f"<b>{r.verdict}</b><br><span style='font-size:0.85em;color:#444'>{html.escape(r.reason)}</span>"
                        for r in self.rows],
        }, columns=["claim", "paper", "ours (95 % CI)", "verdict"])
        colors = [VERDICT_COLORS.get(r.verdict, "") for r in self.rows]
        styled = frame.style.hide(axis="index").set_table_styles(TABLE_STYLE).apply(
            lambda col: [f"background-color: {c}" for c in colors], subset=["verdict"])
        return HTML(styled.to_html())

    def write(self, results_dir: str | Path | None = None) -> Path:
        """Write ``<results_dir>/<chapter>.json`` (see :func:`results_path`) and return its path."""
        path = results_path(results_dir) / f"{self.chapter}.json"
        data = {"chapter": self.chapter, "title": self.title, "preset": self.preset, "rows": [asdict(r) for r in self.rows]}
        path.write_text(json.dumps(_jsonable(data), indent=2, ensure_ascii=False) + "\n")
        return path

def _with_data(row: Verdict) -> str:
    """The paper's figure, and its released data with our verdict against them where they differ."""
    if not row.data_verdict:
        return row.paper
    return f"{row.paper} — released data: {row.data_paper} ({row.data_verdict} against ours)"


#: Columns a verdict table shows as a full-width line under their row (long prose, small and grey).
DETAIL_COLUMNS = ("why", "scale", "why we differ", "diagnosis")


def verdict_table(frame: pd.DataFrame, verdict_col: str = "verdict", *, escape: bool = True) -> str:
    """A verdict frame as HTML that fits the book's text column: the short columns (claim, values,
    verdict) side by side with the verdict cell coloured, and the long ones (:data:`DETAIL_COLUMNS`:
    why, scale, diagnosis) as one small grey line under their row, each named. Cell text is
    HTML-escaped unless ``escape=False`` (for cells that hold links and markup)."""
    import html

    def text(v: Any) -> str:
        v = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        return html.escape(v) if escape else v

    table, cell, head = (_inline_style(sel) for sel in ("", "th, td", "thead th"))  # the book's TABLE_STYLE
    rule = "border-bottom:1px solid #ddd"  # between rows (a row and its detail line stay together)
    detail = [c for c in DETAIL_COLUMNS if c in frame.columns]
    main = [c for c in frame.columns if c not in detail]
    out = [f'<table class="grokkit-verdicts" style="{table};width:100%">',
           "<thead><tr>" + "".join(f'<th style="{cell};{head}">{html.escape(str(c))}</th>'
                                   for c in main) + "</tr></thead><tbody>"]
    for _, row in frame.iterrows():
        tds = []
        for c in main:
            style = cell
            if c == verdict_col:
                style += f";background-color:{VERDICT_COLORS.get(_verdict_of(row[c]), '')}"
                style += ";font-weight:600" if escape else ""  # unescaped cells bring their own markup
            tds.append(f'<td style="{style}">{text(row[c])}</td>')
        lines = [f"<b>{html.escape(str(c))}:</b> {text(row[c])}" for c in detail if text(row[c]).strip()]
        out.append(f'<tr style="{"" if lines else rule}">' + "".join(tds) + "</tr>")
        if lines:
            out.append(f'<tr style="{rule}"><td colspan="{len(main)}" '
                       f'style="{cell};padding-top:0;font-size:0.85em;color:#444">' + "<br>".join(lines) + "</td></tr>")
    out.append("</tbody></table>")
    return "\n".join(out)

def _inline_style(selector: str) -> str:
    """The properties :data:`~grokkit.book.tables.TABLE_STYLE` gives ``selector``, as an inline style."""
    return ";".join(f"{k}:{v}" for rule in TABLE_STYLE if rule["selector"] == selector for k, v in rule["props"])

def _verdict_of(cell: str) -> str:
    """The verdict a table cell starts with (cells may hold markup and a reason after it)."""
    text = re.sub(r"<[^>]+>", " ", str(cell)).strip()
    return next((v for v in VERDICTS if text.startswith(v)), "")

def read_estimate(chapter: str, claim_prefix: str, results_dir: str | Path | None = None, *,
                  part: str | None = None) -> Estimate | None:
    """Our estimate of another chapter's claim, read from its verdict JSON (the row whose claim
    starts with ``claim_prefix``; with ``part``, that named part of a many-part row), so that a
    chapter can build on another's number without retyping it. None when that chapter has not
    been run or the row (or part) has no estimate."""
    path = results_path(results_dir) / f"{chapter}.json"
    if not path.exists():
        return None
    for row in json.loads(path.read_text()).get("rows", []):
        if not row.get("claim", "").startswith(claim_prefix):
            continue
        judgement = row.get("judgement", {})
        if part is not None:
            judgement = next((p for p in judgement.get("parts") or [] if p.get("name") == part), {})
        ours = judgement.get("ours")
        if ours:
            return Estimate(ours["value"], ours["lo"], ours["hi"], ours.get("ci", 0.95))
    return None

def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Estimate):
        return _jsonable(obj.as_dict())
    if isinstance(obj, Judgement):
        return obj.as_dict()
    if hasattr(obj, "item") and callable(obj.item):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
