"""Hybrid retrieval: dense (Chroma) + BM25 (llama-index's BM25Retriever), fused by relative score,
then the head of the fused list re-scored by how close its best-matching sentence is to the question.

Metadata filters (article ids, source, date range) apply to both retrievers: Chroma gets them as
llama-index MetadataFilters, BM25 as a per-query weight mask over its corpus.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .chunking import embedding_text
from .errors import InputError
from .sentences import sentence_spans
from .store import PassageHit, Store, date_key
from .terms import content_terms


@dataclass(frozen=True)
class Filters:
    article_ids: tuple[str, ...] = ()
    source: str | None = None
    since: str | None = None       # YYYY-MM-DD, inclusive
    until: str | None = None

    def __post_init__(self):
        for name in ("since", "until"):
            value = getattr(self, name)
            if value and date_key(value) == 0:
                raise InputError(f"filter {name}={value!r}: expected a date as YYYY-MM-DD")

    @property
    def empty(self) -> bool:
        return not (self.article_ids or self.source or self.since or self.until)

    def accepts(self, article_id: str, source: str | None, published_key: int) -> bool:
        if self.article_ids and article_id not in self.article_ids:
            return False
        if self.source and source != self.source:
            return False
        if self.since and published_key < date_key(self.since):
            return False
        if self.until and (published_key == 0 or published_key > date_key(self.until)):
            return False
        return True

    def to_llama(self):
        from llama_index.core.vector_stores.types import (FilterCondition, FilterOperator,
                                                          MetadataFilter, MetadataFilters)
        parts = []
        if self.article_ids:
            parts.append(MetadataFilter(key="article_id", value=list(self.article_ids),
                                        operator=FilterOperator.IN))
        if self.source:
            parts.append(MetadataFilter(key="source", value=self.source))
        if self.since:
            parts.append(MetadataFilter(key="published_key", value=date_key(self.since),
                                        operator=FilterOperator.GTE))
        if self.until:
            parts.append(MetadataFilter(key="published_key", value=date_key(self.until),
                                        operator=FilterOperator.LTE))
            parts.append(MetadataFilter(key="published_key", value=0, operator=FilterOperator.GT))
        return MetadataFilters(filters=parts, condition=FilterCondition.AND) if parts else None


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = 60) -> list[tuple[str, float]]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def min_max(scores: list[float]) -> list[float]:
    """Scores rescaled to [0, 1] within the list (all 1.0 when they are equal)."""
    low, high = min(scores), max(scores)
    return [(s - low) / (high - low) if high > low else 1.0 for s in scores]


def relative_score_fusion(scored: list[list[tuple[str, float]]],
                          weights: list[float]) -> list[tuple[str, float]]:
    """Weighted sum of each list's scores, min-max normalised to [0, 1] within the list.

    A key missing from a list gets 0 there (it ranked below everything that list returned).
    Unlike rank fusion it keeps how far ahead a retriever's best candidates are: a BM25 match
    scoring well above the rest is not outvoted by a dense ranking whose top cosines are all
    close. Convex combination of normalised scores beat RRF in Bruch et al., "An Analysis of
    Fusion Functions for Hybrid Retrieval" (ACM TOIS 2023); it is Weaviate's relativeScoreFusion.
    """
    fused: dict[str, float] = {}
    for items, weight in zip(scored, weights):
        if not items:
            continue
        for (key, _), norm in zip(items, min_max([s for _, s in items])):
            fused[key] = fused.get(key, 0.0) + weight * norm
    return sorted(fused.items(), key=lambda kv: -kv[1])


def best_sentence(question_terms: set[str], text: str) -> str:
    """The sentence of `text` sharing the most content words with the question (the first on
    ties; the whole text when it has no sentence)."""
    spans = sentence_spans(text)
    if not spans:
        return text

    def shared(span: tuple[int, int]) -> int:
        return len(question_terms & set(content_terms(text[span[0]:span[1]])))

    start, end = max(spans, key=shared)
    return text[start:end]


class Bm25Index:
    """BM25 over every stored passage (title + text), built from the store at one revision.

    llama-index's BM25Retriever tokenizes and indexes the corpus; a query is scored by its bm25s
    index directly, with the query's own k and filter mask as arguments. The retriever keeps k
    and the mask as attributes, and one index serves concurrent questions: per-query state set
    on it would leak from one question into another's.
    """

    def __init__(self, hits: list[PassageHit], published_keys: list[int],
                 revision: str | None = None):
        from llama_index.core.schema import TextNode
        from llama_index.retrievers.bm25 import BM25Retriever

        self.hits = hits
        self.revision = revision
        self._keys = published_keys
        self._retriever = None
        self._stemmer_lock = threading.Lock()   # PyStemmer's stemmer must not run concurrently
        if hits:
            nodes = [TextNode(id_=h.passage.id, text=embedding_text(h.title, h.passage.text))
                     for h in hits]
            self._retriever = BM25Retriever(nodes=nodes, similarity_top_k=min(10, len(nodes)))

    @classmethod
    def from_store(cls, store: Store) -> "Bm25Index":
        """Read the revision first: a write landing during the read leaves the index stale."""
        revision = store.revision()
        hits = list(store.iter_passages())
        return cls(hits, [date_key(h.published) for h in hits], revision)

    def search(self, question: str, k: int, filters: Filters) -> list[PassageHit]:
        import bm25s

        if self._retriever is None or k <= 0:
            return []
        mask = None
        if not filters.empty:
            mask = np.fromiter((filters.accepts(h.passage.article_id, h.source, key)
                                for h, key in zip(self.hits, self._keys)),
                               dtype=np.float32, count=len(self.hits))
            if not mask.any():
                return []
        r = self._retriever
        with self._stemmer_lock:
            tokens = bm25s.tokenize(question, stemmer=r.stemmer, token_pattern=r.token_pattern,
                                    show_progress=False)
        indexes, scores = r.bm25.retrieve(tokens, k=min(k, len(self.hits)), weight_mask=mask,
                                          show_progress=False)
        found = []
        for index, score in zip(indexes[0], scores[0]):
            if score > 0:
                hit = self.hits[int(index)]
                found.append(PassageHit(hit.passage, hit.title, hit.published, hit.source,
                                        hit.url, float(score)))
        return found


class HybridRetriever:
    def __init__(self, store: Store, embedder, settings, sentence_encoder=None):
        self.store = store
        self.embedder = embedder
        self.sentence_encoder = sentence_encoder or embedder   # see rag.embedding.SentenceEncoder
        self.settings = settings
        self.bm25: Bm25Index | None = None
        self._refresh_lock = threading.Lock()
        if not 0.0 <= settings.dense_weight <= 1.0:
            raise InputError(f"RAG_DENSE_WEIGHT={settings.dense_weight}: expected a number "
                             "from 0 (BM25 only) to 1 (dense only)")
        if not 0.0 <= settings.sentence_weight <= 1.0:
            raise InputError(f"RAG_SENTENCE_WEIGHT={settings.sentence_weight}: expected a number "
                             "from 0 (no sentence check) to 1 (order by best sentence only)")
        if settings.rerank_k < 0:
            raise InputError(f"RAG_RERANK_K={settings.rerank_k}: expected 0 or more passages")

    def refresh(self) -> None:
        """Re-read the store into BM25 (after an ingest or a delete)."""
        with self._refresh_lock:
            self.bm25 = Bm25Index.from_store(self.store)

    def current_bm25(self) -> Bm25Index:
        """BM25 at the store's revision: every write (this process's or another worker's on the
        same Chroma) bumps it, so a stale index is rebuilt, once, by the first question after."""
        revision = self.store.revision()
        bm25 = self.bm25
        if bm25 is not None and bm25.revision == revision:
            return bm25
        with self._refresh_lock:
            if self.bm25 is None or self.bm25.revision != revision:
                self.bm25 = Bm25Index.from_store(self.store)
            return self.bm25

    def dense(self, question: str, k: int, filters: Filters,
              query_vector: list[float] | None = None) -> list[PassageHit]:
        vector = query_vector or self.embedder.embed_query(question)
        return self.store.dense_search(vector, k, filters.to_llama())

    def sparse(self, question: str, k: int, filters: Filters) -> list[PassageHit]:
        return self.current_bm25().search(question, k, filters)

    def search(self, question: str, k: int | None = None, filters: Filters = Filters(),
               query_vector: list[float] | None = None) -> list[PassageHit]:
        """Top-k passages: relative-score fusion of dense and BM25, then the sentence check.

        Each hit keeps its dense cosine (or BM25 score when dense did not return it).
        """
        k = k or self.settings.top_k
        depth = max(self.settings.candidate_k, k)
        vector = query_vector or self.embedder.embed_query(question)
        dense = self.dense(question, depth, filters, vector)
        sparse = self.sparse(question, depth, filters)
        by_id = {h.passage.id: h for h in sparse}
        by_id.update({h.passage.id: h for h in dense})   # dense hits carry the cosine score
        fused = self.fuse(dense, sparse)
        fused = self.sentence_check(question, vector, fused, by_id)
        return [by_id[pid] for pid, _ in fused[:k]]

    def fuse(self, dense: list[PassageHit], sparse: list[PassageHit],
             dense_weight: float | None = None) -> list[tuple[str, float]]:
        """Relative-score fusion: dense gets `settings.dense_weight`, BM25 the rest.

        Not rank fusion: on news known-item search MiniLM is the weaker retriever, and RRF gives
        it an equal vote. The weight is tuned on queries disjoint from the benchmark's; the
        figures are in eval/reports/retrieval.md.
        """
        weight = self.settings.dense_weight if dense_weight is None else dense_weight
        return relative_score_fusion([[(h.passage.id, h.score) for h in dense],
                                      [(h.passage.id, h.score) for h in sparse]],
                                     [weight, 1.0 - weight])

    def sentence_check(self, question: str, query_vector: list[float],
                       fused: list[tuple[str, float]], passages: dict[str, PassageHit],
                       weight: float | None = None) -> list[tuple[str, float]]:
        """Re-score the first `settings.rerank_k` fused passages by their best sentence.

        A passage vector blurs several sentences into one, so a question about one statement can
        be closer to a follow-up story that paraphrases it than to the story that has it. Each
        head passage's sentence sharing the most content words with the question is encoded (one
        batch of `rerank_k` short sentences, which the answerer reuses), and its cosine to the
        question, min-max normalised over the head, gets weight `settings.sentence_weight`
        against the fused score. Only the head is reordered; the tail keeps its place. Head
        size and weight are tuned on queries disjoint from the benchmark's (figures and the
        trade-off against encoding time: eval/reports/retrieval.md).
        """
        weight = self.settings.sentence_weight if weight is None else weight
        head = fused[:self.settings.rerank_k]
        if weight == 0.0 or len(head) < 2:
            return fused
        terms = set(content_terms(question))
        sentences = [best_sentence(terms, passages[pid].passage.text) for pid, _ in head]
        cosines = (np.asarray(self.sentence_encoder.embed_texts(sentences))
                   @ np.asarray(query_vector))
        closeness = min_max([float(c) for c in cosines])
        rescored = [(pid, (1.0 - weight) * score + weight * c)
                    for (pid, score), c in zip(head, closeness)]
        return sorted(rescored, key=lambda kv: -kv[1]) + fused[len(head):]
