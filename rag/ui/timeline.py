"""The Timeline view: a story's articles oldest first, one cited sentence each, and a plot of
how many articles each source ran per month (or week)."""
from __future__ import annotations

import html

import gradio as gr

from ..errors import InputError
from .common import bind, filters_from, sources

PLOT_COLUMNS = ("period", "source", "articles")


def entry_html(entry: dict) -> str:
    """One entry, escaped: date, source, title, the key sentence, its span; duplicates after."""
    when = html.escape((entry["published"] or "undated")[:10])
    also = "".join(f"<li>also: {html.escape(a['source'] or a['article_id'])} — "
                   f"{html.escape(a['title'] or '')}</li>" for a in entry["also"])
    return (f'<li class="tl-entry" data-article="{html.escape(entry["article_id"])}">'
            f'<span class="tl-date">{when}</span> '
            f'<span class="tl-source">{html.escape(entry["source"] or "")}</span> '
            f'<b class="tl-title">{html.escape(entry["title"] or "")}</b>'
            f'<blockquote class="tl-sentence">{html.escape(entry["sentence"])}</blockquote>'
            f'<span class="tl-span">{html.escape(entry["article_id"])} '
            f'chars {entry["start"]}-{entry["end"]}</span>'
            + (f"<ul>{also}</ul>" if also else "") + "</li>")


def timeline_html(doc: dict) -> str:
    if not doc["entries"] and not doc["undated"]:
        return f"<p>Nothing in the archive about {html.escape(doc['topic'])}.</p>"
    parts = [f"<h3>{html.escape(doc['topic'])}</h3><ol class='tl-dated'>",
             *map(entry_html, doc["entries"]), "</ol>"]
    if doc["undated"]:
        parts += ["<h4>Undated</h4><ul class='tl-undated'>", *map(entry_html, doc["undated"]),
                  "</ul>"]
    return "".join(parts)


def coverage_frame(doc: dict):
    import pandas as pd
    return pd.DataFrame(doc["coverage"], columns=list(PLOT_COLUMNS))


def show_timeline(pipeline, topic: str, source: str, since: str, until: str, period: str):
    """(timeline HTML, coverage table for the plot)."""
    try:
        doc = pipeline.timeline(topic, filters_from((), source, since, until),
                                period or "month").to_dict()
    except InputError as exc:
        return f"<p class='error'>{html.escape(str(exc))}</p>", coverage_frame({"coverage": []})
    return timeline_html(doc), coverage_frame(doc)


def timeline_api(pipeline, topic: str, source: str = "", since: str = "", until: str = "",
                 period: str = "month") -> dict:
    """The `timeline --json` document, or {"error": ...}."""
    try:
        return pipeline.timeline(topic, filters_from((), source, since, until),
                                 period or "month").to_dict()
    except InputError as exc:
        return {"error": str(exc)}


def tab(pipeline) -> dict:
    with gr.Row():
        topic = gr.Textbox(label="Story", placeholder="e.g. Kenteris", elem_id="timeline-topic",
                           scale=3)
        source = gr.Dropdown(sources(pipeline), value="", label="Source", scale=1)
        since = gr.Textbox(label="Since (YYYY-MM-DD)", scale=1)
        until = gr.Textbox(label="Until (YYYY-MM-DD)", scale=1)
        period = gr.Radio(["month", "week"], value="month", label="Coverage per", scale=1)
    go = gr.Button("Show timeline", elem_id="timeline-go", variant="primary")
    entries = gr.HTML(elem_id="timeline")
    plot = gr.BarPlot(coverage_frame({"coverage": []}), x="period", y="articles", color="source",
                      title="Articles per period and source", elem_id="coverage-plot")
    inputs = [topic, source, since, until, period]
    go.click(bind(show_timeline, pipeline), inputs, [entries, plot], api_visibility="private")
    topic.submit(bind(show_timeline, pipeline), inputs, [entries, plot], api_visibility="private")
    gr.api(bind(timeline_api, pipeline), api_name="timeline")
    return {"topic": topic, "entries": entries, "plot": plot, "source": source}
