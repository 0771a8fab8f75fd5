"""Sync a set of articles into the store: add / update / unchanged / remove, keyed by content hash.

Articles come from files and folders, and from URLs (pages and feeds, fetched by rag.feeds in
the reader thread): a fetched article is synced exactly like a file's.

Unchanged articles cost a hash comparison and write nothing. Changed ones stream through with
bounded memory: a reader thread loads one file at a time, cleans and chunks its changed articles
into groups of about GROUP_PASSAGES passages and stays at most QUEUE_GROUPS groups ahead, while
the calling thread embeds each group and writes it. Each group follows the store's crash-safe
protocol (pending -> replace passages -> ready). Only one ingest writes at a time (a file lock
under RAG_HOME), so the UI and the CLI can both ingest into the same store.
"""
from __future__ import annotations

import fcntl
import os
import queue
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .articles import Article, LoadFailure, discover, load_file
from .chunking import Passage, chunk_article, embedding_text
from .config import Settings
from .quotes import extract_quotes
from .store import Store

GROUP_PASSAGES = 128     # passages embedded and written together (one Chroma add per group)
QUEUE_GROUPS = 4         # chunked groups the reader may hold ahead of the encoder
REINDEX_PAGE = 500       # manifest records (with their text) read at a time by a reindex
# (passages written, passages chunked so far): the second grows while files are still being read.
Progress = Callable[[int, int], None]


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
    # what this sync wrote, one {"change": added|updated|removed, "id", "title", "path"} each
    changes: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "removed": self.removed, "failed": self.failed, "duplicates": self.duplicates,
                "articles": self.articles, "passages": self.passages, "changes": self.changes}


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


def _loaded(paths: Iterable[Path], urls: Iterable[str], fetcher,
            report: IngestReport) -> Iterator[list[Article]]:
    """Each file's articles, then each URL's (a page, or a feed's entries one at a time)."""
    files, failures = discover(paths)
    _report_failures(report, failures)
    for f in files:
        loaded, errors = load_file(f)
        _report_failures(report, errors)
        yield loaded
    if urls:
        from .feeds import articles_from_url
        for url in urls:
            for item in articles_from_url(url, fetcher):
                if isinstance(item, LoadFailure):
                    _report_failures(report, [item])
                else:
                    yield [item]


def iter_articles(paths: Iterable[Path], report: IngestReport, urls: Iterable[str] = (),
                  fetcher=None) -> Iterator[Article]:
    """Articles of every file under `paths` and every URL in `urls` (fetched with `fetcher`),
    one file or page in memory at a time; problems go to report."""
    first_path: dict[str, str | None] = {}
    id_of_hash: dict[str, str] = {}
    for loaded in _loaded(paths, urls, fetcher, report):
        for art in loaded:
            if art.id in first_path:
                _report_failures(report, [LoadFailure(
                    art.path or art.id,
                    f"duplicate article id {art.id!r} (first seen in {first_path[art.id]})")])
                continue
            twin = id_of_hash.get(art.content_hash)
            if twin is not None:
                report.duplicates.append({"path": art.path, "id": art.id, "same_as": twin})
                continue
            first_path[art.id] = art.path
            id_of_hash[art.content_hash] = art.id
            yield art


def _report_failures(report: IngestReport, failures: list[LoadFailure]) -> None:
    report.failed.extend({"path": display_path(Path(x.path)) if ":" not in x.path else x.path,
                          "error": x.error} for x in failures)


def recover_interrupted(store: Store) -> int:
    """Remove what an interrupted ingest left `pending` (it is redone if its source is synced)."""
    stale = [r.article.id for r in store.records(status="pending")]
    for aid in stale:
        store.delete_article(aid)
    return len(stale)


def _source_gone(path: str | None, roots: list[Path], seen_paths: set[str]) -> bool:
    if not path or path.lower().startswith(("http://", "https://")):
        return False      # a fetched article: the web page going away is not a reason to forget it
    file_part = Path(path.rsplit(":", 1)[0] if path.endswith(tuple("0123456789")) and ":" in path else path)
    if not file_part.exists():
        return True
    # Inside a folder we just scanned but not produced by it (e.g. a line removed from a .jsonl).
    resolved = file_part.resolve()
    return path not in seen_paths and any(resolved.is_relative_to(r) for r in roots)


def sync(paths: list[Path], store: Store, embedder, settings: Settings, *, prune: bool = False,
         progress: Progress | None = None, urls: Iterable[str] = (),
         fetcher=None) -> IngestReport:
    """Bring the store in line with `paths` and `urls` (see the module docstring)."""
    report = IngestReport()
    with writer_lock(settings):
        recover_interrupted(store)
        known = store.hashes()
        seen_paths: set[str] = set()
        about: dict[str, tuple[str, str | None]] = {}

        def changed() -> Iterator[Article]:   # runs in the reader thread
            for art in iter_articles(paths, report, urls, fetcher):
                report.ids.append(art.id)
                if art.path:
                    seen_paths.add(art.path)
                if known.get(art.id) == (art.content_hash, "ready"):
                    report.unchanged += 1
                else:
                    about[art.id] = (art.title, art.path)
                    yield art

        written = embed_and_write(changed(), store, embedder, settings, progress)
        index_missing_quotes(store)
        for aid in written:
            title, path = about[aid]
            report.changes.append({"change": "updated" if aid in known else "added", "id": aid,
                                   "title": title, "path": path})
        report.updated = sum(1 for aid in written if aid in known)
        report.added = len(written) - report.updated
        if prune:
            roots = [Path(p).resolve() for p in paths if Path(p).is_dir()]
            synced = set(report.ids)
            for rec in store.records(status="ready"):
                if rec.article.id not in synced and _source_gone(rec.article.path, roots,
                                                                 seen_paths):
                    store.delete_article(rec.article.id)
                    report.removed += 1
                    report.changes.append({"change": "removed", "id": rec.article.id,
                                           "title": rec.article.title, "path": rec.article.path})
        report.articles = store.article_count("ready")
        report.passages = store.passage_count()
    return report


def reindex(store: Store, embedder, settings: Settings,
            progress: Progress | None = None) -> dict:
    """Re-embed every stored article from the manifest's text with `embedder`.

    The store must be opened with `check_signature=False`. New passages go to a side collection
    that replaces the old one only once complete, so an interrupted reindex changes nothing.
    """
    with writer_lock(settings):
        recover_interrupted(store)
        store.begin_reindex()
        stored = (r.article for r in store.iter_records(status="ready", with_text=True,
                                                         page=REINDEX_PAGE))
        counts = embed_and_write(stored, store, embedder, settings, progress, manifest=False)
        store.finish_reindex(counts)   # quotations keep pointing at the same passage ids
    return {"articles": len(counts), "passages": sum(counts.values()),
            "embed_model": embedder.name, "embed_backend": embedder.backend}


_END = object()


class _ReaderFailed:
    def __init__(self, error: BaseException):
        self.error = error


def index_missing_quotes(store: Store) -> int:
    """Index the quotations of ready articles that have none indexed: articles stored before
    the quote index existed, or a backfill a crash cut short. Unchanged stores write nothing."""
    missing = {r.article.id for r in store.iter_records(status="ready")} - store.quotes.indexed_ids()
    done = 0
    for batch in _chunks(sorted(missing), REINDEX_PAGE):
        records = [r for r in (store.get_record(aid) for aid in batch) if r]
        store.quotes.replace([(r.article, extract_quotes(r.article.text),
                               [h.passage for h in store.iter_passages({"article_id": r.article.id})])
                              for r in records])
        done += len(batch)
    return done


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def embed_and_write(articles: Iterable[Article], store: Store, embedder, settings: Settings,
                    progress: Progress | None = None, *, manifest: bool = True) -> dict[str, int]:
    """Chunk (reader thread) -> embed -> write, group by group; returns passages per article.

    `manifest=True` follows the ingest protocol (pending, replace passages, ready); a reindex
    passes False and only adds passages.
    """
    groups: queue.Queue = queue.Queue(maxsize=QUEUE_GROUPS)
    stop = threading.Event()
    chunked = [0]

    def put(item) -> bool:
        while not stop.is_set():
            try:
                groups.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            group: list[tuple[Article, list[Passage], list]] = []
            size = 0
            for art in articles:
                passages = chunk_article(art, embedder.count_tokens, embedder.token_offsets,
                                         settings.chunk_tokens, settings.chunk_overlap)
                # quotations are extracted here, in the reader thread, beside the chunking
                group.append((art, passages, extract_quotes(art.text) if manifest else []))
                size += len(passages)
                chunked[0] += len(passages)
                if size >= GROUP_PASSAGES:
                    if not put(group):
                        return
                    group, size = [], 0
            if group and not put(group):
                return
            put(_END)
        except BaseException as exc:   # handed to the writing thread, which re-raises it
            put(_ReaderFailed(exc))

    reader = threading.Thread(target=read, name="ingest-reader", daemon=True)
    reader.start()
    written: dict[str, int] = {}
    done = 0
    try:
        while (item := groups.get()) is not _END:
            if isinstance(item, _ReaderFailed):
                raise item.error
            _write_group(item, store, embedder, manifest)
            written.update((art.id, len(passages)) for art, passages, _ in item)
            done += sum(len(passages) for _, passages, _ in item)
            if progress:
                progress(done, chunked[0])
    finally:
        stop.set()
        reader.join()
    return written


def _write_group(group: list[tuple[Article, list[Passage], list]], store: Store, embedder,
                 manifest: bool) -> None:
    articles = [art for art, _, _ in group]
    if manifest:
        store.mark_pending_many(articles)
        store.delete_passages_many([art.id for art in articles])
    rows = [(art, p) for art, passages, _ in group for p in passages]
    vectors = embedder.embed_texts([embedding_text(a.title, p.text) for a, p in rows]) if rows else []
    store.add_passage_rows([(a, p, v) for (a, p), v in zip(rows, vectors, strict=True)])
    if manifest:
        store.quotes.replace([(art, quotes, passages) for art, passages, quotes in group])
        store.mark_ready_many([(art, len(passages)) for art, passages, _ in group])
