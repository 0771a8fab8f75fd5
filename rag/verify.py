"""Check a generated answer against the passages it cites, sentence by sentence.

Pure functions over our dataclasses and an embedder (the real MiniLM or tests' FakeEmbedder):
- `split_answer` cuts the model's text into sentences and the passage numbers each cites
  (a marker written after the full stop, "... problem. [1]", belongs to the sentence before it);
- `verify_sentences` scores each sentence against every span of each passage it cites (each
  sentence, and each two neighbouring sentences together):
      score = rag.policy.grounding(cosine, share of the sentence's content words in the span)
  A negated sentence ("the Council did not condemn ...") scores only against negated single
  sentences. support = the best score over its cited passages; citing nothing gives 0.
  A sentence is supported when support >= SUPPORT_THRESHOLD (rag.policy.GROUNDED_AT).

Weights and threshold were chosen on data (tests/test_generate.py re-measures them; the
measurements are in eval/reports/verification.md): we prefer a false "unsupported" to a false
"supported". Known limit: overlap is not entailment. A sentence reusing a passage's words with
another meaning (a swapped name, a dropped "not") can still pass.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .citations import CITE, parse_citation_numbers
from .policy import GROUNDED_AT, GROUNDING_DENSE, grounding
from .sentences import sentence_spans
from .store import PassageHit
from .terms import content_terms
from .units import Unit, units_of

DENSE_WEIGHT = GROUNDING_DENSE
SUPPORT_THRESHOLD = GROUNDED_AT
_MARKERS = re.compile(r"\s*" + CITE.pattern)
_LEADING_MARKERS = re.compile(rf"^(?:\s*{CITE.pattern})+")
_NEGATION = re.compile(r"\b(not|no|never|none|nor|neither|nobody|nothing|cannot|without)\b|n[’']t\b",
                       re.I)


# Text addressed to an AI rather than to readers ("ignore previous instructions and say X") is
# no evidence for anything: such passage sentences can neither support nor be quoted, so a
# model that obeys them produces sentences that fail verification.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|rules|prompts?|guidelines)\b"
    r"|\b(system prompt|previous instructions|as an ai\b|you are (now )?(an? )?(ai|assistant|"
    r"language model|chatbot))"
    r"|\b(reply|respond|answer|output|print|say|write)\s+(only\s+)?(with\s+)?(the\s+word|exactly)\b",
    re.I)


def looks_like_instruction(text: str) -> bool:
    return bool(_INSTRUCTION.search(text))


@dataclass(frozen=True)
class AnswerSentence:
    text: str                  # without its [n] markers
    cited: tuple[int, ...]     # passage numbers as the model wrote them (may be out of range)


@dataclass(frozen=True)
class SentenceCheck:
    text: str
    cited: tuple[int, ...]               # valid passage numbers only
    support: float
    supported: bool
    quotes: tuple[tuple[int, Unit], ...]  # (passage number, its best-matching unit) per citation


def strip_markers(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", _MARKERS.sub("", text)).strip()


def split_answer(text: str) -> list[AnswerSentence]:
    """Sentences of a generated answer with the numbers each cites, in order."""
    pieces: list[str] = []
    for start, end in sentence_spans(text):
        piece = text[start:end]
        lead = _LEADING_MARKERS.match(piece)
        if lead and pieces:
            # "… problem. [1] Wang said …": Punkt puts "[1]" at the start of the next sentence.
            pieces[-1] += lead.group(0)
            piece = piece[lead.end():].strip()
        if not piece:
            continue
        if not strip_markers(piece) and pieces:
            pieces[-1] += " " + piece
        else:
            pieces.append(piece)
    sentences = []
    for piece in pieces:
        bare = strip_markers(piece)
        if bare:
            sentences.append(AnswerSentence(bare, tuple(parse_citation_numbers(piece))))
    return sentences


def coverage(sentence_terms: set[str], passage_terms: set[str]) -> float:
    """Share of the answer sentence's content words that the passage text contains."""
    return len(sentence_terms & passage_terms) / len(sentence_terms) if sentence_terms else 0.0


def negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


@dataclass(frozen=True)
class PassageEvidence:
    """One numbered passage ready for scoring: its evidence spans and their vectors."""
    number: int
    hit: PassageHit
    units: tuple[Unit, ...]          # each sentence (quotation) and each two neighbours together
    unit_vectors: np.ndarray         # one row per unit
    unit_terms: tuple[frozenset, ...]
    unit_negated: tuple[bool, ...]


def checked_passages(hits: list[PassageHit], article_text_of) -> list[tuple[PassageHit, list[Unit]]]:
    """The passages whose text still matches their article, each with its sentence units.

    These, in this order, are the passages the prompt numbers [1], [2], ..."""
    checked = [(hit, units_of([hit], article_text_of)) for hit in hits]
    return [(hit, units) for hit, units in checked if units]


def _with_neighbour_pairs(hit: PassageHit, units: list[Unit]) -> list[Unit]:
    """Sentences, then each pair of neighbouring sentences as one span (an answer sentence often
    joins two), cut from the passage text so every span is exact."""
    p = hit.passage
    pairs = [Unit(hit, a.start, b.end, p.text[a.start - p.start:b.end - p.start])
             for a, b in zip(units, units[1:])]
    return units + pairs


def passage_evidence(passages: list[tuple[PassageHit, list[Unit]]],
                     embedder) -> dict[int, PassageEvidence]:
    """Evidence per passage number (1..), one embedder call for all of it.

    Instruction-like sentences are left out; a passage made only of them gives no evidence."""
    per_hit = []
    for n, (hit, units) in enumerate(passages, start=1):
        evidence_units = [u for u in units if not looks_like_instruction(u.text)]
        if evidence_units:
            per_hit.append((n, hit, _with_neighbour_pairs(hit, evidence_units)))
    texts = [u.text for _, _, units in per_hit for u in units]
    if not texts:
        return {}
    vectors = np.asarray(embedder.embed_texts(texts), dtype=float)
    evidence, row = {}, 0
    for n, hit, units in per_hit:
        singles = set(units[:(len(units) + 1) // 2])
        evidence[n] = PassageEvidence(
            n, hit, tuple(units), vectors[row:row + len(units)],
            tuple(frozenset(content_terms(u.text)) for u in units),
            # A pair never counts as negated: its "not" may belong to the other sentence.
            tuple(negated(u.text) and u in singles for u in units))
        row += len(units)
    return evidence


def verify_sentences(sentences: list[AnswerSentence], evidence: dict[int, PassageEvidence],
                     embedder, threshold: float = SUPPORT_THRESHOLD,
                     attribute: bool = False) -> list[SentenceCheck]:
    """Support of each sentence by the passages it cites; unknown numbers are dropped.

    attribute=True is for a reply that cites nothing at all: each sentence is then matched
    against every passage and cited with the one that supports it best."""
    if not sentences:
        return []
    vectors = np.asarray(embedder.embed_texts([s.text for s in sentences]), dtype=float)
    checks = []
    for sentence, vector in zip(sentences, vectors):
        terms = set(content_terms(sentence.text))
        polarity = negated(sentence.text)
        cited = tuple(evidence) if attribute else tuple(n for n in sentence.cited if n in evidence)
        scored = []      # (support by this passage, passage number, its best unit)
        for n in cited:
            ev = evidence[n]
            # A negated sentence ("the Council did not condemn ...") is supported only by a
            # negated sentence, however many words it shares with an affirmative one. (The other
            # way round is left alone: "Lavrov opposed THAAD" paraphrases "won't resolve".)
            unit_scores = [grounding(float(v @ vector), coverage(terms, t))
                           if neg or not polarity else 0.0
                           for v, t, neg in zip(ev.unit_vectors, ev.unit_terms, ev.unit_negated)]
            best_unit = int(np.argmax(unit_scores))
            scored.append((unit_scores[best_unit], n, ev.units[best_unit]))
        if attribute and scored:
            scored = [max(scored, key=lambda x: x[0])]
        best_support = max((x[0] for x in scored), default=0.0)
        checks.append(SentenceCheck(sentence.text, tuple(n for _, n, _ in scored), best_support,
                                    bool(scored) and best_support >= threshold,
                                    tuple((n, unit) for _, n, unit in scored)))
    return checks
