"""Helpers for tests that drive real processes: `python -m rag ...`, the app, store inspection.

A test process must not hold its own Chroma client on a store another process writes (Chroma
caches each store's vector index per process), so the state of such a store is read by a
fresh `python` process here too (`store_state`).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from eval.common import free_port  # noqa: F401  (the tests' one free-port helper)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BBC = "bbc-news-summary/bbc_news_summary.jsonl"


def rag_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a subprocess using the store under `home`."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update(RAG_HOME=str(home), PYTHONUNBUFFERED="1", **extra)
    return env


def rag_command(*args: str) -> list[str]:
    return [PYTHON, "-m", "rag", *args]


def run_rag(home: Path, *args: str, timeout: float = 300,
            **env: str) -> subprocess.CompletedProcess:
    """Run `python -m rag ARGS` to the end; stdout and stderr captured as text."""
    return subprocess.run(rag_command(*args), cwd=ROOT, env=rag_env(home, **env), text=True,
                          capture_output=True, timeout=timeout)


def json_out(proc: subprocess.CompletedProcess):
    """The one JSON document a `--json` command printed (a clear failure otherwise)."""
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"exit {proc.returncode}, stdout is not one JSON document:\n"
                             f"{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-3000:]}") from None



# Reads a store the way a freshly started process sees it: manifest, passage rows, the
# consistency invariants, and whether every passage row is findable through the vector index
# (rows present in SQLite but missing from the HNSW index would be invisible to dense search).
_INSPECT = r"""
import json
from rag.config import Settings, apply_offline_env
apply_offline_env()
from rag.store import Store, consistency_problems
store = Store(Settings.from_env(), "inspector").open(check_signature=False)
records = store.records(status=None)
passages = {}
for hit in store.iter_passages():
    passages.setdefault(hit.passage.article_id, []).append(hit.passage.id)
rows = store.passages.get(include=["embeddings"])
missing = []
for pid, vector in zip(rows["ids"], rows["embeddings"]):
    found = store.passages.query(query_embeddings=[list(vector)],
                                 n_results=min(5, len(rows["ids"])))
    if pid not in found["ids"][0]:
        missing.append(pid)
print(json.dumps({
    "ready": [r.article.id for r in records if r.status == "ready"],
    "pending": [r.article.id for r in records if r.status == "pending"],
    "manifest_passages": {r.article.id: r.passages for r in records},
    "passages": passages,
    "passage_rows": len(rows["ids"]),
    "problems": consistency_problems(store),
    "not_in_vector_index": missing,
}))
"""


def store_state(home: Path) -> dict:
    proc = subprocess.run([PYTHON, "-c", _INSPECT], cwd=ROOT, env=rag_env(home), text=True,
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, f"store inspection failed:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    return path


def bbc_records(data_dir: Path, count: int, every: int = 1, skip: int = 0) -> list[dict]:
    """`count` BBC records (every `every`-th after `skip`), with no two of the same text.

    The dataset holds ~98 pairs of identical articles under two ids; the ingest stores such a
    pair once, so tests that count articles take only one of each.
    """
    source = data_dir / BBC
    if not source.is_file():
        import pytest
        pytest.skip(f"{source} not found (set RAG_DATA)")
    chosen: list[dict] = []
    texts: set[str] = set()
    with open(source, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i < skip or (i - skip) % every:
                continue
            record = json.loads(line)
            key = " ".join(record["article"].split())
            if key in texts:
                continue
            texts.add(key)
            chosen.append(record)
            if len(chosen) == count:
                break
    return chosen


class IngestProcess:
    """`python -m rag ingest` in the background, its progress bar watched on stderr."""

    def __init__(self, home, path, **env):
        self.home = home
        self.started = time.monotonic()
        self.proc = subprocess.Popen(rag_command("ingest", str(path), "--json"), cwd=ROOT,
                                     env=rag_env(home, **env), text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.progress: list[tuple[int, int]] = []     # (passages written, passages known)
        self.wrote = threading.Event()                # set once a first group is stored
        self.stderr: list[str] = []
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self):
        for line in self.proc.stderr:                 # text mode turns tqdm's \r into lines
            self.stderr.append(line)
            m = re.search(r"embedding:.*?(\d+)/(\d+)", line)
            if m:
                self.progress.append((int(m[1]), int(m[2])))
                self.wrote.set()

    def wait_for_lock_file(self, timeout=120):
        """The ingest holds the writer lock: the store is open and the sync has begun."""
        deadline = time.monotonic() + timeout
        while not (self.home / "ingest.lock").exists() and self.proc.poll() is None:
            assert time.monotonic() < deadline, "ingest never took the writer lock"
            time.sleep(0.05)

    def kill(self) -> bool:
        """SIGKILL; True if the process was still running (a real crash, not a finished run)."""
        running = self.proc.poll() is None
        if running:
            self.proc.send_signal(signal.SIGKILL)
        self.finish()
        return running and self.proc.returncode == -signal.SIGKILL

    def finish(self, timeout=600) -> int:
        self.proc.wait(timeout=timeout)
        self._watcher.join(timeout=10)
        self.stdout = self.proc.stdout.read()
        return self.proc.returncode

    def report(self) -> dict:
        return json_out(subprocess.CompletedProcess([], self.proc.returncode, self.stdout,
                                                    "".join(self.stderr)))
