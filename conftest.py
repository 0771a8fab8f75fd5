import os
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from rag.config import Settings, apply_offline_env  # noqa: E402

apply_offline_env()
SEED = ROOT / "corpus" / "000_066ea528e0fa7fc5.txt"
DATA = Path(os.environ.get("RAG_DATA", ROOT.parent / "shared" / "data"))
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


SERVER_FIXTURES = {"serve_pipeline", "served", "served_seed"}


def pytest_collection_modifyitems(items):
    """A test that serves the UI is an integration test: `make check` leaves it out."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def block_network(monkeypatch):
    """Any connection outside loopback fails the test that made it."""
    real_connect = socket.socket.connect
    attempts = []

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in LOOPBACK:
            attempts.append(address)
            raise NetworkBlocked(f"test tried to reach {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield attempts
    assert not attempts, f"network access attempted: {attempts}"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", corpus=ROOT / "corpus", data=DATA)


@pytest.fixture
def fake_pipeline(settings):
    from fakes import FakeEmbedder
    from rag.pipeline import Pipeline
    return Pipeline(settings, embedder=FakeEmbedder()).open()


@pytest.fixture(scope="session")
def real_embedder():
    from rag.embedding import TorchEmbedder
    return TorchEmbedder(Settings()).load()


@pytest.fixture
def real_pipeline(tmp_path, real_embedder):
    from rag.pipeline import Pipeline
    s = Settings(home=tmp_path / "home", corpus=ROOT / "corpus", data=DATA)
    return Pipeline(s, embedder=real_embedder).open()


@pytest.fixture(scope="session")
def eval_report():
    """The eval runs of this session, extractive (eval/test_eval.py) and generative
    (tests/test_llm_server.py), in one report under artifacts/eval/, rewritten after each run."""
    from eval.report import ReportBook
    return ReportBook(ROOT / "artifacts" / "eval")


def skip_unless_suite_data(suite: str) -> None:
    """Skip the test when a dataset the eval suite samples is not under DATA (RAG_DATA)."""
    from eval.runner import load_suite
    for item in load_suite(suite).corpus:
        if "dataset" in item and not (DATA / item["dataset"]).is_file():
            pytest.skip(f"{item['dataset']} not found under {DATA} (set RAG_DATA)")
