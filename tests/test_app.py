"""The UI builds from a pipeline and serves its API on loopback (fake embedder: fast)."""
import socket

import pytest

from conftest import SEED


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(fake_pipeline):
    import app
    fake_pipeline.ingest([SEED])
    demo = app.build_ui(fake_pipeline)
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                        quiet=True)
    yield f"http://127.0.0.1:{port}/", fake_pipeline
    demo.close()


def test_api_ask_returns_the_cli_json(served):
    from gradio_client import Client
    url, pipeline = served
    client = Client(url, verbose=False)
    result = client.predict("What did Lavrov say about THAAD?", "", "", "", "", api_name="/ask")
    assert result["refused"] is False and "pretext" in result["answer"]
    text = pipeline.article_text(result["citations"][0]["article_id"])
    c = result["citations"][0]
    assert text[c["start"]:c["end"]] == c["quote"]
    error = client.predict("x" * 5000, "", "", "", "", api_name="/ask")
    assert "too long" in error["error"]


def test_chat_endpoint_streams_answer_and_escaped_sources(served):
    from gradio_client import Client
    url, _ = served
    client = Client(url, verbose=False)
    history, panel, box = client.predict("What did Lavrov say about THAAD?", [], [], "", "", "",
                                         api_name="/chat")
    assert history[-1]["role"] == "assistant"
    assert 'href="#cite-1"' in str(history[-1]["content"])
    assert '<mark class="quote">' in panel and "pretext" in panel
    assert box == ""


def test_hostile_article_text_is_escaped():
    from rag.citations import Citation
    from rag.render import citation_card
    text = 'Intro. <script>alert(1)</script> and <img src=x onerror="alert(2)"> end.'
    c = Citation(1, "evil", "<b>title</b>", None, None, "javascript:alert(3)", text[7:33], 7, 33)
    card = citation_card(c, text)
    assert "<script>" not in card and "<img" not in card and "<b>title" not in card
    assert "&lt;script&gt;" in card and "&lt;img" in card
    assert "javascript:" not in card
