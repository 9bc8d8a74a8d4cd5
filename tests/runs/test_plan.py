"""A sweep says what it is about to train, and how long that may take here, before it trains."""

from __future__ import annotations

from grokkit import paper1, sweep
from grokkit.runs.plan import duration, measure_rates, plan
from grokkit.runs.sweep import plan_batches


def tiny(seed, **kw):
    return paper1(p=23, d_embed=16, d_hidden=32, eval_schedule="every:50", seed=seed, **{"max_steps": 300, **kw})


def test_the_plan_counts_runs_batches_and_the_step_budget():
    batches = plan_batches([tiny(s) for s in range(3)] + [tiny(0, max_steps=500)], max_batch=2)
    todo = plan(batches, "cpu", measure=False)
    assert todo.runs == 4 and len(todo.batches) == 2 and todo.budget == 3 * 300 + 500
    assert todo.seconds() is None  # nothing measured: no time is claimed
    assert "about to train 4 runs in 2 batches (1 kind): at most 1,400 run-steps" in todo.describe()


def test_forked_arms_count_their_budget_from_the_fork():
    arm = tiny(0, fork_step=100, clamp_start=100, clamp_scale=1.1)
    assert plan([[arm]], "cpu", measure=False).budget == 200


def test_the_speed_is_measured_here_and_turned_into_a_bound():
    batches = plan_batches([tiny(s) for s in range(2)], max_batch=8)
    rates = measure_rates(batches, "cpu")
    assert len(rates) == 1 and next(iter(rates.values())) > 0
    todo = plan(batches, "cpu")
    rate = next(iter(todo.rates.values()))
    assert todo.seconds() == sum(c.max_steps for c in batches[0]) / rate
    assert "measured on this CPU just now" in todo.describe("this CPU") and "that is at most" in todo.describe()


def test_a_sweep_prints_its_plan_before_training(tmp_path, capsys):
    sweep([tiny(s) for s in range(2)], store=tmp_path, desc="demo")
    err = capsys.readouterr().err
    assert "demo: about to train 2 runs in 1 batch (1 kind)" in err
    assert err.index("about to train") < err.index("2/2")
    sweep([tiny(s) for s in range(2)], store=tmp_path, desc="demo")  # nothing missing: nothing to announce
    assert "about to train" not in capsys.readouterr().err


def test_durations_read_naturally():
    assert [duration(s) for s in (40, 14 * 60, 3.2 * 3600, 2.5 * 86400)] == ["40 s", "14 min", "3.2 h", "2.5 days"]
