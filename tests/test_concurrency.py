"""20 simultaneous chat sessions through the UI's HTTP API on loopback, real model, while a CLI
ingest writes into the same store: every answer cites its own session's article, no session
sees another's history, and the p95 latency is reported.
"""
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import DATA
from processes import IngestProcess, bbc_records, free_port, store_state, write_jsonl

# (mayor, town, project, cost in millions): invented, so only one article can answer.
TOWNS = [
    ("Ilse Brandvik", "Velmora", "tram depot", 12),
    ("Odile Marchetti", "Karsvik", "footbridge", 7),
    ("Tomasz Wierzbicki", "Dunmere", "swimming pool", 19),
    ("Amara Okonkwo", "Oristan", "library", 23),
    ("Kenji Watanabe", "Halvard", "ferry terminal", 31),
    ("Lucia Ferreira", "Brennock", "bus station", 9),
    ("Sven Aaltonen", "Marrowby", "solar farm", 44),
    ("Priya Raghunathan", "Tollesk", "ice rink", 6),
    ("Bruno Castellane", "Quenby", "concert hall", 58),
    ("Maeve Dunleavy", "Arnsfeld", "sports stadium", 71),
    ("Dariusz Kowalczyk", "Pellwick", "fish market", 5),
    ("Hana Novakova", "Severin", "fire station", 14),
    ("Rafael Quintana", "Lusmoor", "cycle lane", 3),
    ("Greta Lindqvist", "Ombersley", "water tower", 8),
    ("Emeka Nwosu", "Kilbride", "youth centre", 11),
    ("Yara Haddad", "Rostheim", "botanical garden", 16),
    ("Niamh Gallagher", "Trevanna", "car park", 21),
    ("Aurelio Bassani", "Wexcombe", "museum wing", 27),
    ("Ingrid Solberg", "Faraday Cross", "hospital annexe", 64),
    ("Mateo Arriaga", "Glenhollow", "railway bridge", 38),
]
SESSIONS = len(TOWNS)
FOLLOW_UP = "And what did the mayor say about noise?"


def article_id(i: int) -> str:
    return f"town-{i:02d}"


def write_towns(folder):
    folder.mkdir()
    for i, (mayor, town, project, cost) in enumerate(TOWNS):
        (folder / f"{article_id(i)}.md").write_text(
            f"{town} council backs the {project}\n\nPosted on : 2024-03-{i + 1:02d} 10:00 KST\n\n"
            f"{mayor}, the mayor of {town}, said the council approved a new {project} costing "
            f"{cost} million euros.\n\n{mayor} said building work on the {project} starts in "
            f"the spring.\n\nResidents of {town} asked about noise, and {mayor} said the "
            f"{project} in {town} would be quiet at night.\n", encoding="utf-8")
    return folder


def p95(values):
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def run_session(url: str, i: int, start: threading.Barrier, latencies: list) -> dict:
    """One browser-like session: its own client (own Gradio session state), two chat turns and
    one /ask call; returns what it saw."""
    from gradio_client import Client
    mayor, town, project, cost = TOWNS[i]
    client = Client(url, verbose=False, httpx_kwargs={"timeout": 300})
    start.wait()

    def timed(*args, api_name):
        t0 = time.perf_counter()
        out = client.predict(*args, api_name=api_name)
        latencies.append(time.perf_counter() - t0)
        return out

    question = f"What did {mayor} say about the {project}?"
    history, panel1, _ = timed(question, [], [], "", "", "", api_name="/chat")
    history, panel2, _ = timed(FOLLOW_UP, history, [], "", "", "", api_name="/chat")
    asked = timed(f"How much will the {project} in {town} cost?", "", "", "", "", api_name="/ask")
    return {"history": history, "first_panel": panel1, "panel": panel2, "ask": asked}


def check_session(i: int, seen: dict) -> None:
    mayor, town, project, cost = TOWNS[i]
    own = article_id(i)
    history = seen["history"]
    assert [m["role"] for m in history] == ["user", "assistant"] * 2, history
    assert mayor in str(history[0]["content"]) and FOLLOW_UP[:12] in str(history[2]["content"])
    first, second = str(history[1]["content"]), str(history[3]["content"])
    assert f"{cost} million" in first, f"session {i}: {first}"
    # All twenty articles have a mayor talking about noise: only this session's history
    # (its first question) can lead the follow-up back to its own article.
    newest = seen["panel"].split("</section>")[0]
    assert own in newest and (town in second or mayor in second), \
        f"session {i} follow-up lost its history: {second} / {newest[:300]}"
    assert own in seen["first_panel"]
    # What the session asked, and what its follow-up was searched as, name only its own
    # mayor (an answer may still quote a neighbouring article: that is retrieval, not leakage).
    asked = re.findall(r'<div class="(?:turn-q|cite-meta)">((?:Q\d|searched as).*?)</div>',
                       seen["panel"])
    assert len(asked) == 3 and mayor in asked[1], f"session {i}: {asked}"
    users = " ".join(str(m["content"]) for m in history[::2]) + " ".join(asked)
    leaked = [name for name, *_ in TOWNS if name != mayor and name in users]
    assert not leaked, f"session {i} sees other sessions' questions: {leaked} in {asked}"
    ask = seen["ask"]
    assert ask.get("citations"), f"session {i}: {ask}"
    assert ask["citations"][0]["article_id"] == own and f"{cost} million" in ask["answer"]


@pytest.mark.slow
def test_twenty_chat_sessions_at_once_while_a_cli_ingest_writes(tmp_path, real_pipeline):
    import app
    report = real_pipeline.ingest([write_towns(tmp_path / "towns")])
    assert report.added == SESSIONS and report.failed == []
    bbc = write_jsonl(tmp_path / "bbc.jsonl", bbc_records(DATA, 50, every=25))
    port = free_port()
    demo = app.serve(real_pipeline, server_port=port, prevent_thread_lock=True, quiet=True)
    ingest = None
    try:
        url = f"http://127.0.0.1:{port}/"
        ingest = IngestProcess(real_pipeline.settings.home, bbc)
        while not ingest.wrote.wait(0.2):             # start once it is writing passages
            assert ingest.proc.poll() is None, "".join(ingest.stderr)[-3000:]
        latencies: list[float] = []
        start = threading.Barrier(SESSIONS)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(SESSIONS) as pool:
            futures = [pool.submit(run_session, url, i, start, latencies) for i in range(SESSIONS)]
            seen = [f.result(timeout=600) for f in futures]
        wall = time.perf_counter() - t0
        ingest_overlapped_to_end = ingest.proc.poll() is None
        assert ingest.finish() == 0, "".join(ingest.stderr)[-3000:]
    finally:
        if ingest and ingest.proc.poll() is None:
            ingest.kill()
        demo.close()
    for i, result in enumerate(seen):
        check_session(i, result)
    print(f"\nconcurrency: {SESSIONS} sessions, {len(latencies)} requests in {wall:.1f} s; "
          f"latency p50 {sorted(latencies)[len(latencies) // 2]:.2f} s, "
          f"p95 {p95(latencies):.2f} s, max {max(latencies):.2f} s; CLI ingest still writing "
          f"when the last session finished: {ingest_overlapped_to_end}")
    assert len(latencies) == 3 * SESSIONS
    state = store_state(real_pipeline.settings.home)
    assert len(state["ready"]) == SESSIONS + 50 and state["pending"] == []
    assert state["problems"] == [] and state["not_in_vector_index"] == []
