"""Follow-up questions without an LLM: carry the previous turn's subject and filters forward.

"And what did Wang Yi say?" after "What did Lavrov say about THAAD?" becomes
"What did Wang Yi say about THAAD?": a new speaker keeps the old topic. A question that names
no subject of its own ("What about China?", "Why did he say that?") gets the previous
question's content words appended for retrieval. The user's wording is kept for display.
(With an LLM configured, `rag.generate` condenses the question instead.)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .speakers import SPEAKER_QUESTION, speaker_of
from .terms import STOPWORDS, WORD

_FOLLOW_UP_START = re.compile(r"^\s*(and|also|but|so|what about|how about|and what about|"
                              r"what else|anything else|why|how come)\b", re.I)
_PRONOUN = re.compile(r"\b(he|she|they|him|her|them|his|their|it|its|that|this|those|these)\b",
                      re.I)
_ABOUT = re.compile(r"\babout\s+(.+?)[?.!]*$", re.I)


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str = ""


def topic_of(question: str) -> str:
    """What a question is about: the words after "about", else its content words minus a speaker."""
    m = _ABOUT.search(question)
    if m:
        return m.group(1).strip()
    speaker = set(speaker_of(question))
    words = [w for w in WORD.findall(question)
             if w.lower() not in STOPWORDS and w.lower() not in speaker and len(w) > 1]
    return " ".join(words[1:] if words and words[0].lower() in ("and", "also") else words)


def _subject_words(question: str) -> list[str]:
    return [w for w in WORD.findall(question)
            if w.lower() not in STOPWORDS and w.lower() not in {"and", "also", "else", "anything"}]


def is_follow_up(question: str) -> bool:
    if speaker_of(question) and not _ABOUT.search(question):
        return True          # "What did Wang Yi say?" in a conversation: about what we discussed
    return bool(_FOLLOW_UP_START.search(question) or _PRONOUN.search(question)
                or len(_subject_words(question)) <= 1)


def standalone_question(question: str, history: list[Turn]) -> str:
    """The question to retrieve with, given earlier turns (most recent last)."""
    if not history or not is_follow_up(question):
        return question
    previous = standalone_question(history[-1].question, history[:-1])
    speaker = speaker_of(question)
    said_by = SPEAKER_QUESTION.search(question)
    if said_by and not speaker and _PRONOUN.fullmatch(said_by.group("name")):
        # "What did he say about X?": he/she is the previous question's speaker.
        previous_speaker = SPEAKER_QUESTION.search(previous)
        if previous_speaker:
            return (question[:said_by.start("name")] + previous_speaker.group("name")
                    + question[said_by.end("name"):])
    if speaker and not _ABOUT.search(question):
        topic = topic_of(previous)
        if topic:
            name = said_by.group("name") if said_by else " ".join(speaker)
            return f"What did {name} say about {topic}?"
        return question
    missing = [w for w in _subject_words(previous)
               if w.lower() not in {x.lower() for x in _subject_words(question)}]
    return f"{question.rstrip('?. ')} ({' '.join(missing)})?" if missing else question


def parse_history(raw) -> list[Turn]:
    """History as given by the CLI (--history FILE.json) or the UI: [{"question","answer"}]."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("history: expected a list of {\"question\", \"answer\"} objects")
    turns = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise ValueError(f"history[{i}]: expected an object with a \"question\" string")
        turns.append(Turn(item["question"], str(item.get("answer") or "")))
    return turns
