"""Local-first news-archive assistant: ingest articles, ask cited questions, summarize.

Importing `rag` loads no model and no torch; see `rag.pipeline.Pipeline`.
"""
