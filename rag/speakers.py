"""Who speaks: "what did X say" questions and whether a unit is a statement by X.

The one speaker-question pattern (SPEAKER_QUESTION) lives here; follow-up rewriting uses its
name group to replace "he" by the previous speaker.
"""
from __future__ import annotations

import re

from .terms import STOPWORDS, WORD
from .units import Unit

SPEECH = re.compile(r"\b(said|says|say|told|tells|added|adds|stated|states|according to|"
                    r"noted|warned|argued|explained|insisted|claimed|asked|replied|declared|"
                    r"announced|wrote|urged)\b", re.I)
# "what did <name> say": group "name" is the speaker as written.
SPEAKER_QUESTION = re.compile(r"\bwhat (?:did|does|do|has|have|had) (?P<name>.+?) (?=(?:say|said|"
                              r"tell|told|think|thinks|argue|claim|mention|warn|add|state|write|"
                              r"note)\b)", re.I)
OPEN_QUOTES = "“\""


def speaker_of(question: str) -> list[str]:
    """Name words of X in "what did X say ...", e.g. ["lavrov"] or ["wang", "yi"]."""
    m = SPEAKER_QUESTION.search(question)
    if not m:
        return []
    # "the US" is a speaker, "us" is not: capitalised words count even when they are stopwords.
    return [w.lower().rstrip("'’") for w in WORD.findall(m.group("name"))
            if w.lower() not in STOPWORDS or (w.isupper() and len(w) > 1)]


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
        return bool(SPEECH.search(outside)) or quoted
    if not (quoted or _PRONOUN_SPEECH.search(outside)):
        return False
    lead_end = unit.lead.rstrip()[-80:].lower()
    if lead_end.endswith(":") and surname in lead_end:
        return True
    previous = _previous_sentence(unit.lead)
    names = [n.lower() for n in _NAME.findall(previous) if n.lower() not in STOPWORDS]
    return bool(names) and surname in names[:3]
