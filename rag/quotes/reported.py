"""Reported speech: "X said (that) ...", "..., X said.", "according to X, ...", "X told BBC
Radio 4 (that) ...". Each finding is the reported clause (without its frame) and who said it."""
from __future__ import annotations

import re

from .cues import VERBS, SOMEONE_ELSES, Attribution, inverted_subject, words_before

_ACCORDING = re.compile(r"\baccording to\s+([^,.;]{2,80}?)(?=[,.;]|$)", re.I)
_TOLD_OBJECT = re.compile(r"^\s*(?:the\s+|a\s+|an\s+)?(?:(?:[A-Z][\w'’\-]*|of|the)\s+)*"
                          r"(?:[A-Z][\w'’\-]*)?(?:'s|’s)?\s*(?:\w+\s+)?(?:programme|newspaper|"
                          r"paper|magazine|station|show|reporters|journalists|MPs|delegates|"
                          r"conference|audience|party)?\s*")
_TRAILING = re.compile(rf",\s*([^,;]{{1,70}}?)\s+(?:(?:has|had|have|will|would)\s+)?({VERBS})"
                       r"(?:\s+(?:in|on|at|during|after|to|the|a|BBC|yesterday|today|this|last)"
                       r"\b[^,;]*)?\.?\s*$")
_TRAILING_INVERTED = re.compile(r",\s*(said|says|added|adds|warned|argued|insisted|explained|"
                                r"noted|continued|concluded|stressed)\s+((?:[A-Z]|an?\s|the\s)"
                                r"(?:(?!\bthat\b)[^,;]){1,60})\.?\s*$")
_CUE_GROUP = re.compile(rf"\b({VERBS})\b")
_COORDINATED = re.compile(r"(?:and|but|or|while|whereas|as|so)\s", re.I)


def reported_speech(text: str, narrative: str, sentences, spans) -> list[tuple[int, int, Attribution]]:
    """(start, end, attribution) of reported speech: the clause reported, without its frame."""
    found = []
    for s, e in sentences:
        sent = narrative[s:e]
        if not sent.strip():
            continue
        body_end = e - (1 if text[e - 1:e] == "." else 0)
        # "According to X, CLAUSE." / "CLAUSE, according to X."
        m = _ACCORDING.search(sent)
        if m:
            if len(sent[:m.start()].split()) <= 2:
                c_start = s + m.end() + 1
                c_end = body_end
            else:
                c_start, c_end = s, s + m.start()
            found.append(_clause(text, c_start, c_end, Attribution(m.group(1), s + m.start(1),
                                                                   "according to")))
            continue
        # "CLAUSE, X said." (the clause has no quotation of its own)
        m = _TRAILING.search(sent)
        if m and _COORDINATED.match(m.group(1)):
            m = None      # "..., and X said CLAUSE": X reports what follows, not what precedes
        if m and m.start() > 20 and not has_quote(narrative, s, e, spans):
            phrase = words_before(narrative, s + m.start(2), s + m.start() + 1)
            if phrase:
                found.append(_clause(text, s, s + m.start(),
                                     Attribution(phrase, s + m.start(1), m.group(2))))
                continue
        m = _TRAILING_INVERTED.search(sent)
        if m and m.start() > 20 and not has_quote(narrative, s, s + m.start(), spans):
            phrase = inverted_subject(m.group(2))
            if phrase:
                found.append(_clause(text, s, s + m.start(),
                                     Attribution(phrase, s + m.start(2), m.group(1))))
                continue
        # "X said (that) CLAUSE" / "X told BBC Radio 4 (that) CLAUSE"
        for m in _CUE_GROUP.finditer(sent):
            verb = m.group(1)
            if verb in ("asked",):
                continue
            phrase = words_before(narrative, s + m.start(), s)
            if not phrase or phrase.lower() in ("it", "they", "i", "we") and verb != "said":
                continue
            rest = sent[m.end():]
            if verb.startswith("told") or verb.startswith("tell"):
                that = re.match(r"\s*(?:[^\s,.;:]+\s+){1,8}?that\s", rest)
                skip = that.end() if that else _TOLD_OBJECT.match(rest).end()
            else:
                that = re.match(r"\s*(?:on\s+\w+\s+|in\s+\w+\s+|yesterday\s+|today\s+)?that\s", rest)
                skip = that.end() if that else len(rest) - len(rest.lstrip())
            c_start = s + m.end() + skip
            c_text = narrative[c_start:body_end]
            stripped = c_text.strip()
            if (len(stripped.split()) < 3 or stripped[:1] in ",:;" or text[c_start:c_start + 1] in "\"“"
                    or re.match(r"(?:to|for|of|on|in|at|by|with|about|as|and|but|during|after|before|"
                                r"when|while|from|his|her|their|its|yesterday|today|last|this|"
                                r"earlier|later|recently|repeatedly|so|goodbye|sorry|no|yes)\b",
                                stripped) or stripped.endswith(":")):
                continue
            first = text[c_start:body_end].lstrip()
            if first[:1] in "\"“":
                continue
            if has_quote(narrative, c_start, body_end, spans) and SOMEONE_ELSES.search(
                    narrative[c_start:body_end]):
                break
            found.append(_clause(text, c_start, body_end, Attribution(phrase, s + m.start(), verb)))
            break
    return [f for f in found if f[1] - f[0] > 10]


def has_quote(narrative: str, start: int, end: int, spans) -> bool:
    return any(start <= sp.open_at < end for sp in spans)


def _clause(text: str, start: int, end: int, attribution: Attribution):
    while start < end and text[start] in " ,":
        start += 1
    while end > start and text[end - 1] in " ,.":
        end -= 1
    # a clause that ends inside a quotation keeps the quotation whole
    if text[start:end].count('"') % 2 and text[end:end + 1] == '"':
        end += 1
    return (start, end, attribution)
