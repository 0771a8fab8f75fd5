"""BM25 under concurrent queries, and BM25 staleness across workers sharing one store.

The UI answers several questions at once from one retriever: a query's k and filter must not
leak into another's. Two workers on one Chroma each keep a BM25 index: a write by one must make
the other's stale, even when it leaves the passage count as it was.
"""
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag.chunking import Passage
from rag.retrieve import Bm25Index, Filters
from rag.store import PassageHit, date_key

SOURCES = ("alpha", "beta", "gamma", "delta")
WORDS = ("harbour crane minister budget vote storm flood court ruling strike rail tariff "
         "election council bridge vaccine").split()
THREADS = 8
QUERIES_PER_THREAD = 150


def _corpus(n: int = 240) -> tuple[list[PassageHit], list[int]]:
    rng = random.Random(7)
    hits = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(30))
        published = f"{2019 + i % 4}-0{1 + i % 9}-15"
        passage = Passage(id=f"a{i}::0", article_id=f"a{i}", index=0, start=0, end=len(text),
                          text=text)
        hits.append(PassageHit(passage, f"Story {i}", published, SOURCES[i % len(SOURCES)],
                               None, 0.0))
    return hits, [date_key(h.published) for h in hits]


FILTERS = [Filters(), Filters(source="beta"), Filters(since="2021-01-01"),
           Filters(article_ids=("a3", "a17", "a40")), Filters(source="alpha", until="2020-12-31"),
           Filters()]
QUESTIONS = ["harbour crane storm", "minister budget vote", "court ruling strike",
             "rail tariff election", "flood bridge council vaccine"]
KS = (2, 5, 30)


def _accepts(filters: Filters, hit: PassageHit) -> bool:
    return filters.accepts(hit.passage.article_id, hit.source, date_key(hit.published))


def test_concurrent_bm25_queries_keep_their_own_filter_and_k():
    hits, keys = _corpus()
    index = Bm25Index(hits, keys)
    cases = [(q, f, k) for q in QUESTIONS for f in FILTERS for k in KS]
    expected = {}
    for q, f, k in cases:                                   # one at a time: the reference
        found = [(h.passage.id, round(h.score, 6)) for h in index.search(q, k, f)]
        assert found and len(found) <= k
        assert all(_accepts(f, hits[int(pid[1:].split("::")[0])]) for pid, _ in found)
        expected[(q, f, k)] = found
    assert len(expected[(QUESTIONS[0], Filters(), 30)]) == 30   # unfiltered fills its k

    start = threading.Barrier(THREADS)

    def worker(seed: int) -> list[str]:
        rng = random.Random(seed)
        problems = []
        start.wait()
        for _ in range(QUERIES_PER_THREAD):
            q, f, k = rng.choice(cases)
            got = index.search(q, k, f)
            wrong = [h.passage.article_id for h in got if not _accepts(f, h)]
            if wrong:
                problems.append(f"{f} returned {wrong[:3]}")
            if [(h.passage.id, round(h.score, 6)) for h in got] != expected[(q, f, k)]:
                problems.append(f"{q!r} {f} k={k}: {len(got)} hits differ from the reference")
        return problems

    with ThreadPoolExecutor(THREADS) as pool:
        problems = [p for found in pool.map(worker, range(THREADS)) for p in found]
    assert problems == [], f"{len(problems)} of {THREADS * QUERIES_PER_THREAD}: {problems[:5]}"


def test_concurrent_hybrid_searches_respect_their_filters(fake_pipeline, tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    hits, _ = _corpus(40)
    for h in hits:
        (folder / f"{h.passage.article_id}.md").write_text(
            f"---\ntitle: {h.title}\ndate: {h.published}\nsource: {h.source}\n---\n"
            f"{h.passage.text}.\n", encoding="utf-8")
    assert fake_pipeline.ingest([folder]).added == 40
    retriever = fake_pipeline.retriever
    cases = [(q, f) for q in QUESTIONS[:3] for f in FILTERS]
    start = threading.Barrier(4)

    def worker(seed: int) -> list[str]:
        rng = random.Random(seed)
        start.wait()
        problems = []
        for _ in range(25):
            q, f = rng.choice(cases)
            got = retriever.search(q, 5, f)
            problems += [f"{f}: {h.passage.article_id}" for h in got if not _accepts(f, h)]
        return problems

    with ThreadPoolExecutor(4) as pool:
        assert [p for found in pool.map(worker, range(4)) for p in found] == []


def _write(folder, name: str, text: str) -> None:
    (folder / f"{name}.md").write_text(f"---\ntitle: {name}\ndate: 2020-01-01\n---\n{text}\n",
                                       encoding="utf-8")


def test_a_delete_and_an_add_by_another_worker_make_bm25_stale(settings, tmp_path):
    from fakes import FakeEmbedder
    from rag.pipeline import Pipeline
    folder = tmp_path / "c"
    folder.mkdir()
    _write(folder, "kept", "The harbour crane was repaired on Monday.")
    _write(folder, "gone", "The council approved the budget on Tuesday.")
    reader = Pipeline(settings, embedder=FakeEmbedder()).open()
    writer = Pipeline(settings, embedder=FakeEmbedder()).open()
    writer.ingest([folder])
    assert {h.passage.article_id for h in reader.retriever.sparse("budget", 5, Filters())} \
        == {"gone"}
    before = reader.store.passage_count()
    revision = reader.store.revision()

    assert writer.delete("gone")
    (folder / "gone.md").unlink()
    _write(folder, "new", "Flamingos nested beside the reservoir this spring.")
    writer.ingest([folder / "new.md"])
    assert reader.store.passage_count() == before          # the count alone cannot tell
    assert reader.store.revision() != revision
    found = {h.passage.article_id for h in reader.retriever.sparse("flamingos", 5, Filters())}
    assert found == {"new"}
    assert reader.retriever.sparse("budget", 5, Filters()) == []


def test_store_revision_changes_with_every_write_and_only_then(settings, tmp_path):
    from fakes import FakeEmbedder
    from rag import cli
    from rag.pipeline import Pipeline
    folder = tmp_path / "c"
    folder.mkdir()
    _write(folder, "one", "The harbour crane was repaired on Monday.")
    _write(folder, "two", "The council approved the budget on Tuesday.")
    pipeline = Pipeline(settings, embedder=FakeEmbedder()).open()
    seen = [pipeline.store.revision()]

    def changed() -> bool:
        seen.append(Pipeline(settings, embedder=FakeEmbedder()).open().store.revision())
        return seen[-1] != seen[-2]

    pipeline.ingest([folder])
    assert changed()
    pipeline.ingest([folder])                              # unchanged: nothing written
    assert not changed()
    pipeline.ask("What was repaired?")
    pipeline.articles()
    assert not changed()                                   # reads never bump it
    (folder / "two.md").unlink()
    pipeline.ingest([folder], prune=True)
    assert changed()
    assert cli.main(["reindex", "--json"], pipeline=Pipeline(settings, embedder=FakeEmbedder())) == 0
    assert changed()
    pipeline = Pipeline(settings, embedder=FakeEmbedder()).open()   # a reindex swaps collections
    assert pipeline.delete("one")
    assert changed()
    assert pipeline.store.revision() == seen[-1]        # the writer reads what others read


@pytest.mark.slow
def test_real_model_threads_with_filters(real_pipeline):
    from conftest import SEED
    real_pipeline.ingest([SEED])
    [seed_id] = [r.article.id for r in real_pipeline.articles()]
    retriever = real_pipeline.retriever
    filters = [Filters(), Filters(article_ids=(seed_id,)), Filters(article_ids=("none",)),
               Filters(source="nowhere")]

    def ask(i: int):
        f = filters[i % len(filters)]
        return f, retriever.search("What did Lavrov say about THAAD?", 3, f)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(ask, range(16)))
    for f, got in results:
        if f.article_ids == ("none",) or f.source == "nowhere":
            assert got == []
        else:
            assert got and all(h.passage.article_id == seed_id for h in got)
