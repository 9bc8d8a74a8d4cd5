"""Per-cell helpers of grokkit.analysis.cells that read norms at grokking: W_c of a cell of free runs,
and each parameter group's norm at T_grok read from the trajectories."""

from __future__ import annotations

import numpy as np
import pandas as pd

from grokkit.analysis import cells


def runs(statuses, norms, t_grok):
    return pd.DataFrame({"key": [f"k{i}" for i in range(len(statuses))], "status": statuses,
                         "norm_grok": norms, "t_grok": t_grok})


def test_critical_norm_is_the_median_over_grokked_runs_and_needs_a_majority():
    df = runs(["grokked", "grokked", "grokked", "censored"], [10.0, 12.0, 11.0, np.nan], [100, 200, 300, np.nan])
    assert cells.critical_norm(df) == 11.0
    half = runs(["grokked", "censored"], [10.0, np.nan], [100, np.nan])
    assert np.isnan(cells.critical_norm(half))
    assert np.isnan(cells.critical_norm(half.iloc[:0]))


def test_group_norms_are_read_at_each_runs_own_t_grok():
    df = runs(["grokked", "grokked", "grokked", "censored"], [1, 1, 1, np.nan], [100.0, 200.0, 200.0, np.nan])
    traj = pd.DataFrame({"key": ["k0", "k0", "k1", "k1", "k2", "k3"], "step": [100, 200, 100, 200, 200, 200],
                         "norm_unembed": [5.0, 99.0, 99.0, 7.0, 6.0, 50.0]})
    out = cells.with_norms_at_grok(df, traj, ["unembed", "mlp"])
    assert list(out["norm_unembed_grok"][:3]) == [5.0, 7.0, 6.0]
    assert np.isnan(out["norm_unembed_grok"].iloc[3]) and out["norm_mlp_grok"].isna().all()
    assert cells.group_norms_at_grok(df, traj, ["unembed"]) == {"unembed": 6.0}
    empty = cells.with_norms_at_grok(df.iloc[:0], traj.iloc[:0], ["unembed"])
    assert len(empty) == 0 and "norm_unembed_grok" in empty
