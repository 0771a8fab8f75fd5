"""Saved conversations and answer feedback: one SQLite file under RAG_HOME, per user.

Rules:
- Every read and write names its user, and a conversation or feedback row of another user is
  treated exactly like one that does not exist (`NotFound`), so a user cannot tell the two apart.
- Each change is one SQLite transaction (all of it or nothing, WAL journal), so a crash or a
  second process never leaves half a turn; a connection is opened per operation, which is what
  lets the UI's worker threads and the CLI share the file.
- The schema is versioned with `PRAGMA user_version`; a file from a newer version is refused
  rather than misread.
- A saved citation keeps its quote, title, date, source, link and the cited article's content
  hash at the time of the answer. On resume and export it is compared with the archive now: an
  article since edited or deleted is reported as such; the citation is never re-pointed.
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .errors import InputError, NotFound   # NotFound: no such conversation or feedback for this user

SCHEMA_VERSION = 1
TITLE_CHARS = 80
_SCHEMA = """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, title TEXT NOT NULL,
    created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE INDEX conversations_user ON conversations (user, updated);
CREATE TABLE turns (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    turn INTEGER NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,
    standalone TEXT, notice TEXT, citations TEXT NOT NULL, settings TEXT NOT NULL,
    created TEXT NOT NULL, PRIMARY KEY (conversation_id, turn));
CREATE TABLE feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, conversation_id TEXT, turn INTEGER,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)), note TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL, answer TEXT NOT NULL, citations TEXT NOT NULL,
    settings TEXT NOT NULL, created TEXT NOT NULL);
CREATE INDEX feedback_user ON feedback (user, created);
"""
# Settings that shape an answer, saved with each turn and each feedback row.
ANSWER_SETTINGS = ("top_k", "candidate_k", "dense_weight", "rerank_k", "sentence_weight",
                   "answer_sentences", "refuse_below", "llm", "llm_model", "chunk_tokens",
                   "chunk_overlap", "embed_backend")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def answer_settings(settings) -> dict:
    return {name: getattr(settings, name) for name in ANSWER_SETTINGS}


def title_from(question: str) -> str:
    title = " ".join(question.split())
    return title if len(title) <= TITLE_CHARS else title[:TITLE_CHARS].rsplit(" ", 1)[0] + "…"


def cited(citations: list[dict], hash_of: Callable[[str], str | None]) -> list[dict]:
    """Citations as saved: each with the content hash its article has now (None: not stored)."""
    return [{**c, "content_hash": hash_of(c["article_id"])} for c in citations]


def citation_status(citation: dict, hash_of: Callable[[str], str | None]) -> str:
    """'current', 'edited' (the article changed since the answer) or 'deleted'."""
    now_hash = hash_of(citation["article_id"])
    if now_hash is None:
        return "deleted"
    return "current" if now_hash == citation.get("content_hash") else "edited"


class Conversations:
    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def under(cls, home: Path) -> "Conversations":
        return cls(Path(home) / "conversations.sqlite3")

    @contextmanager
    def _db(self):
        """One connection, one transaction: committed on success, rolled back on any error."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=30)) as conn:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn)
            with conn:
                yield conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path}: conversation schema {version} is newer than this "
                               f"program's {SCHEMA_VERSION}; upgrade the program")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:   # another process won?
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- conversations -------------------------------------------------------------------
    def create(self, user: str, first_question: str) -> str:
        cid = uuid.uuid4().hex[:16]
        stamp = now()
        with self._db() as db:
            db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?, ?)",
                       (cid, user, title_from(first_question), stamp, stamp))
        return cid

    def add_turn(self, user: str, conversation_id: str, turn: dict, settings: dict) -> int:
        """Append one answered question; returns its turn number (1, 2, ...)."""
        with self._db() as db:
            self._owned(db, user, conversation_id)
            number = db.execute("SELECT COALESCE(MAX(turn), 0) + 1 FROM turns WHERE "
                                "conversation_id = ?", (conversation_id,)).fetchone()[0]
            db.execute("INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                conversation_id, number, turn["question"], turn["answer"], turn.get("standalone"),
                turn.get("notice"), json.dumps(turn["citations"], ensure_ascii=False),
                json.dumps(settings), now()))
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now(), conversation_id))
        return number

    def list(self, user: str) -> list[dict]:
        with self._db() as db:
            rows = db.execute(
                "SELECT c.id, c.title, c.created, c.updated, COUNT(t.turn) AS turns FROM "
                "conversations c LEFT JOIN turns t ON t.conversation_id = c.id WHERE c.user = ? "
                "GROUP BY c.id ORDER BY c.updated DESC, c.id", (user,)).fetchall()
        return [dict(r) for r in rows]

    def get(self, user: str, conversation_id: str) -> dict:
        """{"id","title","created","updated","turns":[{"turn","question","answer","standalone",
        "notice","citations","settings","created"}]}"""
        with self._db() as db:
            head = self._owned(db, user, conversation_id)
            turns = db.execute("SELECT * FROM turns WHERE conversation_id = ? ORDER BY turn",
                               (conversation_id,)).fetchall()
        out = {k: head[k] for k in ("id", "title", "created", "updated")}
        out["turns"] = [{"turn": t["turn"], "question": t["question"], "answer": t["answer"],
                         "standalone": t["standalone"], "notice": t["notice"],
                         "citations": json.loads(t["citations"]),
                         "settings": json.loads(t["settings"]), "created": t["created"]}
                        for t in turns]
        return out

    def rename(self, user: str, conversation_id: str, title: str) -> None:
        title = " ".join((title or "").split())[:200]
        if not title:
            raise InputError("title: empty")
        with self._db() as db:
            self._owned(db, user, conversation_id)
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))

    def delete(self, user: str, conversation_id: str) -> None:
        with self._db() as db:
            self._owned(db, user, conversation_id)
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def _owned(self, db, user: str, conversation_id: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM conversations WHERE id = ? AND user = ?",
                         (str(conversation_id or ""), user)).fetchone()
        if row is None:
            raise NotFound(f"no conversation {conversation_id!r}")
        return row

    # -- feedback ------------------------------------------------------------------------
    def add_feedback(self, user: str, rating: int, note: str, turn: dict, settings: dict,
                     conversation_id: str | None = None, turn_number: int | None = None) -> int:
        if rating not in (-1, 1):
            raise InputError("rating: expected 1 (thumbs up) or -1 (thumbs down)")
        with self._db() as db:
            if conversation_id:
                self._owned(db, user, conversation_id)
            cur = db.execute(
                "INSERT INTO feedback (user, conversation_id, turn, rating, note, question, "
                "answer, citations, settings, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (user, conversation_id, turn_number, rating, (note or "").strip(),
                 turn["question"], turn["answer"], json.dumps(turn["citations"], ensure_ascii=False),
                 json.dumps(settings), now()))
            return cur.lastrowid

    def feedback(self, user: str | None) -> list[dict]:
        """One user's feedback, oldest first; `None` is every user's (the local CLI)."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM feedback" + (" WHERE user = ?" if user is not None
                                                          else "") + " ORDER BY id",
                              (user,) if user is not None else ()).fetchall()
        return [{**dict(r), "citations": json.loads(r["citations"]),
                 "settings": json.loads(r["settings"])} for r in rows]


def quote_line(quote: str) -> str:
    """A quote on one line, as the export shows it under its citation."""
    return " ".join(quote.split())


def export_markdown(conversation: dict, hash_of: Callable[[str], str | None]) -> str:
    """A conversation as Markdown: each question, its answer and every citation with its quote,
    article title, date, source and link, and whether the article has changed since."""
    lines = [f"# {conversation['title']}", "",
             f"Saved conversation {conversation['id']}, started {conversation['created']}.", ""]
    for t in conversation["turns"]:
        lines += [f"## Q{t['turn']}: {t['question']}", "", t["answer"], ""]
        if t.get("notice"):
            lines += [f"> {t['notice']}", ""]
        for c in t["citations"]:
            status = citation_status(c, hash_of)
            flag = {"current": "", "edited": " **(article edited since this answer)**",
                    "deleted": " **(article deleted since this answer)**"}[status]
            meta = ", ".join([(c.get("published") or "undated")[:10],
                              c.get("source") or "unknown source"]
                             + ([f"<{c['url']}>"] if c.get("url") else []))
            lines += [f"- [{c['n']}] *{c['title']}* ({meta}){flag}",
                      f"  > {quote_line(c['quote'])}"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
