"""grokkit's version, declared once (the package, its records' provenance and pyproject read it here)."""

__version__ = "0.1.0"
