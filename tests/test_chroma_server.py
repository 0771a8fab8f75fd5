"""RAG_CHROMA_URL: the same pipeline against a real `chroma run` server on loopback."""
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import SEED
from fakes import FakeEmbedder
from rag.config import Settings
from rag.pipeline import Pipeline
from rag.retrieve import Filters
from rag.store import consistency_problems
from eval.common import free_port

CHROMA = Path(sys.executable).parent / "chroma"
pytestmark = pytest.mark.integration
START_TIMEOUT_S = 60



class ChromaServer:
    """`chroma run` on 127.0.0.1, data in `path`; start/stop can be repeated (same port)."""

    def __init__(self, path: Path):
        self.path, self.port, self.proc = path, free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> "ChromaServer":
        self.proc = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1",
             "--port", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited: {self.proc.stderr.read()[-2000:]!r}")
            try:
                with urllib.request.urlopen(self.url + "/api/v2/heartbeat", timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"chroma run did not answer on {self.url} in {START_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def chroma_server(tmp_path):
    if not CHROMA.exists():
        pytest.fail(f"{CHROMA} not found: chromadb's server CLI should come with the venv")
    server = ChromaServer(tmp_path / "chroma-server").start()
    yield server
    server.stop()


def _corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    (folder / "cranes.md").write_text(
        "---\ntitle: Harbour cranes\ndate: 2020-01-02\nsource: test\n---\nThe harbour crane "
        "was repaired on Monday.\n\nWorkers said the crane lifts forty tonnes.\n", encoding="utf-8")
    return folder


def _server_settings(tmp_path, server, worker: str) -> Settings:
    # Each worker has its own RAG_HOME: nothing of the store may live there in server mode.
    return Settings(home=tmp_path / worker, chroma_url=server.url)


def test_server_mode_ingest_ask_reingest_and_restart(tmp_path, chroma_server):
    folder = _corpus(tmp_path)
    embedder = FakeEmbedder()
    pipeline = Pipeline(_server_settings(tmp_path, chroma_server, "worker-a"), embedder).open()
    first = pipeline.ingest([folder])
    assert (first.added, first.articles, first.failed) == (2, 2, [])
    assert not (tmp_path / "worker-a" / "chroma").exists()          # nothing stored locally
    answer = pipeline.ask("When was the harbour crane repaired?")
    assert not answer.refused and answer.citations[0].article_id == "cranes"

    calls = embedder.calls
    again = pipeline.ingest([folder])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert embedder.calls == calls and again.passages == first.passages

    other_worker = Pipeline(_server_settings(tmp_path, chroma_server, "worker-b"),
                            FakeEmbedder()).open()                   # a second app worker
    assert {r.article.id for r in other_worker.articles()} == \
        {r.article.id for r in pipeline.articles()}
    assert other_worker.ask("When was the harbour crane repaired?").citations
    (folder / "ferry.md").write_text("---\ntitle: Ferry\n---\nThe zeppelin ferry sails at "
                                     "noon from pier nine.\n", encoding="utf-8")
    assert pipeline.ingest([folder]).added == 1                     # worker A adds an article
    keyword_hits = other_worker.retriever.sparse("zeppelin ferry", 5, Filters())
    assert [h.passage.article_id for h in keyword_hits][:1] == ["ferry"]   # B's BM25 follows
    with_ferry = other_worker.store.passage_count()
    (folder / "ferry.md").unlink()                                  # A deletes one and adds one
    (folder / "glider.md").write_text("---\ntitle: Glider\n---\nThe glider club flies at "
                                      "dawn from hill nine.\n", encoding="utf-8")
    synced = pipeline.ingest([folder], prune=True)
    assert (synced.added, synced.removed) == (1, 1)
    assert other_worker.store.passage_count() == with_ferry         # the count cannot tell
    glider_hits = other_worker.retriever.sparse("glider club", 5, Filters())
    assert [h.passage.article_id for h in glider_hits][:1] == ["glider"]   # the revision can
    assert other_worker.retriever.sparse("zeppelin", 5, Filters()) == []
    (folder / "glider.md").unlink()
    assert pipeline.ingest([folder], prune=True).removed == 1

    chroma_server.stop()
    chroma_server.start()                                            # same data folder, same port
    restarted = Pipeline(_server_settings(tmp_path, chroma_server, "worker-a"),
                         FakeEmbedder()).open()
    assert restarted.store.passage_count() == first.passages
    assert len(restarted.articles()) == 2
    assert consistency_problems(restarted.store) == []
    assert restarted.ask("When was the harbour crane repaired?").citations
    assert restarted.ingest([folder]).unchanged == 2


def test_reindex_on_the_server(tmp_path, chroma_server):
    from rag import cli

    class OtherBackend(FakeEmbedder):
        backend = "fake-other"

    settings = _server_settings(tmp_path, chroma_server, "worker")
    first = Pipeline(settings, FakeEmbedder()).open().ingest([_corpus(tmp_path)])
    assert cli.main(["reindex"], pipeline=Pipeline(settings, OtherBackend())) == 0
    rebuilt = Pipeline(settings, OtherBackend()).open()
    assert rebuilt.store.passages.metadata["embed_backend"] == "fake-other"
    assert rebuilt.store.passage_count() == first.passages
    assert consistency_problems(rebuilt.store) == []


def test_bad_chroma_url_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="RAG_CHROMA_URL='localhost:8000'"):
        Pipeline(Settings(home=tmp_path, chroma_url="localhost:8000"), FakeEmbedder()).open()


@pytest.mark.slow
def test_server_mode_with_the_real_model(tmp_path, chroma_server, real_embedder):
    settings = _server_settings(tmp_path, chroma_server, "worker")
    pipeline = Pipeline(settings, embedder=real_embedder).open()
    assert pipeline.ingest([SEED]).added == 1
    answer = pipeline.ask("What did Lavrov say about THAAD?")
    assert not answer.refused
    for c in answer.citations:
        assert pipeline.article_text(c.article_id)[c.start:c.end] == c.quote
    chroma_server.stop()
    chroma_server.start()
    again = Pipeline(settings, embedder=real_embedder).open()
    assert again.ingest([SEED]).unchanged == 1
    assert again.ask("What did Lavrov say about THAAD?").citations
