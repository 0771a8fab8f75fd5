"""Saved conversations, users and feedback: the SQLite store, RAG_AUTH, eval-case export."""
import json
import sqlite3
from types import SimpleNamespace

import pytest
import yaml

from conftest import SEED
from rag.conversations import (SCHEMA_VERSION, Conversations, NotFound, answer_settings, cited,
                               citation_status, export_markdown, quote_line)
from rag.feedback import export_suite, key_facts
from rag.users import Users, hash_password

LAVROV = "What did Lavrov say about THAAD?"
SEED_ID = "000_066ea528e0fa7fc5"


def hash_of(pipeline):
    def lookup(article_id):
        record = pipeline.store.get_record(article_id, with_text=False)
        return record.content_hash if record and record.status == "ready" else None
    return lookup


def saved_turn(pipeline, question=LAVROV):
    answer = pipeline.ask(question)
    return {"question": answer.question, "answer": answer.text,
            "standalone": answer.standalone_question, "notice": answer.notice,
            "citations": cited([c.to_dict() for c in answer.citations], hash_of(pipeline))}


def test_save_resume_rename_delete_and_per_user_isolation(tmp_path):
    store = Conversations.under(tmp_path)
    turn = {"question": "Q1?", "answer": "A1 [1]", "citations": [{"n": 1, "article_id": "a",
            "title": "T", "published": None, "source": None, "url": None, "quote": "q",
            "start": 0, "end": 1, "content_hash": "h"}]}
    cid = store.create("alice", "Q1? " + "word " * 40)
    assert store.add_turn("alice", cid, turn, {"top_k": 5}) == 1
    assert store.add_turn("alice", cid, {**turn, "question": "Q2?"}, {"top_k": 5}) == 2
    [listed] = store.list("alice")
    assert listed["turns"] == 2 and listed["title"].startswith("Q1? word") and \
        listed["title"].endswith("…") and len(listed["title"]) <= 81
    got = store.get("alice", cid)
    assert [t["question"] for t in got["turns"]] == ["Q1?", "Q2?"]
    assert got["turns"][0]["citations"] == turn["citations"]
    store.rename("alice", cid, "  Missile   talks ")
    assert store.get("alice", cid)["title"] == "Missile talks"

    # bob sees nothing of alice's, and cannot tell her conversation from a missing one
    assert store.list("bob") == []
    for attempt in (lambda: store.get("bob", cid), lambda: store.rename("bob", cid, "x"),
                    lambda: store.delete("bob", cid),
                    lambda: store.add_turn("bob", cid, turn, {}),
                    lambda: store.add_feedback("bob", 1, "", turn, {}, cid, 1)):
        with pytest.raises(NotFound) as exc:
            attempt()
        assert str(exc.value) == f"no conversation {cid!r}"
    assert len(store.get("alice", cid)["turns"]) == 2

    store.add_feedback("alice", -1, "wrong speaker", turn, {"top_k": 5}, cid, 2)
    assert store.feedback("bob") == [] and len(store.feedback("alice")) == 1
    store.delete("alice", cid)
    assert store.list("alice") == []
    with pytest.raises(NotFound):
        store.get("alice", cid)
    assert store.feedback("alice")[0]["note"] == "wrong speaker"   # feedback outlives its chat


def test_schema_is_versioned_and_a_newer_file_is_refused(tmp_path):
    store = Conversations.under(tmp_path)
    store.create("u", "q")
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer than this program"):
        store.list("u")


def test_a_failed_write_leaves_nothing_half_done(tmp_path):
    store = Conversations.under(tmp_path)
    cid = store.create("u", "q")
    bad = {"question": "q", "answer": "a", "citations": [{"quote": object()}]}  # not JSON
    with pytest.raises(TypeError):
        store.add_turn("u", cid, bad, {})
    assert store.get("u", cid)["turns"] == []
    with pytest.raises(ValueError, match="rating"):
        store.add_feedback("u", 0, "", {"question": "q", "answer": "a", "citations": []}, {})
    assert store.feedback("u") == []


def test_export_marks_edited_and_deleted_articles_never_repointing(fake_pipeline, tmp_path):
    fake_pipeline.ingest([SEED])
    store = Conversations.under(tmp_path)
    cid = store.create("", LAVROV)
    store.add_turn("", cid, saved_turn(fake_pipeline), answer_settings(fake_pipeline.settings))
    conv = store.get("", cid)
    cite = conv["turns"][0]["citations"][0]
    assert citation_status(cite, hash_of(fake_pipeline)) == "current"
    md = export_markdown(conv, hash_of(fake_pipeline))
    assert md.startswith(f"# {LAVROV}\n") and f"## Q1: {LAVROV}" in md
    assert f"  > {quote_line(cite['quote'])}" in md
    assert cite["title"] in md and cite["published"][:10] in md and "since" not in md

    edited = tmp_path / "000_066ea528e0fa7fc5.txt"
    edited.write_text(SEED.read_text(encoding="utf-8").replace("pretext", "excuse"),
                      encoding="utf-8")
    fake_pipeline.ingest([edited])
    assert citation_status(cite, hash_of(fake_pipeline)) == "edited"
    md = export_markdown(store.get("", cid), hash_of(fake_pipeline))
    assert "(article edited since this answer)" in md
    assert "pretext" in md, "the saved quote is shown as it was, not re-pointed to new text"
    fake_pipeline.delete(SEED_ID)
    assert "(article deleted since this answer)" in export_markdown(store.get("", cid),
                                                                    hash_of(fake_pipeline))


def test_users_from_pairs_and_a_hashed_file(tmp_path):
    users = Users.from_setting("alice:pw1, bob:s3cret:with:colons")
    assert users.names == ["alice", "bob"]
    assert users.check("alice", "pw1") and users.check("bob", "s3cret:with:colons")
    assert not users.check("alice", "pw2") and not users.check("carol", "")
    assert Users.from_setting("") is None
    with pytest.raises(ValueError, match="RAG_AUTH: expected user:password pairs.*'carol'"):
        Users.from_setting("alice:pw1,carol")
    path = tmp_path / "users"
    path.write_text(f"# team\nalice:{hash_password('pw1')}\nbob:{hash_password('pw2')}\n")
    users = Users.from_setting(str(path))
    assert users.check("bob", "pw2") and not users.check("bob", "pw1")
    assert "pw1" not in path.read_text()
    path.write_text("alice:plaintext\n")
    with pytest.raises(ValueError, match=r"users file .*line 1: the password of 'alice' is not "
                                         "hashed"):
        Users.from_setting(str(path))


def test_passwd_prints_a_line_the_users_file_accepts(tmp_path, monkeypatch, capsys):
    import io
    from rag.cli import main
    monkeypatch.setattr("sys.stdin", io.StringIO("hunter2\n"))
    assert main(["passwd", "dana", "--json"]) == 0
    line = json.loads(capsys.readouterr().out)["line"]
    (tmp_path / "users").write_text(line + "\n")
    assert Users.from_setting(str(tmp_path / "users")).check("dana", "hunter2")


def test_key_facts_of_cited_sentences():
    assert key_facts("Russian Foreign Minister Sergei Lavrov said the deployment was a "
                     "\"pretext\" to build up forces.") == ["Russian Foreign Minister Sergei "
                                                            "Lavrov", "pretext"]
    assert key_facts("The project cost 410 million euros and took four years.") == [
        "410 million"]
    assert key_facts("it rained all day.") == ["rained"]


def test_feedback_list_and_export_to_eval_cases(fake_pipeline, tmp_path, capsys, monkeypatch):
    from rag.cli import main
    monkeypatch.setenv("RAG_HOME", str(fake_pipeline.settings.home))
    fake_pipeline.ingest([SEED])
    store = Conversations.under(fake_pipeline.settings.home)
    settings = answer_settings(fake_pipeline.settings)
    cid = store.create("alice", LAVROV)
    first = saved_turn(fake_pipeline)
    store.add_turn("alice", cid, first, settings)
    second = saved_turn(fake_pipeline, "What did Wang Yi say about THAAD?")
    store.add_turn("alice", cid, second, settings)
    store.add_feedback("alice", 1, "", first, settings, cid, 1)
    store.add_feedback("bob", -1, "It quotes Lavrov, not Wang", second, settings)

    assert main(["feedback", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["user"], r["rating"]) for r in rows] == [("alice", 1), ("bob", -1)]
    assert rows[0]["citations"][0]["quote"] and rows[0]["settings"]["top_k"] == 5
    assert main(["feedback", "--user", "bob"]) == 0
    assert capsys.readouterr().out.startswith("#2 -1 ")

    out = tmp_path / "fb.yaml"
    assert main(["feedback", "export", str(out)]) == 0
    assert "1 regression case(s), 1 marked for review" in capsys.readouterr().out
    suite = yaml.safe_load(out.read_text(encoding="utf-8"))
    up, down = suite["cases"]
    assert suite["corpus"] == [] and up["id"] == "feedback-1" and up["question"] == LAVROV
    assert up["articles"] == [SEED_ID] and "review" not in up
    quotes = " ".join(c["quote"] for c in first["citations"])
    assert up["facts"] and all(f[0] in quotes for f in up["facts"])
    assert up["cite"] in first["citations"][0]["quote"]
    assert down["review"] is True and down["note"] == "It quotes Lavrov, not Wang"
    assert down["answer_given"] == second["answer"] and "facts" not in down
    assert export_suite([]).count("cases: []") == 1

    # `python -m rag eval --suite FILE.yaml`: the regression case runs on this archive, the
    # review case is listed, not run
    from eval.commands import cmd_eval
    from eval.runner import runs_on_archive
    assert runs_on_archive(str(out))
    args = SimpleNamespace(suite=str(out), report=None, json=True)
    args.emit = lambda payload, human: print(json.dumps(payload))
    assert cmd_eval(args, fake_pipeline) == 0
    [run] = json.loads(capsys.readouterr().out)["suites"]
    assert run["suite"] == "feedback" and run["review"] == ["feedback-2"]
    assert run["corpus"]["articles"] == 1 and run["metrics"]["cases"] == 1
    assert run["metrics"]["fact_recall"] == 1.0 and run["failures"] == []
    # the archive changes: the regression case now fails and the suite says so
    fake_pipeline.delete(SEED_ID)
    assert cmd_eval(args, fake_pipeline) == 1
    assert any("fact_recall" in f for f in json.loads(capsys.readouterr().out)["failures"])
