"""Bad input and hostile content lose nothing: every bad file gets its own clear error, the rest
is ingested, the store stays consistent; oversized or control-character questions get a clear
error from the CLI and the HTTP API; uploaded file names cannot write outside the upload folder.
"""
import hashlib
import json
import os
import re

import numpy as np
import pytest

from conftest import SEED
from fakes import FakeEmbedder
from processes import json_out, run_rag, store_state
from rag.articles import MAX_FILE_BYTES
from rag.store import consistency_problems

GOOD = ("Velmora harbour reopens\n\nPosted on : 2024-05-02 09:00 KST\n\n"
        "Harbour master Ilse Brandvik said the cranes of Velmora were repaired on Monday.\n\n"
        "Work on the north quay resumes next week, she said.\n")
# UTF-8 with one corrupt byte: the accents around it must survive (not become "ZÃ¼rich").
BROKEN_UTF8 = ("Zürich café reopens\n\nThe naïve owner of the Zürich café said prices rose "
               "by a fifth.\n").encode("utf-8").replace(b"rose", b"ro\xffse")
LATIN1 = "Café in München\n\nThe owner of the café in München said a coffee costs £5.\n"
FEED = "\n".join([
    json.dumps({"id": "feed-1", "title": "Council budget", "body": "The Dunmere council approved "
                "the budget on Tuesday."}),
    '{"id": "feed-2", "title": "cut off',                       # malformed line
    json.dumps({"id": "feed-3", "title": "Only a title"}),      # missing body
    "[1, 2, 3]",                                                # not an object
    json.dumps({"text": "Karsvik opened a footbridge over the river on Friday."}),  # no id/title
]) + "\n"

# file -> what its per-file error says (the path in the report names the file or line)
EXPECTED_FAILURES = {
    "empty.txt": "empty file",
    "whitespace.md": "empty file",
    "photo.txt": "binary file",
    "scripts-only.html": "no article text found",
    "feed.jsonl:2": "invalid JSON",
    "feed.jsonl:3": "no article text",
    "feed.jsonl:4": "not a JSON object",
    "too-big.txt": "file too large",
    "dangling.txt": "broken symbolic link",
    "loop.txt": "symbolic link loop",
}
STORED = {"good", "latin1", "broken-utf8", "feed-1"}   # plus the id-less feed line 5


def build_hostile_folder(folder):
    folder.mkdir()
    (folder / "good.txt").write_text(GOOD, encoding="utf-8")
    (folder / "twin-copy.txt").write_text(GOOD, encoding="utf-8")   # same article, other name
    (folder / "empty.txt").write_bytes(b"")
    (folder / "whitespace.md").write_text(" \n\t\n \u00a0 \r\n\n")
    (folder / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
                                       + bytes(range(256)) * 8)
    (folder / "latin1.txt").write_bytes(LATIN1.encode("latin-1"))
    (folder / "broken-utf8.txt").write_bytes(BROKEN_UTF8)
    (folder / "scripts-only.html").write_text(
        "<html><head><script>var tracker = 1;</script><style>p {}</style></head>"
        "<body><script>document.write('hello')</script><noscript></noscript></body></html>")
    (folder / "feed.jsonl").write_text(FEED, encoding="utf-8")
    line = b"The harbour report continues with more cranes and quays. " * 1024 + b"\n"
    with open(folder / "too-big.txt", "wb") as fh:          # just over the limit, real text
        for _ in range(MAX_FILE_BYTES // len(line)):
            fh.write(line)
        fh.write(line[:MAX_FILE_BYTES % len(line) + 1])
    assert (folder / "too-big.txt").stat().st_size == MAX_FILE_BYTES + 1
    os.symlink(folder / "gone.txt", folder / "dangling.txt")
    os.symlink(folder / "loop.txt", folder / "loop.txt")
    os.symlink(folder, folder / "cycle")                      # a folder cycle: walked once
    return folder


def assert_report_names_each_bad_file(report: dict):
    failed = {f["path"]: f["error"] for f in report["failed"]}
    for name, error in EXPECTED_FAILURES.items():
        matches = [e for p, e in failed.items() if p.endswith("/" + name) or p == name]
        assert len(matches) == 1, f"{name}: expected one failure, report has {failed}"
        assert error in matches[0], f"{name}: {matches[0]!r}"
    assert len(failed) == len(EXPECTED_FAILURES), f"unexpected failures: {failed}"
    assert [(d["id"], d["same_as"]) for d in report["duplicates"]] == [("twin-copy", "good")]
    assert report["duplicates"][0]["path"].endswith("twin-copy.txt")


def test_hostile_folder_each_file_gets_its_error_and_the_rest_ingest(fake_pipeline, tmp_path):
    folder = build_hostile_folder(tmp_path / "hostile")
    report = fake_pipeline.ingest([folder]).to_dict()
    assert_report_names_each_bad_file(report)
    ids = {r.article.id for r in fake_pipeline.articles()}
    assert STORED <= ids and len(ids) == len(STORED) + 1 and report["added"] == len(ids)
    [no_id] = ids - STORED
    assert "footbridge" in fake_pipeline.article_text(no_id)
    assert "twin-copy" not in ids                                   # the duplicate is stored once
    latin = fake_pipeline.article("latin1").article
    assert latin.title == "Café in München" and "costs £5" in latin.text
    broken = fake_pipeline.article("broken-utf8").article
    assert broken.title == "Zürich café reopens" and "naïve owner" in broken.text
    assert "ro\ufffdse" in broken.text                              # the bad byte, marked
    assert consistency_problems(fake_pipeline.store) == []
    again = fake_pipeline.ingest([folder]).to_dict()                # idempotent, same errors
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, len(ids))
    assert_report_names_each_bad_file(again)


def test_a_broken_link_named_on_the_command_line_is_reported(tmp_path):
    from rag.articles import discover
    os.symlink(tmp_path / "moved-away.md", tmp_path / "link.md")
    os.symlink(tmp_path / "loop.md", tmp_path / "loop.md")
    files, failures = discover([tmp_path / "link.md", tmp_path / "loop.md"])
    assert files == []
    assert [(f.path.endswith("link.md"), "broken symbolic link" in f.error,
             "moved-away.md" in f.error) for f in failures[:1]] == [(True, True, True)]
    assert failures[1].path.endswith("loop.md") and "symbolic link loop" in failures[1].error


def test_file_deleted_between_discovery_and_loading(fake_pipeline, tmp_path, monkeypatch):
    import rag.ingest
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("a-first", "b-vanishing", "c-last"):
        (folder / f"{name}.md").write_text(f"{name} report\n\nThe {name} article says hello.\n")
    real_discover = rag.ingest.discover

    def discover_then_delete(paths):
        found = real_discover(paths)
        (folder / "b-vanishing.md").unlink()      # gone after the listing, before the reading
        return found

    monkeypatch.setattr(rag.ingest, "discover", discover_then_delete)
    report = fake_pipeline.ingest([folder])
    assert [(f["path"].endswith("b-vanishing.md"), "cannot read file" in f["error"])
            for f in report.failed] == [(True, True)], report.failed
    assert {r.article.id for r in fake_pipeline.articles()} == {"a-first", "c-last"}
    assert consistency_problems(fake_pipeline.store) == []


class HashEmbedder(FakeEmbedder):
    """One vector per text from its SHA-256: fast enough for the thousands of passages of a
    5 MB file (the bag-of-words fake spends a second per hundred)."""

    def _embed(self, text):
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.dim)
        return (v / np.linalg.norm(v)).tolist()


def test_size_limit_refuses_just_over_and_takes_a_5mb_single_line(settings, tmp_path):
    from rag.pipeline import Pipeline
    pipeline = Pipeline(settings, embedder=HashEmbedder()).open()
    over = tmp_path / "over.txt"
    with open(over, "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)
    rng = np.random.default_rng(5)
    words = [f"crane{i}" for i in range(3000)] + ["harbour", "quay", "the", "of", "and"]
    line = " ".join(rng.choice(words, size=5 * 2**20 // 8))[:5 * 2**20].strip()
    big = tmp_path / "one-line.txt"
    big.write_text(f"One very long line\n\n{line}\n", encoding="utf-8")
    report = pipeline.ingest([over, big])
    assert [f["path"].endswith("over.txt") for f in report.failed] == [True]
    assert report.failed[0]["error"] == (f"file too large ({MAX_FILE_BYTES + 1:,} bytes > "
                                         f"{MAX_FILE_BYTES // 2**20} MB)")
    assert report.added == 1
    text = pipeline.article_text("one-line")
    assert text == line
    spans = sorted((h.passage.index, h.passage.start, h.passage.end, h.passage.text)
                   for h in pipeline.store.iter_passages())
    assert len(spans) > 1000, "a 5 MB line must be cut into many passages, not truncated"
    assert spans[0][1] == 0 and spans[-1][2] == len(text)
    for (_, _, end, _), (_, start, _, _) in zip(spans, spans[1:]):
        assert start <= end or not text[end:start].strip(), "text between passages was lost"
    assert all(text[s:e] == t for _, s, e, t in spans)
    assert consistency_problems(pipeline.store) == []


@pytest.mark.slow
def test_cli_ingest_of_hostile_folder_reports_each_file_and_exits_1(tmp_path):
    folder = build_hostile_folder(tmp_path / "hostile")
    home = tmp_path / "home"
    proc = run_rag(home, "ingest", str(folder), "--json")
    report = json_out(proc)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert_report_names_each_bad_file(report)
    assert report["added"] == report["articles"] == len(STORED) + 1
    state = store_state(home)
    assert set(state["ready"]) >= STORED and len(state["ready"]) == len(STORED) + 1
    assert state["pending"] == [] and state["problems"] == []
    assert state["not_in_vector_index"] == []
    assert state["passage_rows"] == sum(state["manifest_passages"].values()) == report["passages"]
    clean = run_rag(home, "ingest", str(folder / "good.txt"), "--json")
    assert clean.returncode == 0 and json_out(clean)["unchanged"] == 1


# ---------------------------------------------------------------- hostile questions

@pytest.mark.integration
def test_cli_refuses_huge_and_control_character_questions(tmp_path):
    home = tmp_path / "home"
    huge = run_rag(home, "ask", "Lavrov " * 14_286, "--json")             # 100,002 characters
    assert huge.returncode == 2 and "Traceback" not in huge.stderr
    assert re.search(r"question: too long \(100002 characters; the limit is \d+\)",
                     json_out(huge)["error"])
    controls = run_rag(home, "ask", "\x1b\x07\x08\x01\x1f\x7f\x1b\x0b", "--json")
    assert controls.returncode == 2 and json_out(controls) == {"error": "question: empty"}


@pytest.fixture
def served_seed(fake_pipeline):
    import app
    from processes import free_port
    fake_pipeline.ingest([SEED])
    port = free_port()
    demo = app.serve(fake_pipeline, server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", fake_pipeline
    demo.close()


def test_api_refuses_huge_and_control_character_questions(served_seed):
    from gradio_client import Client
    url, _ = served_seed
    client = Client(url, verbose=False)
    huge = "Lavrov THAAD " * 8_000
    assert "too long (104000 characters" in client.predict(huge, "", "", "", "",
                                                          api_name="/ask")["error"]
    assert client.predict("\x00\x1b\x07\x08\x7f\x0b\x1f", "", "", "", "",
                          api_name="/ask") == {"error": "question: empty"}
    history, _, box = client.predict(huge, [], [], "", "", "", api_name="/chat")
    assert "too long" in str(history[-1]["content"]) and box == huge   # kept for editing
    noisy = client.predict("What did\x00 Lavrov\x07 say\x1b about THAAD?\x08", "", "", "", "",
                           api_name="/ask")
    assert noisy["refused"] is False and "pretext" in noisy["answer"]   # the server lives on
    assert "\x00" not in noisy["question"] and "\x1b" not in noisy["question"]


# ---------------------------------------------------------------- hostile upload names

def test_uploaded_file_names_cannot_write_outside_the_upload_folder(served_seed, tmp_path):
    import httpx
    url, pipeline = served_seed
    names = ["../../escape-a.md", "..\\..\\escape-b.md", "/etc/cron.d/escape-c.md",
             "....//....//escape-d.md", "%2e%2e%2fescape-e.md", ".bashrc.md", "nul\x00byte.md"]
    dots = httpx.post(f"{url}gradio_api/upload", files=[("files", ("..", b"x", "text/plain"))])
    assert dots.status_code == 400 and "Invalid file name" in dots.text
    files = [("files", (name, f"Upload {i}\n\nClerk Amara Okonkwo filed report number {i}.\n"
                        .encode(), "text/markdown")) for i, name in enumerate(names)]
    before = {p for p in tmp_path.rglob("*")}
    uploaded = httpx.post(f"{url}gradio_api/upload", files=files)
    assert uploaded.status_code == 200, uploaded.text
    file_data = [{"path": p, "orig_name": n, "meta": {"_type": "gradio.FileData"}}
                 for p, n in zip(uploaded.json(), names)]
    result = call_raw(url, "add", [file_data, "", "", ""])
    assert result is not None, "the /add call failed"
    uploads = (pipeline.settings.home / "uploads").resolve()
    created = {p for p in tmp_path.rglob("*")} - before
    outside = [p for p in created if not p.resolve().is_relative_to(pipeline.settings.home)]
    assert outside == [], f"written outside RAG_HOME: {outside}"
    assert not os.path.exists("/etc/cron.d/escape-c.md")
    stored = [r.article for r in pipeline.articles() if r.article.id != "000_066ea528e0fa7fc5"]
    assert len(stored) == len(names), result   # each upload kept, under a safe name
    assert all(os.path.realpath(a.path).startswith(str(uploads) + os.sep) for a in stored)
    assert all(p.parent == uploads for p in uploads.iterdir())
    assert not any(p.name.startswith(".") for p in uploads.iterdir())


def test_api_cannot_ingest_a_server_file_it_did_not_upload(served_seed, tmp_path):
    url, pipeline = served_seed
    secret = tmp_path / "secret-notes.md"
    secret.write_text("Vault memo\n\nThe vault code is 4321.\n")
    file_data = [{"path": str(secret), "meta": {"_type": "gradio.FileData"}}]
    assert call_raw(url, "add", [file_data, "", "", ""]) is None       # refused by the server
    assert [r.article.id for r in pipeline.articles()] == ["000_066ea528e0fa7fc5"]
    assert not (pipeline.settings.home / "uploads" / "secret-notes.md").exists()


def call_raw(url: str, api: str, data: list):
    """POST to Gradio's HTTP API without gradio_client (which would upload local paths itself);
    returns the output list, or None when the server answered with an error event."""
    import httpx
    started = httpx.post(f"{url}gradio_api/call/{api}", json={"data": data}, timeout=60)
    assert started.status_code == 200, started.text
    stream = httpx.get(f"{url}gradio_api/call/{api}/{started.json()['event_id']}", timeout=120)
    events = re.findall(r"^event: (\w+)\ndata: (.*)$", stream.text, re.M)
    kind, payload = events[-1]
    return json.loads(payload) if kind == "complete" else None
