"""Speech cues and the subject phrases they attach to: "said", "told", "according to", ...;
"Mr Howard said", "..., said Jane Smith, an analyst at ...", "he added", "a company spokeswoman
said". Everything here reads the narrative (quotations masked), never the quoted words."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .names import ROLE_WORDS, split_role

VERBS = (r"said|says|say|told|tells|tell|added|adds|add|warned|warns|warn|argued|argues|argue|"
         r"insisted|insists|explained|noted|stated|claimed|asked|replied|declared|"
         r"announced|wrote|writes|urged|admitted|admits|conceded|acknowledged|acknowledge|"
         r"suggested|suggests|predicted|stressed|commented|continued|concluded|revealed|"
         r"maintained|complained|believes|believed|telling|saying|adding|warning|arguing|"
         r"pointed out|went on|cautioned|agreed|predicts|estimated|reckoned|reckons")
CUE = re.compile(rf"\b(?:{VERBS})\b")
# Verbs that carry someone's words into a sentence as quoted fragments (mixed quotes).
MIXED_VERBS = (r"branded|dismissed|described|describing|called|calling|accused|rejected|denied|"
               r"attacked|pledged|promised|criticised|praised|blamed|welcomed|condemned|"
               r"defended|vowed|urging|hit back|labelled|dubbed|insisting|wants|hopes|"
               r"denies|rejects|accuses|calls")
MIXED_CUE = re.compile(rf"\b(?:{VERBS}|{MIXED_VERBS})\b")
AUX = {"has", "had", "have", "will", "would", "also", "then", "later", "again", "has also",
        "once", "previously", "had previously", "recently", "today", "yesterday", "himself",
        "herself", "has since", "may", "might", "could", "was", "is", "is to", "was to",
        "further", "simply", "only", "repeatedly", "publicly", "privately"}
LEAD_IN = re.compile(r"^(?:but|and|however|yet|so|meanwhile|instead|now|still)\b[,]?\s*", re.I)
SOMEONE_ELSES = re.compile(r"\bby\s+(?:Mr |Mrs |Ms |the\s|[A-Z])|\b(?:claims?|remarks?|words|"
                            r"comments?|jibes?|accusations?|allegations?|suggestions?)\s+(?:by|"
                            r"from|of|that)\b")
CUE_THEN_REST = re.compile(rf"({VERBS})\s+(.+)", re.S)
PRONOUN_SUBJECTS = {"he", "she", "they", "it", "we", "i"}
TRAILING_AFTER_FRAGMENT = re.compile(rf",\s*([^,.;]{{1,60}}?)\s+(?:{VERBS})\b[^,.;]*\.?\s*$")


@dataclass
class Attribution:
    phrase: str
    at: int                     # where the subject phrase is, for pronoun resolution
    cue: str | None


def words_before(narrative: str, cue_start: int, floor: int) -> str:
    """The subject phrase of the cue verb at `cue_start`, within its clause; a participle
    ("..., telling Radio 4 ...") takes the subject of its sentence."""
    if re.match(r"[a-z]+ing\b", narrative[cue_start:cue_start + 12]) and cue_start > floor:
        return sentence_subject(narrative, floor, cue_start) or ""
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
    while words and (" ".join(words[-2:]).lower() in AUX or words[-1].lower() in AUX):
        words = words[:-2] if " ".join(words[-2:]).lower() in AUX else words[:-1]
    if not words:
        return ""
    if words[-1].lower() in PRONOUN_SUBJECTS:
        return words[-1]
    text = " ".join(words)
    text = LEAD_IN.sub("", text)
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


_VERB_LIKE = re.compile(rf"\b(?:{VERBS}|{MIXED_VERBS}|is|was|are|were|has|have|had|will|would|"
                        r"can|could|may|might|must|should|[a-z]{3,}ed)\b")


def sentence_subject(narrative: str, start: int, end: int) -> str | None:
    """Who a sentence is about: the name or pronoun before its first verb ("Mr Howard said",
    "Formerly one of Mr Brown's aides, Ed Balls hinted", "BNP leader Nick Griffin told")."""
    verb = _VERB_LIKE.search(narrative, start, min(end, start + 200))
    if not verb:
        return None
    phrase = words_before(narrative, verb.start(), start)
    if not phrase or phrase.lower() not in PRONOUN_SUBJECTS and not phrase[:1].isupper():
        return None
    if phrase.endswith(("'s", "’s")):
        return None   # "Mr Howard's stance" is not Mr Howard acting
    return phrase


def aux_only(head: str, phrase: str) -> bool:
    rest = " ".join(head.split())
    return rest.startswith(phrase) and all(w.lower() in AUX for w in rest[len(phrase):].split())


INVERTED_SUBJECT_WORDS = 8


def inverted_subject(after: str) -> str | None:
    """"Sergey Lavrov, Russian Minister ..." -> "Sergey Lavrov"; "a company spokeswoman." ->
    "a company spokeswoman"; "Chinese Foreign Minister Wang Yi." -> the whole phrase."""
    head = re.split(r"[,.;:\n]|\s(?:in|on|at|during|after|before|when|while|who|as|yesterday|"
                    r"today|last|this|earlier|from|to|of)\s", after + " ", maxsplit=1)[0].strip()
    words = head.split()
    if not words or len(words) > INVERTED_SUBJECT_WORDS:   # a clause ("said the council
        return None                                         # approved ..."), not who spoke
    words = words[:7]
    if words[0].lower() in PRONOUN_SUBJECTS:
        return words[0]
    return " ".join(words)
