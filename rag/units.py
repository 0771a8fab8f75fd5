"""Answer units: the sentences of retrieved passages, a quotation running over several
sentences kept as one, each an exact span of its article."""
from __future__ import annotations

from dataclasses import dataclass

from .sentences import sentence_spans
from .store import PassageHit


@dataclass(frozen=True)
class Unit:
    """A candidate answer unit: an exact span of an article."""
    hit: PassageHit
    start: int
    end: int
    text: str
    lead: str = ""     # the article text just before the unit (this and the previous paragraph)


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
