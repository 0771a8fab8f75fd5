"""Gradio UI: chat with cited answers, articles, uploads, status. Callbacks only: every answer,
summary and ingest goes through the same `rag.pipeline.Pipeline` the CLI uses.

Run: `make run` (or `python app.py`); binds to RAG_HOST:RAG_PORT, 127.0.0.1:7860 by default.
"""
from __future__ import annotations

import html
import shutil
import sys
import tempfile
from pathlib import Path

from rag.config import Settings, apply_offline_env

apply_offline_env()

import gradio as gr  # noqa: E402  (after the offline switches)

from rag import render  # noqa: E402
from rag.articles import ALLOWED_SUFFIXES  # noqa: E402
from rag.pipeline import InputError, Pipeline  # noqa: E402
from rag.retrieve import Filters  # noqa: E402

EXAMPLES = ["What did Lavrov say about THAAD?", "What did Wang Yi say about THAAD?",
            "What did the UN Security Council do about the Musudan launch?"]


def _filters(article_ids, source, since, until) -> Filters:
    return Filters(article_ids=tuple(article_ids or ()), source=source or None,
                   since=(since or "").strip() or None, until=(until or "").strip() or None)


def build_ui(pipeline: Pipeline) -> gr.Blocks:
    settings = pipeline.settings

    def article_choices():
        return [(f"{r.article.title} ({(r.article.published or '')[:10]})", r.article.id)
                for r in pipeline.articles()]

    def sources():
        return sorted({r.article.source for r in pipeline.articles() if r.article.source})

    # -- chat ------------------------------------------------------------------------------
    def respond(message, history, article_ids, source, since, until):
        history = list(history or [])
        history.append({"role": "user", "content": html.escape(message or "")})
        try:
            answer = pipeline.ask(message, filters=_filters(article_ids, source, since, until))
        except (InputError, ValueError) as exc:
            history.append({"role": "assistant", "content": f"⚠️ {html.escape(str(exc))}"})
            yield history, render.sources_panel([], pipeline.article_text), ""
            return
        words = answer.text.split(" ")
        history.append({"role": "assistant", "content": ""})
        for i in range(0, len(words), 6):      # stream the answer as it is assembled
            history[-1]["content"] = render.answer_markdown(" ".join(words[:i + 6]))
            yield history, gr.update(), ""
        panel = render.sources_panel(answer.citations, pipeline.article_text, answer.notice)
        yield history, panel, ""

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
        q = (query or "").lower()
        return [[r.article.id, r.article.title, (r.article.published or "")[:10],
                 r.article.source or "", r.passages] for r in pipeline.articles()
                if not q or q in r.article.title.lower() or q in r.article.id.lower()]

    def pick_row(evt: gr.SelectData):
        return evt.row_value[0] if evt.row_value else ""

    def open_article(article_id: str):
        record = pipeline.article((article_id or "").strip())
        if record is None:
            return f"<p>No article with id <code>{html.escape(article_id or '')}</code>.</p>"
        return render.article_page(record)

    def delete_article(article_id: str, query: str):
        ok = pipeline.delete((article_id or "").strip())
        msg = f"Deleted {article_id}." if ok else f"No article with id {article_id!r}."
        return msg, article_rows(query), gr.update(choices=article_choices(), value=[])

    # -- uploads ---------------------------------------------------------------------------
    def add_articles(files, pasted_title, pasted_text, progress=gr.Progress()):
        upload_dir = Path(tempfile.mkdtemp(prefix="upload-", dir=settings.home))
        try:
            paths: list[Path] = []
            problems: list[str] = []
            for f in files or []:
                src = Path(f if isinstance(f, str) else f.name)
                name = Path(src.name).name       # never a path: uploads stay in upload_dir
                if Path(name).suffix.lower() not in ALLOWED_SUFFIXES:
                    problems.append(f"{name}: file type not allowed ({', '.join(ALLOWED_SUFFIXES)})")
                    continue
                if src.stat().st_size > settings.max_upload_mb * 1024 * 1024:
                    problems.append(f"{name}: larger than {settings.max_upload_mb} MB")
                    continue
                dest = upload_dir / name
                shutil.copyfile(src, dest)
                paths.append(dest)
            if (pasted_text or "").strip():
                title = (pasted_title or "").strip() or pasted_text.strip().splitlines()[0][:80]
                dest = upload_dir / "pasted.md"
                dest.write_text(f"{title}\n\n{pasted_text.strip()}\n", encoding="utf-8")
                paths.append(dest)
            if not paths:
                return "\n".join(problems) or "Nothing to add.", article_rows(), gr.update()
            progress(0, desc="reading files")
            report = pipeline.ingest(paths, progress=lambda d, t: progress(d / max(t, 1),
                                                                           desc="embedding"))
            lines = [f"Added {report.added}, updated {report.updated}, unchanged "
                     f"{report.unchanged}. The archive holds {report.articles} articles."]
            lines += [f"{Path(x['path']).name}: {x['error']}" for x in report.failed]
            lines += problems
            return "\n".join(lines), article_rows(), gr.update(choices=article_choices())
        finally:
            shutil.rmtree(upload_dir, ignore_errors=True)

    def status_md():
        emb = pipeline.embedder
        return (f"- **Embedding model:** {emb.name} ({emb.backend}, {getattr(emb, 'model_dir', '')})\n"
                f"- **Store:** {settings.chroma_url or settings.chroma_dir.resolve()} — "
                f"{len(pipeline.articles())} articles, {pipeline.store.passage_count()} passages\n"
                f"- **Answering:** extractive (no LLM configured)\n")

    with gr.Blocks(title="News archive assistant") as demo:
        gr.Markdown("## News archive assistant\nAnswers quote the archive; every claim cites "
                    "its passage.")
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Chat", height=480, sanitize_html=True, elem_id="chat")
                    box = gr.Textbox(label="Question", placeholder=EXAMPLES[0], elem_id="question")
                    with gr.Row():
                        send = gr.Button("Ask", variant="primary", elem_id="ask")
                        clear = gr.Button("Clear chat", elem_id="clear")
                    gr.Examples(EXAMPLES, inputs=box)
                    with gr.Accordion("Filters", open=False):
                        f_articles = gr.Dropdown(choices=article_choices(), multiselect=True,
                                                 label="Articles")
                        f_source = gr.Dropdown(choices=[""] + sources(), value="", label="Source")
                        with gr.Row():
                            f_since = gr.Textbox(label="Since (YYYY-MM-DD)")
                            f_until = gr.Textbox(label="Until (YYYY-MM-DD)")
                with gr.Column(scale=2):
                    panel = gr.HTML(label="Sources", elem_id="sources",
                                    value='<div class="cite-empty">Cited passages appear here.</div>')
            inputs = [box, chat, f_articles, f_source, f_since, f_until]
            send.click(respond, inputs, [chat, panel, box], api_name="chat")
            box.submit(respond, inputs, [chat, panel, box], api_visibility="private")
            clear.click(lambda: ([], "", ""), None, [chat, panel, box], api_visibility="private")
        with gr.Tab("Articles"):
            search = gr.Textbox(label="Search titles")
            table = gr.Dataframe(headers=["id", "title", "date", "source", "passages"],
                                 value=article_rows(), interactive=False, elem_id="articles")
            with gr.Row():
                art_id = gr.Textbox(label="Article id")
                show_btn = gr.Button("Open")
                del_btn = gr.Button("Delete", variant="stop")
            del_msg = gr.Markdown()
            page = gr.HTML(elem_id="article-page")
            search.change(article_rows, search, table, api_visibility="private")
            table.select(pick_row, None, art_id, api_visibility="private").then(
                open_article, art_id, page, api_visibility="private")
            show_btn.click(open_article, art_id, page, api_name="article")
            del_btn.click(delete_article, [art_id, search], [del_msg, table, f_articles],
                          api_visibility="private")
        with gr.Tab("Add articles"):
            files = gr.File(file_count="multiple", file_types=list(ALLOWED_SUFFIXES),
                            label="Upload .txt .md .html .jsonl", elem_id="upload")
            p_title = gr.Textbox(label="…or paste an article: title")
            p_text = gr.Textbox(label="Text", lines=6)
            add_btn = gr.Button("Add to archive", variant="primary", elem_id="add")
            add_msg = gr.Textbox(label="Result", lines=4, elem_id="add-result")
            add_btn.click(add_articles, [files, p_title, p_text], [add_msg, table, f_articles],
                          api_name="add")
        with gr.Tab("Status"):
            status = gr.Markdown(status_md())
            gr.Button("Refresh").click(status_md, None, status, api_visibility="private")
        gr.api(ask_api, api_name="ask")
    return demo


def main() -> int:
    settings = Settings.from_env()
    pipeline = Pipeline(settings).warm_up()
    demo = build_ui(pipeline)
    auth = None
    if settings.auth:
        user, _, password = settings.auth.partition(":")
        if not password:
            print("RAG_AUTH must be user:password", file=sys.stderr)
            return 2
        auth = (user, password)
    demo.queue(default_concurrency_limit=4).launch(
        server_name=settings.host, server_port=settings.port, auth=auth, share=False,
        max_file_size=f"{settings.max_upload_mb}mb", css=render.CSS, footer_links=["api"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
