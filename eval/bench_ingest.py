"""The ingest-memory runs of `python -m rag bench`: store corpora and a streaming ingest per child.

A corpus of N passages holds real CNN/DM articles, then numbered copies of them. A child process
(`python -m eval.bench_ingest ARGS`) ingests it with the real tokenizer, chunker and store while
its encoder serves vectors the bench computed already (`ReplayEmbedder`), and reports its peak
resident memory: a fresh process, so the peak is this ingest's alone. Another child
(`"measure": "index"`) opens the finished store and reports what its loaded index takes.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from rag.config import Settings

from .common import ROOT, offline

PERTURBATION = 0.15         # noise norm relative to a unit vector: copies keep cosine ~0.989
CORPUS_FILE_RECORDS = 1000  # records per corpus .jsonl (the loader caps a file at 50 MB)


def perturbed(vector: np.ndarray, seed: int, scale: float = PERTURBATION) -> np.ndarray:
    """A unit vector at cosine exactly 1/sqrt(1 + scale^2) from the unit `vector`."""
    noise = np.random.default_rng(seed).standard_normal(vector.shape[0])
    noise -= (noise @ vector) * vector          # orthogonal to the vector
    v = vector + scale * noise / np.linalg.norm(noise)
    return v / np.linalg.norm(v)


class ReplayEmbedder:
    """The real embedder (tokenizer, queries, unknown texts) serving known texts from a table.

    The n-th repeat of a text (a copy of a real article in a large store) gets its real vector
    with a small perturbation seeded by (text, n), so copies are near but not identical.
    """

    def __init__(self, real, table: dict[str, np.ndarray]):
        self.real, self.table = real, table
        self.settings = real.settings
        self.repeats: Counter = Counter()
        self.misses = 0

    name = property(lambda self: self.real.name)
    backend = property(lambda self: self.real.backend)
    dim = property(lambda self: self.real.dim)

    def load(self):
        self.real.load()
        return self

    def count_tokens(self, texts):
        return self.real.count_tokens(texts)

    def token_offsets(self, text):
        return self.real.token_offsets(text)

    def embed_query(self, text):
        return self.real.embed_query(text)

    def embed_texts(self, texts):
        unknown = [t for t in dict.fromkeys(texts) if t not in self.table]
        if unknown:
            self.misses += len(unknown)
            self.table.update(zip(unknown, np.asarray(self.real.embed_texts(unknown))))
        out = []
        for t in texts:
            n = self.repeats[t]
            self.repeats[t] += 1
            v = self.table[t]
            out.append((v if n == 0 else perturbed(v, zlib.crc32(f"{n}:{t}".encode()))).tolist())
        return out


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("/proc/self/status has no VmHWM")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("/proc/self/status has no VmRSS")


def write_corpus(folder: Path, articles, passages_per_article: dict[str, int],
                 size: int) -> list[str]:
    """JSONL files holding about `size` passages: real articles, then numbered copies of them.

    Returns the ids of the real articles written."""
    folder.mkdir(parents=True, exist_ok=True)
    records, total, copy = [], 0, 0
    while total < size:
        for art in articles:
            n = passages_per_article.get(art.id, 0)
            if not n:
                continue
            # A copy differs in its source only: a new content hash (not a duplicate), the
            # same embedding text (title + passage), hence the same real vector.
            records.append({"id": art.id if copy == 0 else f"{art.id}~copy{copy}",
                            "title": art.title, "article": art.text,
                            "source": art.source if copy == 0 else f"{art.source} copy {copy}"})
            total += n
            if total >= size:
                break
        copy += 1
    for i in range(0, len(records), CORPUS_FILE_RECORDS):
        part = records[i:i + CORPUS_FILE_RECORDS]
        (folder / f"part-{i // CORPUS_FILE_RECORDS:04d}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8")
    return [r["id"] for r in records if "~copy" not in r["id"]]


def child_ingest(args: dict) -> dict:
    """In a fresh process: stream-ingest `corpus` and report peak memory (see main below)."""
    from rag.embedding import make_embedder
    from rag.ingest import sync
    from rag.pipeline import Pipeline
    table_texts = json.loads(Path(args["table_texts"]).read_text(encoding="utf-8"))
    table = dict(zip(table_texts, np.load(args["table_vectors"])))
    settings = Settings.from_env(home=Path(args["home"]), embed_backend=args["backend"])
    real = make_embedder(settings.with_(home=Path(args["model_home"]))).load()
    embedder = ReplayEmbedder(real, table)
    pipeline = Pipeline(settings, embedder=embedder).open()
    baseline = peak_rss_mb()
    t0 = time.perf_counter()
    report = sync([Path(args["corpus"])], pipeline.store, embedder, settings)
    ingest_s = time.perf_counter() - t0
    sync_peak = peak_rss_mb()
    pipeline.retriever.refresh()   # what Pipeline.ingest does next: rebuild BM25
    return {"passages": report.passages, "articles": report.articles, "failed": report.failed[:3],
            "ingest_s": round(ingest_s, 1), "baseline_rss_mb": baseline,
            "peak_rss_mb": sync_peak, "peak_with_bm25_rss_mb": peak_rss_mb(),
            "rss_after_mb": rss_mb(), "encoded_for_real": embedder.misses}


def child_index_rss(args: dict) -> dict:
    """In a fresh process: resident memory the opened store takes once a query loaded its index.

    This is "the index" that ingest memory may grow with: Chroma's vector index and its caches.
    """
    from rag.embedding import make_embedder
    from rag.store import Store
    settings = Settings.from_env(home=Path(args["home"]), embed_backend=args["backend"])
    embedder = make_embedder(settings.with_(home=Path(args["model_home"])))   # never loaded
    store = Store(settings, embedder.name, embedder.backend)
    before = rss_mb()
    store.open()
    query = np.random.default_rng(0).standard_normal(args["dim"])
    store.dense_search((query / np.linalg.norm(query)).tolist(), 10)
    return {"passages": store.passage_count(), "index_rss_mb": round(rss_mb() - before, 1)}


def run_child(args: dict) -> dict:
    done = subprocess.run([sys.executable, "-m", "eval.bench_ingest", json.dumps(args)],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"ingest child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":   # the child of run_child: one JSON line on stdout
    offline()
    child_args = json.loads(sys.argv[1])
    work = child_index_rss if child_args.get("measure") == "index" else child_ingest
    print(json.dumps(work(child_args)))
