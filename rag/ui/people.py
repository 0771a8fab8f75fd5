"""The People view: find a person, read what they said over time (quotes per month where dates
exist), open each quotation highlighted in its article. API: `quotes` and `people`, the same
JSON as `python -m rag quotes/people --json`."""
from __future__ import annotations

from collections import Counter

import gradio as gr

from .. import render
from ..citations import Citation
from ..pipeline import InputError
from ..quotes.people import AmbiguousSpeaker
from .common import bind, filters_from

PEOPLE_SHOWN = 200
QUOTE_COLUMNS = ["date", "quotation", "article", "source"]


def quotes_api(pipeline, name: str, about: str = "", since: str = "", until: str = "",
               source: str = "", limit: float = 0) -> dict:
    """One person's quotations, oldest first: {"speaker", "quotes": [...]}, or {"error"}."""
    try:
        person, quotes = pipeline.quotes_by(name or "", (about or "").strip() or None,
                                            filters_from([], source, since, until),
                                            int(limit) or None)
    except AmbiguousSpeaker as exc:
        return {"error": str(exc), "candidates": exc.candidates}
    except (InputError, ValueError) as exc:
        return {"error": str(exc)}
    if person is None:
        return {"error": f"no quotations by {name!r}", "speaker": None, "quotes": []}
    return {"speaker": person.name, "quotes": [q.to_dict() for q in quotes]}


def people_api(pipeline, about: str = "") -> list[dict]:
    """Everyone quoted (or quoted on `about`): counts, first/last date, sources, roles."""
    return [p.to_dict() for p in pipeline.people((about or "").strip() or None)]


def people_rows(pipeline, search: str = "", about: str = "") -> list[list]:
    needle = (search or "").strip().lower()
    rows = [[p["name"], p["quotes"], (p["first"] or "")[:10], (p["last"] or "")[:10],
             ", ".join(p["roles"][:2])] for p in people_api(pipeline, about)
            if needle in p["name"].lower()]
    return rows[:PEOPLE_SHOWN]


def per_month_plot(quotes: list[dict]):
    """Quotations per month (dated ones); None when none is dated."""
    months = Counter(q["published"][:7] for q in quotes if q.get("published"))
    if not months:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = sorted(months)
    fig, ax = plt.subplots(figsize=(6, 2.2))
    ax.bar(keys, [months[k] for k in keys], color="#4a7bd0")
    ax.set_ylabel("quotations")
    from matplotlib.ticker import MaxNLocator
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def show_person(pipeline, name: str, about: str = ""):
    """(heading, plot, quotation rows, quotations) for the view."""
    doc = quotes_api(pipeline, name, about)
    if "error" in doc:
        return render.message_html(doc["error"]), None, [], []
    quotes = doc["quotes"]
    undated = sum(1 for q in quotes if not q["published"])
    head = (f"<h3>{render.esc(doc['speaker'])}</h3><div class='cite-meta'>"
            f"{render.plural(len(quotes), 'quotation')}"
            f"{f', {undated} undated' if undated else ''} — oldest first; click one to read it "
            "in its article</div>")
    rows = [[(q["published"] or "undated")[:10], q["quote"], q["title"], q["source"] or ""]
            for q in quotes]
    return head, per_month_plot(quotes), rows, quotes


def open_quote(pipeline, quotes: list[dict], evt: gr.SelectData) -> str:
    """The article of the clicked quotation, with the quotation highlighted."""
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    if not quotes or row is None or row >= len(quotes):
        return ""
    q = quotes[row]
    record = pipeline.article(q["article_id"])
    if record is None:
        return render.message_html(f"No article with id {q['article_id']!r}")
    return render.article_page(record, marks=[Citation.from_dict(q)])


def pick_person(pipeline, rows, evt: gr.SelectData) -> str:
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    data = rows.values.tolist() if hasattr(rows, "values") else rows
    return data[row][0] if data and row is not None and row < len(data) else ""


def tab(pipeline) -> dict:
    quotes_state = gr.State([])
    with gr.Row():
        name = gr.Textbox(label="Person", placeholder="Lavrov, Mr Howard, Wang Yi ...",
                          elem_id="person-name", scale=3)
        about = gr.Textbox(label="About (optional)", placeholder="THAAD", elem_id="person-about",
                           scale=2)
        show = gr.Button("Show quotations", variant="primary", elem_id="person-show")
    with gr.Row():
        with gr.Column(scale=2):
            people = gr.Dataframe(headers=["person", "quotations", "first", "last", "roles"],
                                  value=lambda: people_rows(pipeline), interactive=False,
                                  label="People quoted", elem_id="people-table", max_height=420)
        with gr.Column(scale=3):
            heading = gr.HTML(elem_id="person-heading")
            plot = gr.Plot(label="Quotations per month", elem_id="person-plot")
            table = gr.Dataframe(headers=QUOTE_COLUMNS, interactive=False, wrap=True,
                                 label="Quotations", elem_id="person-quotes", max_height=420)
    article = gr.HTML(elem_id="person-article")
    outputs = [heading, plot, table, quotes_state]
    show.click(bind(show_person, pipeline), [name, about], outputs, api_visibility="private")
    name.submit(bind(show_person, pipeline), [name, about], outputs, api_visibility="private")
    table.select(bind(open_quote, pipeline), [quotes_state], article, api_visibility="private")
    people.select(bind(pick_person, pipeline), [people], name,
                  api_visibility="private").then(
        bind(show_person, pipeline), [name, about], outputs, api_visibility="private")
    gr.api(bind(quotes_api, pipeline), api_name="quotes")
    gr.api(bind(people_api, pipeline), api_name="people")
    return {"people": people, "name": name}
