"""The quote index: two Chroma collections beside the store's passages (embedded or server).

- `quotes`: one row per quotation: its text, its sentence, the id of the passage it stands in,
  and its article's title/date/source, so a speaker's quotes list without touching the manifest.
  No vector of its own: topic matching reads its passage's stored vector. Encoding each
  quotation's sentence cost about a third more encoding time at ingest (measured by
  eval/bench_quotes.py), for a finer vector than the topic match needs;
- `quote_articles`: one row per article whose quotations are indexed, with their count. It is
  written last, so it is the proof that an article's quotations are complete.

Write protocol (inside the store's per-article protocol, while the article is `pending`):
delete the article's quote rows and marker -> add its quotations -> add its marker. A crash
leaves the article pending (the next sync removes and redoes it) or, for a backfill of an
already-ready article, rows without a marker, which the next sync replaces. `problems()` states
the invariants `rag check` enforces. Rows from Chroma become `StoredQuote`s here and only here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..articles import Article
from ..citations import Citation
from .extract import Quote

QUOTES = "quotes"
QUOTE_ARTICLES = "quote_articles"
_PAGE = 5000


@dataclass(frozen=True)
class StoredQuote:
    id: str
    quote: str
    article_id: str
    passage_id: str
    start: int
    end: int
    kind: str
    cue: str | None
    speaker: str | None
    speaker_label: str | None
    role: str | None
    context: str           # the sentence(s) the quotation stands in
    title: str
    published: str | None
    published_key: int
    source: str | None
    url: str | None

    def citation(self, n: int) -> Citation:
        """The quotation as citation [n]: its exact span of the article."""
        return Citation(n=n, article_id=self.article_id, title=self.title,
                        published=self.published, source=self.source, url=self.url,
                        quote=self.quote, start=self.start, end=self.end)

    def to_dict(self) -> dict:
        return {"speaker": self.speaker, "quote": self.quote, "cue": self.cue,
                "article_id": self.article_id, "title": self.title, "published": self.published,
                "source": self.source, "url": self.url, "start": self.start, "end": self.end}


def quote_rows(article: Article, quotes: list[Quote], passages) -> list[tuple[str, str, dict]]:
    """(id, text, metadata) per quotation of `article`; `passages` are the article's passages
    (each quotation points to the one holding its start)."""
    from ..store import date_key
    rows = []
    for i, q in enumerate(quotes):
        context = article.text[q.context_start:q.context_end]
        holder = next((p.id for p in passages if p.start <= q.start < p.end), "")
        meta = {"article_id": article.id, "passage_id": holder, "start": q.start, "end": q.end, "kind": q.kind,
                "cue": q.cue or "", "speaker": q.speaker or "", "speaker_label": q.speaker_label or "",
                "role": q.role or "", "context": context, "title": article.title,
                "published": article.published or "", "published_key": date_key(article.published),
                "source": article.source or "", "url": article.url or "",
                "speaker_key": (q.speaker or "").lower()}
        rows.append((f"{article.id}::q{i}", q.text, meta))
    return rows


def _from_row(qid: str, text: str, meta: dict) -> StoredQuote:
    return StoredQuote(
        id=qid, quote=text, article_id=meta["article_id"], passage_id=meta.get("passage_id", ""),
        start=int(meta["start"]),
        end=int(meta["end"]), kind=meta.get("kind", ""), cue=meta.get("cue") or None,
        speaker=meta.get("speaker") or None, speaker_label=meta.get("speaker_label") or None,
        role=meta.get("role") or None, context=meta.get("context", ""),
        title=meta.get("title", ""), published=meta.get("published") or None,
        published_key=int(meta.get("published_key", 0)), source=meta.get("source") or None,
        url=meta.get("url") or None)


class QuoteIndex:
    """Opened on the store's Chroma client on first use (listing articles never needs it)."""

    def __init__(self, store):
        self.store = store
        self._quotes = None
        self._articles = None
        self._speakers: tuple[tuple, list] | None = None   # (key, rows) of speaker_names()

    def _open(self):
        if self._quotes is None:
            client = self.store.open()._client
            schema = {"rag_schema": self.store.signature["rag_schema"]}
            self._quotes = client.get_or_create_collection(QUOTES, metadata=schema,
                                                           embedding_function=None)
            self._articles = client.get_or_create_collection(
                QUOTE_ARTICLES, metadata={"rag_schema": self.store.signature["rag_schema"]},
                embedding_function=None)
        return self._quotes, self._articles

    # -- writing -------------------------------------------------------------------------
    def replace(self, extracted: list[tuple[Article, list[Quote], list]]) -> None:
        """Replace the quotations of these (article, quotations, passages) (the protocol in
        the module docstring)."""
        if not extracted:
            return
        quotes, markers = self._open()
        ids = [a.id for a, _, _ in extracted]
        self.delete_many(ids)
        self._speakers = None
        rows = [row for article, qs, ps in extracted for row in quote_rows(article, qs, ps)]
        for i in range(0, len(rows), 1000):
            part = rows[i:i + 1000]
            # Chroma wants a vector per row; like the manifest, every row gets the same one
            quotes.add(ids=[r[0] for r in part], documents=[r[1] for r in part],
                       metadatas=[r[2] for r in part], embeddings=[[1.0]] * len(part))
        markers.upsert(ids=ids, metadatas=[{"quotes": len(qs)} for _, qs, _ in extracted],
                       embeddings=[[1.0]] * len(ids))

    def delete_many(self, article_ids: list[str]) -> None:
        if not article_ids:
            return
        quotes, markers = self._open()
        self._speakers = None
        markers.delete(ids=list(article_ids))
        quotes.delete(where={"article_id": {"$in": list(article_ids)}})

    def indexed_ids(self) -> set[str]:
        _, markers = self._open()
        return set(markers.get(include=[])["ids"])

    # -- reading -------------------------------------------------------------------------
    def iter_quotes(self, where: dict | None = None) -> Iterator[StoredQuote]:
        quotes, _ = self._open()
        offset = 0
        while True:
            got = quotes.get(where=where, include=["documents", "metadatas"], limit=_PAGE,
                             offset=offset)
            for qid, text, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                yield _from_row(qid, text, meta)
            if len(got["ids"]) < _PAGE:
                return
            offset += _PAGE

    def speaker_names(self) -> list[tuple[str, str, str, str, int, str]]:
        """(speaker, speaker_label, role, source, published_key, published) of every attributed
        quotation: what `people` builds its entries from, without the quote texts. Kept until
        the index's row counts change (reading them all costs a second at 7k quotations; every
        speaker question needs them)."""
        quotes, markers = self._open()
        key = (quotes.count(), markers.count())
        if self._speakers is not None and self._speakers[0] == key:
            return self._speakers[1]
        out, offset = [], 0
        while True:
            got = quotes.get(where={"speaker": {"$ne": ""}}, include=["metadatas"], limit=_PAGE,
                             offset=offset)
            for m in got["metadatas"]:
                out.append((m["speaker"], m.get("speaker_label", ""), m.get("role", ""),
                            m.get("source", ""), int(m.get("published_key", 0)),
                            m.get("published", "")))
            if len(got["ids"]) < _PAGE:
                self._speakers = (key, out)
                return out
            offset += _PAGE

    def vectors_of(self, quotes: list[StoredQuote]) -> dict[str, list[float]]:
        """quotation id -> the stored vector of the passage it stands in."""
        wanted = sorted({q.passage_id for q in quotes if q.passage_id})
        if not wanted:
            return {}
        got = self.store.passages.get(ids=wanted, include=["embeddings"])
        by_passage = {pid: list(v) for pid, v in zip(got["ids"], got["embeddings"])}
        return {q.id: by_passage[q.passage_id] for q in quotes if q.passage_id in by_passage}

    def nearest(self, vector: list[float], k: int) -> list[tuple[StoredQuote, float]]:
        """Attributed quotations standing in the k passages closest to `vector` (cosine)."""
        hits = self.store.dense_search(vector, k)
        cosine = {h.passage.id: h.score for h in hits}
        if not cosine:
            return []
        where = {"$and": [{"passage_id": {"$in": list(cosine)}}, {"speaker": {"$ne": ""}}]}
        return [(q, cosine[q.passage_id]) for q in self.iter_quotes(where=where)]

    def count(self) -> int:
        quotes, _ = self._open()
        return quotes.count()

    # -- invariants ----------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Every quotation belongs to a ready article and is exactly its text[start:end]; every
        ready article has a marker whose count matches its rows; no marker without an article."""
        from ..store import rows_without_ready_article
        problems: list[str] = []
        records = {r.article.id: r for r in self.store.records(status=None)}
        _, markers = self._open()
        got = markers.get(include=["metadatas"])
        marked = {aid: int(m.get("quotes", 0)) for aid, m in zip(got["ids"], got["metadatas"])}
        counts: dict[str, int] = {}
        texts: dict[str, str | None] = {}
        for q in self.iter_quotes():
            counts[q.article_id] = counts.get(q.article_id, 0) + 1
            rec = records.get(q.article_id)
            if rec is None or rec.status != "ready":
                continue
            if q.article_id not in texts:
                full = self.store.get_record(q.article_id)
                texts[q.article_id] = full.article.text if full else None
            text = texts[q.article_id]
            if text is None or text[q.start:q.end] != q.quote:
                problems.append(f"quotation {q.id}: not the text at {q.start}-{q.end} of its article")
        problems += rows_without_ready_article(counts, records, "quotations")
        for aid, n in marked.items():
            if aid not in records:
                problems.append(f"quote index marks unknown article {aid}")
            elif counts.get(aid, 0) != n:
                problems.append(f"article {aid}: quote index says {n} quotations, store has "
                                f"{counts.get(aid, 0)}")
        for aid, rec in records.items():
            if rec.status == "ready" and aid not in marked:
                problems.append(f"article {aid}: quotations not indexed (run ingest to add them)")
        return problems
