"""Numbers from tables of runs: no training, no store writes, no pages.

===============  ==============================================================================
``stats``        estimates with bootstrap CIs, censored (Kaplan–Meier) medians, fitted laws
``cells``        per-cell summaries of a table of runs: counts, censored medians, norms, fits
``contraction``  paper 3's free contraction of the squared norm and its delay predictor
``mediation``    paper 2's analyses: critical norms of free controls, recovery, collapse, forks
===============  ==============================================================================
"""
