"""End to end on the seed article with the real model and a real Chroma store."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, SEED
from rag.cli import main

pytestmark = pytest.mark.slow
LAVROV = "What did Lavrov say about THAAD?"


def run_cli(pipeline, capsys, *argv):
    status = main([*argv, "--json"], pipeline=pipeline)
    out = capsys.readouterr().out
    return status, json.loads(out)


def check_citations(pipeline, capsys, answer):
    for c in answer["citations"]:
        _, shown = run_cli(pipeline, capsys, "show", c["article_id"])
        assert shown["text"][c["start"]:c["end"]] == c["quote"]
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])}
    assert cited == {c["n"] for c in answer["citations"]}


def test_lavrov_question_quotes_his_statement(real_pipeline, capsys, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus)
    status, report = run_cli(real_pipeline, capsys, "ingest", str(corpus))
    assert status == 0 and report["added"] == 1 and report["passages"] >= 2

    status, answer = run_cli(real_pipeline, capsys, "ask", LAVROV)
    assert status == 0 and answer["refused"] is False
    assert "pretext" in answer["answer"] and "won't resolve" in answer["answer"]
    assert answer["citations"][0]["published"].startswith("2016-04-30")
    assert answer["citations"][0]["title"].startswith("Russia and China united")
    check_citations(real_pipeline, capsys, answer)

    status, again = run_cli(real_pipeline, capsys, "ingest", str(corpus))
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 1)
    assert again["passages"] == report["passages"]


def test_unrelated_question_is_refused(real_pipeline, capsys):
    real_pipeline.ingest([SEED])
    for question in ("What is the capital of Australia?", "How did the Lakers do last night?",
                     "What did Obama say about THAAD?"):
        _, answer = run_cli(real_pipeline, capsys, "ask", question)
        assert answer["refused"] is True, (question, answer["answer"])
        assert answer["citations"] == []


def test_edit_and_prune_with_the_real_model(real_pipeline, capsys, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    copy = corpus / "seed.txt"
    shutil.copy(SEED, copy)
    real_pipeline.ingest([corpus])
    copy.write_text(SEED.read_text(encoding="utf-8").replace("Musudan", "Hwasong"),
                    encoding="utf-8")
    assert real_pipeline.ingest([corpus]).updated == 1
    _, answer = run_cli(real_pipeline, capsys, "ask", "Which missiles did North Korea launch?")
    assert "Hwasong" in answer["answer"] and "Musudan" not in answer["answer"]
    copy.unlink()
    report = real_pipeline.ingest([corpus], prune=True)
    assert report.removed == 1 and report.articles == 0 and report.passages == 0


def test_cli_process_prints_exactly_one_json_document(tmp_path):
    """The real command line, as scripts use it: stdout parses as JSON, logs go to stderr."""
    env = {**os.environ, "RAG_HOME": str(tmp_path / "home")}
    cmd = [sys.executable, "-m", "rag"]
    ingest = subprocess.run([*cmd, "ingest", str(SEED), "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["added"] == 1
    ask = subprocess.run([*cmd, "ask", LAVROV, "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert ask.returncode == 0, ask.stderr
    assert "pretext" in json.loads(ask.stdout)["answer"]
    bad = subprocess.run([*cmd, "ask", "x" * 5000, "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "too long" in json.loads(bad.stdout)["error"]
