"""Chapter parameters: declared once, checked before anything trains, errors that name them.

For every chapter module the cases are derived from its declaration: a misspelled name, a
single value where a list is expected, a list where one value is expected, and a value out of
range, for every parameter. Each runs the chapter's notebook (``grokkit.book.headless``, in
this process) at the smoke preset with training allowed and an empty temporary store, and must
fail in the setup cell with a :class:`ParameterError` that names the parameter, leaving the
store empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CHAPTERS_DIR, child_env
from grokkit.book import chapters, headless
from grokkit.book import parameters as pm

MODULES = chapters.modules()

#: A value out of range for each form (``None``: the form has no numeric range to leave).
OUT_OF_RANGE = {pm.COUNT: 0, pm.STEPS: 0, pm.NONNEG_INT: -1, pm.POSITIVE: -1.0, pm.NONNEG: -0.5, pm.FRACTION: 1.5,
                pm.PRIME: 60, pm.SCHEDULE: "every:0", pm.EVERY_K: "log:100", pm.FLAG: "yes", pm.TEXT: "no such choice"}


def _cases():
    for module in MODULES:
        smoke, book = module.PARAMETERS.preset("smoke"), module.PARAMETERS.preset("book")
        first = next(iter(module.PARAMETERS.own))
        yield module, "misspelled", f"{first}z", 3, f"{first}z: not a parameter of this chapter; did you mean {first}"
        for name, p in module.PARAMETERS.own.items():
            value = smoke[name] if smoke[name] != [] else book[name]  # a list that may be empty at smoke
            if p.many or p.interval:
                yield module, "scalar for a list", name, value[0], f"{name}: expected"
            else:
                yield module, "list for a scalar", name, [value], f"{name}: expected"
            bad = OUT_OF_RANGE[p.form]
            if p.interval:
                yield module, "empty interval", name, [value[1], value[0]], f"{name}: expected"
            elif bad is not None:
                yield module, "out of range", name, [bad] if p.many else bad, f"{name}: expected"


CASES = list(_cases())


@pytest.mark.parametrize("module, kind, name, value, message", CASES,
                         ids=[f"{m.CHAPTER}-{kind}-{name}" for m, kind, name, _, _ in CASES])
def test_a_bad_parameter_fails_before_anything_trains(module, kind, name, value, message, tmp_path, capsys,
                                                      training_env):
    store = tmp_path / "store"
    status = headless.run_notebook(CHAPTERS_DIR / f"{module.CHAPTER}.ipynb",
                                   {"preset": "smoke", "store": str(store), "results_dir": str(tmp_path / "res"),
                                    name: value})
    err = capsys.readouterr().err
    assert status == 1
    assert "ParameterError" in err and message in err, err[-2000:]
    assert not store.exists() or not any(store.rglob("*"))


@pytest.mark.parametrize("module", MODULES, ids=[m.CHAPTER for m in MODULES])
def test_the_notebook_declares_exactly_the_modules_parameters(module):
    nb = json.loads((CHAPTERS_DIR / f"{module.CHAPTER}.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    assert "".join(cell["source"]) == module.PARAMETERS.cell_source(), \
        f"regenerate the parameters cell of {module.CHAPTER} from {module.__name__}.PARAMETERS.cell_source()"


@pytest.mark.parametrize("module", MODULES, ids=[m.CHAPTER for m in MODULES])
def test_presets_resolve_and_the_paper_preset_is_the_largest(module):
    for preset in pm.PRESET_NAMES:
        values = module.PARAMETERS.resolve(preset)
        assert values.preset == preset
    assert module.PARAMETERS.preset("smoke")["seeds"] <= module.PARAMETERS.preset("book")["seeds"] \
        <= module.PARAMETERS.preset("paper")["seeds"] if "seeds" in module.PARAMETERS.own else True


@pytest.mark.parametrize("module", MODULES, ids=[m.CHAPTER for m in MODULES])
def test_complete_is_false_on_an_empty_store_and_creates_nothing(module, tmp_path):
    """Preset "auto" asks ``complete``; on an empty store it must say no without creating the store."""
    store = tmp_path / "store"
    for preset in ("smoke", "book", "paper"):
        assert module.complete(module.PARAMETERS.resolve(preset, store=str(store))) is False
    assert not store.exists()


# ---------------------------------------------------------------------------- the declaration itself
DECL = pm.Parameters(
    rules=[pm.ordered("t_int", "budget"), pm.same_length("rhos", "budgets")],
    seeds=pm.count("seeds per cell"), p=pm.prime("modulus"), rhos=pm.positive("levels", many=True),
    budgets=pm.steps("budgets per level", many=True), t_int=pm.steps("clamp start"), budget=pm.steps("budget"),
    fit_range=pm.interval("fit range"), frac=pm.fraction("train fraction"), schedule=pm.schedule("grid"),
)
BASE = dict(seeds=8, p=59, rhos=[0.9, 1.0], budgets=[1000, 2000], t_int=500, budget=4000, fit_range=[0.85, 1.25],
            frac=0.4, schedule="every:25")
DECL.presets(smoke=dict(BASE, seeds=2), book=BASE, paper=dict(BASE, seeds=20))


@pytest.mark.parametrize("overrides, message", [
    (dict(seedz=3), "seedz: not a parameter of this chapter; did you mean seeds?"),
    (dict(rhos=1.1), "rhos: expected a non-empty list, each a positive number, got 1.1 (a number); "
                     "a single value needs brackets: [1.1]"),
    (dict(p=[59]), "p: expected a prime, got [59] (a list); this parameter takes one value, not a list"),
    (dict(p=60), "p: expected a prime, got 60 (an integer)"),
    (dict(seeds="abc"), "seeds: expected a positive integer, got 'abc' (a string)"),
    (dict(seeds=2.0), "seeds: expected a positive integer, got 2.0 (a number)"),
    (dict(seeds=True), "seeds: expected a positive integer, got True (a boolean)"),
    (dict(fit_range=[1.2, 1.0]), "fit_range: expected an interval [lo, hi] with lo < hi"),
    (dict(rhos=[]), "rhos: expected a non-empty list"),
    (dict(frac=1.0), "frac: expected a number strictly between 0 and 1, got 1.0"),
    (dict(schedule="every:0"), "schedule: expected an evaluation schedule"),
    (dict(t_int=5000), "t_int, budget: need t_int < budget (got t_int=5000, budget=4000)"),
    (dict(budgets=[1000]), "rhos, budgets: must have the same length"),
    (dict(store=3), "store: expected a string (or None), got 3"),
    (dict(train="no"), "train: expected True or False (or None)"),
])
def test_each_error_names_the_parameter_the_value_and_the_form(overrides, message):
    with pytest.raises(pm.ParameterError) as err:
        DECL.resolve("smoke", **overrides)
    assert str(err.value).startswith(message)


def test_an_unknown_preset_names_the_presets():
    with pytest.raises(pm.ParameterError, match=r"^preset: expected one of 'auto', 'smoke', 'book', 'paper', got 'smok'"):
        DECL.resolve("smok")


def test_preset_auto_takes_the_largest_complete_preset():
    assert DECL.read({"preset": "auto"}, complete=lambda v: True).preset == "paper"
    chosen = DECL.read({"preset": "auto"}, complete=lambda v: v.seeds < 20)
    assert chosen.preset == "book" and "the book preset, the largest" in chosen.auto
    assert DECL.read({"preset": "auto"}, complete=lambda v: False).preset == "book"
    assert DECL.read({"preset": "auto"}).preset == "book"  # without a store check, the book
    assert DECL.read({"preset": "paper"}, complete=lambda v: False).preset == "paper"  # a preset by name is kept


def test_overrides_apply_and_none_keeps_the_preset():
    P = DECL.resolve("book", seeds=3, p=None, store="/tmp/s")
    assert (P.seeds, P.p, P.store, P.train, P.preset) == (3, 59, "/tmp/s", None, "book")


def test_presets_must_be_complete_and_valid():
    with pytest.raises(ValueError, match="preset 'smoke': no value for rhos"):
        DECL.presets(smoke={k: v for k, v in BASE.items() if k != "rhos"}, book=BASE, paper=BASE)
    with pytest.raises(pm.ParameterError, match="preset 'paper': seeds: expected a positive integer"):
        DECL.presets(smoke=BASE, book=BASE, paper=dict(BASE, seeds=0))
    with pytest.raises(ValueError, match="declared by every chapter already"):
        pm.Parameters(store=pm.folder("x"))


def test_names_assigned_in_the_parameter_cells_are_read_from_the_input_history():
    history = ["", 'preset = "book"\nseeds = None  # seeds\n', "import x\nP = 1", "# Parameters\nseedz = 3\np = 41\n",
               "design = 2"]
    assert pm.assigned_parameter_names(history) == ["preset", "seeds", "seedz", "p"]
    with pytest.raises(pm.ParameterError, match="seedz: not a parameter"):
        DECL.read({"In": history, "preset": "smoke", "seedz": 3, "p": 41})
    assert DECL.read({"In": history[:3], "preset": "smoke", "p": 41, "design": 2}).p == 41


def test_the_parameters_cell_lists_every_parameter_with_its_meaning():
    source = DECL.cell_source()
    assert source.splitlines()[0].startswith('preset = "auto"')
    assert [line.split()[0] for line in source.splitlines()] == list(DECL.all)
    assert "# seeds per cell" in source


@pytest.mark.notebook
def test_papermill_reports_a_misspelled_parameter_before_training(tmp_path):
    """Through papermill and a real kernel (IPython's input history), not only headless."""
    module = MODULES[0]
    store = tmp_path / "store"
    cmd = [str(Path(sys.executable).parent / "papermill"), f"{module.CHAPTER}.ipynb", str(tmp_path / "out.ipynb"),
           "-p", "preset", "smoke", "-p", "seedz", "3", "-p", "store", str(store),
           "-p", "results_dir", str(tmp_path / "res")]
    proc = subprocess.run(cmd, cwd=CHAPTERS_DIR, capture_output=True, text=True, env=child_env(GROKKIT_NO_TRAIN=""))
    assert proc.returncode != 0
    assert "seedz: not a parameter of this chapter; did you mean seeds?" in proc.stdout + proc.stderr
    assert not store.exists() or not any(store.rglob("*.json"))
