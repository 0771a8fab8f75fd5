"""Answer feedback turned into eval cases (`python -m rag feedback export FILE.yaml`).

A thumbs-up answer becomes a regression case: the key facts of its cited sentences are the
facts a later answer must still contain, its cited articles the expected sources, and its first
quote the span some citation must still contain. A thumbs-down answer becomes a case marked
`review: true` carrying the user's note and the answer given: a person writes its expected facts
from the article text (the eval runner skips review cases until then), because what our own
system answered wrongly cannot say what the right answer is.

Key facts are what a paraphrase would keep, in this order of preference: quoted phrases, numbers
with their unit, names of several words, single names (a lone capitalised word opening the
sentence does not count); a sentence with none of them contributes its
longest content word.
"""
from __future__ import annotations

import re

import yaml

from .terms import STOPWORDS, WORD

FACTS_PER_QUOTE = 3
REGRESSION_THRESHOLDS = {"fact_recall": 1.0, "citation_validity": 1.0, "refusal_accuracy": 1.0}
CITE_CHARS = 80
_NUMBER = re.compile(r"\b\d[\d,.]*(?:\s+(?:per\s?cent|percent|million|billion|thousand|"
                     r"hundred|[a-z]+))?", re.I)
_NAME = re.compile(r"\b(?:[A-Z][a-z]+|[A-Z]{2,})(?:[\s-](?:[A-Z][a-z]+|[A-Z]{2,}))*\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?][\"”’')\]]*\s+)[\"“‘'(\[]*$")
_QUOTED = re.compile(r"[\"“]([^\"”]{4,60})[\"”]")


def key_facts(sentence: str) -> list[str]:
    """Up to FACTS_PER_QUOTE facts of one cited sentence, in the order they appear."""
    text = " ".join(sentence.split())
    found: list[tuple[int, int, str]] = []     # (priority, position, fact)
    for priority, pattern in enumerate((_QUOTED, _NUMBER, _NAME)):
        for match in pattern.finditer(text):
            value = (match.group(1) if pattern is _QUOTED else match.group(0)).strip(" ,.")
            rank = priority
            if pattern is _NAME:
                words = value.split()
                while words and words[0].lower() in STOPWORDS:     # "The Council" -> "Council"
                    words = words[1:]
                # one capitalised word opening a sentence is just a sentence's first word
                if not words or (len(words) == 1 and value == words[0]
                                 and _SENTENCE_START.search(text[:match.start()])):
                    continue
                value = " ".join(words)
                rank += len(words) == 1             # a lone name says less than a full one
            if value and not any(value in f or f in value for _, _, f in found):
                found.append((rank, match.start(), value))
    kept = sorted(found)[:FACTS_PER_QUOTE]
    facts = [f for _, _, f in sorted(kept, key=lambda x: x[1])]
    if not facts:
        words = [w for w in WORD.findall(text) if w.lower() not in STOPWORDS]
        facts = [max(words, key=len)] if words else []
    return facts


def _cite_text(quote: str) -> str:
    quote = " ".join(quote.split())
    return quote if len(quote) <= CITE_CHARS else quote[:CITE_CHARS].rsplit(" ", 1)[0]


def eval_case(row: dict, history: list[dict] = ()) -> dict:
    """One feedback row (Conversations.feedback) as an eval case for eval/cases-style YAML."""
    case: dict = {"id": f"feedback-{row['id']}", "type": "feedback", "question": row["question"]}
    if history:
        case["history"] = [{"question": h["question"]} for h in history]
    citations = row["citations"]
    origin = {"user": row["user"], "created": row["created"], "rating": row["rating"],
              "settings": row["settings"]}
    if row["rating"] > 0:
        facts: list[list[str]] = []
        for c in citations:
            for fact in key_facts(c["quote"]):
                if [fact] not in facts:
                    facts.append([fact])
        case["answerable"] = bool(citations)
        if citations:
            case["facts"] = facts
            case["articles"] = list(dict.fromkeys(c["article_id"] for c in citations))
            case["cite"] = _cite_text(citations[0]["quote"])
    else:
        case["review"] = True
        case["note"] = row["note"] or "(no note)"
        case["answer_given"] = row["answer"]
        case["articles_given"] = list(dict.fromkeys(c["article_id"] for c in citations))
    if row["note"] and row["rating"] > 0:
        case["note"] = row["note"]
    case["feedback"] = origin
    return case


def export_suite(rows: list[dict], histories: dict[int, list[dict]] | None = None) -> str:
    """The YAML of a suite made from feedback rows; it runs against the archive in RAG_HOME."""
    histories = histories or {}
    cases = [eval_case(r, histories.get(r["id"], [])) for r in rows]
    up = sum(1 for r in rows if r["rating"] > 0)
    header = (f"# Eval cases from answer feedback: {up} regression case(s) from thumbs-up "
              f"answers, {len(rows) - up} marked `review: true` from thumbs-down answers (write "
              "their facts from the article text, then drop `review`).\n"
              "# No corpus: `python -m rag eval --suite FILE.yaml` runs it against the archive "
              "in RAG_HOME.\n")
    suite: dict = {"suite": "feedback", "corpus": []}
    if up:   # every regression case must still hold: its facts found, its citations exact
        suite["thresholds"] = dict(REGRESSION_THRESHOLDS)
    suite["cases"] = cases
    body = yaml.safe_dump(suite, sort_keys=False, allow_unicode=True, width=100)
    return header + body


def describe(row: dict) -> str:
    thumb = "+1" if row["rating"] > 0 else "-1"
    note = f"  note: {row['note']}" if row["note"] else ""
    return (f"#{row['id']} {thumb} {row['created'][:16]} {row['user'] or '(local)'}: "
            f"{row['question']}{note}")
