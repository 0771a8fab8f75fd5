"""Who is who inside one article: people, their aliases and roles, and what a subject phrase
("Mr Lavrov", "the foreign minister", "he", "a company spokeswoman", "TimeWarner") refers to.

Rules, no model. A run of capitalised words is a person when the article gives evidence: a
title ("Mr Howard"), a role word before it ("Tory leader Michael Howard"), a role after it
("Jane Smith, an analyst at ..."), or two or more words of which none is an organisation word.
A single capitalised word is a person only as a known person's surname (or given name); otherwise
it names an organisation. Pronouns go to the most recent person who spoke or was a sentence's
subject, whose gender does not clash. Role nouns ("the Tory leader") go to the one person seen
with that role in the article; several or none leave the speaker unnamed, kept as written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

TITLES = {"mr": "m", "mrs": "f", "ms": "f", "miss": "f", "dr": "", "sir": "m", "lord": "m",
          "lady": "f", "baroness": "f", "dame": "f", "prof": "", "professor": "", "rev": ""}
ROLE_WORDS = frozenset("""minister secretary leader president chairman chairwoman chair chief
executive spokesman spokeswoman spokesperson director analyst analysts economist economists
governor chancellor mp mep mps co-ordinator coordinator head boss founder manager official
officials commissioner ambassador deputy premier mayor candidate counterpart editor professor
lawyer adviser advisor strategist trader traders partner president-elect chairperson envoy
negotiator campaigner researcher expert experts general vice spokesmen representative
correspondent member peer whip inspector judge bishop archbishop cardinal
treasurer exchequer director-general secretary-general attorney-general boss bosses aide aides""".split())
ORG_WORDS = frozenset("""group bank plc inc ltd corp corporation co company airlines airways
motors council commission party office department ministry association union committee
institute board agency reserve fund organisation organization federation confederation
treasury government bbc court parliament commons lords house society trust service services
authority university college network news times post journal telegraph guardian independent
economist programme today cbi tuc nhs breweries brewery brewers holdings industries partners
capital securities insurance foods stores energy oil petroleum telecom systems technologies
electronics pharmaceuticals media entertainment studios records automotive steel mining railways
rail mail exchange investments motor un eu imf opec who fed lib dem dems labour tory tories
conservative conservatives liberal democrats snp ukip republic city street kingdom states
nations council""".split())
_ROLE_CONNECTORS = frozenset("""of foreign prime home chief general finance trade culture health
party election shadow deputy former opposition interior defence defense economic senior state
managing executive justice education environment transport treasury""".split())
FEMALE_NOUNS = re.compile(r"\b(spokeswoman|chairwoman|woman|she|her)\b", re.I)
_CAP = r"[A-Z][A-Za-z'’\-]*"
CAP_RUN = re.compile(rf"{_CAP}(?:\s+(?:{_CAP}|de|van|von|bin|al|da|di|du|le|la))*")
_TITLE_NAME = re.compile(r"\b(Mr|Mrs|Ms|Miss|Dr|Sir|Lord|Lady|Baroness|Dame|Prof|Professor|Rev)"
                         rf"\.?\s+({_CAP}(?:\s+{_CAP})?)")
_DETERMINER = re.compile(r"^(?:a|an|the|one|two|three|several|some|many|other|its|his|her|their)\b",
                         re.I)
PRONOUNS = {"he": "m", "she": "f"}
# Capitalised only because they open a sentence or a clause: never part of a name or a role.
_LEADING = frozenset("""but and or so yet also then now still earlier later meanwhile however
as on in at of for from after before during when while speaking asked writing yesterday today
tonight last this next monday tuesday wednesday thursday friday saturday sunday january february
march april june july august september october november december""".split())


def strip_leading(words: list[str]) -> list[str]:
    """"On Monday Tony Blair" -> ["Tony", "Blair"]; "Tanzania Mr Brown" -> ["Mr", "Brown"]:
    sentence openers go, and a title inside a phrase starts the name."""
    while words and words[0].lower().rstrip(",") in _LEADING:
        words = words[1:]
    for i, w in enumerate(words[1:], start=1):
        if w.rstrip(".").lower() in TITLES and i + 1 < len(words) and words[i + 1][:1].isupper():
            if not any(x.lower() in ROLE_WORDS for x in words[:i]):
                return words[i:]
    return words


@dataclass
class Person:
    name: str                              # the fullest form seen in the article
    gender: str = ""                       # "m", "f" or "" when the article does not say
    roles: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> list[str]:
        return self.name.split()


@dataclass(frozen=True)
class Speaker:
    """What a subject phrase refers to: a person (by the article's fullest name), or nobody
    nameable, kept as written ("a company spokeswoman", "analysts", "TimeWarner")."""
    person: str | None
    label: str
    role: str | None = None


def _org_like(words: list[str]) -> bool:
    return any(w.lower().removesuffix("'s").removesuffix("’s") in ORG_WORDS
               or w.isupper() and len(w) > 1 for w in words)


def split_role(words: list[str]) -> tuple[list[str], list[str]]:
    """"Chinese Foreign Minister Wang Yi" -> (["Chinese", "Foreign", "Minister"], ["Wang", "Yi"])."""
    cut = 0
    for i, w in enumerate(words):
        if w.lower() in ROLE_WORDS:
            cut = i + 1
    return words[:cut], words[cut:]


class ArticlePeople:
    """The people of one article, found in its narrative (quoted words masked out)."""

    def __init__(self, narrative: str):
        self.people: list[Person] = []
        titled: dict[str, str] = {}
        for m in _TITLE_NAME.finditer(narrative):
            titled[_until_possessive(m.group(2).split())[-1]] = TITLES[m.group(1).lower()]
        for m in CAP_RUN.finditer(narrative):
            words = strip_leading(_until_possessive(m.group().split()))
            role, name = split_role(words)
            name = [w.removesuffix("'s").removesuffix("’s") for w in name]
            title_gender = ""
            while len(name) > 1 and name[0].rstrip(".").lower() in TITLES:
                title_gender = title_gender or TITLES[name[0].rstrip(".").lower()]
                name = name[1:]
            if not name or name[0].lower() in TITLES or _org_like(name):
                continue
            prefix = role_before(narrative, m.start())
            after = narrative[m.end():m.end() + 80]
            appos = re.match(r",\s+((?:an?|the)?\s*[^,.;:]{3,60}?)(?:,|\.|\s+said|\s+told)", after)
            appos_role = appos.group(1).strip() if appos and any(
                w.lower() in ROLE_WORDS for w in appos.group(1).split()) else ""
            known_surname = name[-1] in titled or name[0] in titled
            if len(name) >= 2 and (role or prefix or appos_role or known_surname or title_gender):
                roles = [" ".join(([prefix] if prefix else []) + role).strip(), appos_role]
                gender = title_gender or titled.get(name[-1], titled.get(name[0], ""))
                self.add(" ".join(name[:3]), gender, [r for r in roles if r])
        for surname, gender in titled.items():
            if self.by_token(surname) is None and not _org_like([surname]):
                self.add(surname, gender, [])

    def add(self, name: str, gender: str, roles: list[str]) -> Person:
        for p in self.people:
            if p.name == name:
                p.gender = p.gender or gender
                p.roles += [r for r in roles if r not in p.roles]
                return p
        self.people.append(Person(name, gender, roles))
        return self.people[-1]

    def mentions(self, narrative: str) -> list[tuple[int, str]]:
        """(position, person) of each naming of a known person, possessives excluded."""
        forms: dict[str, str] = {}
        for p in self.people:
            forms[p.name] = p.name
            for t in ("Mr", "Mrs", "Ms", "Dr", "Sir"):
                forms.setdefault(f"{t} {p.tokens[-1]}", p.name)
        if not forms:
            return []
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(forms, key=len, reverse=True)))
                             + r")\b(?!['’]s)")
        return [(m.start(), forms[m.group(1)]) for m in pattern.finditer(narrative)]

    def by_token(self, token: str) -> Person | None:
        """The person a surname (or a Chinese family name, said first) refers to, when one."""
        token = token.removesuffix("'s").removesuffix("’s")
        last = [p for p in self.people if p.tokens[-1] == token]
        if len(last) == 1:
            return last[0]
        first = [p for p in self.people if len(p.tokens) > 1 and p.tokens[0] == token]
        if not last and len(first) == 1:
            return first[0]
        return None

    def by_name(self, words: list[str]) -> Person | None:
        name = " ".join(words)
        for p in self.people:
            if p.name == name:
                return p
        return self.by_token(words[-1]) if len(words) == 1 else None

    def by_role(self, phrase: str) -> Person | None:
        """"the foreign minister" -> the one person whose roles name a foreign minister."""
        words = [w.lower() for w in phrase.split()[1:]]
        if not words or words[-1] not in ROLE_WORDS:
            return None
        found = [p for p in self.people
                 if any(all(w in r.lower().split() for w in words) for r in p.roles)]
        return found[0] if len(found) == 1 else None

    def resolve(self, phrase: str, recent: list[Person]) -> Speaker:
        """The speaker a subject phrase names, given the people who spoke or acted last."""
        phrase = phrase.strip(" ,")
        low = phrase.lower()
        if low in PRONOUNS:
            for p in reversed(recent):
                if p.gender in ("", PRONOUNS[low]):
                    return Speaker(p.name, phrase, p.roles[0] if p.roles else None)
            return Speaker(None, phrase)
        if _DETERMINER.match(phrase):
            p = self.by_role(phrase)
            return Speaker(p.name, phrase, phrase) if p else Speaker(None, phrase, phrase)
        words = strip_leading(phrase.split())
        if not words:
            return Speaker(None, phrase)
        phrase = " ".join(words)
        if any(w.endswith(("'s", "’s")) for w in split_role(words)[1][:-1]):
            return Speaker(None, phrase)       # "Mr Brown's Budget": the possessor is not acting
        if words and words[0].rstrip(".").lower() in TITLES and len(words) > 1:
            p = self.by_name(words[1:]) or self.by_token(words[-1])
            return Speaker(p.name if p else words[-1], phrase, _first_role(p))
        role, name = split_role(words)
        name = _until_possessive(name)
        while len(name) > 1 and name[0].rstrip(".").lower() in TITLES:
            name = name[1:]
        if not name:
            p = self.by_role("the " + phrase)
            return Speaker(p.name if p else None, phrase, phrase)
        if _org_like(name) or not all(w[:1].isupper() for w in name):
            return Speaker(None, phrase)
        p = self.by_name(name)
        if p is not None:
            return Speaker(p.name, phrase, " ".join(role) or _first_role(p))
        if len(name) >= 2:
            return Speaker(" ".join(name), phrase, " ".join(role) or None)
        return Speaker(None, phrase)            # a lone unknown capitalised word: an organisation


def _until_possessive(words: list[str]) -> list[str]:
    """"Gordon Brown's Budget" names Gordon Brown: a run ends at its possessive."""
    for i, w in enumerate(words):
        if w.endswith(("'s", "’s")):
            return words[:i] + [w[:-2]]
    return words


def role_before(narrative: str, at: int) -> str:
    """The role phrase just before a name: "Lib Dem leader", "Chinese Foreign Minister"."""
    words = narrative[max(0, at - 80):at].split("\n")[-1].split()[-6:]
    run: list[str] = []
    for w in reversed(words):
        if w[-1:] in ",.;:" or not (w[:1].isupper() or w.lower() in ROLE_WORDS
                                     or w.lower() in _ROLE_CONNECTORS):
            break
        run.insert(0, w)
    run = strip_leading(run)
    return " ".join(run) if any(w.lower() in ROLE_WORDS for w in run) else ""


def _first_role(p: Person | None) -> str | None:
    return p.roles[0] if p and p.roles else None
