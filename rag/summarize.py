"""Article and multi-article summaries, cited like answers, cached by content hash.

Extractive by default: `rag.summarize_extractive` ranks the article's sentences (position-aware
centrality with redundancy control over TF-IDF sentence vectors); every summary sentence is an
exact span of the article and cites itself. Across articles, each source gets its own dated,
attributed sentences ('"Title" (hani.co.kr, 2016-04-30): ... [2]').
With an LLM configured (RAG_LLM), `rag.summarize_llm` writes the summary instead: map-reduce
over all the passages of each article, every sentence verified against the passages it cites
and unsupported ones marked, as in generative answers. When the model fails (down, timeout,
unusable reply, nothing supported) the summary is extractive with a notice saying why.
Cache: RAG_HOME/summaries/<key>.json, keyed by the articles' content hashes and the settings
that shape the summary; an edited article has a new hash, so its old summary is never read.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

from .citations import Citation
from .errors import InputError, NotFound
from .policy import fallback_notice
from .sentences import sentence_spans
from .summarize_extractive import CNNDM_PARAMS, rank_sentences

DEFAULT_SENTENCES = 3      # CNN/DM-style highlights: references average 3.6 sentences
MAX_SENTENCES = 20
MAX_ARTICLES = 10          # a topic summary covers at most this many articles


@dataclass(frozen=True)
class Summary:
    ids: tuple[str, ...]
    text: str
    sentences: tuple[dict, ...]           # {"text", "citations": [n], "supported": bool}
    citations: tuple[Citation, ...]
    mode: str = "extractive"
    cached: bool = False
    notice: str | None = None

    def to_dict(self) -> dict:
        return {"ids": list(self.ids), "summary": self.text, "sentences": list(self.sentences),
                "citations": [c.to_dict() for c in self.citations], "mode": self.mode,
                "cached": self.cached, "notice": self.notice}

    @classmethod
    def from_dict(cls, d: dict) -> "Summary":
        return cls(tuple(d["ids"]), d["summary"], tuple(d["sentences"]),
                   tuple(Citation.from_dict(c) for c in d["citations"]), d["mode"], d.get("cached", False),
                   d.get("notice"))


def summary_spans(text: str, title: str | None, k: int) -> list[tuple[int, int]]:
    """The k sentences of an article that summarize it, as spans, in article order.

    Exactly the configuration eval/bench_summaries.py measures against LEAD-3: the one sentence
    splitter and TF-IDF sentence vectors (which beat MiniLM vectors there, and cost no model).
    """
    spans = sentence_spans(text)
    texts = [text[a:b] for a, b in spans]
    params = replace(CNNDM_PARAMS, max_sentences=k, ratio=None, min_sentences=1)
    return [spans[i] for i in rank_sentences(texts, None, title=title, params=params)]


def _llm_recipe() -> list:
    """What else shapes a generative summary: editing a prompt or a budget invalidates the cache."""
    from . import summarize_llm as m
    return [m.MAP_SYSTEM, m.REDUCE_SYSTEM, m.MAP_WORDS, m.REDUCE_WORDS]


def oldest_first(records) -> list:
    return sorted(records, key=lambda r: (r.article.published or "", r.article.id))


def attribution(article) -> str:
    """'"Title" (source, 2016-04-30)': who says it and when, for summaries across articles."""
    where = ", ".join(x for x in (article.source, (article.published or "")[:10]) if x)
    return f"“{article.title}”" + (f" ({where})" if where else "")


class Summarizer:
    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.cache_dir = pipeline.settings.home / "summaries"

    # -- cache ------------------------------------------------------------------------------
    def _key(self, records, n: int, mode: str) -> str:
        s = self.pipeline.settings
        parts = {"articles": [(r.article.id, r.content_hash) for r in records], "n": n,
                 "mode": mode, "params": asdict(CNNDM_PARAMS), "model": self.pipeline.embedder.name,
                 "llm": [s.llm, s.llm_url, s.llm_model, *_llm_recipe()] if mode == "generative" else None,
                 "version": 1}
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def _cached(self, key: str) -> Summary | None:
        path = self.cache_dir / f"{key}.json"
        try:
            return replace(Summary.from_dict(json.loads(path.read_text(encoding="utf-8"))),
                           cached=True)
        except (OSError, ValueError, KeyError, TypeError):
            return None           # missing or unreadable: recompute

    def _store(self, key: str, summary: Summary) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_dir / f"{key}.tmp"
        tmp.write_text(json.dumps(summary.to_dict(), ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.cache_dir / f"{key}.json")     # atomic: never a half-written cache file

    # -- entry points -----------------------------------------------------------------------
    def summarize(self, ids: list[str], sentences: int | None = None) -> Summary:
        if not ids:
            raise InputError("summarize: give at least one article id (or a topic)")
        n = DEFAULT_SENTENCES if sentences is None else sentences
        if not 1 <= n <= MAX_SENTENCES:
            raise InputError(f"sentences={n}: expected 1..{MAX_SENTENCES}")
        records = []
        for article_id in dict.fromkeys(ids):
            record = self.pipeline.article(article_id)
            if record is None:
                raise NotFound(f"no article with id {article_id!r}")
            records.append(record)
        if self.pipeline.llm is not None:
            return self._generative(records, n)
        return self._cached_or_made(records, n, "extractive", self._extractive)

    def _cached_or_made(self, records, n: int, mode: str, make) -> Summary:
        key = self._key(records, n, mode)
        hit = self._cached(key)
        if hit is not None:
            return hit
        summary = make(records, n)       # raises before anything is stored: no failure cached
        self._store(key, summary)
        return summary

    def summarize_topic(self, query: str, sentences: int | None = None, filters=None) -> Summary:
        """A story summary that follows the topic's timeline: what happened first, what changed,
        where it stands in the latest article, each sentence cited and dated. A topic with fewer
        than two dated articles gets a summary across its best-matching articles instead."""
        from .retrieve import Filters
        n = DEFAULT_SENTENCES if sentences is None else sentences
        if not 1 <= n <= MAX_SENTENCES:
            raise InputError(f"sentences={n}: expected 1..{MAX_SENTENCES}")
        filters = filters or Filters()
        timeline = self.pipeline.timeline(query, filters)
        if len(timeline.entries) >= 2:
            return story_summary(timeline, n)
        hits = self.pipeline.retriever.search(query, k=MAX_ARTICLES * 3, filters=filters)
        ids = list(dict.fromkeys(h.passage.article_id for h in hits))[:MAX_ARTICLES]
        relevant = [h.passage.article_id for h in hits if h.score > 0]
        if not ids or not relevant:
            raise NotFound(f"topic {query!r}: no article matches")
        return self.summarize(ids[:max(2, min(len(ids), 5))], sentences)

    # -- generative -------------------------------------------------------------------------
    def _passages(self, article_id: str):
        """The article's stored passages, in article order."""
        hits = self.pipeline.store.iter_passages(where={"article_id": article_id})
        return sorted(hits, key=lambda h: h.passage.index)

    def _generative(self, records, n: int) -> Summary:
        from .errors import LLMUnavailable, UnusableReply
        from .summarize_llm import generative_summary
        p = self.pipeline

        def make(records, n):
            return generative_summary(p.llm, records, n, self._passages, p.article_text,
                                      p.embedder, p.settings)
        try:
            return self._cached_or_made(records, n, "generative", make)
        except UnusableReply as exc:        # the model replied, with nothing we can verify
            notice = fallback_notice(exc, unusable=True, what="summary")
        except LLMUnavailable as exc:       # down, unreachable, failing or too slow
            notice = fallback_notice(exc, unusable=False, what="summary")
        summary = self._cached_or_made(records, n, "extractive", self._extractive)
        return replace(summary, notice=notice)

    # -- extractive -------------------------------------------------------------------------
    def _picked_spans(self, record, k: int) -> list[tuple[int, int]]:
        return summary_spans(record.article.text, record.article.title, k)

    def _extractive(self, records, n: int) -> Summary:
        multi = len(records) > 1
        per_article = max(1, n // len(records)) if multi else n
        ordered = oldest_first(records)
        citations, sentences, parts = [], [], []
        for record in ordered:
            a = record.article
            for start, end in self._picked_spans(record, per_article):
                number = len(citations) + 1
                quote = a.text[start:end]
                citations.append(Citation(number, a.id, a.title, a.published, a.source, a.url,
                                          quote, start, end))
                said = f"{attribution(a)}: " if multi else ""
                sentences.append({"text": said + quote, "citations": [number], "supported": True})
                parts.append(f"{said}{quote} [{number}]")
        return Summary(tuple(r.article.id for r in records), "\n".join(parts), tuple(sentences),
                       tuple(citations))


def story_summary(timeline, n: int) -> Summary:
    """First / then / latest lines over a timeline's entries (rag.timeline.story_lines)."""
    from .citations import citation_of
    from .timeline import story_lines
    entries = story_lines(timeline, n)
    citations, sentences, lines = [], [], []
    for i, entry in enumerate(entries):
        label = "First" if i == 0 else "Latest" if i == len(entries) - 1 else "Then"
        number = len(citations) + 1
        citations.append(citation_of(entry.unit, number))
        where = ", ".join(x for x in (entry.published[:10], entry.source) if x)
        said = f"{label} ({where}): "
        sentences.append({"text": said + entry.sentence, "citations": [number], "supported": True,
                          "published": entry.published})
        lines.append(f"{said}{entry.sentence} [{number}]")
    return Summary(tuple(e.article_id for e in entries), "\n".join(lines), tuple(sentences),
                   tuple(citations))
