"""Fast tests for the extractive summarizer (no model, no data files)."""
from __future__ import annotations

import numpy as np
import pytest

from rag.sentences import sentence_spans
from rag.summarize_extractive import SummaryParams, rank_sentences

CASED = (
    'Mr. Smith flew to the U.S. on Apr. 29 to meet Dr. Jones of Acme Inc. in New York. '
    '"We are delighted," he said. Profits rose 5.2% to $1.13bn!\n\n'
    'Is it enough? Analysts at J. P. Morgan said the U.S. The rest followed.'
)
PTB = ("washington ( cnn ) president barack obama says he is `` absolutely committed '' to it . "
       "his comments to the new york times , published on sunday , came late . "
       "`` i 'm sure , '' he said . the u.s. said no .")


def _sents(text):
    return [text[a:b] for a, b in sentence_spans(text)]


@pytest.mark.parametrize("text", [CASED, PTB, "", "   ", "No final stop", "One.\nTwo words here."])
def test_spans_are_exact_stripped_substrings(text):
    spans = sentence_spans(text)
    prev_end = 0
    for a, b in spans:
        assert 0 <= prev_end <= a < b <= len(text)
        piece = text[a:b]
        assert piece == piece.strip() and piece
        prev_end = b
    # nothing but whitespace is left out
    covered = "".join(text[a:b] for a, b in spans)
    assert covered.replace(" ", "") == "".join(text.split()).replace(" ", "")


def test_cased_abbreviations_and_quotes():
    assert _sents(CASED) == [
        "Mr. Smith flew to the U.S. on Apr. 29 to meet Dr. Jones of Acme Inc. in New York.",
        '"We are delighted," he said.',
        "Profits rose 5.2% to $1.13bn!",
        "Is it enough?",
        "Analysts at J. P. Morgan said the U.S.",
        "The rest followed.",
    ]


def test_ptb_lowercase():
    assert _sents(PTB) == [
        "washington ( cnn ) president barack obama says he is `` absolutely committed '' to it .",
        "his comments to the new york times , published on sunday , came late .",
        "`` i 'm sure , '' he said .",
        "the u.s. said no .",
    ]


ARTICLE = [
    "The city council approved a new budget for public schools on Monday evening after debate.",
    "The budget adds money for teachers, buses and repairs to older school buildings in the city.",
    "Short one.",
    "Critics said the council ignored parents who asked for smaller classes in primary schools.",
    "The mayor, who proposed the plan in March, said the vote was a win for every family.",
    "Weather on Monday was mild with light rain in the afternoon and a cool breeze at night.",
    "The new budget takes effect in September and will be reviewed by auditors next spring.",
]


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_length_rule_and_article_order(k):
    params = SummaryParams(max_sentences=k)
    idx = rank_sentences(ARTICLE, None, params=params)
    assert len(idx) == min(k, len(ARTICLE))
    assert idx == sorted(set(idx))
    assert all(0 <= i < len(ARTICLE) for i in idx)


def test_ratio_length_rule():
    p = SummaryParams(ratio=0.4, min_sentences=2, max_sentences=100)
    assert p.length(7) == 3 and p.length(20) == 8 and p.length(3) == 2 and p.length(1) == 1
    assert len(rank_sentences(ARTICLE, None, params=p)) == 3


def test_empty_and_tiny_inputs():
    assert rank_sentences([], None, params=SummaryParams()) == []
    assert rank_sentences(["Only sentence here."], None, params=SummaryParams()) == [0]


def test_with_embeddings_and_shape_check():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(len(ARTICLE), 16))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    idx = rank_sentences(ARTICLE, emb, title="School budget approved", params=SummaryParams())
    assert len(idx) == 3 and idx == sorted(idx)
    with pytest.raises(ValueError):
        rank_sentences(ARTICLE, emb[:3], params=SummaryParams())


@pytest.mark.parametrize("use_emb", [False, True])
def test_duplicate_sentence_not_chosen_twice(use_emb):
    dup = ARTICLE[0]
    sents = [dup, dup] + ARTICLE[1:]
    emb = None
    if use_emb:  # identical sentences get identical vectors
        rng = np.random.default_rng(1)
        base = rng.normal(size=(len(ARTICLE), 16))
        emb = np.vstack([base[0], base])
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    idx = rank_sentences(sents, emb, params=SummaryParams(max_sentences=3))
    chosen = [sents[i] for i in idx]
    assert len(chosen) == 3
    assert len(set(chosen)) == 3, chosen


def test_rouge_scorer_guard():
    """rouge_score itself: a hand-computed value guards against silent scorer changes."""
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    sc = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)
    r = sc.score("the cat sat", "the cat ran")
    assert r["rouge1"].fmeasure == pytest.approx(2 / 3)          # 2 of 3 unigrams shared
    assert r["rouge2"].fmeasure == pytest.approx(1 / 2)          # "the cat" of 2 bigrams
    # Lsum is summary-level (per "\n" sentence); stemming maps "cats"/"sitting" to "cat"/"sit"
    r = sc.score("the cats are sitting\nhello world", "hello world\nthe cat sits")
    # ref tokens: the cat are sit hello world (6); prediction: hello world the cat sit (5)
    assert r["rouge1"].fmeasure == pytest.approx(2 * 1.0 * (5 / 6) / (1.0 + 5 / 6))   # 10/11
    assert r["rouge2"].fmeasure == pytest.approx(2 * (2 / 4) * (2 / 5) / (2 / 4 + 2 / 5))  # 4/9
    assert r["rougeLsum"].fmeasure == pytest.approx(10 / 11)    # order of sentences is irrelevant
