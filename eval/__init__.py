"""Measuring the product: eval suites (cases as data), their runner and report, and benchmarks.

`rag/` never imports from here; this package imports `rag` like any other client. Its
commands (`eval`, `bench`) join `python -m rag` through the `rag.commands` entry point
declared in pyproject.toml (see `eval.commands`).
"""
