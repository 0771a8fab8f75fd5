"""Chroma (embedded or server) holding passages and the per-article manifest.

Two collections:
- `passages`: one vector per passage, used through llama-index's ChromaVectorStore;
- `articles`: the manifest, one record per article (cleaned text, metadata, content hash,
  status). Keeping it in Chroma means several app workers against one Chroma server share it.

Write protocol per article (crash safety): mark the record `pending` -> delete its old passages
-> add the new ones in batches -> mark it `ready` with its content hash. A crash at any point
leaves `pending`, which never counts as unchanged; the next sync removes or redoes it. Ingest
applies each step to a group of articles at once (one Chroma call per step and group).
A reindex fills a second passage collection and swaps it in only when complete, so a crash
leaves the old one (and the manifest) as they were.

Revision: every write (an ingest group, a delete, a prune, a reindex) ends by storing a new
random token in the manifest collection's metadata. Readers that cache what they read (BM25)
compare tokens, one cheap Chroma call, and so notice writes by any process on the same Chroma,
including a delete plus an add that leave the passage count as it was.
Rows from Chroma and nodes from llama-index are converted to our dataclasses here and only here.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
import uuid
from typing import Iterator

from .articles import Article
from .chunking import Passage
from .config import Settings
from .errors import InputError, StoreVersionError

SCHEMA_VERSION = 1
PASSAGES = "passages"
REINDEX = "passages_reindex"   # filled by a reindex, renamed to PASSAGES when complete
ARTICLES = "articles"
WRITE_BATCH = 250              # passages per Chroma add
_ARTICLE_FIELDS = ("title", "published", "modified", "author", "source", "url", "category", "path")
_GET_PAGE = 5000
REVISION = "revision"          # key of the write token in the manifest collection's metadata


@dataclass(frozen=True)
class ArticleRecord:
    article: Article
    content_hash: str
    passages: int
    status: str          # "ready" | "pending"


@dataclass(frozen=True)
class PassageHit:
    passage: Passage
    title: str
    published: str | None
    source: str | None
    url: str | None
    score: float         # cosine similarity for dense hits, raw score otherwise


def date_key(value: str | None) -> int:
    """YYYYMMDD as an int, for range filters in Chroma (0 when there is no date)."""
    if not value:
        return 0
    try:
        return int(dt.date.fromisoformat(value[:10]).strftime("%Y%m%d"))
    except ValueError:
        return 0


class Store:
    def __init__(self, settings: Settings, embed_model_name: str, embed_backend: str = "torch"):
        self.settings = settings
        self.signature = {"rag_schema": SCHEMA_VERSION, "embed_model": embed_model_name,
                          "embed_backend": embed_backend}
        self._client = None
        self.passages = None      # chromadb Collection
        self.articles = None      # chromadb Collection (manifest)
        self._vector_store = None  # llama-index ChromaVectorStore over `passages`, when first used
        self._quotes = None        # rag.quotes.index.QuoteIndex, when first used

    # -- opening -------------------------------------------------------------------------
    def open(self, check_signature: bool = True) -> "Store":
        """Connect; `check_signature=False` only for a reindex, which replaces the passages."""
        if self._client is not None:
            return self
        self._client = make_client(self.settings)
        meta = {"hnsw:space": "cosine", **self.signature}
        self.passages = self._client.get_or_create_collection(
            PASSAGES, metadata=meta, embedding_function=None)
        self.articles = self._client.get_or_create_collection(
            ARTICLES, metadata=self._manifest_metadata(""), embedding_function=None)
        if check_signature:
            self._check_signature()
        self._use_passages(self.passages)
        return self

    def _use_passages(self, collection) -> None:
        self.passages = collection
        self._vector_store = None

    @property
    def vector_store(self):
        """Built on first use: llama-index costs seconds to import, and listing articles,
        showing one or checking the store never needs it."""
        if self._vector_store is None:
            from llama_index.vector_stores.chroma import ChromaVectorStore
            self._vector_store = ChromaVectorStore(chroma_collection=self.passages)
        return self._vector_store

    def _check_signature(self) -> None:
        found = self.passages.metadata or {}
        for key, want in self.signature.items():
            if found.get(key) != want:
                where = self.settings.chroma_url or self.settings.chroma_dir
                raise StoreVersionError(
                    f"the store at {where} was built with {key}={found.get(key)!r}, but this "
                    f"configuration uses {want!r}; vectors of different models or versions never "
                    "mix. Run `python -m rag reindex` to rebuild it from the stored articles.")

    # -- revision ------------------------------------------------------------------------
    @staticmethod
    def _manifest_metadata(revision: str) -> dict:
        return {"rag_schema": SCHEMA_VERSION, REVISION: revision}

    def revision(self) -> str:
        """The token of the last write to this store by any process ("" before the first).
        Read from Chroma each time: a collection object caches the metadata it was opened with."""
        collection = self._client.get_collection(ARTICLES, embedding_function=None)
        return str((collection.metadata or {}).get(REVISION, ""))

    def _written(self) -> None:
        """Called after each write, so a reader never sees the new token before the new data."""
        self.articles.modify(metadata=self._manifest_metadata(uuid.uuid4().hex))

    def begin_reindex(self) -> None:
        """Write passages into a fresh side collection (a leftover of a crashed reindex goes)."""
        if REINDEX in {c.name for c in self._client.list_collections()}:
            self._client.delete_collection(REINDEX)
        self._use_passages(self._client.create_collection(
            REINDEX, metadata={"hnsw:space": "cosine", **self.signature}, embedding_function=None))

    def finish_reindex(self, passage_counts: dict[str, int]) -> None:
        """Swap the side collection in for PASSAGES and record each article's new count."""
        self._client.delete_collection(PASSAGES)
        self.passages.modify(name=PASSAGES)
        self._use_passages(self._client.get_collection(PASSAGES, embedding_function=None))
        ids = list(passage_counts)
        for i in range(0, len(ids), _GET_PAGE):
            page = ids[i:i + _GET_PAGE]
            self.articles.update(ids=page, metadatas=[{"passages": passage_counts[a]} for a in page])
        self._written()

    # -- manifest ------------------------------------------------------------------------
    def _record_from_row(self, rid: str, meta: dict, text: str | None) -> ArticleRecord:
        fields = {f: meta.get(f) or None for f in _ARTICLE_FIELDS}
        article = Article(id=rid, text=text or "", **{**fields, "title": meta.get("title", "")})
        return ArticleRecord(article=article, content_hash=meta.get("content_hash", ""),
                             passages=int(meta.get("passages", 0)), status=meta.get("status", ""))

    def get_record(self, article_id: str, with_text: bool = True) -> ArticleRecord | None:
        include = ["metadatas", "documents"] if with_text else ["metadatas"]
        got = self.articles.get(ids=[article_id], include=include)
        if not got["ids"]:
            return None
        text = got["documents"][0] if with_text else None
        return self._record_from_row(got["ids"][0], got["metadatas"][0], text)

    def records(self, status: str | None = "ready", with_text: bool = False) -> list[ArticleRecord]:
        return list(self.iter_records(status, with_text))

    def iter_records(self, status: str | None = "ready", with_text: bool = False,
                     page: int = _GET_PAGE) -> Iterator[ArticleRecord]:
        """Manifest records page by page (a reindex streams the texts without holding them all)."""
        include = ["metadatas", "documents"] if with_text else ["metadatas"]
        where = {"status": status} if status else None
        offset = 0
        while True:
            got = self.articles.get(where=where, include=include, limit=page, offset=offset)
            for i, rid in enumerate(got["ids"]):
                text = got["documents"][i] if with_text else None
                yield self._record_from_row(rid, got["metadatas"][i], text)
            if len(got["ids"]) < page:
                return
            offset += page

    def hashes(self) -> dict[str, tuple[str, str]]:
        """article id -> (content hash, status), for the sync's unchanged check. Streams the
        manifest page by page, keeping two strings per article, not every record's metadata."""
        return {r.article.id: (r.content_hash, r.status) for r in self.iter_records(status=None)}

    def mark_pending_many(self, articles: list[Article]) -> None:
        """Write each record (text and metadata) as `pending`: not yet counted as stored."""
        metas = []
        for article in articles:
            # None deletes a key: Chroma's upsert merges metadata, and a field the new version
            # of the article lacks must not survive from the old one.
            meta = {f: getattr(article, f) or None for f in _ARTICLE_FIELDS}
            meta.update(title=article.title, content_hash="", passages=0, status="pending",
                        published_key=date_key(article.published))
            metas.append(meta)
        # The manifest needs no vector; Chroma requires one, so every record gets the same.
        self.articles.upsert(ids=[a.id for a in articles], documents=[a.text for a in articles],
                             metadatas=metas, embeddings=[[1.0]] * len(articles))

    def mark_ready_many(self, done: list[tuple[Article, int]]) -> None:
        """Flip pending records to `ready` with their hash (text and fields were written already)."""
        self.articles.update(ids=[a.id for a, _ in done], metadatas=[
            {"content_hash": a.content_hash, "passages": n, "status": "ready"} for a, n in done])
        self._written()

    def delete_article(self, article_id: str) -> None:
        self.delete_passages_many([article_id])
        self.quotes.delete_many([article_id])
        self.articles.delete(ids=[article_id])
        self._written()

    # -- quotes (their own collections and protocol: rag/quotes/index.py) -----------------
    @property
    def quotes(self):
        if self._quotes is None:
            from .quotes.index import QuoteIndex
            self._quotes = QuoteIndex(self)
        return self._quotes

    # -- passages ------------------------------------------------------------------------
    def delete_passages_many(self, article_ids: list[str]) -> None:
        if article_ids:   # llama-index's ChromaVectorStore keys a node's article as document_id
            self.passages.delete(where={"document_id": {"$in": list(article_ids)}})
            self._written()

    def add_passage_rows(self, rows: list[tuple[Article, Passage, list[float]]]) -> None:
        """Add (article, passage, vector) rows, WRITE_BATCH per Chroma call."""
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        nodes = []
        for article, p, vector in rows:
            meta = {"article_id": article.id, "index": p.index, "start": p.start, "end": p.end,
                    "title": article.title, "published_key": date_key(article.published)}
            for key in ("published", "source", "url"):
                if getattr(article, key):
                    meta[key] = getattr(article, key)
            node = TextNode(id_=p.id, text=p.text, metadata=meta, embedding=list(vector),
                            excluded_embed_metadata_keys=list(meta),
                            excluded_llm_metadata_keys=list(meta),
                            relationships={NodeRelationship.SOURCE:
                                           RelatedNodeInfo(node_id=article.id)})
            nodes.append(node)
        for i in range(0, len(nodes), WRITE_BATCH):
            self.vector_store.add(nodes[i:i + WRITE_BATCH])
        if nodes:
            self._written()

    def passage_count(self) -> int:
        return self.passages.count()

    def article_count(self, status: str = "ready") -> int:
        """Manifest records with `status`. Asks for ids only: fetching every record's metadata
        to count them makes an ingest's peak memory grow with the store."""
        return len(self.articles.get(where={"status": status}, include=[])["ids"])

    def iter_passages(self, where: dict | None = None) -> Iterator[PassageHit]:
        """Every stored passage (BM25 index build, consistency checks), in pages."""
        offset = 0
        while True:
            got = self.passages.get(where=where, include=["documents", "metadatas"],
                                    limit=_GET_PAGE, offset=offset)
            for pid, text, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                yield hit_from_row(pid, text, meta, 0.0)
            if len(got["ids"]) < _GET_PAGE:
                return
            offset += _GET_PAGE

    def dense_search(self, embedding: list[float], k: int, filters=None) -> list[PassageHit]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        k = min(k, self.passage_count())
        if k <= 0:
            return []
        result = self.vector_store.query(
            VectorStoreQuery(query_embedding=embedding, similarity_top_k=k, filters=filters))
        # Chroma's vector index is loaded once per process: a passage that another process (a
        # CLI ingest or delete beside the UI) removed since then comes back without its row.
        return [hit_from_node(node, sim) for node, sim in zip(result.nodes, result.similarities)
                if "article_id" in (node.metadata or {})]


def make_client(settings: Settings):
    """chromadb's HttpClient for RAG_CHROMA_URL, else an embedded store under RAG_HOME."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    url = settings.chroma_url
    if url:
        from urllib.parse import urlparse
        u = urlparse(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise InputError(f"RAG_CHROMA_URL={url!r}: expected http://host:port")
        return chromadb.HttpClient(host=u.hostname, port=u.port or 8000,
                                   ssl=u.scheme == "https", settings=chroma_settings)
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


def hit_from_row(pid: str, text: str, meta: dict, score: float) -> PassageHit:
    passage = Passage(id=pid, article_id=meta["article_id"], index=int(meta["index"]),
                      start=int(meta["start"]), end=int(meta["end"]), text=text)
    return PassageHit(passage=passage, title=meta.get("title", ""),
                      published=meta.get("published"), source=meta.get("source"),
                      url=meta.get("url"), score=score)


def hit_from_node(node, similarity: float) -> PassageHit:
    """llama-index's Chroma store reports exp(-distance); with cosine space, cos = 1 - distance."""
    import math
    cosine = 1.0 + math.log(similarity) if similarity > 0 else -1.0
    return hit_from_row(node.node_id, node.get_content(), node.metadata, cosine)


def rows_without_ready_article(counts: dict[str, int], records: dict, rows: str) -> list[str]:
    """The rule every per-article collection keeps: rows only for ready articles of the
    manifest. `counts` is rows per article id, `records` the manifest by id."""
    problems = []
    for aid, n in counts.items():
        rec = records.get(aid)
        if rec is None:
            problems.append(f"{n} orphaned {rows} of unknown article {aid}")
        elif rec.status != "ready":
            problems.append(f"article {aid} is {rec.status} but has {n} {rows}")
    return problems


def consistency_problems(store: Store) -> list[str]:
    """Invariants a healthy store keeps (used by tests and `python -m rag check`)."""
    problems: list[str] = []
    records = {r.article.id: r for r in store.records(status=None)}
    counts: dict[str, int] = {}
    seen: set[str] = set()
    for hit in store.iter_passages():
        pid = hit.passage.id
        if pid in seen:
            problems.append(f"duplicate passage id {pid}")
        seen.add(pid)
        counts[hit.passage.article_id] = counts.get(hit.passage.article_id, 0) + 1
    problems += rows_without_ready_article(counts, records, "passages")
    for aid, n in counts.items():
        rec = records.get(aid)
        if rec is not None and rec.status == "ready" and rec.passages != n:
            problems.append(f"article {aid}: manifest says {rec.passages} passages, store has {n}")
    for aid, rec in records.items():
        if rec.status == "ready" and rec.passages and aid not in counts:
            problems.append(f"article {aid}: manifest says {rec.passages} passages, store has 0")
    return problems + store.quotes.problems()

