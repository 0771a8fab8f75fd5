"""What a question asks for: its parts, the type of its answer, its focus, comparisons, hedges.

Pure text rules, no model: the answerer (rag.answer) and the generative path (rag.generate) use
them to decompose a question and to tell "the subject is in the archive" from "the asked-for
detail is in the archive".

- Parts: "Who made the offer, and how did the board respond?" is two questions. Each part is
  answered (or refused) on its own; a later part borrows the earlier part's subject words for
  retrieval ("how did the board respond" + "offer Manchester United").
- Answer type: "in which city" asks for a place, "how much" for an amount, "who" for a person,
  "how long" for a duration, "when" for a date. A sentence holding that kind of detail is
  preferred over an overview sentence that only shares the question's words.
- Focus: the question's content words that are not names and not the answer type's own word
  ("wife" in "What is Bernie Ebbers' wife called?"). When no retrieved sentence has any of them,
  the archive covers the subject but not the detail, and the answer is a refusal.
- Comparisons: "Which was bigger, A or B?" names two sides; each is answered with a cited
  figure, and the comparison is stated only as a derived line over two cited figures.
- Hedges: "could face a jail sentence of 85 years" is a possibility, not a fact; an answer made
  of such sentences is marked as what the archive says may happen.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .terms import STOPWORDS, WORD, content_terms, stem

_WH = (r"who|whom|whose|what|which|when|where|why|how|did|does|do|is|are|was|were|has|have|"
       r"had|will|would|can|could")
_PART_SPLIT = re.compile(rf"\s*(?:,\s*(?:and\s+)?|;\s*|\s+and\s+)(?=(?:(?:in|at|to|from|for|by|"
                         rf"on|with) (?:which|what|whom|whose)|{_WH})\b)", re.I)

# Answer types, tried in order: the first pattern that matches the question decides.
_TYPE_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("duration", re.compile(r"\bhow long\b|\bwhat (?:jail |prison )?(?:sentence|term|ban)\b|"
                            r"\bhow many (?:years|months|weeks|days)\b", re.I)),
    ("age", re.compile(r"\bhow old\b", re.I)),
    ("amount", re.compile(r"\bhow (?:much|many)\b|\bwhat (?:fine|price|sum|amount|salary|"
                          r"fee|cost|value|stake|share)\b|\b(?:salary|price|cost)\b", re.I)),
    ("date", re.compile(r"\bwhen\b|\bwhat (?:date|day|year|month|time)\b|"
                        r"\bwhich (?:date|day|year|month)\b", re.I)),
    ("place", re.compile(r"\bwhere\b|\b(?:in|at|to|from) (?:which|what) (?:city|town|country|"
                         r"court|place|venue|state|region)\b|\bwhich (?:city|town|country|"
                         r"court|place|venue)\b", re.I)),
    ("person", re.compile(r"^\s*(?:and\s+)?(?:who|whom)\b|\bto whom\b|\bwhich (?:person|man|"
                          r"woman|player|lawyer|minister|chief|executive|official)\b", re.I)),
    ("name", re.compile(r"\bcalled\b|\bthe name of\b|\bwhat is the name\b", re.I)),
)
# Words that name the answer type rather than the detail ("city" in "in which city").
_TYPE_WORDS = frozenset(stem(w) for w in """city town country court place venue state region
name called date day year month time person man woman much many long old amount sum value
happen happened respond bigger larger higher greater smaller lower more less fewer longer
shorter earlier later""".split())
# Verbs any figure or name goes with ("how much did X pay"): they count when a sentence shares
# them, but a question whose only focus words they are asks for no particular detail.
GENERIC_VERBS = frozenset(stem(w) for w in """pay paid cost get got make made take took give gave
receive received spend spent offer offered bid""".split())

_NUMBER_WORD = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                r"fifteen|twenty|thirty|forty|fifty|hundred|a|an)")
_DETAIL_PATTERNS = {
    "duration": re.compile(rf"\b(?:\d+(?:\.\d+)?|{_NUMBER_WORD})[- ](?:years?|months?|weeks?|"
                           r"days?|hours?)\b|\blife ban\b", re.I),
    "age": re.compile(r",\s*\d{2}\s*,|\b\d{2}-year-old\b|\baged \d{2}\b|\b\d{2}\b"),
    "amount": re.compile(r"[$£€¥]\s?\d|\b\d[\d,.]*\s?(?:%|bn|m\b|k\b|p\b|million|billion|"
                         r"trillion|euros?|roubles?|pence|cents?|dollars?|pounds?|yen|shares?|"
                         r"jobs|workers|people|per cent|percent)|\b\d{1,3}(?:,\d{3})+\b|"
                         rf"\b{_NUMBER_WORD} (?:million|billion|hundred|thousand)\b", re.I),
    "date": re.compile(r"\b(?:January|February|March|April|May|June|July|August|September|"
                       r"October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|"
                       r"Dec|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b|"
                       r"\b(?:19|20)\d\d\b|\b(?:yesterday|today|tomorrow|last week|next week)\b")}
_CAPITALISED = re.compile(r"\b[A-Z][a-zA-Z'’\-]+(?:\s+[A-Z][a-zA-Z'’\-]+)*")
_PLACE_LEAD = re.compile(r"\b(?:in|at|from|near|to)\s+(?:the\s+)?([A-Z][a-zA-Z\-]+)")

_COMPARE = re.compile(r"\b(bigger|larger|higher|greater|smaller|lower|more or less|longer|"
                      r"shorter|cheaper|dearer|more|less|fewer)\b", re.I)
_COMPARE_QUESTION = re.compile(r"^\s*(?:which|whose|who|what|did|does|do|is|was|are|were|has|"
                               r"have)\b.*\b(?:bigger|larger|higher|greater|smaller|lower|more "
                               r"or less|longer|shorter|cheaper|more|less)\b", re.I)
_SIDES_AFTER_COMMA = re.compile(r",\s*(?P<a>.+?)\s+or\s+(?P<b>.+?)[?.!]*$", re.I)
_SIDES_THAN = re.compile(r"^(?P<head>.*?)\b(?:bigger|larger|higher|greater|smaller|lower|"
                         r"more or less|more|less|longer|shorter)\b(?P<mid>.*?)\bthan\b"
                         r"(?P<b>.+?)[?.!]*$", re.I)
_LEADING_WH = re.compile(rf"^\s*(?:{_WH})\b\s*", re.I)

# A possibility, a threat or a condition: not something that happened.
_HEDGE = re.compile(r"\b(?:could|may|might|would|can)\s+(?:\w+\s+){0,2}?(?:face|be fined|be "
                    r"jailed|be stripped|be banned|lose|receive|get|be sentenced|pay)\b|"
                    r"\bfaces? (?:up to|a maximum|a possible|a substantial|lengthy)\b|"
                    r"\bif (?:convicted|found guilty|guilty)\b|\bmust go if\b", re.I)
# Questions that ask whether something happened (as opposed to what could happen).
_ASKS_FACT = re.compile(r"\b(?:did|was|were|has been|have been|had been)\b.*\b(?:receive|pay|"
                        r"paid|sentenced|fined|jailed|stripped|get|given|awarded|banned)\b|"
                        r"\bwhat (?:fine|sentence|prison term|jail term|penalty)\b.*\b(?:did|"
                        r"was|were)\b", re.I)


_STORY = re.compile(r"^\s*how (?:did|has|have) (?:the )?(?P<topic>.+?)"
                    r"(?: (?:story|saga|case|affair|row|battle|trial|dispute))? "
                    r"(?:develop|unfold|evolve|progress)(?:ed)?\b", re.I)


@dataclass(frozen=True)
class Comparison:
    """The two sides of "Which was bigger, A or B?" and the words both share (the context)."""
    sides: tuple[str, str]
    context: str


def question_parts(question: str) -> list[str]:
    """The parts of a multi-part question, each a question of its own; one part when it is not.

    A comparison ("Which was bigger, A or B?") is one question, however its sides read."""
    if comparison_of(question) is not None:
        return [question]
    pieces = [p.strip(" ,;") for p in _PART_SPLIT.split(question) if p and p.strip(" ,;")]
    parts = []
    for piece in pieces:
        piece = piece.rstrip("?.! ")
        if len(content_terms(piece)) < 1:
            continue
        parts.append(piece[0].upper() + piece[1:] + "?")
    return parts if len(parts) > 1 else [question]


def retrieval_query(part: str, parts: list[str]) -> str:
    """The part plus the first part's subject words it lacks ("it", "the board" need them); a
    part naming its own subject ("how much did Verizon pay for MCI") is retrieved as it is."""
    if not parts or part == parts[0] or question_names(part):
        return part
    own = {w.lower() for w in WORD.findall(part)}
    borrowed = [w for w in WORD.findall(parts[0]) if w.lower() not in STOPWORDS
                and w.lower() not in own and len(w) > 1]
    return f"{part.rstrip('?')} ({' '.join(borrowed)})?" if borrowed else part


def answer_type(question: str) -> str | None:
    """'duration' | 'age' | 'amount' | 'date' | 'place' | 'person' | 'name' | None."""
    for kind, pattern in _TYPE_RULES:
        if pattern.search(question):
            return kind
    return None


def question_names(question: str) -> set[str]:
    """Lower-cased capitalised words of the question after its first word (its subject names)."""
    words = WORD.findall(question)
    return {w.lower().rstrip("'’").removesuffix("'s").removesuffix("’s")
            for w in words[1:] if w[0].isupper()}


def focus_terms(question: str) -> set[str]:
    """Stemmed content words naming the asked-for detail: not names, not the answer type's word."""
    names = {stem(n) for n in question_names(question)}
    return {t for t in content_terms(question) if t not in names and t not in _TYPE_WORDS}


def holds_detail(text: str, kind: str | None, question: str) -> bool:
    """Does the sentence hold a detail of the asked-for type that the question does not already
    contain? (A person's name the question does not name, a place after "in"/"at", a figure.)"""
    if kind is None:
        return True
    pattern = _DETAIL_PATTERNS.get(kind)
    if pattern is not None:
        return bool(pattern.search(text))
    known = question_names(question) | {w.lower() for w in WORD.findall(question)}
    if kind == "place":
        return any(m.group(1).lower() not in known for m in _PLACE_LEAD.finditer(text))
    # person / name: a capitalised name the question does not name (a single capitalised word
    # opening the sentence is just its first word).
    for m in _CAPITALISED.finditer(text):
        words = [w.lower().rstrip("'’").removesuffix("'s") for w in m.group().split()]
        if m.start() == 0 and len(words) == 1:
            continue
        if any(w not in known and w not in STOPWORDS for w in words):
            return True
    return False


def comparison_of(question: str) -> Comparison | None:
    """The two sides of a comparison question, or None when it compares nothing."""
    if not _COMPARE_QUESTION.search(question):
        return None
    m = _SIDES_AFTER_COMMA.search(question)
    if m:
        context = question[:m.start()]
        sides = (m.group("a"), m.group("b"))
    else:
        m = _SIDES_THAN.search(question)
        if not m:
            return None
        context = ""
        sides = (_LEADING_WH.sub("", m.group("head")) + m.group("mid"), m.group("b"))
    sides = tuple(re.sub(r"^(?:the|that of|those of)\s+", "", s.strip(), flags=re.I)
                  for s in sides)
    if not all(content_terms(s) for s in sides):
        return None
    context = _COMPARE.sub(" ", _LEADING_WH.sub("", context)).strip()
    return Comparison((sides[0], sides[1]), context)


def is_hedged(text: str) -> bool:
    """Does the sentence state a possibility, threat or condition ("could face up to ...")?"""
    return bool(_HEDGE.search(text))


def asks_for_fact(question: str) -> bool:
    """Does the question ask what happened ("What fine did X pay?", "was X sentenced")?"""
    return bool(_ASKS_FACT.search(question))


def indirect(question: str) -> str:
    """"Who is X's wife?" -> "who is X's wife": a question as it reads inside a sentence."""
    text = question.strip().rstrip("?.! ")
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def story_topic(question: str) -> str | None:
    """"How did the Kenteris story develop?" -> "Kenteris"; None for other questions."""
    m = _STORY.search(question)
    return m.group("topic").strip() if m else None
