"""Article -> passages: sentence-aware chunks sized in the embedding model's own word pieces.

Each passage is an exact span of the article's cleaned text (`text[start:end]`), so every
citation can point into the article. Chunks pack whole sentences up to `max_tokens` and repeat
the last sentences (up to `overlap` tokens) at the start of the next chunk. A sentence longer
than the budget (a 5 MB line) is cut at word-piece boundaries instead of being silently
truncated by the model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from .articles import Article
from .sentences import sentence_spans


@dataclass(frozen=True)
class Passage:
    id: str            # "<article_id>::<index>"
    article_id: str
    index: int
    start: int         # offsets into the article's cleaned text
    end: int
    text: str          # == article.text[start:end]


def passage_id(article_id: str, index: int) -> str:
    return f"{article_id}::{index}"


def embedding_text(title: str, passage_text: str) -> str:
    """What the encoder reads: the title gives a passage its subject; ids and paths stay out."""
    return f"{title[:200]}\n\n{passage_text}" if title else passage_text


def _fit_spans(text: str, spans: list[tuple[int, int]], lengths: list[int], max_tokens: int,
               token_offsets: Callable[[str], Sequence[tuple[int, int]]]):
    """Cut every span longer than max_tokens into pieces of at most max_tokens word pieces."""
    for (s, e), n in zip(spans, lengths):
        if n <= max_tokens:
            yield s, e, n
            continue
        offsets = token_offsets(text[s:e])
        for i in range(0, len(offsets), max_tokens):
            piece = offsets[i:i + max_tokens]
            yield s + piece[0][0], s + piece[-1][1], len(piece)


def chunk_article(article: Article, count_tokens: Callable[[list[str]], list[int]],
                  token_offsets: Callable[[str], Sequence[tuple[int, int]]],
                  max_tokens: int = 200, overlap: int = 40) -> list[Passage]:
    text = article.text
    spans = sentence_spans(text)
    if not spans:
        return []
    lengths = count_tokens([text[s:e] for s, e in spans])
    units = list(_fit_spans(text, spans, lengths, max_tokens, token_offsets))

    chunks: list[tuple[int, int]] = []   # (first unit, last unit) inclusive
    first = 0
    while first < len(units):
        last, total = first, units[first][2]
        while last + 1 < len(units) and total + units[last + 1][2] <= max_tokens:
            last += 1
            total += units[last][2]
        chunks.append((first, last))
        if last + 1 >= len(units):
            break
        # Next chunk starts with the tail sentences of this one that fit in `overlap` tokens.
        nxt, carried = last + 1, 0
        while nxt - 1 > first and carried + units[nxt - 1][2] <= overlap:
            nxt -= 1
            carried += units[nxt][2]
        first = nxt

    return [
        Passage(id=passage_id(article.id, i), article_id=article.id, index=i,
                start=units[a][0], end=units[b][1], text=text[units[a][0]:units[b][1]])
        for i, (a, b) in enumerate(chunks)
    ]
