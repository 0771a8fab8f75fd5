"""Story timelines: one cited key sentence per article about a topic, oldest first.

Rules:
- An article belongs to the story when its text holds every name of the topic (its capitalised
  words), or, for a topic without names, at least half of the topic's content words; retrieval
  alone would let a neighbouring story in.
- Its key sentence is the retrieved unit of that article closest to the topic (answer_support,
  rag.policy), with a small preference for the article's opening paragraphs, where news states
  what happened. Every sentence is an exact span of its article.
- Near-duplicates (the same report from several outlets: key sentences nearly identical,
  published within two days) are one entry; the others are listed under "also".
- Dated entries are ordered oldest first; undated articles are listed apart, never guessed.
- Coverage counts the story's articles per period (month, or ISO week) and source.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from . import policy
from .citations import citation_of
from .errors import InputError
from .terms import WORD, content_terms, stem
from .units import units_of

TIMELINE_PASSAGES = 60      # passages retrieved for a topic before grouping by article
KEY_CANDIDATES = 3          # units per article given to the encoder
DUPLICATE_COSINE = 0.9
DUPLICATE_DAYS = 2
OPENING_CHARS = 600         # the "opening paragraphs" bonus applies before this offset


@dataclass(frozen=True)
class TimelineEntry:
    published: str | None
    article_id: str
    title: str
    source: str | None
    url: str | None
    sentence: str
    start: int
    end: int
    also: tuple[dict, ...] = ()    # near-duplicate reports of the same story
    unit: object = field(default=None, compare=False, repr=False)   # for citation_of

    def to_dict(self) -> dict:
        return {"published": self.published, "article_id": self.article_id, "title": self.title,
                "source": self.source, "url": self.url, "sentence": self.sentence,
                "start": self.start, "end": self.end, "also": list(self.also)}


@dataclass(frozen=True)
class Timeline:
    topic: str
    entries: tuple[TimelineEntry, ...]
    undated: tuple[TimelineEntry, ...] = ()
    coverage: tuple[dict, ...] = field(default=())

    def to_dict(self) -> dict:
        return {"topic": self.topic, "entries": [e.to_dict() for e in self.entries],
                "undated": [e.to_dict() for e in self.undated], "coverage": list(self.coverage)}


def topic_names(topic: str) -> list[str]:
    return [w.lower().rstrip("'’").removesuffix("'s") for w in WORD.findall(topic)
            if w[0].isupper()]


def about_topic(text: str, topic: str) -> bool:
    """The membership rule of the module docstring."""
    lowered = text.lower()
    names = topic_names(topic)
    if names:
        return all(name in lowered for name in names)
    terms = set(content_terms(topic))
    return bool(terms) and len(terms & set(content_terms(text))) >= len(terms) / 2


def period_of(published: str, period: str) -> str:
    day = dt.date.fromisoformat(published[:10])
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.strftime("%Y-%m")


def coverage_of(entries: list[TimelineEntry], period: str) -> list[dict]:
    counts: Counter = Counter()
    for entry in entries:
        reports = [{"source": entry.source, "published": entry.published}] + list(entry.also)
        for report in reports:
            if report["published"]:
                counts[(period_of(report["published"], period), report["source"] or "unknown")] += 1
    return [{"period": p, "source": s, "articles": n} for (p, s), n in sorted(counts.items())]


def _days_apart(a: str | None, b: str | None) -> int | None:
    if not a or not b:
        return None
    return abs((dt.date.fromisoformat(a[:10]) - dt.date.fromisoformat(b[:10])).days)


def build_timeline(topic: str, hits, article_text_of, embedder, period: str = "month") -> Timeline:
    """The timeline of `topic` from retrieved passages (see the module docstring)."""
    if period not in ("month", "week"):
        raise InputError(f"timeline period {period!r}: expected 'month' or 'week'")
    topic_terms = set(content_terms(topic)) | {stem(n) for n in topic_names(topic)}
    by_article: dict[str, list] = {}
    for unit in units_of(hits, article_text_of):
        text = article_text_of(unit.hit.passage.article_id)
        if text is not None and about_topic(text, topic):
            by_article.setdefault(unit.hit.passage.article_id, []).append(unit)
    if not by_article:
        return Timeline(topic, ())

    def lexical(unit) -> float:
        cover = len(topic_terms & set(content_terms(unit.text))) / max(len(topic_terms), 1)
        return cover + (0.2 if unit.start < OPENING_CHARS else 0.0)
    candidates = {aid: sorted(units, key=lexical, reverse=True)[:KEY_CANDIDATES]
                  for aid, units in by_article.items()}
    flat = [u for units in candidates.values() for u in units]
    vectors = np.asarray(embedder.embed_texts([u.text for u in flat]), dtype=float)
    q_vec = np.asarray(embedder.embed_query(topic), dtype=float)
    scored = {}
    for unit, vector in zip(flat, vectors):
        cover = len(topic_terms & set(content_terms(unit.text))) / max(len(topic_terms), 1)
        score = policy.answer_support(float(vector @ q_vec), cover)
        score += 0.1 if unit.start < OPENING_CHARS else 0.0
        aid = unit.hit.passage.article_id
        if aid not in scored or score > scored[aid][0]:
            scored[aid] = (score, unit, vector)

    keyed = sorted(scored.values(), key=lambda x: (x[1].hit.published or "9999",
                                                   x[1].hit.passage.article_id))
    groups: list[list] = []
    for item in keyed:
        for group in groups:
            lead = group[0]
            days = _days_apart(lead[1].hit.published, item[1].hit.published)
            if days is not None and days <= DUPLICATE_DAYS and \
                    float(lead[2] @ item[2]) >= DUPLICATE_COSINE:
                group.append(item)
                break
        else:
            groups.append([item])

    def entry(group) -> TimelineEntry:
        _, unit, _ = group[0]
        h = unit.hit
        also = tuple({"article_id": u.hit.passage.article_id, "title": u.hit.title,
                      "source": u.hit.source, "url": u.hit.url, "published": u.hit.published}
                     for _, u, _ in group[1:])
        return TimelineEntry(h.published, h.passage.article_id, h.title, h.source, h.url,
                             unit.text, unit.start, unit.end, also, unit)
    entries = [entry(g) for g in groups]
    dated = [e for e in entries if e.published]
    undated = [e for e in entries if not e.published]
    return Timeline(topic, tuple(dated), tuple(undated), tuple(coverage_of(dated, period)))


def timeline_answer(question: str, timeline: Timeline):
    """A chat answer made of the timeline: one dated, cited line per entry, oldest first."""
    from .answer import Answer
    if not timeline.entries and not timeline.undated:
        return Answer(question, policy.NOTHING_FOUND, True,
                      refusal_reason=policy.NOTHING_RETRIEVED)
    citations, sentences, lines = [], [], []
    for entry in (*timeline.entries, *timeline.undated):
        n = len(citations) + 1
        citations.append(citation_of(entry.unit, n))
        when = (entry.published or "undated")[:10]
        lines.append(f"{when}: {entry.sentence} [{n}]")
        sentences.append({"text": entry.sentence, "citations": [n], "supported": True,
                          "published": entry.published})
    return Answer(question, "\n".join(lines), False, tuple(citations), 1.0,
                  sentences=tuple(sentences))


def story_lines(timeline: Timeline, n: int) -> list[TimelineEntry]:
    """The entries a story summary tells, in order: the first, what changed (entries spread
    evenly over the middle of the story), the latest; at most n of them."""
    entries = list(timeline.entries)
    if len(entries) <= n:
        return entries
    middle, k = entries[1:-1], n - 2
    if k <= 0:
        picks = []
    elif k == 1:
        picks = [middle[len(middle) // 2]]
    else:
        picks = [middle[round(i * (len(middle) - 1) / (k - 1))] for i in range(k)]
    return [entries[0], *dict.fromkeys(picks), entries[-1]][:max(n, 2)]
