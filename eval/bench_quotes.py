"""Quote index benchmark: `python -m eval.bench_quotes [--articles N] [--json]`.

Figures, measured in one run on real BBC articles (RAG_DATA/bbc-news-summary), model warm:
1. extraction throughput (articles/s) and its cost as a ratio to embedding the same articles'
   passages (target <= 0.25); and, as the figure behind reading topic vectors from passages,
   what encoding each attributed quotation's sentence would add, as a ratio to the same
   passage encoding (the index does not do it);
2. answer latency of speaker questions ("What did X say about Y?") on a store of the whole BBC
   set (about 10k passages), beside ordinary questions on the same store: p50/p95 ms.
Everything is built in a temporary folder. `run_quote_bench` is what `rag bench` can call.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from rag.config import Settings

from .common import BBC_FILE, offline

EXTRACTION_TARGET = 0.25
SPEAKER_QUESTIONS = [
    "What did Michael Howard say about immigration?", "What did Tony Blair say about Iraq?",
    "What did Gordon Brown say about the economy?", "What did Charles Kennedy say about Iraq?",
    "What did Charles Clarke say about ID cards?", "What did Alan Greenspan say about the deficit?",
    "What did Peter Hain say about the anti-terror bill?", "What did Jack Straw say about Iran?",
    "What did Alan Milburn say about the election?", "What did David Blunkett say about ID cards?",
]
PLAIN_QUESTIONS = [
    "Why did Time Warner's profits rise?", "How did the dollar move against the euro?",
    "What happened to UK house prices?", "Why are Japanese brewers selling beer alternatives?",
    "What did the Reserve Bank of Australia do with interest rates?",
]


def _ms(seconds: list[float], q: float) -> float:
    import numpy as np
    return round(float(np.percentile(seconds, q)) * 1000, 1)


def run_quote_bench(settings: Settings, articles: int = 300, rounds: int = 3, log=None,
                    keep: Path | None = None) -> dict:
    """The figures above; `keep` names a folder for the BBC store, reused when it exists (the
    ingest share is measured again, the store's ingest time is then not)."""
    from rag.articles import load_file
    from rag.chunking import chunk_article, embedding_text
    from rag.embedding import make_embedder
    from rag.pipeline import Pipeline
    from rag.quotes import extract_quotes
    from rag.quotes.index import quote_rows

    log = log or (lambda msg: print(f"[bench-quotes] {msg}", file=sys.stderr, flush=True))
    offline()
    data = settings.data / BBC_FILE
    every = load_file(data)[0]
    sample = [a for a in every if a.category in ("business", "politics")][:articles]
    embedder = make_embedder(settings).load()
    extract_quotes(sample[0].text)                      # sentence model loaded before timing
    embedder.embed_texts(["warm up"])

    t0 = time.perf_counter()
    extracted = [(a, extract_quotes(a.text)) for a in sample]
    extraction_s = time.perf_counter() - t0
    passages = [embedding_text(a.title, p.text) for a in sample for p in chunk_article(
        a, embedder.count_tokens, embedder.token_offsets, settings.chunk_tokens,
        settings.chunk_overlap)]
    t0 = time.perf_counter()
    embedder.embed_texts(passages)
    embed_s = time.perf_counter() - t0
    rows = [r for a, qs in extracted for r in quote_rows(a, qs, [])]
    sentences = list(dict.fromkeys(r[2]["context"] for r in rows if r[2]["speaker"]))
    t0 = time.perf_counter()
    embedder.embed_texts(sentences)
    quote_embed_s = time.perf_counter() - t0
    result = {
        "articles": len(sample), "passages": len(passages), "quotations": len(rows),
        "attributed": sum(1 for r in rows if r[2]["speaker"]),
        "extraction_articles_per_s": round(len(sample) / extraction_s, 1),
        "extraction_s": round(extraction_s, 2), "passage_embedding_s": round(embed_s, 2),
        "extraction_to_embedding_ratio": round(extraction_s / embed_s, 3),
        "sentence_encoding_s_not_done": round(quote_embed_s, 2),
        "sentence_encoding_to_embedding_ratio_not_done": round(quote_embed_s / embed_s, 3),
        "target": f"extraction_to_embedding_ratio <= {EXTRACTION_TARGET}",
    }
    result["target_met"] = result["extraction_to_embedding_ratio"] <= EXTRACTION_TARGET
    log(f"ingest share: {result}")

    with tempfile.TemporaryDirectory(prefix="rag-bench-quotes-") as tmp:
        pipeline = Pipeline(settings.with_(home=keep or Path(tmp)), embedder=embedder).open()
        t0 = time.perf_counter()
        report = pipeline.ingest([data])
        ingest_s = time.perf_counter() - t0
        pipeline.warm_up()
        log(f"store: {report.articles} articles, {report.passages} passages in {ingest_s:.0f} s")
        timings: dict[str, list[float]] = {"speaker": [], "plain": []}
        from_index = 0
        for kind, questions in (("speaker", SPEAKER_QUESTIONS), ("plain", PLAIN_QUESTIONS)):
            pipeline.ask(questions[0])                                   # warm
            for _ in range(rounds):
                for q in questions:
                    t0 = time.perf_counter()
                    answer = pipeline.ask(q)
                    timings[kind].append(time.perf_counter() - t0)
                    if kind == "speaker" and answer.citations and not answer.citations[0].passage_id:
                        from_index += 1
        result["store"] = {"articles": report.articles, "passages": report.passages,
                           "quotations": pipeline.store.quotes.count(),
                           "ingest_s": round(ingest_s, 1)}
        result["answer_ms"] = {
            "speaker_question": {"p50": _ms(timings["speaker"], 50),
                                 "p95": _ms(timings["speaker"], 95),
                                 "asked": len(timings["speaker"]),
                                 "answered_from_quote_index": from_index},
            "plain_question": {"p50": _ms(timings["plain"], 50), "p95": _ms(timings["plain"], 95),
                               "asked": len(timings["plain"])}}
        log(f"answers: {result['answer_ms']}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep (or reuse) the BBC store in this folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run_quote_bench(Settings.from_env(), args.articles, args.rounds, keep=args.keep)
    print(json.dumps(result, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
