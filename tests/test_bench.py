"""The helpers of `python -m rag bench` (the full run takes half an hour: `make bench`)."""
import json
import math

import numpy as np
import pytest

from fakes import FakeEmbedder
from eval import bench, bench_ingest
from rag.articles import Article, load_file
from rag.config import Settings


def test_labels_and_percentiles():
    assert [bench.label(n) for n in (1000, 10_000, 100_000, 150)] == ["1k", "10k", "100k", "150"]
    seconds = [i / 1000 for i in range(100, -1, -1)]     # 100..0 ms, in any order
    assert bench.percentile_ms(seconds, 50) == 50.0
    assert bench.percentile_ms(seconds, 95) == 95.0


def test_mrr_ranks_articles_by_their_best_passage():
    passage_article = np.array(["a", "a", "b", "c"])
    scores = np.array([[0.1, 0.9, 0.5, 0.2],     # target a: best passage 0.9 -> rank 1
                       [0.8, 0.1, 0.7, 0.3],     # target b: a (0.8) first -> rank 2
                       [0.8, 0.1, 0.7, 0.3]])    # target c: rank 3
    mrr = bench.mrr_at_10(scores, passage_article, np.array(["a", "b", "c"]))
    assert mrr == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    many = np.array([[1.0] * 11 + [0.0]])          # the target behind 11 articles: past 10
    assert bench.mrr_at_10(many, np.array([f"x{i}" for i in range(12)]), np.array(["x11"])) == 0


def test_perturbation_is_small_seeded_and_unit_length():
    v = np.zeros(384)
    v[0] = 1.0
    a, b = bench_ingest.perturbed(v, 1), bench_ingest.perturbed(v, 2)
    assert np.allclose(a, bench_ingest.perturbed(v, 1)) and not np.allclose(a, b)
    assert math.isclose(np.linalg.norm(a), 1.0, rel_tol=1e-9)
    assert float(a @ v) == pytest.approx(1 / math.sqrt(1 + bench_ingest.PERTURBATION ** 2), abs=1e-9)


def test_replay_serves_table_vectors_perturbs_repeats_and_encodes_the_rest():
    real = FakeEmbedder()
    real.settings = Settings()
    table = {"known": np.asarray(real.embed_texts(["something else"])[0])}
    replay = bench_ingest.ReplayEmbedder(real, table)
    calls = real.calls
    first, again = replay.embed_texts(["known", "known"])
    assert np.allclose(first, table["known"])                    # first occurrence: exact
    assert 0.98 < float(np.dot(first, again)) < 0.999            # a copy: near, not equal
    assert real.calls == calls and replay.misses == 0
    (fresh,) = replay.embed_texts(["never seen"])
    assert replay.misses == 1 and np.allclose(fresh, real.embed_texts(["never seen"])[0])
    assert replay.name == real.name and replay.backend == real.backend


def test_write_corpus_adds_distinct_copies_until_the_size(tmp_path):
    articles = [Article(id=f"art{i}", title=f"Title {i}", text=f"Body of article {i}.",
                        source="news") for i in range(3)]
    per_article = {"art0": 4, "art1": 3, "art2": 3}              # 10 passages in all
    real_ids = bench_ingest.write_corpus(tmp_path / "c", articles, per_article, 25)
    assert real_ids == ["art0", "art1", "art2"]
    loaded = [a for f in sorted((tmp_path / "c").glob("*.jsonl")) for a in load_file(f)[0]]
    assert len(loaded) == 8                                      # 10 + 10 + 4 + 3 >= 25
    assert len({a.id for a in loaded}) == len({a.content_hash for a in loaded}) == 8
    assert {a.text for a in loaded} == {a.text for a in articles}
    assert {a.title for a in loaded} == {a.title for a in articles}  # same text -> same vectors
    assert next(a for a in loaded if a.id == "art0").source == "news"
    assert bench_ingest.write_corpus(tmp_path / "d", articles, per_article, 5) == ["art0", "art1"]


def _result(**changes):
    r = {"backend": "torch", "machine": {"cpus": 2, "load_avg_start": (1, 1, 1),
                                         "load_avg_end": (1, 1, 1)}, "notes": [],
         "ingest_overhead_ratio": 1.1, "onnx_int8_speedup": 1.5, "onnx_int8_min_cosine": 0.99,
         "onnx_int8_mrr_delta": -0.4,
         "answer_ms": {"10k": {"p50": 90.0, "p95": 250.0}, "100k": {"p50": 170.0, "p95": 400.0}},
         "ingest_rss": {"10k": {"passages": 10_000, "peak_rss_mb": 800.0, "index_rss_mb": 60.0},
                        "100k": {"passages": 100_000, "peak_rss_mb": 1000.0,
                                 "index_rss_mb": 300.0}}}
    r.update(changes)
    return r


def test_judge_checks_every_target():
    met = bench.judge(_result())
    assert set(met) == {"ingest_overhead_ratio", "onnx_int8_speedup", "onnx_int8_min_cosine",
                        "onnx_int8_mrr_delta", "answer_ms.10k.p50", "answer_ms.10k.p95",
                        "answer_ms.100k.p50", "ingest_peak_rss_mb"}
    assert all(t["met"] for t in met.values()), met
    missed = bench.judge(_result(
        ingest_overhead_ratio=1.3, onnx_int8_speedup=1.2, onnx_int8_min_cosine=0.98,
        onnx_int8_mrr_delta=1.5,
        answer_ms={"10k": {"p50": 120.0, "p95": 350.0}, "100k": {"p50": 250.0, "p95": 900.0}},
        ingest_rss={"10k": {"passages": 10_000, "peak_rss_mb": 800.0, "index_rss_mb": 60.0},
                    "100k": {"passages": 100_000, "peak_rss_mb": 1105.0,
                             "index_rss_mb": 300.0}}))
    assert not any(t["met"] for t in missed.values()), missed
    # the loaded index grew by 240 MB; ingest may grow by that plus 64 MB, not 305 MB
    assert missed["ingest_peak_rss_mb"]["value"]["allowance_mb"] == pytest.approx(304.0)


def test_human_summary_lists_targets():
    r = _result(targets=bench.judge(_result(ingest_overhead_ratio=2.0)))
    text = bench.human_summary(r)
    assert "MISS ingest_overhead_ratio = 2.0" in text and "MET  onnx_int8_speedup" in text
    assert "int8 default: this run does not support" in text        # 1.5x


@pytest.mark.parametrize("speedup, cosine, mrr_delta, supports", [
    (1.85, 0.99, -0.4, True), (1.79, 0.99, -0.4, False), (2.0, 0.98, -0.4, False),
    (2.0, 0.99, -1.2, False)])
def test_int8_becomes_default_only_when_fast_and_accurate(speedup, cosine, mrr_delta, supports):
    verdict = bench.int8_default_verdict(_result(onnx_int8_speedup=speedup,
                                                 onnx_int8_min_cosine=cosine,
                                                 onnx_int8_mrr_delta=mrr_delta))
    assert verdict.startswith("this run supports" if supports else "this run does not support")


@pytest.mark.slow
def test_ingest_child_streams_a_corpus_with_replayed_vectors(tmp_path, real_embedder):
    from eval.bench import chunked, load_cnndm
    from conftest import DATA
    settings = Settings(data=DATA)
    articles, _ = load_cnndm(settings)
    rows = chunked(articles[:6], real_embedder, settings)
    (tmp_path / "table.json").write_text(json.dumps([t for _, _, t in rows]))
    np.save(tmp_path / "table.npy", np.asarray(real_embedder.embed_texts([t for _, _, t in rows])))
    per_article = {a.id: sum(1 for r in rows if r[0].id == a.id) for a in articles[:6]}
    bench_ingest.write_corpus(tmp_path / "corpus", articles[:6], per_article, 2 * len(rows))
    out = bench_ingest.run_child({   # a fresh process, as in the bench
        "home": str(tmp_path / "home"), "corpus": str(tmp_path / "corpus"), "backend": "torch",
        "model_home": str(tmp_path / "models"), "table_texts": str(tmp_path / "table.json"),
        "table_vectors": str(tmp_path / "table.npy")})
    assert out["passages"] == 2 * len(rows) and out["articles"] == 12 and out["failed"] == []
    assert out["encoded_for_real"] == 0                   # every passage came from the table
    assert 0 < out["baseline_rss_mb"] <= out["peak_rss_mb"] <= out["peak_with_bm25_rss_mb"]
    index = bench_ingest.run_child({"measure": "index", "home": str(tmp_path / "home"),
                                    "backend": "torch", "model_home": str(tmp_path / "models"),
                                    "dim": 384})
    assert index["passages"] == out["passages"] and index["index_rss_mb"] > 0
