"""Gate for who-said-what: the attribution eval over articles read by hand (eval/cases/quotes.yaml)."""
import os
from pathlib import Path

import pytest

from eval.quotes_eval import run

DATA = Path(os.environ.get("RAG_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
RECALL, PRECISION = 0.85, 0.95


@pytest.fixture(scope="module")
def outcome():
    if not (DATA / "bbc-news-summary" / "bbc_news_summary.jsonl").is_file():
        pytest.skip(f"BBC dataset not found under {DATA} (set RAG_DATA)")
    return run(DATA)


def test_quote_recall(outcome):
    assert outcome.recall >= RECALL, outcome.failures


def test_attribution_precision(outcome):
    assert outcome.precision >= PRECISION, outcome.failures


def test_every_span_is_exact(outcome):
    assert outcome.quotes > 100 and outcome.span_validity == 1.0


def test_eval_covers_what_it_claims(outcome):
    assert outcome.cases >= 60 and outcome.not_said >= 20
