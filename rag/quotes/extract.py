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
from .names import ROLE_WORDS, ArticlePeople, Person, Speaker, split_role

_VERBS = (r"said|says|say|told|tells|tell|added|adds|add|warned|warns|warn|argued|argues|argue|"
          r"insisted|insists|explained|noted|stated|claimed|asked|replied|declared|"
          r"announced|wrote|writes|urged|admitted|admits|conceded|acknowledged|acknowledge|"
          r"suggested|suggests|predicted|stressed|commented|continued|concluded|revealed|"
          r"maintained|complained|believes|believed|telling|saying|adding|warning|arguing|"
          r"pointed out|went on|cautioned|agreed|predicts|estimated|reckoned|reckons")
CUE = re.compile(rf"\b(?:{_VERBS})\b")
# Verbs that carry someone's words into a sentence as quoted fragments (mixed quotes).
_MIXED_VERBS = (r"branded|dismissed|described|describing|called|calling|accused|rejected|denied|"
                r"attacked|pledged|promised|criticised|praised|blamed|welcomed|condemned|"
                r"defended|vowed|urging|hit back|labelled|dubbed|insisting|wants|hopes|"
                r"denies|rejects|accuses|calls")
MIXED_CUE = re.compile(rf"\b(?:{_VERBS}|{_MIXED_VERBS})\b")
_AUX = {"has", "had", "have", "will", "would", "also", "then", "later", "again", "has also",
        "once", "previously", "had previously", "recently", "today", "yesterday", "himself",
        "herself", "has since", "may", "might", "could", "was", "is", "is to", "was to",
        "further", "simply", "only", "repeatedly", "publicly", "privately"}
_LEAD_IN = re.compile(r"^(?:but|and|however|yet|so|meanwhile|instead|now|still)\b[,]?\s*", re.I)
_SOMEONE_ELSES = re.compile(r"\bby\s+(?:Mr |Mrs |Ms |the\s|[A-Z])|\b(?:claims?|remarks?|words|"
                            r"comments?|jibes?|accusations?|allegations?|suggestions?)\s+(?:by|"
                            r"from|of|that)\b")
_ACCORDING = re.compile(r"\baccording to\s+([^,.;]{2,80}?)(?=[,.;]|$)", re.I)
_TOLD_OBJECT = re.compile(r"^\s*(?:the\s+|a\s+|an\s+)?(?:(?:[A-Z][\w'’\-]*|of|the)\s+)*"
                          r"(?:[A-Z][\w'’\-]*)?(?:'s|’s)?\s*(?:\w+\s+)?(?:programme|newspaper|"
                          r"paper|magazine|station|show|reporters|journalists|MPs|delegates|"
                          r"conference|audience|party)?\s*")
_TRAILING = re.compile(rf",\s*([^,;]{{1,70}}?)\s+(?:(?:has|had|have|will|would)\s+)?({_VERBS})"
                       r"(?:\s+(?:in|on|at|during|after|to|the|a|BBC|yesterday|today|this|last)"
                       r"\b[^,;]*)?\.?\s*$")
_TRAILING_INVERTED = re.compile(r",\s*(said|says|added|adds|warned|argued|insisted|explained|"
                                r"noted|continued|concluded|stressed)\s+((?:[A-Z]|an?\s|the\s)"
                                r"(?:(?!\bthat\b)[^,;]){1,60})\.?\s*$")
_TRAILING_AFTER_FRAGMENT = re.compile(rf",\s*([^,.;]{{1,60}}?)\s+(?:{_VERBS})\b[^,.;]*\.?\s*$")
_CUE_GROUP = re.compile(rf"\b({_VERBS})\b")
_CUE_THEN_REST = re.compile(rf"({_VERBS})\s+(.+)", re.S)
PRONOUN_SUBJECTS = {"he", "she", "they", "it", "we", "i"}


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


@dataclass
class _Attribution:
    phrase: str
    at: int                     # where the subject phrase is, for pronoun resolution
    cue: str | None


def extract_quotes(text: str) -> list[Quote]:
    """Every quotation of `text` in order, each an exact span with its resolved speaker."""
    spans = quoted_spans(text)
    narrative = masked(text, spans)
    people = ArticlePeople(narrative)
    sentences = sentence_spans(text) or [(0, len(text))]
    items: list[tuple[int, str, object]] = []
    for s_start, s_end in sentences:
        subject = _sentence_subject(narrative, s_start, s_end)
        if subject:
            items.append((s_start, "subject", subject))
    reported = _reported(text, narrative, sentences, spans)
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
        elif kind in ("direct", "standalone") and last_speaker and _follows(text, last_speaker[0], span.open_at):
            who, cue = last_speaker[1], last_speaker[2]      # split quote or continued speaker
        else:
            who, cue = Speaker(None, None), None
        if kind == "standalone" and attribution is None and who.person is None and who.label is None:
            kind = "direct"
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


def _words_before(narrative: str, cue_start: int, floor: int) -> str:
    """The subject phrase of the cue verb at `cue_start`, within its clause; a participle
    ("..., telling Radio 4 ...") takes the subject of its sentence."""
    if re.match(r"[a-z]+ing\b", narrative[cue_start:cue_start + 12]) and cue_start > floor:
        return _sentence_subject(narrative, floor, cue_start) or ""
    clause = re.sub(r"\s[-–]\s[^-–\n]{1,80}?\s[-–](?=\s)", lambda m: " " * len(m.group()),
                    narrative[floor:cue_start])
    cut = max(clause.rfind(c) for c in ",;:.\n")
    chunk = clause[cut + 1:].strip()
    if not chunk and cut >= 0 and clause[cut] == ",":
        # "Mr Hain, Leader of the Commons, told ...": step over the appositive.
        head = clause[:cut]
        prev = max(head.rfind(c) for c in ",;:.\n")
        appositive = head[prev + 1:]
        if prev >= 0 and head[prev] == "," and (
                any(w.lower() in ROLE_WORDS for w in appositive.split())
                or re.match(r"\s*(?:an?|the)\s", appositive)):
            before = head[:prev]
            chunk = before[max(before.rfind(c) for c in ",;:.\n") + 1:].strip()
    words = chunk.split()
    while words and (" ".join(words[-2:]).lower() in _AUX or words[-1].lower() in _AUX):
        words = words[:-2] if " ".join(words[-2:]).lower() in _AUX else words[:-1]
    if not words:
        return ""
    if words[-1].lower() in PRONOUN_SUBJECTS:
        return words[-1]
    text = " ".join(words)
    text = _LEAD_IN.sub("", text)
    run = []
    for w in reversed(text.split()):
        if w[:1].isupper() or w.lower() in ROLE_WORDS:
            run.append(w)
        else:
            break
    phrase = " ".join(reversed(run))
    det = re.search(r"\b(?:a|an|the|one|several|some|many|other)\s+[^,]*$", text, re.I)
    if det and not re.search(r"\b(?:that|which|who|if|whether)\b", det.group()) and not (
            run and split_role(list(reversed(run)))[1]):
        return det.group().strip()
    head = text.split()[:len(text.split()) - len(run)]
    if run and len(head) >= 2 and head[-1] in ("of", "at", "from") and head[-2][:1].isupper():
        # "Nicolas Sarkozy of France", "Junya Tanase of JPMorgan": the person comes first
        person = []
        for w in reversed(head[:-1]):
            if not w[:1].isupper():
                break
            person.insert(0, w)
        phrase = " ".join(person)
    if not phrase and len(text.split()) <= 3:
        return text       # "analysts said", "officials said"
    return phrase


_VERB_LIKE = re.compile(rf"\b(?:{_VERBS}|{_MIXED_VERBS}|is|was|are|were|has|have|had|will|would|"
                        r"can|could|may|might|must|should|[a-z]{3,}ed)\b")


def _sentence_subject(narrative: str, start: int, end: int) -> str | None:
    """Who a sentence is about: the name or pronoun before its first verb ("Mr Howard said",
    "Formerly one of Mr Brown's aides, Ed Balls hinted", "BNP leader Nick Griffin told")."""
    verb = _VERB_LIKE.search(narrative, start, min(end, start + 200))
    if not verb:
        return None
    phrase = _words_before(narrative, verb.start(), start)
    if not phrase or phrase.lower() not in PRONOUN_SUBJECTS and not phrase[:1].isupper():
        return None
    if phrase.endswith(("'s", "’s")):
        return None   # "Mr Howard's stance" is not Mr Howard acting
    return phrase


def _attribute_quote(text: str, narrative: str, span: QuotedSpan, sentences) -> tuple[_Attribution | None, str]:
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
        m = _CUE_THEN_REST.match(t)
        if m and not m.group(2).lower().startswith(("that ", "by ")):
            phrase = _inverted_subject(m.group(2))
            if phrase:
                return _Attribution(phrase, offset + m.start(2), m.group(1)), "direct"
        m = CUE.search(t)
        if m and len(t[:m.start()].split()) <= 7:
            phrase = _words_before(t, m.start(), 0)
            if phrase and " ".join(t[:m.start()].split()).endswith(
                    tuple(phrase.split()[-1:])) or (phrase and _aux_only(t[:m.start()], phrase)):
                return _Attribution(phrase, offset, m.group()), "direct"
    # 2. before it: `Lavrov said: "` / `He added, on Radio 4's Today programme: "` / `he said "`
    cues = list(CUE.finditer(before))
    if cues:
        m = cues[-1]
        rest = before[m.end():]
        if rest.rstrip().endswith((":", ",")) or not rest.strip() or quoted_alone:
            phrase = _words_before(narrative, sentence_start + m.start(), sentence_start)
            if not phrase and rest.strip():      # `"...," said Joaquin Almunia, "but ...`
                phrase = _inverted_subject(rest.strip())
            if phrase:
                return _Attribution(phrase, sentence_start + m.start(), m.group()), \
                    "direct" if rest.rstrip().endswith(":") or len(span_words(narrative, span)) else "mixed"
    # 3. a fragment inside a sentence: the speaker of that sentence's speech verb
    if not quoted_alone:
        mixed = list(MIXED_CUE.finditer(before))
        if mixed:
            m = mixed[-1]
            between = before[m.end():]
            if not _SOMEONE_ELSES.search(between):
                phrase = _words_before(narrative, sentence_start + m.start(), sentence_start)
                if before[:m.start()].rstrip().endswith(",") and re.match(r"\s+[A-Z]", between):
                    phrase = _inverted_subject(between.strip())   # "..., said Junya Tanase of X,"
                if phrase:
                    return _Attribution(phrase, sentence_start + m.start(), m.group()), "mixed"
            return None, "mixed"
        s_end = min([e for s, e in sentences if s <= span.open_at < e] or [line_end])
        trailing = _TRAILING_AFTER_FRAGMENT.search(narrative[span.close_at + 1:s_end])
        if trailing:
            verb = CUE.search(trailing.group(0))
            phrase = _words_before(narrative, span.close_at + 1 + trailing.start() + verb.start(),
                                   span.close_at + 1 + trailing.start())
            if phrase:
                return _Attribution(phrase, span.close_at + 1 + trailing.start(1), verb.group()), "mixed"
        return None, "mixed"
    return None, "standalone"


def span_words(text: str, span: QuotedSpan) -> list[str]:
    return text[span.start:span.end].split()


def _aux_only(head: str, phrase: str) -> bool:
    rest = " ".join(head.split())
    return rest.startswith(phrase) and all(w.lower() in _AUX for w in rest[len(phrase):].split())


def _inverted_subject(after: str) -> str | None:
    """"Sergey Lavrov, Russian Minister ..." -> "Sergey Lavrov"; "a company spokeswoman." ->
    "a company spokeswoman"; "Chinese Foreign Minister Wang Yi." -> the whole phrase."""
    head = re.split(r"[,.;:\n]|\s(?:in|on|at|during|after|before|when|while|who|as|yesterday|"
                    r"today|last|this|earlier|from|to|of)\s", after + " ", maxsplit=1)[0].strip()
    words = head.split()[:7]
    if not words:
        return None
    if words[0].lower() in PRONOUN_SUBJECTS:
        return words[0]
    return " ".join(words)


def _reported(text: str, narrative: str, sentences, spans) -> list[tuple[int, int, _Attribution]]:
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
            found.append(_clause(text, c_start, c_end, _Attribution(m.group(1), s + m.start(1),
                                                                   "according to")))
            continue
        # "CLAUSE, X said." (the clause has no quotation of its own)
        m = _TRAILING.search(sent)
        if m and m.start() > 20 and not _has_quote(narrative, s, e, spans):
            phrase = _words_before(narrative, s + m.start(2), s + m.start() + 1)
            if phrase:
                found.append(_clause(text, s, s + m.start(),
                                     _Attribution(phrase, s + m.start(1), m.group(2))))
                continue
        m = _TRAILING_INVERTED.search(sent)
        if m and m.start() > 20 and not _has_quote(narrative, s, s + m.start(), spans):
            phrase = _inverted_subject(m.group(2))
            if phrase:
                found.append(_clause(text, s, s + m.start(),
                                     _Attribution(phrase, s + m.start(2), m.group(1))))
                continue
        # "X said (that) CLAUSE" / "X told BBC Radio 4 (that) CLAUSE"
        for m in _CUE_GROUP.finditer(sent):
            verb = m.group(1)
            if verb in ("asked",):
                continue
            phrase = _words_before(narrative, s + m.start(), s)
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
            if _has_quote(narrative, c_start, body_end, spans) and _SOMEONE_ELSES.search(
                    narrative[c_start:body_end]):
                break
            found.append(_clause(text, c_start, body_end, _Attribution(phrase, s + m.start(), verb)))
            break
    return [f for f in found if f[1] - f[0] > 10]


def _has_quote(narrative: str, start: int, end: int, spans) -> bool:
    return any(start <= sp.open_at < end for sp in spans)


def _clause(text: str, start: int, end: int, attribution: _Attribution):
    while start < end and text[start] in " ,":
        start += 1
    while end > start and text[end - 1] in " ,.":
        end -= 1
    # a clause that ends inside a quotation keeps the quotation whole
    if text[start:end].count('"') % 2 and text[end:end + 1] == '"':
        end += 1
    return (start, end, attribution)
