"""Attribution eval for the quote extractor: `python -m eval.quotes_eval [--data DIR] [--json]`.

Reads eval/cases/quotes.yaml (cases written by reading the articles) and the articles it names
(the seed from corpus/, BBC articles from RAG_DATA), runs `rag.quotes.extract_quotes` on each
article's cleaned text and reports:
- quote recall: cases whose fragment is covered by an extracted quotation;
- attribution precision: of the recalled cases and the "not said" checks on which the extractor
  named a person, the share where that person is right (for a "not said" check: is not the
  person named; for an unnamed or organisation speaker: no person at all);
- attributed recall: cases recalled with the right speaker;
- span validity: extracted quotations with text[start:end] == quote, over every quotation of
  every article read.
A fragment is covered when one quotation overlaps at least 60% of one of its occurrences.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from rag.articles import load_file

from .common import CASES_DIR, ROOT

CASES = CASES_DIR / "quotes.yaml"
COVERED = 0.6


@dataclass
class Outcome:
    recall: float
    precision: float
    attributed_recall: float
    span_validity: float
    cases: int
    not_said: int
    quotes: int
    failures: list[str]

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("recall", "precision", "attributed_recall",
                                               "span_validity", "cases", "not_said", "quotes",
                                               "failures")}


def load_articles(spec: dict, data: Path) -> dict[str, str]:
    """article key ("seed" or a dataset id) -> cleaned text, for the articles the cases name."""
    wanted = {c["article"] for c in spec["said"] + spec["not_said"]}
    texts: dict[str, str] = {}
    if "seed" in wanted:
        texts["seed"] = load_file(ROOT / spec["seed"])[0][0].text
    dataset = data / spec["dataset"]
    if wanted - {"seed"}:
        if not dataset.is_file():
            raise FileNotFoundError(f"{dataset}: BBC dataset not found (set RAG_DATA)")
        for article in load_file(dataset)[0]:
            if article.id in wanted:
                texts[article.id] = article.text
    missing = wanted - set(texts)
    if missing:
        raise KeyError(f"{CASES}: articles not found: {sorted(missing)}")
    return texts


def _occurrences(text: str, fragment: str) -> list[tuple[int, int]]:
    found, i = [], text.find(fragment)
    while i >= 0:
        found.append((i, i + len(fragment)))
        i = text.find(fragment, i + 1)
    return found


def _covering(quotes, spans):
    for q in quotes:
        for a, b in spans:
            if min(q.end, b) - max(q.start, a) >= COVERED * (b - a):
                yield q


def same_person(found: str | None, expected: str) -> bool:
    """The full name, or the surname alone where the article gives no more."""
    if not found:
        return False
    return found == expected or (" " not in found and found in expected.split())


def run(data: Path, extract=None, subset: str | None = None) -> Outcome:
    """Score the extractor on every case, or on one `set` ("heldout": the cases written after
    the rules were settled; "tuning": the ones the rules were developed against)."""
    if extract is None:
        from rag.quotes import extract_quotes as extract
    spec = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    if subset:
        for key in ("said", "not_said"):
            spec[key] = [c for c in spec[key] if c.get("set", "tuning") == subset]
    texts = load_articles(spec, data)
    quotes = {key: extract(text) for key, text in texts.items()}
    n_quotes = sum(len(qs) for qs in quotes.values())
    valid = sum(texts[k][q.start:q.end] == q.text for k, qs in quotes.items() for q in qs)
    failures: list[str] = []
    recalled = right = judged = correct = 0
    for case in spec["said"]:
        text = texts[case["article"]]
        spans = _occurrences(text, case["quote"])
        if not spans:
            raise ValueError(f"{CASES}: {case['article']}: fragment not in the article: "
                             f"{case['quote']!r}")
        covering = list(_covering(quotes[case["article"]], spans))
        if not covering:
            failures.append(f"missed {case['article']} {case['quote']!r}")
            continue
        recalled += 1
        expected = case["speaker"]
        named = [q.speaker for q in covering if q.speaker]
        if expected is None:
            ok = not named
        else:
            ok = any(same_person(s, expected) for s in named)
        right += ok
        if named:
            judged += 1
            correct += ok
        if not ok:
            failures.append(f"speaker {case['article']} {case['quote']!r}: expected {expected}, "
                            f"got {named or 'unattributed'}")
    for check in spec["not_said"]:
        spans = _occurrences(texts[check["article"]], check["quote"])
        if not spans:
            raise ValueError(f"{CASES}: {check['article']}: fragment not in the article: "
                             f"{check['quote']!r}")
        named = [q.speaker for q in _covering(quotes[check["article"]], spans) if q.speaker]
        if named:
            judged += 1
            wrong = any(same_person(s, check["person"]) for s in named)
            correct += not wrong
            if wrong:
                failures.append(f"not said {check['article']} {check['quote']!r} credited to "
                                f"{check['person']}")
    cases = len(spec["said"])
    return Outcome(recall=recalled / cases, precision=correct / judged if judged else 1.0,
                   attributed_recall=right / cases, span_validity=valid / n_quotes if n_quotes else 1.0,
                   cases=cases, not_said=len(spec["not_said"]), quotes=n_quotes, failures=failures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("RAG_DATA", str(ROOT.parent / "shared" / "data")))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    outcomes = {name: run(Path(args.data), subset=subset)
                for name, subset in (("all", None), ("tuning", "tuning"), ("heldout", "heldout"))}
    if args.json:
        print(json.dumps({k: o.to_dict() for k, o in outcomes.items()}, ensure_ascii=False))
        return 0
    for name, outcome in outcomes.items():
        print(f"{name:8} quote recall {outcome.recall:.3f}  attribution precision {outcome.precision:.3f}  "
              f"attributed recall {outcome.attributed_recall:.3f}  span validity "
              f"{outcome.span_validity:.3f}  ({outcome.cases} cases, {outcome.not_said} not-said "
              f"checks, {outcome.quotes} quotations)")
    for f in outcomes["all"].failures:
        print("  " + f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
