"""Question -> grounded extractive answer: the sentences of the retrieved passages that answer it.

Each answer unit is one sentence, or a quotation running over several sentences, of an article;
it is cited as [n] with its exact character span. Units are scored by how well they match the
question (dense cosine of the unit, coverage of the question's content words) and, for
"what did X say" questions, whether X is the one speaking. When the best unit's support is under
the calibrated threshold, or an entity the question names is absent, we refuse.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .citations import Citation
from .sentences import sentence_spans
from .store import PassageHit
from .terms import STOPWORDS, WORD, content_terms, stem

_SPEECH = re.compile(r"\b(said|says|say|told|tells|added|adds|stated|states|according to|"
                     r"noted|warned|argued|explained|insisted|claimed|asked|replied|declared|"
                     r"announced|wrote|urged)\b", re.I)
_SPEAKER_Q = re.compile(r"\bwhat (?:did|does|do|has|have|had) (.+?) (?:say|said|tell|told|think|"
                        r"thinks|argue|claim|mention|warn|add|state|write|note)\b", re.I)
_OPEN_QUOTES = "“\""
# Units scored with the encoder per answer, after a lexical shortlist. Encoding every sentence of
# the retrieved passages (~40) took ~0.6 s on 2 cores and dominated an answer's latency.
ENCODED_UNITS = 8
_CLOSE_QUOTES = "”\""


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    refused: bool
    citations: tuple[Citation, ...] = ()
    support: float = 0.0
    notice: str | None = None
    sentences: tuple[dict, ...] = field(default=())
    standalone_question: str | None = None   # what was retrieved for, after follow-up handling
    refusal_reason: str | None = None        # "nothing-retrieved" | "missing-entity" | "low-support"
    mode: str = "extractive"                 # "extractive" | "generative"

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.text, "refused": self.refused,
                "standalone_question": self.standalone_question, "mode": self.mode,
                "refusal_reason": self.refusal_reason,
                "support": round(self.support, 4), "notice": self.notice,
                "citations": [c.to_dict() for c in self.citations],
                "sentences": list(self.sentences)}


@dataclass(frozen=True)
class Unit:
    """A candidate answer unit: an exact span of an article."""
    hit: PassageHit
    start: int
    end: int
    text: str
    lead: str = ""     # the article text just before the unit (this and the previous paragraph)


def speaker_of(question: str) -> list[str]:
    """Name words of X in "what did X say ...", e.g. ["lavrov"] or ["wang", "yi"]."""
    m = _SPEAKER_Q.search(question)
    if not m:
        return []
    # "the US" is a speaker, "us" is not: capitalised words count even when they are stopwords.
    return [w.lower() for w in WORD.findall(m.group(1))
            if w.lower() not in STOPWORDS or (w.isupper() and len(w) > 1)]


def _quote_balance(text: str) -> int:
    """+1 when a sentence leaves a quotation open (so the next sentence continues it)."""
    curly = text.count("“") - text.count("”")
    straight = text.count('"') % 2
    return 1 if curly > 0 or straight == 1 else 0


def units_of(hits: list[PassageHit], article_text_of) -> list[Unit]:
    """Split passages into sentences, merging sentences of one quotation; no duplicates.

    Overlapping passages can yield a quotation cut off by one passage's end and whole in the
    next: the whole one replaces the cut one, so the units do not depend on the hits' order.
    """
    units: list[Unit] = []
    for hit in hits:
        text = article_text_of(hit.passage.article_id)
        if text is None or text[hit.passage.start:hit.passage.end] != hit.passage.text:
            continue   # the store and manifest disagree; never cite a span we cannot verify
        spans = sentence_spans(text, hit.passage.start, hit.passage.end)
        i = 0
        while i < len(spans):
            start, end = spans[i]
            open_quote = _quote_balance(text[start:end])
            while open_quote and i + 1 < len(spans) and "\n" not in text[end:spans[i + 1][0]]:
                i += 1
                end = spans[i][1]
                open_quote = _quote_balance(text[start:end])
            overlapping = [j for j, u in enumerate(units) if u.hit.passage.article_id ==
                           hit.passage.article_id and u.start < end and start < u.end]
            covers_all = all(start <= units[j].start and units[j].end <= end for j in overlapping)
            if not overlapping or (covers_all and any(units[j].end - units[j].start < end - start
                                                      for j in overlapping)):
                para = text.rfind("\n\n", 0, start)
                lead_from = text.rfind("\n\n", 0, para) if para > 0 else 0
                unit = Unit(hit, start, end, text[start:end], text[max(lead_from, 0):start])
                if overlapping:   # the longer span takes the place of what it covers
                    units[overlapping[0]] = unit
                    for j in reversed(overlapping[1:]):
                        del units[j]
                else:
                    units.append(unit)
            i += 1
    return units


def score_units(question: str, units: list[Unit], unit_vectors: np.ndarray,
                question_vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(relevance used to rank, support used to refuse) per unit."""
    q_terms = set(content_terms(question))
    speaker = speaker_of(question)
    topic_terms = q_terms - {stem(w) for w in speaker}
    dense = unit_vectors @ question_vector if len(units) else np.zeros(0)
    relevance = np.zeros(len(units))
    support = np.zeros(len(units))
    for i, unit in enumerate(units):
        u_terms = set(content_terms(unit.text))
        coverage = len(q_terms & u_terms) / len(q_terms) if q_terms else 0.0
        support[i] = 0.6 * dense[i] + 0.4 * coverage
        relevance[i] = support[i]
        if speaker:
            speaks = speaks_in(unit, speaker)
            on_topic = not topic_terms or bool(topic_terms & u_terms)
            quoted = any(q in unit.text for q in _OPEN_QUOTES)
            # "What did X say" asks for X's own words: direct quotes rank above reported speech.
            relevance[i] += speaks * (0.5 + 0.2 * on_topic + 0.15 * quoted)
    return relevance, support


_PRONOUN_SPEECH = re.compile(r"\b(he|she)\s+(said|says|told|tells|added|adds|warned|argued|"
                             r"insisted|explained|noted|stated|claimed|conceded)\b|"
                             r"\b(said|says|added|told)\s+(he|she)\b", re.I)
_QUOTED = re.compile(r"[“\"][^”\"]*(?:[”\"]|$)")
_NAME = re.compile(r"\b[A-Z][a-zA-Z'’\-]+\b")


def _outside_quotes(text: str) -> str:
    return _QUOTED.sub(" ", text)


def _previous_sentence(lead: str) -> str:
    """The sentence before the unit, within its paragraph (or the end of the previous one)."""
    tail = lead.rstrip()
    cut = max(tail.rfind(". ", 0, len(tail) - 1), tail.rfind("\n"))
    return tail[cut + 1:].strip()


def speaks_in(unit: Unit, speaker: list[str]) -> bool:
    """Is the unit a statement by the speaker? Either the speaker is named outside the quoted
    words with a speech verb or a quotation ("..., said Sergey Lavrov"), or the unit is a quote
    or a "he said" whose speaker is named just before: the lead ends with "Lavrov said:" or the
    previous sentence's subject (its first name) is the speaker."""
    surname = speaker[-1]
    outside = _outside_quotes(unit.text)
    quoted = outside != unit.text
    if surname in outside.lower():
        return bool(_SPEECH.search(outside)) or quoted
    if not (quoted or _PRONOUN_SPEECH.search(outside)):
        return False
    lead_end = unit.lead.rstrip()[-80:].lower()
    if lead_end.endswith(":") and surname in lead_end:
        return True
    previous = _previous_sentence(unit.lead)
    names = [n.lower() for n in _NAME.findall(previous) if n.lower() not in STOPWORDS]
    return bool(names) and surname in names[:3]


def missing_entities(question: str, units: list[Unit]) -> list[str]:
    """Capitalised names in the question (not its first word) that no retrieved unit contains."""
    words = [w.replace("’", "'") for w in WORD.findall(question)]
    names = [w for w in words[1:] if w[0].isupper() and w.lower() not in STOPWORDS
             and not w.lower().startswith("i'")]           # "I'm", "I'd" (condensed follow-ups)
    corpus = " ".join(u.text for u in units).lower().replace("’", "'")

    def present(name: str) -> bool:   # "Russian-American" is there when its parts are
        return all(part.removesuffix("'s") in corpus
                   for part in name.lower().split("-") if part)
    return [w for w in names if not present(w)]


def merge_adjacent(units: list[Unit], article_text_of) -> list[Unit]:
    """Units that follow each other in one article become one span (one citation)."""
    merged: list[Unit] = []
    for u in units:
        prev = merged[-1] if merged else None
        if prev and prev.hit.passage.article_id == u.hit.passage.article_id and u.start >= prev.end:
            text = article_text_of(u.hit.passage.article_id)
            gap = text[prev.end:u.start]
            if not gap.strip() and "\n" not in gap:       # same paragraph, nothing in between
                merged[-1] = Unit(prev.hit, prev.start, u.end, text[prev.start:u.end], prev.lead)
                continue
        merged.append(u)
    return merged


def shortlist(question: str, units: list[Unit], limit: int | None) -> list[Unit]:
    """The `limit` units most worth encoding, by a cost-free score: the share of the question's
    content words they contain, whether the asked-about speaker speaks in them, and the rank of
    their passage in retrieval (units come in passage order)."""
    if limit is None or len(units) <= limit:
        return units
    q_terms = set(content_terms(question))
    speaker = speaker_of(question)
    passage_rank = {pid: r for r, pid in enumerate(dict.fromkeys(u.hit.passage.id for u in units))}

    def score(u: Unit) -> float:
        cover = len(q_terms & set(content_terms(u.text))) / len(q_terms) if q_terms else 0.0
        speaks = 1.0 if speaker and speaks_in(u, speaker) else 0.0
        return cover + speaks + 0.2 / (1 + passage_rank[u.hit.passage.id])

    return sorted(units, key=score, reverse=True)[:limit]


def build_answer(question: str, hits: list[PassageHit], article_text_of, embedder,
                 max_units: int = 3, refuse_below: float = 0.45,
                 encode_limit: int | None = ENCODED_UNITS) -> Answer:
    retrieved = units_of(hits, article_text_of)
    if not retrieved:
        return Answer(question, "I found nothing in the archive about that.", True,
                      refusal_reason="nothing-retrieved")
    absent = missing_entities(question, retrieved)
    units = shortlist(question, retrieved, encode_limit)
    vectors = np.asarray(embedder.embed_texts([u.text for u in units]), dtype=float)
    q_vec = np.asarray(embedder.embed_query(question), dtype=float)
    relevance, support = score_units(question, units, vectors, q_vec)
    best_support = float(support.max())
    if best_support < refuse_below or absent:
        why = (f"nothing mentions {', '.join(absent)}" if absent
               else "no passage supports an answer closely enough")
        return Answer(question, f"I can't answer that from the archive: {why}.", True,
                      support=best_support,
                      refusal_reason="missing-entity" if absent else "low-support")

    order = [int(i) for i in np.argsort(-relevance)]
    speaker = speaker_of(question)
    if speaker and any(speaks_in(units[i], speaker) for i in order):
        # A "what did X say" question is answered with X's own statements only.
        order = [i for i in order if speaks_in(units[i], speaker)]
    chosen = [i for i in order[:max_units] if relevance[i] >= 0.7 * relevance[order[0]]]
    chosen.sort(key=lambda i: (units[i].hit.passage.article_id, units[i].start))
    citations, parts, sentences = [], [], []
    for n, u in enumerate(merge_adjacent([units[i] for i in chosen], article_text_of), start=1):
        citations.append(Citation(n=n, article_id=u.hit.passage.article_id, title=u.hit.title,
                                  published=u.hit.published, source=u.hit.source, url=u.hit.url,
                                  quote=u.text, start=u.start, end=u.end,
                                  passage_id=u.hit.passage.id))
        parts.append(f"{u.text} [{n}]")
        sentences.append({"text": u.text, "citations": [n], "supported": True})
    return Answer(question, " ".join(parts), False, tuple(citations), best_support,
                  sentences=tuple(sentences))
