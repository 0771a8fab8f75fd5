"""The People view's handlers and its `quotes` / `people` API (fake embedder)."""
import pytest

from conftest import SEED
from eval.common import free_port
from rag.ui import people as view


@pytest.fixture
def seeded(fake_pipeline):
    fake_pipeline.ingest([SEED])
    return fake_pipeline


def test_quotes_api_matches_the_cli_shape_and_spans(seeded):
    doc = view.quotes_api(seeded, "Mr Wang", "THAAD")
    assert doc["speaker"] == "Wang Yi" and len(doc["quotes"]) == 2
    for q in doc["quotes"]:
        assert set(q) == {"speaker", "quote", "cue", "article_id", "title", "published", "source",
                          "url", "start", "end"}
        assert seeded.article(q["article_id"]).article.text[q["start"]:q["end"]] == q["quote"]
    assert "since" in view.quotes_api(seeded, "Lavrov", since="soon")["error"]   # names the field
    assert view.quotes_api(seeded, "Nobody")["quotes"] == []


def test_show_person_plots_months_and_opens_the_highlighted_quote(seeded):
    head, plot, rows, quotes = view.show_person(seeded, "Lavrov")
    assert "Sergey Lavrov" in head and "2 quotations" in head
    assert plot is not None and len(plot.axes[0].patches) == 1       # one month, one bar
    assert [r[0] for r in rows] == ["2016-04-30", "2016-04-30"]

    class Select:   # what Gradio passes to a select handler
        index = [1, 0]
    page = view.open_quote(seeded, quotes, Select())
    assert '<mark class="quote"' in page and "We hope the six-party talks" in page
    assert view.per_month_plot([{"published": None}]) is None


def test_people_api_lists_counts_roles_and_aliases(seeded):
    people = {p["name"]: p for p in view.people_api(seeded)}
    assert people["Wang Yi"]["quotes"] == 3 and "Wang" in people["Wang Yi"]["aliases"]
    assert people["Sergey Lavrov"]["roles"] == ["Russian Minister of Foreign Affairs"]
    assert [r[0] for r in view.people_rows(seeded, "lav")] == ["Sergey Lavrov"]


def test_gradio_api_names_quotes_and_people(seeded):
    from gradio_client import Client

    from rag.ui.app import serve
    port = free_port()
    demo = serve(seeded, server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        doc = client.predict("Lavrov", "THAAD", "", "", "", 0, api_name="/quotes")
        assert doc["speaker"] == "Sergey Lavrov" and len(doc["quotes"]) == 1
        people = client.predict("", api_name="/people")
        assert {p["name"] for p in people} == {"Sergey Lavrov", "Wang Yi"}
    finally:
        demo.close()
