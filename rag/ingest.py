"""Sync a set of articles into the store: add / update / unchanged / remove, keyed by content hash.

Unchanged articles cost a hash comparison and write nothing. Changed ones are processed in
groups so that the encoder sees full batches; each group follows the store's crash-safe
protocol (pending -> replace passages -> ready). Only one ingest writes at a time (a file lock
under RAG_HOME), so the UI and the CLI can both ingest into the same store.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .articles import Article, LoadFailure, discover, load_file
from .chunking import Passage, chunk_article, embedding_text
from .config import Settings
from .store import Store

GROUP_PASSAGES = 128     # passages embedded and written together
Progress = Callable[[int, int], None]  # (passages done, passages to do)


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    duplicates: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    articles: int = 0
    passages: int = 0
    ids: list[str] = field(default_factory=list)   # ids of the articles seen in this sync

    def to_dict(self) -> dict:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "removed": self.removed, "failed": self.failed, "duplicates": self.duplicates,
                "articles": self.articles, "passages": self.passages}


@contextmanager
def writer_lock(settings: Settings):
    settings.home.mkdir(parents=True, exist_ok=True)
    with open(settings.home / "ingest.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def load_articles(paths: Iterable[Path], report: IngestReport) -> list[Article]:
    files, failures = discover(paths)
    articles: list[Article] = []
    by_id: dict[str, Article] = {}
    by_hash: dict[str, Article] = {}
    for f in files:
        loaded, errors = load_file(f)
        failures.extend(errors)
        for art in loaded:
            if art.id in by_id:
                failures.append(LoadFailure(art.path or str(f),
                                            f"duplicate article id {art.id!r} (first seen in {by_id[art.id].path})"))
                continue
            twin = by_hash.get(art.content_hash)
            if twin is not None:
                report.duplicates.append({"path": art.path, "id": art.id, "same_as": twin.id})
                continue
            by_id[art.id] = by_hash[art.content_hash] = art
            articles.append(art)
    report.failed.extend({"path": display_path(Path(x.path)) if ":" not in x.path else x.path,
                          "error": x.error} for x in failures)
    return articles


def recover_interrupted(store: Store) -> int:
    """Remove what an interrupted ingest left `pending` (it is redone if its source is synced)."""
    stale = [r.article.id for r in store.records(status="pending")]
    for aid in stale:
        store.delete_article(aid)
    return len(stale)


def _source_gone(path: str | None, roots: list[Path], seen_paths: set[str]) -> bool:
    if not path:
        return False
    file_part = Path(path.rsplit(":", 1)[0] if path.endswith(tuple("0123456789")) and ":" in path else path)
    if not file_part.exists():
        return True
    # Inside a folder we just scanned but not produced by it (e.g. a line removed from a .jsonl).
    resolved = file_part.resolve()
    return path not in seen_paths and any(resolved.is_relative_to(r) for r in roots)


def sync(paths: list[Path], store: Store, embedder, settings: Settings, *, prune: bool = False,
         progress: Progress | None = None) -> IngestReport:
    report = IngestReport()
    with writer_lock(settings):
        recover_interrupted(store)
        articles = load_articles(paths, report)
        known = store.hashes()
        todo = [a for a in articles if known.get(a.id) != (a.content_hash, "ready")]
        report.unchanged = len(articles) - len(todo)
        report.ids = [a.id for a in articles]
        _write(todo, known, store, embedder, settings, report, progress)
        if prune:
            roots = [Path(p).resolve() for p in paths if Path(p).is_dir()]
            seen = {a.path for a in articles if a.path}
            for rec in store.records(status="ready"):
                if rec.article.id not in set(report.ids) and _source_gone(rec.article.path, roots, seen):
                    store.delete_article(rec.article.id)
                    report.removed += 1
        report.articles = len(store.records(status="ready"))
        report.passages = store.passage_count()
    return report


def _write(todo: list[Article], known: dict, store: Store, embedder, settings: Settings,
           report: IngestReport, progress: Progress | None) -> None:
    if not todo:
        return
    chunked: list[tuple[Article, list[Passage]]] = []
    for art in todo:
        passages = chunk_article(art, embedder.count_tokens, embedder.token_offsets,
                                 settings.chunk_tokens, settings.chunk_overlap)
        chunked.append((art, passages))
    total = sum(len(p) for _, p in chunked)
    done = 0
    group: list[tuple[Article, list[Passage]]] = []
    for i, item in enumerate(chunked):
        group.append(item)
        if sum(len(p) for _, p in group) >= GROUP_PASSAGES or i == len(chunked) - 1:
            _write_group(group, store, embedder)
            done += sum(len(p) for _, p in group)
            if progress:
                progress(done, total)
            group = []
    for art in todo:
        if art.id in known:
            report.updated += 1
        else:
            report.added += 1


def _write_group(group: list[tuple[Article, list[Passage]]], store: Store, embedder) -> None:
    for art, _ in group:
        store.mark_pending(art)
        store.delete_passages(art.id)
    texts = [embedding_text(art.title, p.text) for art, passages in group for p in passages]
    vectors = embedder.embed_texts(texts) if texts else []
    offset = 0
    for art, passages in group:
        if passages:
            store.add_passages(art, passages, vectors[offset:offset + len(passages)])
        offset += len(passages)
        store.mark_ready(art, len(passages))
