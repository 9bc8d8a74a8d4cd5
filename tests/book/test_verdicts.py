"""The verdict scale, the verdict table and the book's table formatting."""

import json
import math

import pandas as pd
import pytest

from grokkit.book import tables, text, verdicts
from grokkit.analysis.stats import Estimate


def est(v, lo, hi):
    return Estimate(v, lo, hi)


def test_consistent_when_the_paper_lies_in_our_ci():
    j = verdicts.compare(7.64, est(7.77, 7.61, 7.90), tol=0.05, fmt=".2f")
    assert j.verdict == verdicts.CONSISTENT and "inside our CI [7.61, 7.90]" in j.reason


def test_a_paper_range_overlapping_our_ci_is_consistent():
    assert verdicts.compare((7.47, 7.81), est(7.77, 7.61, 7.90), tol=0.05).verdict == verdicts.CONSISTENT


def test_close_outside_the_ci_but_within_the_stated_tolerance():
    # chapter 2's bend: paper 0.69-0.71, ours 0.63 [0.63, 0.66], tolerance 10 %
    j = verdicts.compare((0.69, 0.71), est(0.63, 0.63, 0.66), tol=0.10, fmt=".2f")
    assert j.verdict == verdicts.CLOSE
    assert j.reason == "paper 0.69–0.71 outside our CI [0.63, 0.66]; our 0.63 is 9 % from it, within the stated 10 %"


def test_differs_beyond_the_tolerance_and_absolute_tolerances():
    j = verdicts.compare(0.38, est(0.47, 0.44, 0.47), tol=0.10, fmt=".2f")
    assert j.verdict == verdicts.DIFFERS and "beyond the stated 10 %" in j.reason
    assert verdicts.compare(0.0, est(0.05, 0.04, 0.06), atol=0.1).verdict == verdicts.CLOSE
    assert verdicts.compare(0.0, est(0.5, 0.4, 0.6), atol=0.1).verdict == verdicts.DIFFERS


def test_no_data_and_bad_tolerances():
    assert verdicts.compare(1.0, None, tol=0.1).verdict == verdicts.NO_DATA
    assert verdicts.compare(1.0, est(math.nan, math.nan, math.nan), tol=0.1).verdict == verdicts.NO_DATA
    with pytest.raises(ValueError, match="tol"):
        verdicts.compare(1.0, est(1, 1, 1))
    with pytest.raises(ValueError, match="tol"):
        verdicts.compare(1.0, est(1, 1, 1), tol=0.1, atol=0.1)
    with pytest.raises(ValueError, match="paper"):
        verdicts.compare((2.0, 1.0), est(1, 1, 1), tol=0.1)


def test_bounds():
    assert verdicts.at_most(2.0, est(1.3, 1.0, 1.7), tol=0.5).verdict == verdicts.CONSISTENT
    assert verdicts.at_most(2.0, est(2.5, 1.5, 2.9), tol=0.5).verdict == verdicts.CONSISTENT  # the CI reaches the bound
    assert verdicts.at_most(2.0, est(2.5, 1.5, 3.5), tol=0.5).verdict == verdicts.INCONCLUSIVE  # ... and beyond 3
    assert verdicts.at_most(2.0, est(2.5, 2.2, 3.5), tol=0.5).verdict == verdicts.CLOSE
    assert verdicts.at_most(2.0, est(3.5, 3.2, 3.9), tol=0.5).verdict == verdicts.DIFFERS
    assert verdicts.at_least(0.9, est(0.5, 0.3, 0.7), atol=0.1).verdict == verdicts.DIFFERS


def test_several_parts_give_partly_and_say_which_hold():
    ok, off = verdicts.compare(1, est(1, 0.9, 1.1), tol=0.1), verdicts.compare(1, est(2, 1.9, 2.1), tol=0.1)
    close = verdicts.compare(1, est(1.05, 1.03, 1.07), tol=0.1)
    assert verdicts.combine({"a": ok, "b": ok}).verdict == verdicts.CONSISTENT
    assert verdicts.combine({"a": ok, "b": close}).verdict == verdicts.CLOSE
    both = verdicts.combine({"a": ok, "b": off})
    assert both.verdict == verdicts.PARTLY and both.reason == "holds: a; differs: b"
    assert verdicts.combine({"a": off}).verdict == verdicts.DIFFERS
    assert verdicts.combine({"a": verdicts.compare(1, None, tol=0.1)}).verdict == verdicts.NO_DATA


def test_counts_use_an_exact_binomial_ci():
    assert verdicts.count(0, 12, 0, 60, atol=0.1).verdict == verdicts.CONSISTENT
    assert verdicts.count(0, 12, 0, 8, atol=0.1).verdict == verdicts.INCONCLUSIVE  # 0/8 cannot exclude 30 %
    assert verdicts.count(0, 12, 6, 8, atol=0.1).verdict == verdicts.DIFFERS
    assert verdicts.count(0, 12, 0, 0, atol=0.1).verdict == verdicts.NO_DATA


def test_deviation_in_units_of_the_tolerance():
    j = verdicts.compare((0.69, 0.71), est(0.63, 0.63, 0.66), tol=0.10)
    assert j.deviation(0.70) == 0 and j.deviation(0.69 - 0.069) == pytest.approx(-1)
    assert verdicts.at_most(2.0, est(1, 1, 1), tol=0.5).deviation(3.0) == pytest.approx(1)


def test_verdicts_table_json_and_compact_view(tmp_path):
    V = verdicts.Verdicts("09_example", "9. An example", "book")
    V.add("alpha", verdicts.compare(7.64, est(7.77, 7.61, 7.90), tol=0.05, fmt=".2f"), paper="7.64",
          note="R² 0.992", scale="8 seeds", section="sec-x")
    V.add("parts", verdicts.combine({"a": verdicts.compare(1, est(2, 1.9, 2.1), tol=0.1)}), paper="1", ours="2")
    assert V.tally() == "1 consistent, 1 differs"
    assert V.rows[0].ours == "7.77 [7.61, 7.90]; R² 0.992"
    data = json.loads(V.write(tmp_path).read_text())
    assert data["chapter"] == "09_example" and data["preset"] == "book"
    row = data["rows"][0]
    assert row["reason"].startswith("paper 7.64 inside") and row["judgement"]["ours"]["lo"] == 7.61
    assert data["rows"][1]["judgement"]["parts"][0]["name"] == "a"
    assert verdicts.read_estimate("09_example", "alp", tmp_path) == est(7.77, 7.61, 7.90)
    assert verdicts.read_estimate("09_example", "parts", tmp_path, part="a") == est(2, 1.9, 2.1)
    assert verdicts.read_estimate("09_example", "parts", tmp_path, part="b") is None
    assert verdicts.read_estimate("09_example", "parts", tmp_path) is None  # the row itself has no estimate
    html = V.compact()._repr_html_()
    assert "scale" not in html and "inside our CI" in html and "&lt;" not in html.replace("&lt;/", "")


def test_verdict_table_keeps_short_columns_side_by_side_and_puts_prose_under_its_row():
    V = verdicts.Verdicts("09_example", "9. An example", "book")
    V.add("alpha <b>", verdicts.compare(7.64, est(7.77, 7.61, 7.90), tol=0.05, fmt=".2f"), paper="7.64",
          scale="8 seeds", section="sec-x")
    V.add("beta", verdicts.compare(1, est(2, 1.9, 2.1), tol=0.1), paper="1", scale="4 seeds")
    V.diagnose("beta", "a genuine difference")
    html = V._repr_html_()
    head = html[html.index("<thead>"):html.index("</thead>")]
    assert [h in head for h in ("claim", "paper", "verdict", "scale", "diagnosis")] == [True, True, True, False, False]
    assert html.count("colspan=") == 2  # one detail line per row
    assert "<b>scale:</b> 8 seeds" in html and "<b>diagnosis:</b> a genuine difference" in html
    assert "<b>diagnosis:</b>" not in html[:html.index("beta")]  # an empty diagnosis is not named
    assert "alpha &lt;b&gt;" in html  # escaped
    assert verdicts.VERDICT_COLORS["consistent"] in html and verdicts.VERDICT_COLORS["differs"] in html


def test_tables_round_each_column_to_its_meaning():
    df = pd.DataFrame({"rho": [0.85, 0.95, 1.0, 1.05], "t_median": [3712.5, 1e4, float("inf"), float("nan")],
                       "norm_median": [54.123, 60.0, 61.25, 2.04], "lr": [1e-3, 2e-3, 4e-3, 8e-3], "n": [8, 8, 8, 8]})
    html = tables.table(df).to_html()
    for shown in ("0.85", "0.95", "1.00", "1.05", "3,712", "10,000", "∞", "—", "54.1", "0.001", "0.008"):
        assert f">{shown}<" in html, shown
    assert ">0.8<" not in html and ">1.0<" not in html
    cells = pd.DataFrame({"rho": [1.3], "n": [8], "n_grokked": [0], "n_censored": [8], "n_diverged": [0],
                          "t_median": [float("inf")], "t_lo": [float("inf")], "t_hi": [float("inf")],
                          "norm_median": [float("nan")], "norm_lo": [float("nan")], "norm_hi": [float("nan")],
                          "budget": [26000]})
    assert "not reached (&gt; 26,000)" in tables.cells_table(cells, "rho").to_html() or \
        "not reached (> 26,000)" in tables.cells_table(cells, "rho").to_html()


def test_a_dense_table_gets_the_compact_style():
    narrow = pd.DataFrame({c: [1] for c in "abc"})
    dense = pd.DataFrame({c: [1] for c in "abcdefghi"})
    size = lambda styled: next(v for rule in styled.table_styles if rule["selector"] == ""  # noqa: E731
                               for k, v in rule["props"] if k == "font-size")
    assert size(tables.table(narrow)) == "0.88em" and size(tables.table(dense)) == "0.78em"
    assert size(tables.table(narrow, compact=True)) == "0.78em" and size(tables.table(dense, compact=False)) == "0.88em"


def test_glue_returns_nothing():
    assert text.glue("x", 1.5, ".2f") is None


def test_glued_text_survives_myst_nb_literal_eval():
    """myst-nb renders {glue:text} through ast.literal_eval: '30,000' must not become (30, 0),
    nor '{1, 1.05}' a set."""
    pytest.importorskip("myst_nb")
    from myst_nb.core.variables import format_plain_text

    from grokkit.book.text import _Text

    for shown in ["30,000", "{1, 1.05, 1.1}", "0.85 [0.83, 0.88] / 0.92", "it's \"quoted\"", "7", "n/a"]:
        assert format_plain_text(repr(_Text(shown)), "") == shown


# ---------------------------------------------------------------------------- the verdict policy
def test_policy_a_matched_interval_from_the_papers_seeds():
    """'0.00141 ± 0.00007 over 10 seeds' is the 95 % interval of a mean, not a point."""
    lo, hi = verdicts.paper_sd(0.00141, 0.00007, 10)
    assert (lo, hi) == pytest.approx((0.00141 - 1.959964 * 0.00007 / 10 ** 0.5, 0.00141 + 1.959964 * 0.00007 / 10 ** 0.5))
    ours = est(0.00138, 0.00136, 0.00141)
    assert verdicts.compare(0.00141, ours, tol=0.05).verdict == verdicts.CONSISTENT  # the CI reaches the point ...
    assert verdicts.compare((lo, hi), est(0.00136, 0.00135, 0.001365), tol=0.05).verdict == verdicts.CLOSE
    assert verdicts.compare((lo, hi), est(0.00138, 0.00136, 0.00137), tol=0.05).verdict == verdicts.CONSISTENT


def test_policy_rounded_values_are_intervals_of_their_rounding():
    assert verdicts.paper_rounded("≈ 63") == (62.5, 63.5)
    assert verdicts.paper_rounded("0.38") == pytest.approx((0.375, 0.385))
    assert verdicts.paper_rounded("12.16k") == pytest.approx((12155, 12165))
    assert verdicts.compare(verdicts.paper_rounded("63"), est(62.9, 62.6, 63.2), tol=0.04).verdict == verdicts.CONSISTENT


def test_policy_one_sided_claims_are_judged_one_sided():
    """'concentrated: CV at most 4 %' is met by a CV far below the bound, which a two-sided
    comparison with '0.4-4 %' would also pass, but a one-sided one never calls 'differs'."""
    assert verdicts.at_most(4.0, est(0.2, 0.1, 0.3), tol=0.5).verdict == verdicts.CONSISTENT
    assert verdicts.at_least(0.9, est(0.95, 0.93, 0.97), atol=0.05).verdict == verdicts.CONSISTENT
    assert verdicts.at_most(4.0, est(7.0, 6.5, 7.5), tol=0.5).verdict == verdicts.DIFFERS


def test_policy_a_ci_wider_than_the_band_is_inconclusive_and_says_how_many_seeds_would_decide():
    j = verdicts.compare(2.0, est(2.2, 1.3, 3.1), tol=0.5)  # band [1, 3]; the CI leaves it
    assert j.verdict == verdicts.INCONCLUSIVE and "too few seeds" in j.reason
    need = j.seeds_to_decide(4)
    assert need == math.ceil(4 * (0.9 / 0.8) ** 2)  # half-width 0.9 must shrink to 0.8 (3.0 - 2.2)
    assert not j.holds
    V = verdicts.Verdicts("07_x", "7. X", "book")
    from grokkit.analysis.cells import ScaleNote
    row = V.add("c", j, paper="2", scale=ScaleNote("4 runs", 4))
    assert row.seeds_to_decide == need and f"about {need} seeds per cell would decide it" in row.reason
    parts = verdicts.combine({"a": verdicts.compare(1, est(1, 0.95, 1.05), tol=0.1), "b": j})
    assert parts.verdict == verdicts.INCONCLUSIVE and parts.seeds_to_decide(4) == need
    off = verdicts.compare(1, est(2, 1.9, 2.1), tol=0.1)
    assert verdicts.combine({"a": off, "b": j, "c": verdicts.compare(1, est(1, 0.95, 1.05), tol=0.1)}).verdict \
        == verdicts.PARTLY


def test_policy_text_against_released_data_shows_both_and_counts_the_text():
    V = verdicts.Verdicts("07_x", "7. X", "book", claimant="paper 1")
    ours = est(8.8, 8.5, 9.1)
    text = verdicts.compare(7.4, ours, tol=0.08)
    data = verdicts.compare(8.66, ours, tol=0.08)
    row = V.add("alpha at lr 2e-3", text, paper="≈ 7.4", data=data, data_paper="8.66",
                diagnosis="the paper's text against its released data: ours match the data")
    assert (row.verdict, row.data_verdict, row.basis, row.claimant) == (verdicts.DIFFERS, verdicts.CONSISTENT, "text",
                                                                       "paper 1")
    assert "released data: 8.66 (consistent against ours)" in V.frame().loc[0, "paper"]
    with pytest.raises(ValueError, match="basis"):
        V.add("x", text, paper="1", basis="folklore")


def test_policy_our_own_hypotheses_are_counted_apart(tmp_path):
    from grokkit.book import scoreboard

    V = verdicts.Verdicts("07_x", "7. X", "book", claimant="paper 1")
    V.add("a paper's claim", verdicts.compare(1, est(1, 0.95, 1.05), tol=0.1), paper="1")
    V.add("our hypothesis", verdicts.compare(0, est(7, 6.8, 7.3), atol=2), paper="chapter 7", claimant="ours (chapter 7)")
    V.write(tmp_path)
    tally = scoreboard.tally(scoreboard.load(tmp_path)).set_index("chapter")
    assert tally.loc["all chapters: the papers' claims", "claims"] == 1
    assert tally.loc["all chapters: the papers' claims", "differs"] == 0
    assert tally.loc["all chapters: our own hypotheses", "differs"] == 1


def test_a_count_says_how_many_runs_would_decide_it_from_the_exact_binomial_ci():
    """8/8 grokked against the paper's 16/16 with ± 0.15: the exact CI [0.63, 1] is too wide; the
    fewest runs at 100 % whose exact CI stays above 0.85 decide it (1/sqrt(n) would say far fewer)."""
    from grokkit.analysis.stats import proportion_ci

    j = verdicts.count(16, 16, 8, 8, atol=0.15)
    assert j.verdict == verdicts.INCONCLUSIVE and j.runs == 8
    need = j.seeds_to_decide(8)
    assert proportion_ci(need, need).lo >= 0.85 > proportion_ci(need - 1, need - 1).lo
