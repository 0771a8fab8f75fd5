"""The retrieval benchmark: its metrics and summary splitting (fast), and a small real run (slow)."""
import argparse

import pytest

from conftest import DATA
from eval import bench_retrieval as bench


def test_article_ranking_keeps_first_passage_of_each_article_up_to_depth():
    passages = ["a", "b", "a", "c", "b", "d", "e"]
    assert bench.article_ranking(passages, depth=3) == ["a", "b", "c"]
    assert bench.article_ranking(iter(passages)) == ["a", "b", "c", "d", "e"]


def test_first_hit_rank_counts_any_twin_and_misses_give_none():
    ranking = ["x", "y", "twin-2", "twin-1"]
    assert bench.first_hit_rank(ranking, {"twin-1", "twin-2"}) == 3
    assert bench.first_hit_rank(ranking, {"x"}) == 1
    assert bench.first_hit_rank(ranking, {"absent"}) is None


def test_scores_on_hand_made_ranks():
    # Five queries: target at rank 1, 2, 6, 11 (beyond the cut-off) and not retrieved.
    scores = bench.score_ranks([1, 2, 6, 11, None])
    assert scores["hit@1"] == pytest.approx(1 / 5)
    assert scores["hit@5"] == pytest.approx(2 / 5)
    assert scores["hit@10"] == pytest.approx(3 / 5)
    assert scores["mrr@10"] == pytest.approx((1 + 1 / 2 + 1 / 6) / 5)
    with pytest.raises(ValueError):
        bench.score_ranks([])


def test_paired_comparison_counts_queries_each_way():
    result = bench.paired_comparison([1, 2, None, 3], [2, 2, 1, 11])
    assert result["queries_better"] == 2 and result["queries_worse"] == 1
    assert result["mrr@10_delta"] == pytest.approx(((1 - 1 / 2) + 0 + (0 - 1) + 1 / 3) / 4)


def test_metrics_from_passage_lists_end_to_end():
    # Passages of article "t" appear at article ranks 2 and (after dedupe) nowhere else.
    ranking = bench.article_ranking(["p", "t", "p", "t", "q"])
    assert ranking == ["p", "t", "q"]
    assert bench.score_ranks([bench.first_hit_rank(ranking, {"t"})])["mrr@10"] == 0.5


def test_split_summary_cuts_only_where_the_article_ends_a_sentence():
    article = ('Profit rose 2% to $1.1bn. The firm said "it was a surprise." "The end," he '
               'said.\n\nU.S. troops left.')
    summary = 'The firm said "it was a surprise.""The end," he said.Profit rose 2% to $1.1bn.U.S. troops left.'
    assert bench.split_summary(summary, article) == [
        'The firm said "it was a surprise."', '"The end," he said.', "Profit rose 2% to $1.1bn.",
        "U.S. troops left."]


def test_split_summary_keeps_text_it_cannot_place_in_one_piece():
    assert bench.split_summary("Not in the article.At all.", "Something else.") == [
        "Not in the article.At all."]


def test_sample_queries_is_deterministic_and_ordered():
    queries = [bench.Query(str(i), frozenset({str(i)})) for i in range(100)]
    first, again = bench.sample_queries(queries, 10), bench.sample_queries(queries, 10)
    assert first == again and len(first) == 10
    assert [int(q.text) for q in first] == sorted(int(q.text) for q in first)
    assert bench.sample_queries(queries, None) == queries


def test_tuning_sample_avoids_the_benchmark_sample():
    queries = [bench.Query(str(i), frozenset({str(i)})) for i in range(100)]
    benchmark = set(bench.sample_queries(queries, 30))
    tuning = bench.sample_queries(queries, 30, tuning=True)
    assert len(tuning) == 30 and not benchmark & set(tuning)
    assert tuning == bench.sample_queries(queries, 30, tuning=True)
    assert len(bench.sample_queries(queries, 70, tuning=True)) == 30    # all that is left
    with pytest.raises(ValueError, match="--tuning needs --queries"):
        bench.sample_queries(queries, None, tuning=True)
    with pytest.raises(ValueError, match="takes every query"):
        bench.sample_queries(queries, 100, tuning=True)


def test_weights_option_takes_numbers_from_0_to_1():
    assert bench._weights("0.1, 0.2,0.3") == (0.1, 0.2, 0.3)
    for bad in ("0.1,x", "1.5", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="expected"):
            bench._weights(bad)


def test_bad_dataset_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="bbc_news_summary.jsonl"):
        bench.load_bbc(tmp_path)
    path = tmp_path / bench.BBC_FILE
    path.parent.mkdir(parents=True)
    path.write_text('{"id": "x/1", "article": "Text."}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="record 1 has no text in field 'summary'"):
        bench.load_bbc(tmp_path)
    path.write_text('{"id": "x/1", "article": "Text.", "summary": "Text."}\nnot json\n')
    with pytest.raises(ValueError, match=r"bbc_news_summary.jsonl:2: invalid JSON"):
        bench.load_bbc(tmp_path)


def test_bbc_twins_are_targets_of_each_others_queries():
    corpus = bench.load_bbc(DATA)
    twins = {q.targets for q in corpus.queries if len(q.targets) > 1}
    assert frozenset({"sport/012", "sport/020"}) in twins
    assert frozenset({"tech/003", "tech/036"}) in twins
    assert corpus.twin_groups >= 2


@pytest.mark.slow
def test_run_on_a_bbc_slice_with_the_real_model(settings, real_embedder):
    result = bench.run(settings, real_embedder, datasets=("bbc",), limit=30,
                       weights=(settings.dense_weight,),
                       sentence_weights=(0.0, settings.sentence_weight))
    bbc = result["datasets"]["bbc"]
    sweep = bbc["weight_sweep"]
    # The sweeps re-fuse and re-check the same lists: the configured weights give the hybrid's
    # ranking (up to the order of exact ties), and sentence weight 0 is fusion alone.
    hybrid = bbc["systems"]["hybrid"]["mrr@10"]
    assert sweep[bench.sweep_name(settings.dense_weight)]["mrr@10"] == pytest.approx(hybrid, abs=0.01)
    assert sweep[bench.sweep_name(settings.sentence_weight, "s")]["mrr@10"] == pytest.approx(
        hybrid, abs=0.01)
    assert sweep["hybrid s=0"] == bbc["ablation"]["hybrid_fusion_only"]
    assert "weight sweep (w: dense weight, s: sentence weight" in bench.markdown(result)
    assert bbc["articles"] == 30 and bbc["queries"] > 30
    assert set(bbc["systems"]) == set(bench.SYSTEMS)
    for scores in bbc["systems"].values():
        assert set(scores) == {"hit@1", "hit@5", "hit@10", "mrr@10"}
        assert all(0.0 <= v <= 1.0 for v in scores.values())
        assert scores["hit@1"] <= scores["hit@5"] <= scores["hit@10"]
    mrr = {system: scores["mrr@10"] for system, scores in bbc["systems"].items()}
    # Measured on this slice: hybrid 1.000 = BM25 1.000, dense 0.964, llama-index 0.950. BM25 is
    # at the ceiling here (the queries are verbatim article sentences) and on 300 articles it
    # stays 0.002 ahead, so "hybrid >= BM25" is not a robust claim: allow one point below it.
    # The margins over the dense systems are robust (3.5-5 points here, 10 on 300 articles).
    assert mrr["hybrid"] >= mrr["bm25"] - 0.01
    assert mrr["hybrid"] > mrr["dense"] and mrr["hybrid"] > mrr["llamaindex_vector"]
    assert set(bbc["ablation"]) == {"hybrid_rrf", "hybrid_fusion_only"}
    from llama_index.core import Settings as LlamaSettings
    assert LlamaSettings._llm is None   # the baseline never resolved a (network) LLM


def test_no_baseline_runs_our_three_systems_only(settings):
    from fakes import FakeEmbedder
    result = bench.run(settings, FakeEmbedder(), datasets=("bbc",), limit=12, baseline=False)
    bbc = result["datasets"]["bbc"]
    assert set(bbc["systems"]) == set(bench.OUR_SYSTEMS)
    assert set(bbc["hybrid_vs"]) == {"bm25", "dense"}
    assert bbc["vector_index_chunks"] is None and "vector_index_s" not in bbc["seconds"]
    report = bench.markdown(result)
    assert "no baseline" in report and "llamaindex_vector" not in report
    assert result["config"]["sentence_weight"] == settings.sentence_weight


# The benchmark led to relative-score fusion in rag/retrieve.py; its unit tests live here.
def test_relative_score_fusion_keeps_a_clear_bm25_lead():
    from rag.retrieve import relative_score_fusion
    dense = [("b", 0.70), ("a", 0.69), ("c", 0.50)]     # close cosines: a weak preference
    sparse = [("a", 30.0), ("b", 12.0), ("d", 11.0), ("e", 10.0)]   # a clear lexical winner
    fused = relative_score_fusion([dense, sparse], [0.3, 0.7])
    assert [key for key, _ in fused][:3] == ["a", "b", "d"]
    assert dict(fused)["d"] == pytest.approx(0.7 * 0.05)
    assert dict(fused)["a"] == pytest.approx(0.3 * 0.95 + 0.7 * 1.0)
    assert dict(fused)["c"] == pytest.approx(0.0)           # bottom of dense, absent from BM25
    assert relative_score_fusion([[], [("x", 2.0)]], [0.5, 0.5]) == [("x", 0.5)]


def test_dense_weight_outside_0_1_is_a_clear_error(settings):
    from fakes import FakeEmbedder
    from rag.pipeline import Pipeline
    with pytest.raises(ValueError, match="RAG_DENSE_WEIGHT"):
        Pipeline(settings.with_(dense_weight=1.5), embedder=FakeEmbedder())
