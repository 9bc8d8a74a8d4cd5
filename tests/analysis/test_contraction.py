"""grokkit.contraction: the decay fit recovers a known rate, the predictor's formula, calibration
and scoring, and bad inputs raise."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from grokkit.analysis import contraction as ct


def _decay(t, A=3600.0, gamma=0.0014, C=250.0, t0=800.0):
    return A * (1 - gamma) ** (np.asarray(t, float) - t0) + C


def test_fit_decay_recovers_the_rate_and_ignores_points_before_t0():
    t = np.arange(0, 4000, 10.0)
    v = _decay(t)
    v[t < 800] = 1e5  # junk before memorization must not matter
    fit = ct.fit_decay(t, v, t0=800)
    assert fit.gamma == pytest.approx(0.0014, rel=1e-3)
    assert fit.C == pytest.approx(250, rel=1e-2)
    assert fit.r2 > 0.9999
    assert fit.predict([800.0])[0] == pytest.approx(3850, rel=1e-3)


def test_fit_decay_rejects_too_few_points_and_mismatched_lengths():
    with pytest.raises(ValueError, match="at least 4 points"):
        ct.fit_decay([0, 10, 20], [3, 2, 1], t0=0)
    with pytest.raises(ValueError, match="differ in length"):
        ct.fit_decay([0, 10, 20, 30], [3, 2, 1], t0=0)


def test_local_rate_is_the_log_slope_over_the_window():
    t = np.arange(0, 2000, 10.0)
    v = 4000 * np.exp(-0.002 * t)
    assert ct.local_rate(t, v, t0=500, window=100) == pytest.approx(0.002, rel=1e-9)
    assert math.isnan(ct.local_rate(t, v, t0=500, window=10))  # fewer than 3 points


def _quantities(seeds, gamma=0.0014):
    rng = np.random.default_rng(0)
    v_mem = rng.uniform(3000, 4500, len(seeds))
    v_post = 250.0
    delay = np.log(v_mem / v_post) / gamma
    return pd.DataFrame({"key": [f"k{s}" for s in seeds], "seed": seeds, "lr": 1e-3, "weight_decay": 1.0,
                         "grokked": True, "v_mem": v_mem, "v_post": v_post, "delay": delay,
                         "gamma_window": gamma * 1.2})


def test_predictor_formula_calibration_and_scale():
    calib, evals = _quantities(range(10)), _quantities(range(10, 40))
    pred = ct.DelayPredictor.calibrate(calib, window=100)
    assert pred.v_post == pytest.approx(250)
    # the window rate is 1.2x the true rate: the uncorrected predictor underestimates by 1/1.2
    got = pred.predict_runs(evals) / evals["delay"]
    assert np.allclose(got, 1 / 1.2)
    learned = ct.DelayPredictor.calibrate(calib, window=100, learn_scale=True)
    assert learned.scale == pytest.approx(1.2)
    assert np.allclose(learned.predict_runs(evals), evals["delay"])
    naive = ct.DelayPredictor.calibrate(calib, window=100, rate="2ηλ")
    assert np.allclose(naive.predict_runs(evals), np.log(evals["v_mem"] / 250) / 0.002)
    assert naive.will_grok([600.0, 400.0]).tolist() == [True, False]


def test_predictor_rejects_bad_parameters():
    with pytest.raises(ValueError, match="rate"):
        ct.DelayPredictor(250.0, 100, rate="adam")
    with pytest.raises(ValueError, match="v_post"):
        ct.DelayPredictor(0.0, 100)
    with pytest.raises(ValueError, match="window"):
        ct.DelayPredictor(250.0, 0)
    none_grokked = _quantities(range(3)).assign(grokked=False)
    with pytest.raises(ValueError, match="no calibration run grokked"):
        ct.DelayPredictor.calibrate(none_grokked, window=100)


def test_prediction_errors_count_over_and_within_two():
    actual = np.array([1000.0, 1000.0, 1000.0, 1000.0, np.nan])
    predicted = np.array([1500.0, 500.0, 2500.0, 1000.0, 900.0])
    e = ct.prediction_errors(predicted, actual, n_boot=200)
    assert e.n == 4 and e.over == 2 and e.within_2x == 3
    assert e.mae.value == pytest.approx((50 + 50 + 150 + 0) / 4)
    assert e.mean_signed == pytest.approx((50 - 50 + 150 + 0) / 4)


def test_run_quantities_from_a_table_and_traces():
    t = np.arange(0, 5000, 10.0)
    traces = pd.DataFrame({"key": "a", "step": t, "sq_norm_all": _decay(t)})
    runs = pd.DataFrame({"key": ["a", "b"], "lr": 1e-3, "weight_decay": 1.0, "t_mem": [800.0, np.nan],
                         "t_grok": [2000.0, np.nan], "sq_norm_all_mem": [3850.0, 9000.0],
                         "sq_norm_all_final": [300.0, 8000.0], "status": ["grokked", "censored"]})
    q = ct.run_quantities(runs, traces, window=100).set_index("key")
    assert q.loc["a", "delay"] == 1200 and math.isnan(q.loc["b", "delay"])
    assert q.loc["a", "gamma_fit"] == pytest.approx(0.0014, rel=1e-3)
    assert q.loc["a", "t_esc_2el"] == pytest.approx(math.log(3850 / 300) / 0.002)
    assert q.loc["a", "t_esc_fit"] == pytest.approx(math.log(3850 / 300) / q.loc["a", "gamma_fit"])
    assert q.loc["a", "gamma_window"] > 0 and math.isnan(q.loc["b", "gamma_fit"])


def test_explain_predicts_one_run_from_its_trace_and_ignores_what_comes_later():
    from grokkit.analysis.contraction import DelayPredictor

    steps = np.arange(800, 5000, 10.0)
    v = 3900.0 * np.exp(-0.0014 * (steps - 800)) + 250.0
    pred = DelayPredictor(v_post=300.0, window=300.0)
    out = pred.explain(steps, v, 800, 1e-3, 1.0)
    later = v.copy()
    later[steps > 1100] = 1e9  # what happens after the window cannot change the prediction
    assert pred.explain(steps, later, 800, 1e-3, 1.0) == out
    assert out.v_mem == pytest.approx(v[0]) and out.will_grok and out.known_until == 1100
    assert out.delay == pytest.approx(np.log(v[0] / 300.0) / out.gamma)
    assert out.t_grok == pytest.approx(800 + out.delay)
    fixed = DelayPredictor(v_post=300.0, window=300.0, rate="2ηλ").explain(steps, v, 800, 1e-3, 1.0)
    assert fixed.gamma == pytest.approx(0.002)
    with pytest.raises(ValueError, match="t_mem"):
        pred.explain(steps, v, 6000, 1e-3, 1.0)


def test_run_quantities_clock_the_contraction_from_the_peak_after_memorization():
    t = np.arange(0, 3000, 10.0)
    v = np.where(t < 1000, 2000.0 + t, 3000.0 * np.exp(-0.001 * (t - 1000)))  # grows past T_mem, then shrinks
    v[t > 2500] = 1e9  # after T_grok: not a peak of the run
    traces = pd.DataFrame({"key": ["a"] * t.size + ["b"] * t.size, "step": np.r_[t, t],
                           "sq_norm_all": np.r_[v, _decay(t)]})
    runs = pd.DataFrame({"key": ["a", "b"], "lr": 1e-3, "weight_decay": 1.0, "t_mem": [400.0, 800.0],
                         "t_grok": [2500.0, 2000.0], "sq_norm_all_mem": [2400.0, 3850.0],
                         "sq_norm_all_final": [1500.0, 300.0], "status": "grokked"})
    q = ct.run_quantities(runs, traces).set_index("key")
    assert q.loc["a", "t_peak"] == 1000 and q.loc["a", "v_peak"] == pytest.approx(3000.0)
    assert q.loc["a", "delay_peak"] == 1500 and q.loc["a", "delay"] == 2100
    assert q.loc["a", "t_esc_peak"] == pytest.approx(math.log(2) / 0.002)
    # V shrinks from T_mem on: the peak is T_mem itself and both clocks agree
    assert q.loc["b", "t_peak"] == 800 and q.loc["b", "delay_peak"] == q.loc["b", "delay"]
    assert q.loc["b", "log_ratio_peak"] == pytest.approx(math.log(q.loc["b", "v_peak"] / 300.0))
