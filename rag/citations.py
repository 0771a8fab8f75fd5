"""Citations: pure functions to number passages, parse `[n]` back and check quoted spans.

No model, no store: everything here is testable with plain strings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# The one [n] / [n, m] pattern: parsing, dropping and stripping citation markers all use it.
CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True)
class Citation:
    n: int                  # the number shown in the answer as [n]
    article_id: str
    title: str
    published: str | None
    source: str | None
    url: str | None
    quote: str              # == article.text[start:end]
    start: int
    end: int
    passage_id: str | None = None

    def to_dict(self) -> dict:
        return {
            "n": self.n, "article_id": self.article_id, "title": self.title,
            "published": self.published, "source": self.source, "url": self.url,
            "quote": self.quote, "start": self.start, "end": self.end,
            "passage_id": self.passage_id,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Citation":
        """A citation from its `to_dict()` form; other keys (a saved citation's status or
        content hash, a quotation's speaker) are ignored. `n` defaults to 1 (a lone mark)."""
        return cls(**{"n": 1, **{k: v for k, v in d.items() if k in _FIELDS}})


_FIELDS = frozenset(Citation.__dataclass_fields__)


def citation_of(unit, n: int) -> Citation:
    """The citation [n] of an answer unit (any object with .hit, .start, .end, .text): its
    article's metadata from the hit, the unit's exact span and text as the quote."""
    h = unit.hit
    return Citation(n=n, article_id=h.passage.article_id, title=h.title, published=h.published,
                    source=h.source, url=h.url, quote=unit.text, start=unit.start, end=unit.end,
                    passage_id=h.passage.id)


def parse_citation_numbers(text: str) -> list[int]:
    """All numbers cited as [n] or [n, m] in `text`, in order of first appearance."""
    seen: list[int] = []
    for match in CITE.finditer(text):
        for part in match.group(1).split(","):
            n = int(part)
            if n not in seen:
                seen.append(n)
    return seen


def drop_unknown_citations(text: str, valid: set[int]) -> str:
    """Remove cited numbers that are not in `valid`; a bracket left empty disappears."""
    def keep(match: re.Match) -> str:
        nums = [p.strip() for p in match.group(1).split(",") if int(p) in valid]
        return f"[{', '.join(nums)}]" if nums else ""
    cleaned = CITE.sub(keep, text)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()


def quote_matches_span(article_text: str, citation: Citation) -> bool:
    """The contract of every citation: the quote is exactly the cited span of the article."""
    return (0 <= citation.start < citation.end <= len(article_text)
            and article_text[citation.start:citation.end] == citation.quote)


def number_passages(texts: list[str]) -> str:
    """Passages as a numbered block for a prompt: `[1] ...`, `[2] ...`."""
    return "\n\n".join(f"[{i}] {t.strip()}" for i, t in enumerate(texts, start=1))
