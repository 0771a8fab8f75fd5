"""The Articles, Add articles and Summaries views: browse, read, delete, upload, summarize."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from pathlib import Path

import gradio as gr

from .. import render
from ..articles import ALLOWED_SUFFIXES
from ..fetch import is_url
from ..errors import InputError
from .common import article_choices, bind, examples_now, sources
from .status import status_md

log = logging.getLogger("rag.ui")
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.\- ]+")


# ---------------------------------------------------------------- uploads (pure, tested directly)

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


# ---------------------------------------------------------------- handlers

def article_rows(pipeline, query: str = ""):
    q = (query or "").strip().lower()
    return [[r.article.title, (r.article.published or "")[:10], r.article.source or "",
             r.passages, r.article.id] for r in pipeline.articles()
            if not q or any(q in (x or "").lower()
                            for x in (r.article.title, r.article.id, r.article.source))]


def pick_row(evt: gr.SelectData):
    return evt.row_value[-1] if evt.row_value else ""


def open_article(pipeline, article_id: str):
    article_id = (article_id or "").strip()
    record = pipeline.article(article_id)
    if record is None:
        return render.message_html(f"No article with id {article_id!r}.")
    try:
        result = pipeline.summarize([article_id])
        summary, marks = render.summary_html(result), result.citations
    except Exception as exc:  # a failing summary must not hide the article itself
        log.exception("summary of %s failed", article_id)
        summary, marks = render.message_html(f"(No summary: {exc})"), ()
    return render.article_page(record, summary, marks)


def after_change(pipeline, query: str = ""):
    """Everything that lists articles, refreshed after an add or a delete (see `refreshed`)."""
    return (article_rows(pipeline, query), gr.update(choices=article_choices(pipeline)),
            gr.update(choices=sources(pipeline)), gr.Dataset(samples=examples_now(pipeline)),
            status_md(pipeline), gr.update(choices=article_choices(pipeline)))


def delete_article(pipeline, article_id: str, query: str):
    article_id = (article_id or "").strip()
    if not article_id:
        msg = "Nothing deleted."
    elif pipeline.delete(article_id):
        msg = f"Deleted {article_id}."
    else:
        msg = f"No article with id {article_id!r}."
    return (render.message_html(msg), "", *after_change(pipeline, query))


def add_articles(pipeline, files, pasted_title, pasted_text, query="", progress=gr.Progress()):
    settings = pipeline.settings
    upload_dir = settings.home / "uploads"
    files = [files] if isinstance(files, str) else list(files or [])
    paths, problems = stage_uploads(files, upload_dir, settings.max_upload_mb * 1024 * 1024)
    if (pasted_text or "").strip():
        paths.append(stage_pasted(pasted_title, pasted_text, upload_dir))
    if not paths:
        return ("\n".join(problems) or "Nothing to add: choose files or paste text.",
                gr.update(), *after_change(pipeline, query))
    progress(0, desc="reading files")
    try:
        report = pipeline.ingest(paths, progress=lambda done, total: progress(
            (done, max(total, 1)), desc="embedding passages", unit="passages"))
    except Exception as exc:  # e.g. the store is locked or built by another model
        log.exception("ingest from the UI failed")
        return (f"Nothing added: {exc}", gr.update(), *after_change(pipeline, query))
    return (ingest_result(pipeline, report, problems), None, *after_change(pipeline, query))


def ingest_result(pipeline, report, problems=()) -> str:
    """One line for the whole ingest, then one per article added and per source that failed
    (a file by its name, a URL as it is)."""
    def shown(path: str) -> str:
        return path if is_url(path) else Path(path).name
    lines = [f"Added {report.added}, updated {report.updated}, unchanged {report.unchanged}. "
             f"The archive holds {report.articles} articles."]
    for article_id in report.ids:
        record = pipeline.article(article_id)
        if record:
            lines.append(f"✓ {record.article.title} (id {article_id}, "
                         f"{render.plural(record.passages, 'passage')})")
    lines += [f"✗ {shown(x['path'])}: {x['error']}" for x in report.failed]
    lines += [f"✗ {shown(x['path'] or '')}: the same article as {x['same_as']}"
              for x in report.duplicates]
    lines += [f"✗ {p}" for p in problems]
    return "\n".join(lines)


def add_urls(pipeline, urls: str, query: str = "", progress=gr.Progress()):
    """Fetch web pages or RSS/Atom feeds (one URL per line) into the archive. A visitor's URL is
    fetched under the SSRF guard: no loopback, private or link-local address unless
    RAG_ALLOW_PRIVATE_URLS is set (rag/fetch.py)."""
    given = [u.strip() for u in (urls or "").split() if u.strip()]
    bad = [u for u in given if not is_url(u)]
    if not given or bad:
        return ((f"Not a web address: {', '.join(bad)} (expected http:// or https://)" if bad
                 else "Nothing to add: type the URL of a page or a feed."),
                *after_change(pipeline, query))
    progress(0, desc="fetching")
    try:
        report = pipeline.ingest(urls=given, refuse_private_urls=True,
                                 progress=lambda done, total: progress(
                                     (done, max(total, 1)), desc="embedding passages",
                                     unit="passages"))
    except Exception as exc:  # e.g. the store is locked or built by another model
        log.exception("ingest of URLs from the UI failed")
        return (f"Nothing added: {exc}", *after_change(pipeline, query))
    return (ingest_result(pipeline, report), *after_change(pipeline, query))


def summarize_view(pipeline, article_ids, topic: str = "", sentences: float = 3):
    """Summary of the picked articles, or of those matching a topic, with its sources."""
    try:
        if (topic or "").strip():
            result = pipeline.summarize_topic(topic, int(sentences))
        elif article_ids:
            result = pipeline.summarize(list(article_ids), int(sentences))
        else:
            return render.message_html("Pick one or more articles, or type a topic.")
    except InputError as exc:            # a bad length, an unknown id (NotFound), no match
        return render.message_html(str(exc))
    return render.summary_view(result, pipeline.article_text)


# ---------------------------------------------------------------- layout

def articles_tab(pipeline) -> dict:
    search = gr.Textbox(label="Search title, source or id", elem_id="article-search")
    table = gr.Dataframe(headers=["title", "date", "source", "passages", "id"],
                         value=article_rows(pipeline), interactive=False, wrap=True,
                         elem_id="articles")
    with gr.Row():
        art_id = gr.Textbox(label="Article id (click a row)", elem_id="article-id")
        show_btn = gr.Button("Open", elem_id="open-article")
        del_btn = gr.Button("Delete", variant="stop", elem_id="delete-article")
    del_msg = gr.HTML()
    page = gr.HTML(elem_id="article-page")
    search.change(bind(article_rows, pipeline), search, table, api_name="articles")
    table.select(pick_row, None, art_id, api_visibility="private").then(
        bind(open_article, pipeline), art_id, page, api_visibility="private")
    show_btn.click(bind(open_article, pipeline), art_id, page, api_name="article")
    return {"search": search, "table": table, "art_id": art_id, "del_btn": del_btn,
            "del_msg": del_msg, "page": page}


def add_tab(pipeline) -> dict:
    files = gr.File(file_count="multiple", elem_id="upload",
                    label=f"Upload {' '.join(ALLOWED_SUFFIXES)} "
                          f"(up to {pipeline.settings.max_upload_mb} MB each)")
    p_title = gr.Textbox(label="…or paste an article: title", elem_id="paste-title")
    p_text = gr.Textbox(label="Text", lines=6, elem_id="paste-text")
    add_btn = gr.Button("Add to archive", variant="primary", elem_id="add")
    with gr.Row():
        urls = gr.Textbox(label="…or the URL of a web page or an RSS/Atom feed (one per line)",
                          elem_id="add-url", scale=4)
        url_btn = gr.Button("Fetch and add", elem_id="add-url-btn", scale=1)
    add_msg = gr.Textbox(label="Result", lines=4, elem_id="add-result")
    return {"files": files, "p_title": p_title, "p_text": p_text, "add_btn": add_btn,
            "add_msg": add_msg, "urls": urls, "url_btn": url_btn}


def summaries_tab(pipeline) -> dict:
    with gr.Row():
        s_articles = gr.Dropdown(choices=article_choices(pipeline), multiselect=True,
                                 label="Articles (several: one summary across them)",
                                 elem_id="s-articles")
        s_topic = gr.Textbox(label="…or a topic", elem_id="s-topic")
        s_len = gr.Slider(1, 10, value=3, step=1, label="Sentences")
    s_btn = gr.Button("Summarize", variant="primary", elem_id="summarize")
    s_out = gr.HTML(elem_id="summary")
    s_btn.click(bind(summarize_view, pipeline), [s_articles, s_topic, s_len], s_out,
                api_name="summarize")
    return {"s_articles": s_articles}
