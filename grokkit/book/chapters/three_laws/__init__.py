"""Chapter 7, the three laws together (issue 19): cross-predictions none of the three papers makes,
and the experiments that decide between their laws.

The chapter in five modules, each importing only from those above it in this list:

- :mod:`.registration`: phase 1, the pre-registration as data, fixed before any outcome was computed:
  the rules, the run sets, the verdict rows and their tolerances, the new training and its costs, as
  committed at :data:`REGISTERED` (``docs/chapter7-registration.md`` says the same in prose);
- :mod:`.designs`: the parameters and presets, the designs 7E, 7M, 7S and 7P with rule C8, and the
  registered run sets read from the store;
- :mod:`.laws`: the common numerics (C2-C6) and rule 1P, paper 1's clamped law as accumulated progress;
- :mod:`.analysis`: §1-§5 and the whole analysis (:func:`analyse`), and the deviations from the
  registration;
- :mod:`.page`: the texts the page glues, the verdicts and their diagnoses, the tables and figures.

Phase 2 (everything after the registration) reads the registered constants and changes none of them.
Where a registered rule could not be implemented exactly as written, the closest thing is computed and
the row says so in its note ("deviation from the registration: ..."; ``analysis.DEVIATIONS``).

This package re-exports the names the chapter's notebook, the book and the tests use, so
``from grokkit.book.chapters import three_laws as chapter`` reads as one module.
"""

from __future__ import annotations

from .registration import (BOOTSTRAP, CENSORED_LOG_ERROR, CHAPTER, PAPER, PREDICTIONS, REGISTERED, REGISTRATION_DOC,
                           RUN_SETS, TITLE, TOL, TRAINING)
from .designs import (PARAMETERS, PRESETS, Control, Series, c8, complete, config_table, encoder_clamps, muon_clamps,
                      muon_free, parity_clamps, parity_free, sgd_clamps, sgd_free, stored, tolerances, train)
from .laws import boot_index, c6, clamp_law, decision, log_errors, male_diff, progress, threshold_time
from .analysis import FAMILIES, analyse, exp_category, exp_judgement, family, same_exponent, window_average
from .page import (CELL_FORMATS, DELAY_FORMATS, FAMILY_FORMATS, PREDICTOR_FORMATS, SECTIONS, cells_1, delays_table,
                   deviations_text, diagnose, family_table, fig_one_variable, fig_parity, fig_progress, fig_sweeps,
                   predictor_2c_table, predictor_table, run_sets_table, scale_all, show, sweeps_table, texts,
                   training_table, verdicts)

__all__ = [
    # registration
    "BOOTSTRAP", "CENSORED_LOG_ERROR", "CHAPTER", "PAPER", "PREDICTIONS", "REGISTERED", "REGISTRATION_DOC", "RUN_SETS",
    "TITLE", "TOL", "TRAINING",
    # designs
    "PARAMETERS", "PRESETS", "Control", "Series", "c8", "complete", "config_table", "encoder_clamps", "muon_clamps",
    "muon_free", "parity_clamps", "parity_free", "sgd_clamps", "sgd_free", "stored", "tolerances", "train",
    # laws
    "boot_index", "c6", "clamp_law", "decision", "log_errors", "male_diff", "progress", "threshold_time",
    # analysis
    "FAMILIES", "analyse", "exp_category", "exp_judgement", "family", "same_exponent", "window_average",
    # page
    "CELL_FORMATS", "DELAY_FORMATS", "FAMILY_FORMATS", "PREDICTOR_FORMATS", "SECTIONS", "cells_1", "delays_table",
    "deviations_text", "diagnose", "family_table", "fig_one_variable", "fig_parity", "fig_progress", "fig_sweeps",
    "predictor_2c_table", "predictor_table", "run_sets_table", "scale_all", "show", "sweeps_table", "texts",
    "training_table", "verdicts",
]
