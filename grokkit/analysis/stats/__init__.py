"""Statistics for grokking-time experiments.

Every training run yields a *grokking time* ``T`` (the step at which it
grokked) or is right-censored at its step budget (``event=False`` and
``T = budget``).  This package turns such per-run data into the numbers a
chapter reports:

* :func:`kaplan_meier`, :func:`km_median`, :func:`censored_median` --
  survival curves and medians that handle censored runs correctly;
* :func:`fit_exponential` -- the law ``ln(median T) = a + alpha * x`` across
  levels ``x`` (e.g. a data fraction ``rho``), with a bootstrap CI on ``alpha``;
* :func:`fit_shared_slope` -- the same law with one common slope and one
  intercept per group (e.g. per operation or per architecture);
* :func:`fit_power_law` -- ``y = c * x**k`` fitted in log-log space;
* :func:`bootstrap_ci`, :func:`pearson_r`, :func:`coefficient_of_variation`,
  :func:`ratio_ci`, :func:`fit_line`, :func:`r_squared` -- general helpers.

Conventions
-----------
* Everything is a pure function of numpy arrays (or array-likes); nothing here
  does I/O, trains a model, or imports torch.
* All randomness goes through ``np.random.default_rng(seed)`` with a ``seed``
  argument (default 0), so every result is reproducible.
* Confidence intervals are *percentile bootstrap* intervals: with
  ``ci = 0.95`` they are the 2.5% and 97.5% quantiles (numpy's default
  "linear" quantile) of the bootstrap distribution.  Resamples whose statistic
  is NaN are dropped; infinite values (e.g. an unreachable censored median) are
  kept, so a bound can legitimately be ``inf``.
* Results are small frozen dataclasses with a readable ``__str__`` and an
  ``as_dict()`` method returning plain Python objects for ``json.dumps``
  (non-finite floats are kept as ``inf``/``nan``, which Python's json module
  writes as ``Infinity``/``NaN``).

Kaplan-Meier median
-------------------
:func:`km_median` returns the smallest event time ``t`` with ``S(t) <= 0.5``
(the standard KM median), with one refinement: if ``S(t) == 0.5`` *exactly*
(up to 1e-9) at that time, the survival curve is flat at 0.5 until the next
event time ``t'`` and every point of ``[t, t')`` is "a median"; we then return
the midpoint ``(t + t') / 2``.  Without censoring this makes ``km_median``
equal to :func:`numpy.median` for both odd and even sample sizes (ties
included).  If there is no later event time (only censored runs remain), ``t``
itself is returned.  If ``S`` never drops to 0.5 (at least half of the runs
are censored before their would-be median) the median is ``np.inf``.

Modules
-------
``estimates``  one number with a CI (bootstrap, CV, Pearson r, proportions)
``survival``   censored grokking times (Kaplan-Meier medians, ratios of medians)
``fits``       laws across levels (lines, exponential, shared slope, power law)
"""

from __future__ import annotations

from .estimates import Estimate, bootstrap_ci, proportion_ci, coefficient_of_variation, pearson_r
from .fits import (
    ExpFit,
    LineFit,
    PowerFit,
    SharedSlopeFit,
    fit_exponential,
    fit_line,
    fit_line_ci,
    fit_power_law,
    fit_shared_slope,
    r_squared,
)
from .survival import geometric_mean_ratio, MedianSummary, censored_median, kaplan_meier, km_median, ratio_ci

__all__ = [
    "Estimate",
    "LineFit",
    "MedianSummary",
    "ExpFit",
    "SharedSlopeFit",
    "PowerFit",
    "bootstrap_ci",
    "fit_line_ci",
    "kaplan_meier",
    "km_median",
    "censored_median",
    "fit_line",
    "r_squared",
    "fit_exponential",
    "fit_shared_slope",
    "fit_power_law",
    "pearson_r",
    "coefficient_of_variation",
    "ratio_ci",
    "proportion_ci",
    "geometric_mean_ratio",
]
