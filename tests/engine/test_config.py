"""RunConfig: validation names the bad field, keys are canonical, init never depends on the arm."""

import pytest

from grokkit.engine.config import MODEL_GROUPS, RunConfig, eval_steps, is_prime
from grokkit.engine.protocols import paper1, paper2, paper3


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(p=1), "p"),
        (dict(p=60), "p"),
        (dict(p=59.0), "p"),
        (dict(train_frac=0.0), "train_frac"),
        (dict(train_frac=1.2), "train_frac"),
        (dict(train_frac=1.0), "train_frac"),
        (dict(clamp_target=0.0), "clamp_target"),
        (dict(clamp_target=-3.0), "clamp_target"),
        (dict(clamp_scale=0.0), "clamp_scale"),
        (dict(clamp_target=50.0, clamp_scale=1.1), "clamp_target"),
        (dict(temperature=0.0), "temperature"),
        (dict(temperature=-1.0), "temperature"),
        (dict(optimizer="adam"), "optimizer"),
        (dict(loss="hinge"), "loss"),
        (dict(task="sub"), "task"),
        (dict(model="cnn"), "model"),
        (dict(clamp_target=50.0, clamp_start=500, max_steps=400), "max_steps"),
        (dict(lr=0.0), "lr"),
        (dict(lr=float("nan")), "lr"),
        (dict(weight_decay=-1.0), "weight_decay"),
        (dict(decay_order="during"), "decay_order"),
        (dict(clamp_mode="sometimes"), "clamp_mode"),
        (dict(clamp_target=50.0, clamp_group="nope"), "clamp_group"),
        (dict(eval_schedule="daily"), "eval_schedule"),
        (dict(eval_schedule="every:0"), "eval_schedule"),
        (dict(grok_threshold=0.0), "grok_threshold"),
        (dict(dtype="float16"), "dtype"),
        (dict(seed=-1), "seed"),
        (dict(max_steps=0), "max_steps"),
        (dict(batch_size=0), "batch_size"),
        (dict(momentum=1.0), "momentum"),
        (dict(fork_step=100, clamp_scale=1.1, clamp_start=50), "clamp_start"),
        (dict(task="parity", model="mlp"), "model"),
        (dict(task="parity", model="parity_mlp", parity_k=40), "parity_k"),
    ],
)
def test_invalid_parameter_raises_naming_it(changes, field):
    with pytest.raises(ValueError, match=rf"^{field}:"):
        RunConfig(**changes)


def test_defaults_follow_the_model():
    assert (RunConfig(model="mlp").d_embed, RunConfig(model="mlp").d_hidden) == (128, 256)
    assert RunConfig(model="attn").d_hidden == 512
    assert RunConfig(task="parity", model="parity_mlp").d_hidden == 512


def test_is_prime():
    assert [n for n in range(30) if is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]


def test_key_ignores_fields_that_cannot_matter():
    free = paper1(p=59)
    assert free.key == free.replace(clamp_start=123, clamp_mode="once").key  # no clamp: clamp fields are moot
    assert free.key == free.replace(momentum=0.5).key  # AdamW ignores SGD's momentum
    assert free.key != free.replace(clamp_target=50.0).key
    assert free.key != free.replace(lr=2e-3).key
    assert free.key != free.replace(seed=1).key
    assert paper1(p=59, stop_at_grok=False).key == paper1(p=59, stop_at_grok=False, extra_steps=10).key


def test_base_seed_depends_on_task_model_seed_not_on_the_arm():
    free = paper1(p=59, seed=3)
    for arm in (free.replace(lr=8e-3), free.replace(clamp_target=40.0), free.replace(temperature=1.5),
                free.replace(weight_decay=0.3), free.replace(max_steps=100), free.replace(dtype="float64")):
        assert arm.base_seed == free.base_seed
    assert free.replace(seed=4).base_seed != free.base_seed
    assert free.replace(p=61).base_seed != free.base_seed
    assert free.replace(train_frac=0.5).base_seed != free.base_seed


def test_batch_key_allows_per_run_hyperparameters():
    c = paper1(p=59)
    for arm in (c.replace(seed=5), c.replace(lr=4e-3), c.replace(weight_decay=3.0), c.replace(clamp_target=50.0),
                c.replace(temperature=1.3), c.replace(max_steps=777)):
        assert arm.batch_key() == c.batch_key()
    assert c.replace(train_frac=0.5).batch_key() != c.batch_key()
    assert c.replace(loss="mse").batch_key() != c.batch_key()


def test_protocols():
    assert paper1().decay_order == "before" and paper2().decay_order == "after"
    p3 = paper3()
    assert (p3.model, p3.batch_size, p3.grok_threshold, p3.train_frac) == ("encoder", 512, 0.99, 0.5)


def test_eval_steps():
    assert eval_steps("every:25", 100) == [0, 25, 50, 75, 100]
    assert eval_steps("every:30", 100)[-1] == 100
    grid = eval_steps("log:10", 1000)
    assert grid[0] == 0 and grid[-1] == 1000 and grid == sorted(set(grid))


def test_prefork_is_the_free_run():
    arm = paper1(fork_step=800, clamp_scale=1.15, clamp_start=800, temperature=1.3)
    base = arm.prefork()
    assert not base.clamped and base.temperature == 1.0 and base.max_steps == 800 and base.fork_step == 0
    assert base.base_seed == arm.base_seed


def test_model_groups_match_models():
    from grokkit.engine.models import MODEL_CLASSES

    for kind, groups in MODEL_GROUPS.items():
        assert tuple(MODEL_CLASSES[kind].groups) == groups
