import pytest

from rag.retrieve import Filters, reciprocal_rank_fusion


def test_rrf_rewards_agreement():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]], k=60)
    order = [key for key, _ in fused]
    assert order[0] == "a"                 # ranks 1 and 2 beat c's ranks 3 and 1
    assert set(order) == {"a", "b", "c", "d"}
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_bad_date_filter_is_a_clear_error():
    with pytest.raises(ValueError, match="--since"):
        Filters(since="last tuesday")


@pytest.fixture
def archive(fake_pipeline, tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    for i, (src, date, topic) in enumerate([("alpha", "2019-05-01", "volcano eruption lava"),
                                            ("beta", "2020-06-01", "volcano ash flights"),
                                            ("beta", "2021-07-01", "football cup final")]):
        (folder / f"a{i}.md").write_text(
            f"---\ntitle: Story {i}\ndate: {date}\nsource: {src}\n---\nThe {topic} story {i}.\n",
            encoding="utf-8")
    fake_pipeline.ingest([folder])
    return fake_pipeline


def test_hybrid_finds_the_matching_article(archive):
    hits = archive.retriever.search("football cup", k=2)
    assert hits[0].passage.article_id == "a2"


@pytest.mark.parametrize("filters,expected", [
    (Filters(source="beta"), {"a1", "a2"}),
    (Filters(article_ids=("a0",)), {"a0"}),
    (Filters(since="2020-01-01", until="2020-12-31"), {"a1"}),
    (Filters(until="2019-12-31"), {"a0"}),
])
def test_filters_apply_to_both_retrievers(archive, filters, expected):
    dense = {h.passage.article_id for h in archive.retriever.dense("volcano", 10, filters)}
    sparse = {h.passage.article_id for h in archive.retriever.sparse("volcano story", 10, filters)}
    fused = {h.passage.article_id for h in archive.retriever.search("volcano story", 10, filters)}
    assert dense <= expected and sparse <= expected and fused <= expected
    assert fused, "the filter removed everything"
