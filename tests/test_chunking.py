from fakes import FakeEmbedder

from rag.articles import Article
from rag.chunking import chunk_article, embedding_text


def _chunks(text, max_tokens=30, overlap=8):
    emb = FakeEmbedder()
    art = Article(id="a1", title="Title", text=text)
    return chunk_article(art, emb.count_tokens, emb.token_offsets, max_tokens, overlap), emb


def test_passages_are_exact_spans_within_budget():
    text = "\n\n".join(f"Sentence number {i} says something about topic {i % 3}. "
                       f"Another remark {i} follows here." for i in range(20))
    passages, emb = _chunks(text)
    assert len(passages) > 3
    for p in passages:
        assert text[p.start:p.end] == p.text
        assert emb.count_tokens([p.text])[0] <= 30
    # Together the passages cover the whole text, in order, with some overlap.
    assert passages[0].start == 0 and passages[-1].end == len(text.rstrip())
    assert all(not text[a.end:b.start].strip() for a, b in zip(passages, passages[1:]))
    assert all(b.start > a.start for a, b in zip(passages, passages[1:]))
    assert any(b.start < a.end for a, b in zip(passages, passages[1:])), "no overlap at all"


def test_overlong_sentence_is_cut_not_truncated():
    text = " ".join(f"w{i}" for i in range(100))        # one 100-token "sentence"
    passages, emb = _chunks(text, max_tokens=30, overlap=0)
    assert len(passages) == 4
    assert "".join(p.text + " " for p in passages).split() == text.split()
    assert all(emb.count_tokens([p.text])[0] <= 30 for p in passages)


def test_empty_text_has_no_passages():
    assert _chunks("")[0] == []


def test_embedding_text_leaves_ids_and_paths_out():
    assert embedding_text("A title", "Body.") == "A title\n\nBody."
