"""Comparisons across cited sentences: find each side's figure, state the comparison derived.

A comparison is never a quote: we pick, for each side of "Which was bigger, A or B?", the
figure in a retrieved sentence that sits closest to that side's words, and only when both
figures are found, in the same unit of measure (both in dollars, both in per cent, both
durations), do we write the derived line "$8bn [1] is more than $6.75bn [2]". Each figure is an
exact substring of the sentence its [n] cites.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .questions import Comparison
from .terms import WORD, content_terms, stem

_SCALE = {"k": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9, "trillion": 1e12}
_WORD_NUMBER = {w: i for i, w in enumerate("zero one two three four five six seven eight nine "
                                           "ten eleven twelve".split())}
_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
_QUANTITY = re.compile(
    r"(?P<cur>[$£€¥])\s?(?P<num>\d[\d,]*(?:\.\d+)?)(?:\s?(?P<scale>bn|m|k|million|billion|"
    r"trillion)\b)?"
    r"|(?P<num2>\d[\d,]*(?:\.\d+)?)\s?(?P<scale2>bn|m|million|billion|trillion)?\s?"
    r"(?P<unit>%|per cent|euro cents|euros?|cents|roubles?|pence|p\b|dollars?|pounds?|yen)"
    r"|(?P<num3>\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)[- ]"
    r"(?P<span>year|month|week|day)s?\b", re.I)
_UNIT_KEY = {"euro": "€", "euros": "€", "dollar": "$", "dollars": "$", "pound": "£",
             "pounds": "£", "rouble": "rouble", "roubles": "rouble", "per cent": "%",
             "euro cents": "euro cent", "cents": "cent", "pence": "p", "p": "p", "yen": "¥"}


@dataclass(frozen=True)
class Quantity:
    text: str        # exactly as in the sentence
    start: int       # offset in the sentence text
    value: float     # in the unit's base (money in units, durations in days)
    unit: str        # "$", "£", "%", "rouble", "days", ...


def quantities(text: str) -> list[Quantity]:
    found = []
    for m in _QUANTITY.finditer(text):
        if m.group("cur"):
            value = float(m.group("num").replace(",", ""))
            value *= _SCALE.get((m.group("scale") or "").lower(), 1)
            unit = m.group("cur")
        elif m.group("num2"):
            value = float(m.group("num2").replace(",", ""))
            value *= _SCALE.get((m.group("scale2") or "").lower(), 1)
            unit = _UNIT_KEY.get(m.group("unit").lower(), m.group("unit").lower())
        else:
            raw = m.group("num3").lower()
            value = float(_WORD_NUMBER.get(raw, raw)) * _DAYS[m.group("span").lower()]
            unit = "days"
        found.append(Quantity(m.group().strip(), m.start(), value, unit))
    return found


def _positions(text: str, terms: set[str]) -> list[int]:
    return [m.start() for m in WORD.finditer(text) if stem(m.group()) in terms]


def _side_score(text: str, q: Quantity, own: set[str], other: set[str], context: set[str]) -> float:
    """How well a figure answers one side: the side's words in its sentence, near the figure,
    and not nearer to the other side's words."""
    words = set(content_terms(text))
    if not own & words:
        return 0.0
    cover = len(own & words) / len(own)
    cover += 0.3 * len(context & words) / len(context) if context else 0.0

    def distance(terms):
        spots = _positions(text, terms)
        return min((abs(p - q.start) for p in spots), default=10_000)
    near_own, near_other = distance(own), distance(other - own)
    proximity = 1.0 / (1 + near_own / 40)
    return cover + proximity - (0.5 if near_other < near_own else 0.0)


def pick_sides(comparison: Comparison, units: list) -> tuple[tuple, tuple] | None:
    """((unit, Quantity), (unit, Quantity)) for the two sides in one unit of measure, or None.

    `units` are answer units (anything with `.text`, `.start` and `.hit`)."""
    own = [set(content_terms(s)) for s in comparison.sides]
    context = set(content_terms(comparison.context)) - own[0] - own[1]
    scored: list[list[tuple[float, object, Quantity]]] = [[], []]
    for unit in units:
        for q in quantities(unit.text):
            for side in (0, 1):
                score = _side_score(unit.text, q, own[side], own[1 - side], context)
                if score > 0:
                    scored[side].append((score, unit, q))
    best = None
    for s0, u0, q0 in scored[0]:
        for s1, u1, q1 in scored[1]:
            same_spot = (u0.hit.passage.article_id, u0.start + q0.start) == \
                        (u1.hit.passage.article_id, u1.start + q1.start)
            if q0.unit != q1.unit or same_spot or q0.value == q1.value:
                continue
            if best is None or s0 + s1 > best[0]:
                best = (s0 + s1, (u0, q0), (u1, q1))
    return None if best is None else (best[1], best[2])


def derived_line(first: Quantity, n_first: int, second: Quantity, n_second: int) -> str:
    """"$8bn [1] is more than $6.75bn [2]": the comparison, over two cited figures."""
    relation = ("more than" if first.value > second.value else "less than")
    return f"{first.text} [{n_first}] is {relation} {second.text} [{n_second}]"
