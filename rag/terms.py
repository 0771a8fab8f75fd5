"""Content words of a text, lightly stemmed: the lexical side of answering and re-ranking."""
from __future__ import annotations

import re

WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
STOPWORDS = frozenset("""a an the and or but if of on in at to for from by with about as into over
after before under is are was were be been being do does did done doing have has had having
what which who whom whose when where why how that this these those there here it its it's they them
their he him his she her we us our you your i me my not no yes can could would should will shall
may might must than then so such very just also any some all each more most other say said says
tell told think thought mention mentioned according react respond""".split())


def stem(word: str) -> str:
    w = word.lower().replace("’", "'")
    for suffix in ("'s", "ies", "es", "s", "ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return w


def content_terms(text: str) -> list[str]:
    return [stem(w) for w in WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 1]
