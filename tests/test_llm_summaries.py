"""Generative summaries against the real llama.cpp server (SmolLM2-135M, see test_llm_server.py),
the real MiniLM embedder and a real Chroma store.

The tiny model summarizes poorly and rarely cites; whatever it writes, the citation contract must
hold, and a summary that cannot be verified must fall back to the extractive one with a notice.
"""
from __future__ import annotations

import pytest

from conftest import SEED
from rag.citations import parse_citation_numbers, quote_matches_span

pytestmark = pytest.mark.slow
pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed "
                                        "(make test installs requirements-llm.txt)")

import test_llm_server  # noqa: E402
from test_llm_server import _generative  # noqa: E402

llama_server = test_llm_server.llama_server     # the module-scoped server fixture, shared


def test_seed_article_gets_a_verified_generative_summary(real_pipeline, llama_server):
    real_pipeline.ingest([SEED])
    [record] = real_pipeline.articles()
    pipeline = _generative(real_pipeline, llama_server)
    summary = pipeline.summarize([record.article.id], sentences=3)
    marks = [("supported" if s["supported"] else "UNSUPPORTED") + f" {s.get('support', 1.0):.2f}"
             for s in summary.sentences]
    print(f"\nmode={summary.mode}\n{summary.text}\n{marks}\nnotice: {summary.notice}")

    assert summary.mode == "generative" or summary.notice.startswith(
        ("The language model is unavailable", "The language model's summary could not be "
         "verified")), summary.notice
    assert summary.citations and summary.sentences
    text = pipeline.article_text(record.article.id)
    for c in summary.citations:
        assert quote_matches_span(text, c), c
    numbers = {c.n for c in summary.citations}
    assert set(parse_citation_numbers(summary.text)) == numbers
    for s in summary.sentences:
        assert set(s["citations"]) <= numbers and isinstance(s["supported"], bool)
        assert not s["supported"] or s["citations"], s
    if summary.mode == "generative":
        assert any(s["supported"] for s in summary.sentences)
        again = pipeline.summarize([record.article.id], sentences=3)
        assert again.cached and again.text == summary.text
