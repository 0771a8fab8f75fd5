"""Quotation marks -> quoted spans, following news conventions.

Double marks only (straight or curly); single marks are scare quotes or quotes inside quotes.
A straight mark's direction comes from its neighbours: after a space (or at a line start) and
before a word it opens, otherwise it closes. While a quotation is open, another opening mark
starts a new paragraph of the same quotation (the news convention: a paragraph that ends without
a closing mark continues at the next paragraph's opening mark; flattened texts keep the marks
on one line), so the pieces join into one quotation. A quotation still open at a line end
continues only when the next paragraph opens with a mark; otherwise it ends with its line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_OPENERS = "“"
_CLOSERS = "”"
_MARKS = re.compile(r"[\"“”]")
_LINE = re.compile(r"[^\n]+")


@dataclass(frozen=True)
class QuotedSpan:
    start: int          # first character of the quoted words (after the opening mark)
    end: int            # after the last quoted character (before the closing mark)
    open_at: int        # index of the opening mark
    close_at: int       # index of the closing mark, or `end` when the line ended the quotation


def _opens(text: str, i: int, inside: bool) -> bool:
    ch = text[i]
    if ch in _OPENERS:
        return True
    if ch in _CLOSERS:
        return False
    before = text[i - 1] if i > 0 else "\n"
    after = text[i + 1] if i + 1 < len(text) else "\n"
    if inside:   # a closing mark follows a word; an opening one inside starts a new paragraph
        return before.isspace() and not after.isspace()
    return not after.isspace()


def quoted_spans(text: str) -> list[QuotedSpan]:
    """Every quotation of `text`, its paragraphs joined, as spans of the quoted words."""
    spans: list[QuotedSpan] = []
    open_at: int | None = None
    lines = list(_LINE.finditer(text))
    for n, line in enumerate(lines):
        for m in _MARKS.finditer(text, line.start(), line.end()):
            i = m.start()
            if open_at is None:
                if _opens(text, i, False):
                    open_at = i
            elif not _opens(text, i, True):
                spans.append(_span(text, open_at, i, i))
                open_at = None
        if open_at is not None:
            following = lines[n + 1].group().lstrip() if n + 1 < len(lines) else ""
            if not (following[:1] and following[0] in "\"“"):
                spans.append(_span(text, open_at, line.end(), line.end()))
                open_at = None
    return [s for s in spans if s.end > s.start]


def _span(text: str, open_at: int, end: int, close_at: int) -> QuotedSpan:
    start = open_at + 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] == ","):
        end -= 1
    return QuotedSpan(start, end, open_at, close_at)


def masked(text: str, spans: list[QuotedSpan]) -> str:
    """`text` with each quotation (marks included) blanked to spaces, offsets unchanged: names
    and verbs inside someone's words never count as the narrative's."""
    chars = list(text)
    for s in spans:
        for i in range(s.open_at, min(s.close_at + 1, len(text))):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)
