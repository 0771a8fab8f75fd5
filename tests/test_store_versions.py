"""A store built by another embedding model or schema version is refused with a message naming
`python -m rag reindex`, and that command rebuilds it so that questions work again.
"""
import subprocess

import pytest

from conftest import SEED
from fakes import FakeEmbedder
from processes import PYTHON, ROOT, json_out, rag_env, run_rag

LAVROV = "What did Lavrov say about THAAD?"
SEED_ID = "000_066ea528e0fa7fc5"


class OtherModel(FakeEmbedder):
    name = "fake-other-model"


def built_store(settings, embedder=None):
    from rag.pipeline import Pipeline
    pipeline = Pipeline(settings, embedder=embedder or FakeEmbedder()).open()
    assert pipeline.ingest([SEED]).added == 1
    return pipeline


def set_schema(store, version: int) -> None:
    """Stamp the passages collection as written by another schema version."""
    meta = {k: v for k, v in (store.passages.metadata or {}).items() if not k.startswith("hnsw:")}
    store.passages.modify(metadata={**meta, "rag_schema": version})


def test_store_of_another_model_is_refused_naming_reindex(settings):
    from rag.pipeline import Pipeline
    from rag.errors import StoreVersionError
    built_store(settings)
    with pytest.raises(StoreVersionError) as err:
        Pipeline(settings, embedder=OtherModel()).open()
    message = str(err.value)
    assert "embed_model='fake-bow-64'" in message and "'fake-other-model'" in message
    assert "python -m rag reindex" in message and str(settings.chroma_dir) in message


def test_store_of_another_schema_version_is_refused_naming_reindex(settings):
    from rag.pipeline import Pipeline
    from rag.errors import StoreVersionError
    from rag.store import SCHEMA_VERSION
    set_schema(built_store(settings).store, 0)
    with pytest.raises(StoreVersionError) as err:
        Pipeline(settings, embedder=FakeEmbedder()).open()
    assert f"rag_schema=0, but this configuration uses {SCHEMA_VERSION!r}" in str(err.value)
    assert "python -m rag reindex" in str(err.value)


@pytest.mark.integration
def test_cli_reports_the_mismatch_as_a_clear_error(settings):
    built_store(settings)                 # fake model; the CLI uses the packaged MiniLM
    for command in (["ask", LAVROV], ["articles"], ["ingest", str(SEED)]):
        proc = run_rag(settings.home, *command, "--json")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        error = json_out(proc)["error"]
        assert "embed_model='fake-bow-64'" in error and "python -m rag reindex" in error


# Builds a store with the fake model and stamps it schema 0, in its own process: the test
# process must not hold that store open while `reindex` rewrites it in another one.
_BUILD_OLD_STORE = f"""
import sys
sys.path.insert(0, {str(ROOT / "tests")!r})
from pathlib import Path
from fakes import FakeEmbedder
from rag.config import Settings
from rag.pipeline import Pipeline
pipeline = Pipeline(Settings.from_env(), embedder=FakeEmbedder()).open()
assert pipeline.ingest([Path({str(SEED)!r})]).added == 1
meta = {{k: v for k, v in pipeline.store.passages.metadata.items() if not k.startswith("hnsw:")}}
pipeline.store.passages.modify(metadata={{**meta, "rag_schema": 0}})
"""


@pytest.mark.slow
def test_reindex_recovers_a_store_of_another_model_and_schema(tmp_path, real_embedder):
    from rag.config import Settings
    from rag.pipeline import Pipeline
    from rag.store import consistency_problems
    home = tmp_path / "home"
    subprocess.run([PYTHON, "-c", _BUILD_OLD_STORE], cwd=ROOT, env=rag_env(home), check=True,
                   capture_output=True, timeout=300)
    refused = run_rag(home, "ask", LAVROV, "--json")
    assert refused.returncode == 2 and "python -m rag reindex" in json_out(refused)["error"]
    reindexed = run_rag(home, "reindex", "--json")
    assert reindexed.returncode == 0, reindexed.stderr[-3000:]
    result = json_out(reindexed)
    assert result["articles"] == 1 and result["passages"] > 0
    assert result["embed_model"] == real_embedder.name
    # A fresh opening in this process: the signature matches and the vectors are MiniLM's.
    pipeline = Pipeline(Settings(home=home), embedder=real_embedder).open()
    assert consistency_problems(pipeline.store) == []
    assert pipeline.store.passage_count() == result["passages"]
    vectors = pipeline.store.passages.get(include=["embeddings"])["embeddings"]
    assert {len(v) for v in vectors} == {384}
    answer = pipeline.ask(LAVROV)
    assert not answer.refused and "pretext" in answer.text
    assert answer.citations[0].article_id == SEED_ID
    assert [r.article.id for r in pipeline.articles()] == [SEED_ID]
