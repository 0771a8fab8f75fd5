"""Article text -> quotations with their speakers: the one entry point is `extract_quotes`.

Three kinds, each an exact span of the cleaned article text (`text[start:end] == quote`):
- direct: words inside quotation marks that make a statement of their own, attributed by the
  words after the closing mark (`..." said Sergey Lavrov`, `..." Wang said`), before the opening
  mark (`Lavrov said: "...`), or, standing alone, by news convention to the previous quotation's
  speaker (split quotes, "he added" continuations) or the previous sentence's subject;
- mixed: a quoted fragment inside a sentence of reported speech, attributed to that sentence's
  speaker, unless the fragment is someone else's words reported ("a claim by X that ...");
- reported: "X said (that) ...", "..., X said.", "according to X, ...", "X told BBC Radio 4 ...":
  the reported clause, with the cue.
Speakers are resolved inside the article (`names.ArticlePeople`); an organisation or an unnamed
speaker ("a company spokeswoman", "analysts") is kept as written with no person, and a quotation
whose speaker cannot be told is left unattributed rather than guessed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..sentences import sentence_spans
from .marks import QuotedSpan, masked, quoted_spans
from .cues import (CUE, CUE_THEN_REST, MIXED_CUE, SOMEONE_ELSES, TRAILING_AFTER_FRAGMENT,
                   Attribution, aux_only, inverted_subject, sentence_subject, words_before)
from .names import ArticlePeople, Person, Speaker
from .reported import reported_speech



@dataclass(frozen=True)
class Quote:
    start: int
    end: int
    text: str                  # == article text[start:end]
    kind: str                  # "direct" | "mixed" | "reported"
    cue: str | None            # the speech verb: said, told, added, warned, according to, ...
    speaker: str | None        # the person, by the fullest name the article gives; None if nobody
    speaker_label: str | None  # the speaker as written: "Mr Lavrov", "he", "a company spokeswoman"
    role: str | None           # a role seen next to the speaker's name, e.g. "Tory leader"
    context_start: int         # the sentence(s) the quotation stands in, for topic matching
    context_end: int


def extract_quotes(text: str) -> list[Quote]:
    """Every quotation of `text` in order, each an exact span with its resolved speaker."""
    spans = quoted_spans(text)
    narrative = masked(text, spans)
    people = ArticlePeople(narrative)
    sentences = sentence_spans(text) or [(0, len(text))]
    items: list[tuple[int, str, object]] = []
    for s_start, s_end in sentences:
        subject = sentence_subject(narrative, s_start, s_end)
        if subject:
            items.append((s_start, "subject", subject))
    reported = reported_speech(text, narrative, sentences, spans)
    covered = [(r[0], r[1]) for r in reported]
    for r in reported:
        items.append((r[2].at, "reported", r))
    for span in spans:
        if any(a <= span.start and span.end <= b for a, b in covered):
            continue
        attribution, kind = _attribute_quote(text, narrative, span, sentences)
        items.append(((attribution.at if attribution else span.start), kind, (span, attribution)))
    items.sort(key=lambda it: it[0])

    recent: list[tuple[int, Person]] = []
    mentions = people.mentions(narrative)

    def resolve(phrase: str, at: int) -> Speaker:
        return people.resolve(phrase, _unambiguous(narrative, recent, mentions, phrase, at))
    out: list[Quote] = []
    last_speaker: tuple[int, Speaker, str | None] | None = None   # (end, speaker, cue)
    for at, kind, payload in items:
        if kind == "subject":
            who = resolve(payload, at)
            _remember(people, who, recent, at)
            continue
        if kind == "reported":
            start, end, attribution = payload
            who = resolve(attribution.phrase, attribution.at)
            _remember(people, who, recent, attribution.at)
            ctx = _context(sentences, start, end)
            out.append(Quote(start, end, text[start:end], "reported", attribution.cue, who.person,
                             who.label, who.role, *ctx))
            last_speaker = (end, who, attribution.cue)
            continue
        span, attribution = payload
        if attribution is not None:
            who = resolve(attribution.phrase, attribution.at)
            cue = attribution.cue
        elif kind in ("direct", "standalone") and last_speaker and \
                _follows(text, last_speaker[0], span.open_at):
            who, cue = last_speaker[1], last_speaker[2]      # split quote or continued speaker
        else:
            who, cue = Speaker(None, None), None
        _remember(people, who, recent, at)
        ctx = _context(sentences, span.start, span.end)
        out.append(Quote(span.start, span.end, text[span.start:span.end],
                         "mixed" if kind == "mixed" else "direct", cue, who.person, who.label,
                         who.role, *ctx))
        if who.label is not None or who.person is not None:
            last_speaker = (span.close_at, who, cue)
    return sorted(out, key=lambda q: q.start)


def _remember(people: ArticlePeople, who: Speaker, recent: list, at: int) -> None:
    """Note who acted last (for he/she) and learn a speaker the first pass did not know."""
    if who.person:
        p = people.by_name(who.person.split())
        if p is None:
            p = people.add(who.person, "", [who.role] if who.role else [])
        recent.append((at, p))


def _unambiguous(narrative: str, recent: list, mentions: list, phrase: str, at: int) -> list[Person]:
    """The people a pronoun at `at` may refer to, most recent last; none when another person
    was named in a later sentence than the last one who acted ("But that was not enough for
    Mr Sarkozy. ... he said" after Mr Snow spoke): then "he" is left unresolved."""
    before = [(pos, p) for pos, p in recent if pos < at]
    if not before or phrase.strip().lower() not in ("he", "she"):
        return [p for _, p in before]
    pos, last = before[-1]
    end = re.compile(r"[.!?](?=\s)").search(narrative, pos)
    sentence_end = end.start() if end else at
    others = {name for m_pos, name in mentions if sentence_end < m_pos < at and name != last.name}
    return [] if others else [p for _, p in before]


def _context(sentences, start: int, end: int) -> tuple[int, int]:
    inside = [s for s in sentences if s[0] < end and start < s[1]]
    return (min(s[0] for s in inside), max(s[1] for s in inside)) if inside else (start, end)


def _follows(text: str, previous_end: int, open_at: int) -> bool:
    """The quotation comes right after the previous speaker's: same or next paragraph, with at
    most one short narrative sentence ("he said.", "he added.") between."""
    gap = text[previous_end + 1:open_at]
    lines = gap.count("\n\n") + (gap.count("\n") if "\n\n" not in gap else 0)
    if lines > 1:
        return False
    # nothing but the previous quotation's own attribution ("he said.") may stand between
    return len(re.findall(r"[A-Za-z]+", gap)) <= 8 or (
        len(re.findall(r"[.!?]\s", gap + " ")) <= 1 and bool(CUE.search(gap)))


def _attribute_quote(text: str, narrative: str, span: QuotedSpan, sentences) -> tuple[Attribution | None, str]:
    """(attribution, kind) of a quotation outside any reported clause."""
    line_start = narrative.rfind("\n", 0, span.open_at) + 1
    sentence_start = max([s for s, e in sentences if s <= span.open_at] or [line_start])
    sentence_start = max(sentence_start, line_start)
    before = narrative[sentence_start:span.open_at]
    line_end = narrative.find("\n", span.close_at)
    line_end = len(narrative) if line_end < 0 else line_end
    tail_end = min([i for i in (narrative.find(".", span.close_at + 1, line_end),
                                narrative.find("?", span.close_at + 1, line_end)) if i >= 0]
                   + [line_end])
    tail = narrative[span.close_at + 1:tail_end]
    quoted_alone = not before.strip() or before.rstrip().endswith(":")
    next_char = narrative[span.close_at + 1:span.close_at + 40].strip()[:1]
    sentence_closed = text[span.start:span.close_at].rstrip()[-1:] in (".", "?", "!") \
        and next_char.isupper()
    ends_clause = narrative[span.close_at + 1:span.close_at + 3].lstrip()[:1] in (",", ".", "")\
        or text[span.end - 1:span.close_at].strip()[-1:] in (".", ",", "?", "!") \
        or tail.lstrip().startswith(",")
    # 1. after the quotation: `," said Sergey Lavrov` / `," Wang said` / `", he said in London.`
    if (ends_clause or quoted_alone) and not sentence_closed:
        t = tail.lstrip(" ,")
        offset = span.close_at + 1 + (len(tail) - len(tail.lstrip(" ,")))
        m = CUE_THEN_REST.match(t)
        if m and not m.group(2).lower().startswith(("that ", "by ")):
            phrase = inverted_subject(m.group(2))
            if phrase:
                return Attribution(phrase, offset + m.start(2), m.group(1)), "direct"
        m = CUE.search(t)
        if m and len(t[:m.start()].split()) <= 7:
            phrase = words_before(t, m.start(), 0)
            if phrase and " ".join(t[:m.start()].split()).endswith(
                    tuple(phrase.split()[-1:])) or (phrase and aux_only(t[:m.start()], phrase)):
                return Attribution(phrase, offset, m.group()), "direct"
    # 2. before it: `Lavrov said: "` / `He added, on Radio 4's Today programme: "` / `he said "`
    cues = list(CUE.finditer(before))
    if cues:
        m = cues[-1]
        rest = before[m.end():]
        if rest.rstrip().endswith((":", ",")) or not rest.strip() or quoted_alone:
            phrase = words_before(narrative, sentence_start + m.start(), sentence_start)
            if not phrase and rest.strip():      # `"...," said Joaquin Almunia, "but ...`
                phrase = inverted_subject(rest.strip())
            if phrase:
                return Attribution(phrase, sentence_start + m.start(), m.group()), "direct"
    # 3. a fragment inside a sentence: the speaker of that sentence's speech verb
    if not quoted_alone:
        mixed = list(MIXED_CUE.finditer(before))   # "..., branded Mr Howard "arrogant and wrong"
        if mixed:
            m = mixed[-1]
            between = before[m.end():]
            if not SOMEONE_ELSES.search(between):
                phrase = words_before(narrative, sentence_start + m.start(), sentence_start)
                if before[:m.start()].rstrip().endswith(",") and re.match(r"\s+[A-Z]", between):
                    phrase = inverted_subject(between.strip())   # "..., said Junya Tanase of X,"
                if phrase:
                    return Attribution(phrase, sentence_start + m.start(), m.group()), "mixed"
            return None, "mixed"
        s_end = min([e for s, e in sentences if s <= span.open_at < e] or [line_end])
        trailing = TRAILING_AFTER_FRAGMENT.search(narrative[span.close_at + 1:s_end])
        if trailing:
            verb = CUE.search(trailing.group(0))
            phrase = words_before(narrative, span.close_at + 1 + trailing.start() + verb.start(),
                                   span.close_at + 1 + trailing.start())
            if phrase:
                return Attribution(phrase, span.close_at + 1 + trailing.start(1), verb.group()), "mixed"
        return None, "mixed"
    return None, "standalone"


