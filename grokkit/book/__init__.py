"""The book's pages: what a chapter needs besides its narrative.

===============  ==============================================================================
``parameters``   chapter parameters: each declared once, presets derived, checked before training
``chapters``     one module per chapter: its parameters, paper values, tolerances, designs, verdicts
``verdicts``     the verdict scale and policy, judgements, a chapter's verdict table and its JSON
``diagnoses``    why we differ: registered explanations, deciding experiments, computed outcomes
``claims``       every headline result of the papers and the row that judges it
``text``         numbers and estimates in words, prose lists, glue
``tables``       tables as the book shows them, and the one label map
``plots``        the book's seaborn style and every figure
``results``      where a chapter's outputs go (verdict JSON, run manifests)
``scoreboard``   every chapter's verdicts in one table and one figure
``explorer``     the run explorer (static book and ``grokkit.explore()``)
``downloads``    the runs and verdicts as CSV and JSON files in the built book
``costs``        what a chapter's runs cost, from the store's provenance
``headless``     ``python -m grokkit.book.headless``: a chapter's code cells without Jupyter
``sphinx``       the Sphinx hook of the book build
===============  ==============================================================================
"""
