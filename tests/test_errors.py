"""rag.errors: what the library raises on purpose, and the CLI's exit code for each."""
import json

import pytest

from conftest import SEED
from fakes import FakeEmbedder
from rag import cli
from rag.errors import InputError, ModelIntegrityError, NotFound, RagError, StoreVersionError
from rag.pipeline import Pipeline


def test_hierarchy_and_exit_codes():
    assert issubclass(InputError, ValueError)         # callers written against ValueError work
    assert issubclass(NotFound, InputError) and issubclass(NotFound, LookupError)
    for error, code in ((InputError, 2), (NotFound, 1), (StoreVersionError, 2),
                        (ModelIntegrityError, 2)):
        assert issubclass(error, RagError) and error.exit_code == code


@pytest.fixture
def seeded(settings):
    pipeline = Pipeline(settings, embedder=FakeEmbedder()).open()
    pipeline.ingest([SEED])
    return pipeline


def _run(capsys, argv, pipeline) -> tuple[int, dict]:
    code = cli.main([*argv, "--json"], pipeline=pipeline)
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1                 # exactly one JSON document
    return code, json.loads(out)


def test_a_bad_llm_setting_names_the_setting_and_exits_2(settings, capsys):
    pipeline = Pipeline(settings.with_(llm="gpt"), embedder=FakeEmbedder()).open()
    code, out = _run(capsys, ["ask", "What did Lavrov say?"], pipeline)
    assert code == 2 and out["error"].startswith("RAG_LLM='gpt'")


def test_a_bad_history_file_exits_2(seeded, tmp_path, capsys):
    history = tmp_path / "history.json"
    history.write_text('{"question": "not a list"}', encoding="utf-8")
    code, out = _run(capsys, ["ask", "And then?", "--history", str(history)], seeded)
    assert code == 2 and out["error"].startswith("history: expected a list")
    history.write_text("{not json", encoding="utf-8")
    code, out = _run(capsys, ["ask", "And then?", "--history", str(history)], seeded)
    assert code == 2 and out["error"].startswith(f"--history {history}")


def test_bad_filter_dates_exit_2_naming_the_field(seeded, capsys):
    code, out = _run(capsys, ["ask", "Lavrov", "--until", "soon"], seeded)
    assert code == 2 and out == {"error": "filter until='soon': expected a date as YYYY-MM-DD"}


def test_missing_model_weights_exit_2(settings, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAG_HOME", str(settings.home))
    monkeypatch.setenv("RAG_MODEL_DIR", str(tmp_path / "no-model"))
    code = cli.main(["ask", "What did Lavrov say?", "--json"])
    assert code == 2
    assert "model weights not found" in json.loads(capsys.readouterr().out)["error"]
