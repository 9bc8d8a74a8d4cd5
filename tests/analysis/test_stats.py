"""Tests for grokkit.analysis.stats: recover known values on synthetic data."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from grokkit.analysis import stats

LEVELS = np.array([0.85, 0.95, 1.05, 1.15, 1.25])
N_SEEDS = 16
ALPHA, A0 = 7.5, 1.0


def exp_runs(alpha=ALPHA, a=A0, sigma=0.1, seed=1, levels=LEVELS, n=N_SEEDS):
    """Per-run data with T = exp(a + alpha * x) * lognormal(0, sigma)."""
    rng = np.random.default_rng(seed)
    x = np.repeat(levels, n)
    t = np.exp(a + alpha * x) * (rng.lognormal(0.0, sigma, x.size) if sigma > 0 else 1.0)
    return x, t


# -----------------------------------------------------------------------------
# Estimate / bootstrap_ci


def test_estimate_str_contains_and_dict():
    est = stats.Estimate(7.6412, 7.4666, 7.8123)
    assert str(est) == "7.64 [7.47, 7.81]"
    assert est.contains(7.5) and not est.contains(8.0)
    assert not stats.Estimate(1.0, float("nan"), float("nan")).contains(1.0)
    d = est.as_dict()
    assert d == {"value": 7.6412, "lo": 7.4666, "hi": 7.8123, "ci": 0.95}
    json.dumps(d)
    assert str(stats.Estimate(4077.4, 3795.2, 4257.0)) == "4077 [3795, 4257]"
    assert str(stats.Estimate(7.5, 7.6, 100.0)) == "7.50 [7.60, 100]"


def test_bootstrap_ci_reproducible_and_covers_mean():
    data = np.random.default_rng(3).normal(10.0, 2.0, 200)
    a = stats.bootstrap_ci(data, np.mean, n_boot=1000, seed=5)
    b = stats.bootstrap_ci(data, np.mean, n_boot=1000, seed=5)
    c = stats.bootstrap_ci(data, np.mean, n_boot=1000, seed=6)
    assert a == b
    assert (a.lo, a.hi) != (c.lo, c.hi)
    assert a.value == pytest.approx(data.mean())
    assert a.lo < a.value < a.hi
    assert a.contains(10.0)
    # the percentile CI of the mean is close to mean ± 1.96 * sem
    sem = data.std(ddof=1) / np.sqrt(data.size)
    assert a.hi - a.lo == pytest.approx(2 * 1.96 * sem, rel=0.15)


def test_bootstrap_ci_rows_and_nan_handling():
    rows = np.column_stack([np.arange(10.0), 2 * np.arange(10.0)])
    est = stats.bootstrap_ci(rows, lambda r: np.mean(r[:, 1] - 2 * r[:, 0]), n_boot=50)
    assert (est.value, est.lo, est.hi) == (0.0, 0.0, 0.0)  # rows are resampled whole
    all_nan = stats.bootstrap_ci([1.0, 2.0, 3.0], lambda d: float("nan"), n_boot=20)
    assert math.isnan(all_nan.lo) and math.isnan(all_nan.hi)


# -----------------------------------------------------------------------------
# Kaplan-Meier


@pytest.mark.parametrize("n", [15, 16])
def test_km_median_equals_np_median_without_censoring(n):
    t = np.random.default_rng(n).exponential(1000.0, n)
    assert stats.km_median(t) == pytest.approx(np.median(t), rel=1e-12)
    assert stats.km_median(t, np.ones(n, bool)) == pytest.approx(np.median(t), rel=1e-12)
    ties = np.random.default_rng(n).integers(1, 6, n).astype(float)  # many ties
    assert stats.km_median(ties) == pytest.approx(np.median(ties))


@pytest.mark.parametrize("t", [[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 2.0, 2.0], [1.0, 2.0, 2.0, 3.0], [7.0]])
def test_km_median_small_cases(t):
    assert stats.km_median(t) == pytest.approx(np.median(t))


def test_kaplan_meier_hand_computed():
    times = [2, 3, 3, 5, 6, 8, 9, 10]
    events = [1, 1, 0, 1, 0, 1, 1, 0]
    # t=2: 8 at risk, 1 event   -> S = 7/8             = 0.875
    # t=3: 7 at risk, 1 event   -> S = 0.875 * 6/7     = 0.75   (the run censored at 3 is at risk at 3)
    # t=5: 5 at risk, 1 event   -> S = 0.75 * 4/5      = 0.6
    # t=6: censored, no step
    # t=8: 3 at risk, 1 event   -> S = 0.6 * 2/3       = 0.4    <= 0.5 first here -> median 8
    # t=9: 2 at risk, 1 event   -> S = 0.4 * 1/2       = 0.2
    km = stats.kaplan_meier(times, events)
    assert list(km.columns) == ["time", "n_at_risk", "n_events", "survival"]
    assert km["time"].tolist() == [2, 3, 5, 8, 9]
    assert km["n_at_risk"].tolist() == [8, 7, 5, 3, 2]
    assert km["n_events"].tolist() == [1, 1, 1, 1, 1]
    np.testing.assert_allclose(km["survival"], [0.875, 0.75, 0.6, 0.4, 0.2])
    assert stats.km_median(times, events) == 8.0  # np.median(times) would be 5.5


def test_km_median_censored_midpoint_and_inf():
    # t=1 censored; t=2: 4 at risk -> S=3/4; t=3: 3 at risk -> S=3/4*2/3 = 0.5 exactly,
    # flat until the next event at t=4 -> median (3+4)/2
    assert stats.km_median([1, 2, 3, 4, 5], [0, 1, 1, 1, 1]) == 3.5
    # S(2) = 0.5 exactly but only censored runs follow -> median 2 (no later event)
    assert stats.km_median([1, 2, 3, 4], [1, 1, 0, 0]) == 2.0
    # S(5) = 3/4 and everything else censored: never reaches 0.5
    assert stats.km_median([5, 6, 7, 8], [1, 0, 0, 0]) == np.inf
    assert stats.km_median([5, 6, 7], [False, False, False]) == np.inf
    assert stats.kaplan_meier([5, 6], [0, 0]).empty


def test_km_median_matches_table():
    rng = np.random.default_rng(11)
    n_exact = 0
    for _ in range(200):
        n = int(rng.integers(1, 13))
        t = rng.integers(1, 15, n).astype(float)  # many ties between events and censorings
        e = rng.random(n) < 0.7
        km = stats.kaplan_meier(t, e)
        med = stats.km_median(t, e)
        below = km[km["survival"] <= 0.5 + 1e-9]
        if below.empty:
            assert med == np.inf
        elif abs(below["survival"].iloc[0] - 0.5) > 1e-9:
            assert med == below["time"].iloc[0]
        else:  # S == 0.5 exactly: midpoint with the next event time, if any
            t0 = below["time"].iloc[0]
            later = km["time"][km["time"] > t0]
            assert med == (0.5 * (t0 + later.iloc[0]) if len(later) else t0)
            n_exact += 1
    assert n_exact > 5  # the midpoint branch was exercised


def test_censored_median_summary_values():
    times = np.array([3000, 3500, 3800, 4000, 4100, 4200, 30000, 30000.0])
    events = np.array([1, 1, 1, 1, 1, 1, 0, 0], bool)
    # no censoring before 4200: S(3800) = 5/8, S(4000) = 4/8 = 0.5 exactly -> (4000 + 4100) / 2
    s = stats.censored_median(times, events, n_boot=500)
    assert s.median == 4050.0
    assert (s.n, s.n_events, s.n_censored) == (8, 6, 2)
    assert s.lo <= s.median <= s.hi
    assert str(s).endswith("(6/8 grokked)")
    assert str(s).startswith("4050 [")
    json.dumps(s.as_dict())


def test_censored_median_not_reached():
    s = stats.censored_median([100, 30000, 30000, 30000], [1, 0, 0, 0], n_boot=200)
    assert s.median == np.inf and s.hi == np.inf
    assert (s.n_events, s.n_censored) == (1, 3)
    assert str(s).startswith("≥30000 (censored)")
    assert not s.reached


def test_censored_median_reproducible():
    t = np.random.default_rng(0).exponential(100, 12)
    e = np.arange(12) % 4 != 0
    assert stats.censored_median(t, e, seed=3) == stats.censored_median(t, e, seed=3)


# -----------------------------------------------------------------------------
# lines, exponential law


def test_fit_line_and_r_squared():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    fit = stats.fit_line(x, 2.0 + 3.0 * x)
    assert fit.slope == pytest.approx(3.0) and fit.intercept == pytest.approx(2.0)
    assert fit.r2 == pytest.approx(1.0) and fit.stderr == pytest.approx(0.0, abs=1e-12)
    assert fit.n == 4
    assert stats.r_squared([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0
    assert stats.r_squared([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]) == 0.0
    noisy = stats.fit_line([0, 1, 2, 3], [0.0, 1.1, 1.9, 3.2])
    assert noisy.stderr > 0 and 0.9 < noisy.r2 < 1.0


def test_fit_exponential_exact():
    x, t = exp_runs(sigma=0.0)
    fit = stats.fit_exponential(x, t, n_boot=200)
    assert fit.alpha.value == pytest.approx(ALPHA, abs=1e-9)
    assert fit.intercept == pytest.approx(A0, abs=1e-9)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)
    assert fit.n_levels == 5 and fit.excluded_levels == ()
    np.testing.assert_allclose(fit.levels, LEVELS)
    np.testing.assert_allclose(fit.predict(LEVELS), fit.medians, rtol=1e-9)


def test_fit_exponential_noisy_recovers_alpha():
    x, t = exp_runs(sigma=0.1, seed=1)
    fit = stats.fit_exponential(x, t, n_boot=1000, seed=0)
    assert abs(fit.alpha.value - ALPHA) < 0.3
    assert fit.alpha.contains(ALPHA)
    assert fit.r2 > 0.98
    assert fit.alpha.hi - fit.alpha.lo < 1.5
    assert fit.n_boot_used == 1000
    assert fit == fit  # eq=False dataclass still comparable by identity
    json.dumps(fit.as_dict())
    assert "alpha=" in str(fit)
    again = stats.fit_exponential(x, t, n_boot=1000, seed=0)
    assert (again.alpha.lo, again.alpha.hi) == (fit.alpha.lo, fit.alpha.hi)


def test_fit_exponential_excludes_censored_level():
    x, t = exp_runs(sigma=0.1, seed=2, levels=np.array([0.85, 0.95, 1.05, 1.15, 1.25, 1.35]))
    budget = 50000.0
    events = t < budget
    t = np.minimum(t, budget)
    # exp(1 + 7.5 * 1.25) ~ 32000 < budget < exp(1 + 7.5 * 1.35) ~ 68000: the top level's
    # median is not reached
    fit = stats.fit_exponential(x, t, events, n_boot=500)
    assert fit.excluded_levels == (1.35,)
    assert fit.n_levels == 5 and np.isinf(fit.medians[-1])
    assert abs(fit.alpha.value - ALPHA) < 0.5


def test_fit_exponential_groups_define_levels():
    x, t = exp_runs(sigma=0.0)
    jitter = np.random.default_rng(0).normal(0.0, 1e-6, x.size)
    labels = np.repeat(np.arange(LEVELS.size), N_SEEDS)
    fit = stats.fit_exponential(x + jitter, t, groups=labels, n_boot=100)
    assert fit.n_levels == 5
    assert fit.alpha.value == pytest.approx(ALPHA, abs=1e-3)


# -----------------------------------------------------------------------------
# shared slope


def _two_groups(alpha_a, alpha_b, a_a=1.0, a_b=2.5, sigma=0.1, seed=4):
    xa, ta = exp_runs(alpha=alpha_a, a=a_a, sigma=sigma, seed=seed)
    xb, tb = exp_runs(alpha=alpha_b, a=a_b, sigma=sigma, seed=seed + 1)
    x = np.concatenate([xa, xb])
    t = np.concatenate([ta, tb])
    g = np.array(["add"] * xa.size + ["mul"] * xb.size)
    return x, t, g


def test_fit_shared_slope_exact():
    x, t, g = _two_groups(ALPHA, ALPHA, sigma=0.0)
    fit = stats.fit_shared_slope(x, t, None, g, n_boot=100)
    assert fit.alpha.value == pytest.approx(ALPHA, abs=1e-9)
    assert fit.intercepts["add"] == pytest.approx(1.0, abs=1e-9)
    assert fit.intercepts["mul"] == pytest.approx(2.5, abs=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.sse_shared == pytest.approx(0.0, abs=1e-18)
    assert set(fit.per_group) == {"add", "mul"}
    assert len(fit.cells) == 10 and fit.cells["used"].all()


def test_fit_shared_slope_noisy():
    x, t, g = _two_groups(ALPHA, ALPHA, sigma=0.1)
    fit = stats.fit_shared_slope(x, t, np.ones(x.size, bool), g, n_boot=500)
    assert abs(fit.alpha.value - ALPHA) < 0.3
    assert fit.alpha.contains(ALPHA)
    assert fit.intercepts["mul"] - fit.intercepts["add"] == pytest.approx(1.5, abs=0.1)
    assert fit.r2 > 0.98
    assert fit.sse_separate <= fit.sse_shared
    for name in ("add", "mul"):
        assert abs(fit.per_group[name].alpha.value - ALPHA) < 0.5
    json.dumps(fit.as_dict())


def test_fit_shared_slope_different_slopes():
    x, t, g = _two_groups(5.0, 9.0, sigma=0.0)
    fit = stats.fit_shared_slope(x, t, None, g, n_boot=100)
    assert fit.per_group["add"].alpha.value == pytest.approx(5.0, abs=1e-9)
    assert fit.per_group["mul"].alpha.value == pytest.approx(9.0, abs=1e-9)
    assert fit.alpha.value == pytest.approx(7.0, abs=1e-9)  # balanced design: mean of the slopes
    assert fit.sse_separate == pytest.approx(0.0, abs=1e-18)
    assert fit.sse_shared > 0.1
    assert fit.p_value < 1e-6  # the common-slope hypothesis is rejected


# -----------------------------------------------------------------------------
# power law, correlation, CV, ratio


P = np.array([29.0, 41.0, 59.0, 79.0, 97.0])


def test_fit_power_law_exact():
    fit = stats.fit_power_law(P, 12.0 * P**0.38, n_boot=200)
    assert fit.exponent.value == pytest.approx(0.38, abs=1e-9)
    assert fit.prefactor == pytest.approx(12.0, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.exponent.lo == pytest.approx(0.38) and fit.exponent.hi == pytest.approx(0.38)
    np.testing.assert_allclose(fit.predict(P), 12.0 * P**0.38)
    assert not fit.per_run


def test_fit_power_law_per_run():
    rng = np.random.default_rng(7)
    x = np.repeat(P, 8)
    y = 12.0 * x**0.38 * rng.lognormal(0.0, 0.05, x.size)
    fit = stats.fit_power_law(x, y, n_boot=1000)
    assert fit.per_run and fit.n_points == 5
    np.testing.assert_allclose(fit.y, [np.median(y[x == p]) for p in P])
    assert abs(fit.exponent.value - 0.38) < 0.05
    assert fit.exponent.contains(0.38)


def test_pearson_r():
    x = np.arange(10.0)
    r = stats.pearson_r(x, 3 * x + 1, n_boot=300)
    assert r.value == pytest.approx(1.0) and r.lo == pytest.approx(1.0)
    assert stats.pearson_r(x, -x, n_boot=50).value == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    a = rng.normal(size=300)
    b = 0.6 * a + 0.8 * rng.normal(size=300)
    est = stats.pearson_r(a, b, n_boot=500)
    assert est.value == pytest.approx(np.corrcoef(a, b)[0, 1])
    assert est.contains(0.6)


def test_coefficient_of_variation():
    v = np.array([1.0, 2.0, 3.0, 4.0])
    est = stats.coefficient_of_variation(v, n_boot=300)
    assert est.value == pytest.approx(np.std(v, ddof=1) / np.mean(v))
    assert est.lo <= est.value <= est.hi
    big = np.random.default_rng(0).normal(100.0, 10.0, 400)
    assert stats.coefficient_of_variation(big, n_boot=500).contains(0.1)


def test_ratio_ci():
    rng = np.random.default_rng(9)
    a = 1000.0 * rng.lognormal(0, 0.1, 16)
    b = 2.0 * 1000.0 * rng.lognormal(0, 0.1, 16)
    est = stats.ratio_ci(a, None, b, np.ones(16, bool), n_boot=1000)
    assert est.value == pytest.approx(np.median(b) / np.median(a))
    assert est.contains(2.0)
    # b never reaches its median -> ratio inf
    inf_est = stats.ratio_ci(a, None, [10.0, 5e4, 5e4], [1, 0, 0], n_boot=100)
    assert inf_est.value == np.inf


# -----------------------------------------------------------------------------
# input validation


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: stats.km_median([]), "times"),
        (lambda: stats.km_median([1.0, np.nan]), "times"),
        (lambda: stats.km_median([1.0, 2.0], [True]), "events"),
        (lambda: stats.km_median([1.0, 2.0], [0, 2]), "events"),
        (lambda: stats.kaplan_meier([[1.0, 2.0]]), "times"),
        (lambda: stats.censored_median([1.0, 2.0], n_boot=0), "n_boot"),
        (lambda: stats.censored_median([1.0, 2.0], ci=1.0), "ci"),
        (lambda: stats.bootstrap_ci([], np.mean), "data"),
        (lambda: stats.bootstrap_ci([1.0, 2.0], np.mean, ci=0.0), "ci"),
        (lambda: stats.bootstrap_ci([1.0, 2.0], np.mean, n_boot=-3), "n_boot"),
        (lambda: stats.bootstrap_ci([1.0, 2.0], lambda d: d), "statistic"),
        (lambda: stats.fit_exponential([1.0, 2.0], [1.0, 0.0]), "times"),
        (lambda: stats.fit_exponential([1.0, 2.0, 3.0], [1.0, 2.0]), "times"),
        (lambda: stats.fit_exponential([1.0, 1.0], [1.0, 2.0]), "levels"),
        (lambda: stats.fit_exponential([1.0, 2.0], [1.0, 2.0], groups=[0]), "groups"),
        (lambda: stats.fit_shared_slope([1.0, 2.0], [1.0, 2.0], None, ["a"]), "groups"),
        (lambda: stats.fit_shared_slope([1.0, 2.0], [-1.0, 2.0], None, ["a", "b"]), "times"),
        (lambda: stats.fit_shared_slope([1.0, 2.0], [1.0, 2.0], None, ["a", "b"]), "levels"),
        (lambda: stats.fit_power_law([1.0, -2.0], [1.0, 2.0]), "x"),
        (lambda: stats.fit_power_law([1.0, 2.0], [1.0, 0.0]), "y"),
        (lambda: stats.fit_power_law([1.0, 2.0], [1.0, 2.0, 3.0]), "y"),
        (lambda: stats.fit_line([1.0], [1.0]), "x"),
        (lambda: stats.fit_line([1.0, 1.0], [1.0, 2.0]), "x"),
        (lambda: stats.r_squared([1.0, 2.0], [1.0]), "y_pred"),
        (lambda: stats.pearson_r([1.0, 2.0], [1.0]), "y"),
        (lambda: stats.pearson_r([1.0, 1.0], [1.0, 2.0]), "x"),
        (lambda: stats.coefficient_of_variation([1.0]), "values"),
        (lambda: stats.coefficient_of_variation([-1.0, 1.0]), "values"),
        (lambda: stats.ratio_ci([1.0], None, [0.0], None), "b_times"),
        (lambda: stats.ratio_ci([], None, [1.0], None), "a_times"),
        (lambda: stats.ratio_ci([1.0], [1, 1], [1.0], None), "a_events"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_delay_ratio_of_two_cells_and_none_for_an_empty_cell():
    import pandas as pd

    from grokkit.analysis import cells

    runs = pd.DataFrame({
        "rho": [1.0] * 5 + [1.2] * 5,
        "status": ["grokked"] * 10,
        "t_grok": [100.0, 110, 120, 130, 140, 300, 330, 360, 390, 420],
        "final_step": [100.0, 110, 120, 130, 140, 300, 330, 360, 390, 420],
    })
    low, high = cells.select(runs, rho=1.0), cells.select(runs, rho=1.2)
    assert len(low) == len(high) == 5
    ratio = cells.delay_ratio(low, high)
    assert ratio.value == pytest.approx(360 / 120)
    assert ratio.lo <= ratio.value <= ratio.hi
    assert cells.delay_ratio(low, cells.select(runs, rho=1.3)) is None
    assert len(cells.select(runs, lr=1e-3)) == 0  # an absent column selects nothing


def test_proportion_ci_is_exact_clopper_pearson():
    from grokkit.analysis.stats import proportion_ci

    zero = proportion_ci(0, 8)
    assert zero.value == 0 and zero.lo == 0 and zero.hi == pytest.approx(1 - 0.025 ** (1 / 8))
    full = proportion_ci(10, 10)
    assert full.hi == 1 and full.lo == pytest.approx(0.025 ** (1 / 10))
    assert proportion_ci(3, 10).contains(0.3)
    with pytest.raises(ValueError, match="k:"):
        proportion_ci(11, 10)
    with pytest.raises(ValueError, match="n:"):
        proportion_ci(0, 0)


def test_fit_line_ci_covers_the_true_slope_and_checks_input():
    import numpy as np
    import pytest

    from grokkit.analysis.stats import fit_line_ci

    rng = np.random.default_rng(1)
    x = np.repeat([0.5, 1.0, 2.0, 4.0], 10)
    y = 100 + 1200 * x + rng.normal(0, 50, x.size)
    fit, slope = fit_line_ci(x, y, n_boot=500)
    assert slope.lo < 1200 < slope.hi and slope.value == fit.slope
    with pytest.raises(ValueError):
        fit_line_ci([1.0, 2.0], [1.0])


def test_outcomes_order_runs_by_how_far_they_got_and_never_count_divergence_as_no_grok():
    from grokkit.analysis import cells

    runs = pd.DataFrame({
        "lr": [0.1, 0.1, 0.1, 1.0, 1.0],
        "status": ["grokked", "censored", "censored", "diverged", "diverged"],
        "t_mem": [400.0, 600.0, np.nan, 200.0, np.nan],
        "t_grok": [800.0, np.nan, np.nan, np.nan, np.nan],
        "final_step": [1000, 3000, 3000, 450, 50],
        "max_steps": [3000] * 5,
    })
    assert list(cells.outcome(runs)) == ["grokked", "memorized, did not grok", "did not memorize", "diverged", "diverged"]
    table = cells.outcome_table(runs, ["lr"]).set_index("lr")
    assert table.loc[0.1, ["grokked", "memorized, did not grok", "did not memorize", "diverged"]].tolist() == [1, 1, 1, 0]
    assert table.loc[0.1, "majority"] == "grokked"  # a three-way tie goes to the furthest outcome
    assert np.isinf(table.loc[0.1, "t_median"]) or np.isnan(table.loc[0.1, "t_median"])  # 1 of 3 grokked: no median
    assert table.loc[1.0, "majority"] == "diverged" and table.loc[1.0, "grokked"] == 0


def test_a_run_that_grokked_then_diverged_stays_diverged_but_says_how_far_it_got():
    from grokkit.analysis import cells

    runs = pd.DataFrame({"key": ["a", "b", "c"], "status": ["diverged", "diverged", "grokked"],
                         "t_mem": [400.0, np.nan, 400.0], "t_grok": [np.nan, np.nan, 600.0],
                         "grok_threshold": [0.99] * 3, "final_step": [800, 200, 600], "max_steps": [3000] * 3})
    traj = pd.DataFrame({"key": ["a", "a", "b", "c"], "step": [400, 600, 200, 600],
                         "test_acc": [0.5, 0.995, 0.02, 0.999]})
    runs["grokked_before_diverging"] = cells.grokked_before_diverging(runs, traj)
    assert list(runs["grokked_before_diverging"]) == [True, False, False]  # a grokked run is not "before diverging"
    assert list(cells.outcome(runs)) == ["grokked, then diverged", "diverged", "grokked"]
    assert list(runs["status"]) == ["diverged", "diverged", "grokked"]  # the record is untouched
