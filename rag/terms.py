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
    """A light stemmer: "fined" and "fine", "Jones'" and "Jones" give one stem.

    A possessive apostrophe ("Jones'", "Ebbers'") is dropped first; a final "e" after the
    suffix is removed so "-ed"/"-ing" forms of words ending in "e" meet their base form."""
    w = word.lower().replace("’", "'").rstrip("'")
    for suffix in ("'s", "ies", "es", "s", "ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)] + ("y" if suffix == "ies" else "")
            break
    return w[:-1] if w.endswith("e") and len(w) >= 4 else w


def content_terms(text: str) -> list[str]:
    return [stem(w) for w in WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 1]
