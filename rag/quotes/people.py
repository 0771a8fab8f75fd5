"""People across articles, found from the quote index: one entry per person, and the quotations
of one person, optionally on a topic.

Merging rule: a full name ("Sergey Lavrov") is one person everywhere. A speaker an article only
names by one word ("Lavrov", from "Mr Lavrov" or "Lavrov said") joins the one full-name person
whose surname (or, for Chinese order, family name) that is; when several full names share it,
or none, it stays an entry of its own. Two full names sharing a surname are never merged: only
the same full name is evidence of the same person.

Topic rule (`--about`): a quotation is on a topic when the quotation and its sentence hold at
least half of the topic's content words (stemmed), or the passage it stands in is close to the
topic (cosine of the stored passage vector >= ABOUT_DENSE_MIN); on-topic quotations rank by the
mean of the two.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..terms import content_terms
from .index import StoredQuote
from .names import TITLES

ABOUT_LEXICAL_MIN = 0.5
ABOUT_DENSE_MIN = 0.55


class AmbiguousSpeaker(ValueError):
    """A name that fits several people; `candidates` lists their canonical names."""

    def __init__(self, name: str, candidates: list[str]):
        self.candidates = candidates
        super().__init__(f"{name!r} fits {len(candidates)} people: {', '.join(candidates)}; "
                         "give the full name")


@dataclass
class Person:
    name: str
    members: set[str] = field(default_factory=set)     # speaker values merged into this entry
    aliases: set[str] = field(default_factory=set)
    roles: dict[str, int] = field(default_factory=dict)
    quotes: int = 0
    sources: set[str] = field(default_factory=set)
    first: str | None = None
    last: str | None = None
    _first_key: int = 0
    _last_key: int = 0

    def to_dict(self) -> dict:
        roles = sorted(self.roles, key=lambda r: -self.roles[r])
        return {"name": self.name, "quotes": self.quotes, "first": self.first, "last": self.last,
                "sources": sorted(self.sources), "roles": roles,
                "aliases": sorted(self.aliases - {self.name})}


def _tokens(name: str) -> list[str]:
    words = name.replace(".", "").split()
    while len(words) > 1 and words[0].lower() in TITLES:
        words = words[1:]
    return words


def build_people(rows) -> list[Person]:
    """Entries from (speaker, speaker_label, role, source, published_key, published) rows."""
    people: dict[str, Person] = {}
    singles: dict[str, list] = {}
    for row in rows:
        speaker = row[0]
        if len(speaker.split()) > 1:
            _add(people.setdefault(speaker.lower(), Person(speaker)), row)
        else:
            singles.setdefault(speaker, []).append(row)
    by_token: dict[str, list[Person]] = {}
    for p in people.values():
        toks = p.name.split()
        by_token.setdefault(toks[-1].lower(), []).append(p)
    for word, rows_ in singles.items():
        found = by_token.get(word.lower(), [])
        if not found:
            found = [p for p in people.values() if p.name.split()[0].lower() == word.lower()]
        target = found[0] if len(found) == 1 else people.setdefault(word.lower(), Person(word))
        for row in rows_:
            _add(target, row)
    return sorted(people.values(), key=lambda p: (-p.quotes, p.name))


def _add(p: Person, row) -> None:
    speaker, label, role, source, key, published = row
    p.members.add(speaker)
    p.aliases.add(speaker)
    words = label.split()
    if words and (words[0].rstrip(".").lower() in TITLES and len(words) == 2
                  or len(words) == 1 and words[0] in p.name.split()):
        p.aliases.add(label)                     # "Mr Lavrov", "Lavrov"
    if role and role.split()[0].lower() not in ("a", "an", "the"):
        p.roles[role] = p.roles.get(role, 0) + 1
    p.quotes += 1
    if source:
        p.sources.add(source)
    if key:
        if not p._first_key or key < p._first_key:
            p._first_key, p.first = key, published
        if key > p._last_key:
            p._last_key, p.last = key, published


def find_person(name: str, people: list[Person]) -> Person | None:
    """The one person `name` refers to; None when nobody fits; AmbiguousSpeaker when several."""
    words = [w.lower() for w in _tokens(name)]
    if not words:
        return None
    titled = name.split()[0].rstrip(".").lower() in TITLES and len(name.split()) > 1
    exact = [p for p in people if p.name.lower().split() == words]
    fits = [p for p in people if all(w in p.name.lower().split() for w in words)]
    if titled:   # "Mr X": X is a surname, or a family name said first ("Mr Wang", Wang Yi)
        fits = ([p for p in fits if p.name.lower().split()[-1] == words[-1]]
                or [p for p in fits if p.name.lower().split()[0] == words[-1]])
    if len(exact) == 1 and (len(words) > 1 or len(fits) == 1):
        return exact[0]
    if len(fits) > 1:
        full = [p for p in fits if len(p.name.split()) > 1]
        # a one-word entry beside a single full name is that person's unmerged remainder
        if len(full) == 1 and all(len(p.name.split()) == 1 for p in fits if p is not full[0]):
            return full[0]
        raise AmbiguousSpeaker(name, [p.name for p in fits])
    return fits[0] if fits else None


def order_oldest_first(quotes: list[StoredQuote]) -> list[StoredQuote]:
    return sorted(quotes, key=lambda q: (q.published_key == 0, q.published_key, q.article_id,
                                         q.start))


def lexical_share(terms: set[str], q: StoredQuote) -> float:
    """The share of the topic's content words found in the quotation or its sentence."""
    return len(terms & set(content_terms(q.quote + " " + q.context))) / len(terms) if terms else 0.0


def on_topic(topic: str, quotes: list[StoredQuote], vectors: dict[str, list[float]],
             topic_vector) -> list[tuple[StoredQuote, float]]:
    """(quotation, score) of the quotations on `topic`, by the rule in the module docstring."""
    terms = set(content_terms(topic))
    tv = np.asarray(topic_vector, dtype=float)
    tv = tv / (np.linalg.norm(tv) or 1.0)
    kept = []
    for q in quotes:
        lexical = lexical_share(terms, q)
        v = vectors.get(q.id)
        dense = 0.0
        if v is not None:
            qv = np.asarray(v, dtype=float)
            dense = float(qv @ tv / (np.linalg.norm(qv) or 1.0))
        if lexical >= ABOUT_LEXICAL_MIN or dense >= ABOUT_DENSE_MIN:
            kept.append((q, (lexical + dense) / 2))
    return kept


def people_in(index, embedder=None, about: str | None = None) -> list[Person]:
    """Everyone quoted in the index, or only in their quotations on `about`."""
    if not about:
        return build_people(index.speaker_names())
    nearest = {q.id: cos for q, cos in index.nearest(embedder.embed_query(about), 300)}
    terms = set(content_terms(about))
    rows = []
    for q in index.iter_quotes(where={"speaker": {"$ne": ""}}):
        if lexical_share(terms, q) >= ABOUT_LEXICAL_MIN or nearest.get(q.id, -1.0) >= ABOUT_DENSE_MIN:
            rows.append((q.speaker, q.speaker_label or "", q.role or "", q.source or "",
                         q.published_key, q.published or ""))
    return build_people(rows)


def quotes_by(index, embedder, name: str, about: str | None = None, filters=None,
              limit: int | None = None) -> tuple[Person | None, list[StoredQuote]]:
    """(person, their quotations oldest first, undated last); (None, []) when nobody fits.
    Raises AmbiguousSpeaker when the name fits several people."""
    person = find_person(name, build_people(index.speaker_names()))
    if person is None:
        return None, []
    quotes = [q for q in index.iter_quotes(where={"speaker": {"$in": sorted(person.members)}})
              if filters is None or filters.accepts(q.article_id, q.source, q.published_key)]
    if about:
        vectors = index.vectors_of(quotes) if quotes else {}
        quotes = [q for q, _ in on_topic(about, quotes, vectors, embedder.embed_query(about))]
    quotes = order_oldest_first(quotes)
    return person, quotes[:limit] if limit else quotes
