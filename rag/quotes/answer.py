""""What did X say about Y?" answered from the quote index: X's quotations on Y from every
article, oldest first, each cited [n] with its date. None when the index has nothing that fits
(the pipeline then answers from passages as usual)."""
from __future__ import annotations

from ..answer import Answer, speaker_of
from ..followup import topic_of
from .people import AmbiguousSpeaker, on_topic, order_oldest_first, quotes_by

MAX_QUOTES = 6     # quotations in one answer; the CLI's `quotes` command lists them all


def answer_from_quotes(question: str, index, embedder, filters=None) -> Answer | None:
    speaker = speaker_of(question)
    if not speaker:
        return None
    topic = topic_of(question) if " about " in f" {question.lower()} " else ""
    try:
        person, quotes = quotes_by(index, embedder, " ".join(speaker), None, filters)
    except AmbiguousSpeaker:
        return None
    if person is None or not quotes:
        return None
    if topic:
        vectors = index.vectors_of(quotes)
        scored = on_topic(topic, quotes, vectors, embedder.embed_query(topic))
        if not scored:
            return None
        best, seen = [], set()
        for q, score in sorted(scored, key=lambda qs: -qs[1]):
            words = " ".join(q.quote.lower().split())
            if words not in seen:             # the same words reprinted in another article
                seen.add(words)
                best.append((q, score))
        best = best[:MAX_QUOTES]
        support = best[0][1]
        quotes = order_oldest_first([q for q, _ in best])
    else:
        quotes, support = quotes[-MAX_QUOTES:], 1.0
    citations, parts, sentences = [], [], []
    for n, q in enumerate(quotes, start=1):
        citations.append(q.citation(n))
        when = (q.published or "")[:10] or "undated"
        line = f"{when}, {person.name} ({q.cue or 'said'}): “{q.quote}” [{n}]"
        parts.append(line)
        sentences.append({"text": line, "citations": [n], "supported": True})
    return Answer(question, "\n".join(parts), False, tuple(citations), support,
                  sentences=tuple(sentences))
