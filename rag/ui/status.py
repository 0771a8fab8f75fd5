"""The Status view: model, store, archive size, answering mode."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from .. import render
from .common import bind


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def answering_mode(settings) -> str:
    if not settings.llm:
        return "extractive — answers quote archive sentences, no language model"
    where = " at ".join(x for x in (settings.llm_model, settings.llm_url) if x)
    return (f"generative via {settings.llm}{' (' + where + ')' if where else ''}, every sentence "
            f"checked against its cited passage; extractive when the model is unavailable")


def status_md(pipeline) -> str:
    settings, emb = pipeline.settings, pipeline.embedder
    upload_dir = settings.home / "uploads"
    store = (f"Chroma server {settings.chroma_url}" if settings.chroma_url else
             f"`{settings.chroma_dir.resolve()}`, {folder_bytes(settings.chroma_dir) / 1e6:.1f} MB")
    return (f"- **Embedding model:** {emb.name} ({emb.backend})\n"
            f"- **Store:** {store} (passages and the article manifest)\n"
            f"- **Archive:** {render.plural(pipeline.store.article_count(), 'article')}, "
            f"{render.plural(pipeline.store.passage_count(), 'passage')}; uploads kept in "
            f"`{upload_dir.resolve()}` ({folder_bytes(upload_dir) / 1e6:.1f} MB)\n"
            f"- **Answering:** {answering_mode(settings)}\n"
            f"- **Retrieval:** dense + BM25 hybrid, top {settings.top_k} passages; "
            f"refuses below support {settings.refuse_below}\n")


def tab(pipeline) -> dict:
    status = gr.Markdown(status_md(pipeline), elem_id="status")
    gr.Button("Refresh").click(bind(status_md, pipeline), None, status,
                               api_visibility="private")
    return {"status": status}
