"""Tests for grokkit.mediation: paper 2's mediation analyses on small synthetic run tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from grokkit.analysis import mediation

BUDGET = 100_000


def run(seed, t=None, status="grokked", *, final_step=None, norm=10.0, logit=5.0, t_mem=100.0, **cols):
    """One row of a run table: a grokked run has its event at ``t``; a censored or diverged run is
    censored at ``final_step`` (the budget by default)."""
    grokked = status == "grokked"
    return {
        "seed": seed,
        "status": status,
        "t_grok": float(t) if grokked else np.nan,
        "final_step": int(t) if grokked and final_step is None else int(final_step or BUDGET),
        "max_steps": BUDGET,
        "norm_grok": norm,
        "t_mem": t_mem,
        "logit_scale_grok": logit,
        "sc_frac_max": 0.1,
        **cols,
    }


def table(rows):
    return pd.DataFrame(rows)


# -----------------------------------------------------------------------------
# critical_norms


def test_critical_norms_median_norm_at_grokking_per_cell():
    rows = []
    # (97, ce): 4 of 5 grokked; the censored run's norm must not count
    for s, nrm in enumerate([10.0, 11.0, 12.0, 13.0]):
        rows.append(run(s, 1000 + s, norm=nrm, p=97, loss="ce"))
    rows.append(run(4, status="censored", norm=100.0, p=97, loss="ce"))
    # (97, mse): exactly half grokked -> left out
    rows += [run(s, 1000, norm=20.0, p=97, loss="mse") for s in range(2)]
    rows += [run(s, status="censored", norm=20.0, p=97, loss="mse") for s in range(2, 4)]
    # (113, ce): 3 of 5 grokked (one diverged, one censored) -> kept
    rows += [run(s, 2000, norm=nrm, p=113, loss="ce") for s, nrm in enumerate([30.0, 31.0, 35.0])]
    rows.append(run(3, status="diverged", final_step=500, norm=1.0, p=113, loss="ce"))
    rows.append(run(4, status="censored", norm=1.0, p=113, loss="ce"))
    # (113, mse): under half grokked -> left out
    rows.append(run(0, 1500, norm=40.0, p=113, loss="mse"))
    rows += [run(s, status="censored", norm=40.0, p=113, loss="mse") for s in range(1, 4)]

    wc = mediation.critical_norms(table(rows))
    assert set(wc) == {(97, "ce"), (113, "ce")}
    assert wc[(97, "ce")] == pytest.approx(11.5)
    assert wc[(113, "ce")] == pytest.approx(31.0)


def test_critical_norms_other_grouping():
    rows = [run(s, 1000, norm=5.0 + s, p=97, loss="ce", lr=1e-3) for s in range(3)]
    rows += [run(s, 1000, norm=50.0 + s, p=97, loss="ce", lr=1e-2) for s in range(3)]
    wc = mediation.critical_norms(table(rows), by=("lr",))
    assert wc == {(1e-3,): pytest.approx(6.0), (1e-2,): pytest.approx(51.0)}


# -----------------------------------------------------------------------------
# logit_cells


def test_logit_cells_L_over_grokked_runs_t_mem_and_ln_t():
    rows = [
        run(0, 1000, logit=2.0, t_mem=100.0, p=97, loss="ce"),
        run(1, 2000, logit=4.0, t_mem=200.0, p=97, loss="ce"),
        run(2, 3000, logit=6.0, t_mem=np.nan, p=97, loss="ce"),
        run(3, status="censored", logit=100.0, t_mem=900.0, p=97, loss="ce"),
        # a second cell, so misaligned rows would show: no run grokked
        run(0, status="censored", logit=7.0, t_mem=np.nan, p=113, loss="ce"),
        run(1, status="censored", logit=7.0, t_mem=np.nan, p=113, loss="ce"),
        # a third: all grokked, L = 9
        run(0, 400, logit=8.0, t_mem=50.0, p=113, loss="mse"),
        run(1, 600, logit=10.0, t_mem=70.0, p=113, loss="mse"),
    ]
    out = mediation.logit_cells(table(rows), ["p", "loss"], n_boot=100).set_index(["p", "loss"])
    assert {"t_mem_median", "L", "ln_t", "t_median", "n_grokked", "sc_frac_max"} <= set(out.columns)

    a = out.loc[(97, "ce")]
    assert a["L"] == pytest.approx(4.0)  # the censored run's 100 is not averaged in
    assert a["t_mem_median"] == pytest.approx(200.0)  # the median (not the mean); NaN t_mem ignored
    # KM: S(1000)=.75, S(2000)=.5 exactly -> midpoint with the next event time
    assert a["t_median"] == pytest.approx(2500.0)
    assert a["ln_t"] == pytest.approx(math.log(2500.0))
    assert a["n"] == 4 and a["n_grokked"] == 3

    b = out.loc[(113, "ce")]
    assert np.isnan(b["L"]) and np.isnan(b["t_mem_median"])
    assert b["t_median"] == np.inf and b["ln_t"] == np.inf

    c = out.loc[(113, "mse")]
    assert c["L"] == pytest.approx(9.0)
    assert c["t_mem_median"] == pytest.approx(60.0)
    assert c["ln_t"] == pytest.approx(math.log(500.0))
    assert c["sc_frac_max"] == pytest.approx(0.1)


# -----------------------------------------------------------------------------
# recovery_fraction

# raised cells: tau -> (T, L). L0 = 5 lies between tau 1.7 (L 4, T 1500) and tau 1.3 (L 6, T 2000):
# T2 = 1750, fraction = (3000 - 1750) / (3000 - 1000) = 0.625.
UP = {1.0: (3000.0, 8.0), 1.3: (2000.0, 6.0), 1.7: (1500.0, 4.0)}
T0 = 1000.0


def recovery_tables(l0=5.0, factors=(1.0,) * 5, up=UP, shuffle=None):
    """Base and up cells; seed s's times are the cell's T times ``factors[s]`` (co-varying across
    cells), or, with ``shuffle`` (an rng), times a per-cell permutation of the factors."""
    f = np.asarray(factors, float)

    def fs():
        return shuffle.permutation(f) if shuffle is not None else f

    base = table([run(s, T0 * x, logit=l0) for s, x in enumerate(fs())])
    rows = []
    for tau, (t, lg) in up.items():
        rows += [run(s, t * x, logit=lg, tau=tau) for s, x in enumerate(fs())]
    return base, table(rows)


def test_recovery_fraction_hand_value_with_interpolation():
    base, up = recovery_tables()
    rec = mediation.recovery_fraction(base, up, n_boot=300)
    assert rec is not None
    assert rec.t0 == pytest.approx(1000.0)
    assert rec.t1 == pytest.approx(3000.0)
    assert rec.t2 == pytest.approx(1750.0)
    assert rec.l0 == pytest.approx(5.0)
    assert rec.inside is True
    assert rec.n_seeds == 5
    assert rec.fraction.value == pytest.approx(0.625)
    # identical seeds: every resample gives the same medians -> degenerate CI at the value
    assert rec.fraction.lo == pytest.approx(0.625) and rec.fraction.hi == pytest.approx(0.625)


def test_recovery_fraction_other_interpolation_point():
    # L0 = 7: between L 6 (T 2000) and L 8 (T 3000) -> T2 = 2500, fraction = 500 / 2000
    base, up = recovery_tables(l0=7.0)
    rec = mediation.recovery_fraction(base, up, n_boot=100)
    assert rec.t2 == pytest.approx(2500.0)
    assert rec.fraction.value == pytest.approx(0.25)
    assert rec.inside


def test_recovery_fraction_L_from_grokked_runs_only_and_unsorted_taus():
    # the raised L curve decreasing in tau must be sorted by L before interpolating; a censored
    # run's logit scale must not enter L0
    base, up = recovery_tables()
    base = pd.concat([base, table([run(5, status="censored", logit=1000.0)])], ignore_index=True)
    up = pd.concat([up, table([run(5, 3000.0, logit=8.0, tau=1.0), run(5, 2000.0, logit=6.0, tau=1.3),
                               run(5, 1500.0, logit=4.0, tau=1.7)])], ignore_index=True)
    rec = mediation.recovery_fraction(base, up.sample(frac=1.0, random_state=0), n_boot=100)
    assert rec.l0 == pytest.approx(5.0)
    assert rec.n_seeds == 6
    # base seed 5 censored at the budget: 6 runs, medians 1000 (KM: S drops to .5 at the 3rd of 1000s)
    assert rec.t0 == pytest.approx(1000.0)
    assert rec.fraction.value == pytest.approx(0.625)


@pytest.mark.parametrize("l0, t2, frac", [(10.0, 3000.0, 0.0), (2.0, 1500.0, 0.75)])
def test_recovery_fraction_outside_the_L_range_uses_the_nearest_end(l0, t2, frac):
    base, up = recovery_tables(l0=l0)
    rec = mediation.recovery_fraction(base, up, n_boot=100)
    assert rec.inside is False
    assert rec.t2 == pytest.approx(t2)
    assert rec.fraction.value == pytest.approx(frac)


def test_recovery_fraction_none_cases():
    base, up = recovery_tables()
    assert mediation.recovery_fraction(base.iloc[:0], up, n_boot=50) is None
    assert mediation.recovery_fraction(base, up[up["tau"] != 1.0], n_boot=50) is None  # no tau 1.0
    assert mediation.recovery_fraction(base, up[up["tau"] == 1.0], n_boot=50) is None  # one tau only
    no_L = base.assign(status="censored", t_grok=np.nan, final_step=BUDGET)
    assert mediation.recovery_fraction(no_L, up, n_boot=50) is None  # no run of base grokked


def test_recovery_fraction_pairs_seeds_only_over_shared_ones():
    base, up = recovery_tables()
    # a base-only seed is not a shared seed index: dropped (were it used, T0 would move)
    base = pd.concat([base, table([run(99, 50.0, logit=5.0), run(98, 60.0, logit=5.0)])], ignore_index=True)
    rec = mediation.recovery_fraction(base, up, n_boot=100)
    assert rec.n_seeds == 5
    assert rec.t0 == pytest.approx(1000.0)
    assert rec.fraction.value == pytest.approx(0.625)


def test_recovery_fraction_paired_bootstrap_over_seed_indices():
    factors = (0.6, 0.8, 1.0, 1.25, 1.6)
    # co-varying: seed s is f_s times slower in every cell -> every resample's medians scale
    # together and the fraction is exactly 0.625 in all of them
    base, up = recovery_tables(factors=factors)
    paired = mediation.recovery_fraction(base, up, n_boot=500, seed=1)
    assert paired.fraction.value == pytest.approx(0.625)
    assert paired.fraction.lo == pytest.approx(0.625) and paired.fraction.hi == pytest.approx(0.625)

    # the same factors shuffled independently per cell: same medians, same value, but a real CI
    base, up = recovery_tables(factors=factors, shuffle=np.random.default_rng(3))
    indep = mediation.recovery_fraction(base, up, n_boot=500, seed=1)
    assert indep.fraction.value == pytest.approx(0.625)
    assert indep.fraction.hi - indep.fraction.lo > 0.1
    assert indep.fraction.lo <= 0.625 <= indep.fraction.hi

    # reproducible for a given seed
    again = mediation.recovery_fraction(base, up, n_boot=500, seed=1)
    assert (again.fraction.lo, again.fraction.hi) == (indep.fraction.lo, indep.fraction.hi)


# -----------------------------------------------------------------------------
# collapse_regression

RHOS = (1.0, 1.5, 2.0)
TAUS = (1.0, 1.5)


def grid(ln_t, logit, n_seeds=5, rhos=RHOS, taus=TAUS):
    """Runs on ``rhos x taus``; every seed of a cell grokks at ``exp(ln_t(rho, tau))``."""
    rows = []
    for rho in rhos:
        for tau in taus:
            t = math.exp(ln_t(rho, tau))
            rows += [run(s, t, logit=logit(rho, tau), rho=rho, tau=tau) for s in range(n_seeds)]
    return table(rows)


def L_mixed(rho, tau):
    return 3.0 * rho / tau + (0.7 if tau == 1.0 else 0.0)


def test_collapse_ln_t_exactly_linear_in_L():
    runs = grid(lambda r, t: 2.0 + 0.5 * L_mixed(r, t), L_mixed)
    col = mediation.collapse_regression(runs, n_boot=200)
    assert col is not None and col.n_cells == 6
    assert col.r2_logit.value == pytest.approx(1.0, abs=1e-9)
    assert col.r2_both.value == pytest.approx(1.0, abs=1e-9)
    assert col.delta.value == pytest.approx(0.0, abs=1e-9)
    assert col.slope_logit == pytest.approx(0.5)
    assert col.r2_rho.value < 0.95
    # identical seeds: the CIs collapse on the values
    assert col.r2_logit.lo == pytest.approx(1.0, abs=1e-9)
    assert col.delta.hi == pytest.approx(0.0, abs=1e-9)


def test_collapse_ln_t_depends_on_rho_only():
    # L depends on tau only and is balanced against rho: uncorrelated with rho on the grid
    runs = grid(lambda r, t: 5.0 + r, lambda r, t: 3.0 if t == 1.0 else 7.0)
    col = mediation.collapse_regression(runs, n_boot=200)
    assert col.r2_rho.value == pytest.approx(1.0, abs=1e-9)
    assert col.r2_logit.value == pytest.approx(0.0, abs=1e-9)
    assert col.r2_both.value == pytest.approx(1.0, abs=1e-9)
    assert col.delta.value == pytest.approx(1.0, abs=1e-9)
    assert col.slope_logit == pytest.approx(0.0, abs=1e-9)


def test_collapse_fewer_than_four_cells_is_none():
    runs = grid(lambda r, t: 2.0 + 0.5 * L_mixed(r, t), L_mixed, taus=(1.0,))
    assert mediation.collapse_regression(runs, n_boot=50) is None


def test_collapse_drops_censored_majority_cells():
    ln_t = lambda r, t: 2.0 + 0.5 * L_mixed(r, t)  # noqa: E731
    runs = grid(ln_t, L_mixed)
    # a censored minority run in every cell, its logit scale far off: L must ignore it
    minority = [run(9, status="censored", logit=1000.0, rho=r, tau=t) for r in RHOS for t in TAUS]
    runs = pd.concat([runs, table(minority)], ignore_index=True)
    # a seventh cell: 2 of 5 grokked, with a logit scale far off the line -> must be dropped
    bad = [run(s, 10.0, logit=50.0, rho=3.0, tau=1.0) for s in range(2)]
    bad += [run(s, status="censored", logit=50.0, rho=3.0, tau=1.0) for s in range(2, 5)]
    col = mediation.collapse_regression(pd.concat([runs, table(bad)], ignore_index=True), n_boot=100)
    assert col.n_cells == 6
    assert col.r2_logit.value == pytest.approx(1.0, abs=1e-9)
    assert col.slope_logit == pytest.approx(0.5)

    # four cells of which one is censored-majority -> three left -> None
    four = grid(ln_t, L_mixed, rhos=(1.0,), taus=(1.0, 1.5, 2.0))
    assert mediation.collapse_regression(pd.concat([four, table(bad)], ignore_index=True), n_boot=50) is None
    # a cell where no run grokked has no L: not counted either
    none_grokked = [run(s, status="censored", rho=3.0, tau=2.0) for s in range(5)]
    assert mediation.collapse_regression(pd.concat([four, table(none_grokked)], ignore_index=True),
                                         n_boot=50) is None


# -----------------------------------------------------------------------------
# fork_ratio

FORK = 5000
DELAYS = {
    "lowered": [100, 120, 140, 160, 180],
    "free": [200, 220, 240, 260, 280],
    "same": [300, 320, 340, 360, 380],
    "raised": [600, 640, 680, 720, 760],
}


def fork_runs(delays=DELAYS, censored=()):
    """Fork runs with ``t_grok = FORK + delay``; ``censored``: ``(arm, seed, final_step)`` runs
    that did not grok."""
    rows = []
    for arm, ds in delays.items():
        for s, d in enumerate(ds):
            rows.append(run(s, FORK + d, arm=arm))
    df = table(rows)
    for arm, s, final in censored:
        i = df.index[(df["arm"] == arm) & (df["seed"] == s)][0]
        df.loc[i, ["status", "t_grok", "final_step"]] = ["censored", np.nan, final]
    return df


def test_fork_ratio_medians_ratio_and_order():
    fr = mediation.fork_ratio(fork_runs(), FORK, n_boot=300)
    assert fr is not None
    assert fr.medians == pytest.approx({"lowered": 140.0, "free": 240.0, "same": 340.0, "raised": 680.0})
    assert fr.ratio.value == pytest.approx(2.0)
    assert fr.ratio.lo <= 2.0 <= fr.ratio.hi
    assert fr.ordered == 5 and fr.n_seeds == 5


def test_fork_ratio_ordered_counts_only_strictly_ordered_seeds():
    d = {k: list(v) for k, v in DELAYS.items()}
    d["lowered"][0] = 400  # seed 0: lowered > same
    d["raised"][1] = 320  # seed 1: raised == same (not strictly longer)
    fr = mediation.fork_ratio(fork_runs(d), FORK, n_boot=100)
    assert fr.ordered == 3


def test_fork_ratio_censored_raised_run_counts_as_longer():
    # seed 1's raised run never grokked; its budget ends 200 steps after the fork, before its
    # same-norm run grokked (320): still "longer"
    fr = mediation.fork_ratio(fork_runs(censored=[("raised", 1, FORK + 200)]), FORK, n_boot=100)
    assert fr.ordered == 5
    # raised KM: 200+ (censored), 600, 680, 720, 760 -> S(600)=.75, S(680)=.5 -> (680+720)/2
    assert fr.medians["raised"] == pytest.approx(700.0)
    assert fr.ratio.value == pytest.approx(700.0 / 340.0)
    # a censored *same* run makes seed 2 unordered whatever its raised delay
    fr = mediation.fork_ratio(fork_runs(censored=[("same", 2, FORK + 10_000)]), FORK, n_boot=100)
    assert fr.ordered == 4


def test_fork_ratio_paired_bootstrap_and_missing_arm():
    f = np.array([0.5, 0.8, 1.0, 1.3, 2.0])
    d = {"lowered": 100 * f, "free": 200 * f, "same": 300 * f, "raised": 600 * f}
    fr = mediation.fork_ratio(fork_runs(d), FORK, n_boot=300)
    assert fr.ratio.value == pytest.approx(2.0)
    # seeds co-vary across arms: the ratio is 2 in every resample of seed indices
    assert fr.ratio.lo == pytest.approx(2.0) and fr.ratio.hi == pytest.approx(2.0)

    runs = fork_runs()
    assert mediation.fork_ratio(runs[runs["arm"] != "free"], FORK, n_boot=50) is None
    assert mediation.fork_ratio(runs[runs["arm"] != "raised"], FORK, n_boot=50) is None
    # arms absent from the default list are ignored; a custom list without "free" works
    fr3 = mediation.fork_ratio(runs[runs["arm"] != "free"], FORK, arms=("lowered", "same", "raised"), n_boot=50)
    assert fr3.ratio.value == pytest.approx(2.0) and fr3.ordered == 5
