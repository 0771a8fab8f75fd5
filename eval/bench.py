"""`python -m rag bench`: throughput, latency, memory and start-up figures, measured in one run.

Data: real CNN/DM news articles (RAG_DATA/cnndm-test-see2017), their highlight sentences as
questions. Everything is built in a temporary folder; only the ONNX export cache of RAG_HOME is
reused. Steps:
1. encode the passages of the first MRR_ARTICLES articles with torch and onnx-int8, interleaved
   chunk by chunk (so that load from other processes hits both alike): throughput, speedup,
   cosine agreement and dense MRR@10 of each backend (highlight -> its article);
2. ingest the same articles end to end with the configured backend: ingest / raw encoding time;
3. encode real passages up to 10k with the configured backend (the vector table);
4. per store size, a child process ingests a corpus with the real tokenizer and chunker while
   its encoder serves the table's vectors (peak RSS of a streaming ingest); sizes above the
   real passages add copies of real articles whose vectors get a small seeded perturbation;
5. per store size, whole extractive answers (retrieval + selection, model warm): p50/p95 ms;
6. `python app.py` on the 1k store: seconds until the page is served.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.errors import InputError

from .bench_ingest import PERTURBATION, run_child, write_corpus
from .common import CNNDM_FILE, ROOT, cnndm_records, free_port, offline

MRR_ARTICLES = 300          # known-item benchmark size ("a few hundred articles")
ENCODE_CHUNK = 128          # passages per interleaved timing chunk
REAL_PASSAGES_MAX = 10_000  # beyond this, stores reuse real vectors (perturbed copies)
QUESTIONS = 60              # timed answers per store size (after WARM_QUESTIONS)
WARM_QUESTIONS = 5
COLD_START_TIMEOUT_S = 300
BACKENDS = ("torch", "onnx-int8")
TARGETS = {
    "ingest_overhead_ratio": "<= 1.15",
    "answer_ms.10k.p50": "<= 100", "answer_ms.10k.p95": "<= 300",
    "answer_ms.100k.p50": "<= 2 x answer_ms.10k.p50",
    "ingest_peak_rss_mb": "100k - 10k <= growth of the loaded store index (index_rss_mb) + 64 MB",
    "onnx_int8_speedup": ">= 1.4", "onnx_int8_min_cosine": ">= 0.985",
    "onnx_int8_mrr_delta": "within 1 point (MRR@10 x 100) of torch",
}
INT8_DEFAULT_SPEEDUP = 1.8  # onnx-int8 replaces torch as the default backend from this speed-up on


def int8_default_verdict(r: dict) -> str:
    """Whether this run supports making onnx-int8 the default backend: a speed-up of at least
    INT8_DEFAULT_SPEEDUP with the accuracy targets met (eval/reports/int8.md)."""
    accurate = r["onnx_int8_min_cosine"] >= 0.985 and abs(r["onnx_int8_mrr_delta"]) <= 1.0
    fast = r["onnx_int8_speedup"] >= INT8_DEFAULT_SPEEDUP
    verdict = "supports" if fast and accurate else "does not support"
    return (f"this run {verdict} onnx-int8 as the default backend (needs a speed-up >= "
            f"{INT8_DEFAULT_SPEEDUP} with the accuracy targets; has {r['onnx_int8_speedup']}, "
            f"min cosine {r['onnx_int8_min_cosine']}, MRR delta {r['onnx_int8_mrr_delta']})")


def label(size: int) -> str:
    return f"{size // 1000}k" if size >= 1000 and size % 1000 == 0 else str(size)


def percentile_ms(seconds: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(seconds) * 1000.0, q)), 1)


def mrr_at_10(scores: np.ndarray, passage_article: np.ndarray, targets: np.ndarray) -> float:
    """scores[q, p]: query x passage similarity; an article ranks by its best passage."""
    articles = np.unique(passage_article)
    column = {a: i for i, a in enumerate(articles)}
    best = np.full((scores.shape[0], len(articles)), -np.inf)
    cols = np.array([column[a] for a in passage_article])
    for i in range(len(articles)):
        best[:, i] = scores[:, cols == i].max(axis=1)
    total = 0.0
    for q, target in enumerate(targets):
        rank = int((best[q] > best[q, column[target]]).sum()) + 1
        total += 1.0 / rank if rank <= 10 else 0.0
    return total / len(targets)


# ---------------------------------------------------------------- data
def load_cnndm(settings: Settings):
    """(articles as the archive loads them, highlights per article id) of the CNN/DM test
    subset, in file order."""
    from rag.articles import load_file
    path = settings.data / CNNDM_FILE
    if not path.is_file():
        raise InputError(f"{path}: CNN/DM benchmark data not found (set RAG_DATA)")
    articles, _ = load_file(path)
    by_text = {" ".join(r["article"].split()): r["highlights"]
               for r in cnndm_records(settings.data)}
    highlights = {art.id: by_text[key] for art in articles
                  if (key := " ".join(art.text.split())) in by_text}
    return articles, highlights


def chunked(articles, embedder, settings: Settings):
    """[(article, passage, embedding text)] in article order."""
    from rag.chunking import chunk_article, embedding_text
    rows = []
    for art in articles:
        for p in chunk_article(art, embedder.count_tokens, embedder.token_offsets,
                               settings.chunk_tokens, settings.chunk_overlap):
            rows.append((art, p, embedding_text(art.title, p.text)))
    return rows


# ---------------------------------------------------------------- measurements
def interleaved_encode(embedders: dict, texts: list[str]) -> tuple[dict, dict]:
    """Vectors and seconds per backend; chunks alternate which backend goes first."""
    vectors = {name: [] for name in embedders}
    seconds = {name: 0.0 for name in embedders}
    names = list(embedders)
    for n, i in enumerate(range(0, len(texts), ENCODE_CHUNK)):
        part = texts[i:i + ENCODE_CHUNK]
        for name in (names if n % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            vectors[name].extend(embedders[name].embed_texts(part))
            seconds[name] += time.perf_counter() - t0
    return {k: np.asarray(v, dtype=np.float32) for k, v in vectors.items()}, seconds


def answer_latency(pipeline, questions: list[str], count: int = QUESTIONS) -> dict:
    """p50/p95 of whole answers; retrieval alone is timed too, to show where the time goes."""
    for q in questions[:WARM_QUESTIONS]:
        pipeline.ask(q)
    answer, retrieval = [], []
    for q in questions[WARM_QUESTIONS:WARM_QUESTIONS + count]:
        t0 = time.perf_counter()
        pipeline.ask(q)
        answer.append(time.perf_counter() - t0)
        t0 = time.perf_counter()   # the question's vector is cached now, as in the answer
        pipeline.retriever.search(q)
        retrieval.append(time.perf_counter() - t0)
    return {"p50": percentile_ms(answer, 50), "p95": percentile_ms(answer, 95),
            "retrieval_without_query_encoding_p50": percentile_ms(retrieval, 50),
            "questions": len(answer), "passages": pipeline.store.passage_count()}


def cold_start(home: Path, backend: str) -> float:
    """Seconds from starting `python app.py` until its page answers 200."""
    port = free_port()
    env = {**os.environ, "RAG_HOME": str(home), "RAG_PORT": str(port), "RAG_HOST": "127.0.0.1",
           "RAG_EMBED_BACKEND": backend}
    env.pop("RAG_AUTH", None)
    env.pop("RAG_CHROMA_URL", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while time.perf_counter() - t0 < COLD_START_TIMEOUT_S:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}: "
                                   f"{proc.stderr.read()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        return round(time.perf_counter() - t0, 1)
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"app.py did not serve its page within {COLD_START_TIMEOUT_S} s")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- the run
def run_bench(settings: Settings, report_dir: Path | None = None,
              sizes: list[int] = (1000, 10_000, 100_000), log=None,
              mrr_articles: int = MRR_ARTICLES, questions: int = QUESTIONS) -> dict:
    from rag.embedding import make_embedder
    from rag.pipeline import Pipeline

    log = log or (lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True))
    offline()
    configured = settings.embed_backend
    result: dict = {"machine": {"cpus": os.cpu_count(), "load_avg_start": os.getloadavg(),
                                "python": platform.python_version()},
                    "backend": configured, "notes": []}
    embedders = {b: make_embedder(settings.with_(embed_backend=b)).load() for b in BACKENDS}
    embedder = embedders[configured]
    articles, highlights = load_cnndm(settings)
    log(f"{len(articles)} CNN/DM articles; encoders loaded")

    # 1. both backends on the known-item set, interleaved
    known_items = articles[:mrr_articles]
    rows = chunked(known_items, embedder, settings)
    texts = [t for _, _, t in rows]
    interleaved_encode(embedders, texts[:64])   # warm-up: first calls allocate
    vectors, seconds = interleaved_encode(embedders, texts)
    rate = {b: len(texts) / seconds[b] for b in BACKENDS}
    cosines = np.sum(vectors["torch"] * vectors["onnx-int8"], axis=1)
    queries = [(h, a.id) for a in known_items for h in highlights.get(a.id, [])]
    passage_article = np.array([a.id for a, _, _ in rows])
    mrr = {}
    for b in BACKENDS:
        q_vectors = np.asarray(embedders[b].embed_texts([q for q, _ in queries]), dtype=np.float32)
        mrr[b] = mrr_at_10(q_vectors @ vectors[b].T, passage_article,
                           np.array([t for _, t in queries]))
    result.update(
        encoder_passages_per_s=round(rate[configured], 1),
        encoder_passages_per_s_by_backend={b: round(r, 1) for b, r in rate.items()},
        onnx_int8_speedup=round(rate["onnx-int8"] / rate["torch"], 2),
        onnx_int8_min_cosine=round(float(cosines.min()), 4),
        onnx_int8_mean_cosine=round(float(cosines.mean()), 4),
        onnx_int8_mrr_delta=round(100 * (mrr["onnx-int8"] - mrr["torch"]), 2),
        mrr_at_10={**{b: round(m, 4) for b, m in mrr.items()}, "articles": len(known_items),
                   "passages": len(texts), "queries": len(queries)})
    log(f"encoder: {result['encoder_passages_per_s_by_backend']} passages/s; MRR@10 {mrr}")

    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        work = Path(tmp)
        # 2. end-to-end ingest of the same articles vs their raw encoding time
        per_article = Counter(a.id for a, _, _ in rows)
        write_corpus(work / "corpus-mrr", known_items, per_article, len(texts))
        ingest_pipeline = Pipeline(settings.with_(home=work / "ingest"), embedder=embedder).open()
        t0 = time.perf_counter()
        report = ingest_pipeline.ingest([work / "corpus-mrr"])
        ingest_s = time.perf_counter() - t0
        if report.passages != len(texts):
            result["notes"].append(f"ingest stored {report.passages} passages, raw encoding "
                                   f"had {len(texts)}")
        result["ingest_overhead_ratio"] = round(ingest_s / seconds[configured], 3)
        result["ingest"] = {"passages": report.passages, "ingest_s": round(ingest_s, 1),
                            "raw_encode_s": round(seconds[configured], 1)}
        log(f"ingest: {result['ingest']}")

        # 3. the table of real vectors (configured backend)
        real_needed = min(max(sizes), REAL_PASSAGES_MAX)
        more, extra = [], []
        for art in articles[mrr_articles:]:
            if len(texts) + len(extra) >= real_needed:
                break
            more.append(art)
            extra += chunked([art], embedder, settings)
        log(f"encoding {len(extra)} more real passages for the stores")
        t0 = time.perf_counter()
        extra_vectors = np.asarray(embedder.embed_texts([t for _, _, t in extra]), np.float32)
        if extra:
            result["encoder_passages_per_s_table"] = round(len(extra) / (time.perf_counter() - t0), 1)
        all_rows = rows + extra
        table_vectors = np.concatenate([vectors[configured], extra_vectors])
        (work / "table.json").write_text(json.dumps([t for _, _, t in all_rows]), encoding="utf-8")
        np.save(work / "table.npy", table_vectors)
        per_article = Counter(a.id for a, _, _ in all_rows)
        store_articles = known_items + more

        # 4.-5. stores of each size: streaming ingest in a child, then answer latency here
        result["answer_ms"], result["ingest_rss"] = {}, {}
        for size in sizes:
            name = label(size)
            corpus = work / f"corpus-{name}"
            in_store = write_corpus(corpus, store_articles, per_article, size)
            asked = [highlights[a][0] for a in in_store if highlights.get(a)]
            home = work / f"store-{name}"
            child = run_child({"home": str(home), "corpus": str(corpus), "backend": configured,
                               "model_home": str(settings.home.resolve()),
                               "table_texts": str(work / "table.json"),
                               "table_vectors": str(work / "table.npy")})
            child["synthetic_passages"] = max(0, child["passages"] - len(all_rows))
            child.update(run_child({"measure": "index", "home": str(home), "backend": configured,
                                    "model_home": str(settings.home.resolve()),
                                    "dim": embedder.dim}))
            result["ingest_rss"][name] = child
            log(f"{name}: ingest child {child}")
            pipeline = Pipeline(settings.with_(home=home), embedder=embedder).open().warm_up()
            latency = answer_latency(pipeline, asked, questions)
            if child["synthetic_passages"]:
                latency["note"] = (f"{child['synthetic_passages']} passages are copies of real "
                                   "articles whose real vectors got a small perturbation "
                                   f"(cosine ~{1 / np.sqrt(1 + PERTURBATION ** 2):.3f})")
            result["answer_ms"][name] = latency
            log(f"{name}: answers {latency}")
            del pipeline
            if size == min(sizes):
                if (settings.home / "onnx").is_dir():   # the app reuses the export cache
                    (home / "onnx").symlink_to((settings.home / "onnx").resolve(), True)
                result["cold_start_s"] = cold_start(home, configured)
                log(f"cold start: {result['cold_start_s']} s")
        result["ingest_peak_rss_mb"] = {k: v["peak_rss_mb"] for k, v in result["ingest_rss"].items()}
    result["machine"]["load_avg_end"] = os.getloadavg()
    result["targets"] = judge(result)
    result["int8_default"] = int8_default_verdict(result)
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "bench.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


def judge(r: dict) -> dict:
    """{figure: {"value", "target", "met"}} for every figure with a target that was measured."""
    out = {}

    def add(key, value, met):
        out[key] = {"value": value, "target": TARGETS[key], "met": bool(met)}

    if "ingest_overhead_ratio" in r:
        add("ingest_overhead_ratio", r["ingest_overhead_ratio"], r["ingest_overhead_ratio"] <= 1.15)
    add("onnx_int8_speedup", r["onnx_int8_speedup"], r["onnx_int8_speedup"] >= 1.4)
    add("onnx_int8_min_cosine", r["onnx_int8_min_cosine"], r["onnx_int8_min_cosine"] >= 0.985)
    add("onnx_int8_mrr_delta", r["onnx_int8_mrr_delta"], abs(r["onnx_int8_mrr_delta"]) <= 1.0)
    answers = r.get("answer_ms", {})
    if "10k" in answers:
        add("answer_ms.10k.p50", answers["10k"]["p50"], answers["10k"]["p50"] <= 100)
        add("answer_ms.10k.p95", answers["10k"]["p95"], answers["10k"]["p95"] <= 300)
        if "100k" in answers:
            add("answer_ms.100k.p50", answers["100k"]["p50"],
                answers["100k"]["p50"] <= 2 * answers["10k"]["p50"])
    rss = r.get("ingest_rss", {})
    if "10k" in rss and "100k" in rss:
        # Ingest memory may grow with what the store's loaded index takes (measured in a fresh
        # process per size), plus a 64 MB margin; anything beyond is ingest holding on to data.
        growth = rss["100k"]["peak_rss_mb"] - rss["10k"]["peak_rss_mb"]
        index_growth = rss["100k"]["index_rss_mb"] - rss["10k"]["index_rss_mb"]
        add("ingest_peak_rss_mb", {"growth_mb": round(growth, 1),
                                   "index_growth_mb": round(index_growth, 1),
                                   "allowance_mb": round(index_growth + 64, 1)},
            growth <= index_growth + 64)
    return out


def human_summary(r: dict) -> str:
    lines = [f"backend {r['backend']}, {r['machine']['cpus']} CPUs, load average "
             f"{r['machine']['load_avg_start'][0]:.1f} -> {r['machine']['load_avg_end'][0]:.1f}"]
    for key in ("encoder_passages_per_s", "encoder_passages_per_s_by_backend",
                "ingest_overhead_ratio", "answer_ms", "ingest_peak_rss_mb", "onnx_int8_speedup",
                "onnx_int8_min_cosine", "onnx_int8_mrr_delta", "mrr_at_10", "cold_start_s"):
        if key in r:
            lines.append(f"{key}: {json.dumps(r[key])}")
    lines.append("targets:")
    lines += [f"  {'MET ' if t['met'] else 'MISS'} {k} = {json.dumps(t['value'])} "
              f"(target {t['target']})" for k, t in r["targets"].items()]
    lines.append(f"int8 default: {int8_default_verdict(r)}")
    if "quotes" in r:
        lines.append(f"quote index: {json.dumps(r['quotes'])}")
    lines += [f"note: {n}" for n in r["notes"]]
    return "\n".join(lines)
