"""The UI builds from a pipeline and serves its API on loopback (fake embedder: fast).

The same flows in a real browser with the real model: tests/test_browser.py.
"""

import pytest

from conftest import SEED
from eval.common import free_port

LAVROV = "What did Lavrov say about THAAD?"
HOSTILE_MD = ('Quarry report <img src=x onerror="alert(3)">\n\n'
              'Posted on : 2024-05-03 10:00 KST\n\n'
              'The council said <script>alert(1)</script> that blasting stops.\n\n'
              'Inspector Odile Marchetti said <img src=x onerror="alert(2)"> the walls are stable.\n')



@pytest.fixture
def serve_pipeline():
    """Start the UI over a given pipeline on a free loopback port; closed after the test."""
    import app
    started = []

    def start(pipeline, **overrides):
        port = free_port()
        demo = app.serve(pipeline, server_port=port, prevent_thread_lock=True, quiet=True,
                         **overrides)
        started.append(demo)
        return f"http://127.0.0.1:{port}/"
    yield start
    for demo in started:
        demo.close()


@pytest.fixture
def served(fake_pipeline, serve_pipeline):
    fake_pipeline.ingest([SEED])
    return serve_pipeline(fake_pipeline), fake_pipeline


def client_for(url, **kwargs):
    from gradio_client import Client
    return Client(url, verbose=False, **kwargs)


def test_api_ask_returns_the_cli_json(served):
    url, pipeline = served
    client = client_for(url)
    result = client.predict(LAVROV, "", "", "", "", api_name="/ask")
    assert result["refused"] is False and "pretext" in result["answer"]
    text = pipeline.article_text(result["citations"][0]["article_id"])
    c = result["citations"][0]
    assert text[c["start"]:c["end"]] == c["quote"]
    error = client.predict("x" * 5000, "", "", "", "", api_name="/ask")
    assert "too long" in error["error"]
    bad_date = client.predict(LAVROV, "", "", "yesterday", "", api_name="/ask")
    assert "expected a date" in bad_date["error"]


def test_chat_endpoint_streams_answer_and_escaped_sources(served):
    url, _ = served
    job = client_for(url).submit(LAVROV, [], [], "", "", "", api_name="/chat")
    history, panel, box = job.result()
    updates = job.outputs()
    assert len(updates) >= 2, "the answer should stream in several updates"
    assert "Searching the archive" in str(updates[0][0][-1]["content"])
    assert history[-1]["role"] == "assistant"
    final = str(history[-1]["content"])
    assert 'class="answer final"' in final and 'href="#cite-1-1"' in final and "pretext" in final
    assert 'id="cite-1-1"' in panel and '<mark class="quote">' in panel and "pretext" in panel
    assert box == ""


def test_chat_filters_by_article_source_and_date(fake_pipeline, serve_pipeline, tmp_path):
    other = tmp_path / "harbour.md"
    other.write_text("---\nsource: example.org\ndate: 2024-05-02\n---\nHarbour news\n\n"
                     "The harbour master said the new crane terminal opens in June.\n")
    fake_pipeline.ingest([SEED, other])
    client = client_for(serve_pipeline(fake_pipeline))

    def answer(articles=(), source="", since="", until=""):
        history, panel, box = client.predict(LAVROV, [], list(articles), source, since, until,
                                             api_name="/chat")
        newest = panel.split("</section>")[0]   # the panel keeps earlier questions below
        return str(history[-1]["content"]), newest, box

    assert "pretext" in answer(source="hani.co.kr")[0]
    assert "pretext" in answer(articles=["000_066ea528e0fa7fc5"], until="2016-12-31")[0]
    for kwargs in ({"source": "example.org"}, {"articles": ["harbour"]}, {"since": "2020-01-01"}):
        text, panel, _ = answer(**kwargs)
        assert "pretext" not in text and "000_066ea528e0fa7fc5" not in panel, kwargs
    text, _, box = answer(since="soon")
    assert "expected a date" in text and box == LAVROV     # the question stays for a retry


def test_follow_up_questions_pass_the_session_history(settings, serve_pipeline):
    from fakes import FakeEmbedder
    from rag.pipeline import Pipeline

    class RecordingPipeline(Pipeline):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.histories = []

        def ask(self, question, **kwargs):
            self.histories.append(kwargs.get("history"))
            return super().ask(question, **kwargs)

    pipeline = RecordingPipeline(settings, embedder=FakeEmbedder()).open()
    pipeline.ingest([SEED])
    from gradio_client import Client
    # gr.State lives per browser session; a client over the websocket keeps one session.
    client = Client(serve_pipeline(pipeline), verbose=False)
    history, _, _ = client.predict(LAVROV, [], [], "", "", "", api_name="/chat")
    client.predict("And Wang Yi?", history, [], "", "", "", api_name="/chat")
    assert pipeline.histories[0] == []
    first = pipeline.histories[1]
    assert len(first) == 1 and first[0]["question"] == LAVROV and "pretext" in first[0]["answer"]


def test_add_endpoint_ingests_uploads_and_pasted_text_at_once(served, tmp_path):
    from gradio_client import handle_file
    url, pipeline = served
    client = client_for(url)
    good = tmp_path / "velmora-harbour.md"
    good.write_text("Velmora harbour opens a crane terminal\n\nHarbour master Ilse Brandvik said "
                    "the terminal lets the largest container ships dock at Velmora.\n")
    wrong_type = tmp_path / "notes.pdf"
    wrong_type.write_bytes(b"%PDF-1.4")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    out = client.predict([handle_file(good), handle_file(wrong_type), handle_file(empty)],
                         "Orchard buys a cider press", "The Halden orchard bought a cider press.",
                         "", api_name="/add")
    result = out[0]
    assert "✓ Velmora harbour opens a crane terminal (id velmora-harbour" in result
    assert "✓ Orchard buys a cider press" in result
    assert "✗ notes.pdf: file type not allowed" in result
    assert "✗ empty.txt:" in result                       # the loader's per-file error
    answer = client.predict("What did Ilse Brandvik say?", "", "", "", "", api_name="/ask")
    assert answer["citations"][0]["article_id"] == "velmora-harbour"   # no restart needed
    rows = client.predict("velmora", api_name="/articles")["data"]
    assert [r[-1] for r in rows] == ["velmora-harbour"]
    uploads = pipeline.settings.home / "uploads"
    assert (uploads / "velmora-harbour.md").exists() and not (uploads / "notes.pdf").exists()


def test_article_endpoint_shows_hostile_text_escaped(served, tmp_path):
    from gradio_client import handle_file
    url, _ = served
    client = client_for(url)
    hostile = tmp_path / "quarry.md"
    hostile.write_text(HOSTILE_MD)
    client.predict([handle_file(hostile)], "", "", "", api_name="/add")
    page = client.predict("quarry", api_name="/article")
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x" in page
    assert "No article with id" in client.predict("nope", api_name="/article")
    history, panel, _ = client.predict("What did Odile Marchetti say about the walls?", [], [],
                                       "", "", "", api_name="/chat")
    answer = str(history[-1]["content"])
    assert "<img" not in answer and "<img" not in panel and "&lt;img src=x" in panel


def test_article_page_shows_its_summary_linked_to_highlighted_sentences(served):
    url, pipeline = served
    page = client_for(url).predict("000_066ea528e0fa7fc5", api_name="/article")
    summary = pipeline.summarize(["000_066ea528e0fa7fc5"])
    assert '<div class="summary">' in page and 'href="#sum-1"' in page
    first = summary.citations[0]
    assert f'<mark class="quote" id="sum-1">{first.quote}</mark>' in page
    assert "Lavrov" in page                                   # the article text follows


def test_article_page_with_a_failing_summarizer_still_shows_the_article(settings,
                                                                        serve_pipeline):
    from fakes import FakeEmbedder
    from rag.pipeline import Pipeline

    class BrokenSummaries(Pipeline):
        def summarize(self, ids, sentences=None):
            raise RuntimeError("model <missing>")

    pipeline = BrokenSummaries(settings, embedder=FakeEmbedder()).open()
    pipeline.ingest([SEED])
    page = client_for(serve_pipeline(pipeline)).predict("000_066ea528e0fa7fc5",
                                                        api_name="/article")
    assert "Lavrov" in page and '<div class="summary">' not in page
    assert "No summary: model &lt;missing&gt;" in page


def test_login_is_required_when_auth_is_set(served, fake_pipeline, serve_pipeline):
    url = serve_pipeline(fake_pipeline, auth=("reader", "s3cret"))
    from gradio_client.exceptions import AuthenticationError
    with pytest.raises(AuthenticationError, match="credentials were not provided"):
        client_for(url).predict(LAVROV, "", "", "", "", api_name="/ask")
    result = client_for(url, auth=("reader", "s3cret")).predict(LAVROV, "", "", "", "",
                                                                 api_name="/ask")
    assert "pretext" in result["answer"]


# ---------------------------------------------------------------- helpers, no server

def test_launch_options_bind_loopback_and_parse_auth(settings):
    from rag import ui as app
    opts = app.launch_options(settings)
    assert opts["server_name"] == "127.0.0.1" and opts["server_port"] == 7860
    assert opts["auth"] is None and opts["share"] is False and opts["max_file_size"] == "20mb"
    login = app.launch_options(settings.with_(auth="ann:pa:ss,bo:pw"))["auth"]
    assert login("ann", "pa:ss") and login("bo", "pw") and not login("ann", "pw")
    for bad in ("ann", "ann:", ":pw"):
        with pytest.raises(ValueError, match="RAG_AUTH"):
            app.launch_options(settings.with_(auth=bad))
    from rag.config import Settings
    env = Settings.from_env({"RAG_HOST": "0.0.0.0", "RAG_PORT": "8001"})
    assert app.launch_options(env)["server_name"] == "0.0.0.0"
    assert app.launch_options(env)["server_port"] == 8001


@pytest.mark.parametrize("name, expected", [
    ("report.md", "report.md"),
    ("../../etc/cron.d/evil.md", "evil.md"),
    ("..\\..\\windows\\evil.txt", "evil.txt"),
    ("/abs/path/a b.html", "a b.html"),
    ("..md", None), (".md", None), ("...", None), ("noext", None),
    ("we<i>rd;name$.jsonl", "we_i_rd_name_.jsonl"),
    ("nul\x00byte.md", "nulbyte.md"),
])
def test_safe_upload_name(name, expected):
    from rag.ui.library import safe_upload_name
    assert safe_upload_name(name) == expected


def test_stage_uploads_stays_in_its_folder_and_reports_each_file(tmp_path):
    from rag.ui import library as app
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "b").mkdir()
    ok = src / "a" / "ok.md"
    ok.write_text("Title\n\nBody.\n")
    same_name = src / "b" / "ok.md"
    same_name.write_text("Other\n\nBody.\n")
    big = src / "big.txt"
    big.write_bytes(b"x" * 2048)
    exe = src / "run.sh"
    exe.write_text("echo hi")
    dest = tmp_path / "uploads"
    staged, problems = app.stage_uploads([str(ok), str(same_name), str(big), str(exe)], dest,
                                         max_bytes=1024)
    assert staged == [(dest / "ok.md").resolve()]
    assert staged[0].read_text() == "Title\n\nBody.\n"
    assert [p.split(":")[0] for p in problems] == ["ok.md", "big.txt", "run.sh"]
    assert "same name" in problems[0] and "limit" in problems[1] and "not allowed" in problems[2]
    assert sorted(p.name for p in dest.iterdir()) == ["ok.md"]   # no .part files left


def test_pasted_articles_get_distinct_files(tmp_path):
    from rag.ui import library as app
    a = app.stage_pasted("Same title", "First text.", tmp_path)
    b = app.stage_pasted("Same title", "Second text.", tmp_path)
    c = app.stage_pasted("", "Untitled first line\nmore", tmp_path)
    assert a != b and a.parent == b.parent == c.parent == tmp_path
    assert a.read_text().startswith("Same title\n\n") and "untitled-first-line" in c.name


def test_example_questions_keep_lavrov_and_use_titles(fake_pipeline):
    from rag.ui import common as app
    assert app.example_questions([]) == [app.EXAMPLE_QUESTION]
    fake_pipeline.ingest([SEED])
    questions = app.example_questions(fake_pipeline.articles())
    assert questions[0] == "What did Lavrov say about THAAD?"
    assert questions[1] == ("What does the archive say about Russia and China united in "
                            "opposition to THAAD on the Korean peninsula?")
    answer = fake_pipeline.ask(questions[1])
    assert not answer.refused and answer.citations


def test_hostile_article_text_is_escaped():
    from rag.citations import Citation
    from rag.render import citation_card
    text = 'Intro. <script>alert(1)</script> and <img src=x onerror="alert(2)"> end.'
    c = Citation(1, "evil", "<b>title</b>", None, None, "javascript:alert(3)", text[7:33], 7, 33)
    card = citation_card(c, text, turn=2)
    assert "<script>" not in card and "<img" not in card and "<b>title" not in card
    assert "&lt;script&gt;" in card and "&lt;img" in card
    assert "javascript:" not in card and 'id="cite-2-1"' in card


def test_answer_html_links_citations_and_stays_one_html_block():
    from rag.render import answer_html, user_html
    html = answer_html("A **bold** [x](javascript:alert(1)) claim [1, 2].\n\nNext <b> [3]", 4)
    assert html.startswith('<div class="answer final">') and "\n" not in html
    for n in (1, 2, 3):
        assert f'href="#cite-4-{n}"' in html
    assert "&lt;b&gt;" in html and "<b>" not in html
    assert 'href="javascript' not in html
    assert "\n" not in user_html("two\n\nparagraphs <i>")


def test_summarize_endpoint_shows_cited_summary_with_sources(served):
    url, pipeline = served
    client = client_for(url)
    article_id = pipeline.articles()[0].article.id
    html_out = client.predict([article_id], "", 2, api_name="/summarize")
    assert html_out.count('class="cite-card') == 2
    assert 'href="#cite-0-1"' in html_out and '<mark class="quote">' in html_out
    again = client.predict([article_id], "", 2, api_name="/summarize")
    assert "Summary (cached)" in again
    nothing = client.predict([], "", 3, api_name="/summarize")
    assert "Pick one or more articles" in nothing
