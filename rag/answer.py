"""Question -> grounded extractive answer: the sentences of the retrieved passages that answer it.

A question is first split into its parts (rag.questions); each part is retrieved for, answered
with its own cited sentences, or refused on its own ("The archive does not say who ..."). Every
answer sentence is one unit (a sentence, or a quotation over several) of an article, cited as
[n] with its exact character span, and says which part it answers.

Units are ranked by `answer_support` (rag.policy: dense cosine and coverage of the question's
words), by whether they hold the asked-for kind of detail (a place for "in which city", a figure
for "how much") and, for "what did X say" questions, by whether X is the one speaking. The
refusal gate (rag.policy) refuses when a name the question uses is absent, when the best support
is under the threshold, or when the archive covers the subject but no sentence holds the detail.
A comparison is answered with each side's cited figure and a derived line comparing them; an
answer made of possibilities ("could face up to ...") to a question about what happened is
marked as such.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import policy
from .citations import citation_of
from .compare import derived_line, pick_sides
from .questions import (GENERIC_VERBS, answer_type, asks_for_fact, comparison_of, focus_terms,
                        holds_detail, indirect, is_hedged, question_names, question_parts,
                        retrieval_query)
from .speakers import OPEN_QUOTES, SPEAKER_QUESTION, speaker_of, speaks_in  # noqa: F401 (re-export)
from .store import PassageHit
from .terms import STOPWORDS, WORD, content_terms, stem
from .units import Unit, merge_adjacent, units_of  # noqa: F401 (re-export)

# Units scored with the encoder per answer, after a lexical shortlist: encoding every sentence
# of the retrieved passages would dominate an answer's latency.
ENCODED_UNITS = 8
# The detail test looks at this many of the best-ranked units.
DETAIL_WINDOW = 5


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    refused: bool
    citations: tuple = ()
    support: float = 0.0
    notice: str | None = None
    sentences: tuple[dict, ...] = field(default=())
    standalone_question: str | None = None   # what was retrieved for, after follow-up handling
    refusal_reason: str | None = None        # one of rag.policy's reasons
    mode: str = "extractive"                 # "extractive" | "generative"
    parts: tuple[dict, ...] = ()             # multi-part questions: each part's question/refusal

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.text, "refused": self.refused,
                "standalone_question": self.standalone_question, "mode": self.mode,
                "refusal_reason": self.refusal_reason,
                "support": round(self.support, 4), "notice": self.notice,
                "citations": [c.to_dict() for c in self.citations],
                "sentences": list(self.sentences), "parts": list(self.parts)}


@dataclass
class PartAnswer:
    """One part of a question, answered (units chosen) or refused (reason)."""
    question: str
    units: list[Unit] = field(default_factory=list)
    reason: str | None = None
    support: float = 0.0
    absent: list[str] = field(default_factory=list)
    hedged: bool = False
    comparison: tuple | None = None    # ((unit, Quantity), (unit, Quantity)) when derived

    @property
    def refused(self) -> bool:
        return self.reason is not None


def score_units(question: str, units: list[Unit], unit_vectors: np.ndarray,
                question_vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(relevance used to rank, answer_support used to refuse) per unit."""
    q_terms = set(content_terms(question))
    speaker = speaker_of(question)
    topic_terms = q_terms - {stem(w) for w in speaker}
    dense = unit_vectors @ question_vector if len(units) else np.zeros(0)
    relevance = np.zeros(len(units))
    support = np.zeros(len(units))
    for i, unit in enumerate(units):
        u_terms = set(content_terms(unit.text))
        coverage = len(q_terms & u_terms) / len(q_terms) if q_terms else 0.0
        support[i] = policy.answer_support(float(dense[i]), coverage)
        relevance[i] = support[i]
        if speaker:
            speaks = speaks_in(unit, speaker)
            on_topic = not topic_terms or bool(topic_terms & u_terms)
            quoted = any(q in unit.text for q in OPEN_QUOTES)
            # "What did X say" asks for X's own words: direct quotes rank above reported speech.
            relevance[i] += speaks * (0.5 + 0.2 * on_topic + 0.15 * quoted)
    return relevance, support


def missing_entities(question: str, units: list[Unit]) -> list[str]:
    """Capitalised names in the question (not its first word) that no retrieved unit contains.
    A possessive is the name itself: "Jones'" and "Jones's" are there when "Jones" is."""
    words = [w.replace("’", "'") for w in WORD.findall(question)]
    names = [w for w in words[1:] if w[0].isupper() and w.lower() not in STOPWORDS
             and not w.lower().startswith("i'")]           # "I'm", "I'd" (condensed follow-ups)
    corpus = " ".join(u.text for u in units).lower().replace("’", "'")

    def present(name: str) -> bool:   # "Russian-American" is there when its parts are
        return all(part.removesuffix("'s").rstrip("'") in corpus
                   for part in name.lower().split("-") if part.strip("'"))
    return [w for w in names if not present(w)]


def detail_held(part: str, units: list[Unit]) -> list[bool]:
    """Per unit: does it hold the part's asked-for detail (its answer type, and one of its focus
    words when it has any)? An age is held by a sentence naming the person with a number."""
    kind, focus = answer_type(part), focus_terms(part)
    names = question_names(part) if kind == "age" else set()

    def about(u: Unit) -> bool:
        if not focus - GENERIC_VERBS:
            return True
        if focus & set(content_terms(u.text)):
            return True
        return any(name in u.text.lower() for name in names)
    return [about(u) and holds_detail(u.text, kind, part) for u in units]


def shortlist(question: str, units: list[Unit], limit: int | None,
              detail: list[bool] | None = None) -> list[Unit]:
    """The `limit` units most worth encoding, by a cost-free score: the share of the question's
    content words they contain, whether the asked-about speaker speaks in them, whether they
    hold the asked-for detail, and the rank of their passage in retrieval."""
    if limit is None or len(units) <= limit:
        return units
    q_terms = set(content_terms(question))
    speaker = speaker_of(question)
    passage_rank = {pid: r for r, pid in enumerate(dict.fromkeys(u.hit.passage.id for u in units))}
    held = dict(zip(map(id, units), detail or [False] * len(units)))

    def score(u: Unit) -> float:
        cover = len(q_terms & set(content_terms(u.text))) / len(q_terms) if q_terms else 0.0
        speaks = 1.0 if speaker and speaks_in(u, speaker) else 0.0
        return cover + speaks + 0.3 * held[id(u)] + 0.2 / (1 + passage_rank[u.hit.passage.id])

    return sorted(units, key=score, reverse=True)[:limit]


@dataclass(frozen=True)
class Gate:
    """The refusal gate's verdict on one part, with the scores the answerer ranks by."""
    reason: str | None
    support: float
    absent: list[str]
    relevance: np.ndarray      # ranks units: relevance plus the detail bonus
    base: np.ndarray           # relevance alone: how far below the best a unit may be chosen
    detail: list[bool]
    asks_detail: bool


def gate(part: str, query: str, units: list[Unit], vectors: np.ndarray, question_vector,
         refuse_below: float, absent: list[str]) -> Gate:
    """The one refusal gate, for both modes: a name the question uses is absent, the best
    answer_support is under the threshold, or no well-ranked unit holds the asked-for detail."""
    base, support = score_units(query, units, vectors, question_vector)
    best = float(support.max()) if len(units) else 0.0
    detail = detail_held(part, units)
    asks_detail = answer_type(part) is not None or bool(focus_terms(part))
    relevance = base + 0.25 * np.asarray(detail, dtype=float) * asks_detail
    reason = policy.refusal_reason(absent, best, refuse_below)
    if reason is None and asks_detail:
        top = np.argsort(-relevance)[:DETAIL_WINDOW]
        if not any(detail[int(i)] for i in top):
            reason = policy.DETAIL_ABSENT
    return Gate(reason, best, absent, relevance, base, detail, asks_detail)


def follows(unit: Unit, earlier: Unit, within: int = 300) -> bool:
    """Does `unit` come just after `earlier` in the same article (its statement continued)?"""
    return (unit.hit.passage.article_id == earlier.hit.passage.article_id
            and 0 <= unit.start - earlier.end <= within)


def answer_part(part: str, query: str, hits: list[PassageHit], article_text_of, embedder,
                max_units: int, refuse_below: float, encode_limit: int | None) -> PartAnswer:
    """Choose the units answering one part (retrieved for `query`), or say why not."""
    retrieved = units_of(hits, article_text_of)
    if not retrieved:
        return PartAnswer(part, reason=policy.NOTHING_RETRIEVED)
    absent = missing_entities(part, retrieved)
    units = shortlist(query, retrieved, encode_limit, detail_held(part, retrieved))
    vectors = np.asarray(embedder.embed_texts([u.text for u in units]), dtype=float)
    q_vec = np.asarray(embedder.embed_query(query), dtype=float)
    verdict = gate(part, query, units, vectors, q_vec, refuse_below, absent)
    if verdict.reason:
        return PartAnswer(part, reason=verdict.reason, support=verdict.support, absent=absent)
    relevance, detail = verdict.relevance, verdict.detail
    order = [int(i) for i in np.argsort(-relevance)]
    speaker = speaker_of(part)
    if speaker and any(speaks_in(units[i], speaker) for i in order):
        # A "what did X say" question is answered with X's own statements, and a quotation
        # closer to the topic than any of them (X quoted by surname, "said Ioannidis").
        speaking = [i for i in order if speaks_in(units[i], speaker)]
        topic = set(content_terms(part)) - {stem(w) for w in speaker}

        def on_topic(i: int) -> float:
            return len(topic & set(content_terms(units[i].text))) / len(topic) if topic else 0.0
        best_speaking = max(on_topic(i) for i in speaking)
        closer = [i for i in order if i not in speaking and on_topic(i) > best_speaking
                  and any(q in units[i].text for q in OPEN_QUOTES)
                  and any(follows(units[i], units[j]) for j in speaking)]
        order = closer[:1] + speaking
    elif verdict.asks_detail:
        order = [i for i in order if detail[i]]
    # Close enough to the best: by relevance alone, or, holding the detail, with its bonus.
    base, top = verdict.base, order[0]
    chosen = [i for i in order[:max_units] if base[i] >= 0.7 * base[top]
              or (detail[i] and relevance[i] >= 0.7 * relevance[top])]
    hedged = asks_for_fact(part) and is_hedged(units[chosen[0]].text)
    if hedged:   # what the archive says may happen, never as what did happen
        chosen = [i for i in chosen if is_hedged(units[i].text)]
    chosen.sort(key=lambda i: (units[i].hit.passage.article_id, units[i].start))
    return PartAnswer(part, merge_adjacent([units[i] for i in chosen], article_text_of),
                      support=verdict.support, hedged=hedged)


def answer_comparison(question: str, search: Callable[[str], list[PassageHit]], hits,
                      article_text_of, embedder, max_units, refuse_below,
                      encode_limit) -> PartAnswer:
    """Each side's figure from the units retrieved for the question and for each side; the
    comparison only when both figures are found (else the plain answer, no comparison)."""
    plain = answer_part(question, question, hits, article_text_of, embedder, max_units,
                        refuse_below, encode_limit)
    comparison = comparison_of(question)
    if plain.refused or comparison is None:
        return plain
    pool = list(hits)
    for side in comparison.sides:
        pool += search(f"{side} {comparison.context}".strip())
    seen, unique = set(), []
    for hit in pool:
        if hit.passage.id not in seen:
            seen.add(hit.passage.id)
            unique.append(hit)
    sides = pick_sides(comparison, units_of(unique, article_text_of))
    if sides is None:
        return plain
    units = [sides[0][0]] if sides[0][0] == sides[1][0] else [sides[0][0], sides[1][0]]
    return PartAnswer(question, units, support=plain.support, comparison=sides)


def compose(question: str, answers: list[PartAnswer]) -> Answer:
    """One Answer from its parts: citations numbered across parts (one [n] per span), each
    sentence saying which part it answers, each refused part saying what the archive lacks."""
    multi = len(answers) > 1
    numbers: dict[tuple[str, int, int], int] = {}
    citations, sentences, texts, parts = [], [], [], []

    def cite(unit: Unit) -> int:
        key = (unit.hit.passage.article_id, unit.start, unit.end)
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            citations.append(citation_of(unit, numbers[key]))
        return numbers[key]

    for p, part in enumerate(answers, start=1):
        parts.append({"part": p, "question": part.question, "refused": part.refused,
                      "refusal_reason": part.reason})
        if part.refused:
            if multi:
                texts.append(policy.part_refusal_text(indirect(part.question), part.reason,
                                                      part.absent))
            continue
        if part.hedged:
            texts.append(policy.HEDGE_PREFIX)
        quoted = {s["text"]: s for s in sentences}
        for unit in part.units:
            if unit.text in quoted:    # said by an earlier part, or the same report twice
                earlier = quoted[unit.text].setdefault("parts", [quoted[unit.text]["part"]])
                if p not in earlier:
                    earlier.append(p)
                continue
            n = cite(unit)
            texts.append(f"{unit.text} [{n}]")
            sentences.append({"text": unit.text, "citations": [n], "supported": True,
                              "part": p, "hedged": part.hedged or is_hedged(unit.text)})
            quoted[unit.text] = sentences[-1]
        if multi and not any(p in s.get("parts", [s["part"]]) and s["part"] == p
                             for s in sentences) and part.units:
            earlier = [n for n in (numbers.get((u.hit.passage.article_id, u.start, u.end))
                                   for u in part.units) if n]
            if earlier:
                marks = "".join(f"[{n}]" for n in earlier)
                texts.append(f"({indirect(part.question)}: see {marks})")
        if part.comparison:
            (u0, q0), (u1, q1) = part.comparison
            line = derived_line(q0, cite(u0), q1, cite(u1))
            texts.append(f"{policy.DERIVED_PREFIX} {line}.")
            sentences.append({"text": line, "citations": sorted({cite(u0), cite(u1)}),
                              "supported": True, "part": p, "derived": True, "hedged": False})
    refused = all(a.refused for a in answers)
    support = max(a.support for a in answers)
    if refused:
        first = answers[0]
        text = (" ".join(texts) if multi else
                policy.refusal_text(first.reason, absent=first.absent,
                                    asked=indirect(first.question)))
        return Answer(question, text, True, support=support, refusal_reason=first.reason,
                      parts=tuple(parts) if multi else ())
    return Answer(question, " ".join(texts), False, tuple(citations), support,
                  sentences=tuple(sentences), parts=tuple(parts) if multi else ())


def answer_question(question: str, search: Callable[[str], list[PassageHit]], article_text_of,
                    embedder, max_units: int = 3, refuse_below: float = 0.45,
                    encode_limit: int | None = ENCODED_UNITS) -> Answer:
    """Answer a question, retrieving with `search(query) -> hits` once per part (and once per
    side of a comparison)."""
    parts = question_parts(question)
    answers = []
    for part in parts:
        query = retrieval_query(part, parts)
        hits = search(query)
        if comparison_of(part) is not None:
            answers.append(answer_comparison(part, search, hits, article_text_of, embedder,
                                             max_units, refuse_below, encode_limit))
        else:
            answers.append(answer_part(part, query, hits, article_text_of, embedder, max_units,
                                       refuse_below, encode_limit))
    return compose(question, answers)


def build_answer(question: str, hits: list[PassageHit], article_text_of, embedder,
                 max_units: int = 3, refuse_below: float = 0.45,
                 encode_limit: int | None = ENCODED_UNITS) -> Answer:
    """Answer from passages already retrieved (every part and side reads the same hits)."""
    return answer_question(question, lambda _query: hits, article_text_of, embedder, max_units,
                           refuse_below, encode_limit)
