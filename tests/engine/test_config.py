"""RunConfig: validation names the bad field, keys are canonical, init never depends on the arm."""

import dataclasses

import pytest

from grokkit.engine.config import (
    _RULES, MODEL_GROUPS, Check, FieldMeta, RunConfig, When, eval_steps, is_prime,
)
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
        (dict(task="add", model="parity_mlp"), "model"),
        (dict(p=2, train_frac=0.1), "train_frac"),
        (dict(d_embed=0), "d_embed"),
        (dict(model="attn", n_heads=3), "n_heads"),
        (dict(fork_step=500, max_steps=400), "max_steps"),
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


FIELDS = [f.name for f in dataclasses.fields(RunConfig)]

#: A value of each field that fails its own check (all other fields at their defaults).
BAD_VALUES = dict(
    task="sub", p=60, train_frac=1.0, parity_n=0, parity_k=0, parity_train=0, parity_test=-5, seed=-1,
    model="cnn", d_embed=-1, d_hidden=0, n_heads=0, layernorm="yes", optimizer="adam", lr=0.0,
    weight_decay=-1.0, decay_order="during", beta1=1.0, beta2=-0.1, eps=0.0, momentum=1.0, batch_size=0,
    loss="hinge", temperature=float("inf"), clamp_target=-3.0, clamp_scale=0.0, clamp_start=-1,
    clamp_mode="sometimes", clamp_group=3, fork_step=-1, max_steps=0, stop_at_grok=1, extra_steps=-1,
    eval_schedule="daily", trace_every=-1, mem_threshold=0.0, grok_threshold=1.5, dtype="float16",
)


def test_every_field_is_declared_with_its_metadata():
    for f in dataclasses.fields(RunConfig):
        meta = f.metadata.get("grokkit")
        assert isinstance(meta, FieldMeta), f.name
        assert meta.doc.strip() and isinstance(meta.check, Check) and meta.check.expects.strip(), f.name
        assert isinstance(meta.key, When) and meta.key.doc.strip(), f.name
        assert meta.batch is None or isinstance(meta.batch, When), f.name
        assert meta.batch_as is None or isinstance(getattr(RunConfig, meta.batch_as), property), f.name


@pytest.mark.parametrize("name", FIELDS)
def test_a_bad_value_of_every_field_raises_naming_it(name):
    assert set(BAD_VALUES) == set(FIELDS)
    with pytest.raises(ValueError, match=rf"^{name}: .*got {BAD_VALUES[name]!r}"):
        RunConfig(**{name: BAD_VALUES[name]})


#: A config that breaks each rule across fields (and only it), by rule name.
RULE_VIOLATIONS = {
    "parity trains the parity MLP": (dict(task="parity", model="attn"), "model"),
    "modular tasks train a modular model": (dict(task="mul", model="parity_mlp"), "model"),
    "the relevant bits are input bits": (dict(task="parity", model="parity_mlp", parity_n=4, parity_k=5),
                                         "parity_k"),
    "the train and test sets are non-empty": (dict(p=3, train_frac=0.99), "train_frac"),
    "only the parity MLP has no embedding": (dict(model="encoder", d_embed=0), "d_embed"),
    "the heads split the width": (dict(model="encoder", d_embed=30, n_heads=4), "n_heads"),
    "the clamped group exists": (dict(model="parity_mlp", task="parity", clamp_group="embed"), "clamp_group"),
    "one clamp target": (dict(clamp_target=1.0, clamp_scale=1.0), "clamp_target"),
    "the clamp starts within the budget": (dict(clamp_scale=1.1, clamp_start=100, max_steps=100),
                                           "max_steps"),
    "the fork is within the budget": (dict(fork_step=100, max_steps=100), "max_steps"),
    "a forked clamp starts at or after the fork": (dict(fork_step=100, clamp_target=5.0, clamp_start=99),
                                                   "clamp_start"),
}


@pytest.mark.parametrize("rule", _RULES, ids=lambda r: r.name)
def test_every_rule_across_fields_is_enforced(rule):
    assert set(RULE_VIOLATIONS) == {r.name for r in _RULES}
    changes, field = RULE_VIOLATIONS[rule.name]
    assert field == rule.field
    with pytest.raises(ValueError, match=rf"^{field}:"):
        RunConfig(**changes)


@pytest.mark.parametrize(
    "changes, field, other, in_key",
    [  # the config, a field, another value of it, and whether the field is in the key
        (dict(), "task", "mul", True),
        (dict(), "p", 61, True),
        (dict(task="parity", model="parity_mlp"), "p", 61, False),
        (dict(task="parity", model="parity_mlp"), "train_frac", 0.5, False),
        (dict(task="parity", model="parity_mlp"), "parity_k", 4, True),
        (dict(), "parity_n", 20, False),
        (dict(), "parity_k", 4, False),
        (dict(), "parity_train", 10, False),
        (dict(), "parity_test", 10, False),
        (dict(model="attn"), "n_heads", 2, True),
        (dict(model="mlp"), "n_heads", 2, False),
        (dict(task="parity", model="parity_mlp"), "n_heads", 2, False),
        (dict(task="parity", model="parity_mlp"), "d_embed", 8, False),
        (dict(task="parity", model="parity_mlp"), "layernorm", True, False),
        (dict(model="encoder"), "layernorm", True, False),
        (dict(model="attn"), "layernorm", True, True),
        (dict(), "momentum", 0.5, False),
        (dict(optimizer="sgd"), "momentum", 0.5, True),
        (dict(optimizer="sgd"), "beta1", 0.8, False),
        (dict(optimizer="sgd"), "eps", 1e-6, False),
        (dict(optimizer="sgd"), "decay_order", "after", False),
        (dict(), "clamp_start", 123, False),
        (dict(), "clamp_mode", "once", False),
        (dict(), "clamp_group", "unembed", False),
        (dict(clamp_target=50.0), "clamp_start", 123, True),
        (dict(clamp_scale=1.1), "clamp_group", "unembed", True),
        (dict(clamp_scale=1.1), "clamp_scale", 1.2, True),
        (dict(clamp_target=50.0), "clamp_target", 40.0, True),
        (dict(fork_step=100), "fork_step", 200, True),
        (dict(stop_at_grok=False), "extra_steps", 10, False),
        (dict(), "extra_steps", 10, True),
        (dict(trace_every=5), "trace_every", 10, True),
        (dict(), "lr", 2e-3, True),
    ],
)
def test_canonical_form_keeps_exactly_the_fields_that_matter(changes, field, other, in_key):
    cfg = RunConfig(**changes)
    assert (field in cfg.canonical()) == in_key
    assert (cfg.replace(**{field: other}).key != cfg.key) == in_key


@pytest.mark.parametrize("changes", [dict(), dict(clamp_target=None), dict(fork_step=0), dict(trace_every=0)])
def test_unset_optional_fields_are_left_out(changes):
    cfg = RunConfig(**changes)
    assert not {"clamp_target", "clamp_scale", "fork_step", "trace_every"} & set(cfg.canonical())


def test_base_fields_are_canonical_task_model_and_seed_fields():
    for cfg in (paper1(), paper3(), RunConfig(task="parity", model="parity_mlp")):
        base = cfg.base_fields()
        assert base.items() <= cfg.canonical().items()
        assert {"task", "model", "seed", "d_hidden"} <= set(base)
        assert not {"lr", "weight_decay", "temperature", "max_steps", "dtype", "optimizer"} & set(base)


def test_batch_key_compares_the_number_of_training_examples():
    c = paper1(p=59)  # round(0.4 * 59**2) == round(0.40001 * 59**2): the same split size
    assert c.replace(train_frac=0.40001).batch_key() == c.batch_key()
    parity = RunConfig(task="parity", model="parity_mlp")
    assert parity.replace(parity_k=4).batch_key() == parity.batch_key()
    assert parity.replace(parity_train=10).batch_key() != parity.batch_key()


def test_describe_lists_every_field_with_its_doc():
    rows = RunConfig.describe()
    assert [r["name"] for r in rows] == FIELDS
    by_name = {r["name"]: r for r in rows}
    assert by_name["seed"]["default"] == 0 and by_name["seed"]["base"] is True
    assert by_name["momentum"]["key"] == "optimizer is sgd or muon"
    assert by_name["train_frac"]["batch"] == "modular task (as n_train)"
    assert by_name["lr"]["batch"].startswith("no")
    assert all(r["doc"] and r["expects"] and r["key"] for r in rows)
