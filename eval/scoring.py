"""ROUGE as the summarization benchmarks and the eval suite compute it: the `rouge-score`
package, stemming on, F1 × 100, ROUGE-Lsum over newline-joined sentences."""
from __future__ import annotations

import re
from functools import lru_cache

_RUN_TOGETHER = re.compile(r"(?<=[.!?])([\"'\u201d\u2019]?)(?=[\"'\u201c\u2018]?[A-Z])")


@lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer
    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)


def rouge(references: list[list[str]], predictions: list[list[str]]) -> dict[str, float]:
    """Mean R1/R2/RLsum F1 × 100 over pairs; each item is a list of sentences."""
    if len(references) != len(predictions):
        raise ValueError("one prediction per reference expected")
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeLsum": 0.0}
    for ref, pred in zip(references, predictions):
        scores = _scorer().score("\n".join(ref), "\n".join(pred))
        for key in totals:
            totals[key] += scores[key].fmeasure
    n = max(len(references), 1)
    return {key: round(100 * value / n, 2) for key, value in totals.items()}


def split_run_together(summary: str, split_sentences) -> list[str]:
    """BBC reference summaries are article sentences glued without spaces ("profit.The firm")."""
    out: list[str] = []
    for line in _RUN_TOGETHER.sub(lambda m: m.group(1) + "\n", summary).split("\n"):
        out += [line[a:b] for a, b in split_sentences(line)]
    return out
