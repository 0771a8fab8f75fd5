"""Known-item retrieval benchmark: BM25, dense, our hybrid and a llama-index quickstart, side by side.

Each reference summary sentence is a query and its own article is the target:
- CNN/DM (See et al. 2017 test set, every 5th example with its article): each highlight line;
- BBC News Summary: each sentence of the extractive summary (run together without spaces in the
  data, so `split_summary` cuts only where the article itself has a sentence end).

Scores are per article: a passage hit counts for its article and each ranking keeps an article's
first passage only. Articles with identical text (BBC has 100 such pairs, e.g. sport/012 =
sport/020 and tech/003 = tech/036) are stored once by the archive (the baseline indexes every
copy), and a hit on any twin counts as correct.
Near-duplicates (a follow-up story repeating sentences) stay distinct targets.

Our three systems query one store built by `Pipeline.ingest` from a temporary .jsonl (the real
loader, chunker and embedder) under a temporary RAG_HOME. The baseline is the llama-index
quickstart: `VectorStoreIndex.from_documents` (default SentenceSplitter, 1024-token chunks, of
which MiniLM reads only the first 256 word pieces), in-memory SimpleVectorStore, the same
embedding model passed explicitly, no LLM. All dense systems share the same query vectors.

    python -m eval.bench_retrieval [--data DIR] [--limit N] [--queries N] [--datasets cnndm,bbc]
                                       [--work DIR] [--weights W,...] [--sentence-weights S,...]
                                       [--tuning] [--no-baseline] [--json]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rag.config import Settings

from .common import BBC_FILE, article_ranking, bbc_records, cnndm_records, offline, required_text
SYSTEMS = ("bm25", "dense", "hybrid", "llamaindex_vector")
OUR_SYSTEMS = SYSTEMS[:3]   # --no-baseline: what one store answers, fast enough for all queries
# Ablations, not systems, from the same dense and BM25 lists: reciprocal-rank fusion (k=60),
# what HybridRetriever.search returned first; and relative-score fusion without the sentence
# check, what it returned before that check was added.
ABLATIONS = {"hybrid_rrf": "previous RRF fusion",
             "hybrid_fusion_only": "without the sentence check"}
CUTOFFS = (1, 5, 10)
PASSAGE_DEPTH = 50       # passages retrieved per query, enough to fill 10 distinct articles
QUERY_BATCH = 256
SAMPLE_SEED = 0
TUNING_SEED = 1

# Sentence terminators and the closing quotes/brackets that may follow them.
_TERMINATOR_RUN = re.compile(r"[.!?]+([\"'’”)\]]*)")


@dataclass(frozen=True)
class Query:
    text: str
    targets: frozenset[str]     # the article and its exact-text twins


@dataclass
class Corpus:
    name: str
    records: list[dict]         # {"id", "article", optional "title"/"category"}: written as .jsonl
    queries: list[Query]
    twin_groups: int            # groups of articles with identical text


# ---------------------------------------------------------------- metrics

def first_hit_rank(ranking: list[str], targets) -> int | None:
    """1-based rank of the first target in `ranking`, None when it is missing."""
    return next((i for i, aid in enumerate(ranking, start=1) if aid in targets), None)


def paired_comparison(ours: list[int | None], theirs: list[int | None]) -> dict:
    """Per-query comparison on reciprocal rank@10: mean difference, queries better and worse."""
    def rr(rank):
        return 1.0 / rank if rank is not None and rank <= 10 else 0.0
    diffs = [rr(a) - rr(b) for a, b in zip(ours, theirs, strict=True)]
    return {"mrr@10_delta": sum(diffs) / len(diffs),
            "queries_better": sum(d > 0 for d in diffs),
            "queries_worse": sum(d < 0 for d in diffs)}


def score_ranks(ranks: list[int | None]) -> dict[str, float]:
    """hit@1/5/10 and MRR@10 (reciprocal rank, 0 beyond rank 10) averaged over queries."""
    if not ranks:
        raise ValueError("score_ranks: no queries to score")
    n = len(ranks)
    scores = {f"hit@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in CUTOFFS}
    scores["mrr@10"] = sum(1.0 / r for r in ranks if r is not None and r <= 10) / n
    return scores


# ---------------------------------------------------------------- datasets

def split_summary(summary: str, article: str) -> list[str]:
    """Cut a run-together extractive summary ("profit.The firm") into its sentences.

    A candidate cut follows a terminator (and any closing quotes) with no space after it; it is
    taken only when the text since the previous cut also ends a sentence in the article, i.e. is
    followed there by whitespace or the end. So "U.S.Army"-like abbreviations and "$1.1bn" stay
    whole, and in `surprise.""The` the cut falls between the two quotes, as in the article.
    """
    flat_article = " ".join(article.split())
    sentences, start = [], 0
    for match in _TERMINATOR_RUN.finditer(summary):
        # Longest first: after all the closers, then after fewer of them.
        for end in range(match.end(), match.start(1) - 1, -1):
            if end >= len(summary) or summary[end].isspace():
                continue
            piece = " ".join(summary[start:end].split())
            if piece and _ends_sentence(piece, flat_article):
                sentences.append(piece)
                start = end
                break
    rest = " ".join(summary[start:].split())
    if rest:
        sentences.append(rest)
    return sentences


def _ends_sentence(piece: str, flat_article: str) -> bool:
    at = flat_article.find(piece)
    while at >= 0:
        after = at + len(piece)
        if after == len(flat_article) or flat_article[after] == " ":
            return True
        at = flat_article.find(piece, at + 1)
    return False


def _twins(records: list[dict]) -> tuple[dict[str, frozenset[str]], int]:
    """Article id -> ids of all articles with the same whitespace-normalised text."""
    groups: dict[str, list[str]] = {}
    for r in records:
        groups.setdefault(" ".join(r["article"].split()), []).append(r["id"])
    twins = {aid: frozenset(ids) for ids in groups.values() for aid in ids}
    return twins, sum(1 for ids in groups.values() if len(ids) > 1)


def load_cnndm(data: Path, limit: int | None = None) -> Corpus:
    rows = cnndm_records(data, limit)
    # The loader keys articles by `id`; without one it would hash the text into an id.
    records = [{"id": r["id"], "article": r["article"]} for r in rows]
    return _corpus("cnndm", records, {r["id"]: r["highlights"] for r in rows})


def load_bbc(data: Path, limit: int | None = None) -> Corpus:
    path = data / BBC_FILE
    records, queries_by_id = [], {}
    for number, raw in enumerate(bbc_records(data, limit), start=1):
        aid = raw["id"]
        article = required_text(raw, "article", path, number)
        records.append({"id": aid, "title": raw.get("title"), "category": raw.get("category"),
                        "article": article})
        queries_by_id[aid] = split_summary(required_text(raw, "summary", path, number), article)
    return _corpus("bbc", records, queries_by_id)


def _corpus(name: str, records: list[dict], queries_by_id: dict[str, list[str]]) -> Corpus:
    twins, twin_groups = _twins(records)
    queries = [Query(text, twins[aid]) for aid, texts in queries_by_id.items() for text in texts]
    return Corpus(name, records, queries, twin_groups)


def _benchmark_indices(count: int, query_limit: int | None) -> list[int]:
    """Indices of the benchmark sample: all, or `query_limit` drawn with SAMPLE_SEED, sorted."""
    if query_limit is None or query_limit >= count:
        return list(range(count))
    return sorted(random.Random(SAMPLE_SEED).sample(range(count), query_limit))


def sample_queries(queries: list[Query], query_limit: int | None,
                   tuning: bool = False) -> list[Query]:
    """All queries, or a seeded random sample kept in dataset order (the same on every run).

    With `tuning`, the sample is drawn from the queries the benchmark sample leaves out, so that
    a setting chosen on it is scored on queries it was not chosen on.
    """
    keep = _benchmark_indices(len(queries), query_limit)
    if tuning:
        if query_limit is None:
            raise ValueError("--tuning needs --queries N (the benchmark sample it must avoid)")
        held = set(keep)
        rest = [i for i in range(len(queries)) if i not in held]
        if not rest:
            raise ValueError(f"--tuning: the benchmark sample of {query_limit} takes every query")
        keep = sorted(random.Random(TUNING_SEED).sample(rest, min(query_limit, len(rest))))
    return [queries[i] for i in keep]


# ---------------------------------------------------------------- systems

def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ingest_progress(name: str):
    last = [0.0]

    def report(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 15 or done == total:
            last[0] = time.monotonic()
            _log(f"[{name}] embedded {done}/{total} passages")
    return report


def query_vectors(embedder, texts: list[str]) -> list[list[float]]:
    """Query embeddings in batches when that equals embed_query (MiniLM has no query prompt)."""
    if not texts:
        return []
    probe = texts[0]
    single, batched = embedder.embed_query(probe), embedder.embed_texts([probe])[0]
    if max(abs(a - b) for a, b in zip(single, batched)) > 1e-5:
        return [embedder.embed_query(t) for t in texts]
    vectors = []
    for i in range(0, len(texts), QUERY_BATCH):
        vectors.extend(embedder.embed_texts(texts[i:i + QUERY_BATCH]))
    return vectors


def build_vector_index(records: list[dict], embedder, persist_dir: Path | None = None):
    """The llama-index quickstart over the raw article texts, with our embedding model.

    With `persist_dir` the index is saved there and loaded back on the next run over the same
    records (its vectors are the expensive part); without it, it lives in memory only.
    """
    from llama_index.core import (Document, StorageContext, VectorStoreIndex,
                                  load_index_from_storage)

    if persist_dir is not None and (persist_dir / "docstore.json").is_file():
        storage = StorageContext.from_defaults(persist_dir=str(persist_dir))
        return load_index_from_storage(storage, embed_model=embedder.llama_model)
    documents = [Document(text=r["article"], id_=r["id"]) for r in records]
    index = VectorStoreIndex.from_documents(documents, embed_model=embedder.llama_model,
                                            show_progress=True)
    if persist_dir is not None:
        index.storage_context.persist(persist_dir=str(persist_dir))
    return index


def _records_key(records: list[dict]) -> str:
    digest = hashlib.sha256()
    for r in records:
        digest.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:16]


def rank_all(corpus: Corpus, pipeline, vector_index, vectors, weights: tuple[float, ...] = (),
             sentence_weights: tuple[float, ...] = ()) -> dict[str, list[int | None]]:
    """Rank of the target article per query and system. `weights` adds "hybrid w=W" rankings:
    the same dense and BM25 lists fused with dense weight W, then sentence-checked;
    `sentence_weights` adds "hybrid s=S": the configured fusion checked with sentence weight S.
    A sweep costs no extra search, only the sentence check's encoding."""
    from llama_index.core.schema import QueryBundle
    from rag.retrieve import Filters, reciprocal_rank_fusion

    retriever = pipeline.retriever
    li_retriever = (vector_index.as_retriever(similarity_top_k=PASSAGE_DEPTH)
                    if vector_index is not None else None)
    no_filter = Filters()
    sweeps = {**{sweep_name(w): (w, None) for w in weights},
              **{sweep_name(s, "s"): (None, s) for s in sentence_weights}}
    systems = SYSTEMS if li_retriever is not None else OUR_SYSTEMS
    ranks: dict[str, list[int | None]] = {s: [] for s in (*systems, *ABLATIONS, *sweeps)}
    started = time.monotonic()
    for i, (query, vector) in enumerate(zip(corpus.queries, vectors), start=1):
        passages = {
            "bm25": retriever.sparse(query.text, PASSAGE_DEPTH, no_filter),
            "dense": retriever.dense(query.text, PASSAGE_DEPTH, no_filter, query_vector=vector),
            "hybrid": retriever.search(query.text, PASSAGE_DEPTH, no_filter, query_vector=vector),
        }
        for system, hits in passages.items():
            ranking = article_ranking(h.passage.article_id for h in hits)
            ranks[system].append(first_hit_rank(ranking, query.targets))
        by_id = {h.passage.id: h for h in passages["bm25"] + passages["dense"]}

        def rank_of(fused: list[tuple[str, float]]) -> int | None:
            ranking = article_ranking(by_id[pid].passage.article_id for pid, _ in fused)
            return first_hit_rank(ranking, query.targets)

        dense, sparse = passages["dense"], passages["bm25"]
        ranks["hybrid_rrf"].append(rank_of(reciprocal_rank_fusion(
            [[h.passage.id for h in dense], [h.passage.id for h in sparse]], k=60)))
        ranks["hybrid_fusion_only"].append(rank_of(retriever.fuse(dense, sparse)))
        for name, (weight, sentence_weight) in sweeps.items():
            fused = retriever.fuse(dense, sparse, weight)
            ranks[name].append(rank_of(retriever.sentence_check(query.text, vector, fused, by_id,
                                                                sentence_weight)))
        if li_retriever is not None:
            nodes = li_retriever.retrieve(QueryBundle(query_str=query.text, embedding=vector))
            ranking = article_ranking(n.node.ref_doc_id for n in nodes)
            ranks["llamaindex_vector"].append(first_hit_rank(ranking, query.targets))
        if i % 1000 == 0 or i == len(corpus.queries):
            _log(f"[{corpus.name}] queried {i}/{len(corpus.queries)} "
                 f"({time.monotonic() - started:.0f} s)")
    return ranks


def sweep_name(weight: float, key: str = "w") -> str:
    """"hybrid w=0.2" (dense weight) or "hybrid s=0.5" (sentence weight)."""
    return f"hybrid {key}={weight:g}"


def bench_corpus(corpus: Corpus, settings: Settings, embedder, work: Path,
                 keep: bool = False, weights: tuple[float, ...] = (),
                 sentence_weights: tuple[float, ...] = (), baseline: bool = True) -> dict:
    """Ingest `corpus` under `work`, build the baseline (unless not `baseline`), run every query
    through all systems.

    With `keep`, the store and the baseline index stay in `work` and a later run reuses them:
    re-ingesting unchanged articles embeds nothing, and --prune drops articles no longer listed.
    """
    from rag.pipeline import Pipeline

    timings = {}
    folder = work / corpus.name
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "articles.jsonl"
    with open(source, "w", encoding="utf-8") as fh:
        for record in corpus.records:
            fh.write(json.dumps({k: v for k, v in record.items() if v is not None},
                                ensure_ascii=False) + "\n")
    home = work / f"home-{corpus.name}"
    pipeline = Pipeline(settings.with_(home=home), embedder=embedder).open()
    t = time.monotonic()
    report = pipeline.ingest([folder], prune=True, progress=_ingest_progress(corpus.name))
    timings["ingest_s"] = round(time.monotonic() - t, 1)
    # The archive stores an article whose text it already holds once (BBC's twins); a query
    # counts a hit on any twin, so only failures stop the run.
    if report.failed:
        raise RuntimeError(f"{source}: {len(report.failed)} articles failed to ingest: "
                           f"{report.failed[:3]}")

    vector_index = None
    if baseline:
        _log(f"[{corpus.name}] llama-index VectorStoreIndex over {len(corpus.records)} documents")
        t = time.monotonic()
        persist = (work / f"llamaindex-{corpus.name}-{_records_key(corpus.records)}"
                   if keep else None)
        vector_index = build_vector_index(corpus.records, embedder, persist)
        timings["vector_index_s"] = round(time.monotonic() - t, 1)

    t = time.monotonic()
    vectors = query_vectors(embedder, [q.text for q in corpus.queries])
    ranks = rank_all(corpus, pipeline, vector_index, vectors, weights, sentence_weights)
    timings["query_s"] = round(time.monotonic() - t, 1)
    systems = SYSTEMS if baseline else OUR_SYSTEMS
    return {
        "articles": report.articles, "passages": report.passages,
        "vector_index_chunks": len(vector_index.docstore.docs) if baseline else None,
        "queries": len(corpus.queries), "twin_groups": corpus.twin_groups,
        "systems": {s: score_ranks(ranks[s]) for s in systems},
        "ablation": {name: score_ranks(ranks[name]) for name in ABLATIONS},
        "weight_sweep": {name: score_ranks(ranks[name]) for name in ranks
                         if name.startswith("hybrid ")},
        "hybrid_vs": {s: paired_comparison(ranks["hybrid"], ranks[s])
                      for s in systems if s != "hybrid"},
        "seconds": timings,
    }


LOADERS = {"cnndm": load_cnndm, "bbc": load_bbc}


def run(settings: Settings, embedder, datasets=("cnndm", "bbc"), limit: int | None = None,
        query_limit: int | None = None, work: Path | None = None,
        weights: tuple[float, ...] = (), tuning: bool = False,
        sentence_weights: tuple[float, ...] = (), baseline: bool = True) -> dict:
    """Benchmark each dataset; returns {"config": ..., "datasets": {name: results}, "wall_s"}.

    Stores go to a temporary folder removed afterwards, or to `work`, kept for the next run.
    `weights` and `sentence_weights` add sweeps of the hybrid's two weights; `tuning` draws the
    query sample from the queries the benchmark sample leaves out (see `sample_queries`).
    Without `baseline` only our three systems run (the baseline takes most of the query time).
    """
    offline()
    unknown = [d for d in datasets if d not in LOADERS]
    if unknown:
        raise ValueError(f"datasets: unknown {unknown}; expected some of {sorted(LOADERS)}")
    started = time.monotonic()
    corpora = [LOADERS[name](Path(settings.data), limit) for name in datasets]  # bad data fails fast
    embedder.load()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        folder = Path(work) if work is not None else Path(tmp)
        for corpus in corpora:
            total_queries = len(corpus.queries)
            corpus.queries = sample_queries(corpus.queries, query_limit, tuning)
            _log(f"[{corpus.name}] {len(corpus.records)} articles, {len(corpus.queries)} of "
                 f"{total_queries} queries")
            results[corpus.name] = bench_corpus(corpus, settings, embedder, folder,
                                                keep=work is not None, weights=weights,
                                                sentence_weights=sentence_weights,
                                                baseline=baseline)
            results[corpus.name]["queries_available"] = total_queries
            _log(f"[{corpus.name}] result: {json.dumps(results[corpus.name])}")
    return {
        "config": {"embedder": embedder.name, "chunk_tokens": settings.chunk_tokens,
                   "chunk_overlap": settings.chunk_overlap, "candidate_k": settings.candidate_k,
                   "dense_weight": settings.dense_weight, "rerank_k": settings.rerank_k,
                   "sentence_weight": settings.sentence_weight, "passage_depth": PASSAGE_DEPTH,
                   "limit": limit, "query_limit": query_limit,
                   "sample_seed": TUNING_SEED if tuning else SAMPLE_SEED, "tuning": tuning},
        "datasets": results,
        "wall_s": round(time.monotonic() - started, 1),
    }


def markdown(result: dict) -> str:
    metrics = [f"hit@{k}" for k in CUTOFFS] + ["mrr@10"]
    lines = []
    for name, r in result["datasets"].items():
        chunks = (f"; {r['vector_index_chunks']} llama-index chunks"
                  if r["vector_index_chunks"] is not None else "; no baseline")
        lines.append(f"### {name}: {r['articles']} articles ({r['passages']} passages{chunks}), "
                     f"{r['queries']} of "
                     f"{r['queries_available']} queries, {r['twin_groups']} twin groups")
        lines.append("")
        lines.append("| system | " + " | ".join(metrics) + " |")
        lines.append("|---|" + "---:|" * len(metrics))
        rows = [*r["systems"].items(),
                *((f"*{name} (ablation: {ABLATIONS[name]})*", scores)
                  for name, scores in r["ablation"].items())]
        for system, scores in rows:
            lines.append(f"| {system} | " + " | ".join(f"{scores[m]:.3f}" for m in metrics) + " |")
        if r.get("weight_sweep"):
            lines.append("")
            sweep = ", ".join(f"{name.split(' ')[1]}: {scores['mrr@10']:.4f}"
                              for name, scores in r["weight_sweep"].items())
            lines.append(f"weight sweep (w: dense weight, s: sentence weight; the same dense "
                         f"and BM25 lists re-fused and re-checked), MRR@10: {sweep}")
        lines.append("")
        lines.append("hybrid vs " + "; ".join(
            f"{system}: MRR@10 {c['mrr@10_delta']:+.4f} ({c['queries_better']} queries better, "
            f"{c['queries_worse']} worse)" for system, c in r["hybrid_vs"].items()))
        s = r["seconds"]
        lines.append("")
        index = (f"llama-index index {s['vector_index_s']} s, " if "vector_index_s" in s else "")
        lines.append(f"ingest {s['ingest_s']} s, {index}queries {s['query_s']} s")
        lines.append("")
    lines.append(f"wall time {result['wall_s']} s")
    return "\n".join(lines)


def _weights(text: str) -> tuple[float, ...]:
    try:
        weights = tuple(float(w) for w in text.split(",") if w.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers like 0.1,0.2,0.3") from None
    if not weights or any(not 0.0 <= w <= 1.0 for w in weights):
        raise argparse.ArgumentTypeError(f"{text!r}: expected weights from 0 to 1")
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="datasets folder (default: RAG_DATA)")
    parser.add_argument("--limit", type=int, help="first N articles of each dataset")
    parser.add_argument("--queries", type=int, help="seeded sample of N queries per dataset")
    parser.add_argument("--datasets", default="cnndm,bbc", help="comma-separated: cnndm,bbc")
    parser.add_argument("--work", type=Path,
                        help="keep stores and the baseline index here and reuse them next run "
                             "(default: a temporary folder, removed)")
    parser.add_argument("--weights", type=_weights, default=(),
                        help="also score the hybrid at these dense weights, e.g. 0.1,0.2,0.3")
    parser.add_argument("--sentence-weights", type=_weights, default=(),
                        help="also score the hybrid at these sentence-check weights")
    parser.add_argument("--tuning", action="store_true",
                        help="sample --queries N from the queries the benchmark sample leaves out")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the llama-index baseline (BM25, dense and hybrid only)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args(argv)
    for flag in ("limit", "queries"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.error(f"--{flag}: expected a positive number")
    offline()
    from rag.embedding import TorchEmbedder

    settings = Settings.from_env(data=args.data)
    datasets = tuple(d.strip() for d in args.datasets.split(",") if d.strip())
    try:
        result = run(settings, TorchEmbedder(settings), datasets, args.limit, args.queries, args.work,
                     args.weights, args.tuning, args.sentence_weights, not args.no_baseline)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
