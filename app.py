"""Gradio UI: chat with cited answers, articles, uploads, status. Callbacks only: every answer,
summary and ingest goes through the same `rag.pipeline.Pipeline` the CLI uses.

Run: `make run` (or `python app.py`); binds to RAG_HOST:RAG_PORT, 127.0.0.1:7860 by default,
with a login when RAG_AUTH=user:password is set.
"""
from __future__ import annotations

import hashlib
import inspect
import logging
import os
import queue
import re
import shutil
import sys
import threading
from pathlib import Path

from rag.config import Settings, apply_offline_env

apply_offline_env()

import gradio as gr  # noqa: E402  (after the offline switches)

from rag import render  # noqa: E402
from rag.articles import ALLOWED_SUFFIXES  # noqa: E402
from rag.pipeline import InputError, Pipeline  # noqa: E402
from rag.retrieve import Filters  # noqa: E402

log = logging.getLogger("rag.app")
EXAMPLE_QUESTION = "What did Lavrov say about THAAD?"
PANEL_TURNS = 20            # questions whose sources stay in the panel (older [n] links go stale)
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.\- ]+")


# ---------------------------------------------------------------- pure helpers (tested directly)

def example_questions(records, from_titles: int = 2) -> list[str]:
    """The Lavrov example plus questions made from the newest stored titles."""
    questions = [EXAMPLE_QUESTION]
    for r in records:
        if len(questions) > from_titles:
            break
        title = " ".join(r.article.title.split()).rstrip(".!?:;, ")
        if len(title) > 80:
            title = title[:80].rsplit(" ", 1)[0]
        q = f"What does the archive say about {title}?"
        if title and q not in questions:
            questions.append(q)
    return questions


def safe_upload_name(name: str) -> str | None:
    """A plain file name for an upload (no folders, no leading dots), or None if nothing is left."""
    base = re.split(r"[\\/]", name.replace("\x00", ""))[-1]
    base = _UNSAFE_NAME_CHARS.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem.strip(" ._"):
        return None
    return f"{stem[:100]}.{suffix[:10]}"


def stage_uploads(files: list[str], upload_dir: Path,
                  max_bytes: int) -> tuple[list[Path], list[str]]:
    """Copy uploaded files into `upload_dir` (kept: the store remembers where an article came from,
    and `ingest --prune` drops articles whose file is gone). Returns (staged, per-file problems)."""
    upload_dir.mkdir(parents=True, exist_ok=True)
    root = upload_dir.resolve()
    staged: list[Path] = []
    problems: list[str] = []
    for f in files:
        src = Path(str(f))
        shown = src.name
        name = safe_upload_name(src.name)
        if name is None:
            problems.append(f"{shown}: not a usable file name")
            continue
        if Path(name).suffix.lower() not in ALLOWED_SUFFIXES:
            problems.append(f"{shown}: file type not allowed "
                            f"(allowed: {', '.join(ALLOWED_SUFFIXES)})")
            continue
        size = src.stat().st_size
        if size > max_bytes:
            problems.append(f"{shown}: {size / 1e6:.1f} MB is over the "
                            f"{max_bytes / 1e6:.0f} MB limit")
            continue
        dest = (upload_dir / name).resolve()
        if dest.parent != root:     # belt and braces: safe_upload_name already strips folders
            problems.append(f"{shown}: not a usable file name")
            continue
        if dest in staged:
            problems.append(f"{shown}: another file in this upload has the same name")
            continue
        tmp = dest.with_name(f".{dest.name}.part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
        staged.append(dest)
    return staged, problems


def stage_pasted(title: str, text: str, upload_dir: Path) -> Path:
    """Pasted text as a .md file named after its title and content (one article per paste)."""
    title = " ".join((title or "").split()) or text.strip().splitlines()[0][:80]
    digest = hashlib.sha256(f"{title}\n{text}".encode("utf-8")).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "pasted"
    upload_dir.mkdir(parents=True, exist_ok=True)
    dest = upload_dir / f"pasted-{slug}-{digest}.md"
    dest.write_text(f"{title}\n\n{text.strip()}\n", encoding="utf-8")
    return dest


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def launch_options(settings: Settings) -> dict:
    """Everything `Blocks.launch` needs from Settings: loopback by default, optional login."""
    auth = None
    if settings.auth:
        user, sep, password = settings.auth.partition(":")
        if not (user and sep and password):
            raise ValueError("RAG_AUTH: expected user:password")
        auth = (user, password)
    return dict(server_name=settings.host, server_port=settings.port, auth=auth, share=False,
                max_file_size=f"{settings.max_upload_mb}mb", css=render.CSS, js=render.JS,
                footer_links=["api"], ssr_mode=False, mcp_server=False, enable_monitoring=False)


def serve(pipeline: Pipeline, **overrides) -> gr.Blocks:
    """Build the UI and start it with `launch_options` (overrides win, e.g. a test's port)."""
    demo = build_ui(pipeline)
    demo.queue(default_concurrency_limit=4).launch(
        **{**launch_options(pipeline.settings), **overrides})
    return demo


def _filters(article_ids, source, since, until) -> Filters:
    return Filters(article_ids=tuple(article_ids or ()), source=source or None,
                   since=(since or "").strip() or None, until=(until or "").strip() or None)


def _history_turns(turns: list[dict]) -> list[dict]:
    """Earlier turns in the shape `Pipeline.ask(history=...)` takes: [{"question","answer"}]."""
    return [{"question": t["question"], "answer": t["answer"]} for t in turns]


def answering_mode(settings: Settings) -> str:
    llm = getattr(settings, "llm", None)
    if not llm:
        return "extractive — answers quote archive sentences, no language model"
    where = " at ".join(x for x in (getattr(settings, "llm_model", None),
                                    getattr(settings, "llm_url", None)) if x)
    return (f"generative via {llm}{' (' + where + ')' if where else ''}, every sentence checked "
            f"against its cited passage; extractive when the model is unavailable")


# ---------------------------------------------------------------- the UI

def build_ui(pipeline: Pipeline) -> gr.Blocks:
    settings = pipeline.settings
    upload_dir = settings.home / "uploads"
    ask_params = inspect.signature(pipeline.ask).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in ask_params.values())

    def ask_streaming(question: str, filters: Filters, turns: list[dict]):
        """Run `pipeline.ask` in a worker thread; yields ("token", text) while a generative
        backend streams, then ("answer", Answer) or ("error", exception)."""
        kwargs: dict = {"filters": filters}
        if "history" in ask_params or takes_any:
            kwargs["history"] = _history_turns(turns)
        tokens: queue.Queue = queue.Queue()
        if "on_token" in ask_params or takes_any:
            kwargs["on_token"] = lambda text: tokens.put(("token", text))

        def work():
            try:
                tokens.put(("answer", pipeline.ask(question, **kwargs)))
            except Exception as exc:  # handed to the UI thread, which decides what to show
                tokens.put(("error", exc))

        threading.Thread(target=work, daemon=True, name="rag-ask").start()
        while True:
            kind, value = tokens.get()
            yield kind, value
            if kind != "token":
                return

    def article_choices():
        return [(f"{r.article.title} ({(r.article.published or 'undated')[:10]})", r.article.id)
                for r in pipeline.articles()]

    def sources():
        return [""] + sorted({r.article.source for r in pipeline.articles() if r.article.source})

    def examples_now():
        return [[q] for q in example_questions(pipeline.articles())]

    # -- chat ------------------------------------------------------------------------------
    def respond(message, history, turns, article_ids, source, since, until):
        history, turns = list(history or []), list(turns or [])
        panel = render.sources_panel(turns, pipeline.article_text)
        if not (message or "").strip():
            yield history, panel, "", turns
            return
        history.append({"role": "user", "content": render.user_html(message)})
        history.append({"role": "assistant",
                        "content": render.notice_html("Searching the archive…",
                                                           final=False)})
        yield history, panel, "", turns
        turn = (turns[-1]["turn"] + 1) if turns else 1
        streamed = ""
        try:
            filters = _filters(article_ids, source, since, until)
        except ValueError as exc:
            history[-1]["content"] = render.notice_html(f"⚠️ {exc}")
            yield history, panel, message, turns
            return
        for kind, value in ask_streaming(message, filters, turns):
            if kind == "token":                 # a generative backend streams its words
                streamed += value
                history[-1]["content"] = render.answer_html(streamed, turn, final=False)
                yield history, panel, "", turns
            elif kind == "error":
                if not isinstance(value, ValueError):   # InputError is a ValueError
                    log.error("question failed", exc_info=value)
                history[-1]["content"] = render.notice_html(f"⚠️ {value}")
                yield history, panel, message, turns
                return
            else:
                answer = value
        turns = (turns + [{"turn": turn, "question": answer.question, "answer": answer.text,
                           "standalone": getattr(answer, "standalone_question", None),
                           "citations": [c.to_dict() for c in answer.citations],
                           "notice": answer.notice}])[-PANEL_TURNS:]
        panel = render.sources_panel(turns, pipeline.article_text)
        if not streamed:                        # extractive answers arrive whole: show them
            words = answer.text.split(" ")      # as they would stream, a few words at a time
            for i in range(6, len(words), 6):
                history[-1]["content"] = render.answer_html(" ".join(words[:i]), turn,
                                                             final=False)
                yield history, panel, "", turns
        history[-1]["content"] = render.answer_html(answer.text, turn)
        yield history, panel, "", turns

    def clear_chat():
        return [], render.sources_panel([], pipeline.article_text), "", []

    def ask_api(question: str, article_id: str = "", source: str = "", since: str = "",
                until: str = "") -> dict:
        """One question -> the same JSON as `python -m rag ask --json`."""
        try:
            ids = [article_id] if article_id else []
            return pipeline.ask(question, filters=_filters(ids, source, since, until)).to_dict()
        except (InputError, ValueError) as exc:
            return {"error": str(exc)}

    # -- articles --------------------------------------------------------------------------
    def article_rows(query: str = ""):
        q = (query or "").strip().lower()
        return [[r.article.title, (r.article.published or "")[:10], r.article.source or "",
                 r.passages, r.article.id] for r in pipeline.articles()
                if not q or any(q in (x or "").lower()
                                for x in (r.article.title, r.article.id, r.article.source))]

    def pick_row(evt: gr.SelectData):
        return evt.row_value[-1] if evt.row_value else ""

    def open_article(article_id: str):
        article_id = (article_id or "").strip()
        record = pipeline.article(article_id)
        if record is None:
            return render.message_html(f"No article with id {article_id!r}.")
        summary, marks = "", ()
        if hasattr(pipeline, "summarize"):     # a pipeline without summaries still shows text
            try:
                result = pipeline.summarize([article_id])
                summary = render.summary_html(result)
                marks = getattr(result, "citations", ())
            except Exception as exc:  # a failing summary must not hide the article itself
                log.exception("summary of %s failed", article_id)
                summary = render.message_html(f"(No summary: {exc})")
        return render.article_page(record, summary, marks)

    def after_change(query: str = ""):
        """Everything that lists articles, refreshed after an add or a delete."""
        return (article_rows(query), gr.update(choices=article_choices()),
                gr.update(choices=sources()), gr.Dataset(samples=examples_now()), status_md(),
                gr.update(choices=article_choices()))

    # -- summaries -------------------------------------------------------------------------
    def summarize_view(article_ids, topic: str = "", sentences: float = 3):
        """Summary of the picked articles, or of those matching a topic, with its sources."""
        try:
            if (topic or "").strip():
                result = pipeline.summarize_topic(topic, int(sentences))
            elif article_ids:
                result = pipeline.summarize(list(article_ids), int(sentences))
            else:
                return render.message_html("Pick one or more articles, or type a topic.")
        except (InputError, ValueError) as exc:
            return render.message_html(str(exc))
        return render.summary_view(result, pipeline.article_text)

    def delete_article(article_id: str, query: str):
        article_id = (article_id or "").strip()
        if not article_id:
            msg = "Nothing deleted."
        elif pipeline.delete(article_id):
            msg = f"Deleted {article_id}."
        else:
            msg = f"No article with id {article_id!r}."
        return (render.message_html(msg), "", *after_change(query))

    # -- uploads ---------------------------------------------------------------------------
    def add_articles(files, pasted_title, pasted_text, query="", progress=gr.Progress()):
        files = [files] if isinstance(files, str) else list(files or [])
        paths, problems = stage_uploads(files, upload_dir, settings.max_upload_mb * 1024 * 1024)
        if (pasted_text or "").strip():
            paths.append(stage_pasted(pasted_title, pasted_text, upload_dir))
        if not paths:
            return ("\n".join(problems) or "Nothing to add: choose files or paste text.",
                    gr.update(), *after_change(query))
        progress(0, desc="reading files")
        try:
            report = pipeline.ingest(paths, progress=lambda done, total: progress(
                (done, max(total, 1)), desc="embedding passages", unit="passages"))
        except Exception as exc:  # e.g. the store is locked or built by another model
            log.exception("ingest from the UI failed")
            return (f"Nothing added: {exc}", gr.update(), *after_change(query))
        lines = [f"Added {report.added}, updated {report.updated}, unchanged {report.unchanged}. "
                 f"The archive holds {report.articles} articles."]
        for article_id in report.ids:
            record = pipeline.article(article_id)
            if record:
                lines.append(f"✓ {record.article.title} (id {article_id}, "
                             f"{render.plural(record.passages, 'passage')})")
        lines += [f"✗ {Path(x['path']).name}: {x['error']}" for x in report.failed]
        lines += [f"✗ {Path(x['path'] or '').name}: the same article as {x['same_as']}"
                  for x in report.duplicates]
        lines += [f"✗ {p}" for p in problems]
        return ("\n".join(lines), None, *after_change(query))

    def status_md():
        emb = pipeline.embedder
        store_mb = folder_bytes(settings.chroma_dir) / 1e6
        store = (f"Chroma server {settings.chroma_url}" if settings.chroma_url else
                 f"`{settings.chroma_dir.resolve()}`, {store_mb:.1f} MB")
        return (f"- **Embedding model:** {emb.name} ({emb.backend}) "
                f"{getattr(emb, 'model_dir', '') or ''}\n"
                f"- **Store:** {store} (passages and the article manifest)\n"
                f"- **Archive:** {render.plural(pipeline.store.article_count(), 'article')}, "
                f"{render.plural(pipeline.store.passage_count(), 'passage')}; uploads kept in "
                f"`{upload_dir.resolve()}` ({folder_bytes(upload_dir) / 1e6:.1f} MB)\n"
                f"- **Answering:** {answering_mode(settings)}\n"
                f"- **Retrieval:** dense + BM25 hybrid, top {settings.top_k} passages; "
                f"refuses below support {settings.refuse_below}\n")

    with gr.Blocks(title="News archive assistant") as demo:
        gr.Markdown("## News archive assistant\nAnswers quote the archive; every claim cites "
                    "its passage — click a **[n]** to see it in its article.")
        turns = gr.State([])
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Chat", height=460, sanitize_html=True,
                                      latex_delimiters=[], elem_id="chat")
                    box = gr.Textbox(label="Question", placeholder=EXAMPLE_QUESTION,
                                     elem_id="question", submit_btn=False)
                    with gr.Row():
                        send = gr.Button("Ask", variant="primary", elem_id="ask")
                        clear = gr.Button("Clear chat", elem_id="clear")
                    examples = gr.Examples(examples_now(), inputs=box, label="Try")
                    with gr.Accordion("Filters: articles, source, dates", open=False):
                        f_articles = gr.Dropdown(choices=article_choices(), multiselect=True,
                                                 label="Only these articles", elem_id="f-articles")
                        f_source = gr.Dropdown(choices=sources(), value="", label="Source",
                                               elem_id="f-source")
                        with gr.Row():
                            f_since = gr.Textbox(label="From (YYYY-MM-DD)", elem_id="f-since")
                            f_until = gr.Textbox(label="Until (YYYY-MM-DD)", elem_id="f-until")
                with gr.Column(scale=2):
                    gr.Markdown("**Sources**")
                    panel = gr.HTML(render.sources_panel([], pipeline.article_text),
                                    elem_id="sources")
            chat_in = [box, chat, turns, f_articles, f_source, f_since, f_until]
            chat_out = [chat, panel, box, turns]
            send.click(respond, chat_in, chat_out, api_name="chat")
            box.submit(respond, chat_in, chat_out, api_visibility="private")
            clear.click(clear_chat, None, chat_out, api_visibility="private")
            chat.clear(clear_chat, None, chat_out, api_visibility="private")
        with gr.Tab("Articles"):
            search = gr.Textbox(label="Search title, source or id", elem_id="article-search")
            table = gr.Dataframe(headers=["title", "date", "source", "passages", "id"],
                                 value=article_rows(), interactive=False, wrap=True,
                                 elem_id="articles")
            with gr.Row():
                art_id = gr.Textbox(label="Article id (click a row)", elem_id="article-id")
                show_btn = gr.Button("Open", elem_id="open-article")
                del_btn = gr.Button("Delete", variant="stop", elem_id="delete-article")
            del_msg = gr.HTML()
            page = gr.HTML(elem_id="article-page")
            search.change(article_rows, search, table, api_name="articles")
            table.select(pick_row, None, art_id, api_visibility="private").then(
                open_article, art_id, page, api_visibility="private")
            show_btn.click(open_article, art_id, page, api_name="article")
        with gr.Tab("Add articles"):
            files = gr.File(file_count="multiple", elem_id="upload",
                            label=f"Upload {' '.join(ALLOWED_SUFFIXES)} "
                                  f"(up to {settings.max_upload_mb} MB each)")
            p_title = gr.Textbox(label="…or paste an article: title", elem_id="paste-title")
            p_text = gr.Textbox(label="Text", lines=6, elem_id="paste-text")
            add_btn = gr.Button("Add to archive", variant="primary", elem_id="add")
            add_msg = gr.Textbox(label="Result", lines=4, elem_id="add-result")
        with gr.Tab("Summaries"):
            with gr.Row():
                s_articles = gr.Dropdown(choices=article_choices(), multiselect=True,
                                         label="Articles (several: one summary across them)",
                                         elem_id="s-articles")
                s_topic = gr.Textbox(label="…or a topic", elem_id="s-topic")
                s_len = gr.Slider(1, 10, value=3, step=1, label="Sentences")
            s_btn = gr.Button("Summarize", variant="primary", elem_id="summarize")
            s_out = gr.HTML(elem_id="summary")
            s_btn.click(summarize_view, [s_articles, s_topic, s_len], s_out, api_name="summarize")
        with gr.Tab("Status"):
            status = gr.Markdown(status_md(), elem_id="status")
            gr.Button("Refresh").click(status_md, None, status, api_visibility="private")
        refreshed = [table, f_articles, f_source, examples.dataset, status, s_articles]
        add_btn.click(add_articles, [files, p_title, p_text, search],
                      [add_msg, files, *refreshed], api_name="add")
        # The browser asks first; a cancelled confirm sends an empty id, which deletes nothing.
        del_btn.click(delete_article, [art_id, search], [del_msg, page, *refreshed],
                      js="(id, q) => [(id && confirm('Delete article ' + id + '?')) ? id : '', q]",
                      api_visibility="private")
        # Lists built above are a snapshot; a page opened after an upload must show the archive now.
        demo.load(after_change, None, refreshed, api_visibility="private")
        gr.api(ask_api, api_name="ask")
    return demo


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        launch_options(settings)            # fail on a bad RAG_AUTH before loading the model
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    serve(Pipeline(settings).warm_up())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
