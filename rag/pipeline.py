"""The one assembly point: build embedder, store and retriever from Settings, once per process.

The CLI, the UI, the eval suite and the tests all go through `Pipeline`; none re-implements a
stage. Construction is cheap; `open()` opens the store, and the model loads on first use.
"""
from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from .answer import Answer, answer_question
from .config import Settings
from .embedding import Embedder, SentenceEncoder, make_embedder
from .errors import InputError, LLMUnavailable, UnusableReply
from .followup import parse_history, standalone_question
from .ingest import IngestReport, Progress, sync
from .policy import fallback_notice
from .questions import story_topic
from .retrieve import Filters, HybridRetriever
from .store import ArticleRecord, Store
from .timeline import timeline_answer

MAX_QUESTION_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_question(question: str) -> str:
    if not isinstance(question, str):
        raise InputError("question: expected text")
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(f"question: too long ({len(question)} characters; "
                         f"the limit is {MAX_QUESTION_CHARS})")
    cleaned = " ".join(_CONTROL.sub(" ", question).split())
    if not cleaned:
        raise InputError("question: empty")
    return cleaned


class Pipeline:
    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.embedder = embedder if embedder is not None else make_embedder(settings)
        self.store = Store(settings, self.embedder.name, self.embedder.backend)
        self.sentences = SentenceEncoder(self.embedder)   # shared by retrieval and answers
        self.retriever = HybridRetriever(self.store, self.embedder, settings, self.sentences)
        self._article_text = lru_cache(maxsize=512)(self._load_text)
        self._llm = None

    def open(self) -> "Pipeline":
        self.store.open()
        return self

    # -- articles ------------------------------------------------------------------------
    def ingest(self, paths: list[Path] | None = None, *, prune: bool = False,
               progress: Progress | None = None, urls: list[str] = (),
               refuse_private_urls: bool = False) -> IngestReport:
        """Sync files/folders and URLs (pages or feeds) into the store; no paths and no URLs
        means the corpus folder. `refuse_private_urls` is for URLs a web visitor typed (see
        rag.fetch), unless RAG_ALLOW_PRIVATE_URLS allows them."""
        fetcher = None
        if urls:
            from .fetch import Fetcher
            fetcher = Fetcher(self.settings, refuse_private=refuse_private_urls
                              and not self.settings.allow_private_urls)
        if not paths and not urls:
            paths = [self.settings.corpus]
        report = sync(list(paths or []), self.store, self.embedder, self.settings, prune=prune,
                      progress=progress, urls=list(urls), fetcher=fetcher)
        if report.added or report.updated or report.removed or self.retriever.bm25 is None:
            self._changed()
        return report

    def articles(self) -> list[ArticleRecord]:
        return sorted(self.store.records(status="ready"),
                      key=lambda r: (r.article.published or "", r.article.id), reverse=True)

    def article(self, article_id: str) -> ArticleRecord | None:
        record = self.store.get_record(article_id)
        return record if record and record.status == "ready" else None

    def delete(self, article_id: str) -> bool:
        if self.article(article_id) is None:
            return False
        from .ingest import writer_lock
        with writer_lock(self.settings):
            self.store.delete_article(article_id)
        self._changed()
        return True

    def _changed(self) -> None:
        self._article_text.cache_clear()
        self.retriever.refresh()

    def _load_text(self, article_id: str) -> str | None:
        record = self.store.get_record(article_id)
        return record.article.text if record and record.status == "ready" else None

    def article_text(self, article_id: str) -> str | None:
        return self._article_text(article_id)

    def article_hash(self, article_id: str) -> str | None:
        """The content hash of a stored article (None when it is not stored): a saved citation
        compares it with the hash it was made from, to tell an edited article."""
        record = self.store.get_record(article_id, with_text=False)
        return record.content_hash if record and record.status == "ready" else None

    # -- questions -----------------------------------------------------------------------
    @property
    def llm(self):
        """The configured generative backend, or None for extractive answers (the default)."""
        if self._llm is None and self.settings.llm:
            from .generate import make_llm
            self._llm = make_llm(self.settings)     # InputError naming the RAG_LLM* setting
        return self._llm

    def ask(self, question: str, *, k: int | None = None, filters: Filters = Filters(),
            history=None, on_token=None) -> Answer:
        """Answer `question`; `history` is a list of earlier {"question","answer"} turns.

        `on_token(text)` receives generated tokens as they stream (generative mode only).
        """
        question = clean_question(question)
        turns = parse_history(history)               # InputError naming the bad turn
        standalone = standalone_question(question, turns)
        topic = story_topic(standalone)
        if topic:        # "How did the X story develop?" is answered by X's timeline
            answer = timeline_answer(question, self.timeline(topic, filters))
            return replace(answer, standalone_question=standalone)
        k = k or self.settings.top_k

        def search(query: str):
            return self.retriever.search(query, k, filters)
        notice = None
        llm = self.llm
        if llm is not None:
            from .generate import condense_question, generate_answer
            try:
                if turns:
                    standalone = condense_question(llm, question, turns, self.settings)
                answer = generate_answer(llm, standalone, search(standalone), self.article_text,
                                         self.embedder, self.settings, on_token=on_token,
                                         search=search)
                return replace(answer, question=question, standalone_question=standalone)
            except UnusableReply as exc:      # the model replied, with nothing we can verify
                notice = fallback_notice(exc, unusable=True)
            except LLMUnavailable as exc:     # down, unreachable, failing or too slow
                notice = fallback_notice(exc, unusable=False)
        # "What did X say about Y?" without a model: X's own quotations from every article, when
        # the quote index has some on Y (a model, when configured, writes from passages instead)
        from .quotes.answer import answer_from_quotes
        quoted = answer_from_quotes(standalone, self.store.quotes, self.embedder, filters)
        if quoted is not None:
            return replace(quoted, question=question, standalone_question=standalone, notice=notice)
        answer = answer_question(standalone, search, self.article_text, self.sentences,
                                 max_units=self.settings.answer_sentences,
                                 refuse_below=self.settings.refuse_below)
        return replace(answer, question=question, standalone_question=standalone, notice=notice)

    def timeline(self, topic: str, filters: Filters = Filters(), period: str = "month"):
        """One cited key sentence per article about `topic`, oldest first (rag.timeline)."""
        from .timeline import TIMELINE_PASSAGES, build_timeline
        topic = clean_question(topic)
        hits = self.retriever.search(topic, TIMELINE_PASSAGES, filters)
        return build_timeline(topic, hits, self.article_text, self.sentences, period)

    # -- who said what -------------------------------------------------------------------
    def quotes_by(self, name: str, about: str | None = None, filters: Filters = Filters(),
                  limit: int | None = None):
        """(person, quotations) of one speaker across the archive, oldest first."""
        from .quotes.people import quotes_by
        return quotes_by(self.store.quotes, self.embedder, name, about, filters, limit)

    def people(self, about: str | None = None):
        from .quotes.people import people_in
        return people_in(self.store.quotes, self.embedder, about)

    def summarize(self, ids: list[str], sentences: int | None = None):
        """Cited summary of one article, or one summary across several (cached)."""
        from .summarize import Summarizer
        return Summarizer(self).summarize(ids, sentences)

    def summarize_topic(self, query: str, sentences: int | None = None,
                        filters: Filters = Filters()):
        from .summarize import Summarizer
        return Summarizer(self).summarize_topic(clean_question(query), sentences, filters)

    def warm_up(self) -> "Pipeline":
        """Load the model and BM25 now rather than on the first question."""
        self.open()
        self.embedder.load()
        if self.retriever.bm25 is None:
            self.retriever.refresh()
        return self
