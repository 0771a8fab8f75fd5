"""The page: its views laid out as tabs, the events that cross views, launch options."""
from __future__ import annotations

import gradio as gr

from .. import render
from ..users import Users
from . import chat, conversations, library, people, status, timeline
from .common import bind

TITLE = "News archive assistant"
CONCURRENT_REQUESTS = 4


def build_ui(pipeline) -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"## {TITLE}\nAnswers quote the archive; every claim cites its passage — "
                    "click a **[n]** to see it in its article.")
        with gr.Sidebar(label="Conversations", open=False, elem_id="conversations"):
            conv = conversations.sidebar(pipeline)
        with gr.Tab("Chat"):
            c = chat.tab(pipeline)
        with gr.Tab("Articles"):
            a = library.articles_tab(pipeline)
        with gr.Tab("Add articles"):
            add = library.add_tab(pipeline)
        with gr.Tab("Summaries"):
            s = library.summaries_tab(pipeline)
        with gr.Tab("Timeline"):
            timeline.tab(pipeline)
        with gr.Tab("People"):
            people.tab(pipeline)
        with gr.Tab("Status"):
            st = status.tab(pipeline)
        # Order matches library.after_change's return value.
        refreshed = [a["table"], c["f_articles"], c["f_source"], c["examples"].dataset,
                     st["status"], s["s_articles"]]
        add["add_btn"].click(bind(library.add_articles, pipeline),
                             [add["files"], add["p_title"], add["p_text"], a["search"]],
                             [add["add_msg"], add["files"], *refreshed], api_name="add")
        add["url_btn"].click(bind(library.add_urls, pipeline), [add["urls"], a["search"]],
                             [add["add_msg"], *refreshed], api_name="add_url")
        conversations.wire(pipeline, conv, c, demo)
        # The browser asks first; a cancelled confirm sends an empty id, which deletes nothing.
        a["del_btn"].click(
            bind(library.delete_article, pipeline), [a["art_id"], a["search"]],
            [a["del_msg"], a["page"], *refreshed],
            js="(id, q) => [(id && confirm('Delete article ' + id + '?')) ? id : '', q]",
            api_visibility="private")
        # Lists built above are a snapshot; a page opened after an upload must show the archive now.
        demo.load(bind(library.after_change, pipeline), None, refreshed, api_visibility="private")
        gr.api(bind(chat.ask_api, pipeline), api_name="ask")
    return demo


def launch_options(settings) -> dict:
    """Everything `Blocks.launch` needs from Settings: loopback by default, optional login."""
    users = Users.from_setting(settings.auth)       # several users, or a hashed users file
    auth = users.check if users else None
    return dict(server_name=settings.host, server_port=settings.port, auth=auth, share=False,
                max_file_size=f"{settings.max_upload_mb}mb", css=render.CSS, js=render.JS,
                footer_links=["api"], ssr_mode=False, mcp_server=False, enable_monitoring=False)


def serve(pipeline, **overrides) -> gr.Blocks:
    """Build the UI and start it with `launch_options` (overrides win, e.g. a test's port)."""
    demo = build_ui(pipeline)
    demo.queue(default_concurrency_limit=CONCURRENT_REQUESTS).launch(
        **{**launch_options(pipeline.settings), **overrides})
    return demo
