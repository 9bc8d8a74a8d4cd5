"""Chapter parameters: each declared once, presets derived from one another, every value checked
before anything trains.

A chapter module declares its parameters with their forms and meanings::

    PARAMETERS = Parameters(
        seeds=count("seeds per cell"),
        p=prime("modulus of the main experiments"),
        fractions=fraction("training fractions", many=True),
        fit_range=interval("ρ range of the exponential fit"),
    )
    BOOK = dict(seeds=8, p=59, fractions=[0.3, 0.4], fit_range=[0.85, 1.25])
    PRESETS = PARAMETERS.presets(smoke=dict(BOOK, seeds=2, p=41), book=BOOK, paper=dict(BOOK, seeds=20))

Every chapter also takes the :data:`COMMON` parameters (``preset``, ``train``, ``store``,
``results_dir``). The notebook's cell tagged ``parameters`` lists them all, ``None`` meaning "the
preset's value"; :meth:`Parameters.cell_source` writes that cell from the declaration, and a test
keeps the two equal. papermill injects overrides as a cell of assignments after it (``-p seeds
16``); :meth:`Parameters.read` finds the names assigned there (and in the parameters cell itself)
in the kernel's input history, so a misspelled name fails with the nearest valid ones instead of
being ignored, and every value is checked against its form before any training::

    P = chapter.PARAMETERS.read(globals())    # raises ParameterError naming the parameter

``python -m grokkit.book.headless`` keeps the same input history, so it gets the same checks.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import math
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from ..engine.config import is_prime, parse_schedule

#: The presets every chapter offers, smallest first.
PRESET_NAMES = ("smoke", "book", "paper")
#: ``preset = "auto"`` renders the largest of these whose runs are all in the store, largest first.
AUTO_ORDER = ("paper", "book")


class ParameterError(ValueError):
    """A chapter parameter is unknown or has a value of the wrong form (raised before training)."""


# ---------------------------------------------------------------------------- forms
@dataclass(frozen=True)
class Form:
    """What one value must be: ``check(value)`` returns an error text or ``""``; ``expected``
    says it in words ("a prime", "a number strictly between 0 and 1")."""

    expected: str
    check: Callable[[Any], bool]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _schedule_ok(v: Any) -> bool:
    try:
        parse_schedule(v)
    except ValueError:
        return False
    return isinstance(v, str)


COUNT = Form("a positive integer", lambda v: _is_int(v) and v > 0)
STEPS = Form("a positive integer (steps)", lambda v: _is_int(v) and v > 0)
NONNEG_INT = Form("a non-negative integer", lambda v: _is_int(v) and v >= 0)
POSITIVE = Form("a positive number", lambda v: _is_num(v) and v > 0)
NONNEG = Form("a non-negative number", lambda v: _is_num(v) and v >= 0)
FRACTION = Form("a number strictly between 0 and 1", lambda v: _is_num(v) and 0 < v < 1)
PRIME = Form("a prime", lambda v: _is_int(v) and is_prime(v))
SCHEDULE = Form("an evaluation schedule 'every:K' or 'log:K'", _schedule_ok)
EVERY_K = Form("an evaluation schedule 'every:K'", lambda v: _schedule_ok(v) and v.startswith("every:"))
FLAG = Form("True or False", lambda v: isinstance(v, bool))
TEXT = Form("a string", lambda v: isinstance(v, str))


def _describe(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            tuple: "a list", dict: "a dict", type(None): "None"}.get(type(value), type(value).__name__)
    return f"{value!r} ({kind})"


# ---------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Parameter:
    """One chapter parameter: its form, whether it is a list of such values (``many``), or a
    ``[lo, hi]`` interval (``interval``), whether ``None`` is a value of its own (``optional``),
    and what it means (``doc``). ``name`` is filled in by :class:`Parameters`."""

    form: Form
    doc: str
    many: bool = False
    interval: bool = False
    optional: bool = False
    choices: tuple[Any, ...] = ()
    name: str = ""
    empty_ok: bool = False  # a list that may be empty (an empty list of levels skips an arm)

    @property
    def expected(self) -> str:
        """The form in words: 'a prime', 'a non-empty list of primes', '[lo, hi] with lo < hi ...'."""
        one = self.form.expected if not self.choices else "one of " + ", ".join(map(repr, self.choices))
        if self.interval:
            text = f"an interval [lo, hi] with lo < hi, each {one}"
        elif self.many:
            text = f"a {'' if self.empty_ok else 'non-empty '}list, each {one}"
        else:
            text = one
        return text + (" (or None)" if self.optional else "")

    def check(self, value: Any) -> None:
        """Raise :class:`ParameterError` naming this parameter unless ``value`` has its form."""
        if value is None and self.optional:
            return
        ok = self._ok_one
        if self.interval:
            good = (isinstance(value, (list, tuple)) and len(value) == 2 and all(map(ok, value))
                    and value[0] < value[1])
        elif self.many:
            good = isinstance(value, (list, tuple)) and (len(value) > 0 or self.empty_ok) and all(map(ok, value))
        else:
            good = not isinstance(value, (list, tuple)) and ok(value)
        if not good:
            hint = ""
            if (self.many or self.interval) and not isinstance(value, (list, tuple)):
                hint = f"; a single value needs brackets: [{value!r}]" if self.many else ""
            elif not (self.many or self.interval) and isinstance(value, (list, tuple)):
                hint = "; this parameter takes one value, not a list"
            raise ParameterError(f"{self.name}: expected {self.expected}, got {_describe(value)}{hint}")

    def _ok_one(self, v: Any) -> bool:
        return (v in self.choices) if self.choices else self.form.check(v)


def _param(form: Form, doc: str, many: bool = False, **kw: Any) -> Parameter:
    return Parameter(form, doc, many=many, **kw)


def count(doc: str, many: bool = False) -> Parameter:
    """A positive integer (seeds, runs), or a list of them."""
    return _param(COUNT, doc, many)


def steps(doc: str, many: bool = False) -> Parameter:
    """A positive number of steps (budgets, starts), or a list of them."""
    return _param(STEPS, doc, many)


def nonneg_integer(doc: str, many: bool = False) -> Parameter:
    """A non-negative integer."""
    return _param(NONNEG_INT, doc, many)


def positive(doc: str, many: bool = False, optional: bool = False, empty_ok: bool = False) -> Parameter:
    """A positive finite number (a learning rate, a weight decay, a level), or a list of them
    (``empty_ok``: the list may be empty)."""
    return _param(POSITIVE, doc, many, optional=optional, empty_ok=empty_ok)


def nonneg(doc: str, many: bool = False) -> Parameter:
    """A non-negative finite number."""
    return _param(NONNEG, doc, many)


def fraction(doc: str, many: bool = False) -> Parameter:
    """A number strictly between 0 and 1 (a training fraction), or a list of them."""
    return _param(FRACTION, doc, many)


def prime(doc: str, many: bool = False) -> Parameter:
    """A prime modulus, or a list of them."""
    return _param(PRIME, doc, many)


def schedule(doc: str, every_only: bool = False) -> Parameter:
    """An evaluation schedule, ``"every:K"`` or ``"log:K"`` (``every_only``: a K-step grid, for
    chapters whose prose or analysis reads T_mem and T_grok on it)."""
    return _param(EVERY_K if every_only else SCHEDULE, doc)


def interval(doc: str, form: Form = POSITIVE) -> Parameter:
    """A ``[lo, hi]`` pair with ``lo < hi`` (a fit range): neither empty nor reversed."""
    return Parameter(form, doc, interval=True)


def flag(doc: str) -> Parameter:
    """True or False."""
    return _param(FLAG, doc)


def choice(doc: str, options: Sequence[Any], many: bool = False) -> Parameter:
    """One of ``options`` (or a list of them)."""
    return Parameter(TEXT, doc, many=many, choices=tuple(options))


def folder(doc: str) -> Parameter:
    """A folder path, or None for the default."""
    return Parameter(TEXT, doc, optional=True)


#: The parameters of every chapter, before its own.
COMMON = {
    "preset": choice('"auto" (the largest preset whose runs are all stored), "smoke" (tests, ~1 min), "book", "paper"',
                     ("auto", *PRESET_NAMES)),
    "train": Parameter(FLAG, "None trains missing runs unless GROKKIT_NO_TRAIN is set; False uses stored runs only",
                       optional=True),
    "store": folder("run-store folder (None: the project's data/runs)"),
    "results_dir": folder("where the verdict JSON and run manifest go (None: the project's results/)"),
}
COMMON = {name: dataclasses.replace(p, name=name) for name, p in COMMON.items()}
#: Defaults of the common parameters in the notebook's parameters cell.
COMMON_DEFAULTS = {"preset": "auto", "train": None, "store": None, "results_dir": None}


class Values(SimpleNamespace):
    """A chapter's resolved parameters (``P.seeds``); shows itself as a two-column table."""

    @property
    def how_chosen(self) -> str:
        """How the preset was chosen, for the page: ``preset = "auto"``'s choice, or by name."""
        return getattr(self, "auto", None) or f'preset "{self.preset}", given by name'

    def _repr_html_(self) -> str:
        df = pd.DataFrame({"parameter": list(vars(self)), "value": [repr(v) for v in vars(self).values()]})
        return df.to_html(index=False)


@dataclass
class Parameters:
    """The declaration of a chapter's own parameters (the :data:`COMMON` ones come with it).

    ``rules`` are checks across parameters (``Rule``: a message and a predicate on the resolved
    values), run after every single value has been checked.
    """

    own: dict[str, Parameter]
    rules: list["Rule"] = field(default_factory=list)
    _presets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __init__(self, rules: Sequence["Rule"] = (), **own: Parameter) -> None:
        clash = set(own) & set(COMMON)
        if clash:
            raise ValueError(f"{sorted(clash)}: declared by every chapter already (grokkit.book.parameters.COMMON)")
        self.own = {name: _named(p, name) for name, p in own.items()}
        self.rules = list(rules)
        self._presets = {}

    @property
    def all(self) -> dict[str, Parameter]:
        """Every parameter, the common ones first."""
        return {**COMMON, **self.own}

    # ------------------------------------------------------------------ presets
    def presets(self, **presets: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Register and return the presets (``smoke``, ``book``, ``paper``): each must give every
        declared parameter a value of its form (checked here, when the chapter module loads)."""
        if set(presets) != set(PRESET_NAMES):
            raise ValueError(f"presets: expected exactly {PRESET_NAMES}, got {sorted(presets)}")
        for name, values in presets.items():
            missing = sorted(set(self.own) - set(values))
            extra = sorted(set(values) - set(self.own))
            if missing or extra:
                raise ValueError(f"preset {name!r}: " + "; ".join(
                    ([f"no value for {', '.join(missing)}"] if missing else [])
                    + ([f"not parameters: {', '.join(extra)}"] if extra else [])))
            self._check(dict(values), where=f"preset {name!r}: ")
        self._presets = {name: dict(values) for name, values in presets.items()}
        return self._presets

    def preset(self, name: str) -> dict[str, Any]:
        """The values of one preset."""
        return dict(self._presets[name])

    # ------------------------------------------------------------------ resolving
    def resolve(self, preset: str = "book", **overrides: Any) -> Values:
        """The values of ``preset`` with every override that is not ``None`` applied, checked
        (``"auto"`` needs the chapter's store check: :meth:`read` with ``complete``)."""
        COMMON["preset"].check(preset)
        if preset == "auto":
            raise ParameterError('preset: "auto" is resolved by Parameters.read(namespace, complete=...)')
        unknown = [n for n in overrides if n not in self.all]
        if unknown:
            raise ParameterError(self.unknown_message(unknown[0]))
        values = self.preset(preset)
        common = {n: overrides.get(n, COMMON_DEFAULTS[n]) for n in COMMON if n != "preset"}
        for name, value in common.items():
            COMMON[name].check(value)
        values.update({n: v for n, v in overrides.items() if n in self.own and v is not None})
        self._check(values)
        return Values(preset=preset, **common, **values)

    def read(self, namespace: Mapping[str, Any], complete: Callable[[Values], bool] | None = None) -> Values:
        """:meth:`resolve` from a notebook's ``globals()``: every declared name is read from there,
        and every name assigned in the parameters cell or in papermill's injected cell (found in
        the kernel's input history ``In``) must be declared.

        ``preset = "auto"`` takes the first of :data:`AUTO_ORDER` (paper, then book) for which
        ``complete(values)`` says that every run the chapter asks for is in the store, else (and
        without ``complete``) "book"; the result's ``auto`` says so (``None`` for a preset given
        by name)."""
        for name in assigned_parameter_names(namespace.get("In") or []):
            if name not in self.all:
                raise ParameterError(self.unknown_message(name))
        overrides = {n: namespace.get(n) for n in self.all if n != "preset"}
        preset = namespace.get("preset", COMMON_DEFAULTS["preset"])
        COMMON["preset"].check(preset)
        if preset != "auto":
            values = self.resolve(preset, **overrides)
            values.auto = None
            return values
        for candidate in AUTO_ORDER if complete is not None else ():
            values = self.resolve(candidate, **overrides)
            if complete(values):
                values.auto = f'preset "auto": the {candidate} preset, the largest whose runs are all in the store'
                return values
        values = self.resolve("book", **overrides)
        values.auto = 'preset "auto": the book preset (no preset has all its runs in the store)'
        return values

    def unknown_message(self, name: str) -> str:
        near = difflib.get_close_matches(name, list(self.all), n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(near)}?" if near else f"its parameters are {', '.join(self.all)}"
        return f"{name}: not a parameter of this chapter; {hint}"

    def _check(self, values: Mapping[str, Any], where: str = "") -> None:
        try:
            for name, p in self.own.items():
                p.check(values[name])
            for rule in self.rules:
                rule.check(values)
        except ParameterError as err:
            raise ParameterError(where + str(err)) from None

    # ------------------------------------------------------------------ pages
    def cell_source(self) -> str:
        """The notebook's parameters cell: every parameter, ``None`` (the preset's value) or the
        common default, with its meaning as a comment."""
        assigns = {n: f"{n} = {_literal_text(COMMON_DEFAULTS.get(n))}" for n in self.all}
        width = max(map(len, assigns.values())) + 2
        return "\n".join(f"{a:<{width}}# {self.all[n].doc}" for n, a in assigns.items())

    def table(self) -> pd.DataFrame:
        """Every own parameter with its meaning, its form and its value in each preset."""
        rows = []
        for name, p in self.own.items():
            rows.append({"parameter": name, "meaning": p.doc, "form": p.expected,
                         **{pre: _short(self._presets[pre][name]) for pre in PRESET_NAMES if pre in self._presets}})
        return pd.DataFrame(rows, columns=["parameter", "meaning", "form", *PRESET_NAMES])


@dataclass(frozen=True)
class Rule:
    """A check across parameters: ``holds(values)`` must be true, else ``ParameterError(message)``
    (the message names the parameters involved)."""

    message: str
    holds: Callable[[Mapping[str, Any]], bool]

    def check(self, values: Mapping[str, Any]) -> None:
        if not self.holds(values):
            shown = ", ".join(f"{n}={values[n]!r}" for n in re.findall(r"\b[a-z_]+\b", self.message.split(":")[0])
                              if n in values)
            raise ParameterError(f"{self.message}" + (f" (got {shown})" if shown else ""))


def same_length(*names: str) -> Rule:
    """Lists that pair up element by element."""
    return Rule(f"{', '.join(names)}: must have the same length (they pair up)",
                lambda v: len({len(v[n]) for n in names}) == 1)


def ordered(*names: str, strict: bool = True) -> Rule:
    """Scalars that must increase in the order given (``ordered("t_int", "budget")``)."""
    sign = "<" if strict else "<="
    return Rule(f"{', '.join(names)}: need {f' {sign} '.join(names)}",
                lambda v: all((v[a] < v[b]) if strict else (v[a] <= v[b]) for a, b in zip(names, names[1:])))


def divides(small: str, large: str) -> Rule:
    """``small`` divides ``large`` (attention heads split the width)."""
    return Rule(f"{small}, {large}: {small} must divide {large}", lambda v: v[large] % v[small] == 0)


def _named(p: Parameter, name: str) -> Parameter:
    return p if p.name == name else dataclasses.replace(p, name=name)


def _literal_text(v: Any) -> str:
    """A default as the parameters cell writes it (strings in double quotes)."""
    return f'"{v}"' if isinstance(v, str) else repr(v)


def _short(v: Any) -> str:
    text = repr(v) if not isinstance(v, str) else v
    return text if len(text) <= 40 else text[:37] + "…"


# ---------------------------------------------------------------------------- input history
#: papermill's injected cell starts with this comment.
INJECTED_MARK = "# Parameters"


def assigned_parameter_names(history: Iterable[str]) -> list[str]:
    """Names assigned at the top level of the parameter cells found in a kernel's input history:
    the latest papermill-injected cell (it starts with ``# Parameters``) and the latest
    parameters cell (the one that assigns ``preset``)."""
    injected = parameters = None
    for source in history:
        if not isinstance(source, str):
            continue
        if source.lstrip().startswith(INJECTED_MARK):
            injected = source
        elif re.search(r"^preset\s*=", source, flags=re.M):
            parameters = source
    names: list[str] = []
    for source in (parameters, injected):
        if source is None:
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, (ast.AnnAssign, ast.AugAssign)) else []
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return list(dict.fromkeys(names))
