"""The one sentence splitter: paragraphs (lines) first, then nltk's Punkt within each.

Answers, retrieval's sentence check, chunking, summaries and the summary benchmarks all split
with `sentence_spans`; it handles cased news prose and lower-cased PTB-tokenised text alike.

Punkt's English model (shipped inside llama-index-core, so nothing is downloaded) misses
abbreviations common in news ("Apr. 29", "Gov."), so we add them. Spans are exact character
offsets: `text[start:end]` is the sentence, without surrounding whitespace.
"""
from __future__ import annotations

import re
from functools import lru_cache

# The one abbreviation list: words after which a full stop does not end a sentence.
ABBREVIATIONS = frozenset("""
    jan feb mar apr jun jul aug sep sept oct nov dec tue tues thu thur thurs
    mr mrs ms dr prof gen gov sen rep rev st lt col sgt capt cmdr adm maj hon pres supt det insp
    corp inc ltd co plc bros jr sr no nos vs v etc approx dept est fig mt ft univ ave blvd rd
    vol pp cf u.s u.k u.n e.g i.e a.m p.m""".split())
_PARAGRAPH = re.compile(r"[^\n]+")


@lru_cache(maxsize=1)
def _punkt():
    from pathlib import Path

    import llama_index.core
    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    cache = Path(llama_index.core.__file__).parent / "_static" / "nltk_cache"
    if str(cache) not in nltk.data.path:
        nltk.data.path.insert(0, str(cache))
    tokenizer = PunktTokenizer("english")
    tokenizer._params.abbrev_types.update(ABBREVIATIONS)
    return tokenizer


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each sentence of text[start:end], as offsets into `text`.

    Each line is at least its own sentence: news text puts headings, captions and paragraphs
    on lines of their own, and a sentence never runs across a line break in our cleaned text.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    tokenizer = _punkt()
    for line in _PARAGRAPH.finditer(text, start, end):
        base = line.start()
        for s, e in tokenizer.span_tokenize(line.group()):
            piece = line.group()[s:e]
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            if e - trail > s + lead:
                spans.append((base + s + lead, base + e - trail))
    return spans
