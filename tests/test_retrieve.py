import pytest

from rag.retrieve import Filters, reciprocal_rank_fusion


def test_rrf_rewards_agreement():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]], k=60)
    order = [key for key, _ in fused]
    assert order[0] == "a"                 # ranks 1 and 2 beat c's ranks 3 and 1
    assert set(order) == {"a", "b", "c", "d"}
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_bad_date_filter_is_a_clear_error():
    from rag.errors import InputError
    with pytest.raises(InputError, match="since='last tuesday'") as err:
        Filters(since="last tuesday")
    assert "--" not in str(err.value)          # the library names the field, not a CLI flag


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


def _hit(pid: str, text: str):
    from rag.chunking import Passage
    from rag.store import PassageHit
    article = pid.split("#")[0]
    return PassageHit(Passage(id=pid, article_id=article, index=0, start=0, end=len(text),
                              text=text), f"Title {article}", None, None, None, 0.5)


def test_best_sentence_is_the_one_sharing_most_question_words():
    from rag.retrieve import best_sentence
    from rag.terms import content_terms
    text = ("Ministers met on Monday. The tobacco firms deny that they conspired to promote "
            "smoking. Shares fell.")
    terms = set(content_terms("Did the tobacco firms conspire to promote smoking?"))
    assert best_sentence(terms, text) == ("The tobacco firms deny that they conspired to "
                                          "promote smoking.")
    assert best_sentence(set(), text) == "Ministers met on Monday."   # ties: the first
    assert best_sentence(terms, "") == ""


def test_sentence_check_lifts_the_passage_holding_the_asked_sentence(fake_pipeline):
    question = "The tobacco companies deny that they conspired to defraud the public."
    # The follow-up story paraphrases the sentence amid related text; fusion ranks it first.
    follow_up = _hit("b#0", "Tobacco companies were accused of a conspiracy. They deny "
                            "defrauding the public, the companies said on Monday.")
    original = _hit("a#0", "Lawyers spoke in court. The tobacco companies deny that they "
                           "conspired to defraud the public. The case goes on.")
    other = _hit("c#0", "Football cup final tonight.")
    passages = {h.passage.id: h for h in (follow_up, original, other)}
    fused = [("b#0", 0.95), ("a#0", 0.90), ("c#0", 0.10)]
    retriever = fake_pipeline.retriever
    vector = fake_pipeline.embedder.embed_query(question)
    checked = retriever.sentence_check(question, vector, fused, passages)
    assert [pid for pid, _ in checked] == ["a#0", "b#0", "c#0"]
    assert retriever.sentence_check(question, vector, fused, passages, weight=0.0) == fused
    # Only the head (rerank_k passages) is re-scored; the tail keeps its order and scores.
    retriever.settings = retriever.settings.with_(rerank_k=1)
    assert retriever.sentence_check(question, vector, fused, passages) == fused


@pytest.mark.parametrize("field,value,name", [("sentence_weight", -0.1, "RAG_SENTENCE_WEIGHT"),
                                              ("sentence_weight", 2.0, "RAG_SENTENCE_WEIGHT"),
                                              ("rerank_k", -1, "RAG_RERANK_K")])
def test_sentence_check_settings_out_of_range_are_clear_errors(settings, field, value, name):
    from fakes import FakeEmbedder
    from rag.pipeline import Pipeline
    from rag.errors import InputError
    with pytest.raises(InputError, match=name):
        Pipeline(settings.with_(**{field: value}), embedder=FakeEmbedder())
