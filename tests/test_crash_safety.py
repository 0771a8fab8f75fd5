"""Crash safety with real processes: `kill -9` of `python -m rag ingest` at seeded random points,
then ingesting again (two CLI ingests at once, on overlapping inputs) leaves every article
exactly once, no orphaned or duplicate passages and the counts of an uninterrupted ingest.
The UI and a CLI ingest writing at once leave the same consistent store.
"""
import random
import time

import pytest

from conftest import DATA
from processes import IngestProcess, bbc_records, free_port, store_state, write_jsonl

# Small passages: ~1000 for 40 articles, several write groups per run, so that every run has
# groups left to interrupt (a killed run commits about 250 passages first).
CHUNKING = {"RAG_CHUNK_TOKENS": "24", "RAG_CHUNK_OVERLAP": "4"}
KILL_RUNS = ("startup", "writing", "writing", "startup", "writing")   # where each kill aims
KILL_SEED = 8


def expected_passages(jsonl, embedder, tokens: int, overlap: int) -> dict[str, int]:
    """Passages per article that an uninterrupted ingest makes (same loader and chunker)."""
    from rag.articles import load_file
    from rag.chunking import chunk_article
    articles, failures = load_file(jsonl)
    assert failures == []
    return {a.id: len(chunk_article(a, embedder.count_tokens, embedder.token_offsets,
                                    tokens, overlap)) for a in articles}


def assert_complete(state: dict, expected: dict[str, int]):
    assert sorted(state["ready"]) == sorted(expected), "articles missing or extra"
    assert state["pending"] == [] and state["problems"] == []
    for aid, n in expected.items():
        assert state["passages"].get(aid) is not None and \
            sorted(state["passages"][aid]) == sorted(f"{aid}::{i}" for i in range(n)), aid
    assert state["passage_rows"] == sum(expected.values()), "duplicate or orphaned passages"
    assert state["not_in_vector_index"] == [], "passages stored but not searchable"


@pytest.mark.slow
def test_kill_9_at_random_points_then_two_ingests_at_once_complete(tmp_path, real_embedder):
    records = bbc_records(DATA, 50, every=40)
    # One file name in two folders: the loader takes a jsonl's name as its articles' source,
    # so records in both files are the same articles.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    sample = write_jsonl(tmp_path / "a" / "bbc.jsonl", records[:40])
    overlapping = write_jsonl(tmp_path / "b" / "bbc.jsonl", records[30:])
    home = tmp_path / "home"
    rng = random.Random(KILL_SEED)
    outcomes = []
    inspected = None
    for aim in KILL_RUNS:
        # The lock file outlives its holder; a fresh one shows when this run takes the lock.
        (home / "ingest.lock").unlink(missing_ok=True)
        run = IngestProcess(home, sample, **CHUNKING)
        if aim == "startup":            # imports, store opening, recovery, model load, chunking
            run.wait_for_lock_file()
            time.sleep(rng.uniform(0.0, 2.0))
        else:                           # while groups are being embedded and written
            while not run.wrote.wait(0.2) and run.proc.poll() is None:
                pass
            time.sleep(rng.uniform(0.0, 1.0))
        killed = run.kill()
        outcomes.append((aim, "killed" if killed else f"exit {run.proc.returncode}",
                         run.progress[-1] if run.progress else None))
        if killed and aim == "writing" and inspected is None:
            inspected = store_state(home)
            # A crash leaves whole articles or `pending` ones, never rows of unknown articles.
            assert all("is pending but has" in p for p in inspected["problems"]), inspected
            assert inspected["not_in_vector_index"] == []
    print("\nkill runs (aim, outcome, last progress seen):", outcomes)
    mid_write = [o for o in outcomes if o[0] == "writing" and o[1] == "killed"]
    assert len(mid_write) >= 2, f"kills did not land while writing: {outcomes}"
    assert inspected is not None
    assert inspected["pending"] or 0 < len(inspected["ready"]) < 40, inspected

    # Then two writers at once: the interrupted sync again, and one sharing 10 of its articles.
    runs = [IngestProcess(home, sample, **CHUNKING), IngestProcess(home, overlapping, **CHUNKING)]
    assert [r.finish() for r in runs] == [0, 0], ["".join(r.stderr)[-2000:] for r in runs]
    reports = [r.report() for r in runs]
    for report, count in zip(reports, (40, 20)):
        assert report["failed"] == [] and report["duplicates"] == []
        assert report["added"] + report["updated"] + report["unchanged"] == count
    # The writer lock serialises them: whichever went second found the shared ten unchanged.
    assert reports[0]["unchanged"] >= 10 or reports[1]["unchanged"] == 10, reports
    expected = expected_passages(sample, real_embedder, 24, 4)
    expected.update(expected_passages(overlapping, real_embedder, 24, 4))
    assert len(expected) == 50
    final = max(reports, key=lambda r: r["articles"])
    assert final["articles"] == 50 and final["passages"] == sum(expected.values())
    assert_complete(store_state(home), expected)


@pytest.mark.slow
def test_ui_upload_and_cli_ingest_at_once(tmp_path, real_pipeline):
    import app
    from gradio_client import Client, handle_file
    records = bbc_records(DATA, 40, every=30, skip=3)
    by_ui = write_jsonl(tmp_path / "uploaded.jsonl", records[:25])
    by_cli = write_jsonl(tmp_path / "cli.jsonl", records[15:])
    port = free_port()
    demo = app.serve(real_pipeline, server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, httpx_kwargs={"timeout": 300})
        cli = IngestProcess(real_pipeline.settings.home, by_cli)
        cli.wait_for_lock_file()          # the CLI is syncing: the UI's ingest has to wait
        assert cli.proc.poll() is None
        result = client.predict([handle_file(str(by_ui))], "", "", "", api_name="/add")[0]
        assert cli.finish() == 0, "".join(cli.stderr)[-3000:]
        assert "✗" not in result and "The archive holds" in result, result
        # The UI still answers from what it ingested itself.
        answer = client.predict(records[0]["title"], records[0]["id"], "", "", "", api_name="/ask")
        assert answer.get("citations") and answer["citations"][0]["article_id"] == records[0]["id"]
    finally:
        demo.close()
    expected = expected_passages(by_ui, real_pipeline.embedder, 200, 40)
    expected.update(expected_passages(by_cli, real_pipeline.embedder, 200, 40))
    assert_complete(store_state(real_pipeline.settings.home), expected)
