"""One module per chapter of the book: what its notebook calls.

Each module names its notebook (``CHAPTER``, the notebook's stem, and ``TITLE``) and holds the
chapter's parameters and presets (``PARAMETERS``, ``PRESETS``), the paper's figures and the
tolerances fixed before any result was read (``PAPER``, ``TOL``, ``tolerances()``), the designs
of its experiments, the analysis of their runs, the numbers its prose glues (``texts``) and its
verdict rows (``verdicts``). The notebook keeps the narrative and calls these, so a reader who
opens it in Jupyter to re-run it sees the story, not the machinery. A long chapter may be a package
of modules instead (``three_laws``), whose ``__init__`` re-exports what the notebook and the book use.

:func:`modules` finds every chapter module, so pages that list the chapters (the re-run page)
need no edit when a chapter is added.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def modules() -> list[ModuleType]:
    """Every chapter module, in the book's order (by notebook name): a module that names its
    notebook (``CHAPTER``) and declares its parameters (a chapter still being registered has no
    parameters yet, and no page)."""
    found = [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)
             if not info.name.startswith("_")]
    return sorted((m for m in found if hasattr(m, "CHAPTER") and hasattr(m, "PARAMETERS")), key=lambda m: m.CHAPTER)


def for_notebook(stem: str) -> ModuleType:
    """The module of the chapter whose notebook is ``<stem>.ipynb``."""
    for module in modules():
        if module.CHAPTER == stem:
            return module
    raise KeyError(f"no chapter module declares CHAPTER = {stem!r}")
