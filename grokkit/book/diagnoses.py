"""Why we differ: for every verdict that does not simply agree, the candidate explanations, the
experiment that decides between them, and its outcome computed from the runs.

The explanations, experiments and decision rules were registered before any deciding run was
trained or read, in ``docs/why-we-differ.md`` at commit :data:`REGISTERED`; a chapter's module
restates its part as :class:`Diagnosis` values and computes each ``outcome`` from the data. The
outcome is the verdict row's ``diagnosis`` (:meth:`grokkit.book.verdicts.Verdicts.diagnose`), and
:func:`table` shows a chapter's diagnoses in its "Where we differ, and why" section.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from typing import Sequence

import pandas as pd

from ..analysis.cells import seeds_per_cell
from .tables import HTML, TABLE_STYLE
from .text import and_list
from .verdicts import CLOSE, DIFFERS, INCONCLUSIVE, NO_DATA, PARTLY, Judgement, Verdict, Verdicts, before_policy

#: The commit that registered every candidate explanation and decision rule (docs/why-we-differ.md).
REGISTERED = "0ad0540"
#: The verdicts that call for a diagnosis.
NEEDS_DIAGNOSIS = (CLOSE, PARTLY, INCONCLUSIVE, DIFFERS)


@dataclass(frozen=True)
class Diagnosis:
    """One verdict row's diagnosis: the row (its claim's start), the candidate explanations, the
    deciding experiment and its decision rule as registered, and the ``outcome`` in one sentence
    computed from the data (``""`` until it is computed)."""

    claim: str
    candidates: tuple[str, ...]
    experiment: str
    rule: str
    outcome: str = ""

    def decided(self, outcome: str) -> Diagnosis:
        """This diagnosis with its computed outcome."""
        return replace(self, outcome=outcome)


#: What rule R2 (too few seeds) registers for a row that the policy leaves inconclusive.
R2 = ("too few seeds: a CI wider than the tolerance band on both sides",)
R2_EXPERIMENT = "none: R2 estimates from the spread how many seeds per cell would decide it"
R2_RULE = "R2: inconclusive; the diagnosis says how many seeds would decide it"


def too_few_seeds(row: Verdict, unit: str = "cell", also: str = "") -> Diagnosis:
    """Rule R2 on a row the verdict policy leaves inconclusive: which parts could not be decided,
    about how many seeds per ``unit`` would decide it, the verdict it had before the policy, and
    the parts without data (``also``: a further clause)."""
    j = Judgement.from_dict(row.judgement)
    undecided = [n for n, p in j.parts if p.verdict == INCONCLUSIVE] if j.parts else []
    which = ("our CI reaches the paper's value and leaves" if not undecided
             else f"the CI of “{undecided[0]}” reaches the paper's value and leaves" if len(undecided) == 1
             else f"the CIs of {and_list(f'“{n}”' for n in undecided)} reach the paper's value and leave")
    at = seeds_per_cell(row.scale).replace("per cell", f"per {unit}")
    out = (f"too few seeds: at {at} {which} the tolerance band; about {row.seeds_to_decide or 'more'} seeds per "
           f"{unit} would decide it (R2)")
    before = before_policy(j)
    if before != row.verdict:
        out += f"; it was {before} before the verdict policy (rule 5: a CI too wide to decide is inconclusive)"
    nodata = [(n, p.reason) for n, p in j.parts if p.verdict == NO_DATA]
    if nodata:
        out += "; no data (rule 1, the same condition): " + and_list(f"{n}, {why}" for n, why in nodata)
    return Diagnosis(row.claim, R2, R2_EXPERIMENT, R2_RULE).decided(out + also)


def unregistered(row: Verdict) -> Diagnosis:
    """A row that calls for a diagnosis but had none registered (it was consistent at
    :data:`REGISTERED`, or it was added since): no explanation is made up after the result."""
    return Diagnosis(row.claim, (f"none registered at commit {REGISTERED}: the row was consistent then, or added "
                                 "since",), "none registered", "none registered").decided(
        f"unregistered: {row.verdict} at this preset ({row.reason}); no explanation or deciding experiment was "
        f"registered at commit {REGISTERED}, so none is claimed here")


def fill(V: Verdicts, ds: list[Diagnosis], unit: str = "cell") -> list[Diagnosis]:
    """``ds`` with a diagnosis for every row that calls for one and has none: :func:`too_few_seeds`
    for an inconclusive row, :func:`unregistered` for any other."""
    out = list(ds)
    for row in V.rows:
        if row.verdict in NEEDS_DIAGNOSIS and not any(row.claim.startswith(d.claim) for d in out):
            out.append(too_few_seeds(row, unit) if row.verdict == INCONCLUSIVE else unregistered(row))
    return out


def pending(have: int, want: int, what: str = "deciding runs") -> str:
    """The outcome of a diagnosis whose deciding runs are not all in the store yet."""
    return (f"undecided: {have} of the {want} {what} are in the store so far (the chapter trains the rest when it "
            "is run with training allowed)")


def apply(V: Verdicts, diagnoses: Sequence[Diagnosis]) -> None:
    """Write each diagnosis's outcome into its verdict row (the row whose claim starts with
    ``claim``); rows that hold need none, so a diagnosis whose row is absent is skipped."""
    for d in diagnoses:
        if d.outcome and any(r.claim.startswith(d.claim) for r in V.rows):
            V.diagnose(d.claim, d.outcome)


def undiagnosed(V: Verdicts) -> list[str]:
    """Rows that call for a diagnosis and have none (a test keeps this empty at the book preset)."""
    return [r.claim for r in V.rows if r.verdict in NEEDS_DIAGNOSIS and not r.diagnosis]


def table(V: Verdicts, diagnoses: Sequence[Diagnosis]) -> HTML:
    """The "Where we differ, and why" table: for each diagnosed row, the claim with its verdict and
    scale, the candidate explanations, the deciding experiment with its rule, and the outcome."""
    rows = []
    for d in diagnoses:
        row = next((r for r in V.rows if r.claim.startswith(d.claim)), None)
        if row is None:
            continue
        rows.append({
            "claim (verdict, scale)": f"{html.escape(row.claim)}<br><b>{html.escape(row.verdict)}</b>"
                                      f"<br><span style='font-size:0.85em;color:#444'>{html.escape(row.scale)}</span>",
            "candidate explanations": "<br>".join(f"({chr(97 + i)}) {html.escape(c)}" for i, c in enumerate(d.candidates)),
            "deciding experiment and rule": f"{html.escape(d.experiment)}<br><i>Rule:</i> {html.escape(d.rule)}",
            "outcome": html.escape(d.outcome or "not computed"),
        })
    frame = pd.DataFrame(rows, columns=["claim (verdict, scale)", "candidate explanations",
                                        "deciding experiment and rule", "outcome"])
    styled = frame.style.format(escape=None).hide(axis="index").set_table_styles(TABLE_STYLE).set_properties(
        **{"text-align": "left", "vertical-align": "top", "font-size": "0.9em"})
    return HTML(styled.to_html())
