"""The int8 ONNX backend, the backend factory, and `reindex` when the configured backend changes."""
import json
import shutil

import numpy as np
import pytest

from conftest import SEED
from fakes import FakeEmbedder
from rag import cli
from rag.config import Settings
from rag.embedding import Embedder, QueryCache, TorchEmbedder, make_embedder
from rag.embedding_onnx import FLOAT_LAYERS, INT8_FILE, RECORD_FILE, OnnxInt8Embedder
from rag.pipeline import Pipeline
from rag.errors import InputError, StoreVersionError
from rag.store import consistency_problems


class OtherFake(FakeEmbedder):
    """The same vectors under another backend name: a store built by FakeEmbedder rejects it."""
    backend = "fake-other"


def _corpus(tmp_path, n=4):
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    for i in range(1, n):
        (folder / f"note{i}.md").write_text(
            f"---\ntitle: Note {i}\ndate: 2020-01-0{i}\n---\nThe harbour crane number {i} was "
            f"repaired on Monday.\n\nWorkers said crane {i} lifts forty tonnes.\n", encoding="utf-8")
    return folder


def test_factory_picks_the_backend_named_in_settings():
    assert Settings.from_env({"RAG_EMBED_BACKEND": "onnx-int8"}).embed_backend == "onnx-int8"
    assert type(make_embedder(Settings())) is TorchEmbedder
    onnx = make_embedder(Settings(embed_backend="onnx-int8"))
    assert type(onnx) is OnnxInt8Embedder and onnx.backend == "onnx-int8"
    assert onnx.name == TorchEmbedder(Settings()).name      # same model: only the backend differs
    with pytest.raises(InputError, match="RAG_EMBED_BACKEND='tensorrt'"):
        make_embedder(Settings(embed_backend="tensorrt"))


def test_both_backends_and_the_fake_satisfy_the_embedder_protocol():
    from rag.embedding import LocalModelEmbedder
    members = {name for name in vars(Embedder) if not name.startswith("_")}
    assert members == {"name", "backend", "dim", "load", "count_tokens", "token_offsets",
                       "embed_texts", "embed_query"}
    for cls in (TorchEmbedder, OnnxInt8Embedder, FakeEmbedder):   # classes: no model loads
        assert all(hasattr(cls, m) for m in members), cls.__name__
    # The shared parts live once, in the base: neither backend redefines them.
    for shared in ("name", "load", "count_tokens", "token_offsets", "embed_texts"):
        assert shared in vars(LocalModelEmbedder)
        assert shared not in vars(TorchEmbedder) and shared not in vars(OnnxInt8Embedder)


def test_query_cache_keeps_the_most_recent_and_returns_copies():
    computed = []
    cache = QueryCache(size=2)

    def compute(text):
        computed.append(text)
        return [float(len(text))]

    first = cache.get("a", compute)
    first.append(99.0)                                  # a caller mutating its copy
    assert cache.get("a", compute) == [1.0]
    cache.get("bb", compute)
    cache.get("a", compute)                             # "a" is now the most recent
    cache.get("ccc", compute)                           # evicts "bb"
    cache.get("bb", compute)
    assert computed == ["a", "bb", "ccc", "bb"]


def test_sentence_encoder_encodes_only_sentences_it_has_not_seen():
    from fakes import FakeEmbedder
    from rag.embedding import SentenceEncoder
    fake = FakeEmbedder()
    batches = []
    fake_embed = fake.embed_texts
    fake.embed_texts = lambda texts: batches.append(list(texts)) or fake_embed(texts)
    encoder = SentenceEncoder(fake, size=3)
    first = encoder.embed_texts(["a b", "c d", "a b"])
    assert batches == [["a b", "c d"]]                  # one batch, a repeat encoded once
    assert first[0] == first[2] == fake_embed(["a b"])[0]
    assert encoder.embed_texts(["c d", "e f"]) == fake_embed(["c d", "e f"])
    assert batches[1:] == [["e f"]]
    encoder.embed_texts(["g h"])                        # size 3: evicts "a b", the oldest
    encoder.embed_texts(["a b"])
    assert batches[2:] == [["g h"], ["a b"]]


def test_float_layers_are_the_first_feed_forward_outputs():
    names = [f"/encoder/encoder/layer.{i}/{part}/MatMul" for i in range(6)
             for part in ("output/dense", "attention/output/dense", "intermediate/dense")]
    kept = [n for n in names if FLOAT_LAYERS.search(n)]
    assert kept == [f"/encoder/encoder/layer.{i}/output/dense/MatMul" for i in range(3)]


def test_a_store_of_another_backend_is_refused_until_reindexed(settings, tmp_path):
    folder = _corpus(tmp_path)
    built = Pipeline(settings, embedder=FakeEmbedder()).open()
    first = built.ingest([folder])
    with pytest.raises(StoreVersionError, match="python -m rag reindex"):
        Pipeline(settings, embedder=OtherFake()).open()

    other = OtherFake()
    out = cli.main(["reindex", "--json"], pipeline=Pipeline(settings, embedder=other))
    assert out == 0 and other.calls > 0
    reopened = Pipeline(settings, embedder=OtherFake()).open()
    assert reopened.store.passages.metadata["embed_backend"] == "fake-other"
    assert reopened.store.passage_count() == first.passages
    assert len(reopened.articles()) == 4
    assert consistency_problems(reopened.store) == []
    assert not reopened.ask("What was repaired on Monday?").refused
    with pytest.raises(StoreVersionError):           # and now the old backend is the stranger
        Pipeline(settings, embedder=FakeEmbedder()).open()


def test_interrupted_reindex_leaves_the_old_store_as_it_was(settings, tmp_path, capsys):
    built = Pipeline(settings, embedder=FakeEmbedder()).open()
    first = built.ingest([_corpus(tmp_path)])
    crashing = OtherFake()
    crashing.embed_texts = lambda texts: (_ for _ in ()).throw(KeyboardInterrupt("killed"))
    with pytest.raises(KeyboardInterrupt):
        cli.main(["reindex"], pipeline=Pipeline(settings, embedder=crashing))
    old = Pipeline(settings, embedder=FakeEmbedder()).open()   # old signature, old passages
    assert old.store.passage_count() == first.passages
    assert consistency_problems(old.store) == []
    assert cli.main(["reindex", "--json"], pipeline=Pipeline(settings, embedder=OtherFake())) == 0
    assert json.loads(capsys.readouterr().out)["passages"] == first.passages
    assert Pipeline(settings, embedder=OtherFake()).open().store.passage_count() == first.passages


# -------------------------------------------------------------------- real model (slow)
@pytest.fixture(scope="session")
def onnx_embedder(tmp_path_factory):
    """Exported once per test session into a temporary RAG_HOME (about 20 s)."""
    home = tmp_path_factory.mktemp("onnx-home")
    return OnnxInt8Embedder(Settings(home=home, embed_backend="onnx-int8")).load()


def _passages(embedder, n_articles=12):
    from eval.bench import chunked, load_cnndm
    from conftest import DATA
    settings = Settings(data=DATA)
    articles, _ = load_cnndm(settings)
    return [t for _, _, t in chunked(articles[:n_articles], embedder, settings)]


@pytest.mark.slow
def test_int8_vectors_agree_with_torch(onnx_embedder, real_embedder):
    texts = _passages(real_embedder) + ["Short.", "What did Lavrov say about THAAD?"]
    assert onnx_embedder.count_tokens(texts) == real_embedder.count_tokens(texts)
    assert onnx_embedder.token_offsets(texts[0]) == real_embedder.token_offsets(texts[0])
    torch_vectors = np.asarray(real_embedder.embed_texts(texts))
    int8_vectors = np.asarray(onnx_embedder.embed_texts(texts))
    assert int8_vectors.shape == torch_vectors.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(int8_vectors, axis=1), 1.0, atol=1e-4)
    cosines = np.sum(int8_vectors * torch_vectors, axis=1)
    assert cosines[:-2].min() >= 0.985, cosines.min()       # the passages: the accuracy limit
    assert cosines[-2:].min() >= 0.97, cosines[-2:]         # very short texts lose a bit more
    query = np.asarray(onnx_embedder.embed_query(texts[-1]))   # a batch of one
    assert float(query @ torch_vectors[-1]) >= 0.97
    # Dynamic quantization scales activations per batch, so batch-mates move a vector a little.
    assert float(query @ int8_vectors[-1]) > 0.99


@pytest.mark.slow
def test_export_is_cached_and_checked(onnx_embedder, monkeypatch):
    from rag import embedding_onnx
    model_path = onnx_embedder.model_path
    record = json.loads((model_path.parent / RECORD_FILE).read_text())
    assert model_path.name == INT8_FILE and len(record["float_nodes"]) == 3
    assert record["export_check_cosine"] >= 0.9999 and record["fused"]["Attention"] == 6
    exports = []
    monkeypatch.setattr(embedding_onnx, "export_int8",
                        lambda model_dir, dest: exports.append(dest) or dest / INT8_FILE)
    again = OnnxInt8Embedder(onnx_embedder.settings).load()
    assert again.model_path == model_path and exports == []           # served from the cache
    backup = model_path.read_bytes()
    try:
        model_path.write_bytes(backup[:-10] + b"0123456789")           # a damaged cache file
        embedding_onnx.cached_int8_model(onnx_embedder.settings, onnx_embedder.model_dir)
        assert exports == [model_path.parent]                           # is exported again
    finally:
        model_path.write_bytes(backup)


@pytest.mark.slow
def test_onnx_pipeline_answers_and_reindexes_to_torch(tmp_path, onnx_embedder, real_embedder):
    settings = Settings(home=tmp_path / "home", embed_backend="onnx-int8")
    onnx_pipeline = Pipeline(settings, embedder=onnx_embedder).open()
    assert onnx_pipeline.ingest([SEED]).added == 1
    answer = onnx_pipeline.ask("What did Lavrov say about THAAD?")
    assert not answer.refused and answer.citations
    text = onnx_pipeline.article_text(answer.citations[0].article_id)
    assert text[answer.citations[0].start:answer.citations[0].end] == answer.citations[0].quote
    with pytest.raises(StoreVersionError):
        Pipeline(settings.with_(embed_backend="torch"), embedder=real_embedder).open()
    assert cli.main(["reindex"], pipeline=Pipeline(settings, embedder=real_embedder)) == 0
    torch_pipeline = Pipeline(settings, embedder=real_embedder).open()
    assert torch_pipeline.store.passages.metadata["embed_backend"] == "torch"
    assert torch_pipeline.ask("What did Lavrov say about THAAD?").citations
    assert consistency_problems(torch_pipeline.store) == []
