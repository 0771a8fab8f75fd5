"""The answer policy in one place: the two scores and what each decides, how a refusal reads,
and how the notice reads when a language model could not be used.

Two scores, two decisions (both mix a dense cosine with a share of content words):
- `answer_support` = 0.6 x cosine(sentence, question) + 0.4 x share of the QUESTION's content
  words the sentence holds. It decides whether the archive answers a question at all (under
  Settings.refuse_below the answer is a refusal, in both modes) and ranks answer sentences.
- `grounding` = 0.4 x cosine(generated sentence, passage sentence) + 0.6 x share of the GENERATED
  sentence's content words the passage sentence holds. It decides whether a sentence a model
  wrote is supported by what it cites (at GROUNDED_AT or above). Word overlap weighs more here:
  a paraphrase close in meaning but adding words the passage lacks must not pass.
"""
from __future__ import annotations

ANSWER_SUPPORT_DENSE = 0.6
GROUNDING_DENSE = 0.4
GROUNDED_AT = 0.65

NOTHING_FOUND = "I found nothing in the archive about that."
REFUSAL_PREFIX = "I can't answer that from the archive"
HEDGE_PREFIX = "The archive only says what could happen:"
DERIVED_PREFIX = "Derived from the cited figures:"

# Why a question (or one part of it) is refused; `Answer.refusal_reason` holds one of these.
NOTHING_RETRIEVED = "nothing-retrieved"
MISSING_ENTITY = "missing-entity"
LOW_SUPPORT = "low-support"
DETAIL_ABSENT = "detail-absent"          # the subject is in the archive, the asked-for detail not
MODEL_FOUND_NONE = "model-found-none"    # generative: the model replied that it cannot answer


def answer_support(cosine: float, question_coverage: float) -> float:
    return ANSWER_SUPPORT_DENSE * cosine + (1 - ANSWER_SUPPORT_DENSE) * question_coverage


def grounding(cosine: float, sentence_coverage: float) -> float:
    return GROUNDING_DENSE * cosine + (1 - GROUNDING_DENSE) * sentence_coverage


def refusal_reason(absent: list[str], best_support: float, refuse_below: float) -> str | None:
    """The gate both modes pass before answering: a name the archive lacks, or too little
    support. (The answerer adds the detail test: rag.answer.gate.)"""
    if absent:
        return MISSING_ENTITY
    if best_support < refuse_below:
        return LOW_SUPPORT
    return None


def refusal_text(reason: str, *, absent: list[str] = (), asked: str = "") -> str:
    """How a refusal of a whole question reads. `asked` is the question in indirect form
    ("who is X's wife") for a missing detail."""
    if reason == NOTHING_RETRIEVED:
        return NOTHING_FOUND
    why = {MISSING_ENTITY: f"nothing mentions {', '.join(absent)}",
           LOW_SUPPORT: "no passage supports an answer closely enough",
           DETAIL_ABSENT: f"it does not say {asked}" if asked else "it lacks the asked-for detail",
           MODEL_FOUND_NONE: "the language model found no answer in the passages"}[reason]
    return f"{REFUSAL_PREFIX}: {why}."


def part_refusal_text(asked: str, reason: str, absent: list[str] = ()) -> str:
    """How the refusal of one part of a multi-part question reads."""
    extra = (f" (nothing mentions {', '.join(absent)})"
             if reason == MISSING_ENTITY and absent else "")
    return f"The archive does not say {asked}{extra}."


def fallback_notice(failure: Exception, *, unusable: bool, what: str = "answer") -> str:
    """The notice on an extractive answer or summary given because the model could not be used:
    `unusable` when it replied with nothing we could verify, else it was down or too slow."""
    if unusable:
        reply = "reply" if what == "answer" else what
        why = (f"The language model's {reply} could not be verified against the archive "
               f"({failure})")
    else:
        why = f"The language model is unavailable ({failure})"
    return f"{why}; this is an extractive {what} quoted from the archive."
