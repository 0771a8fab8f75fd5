"""The UI in a real browser: Debian's chromium driven by Playwright, the real model and store.

Run: `.venv/bin/python -m pytest -m browser -v` (needs `bash .ci/install-debian-packages`).
Screenshots of each step land in artifacts/screenshots/.
"""
import textwrap
from pathlib import Path

import pytest

from conftest import DATA, ROOT, SEED
from eval.common import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "artifacts" / "screenshots"
TIMEOUT_MS = 60_000

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(),
                                 reason="/usr/bin/chromium missing: run `bash .ci/install-debian-packages`")]

HARBOUR = textwrap.dedent("""\
    Velmora harbour opens a deep-water crane terminal

    Posted on : 2024-05-02 09:00 KST

    The port authority of Velmora opened a deep-water crane terminal on Thursday, doubling the harbour's container capacity.

    "The terminal lets the largest container ships dock at Velmora for the first time," said harbour master Ilse Brandvik at the opening ceremony.

    The project cost 410 million euros and took four years to build.
    """)
HOSTILE_SCRIPT = "<script>window.__pwned=1</script>"
HOSTILE_IMG = '<img src=x onerror="window.__pwned=2">'
HOSTILE = textwrap.dedent(f"""\
    Tarnwick quarry report <img src=x onerror="window.__pwned=3">

    Posted on : 2024-05-03 10:00 KST

    The Tarnwick quarry council said {HOSTILE_SCRIPT} that blasting will stop in October.

    Inspector Odile Marchetti said {HOSTILE_IMG} the quarry walls are stable after the winter storms.
    """)



@pytest.fixture(scope="module")
def served(tmp_path_factory, real_embedder):
    import app
    from rag.config import Settings
    from rag.pipeline import Pipeline
    home = tmp_path_factory.mktemp("browser")
    settings = Settings(home=home / "home", corpus=ROOT / "corpus", data=DATA)
    pipeline = Pipeline(settings, embedder=real_embedder).open()
    pipeline.ingest([SEED])
    port = free_port()
    demo = app.serve(pipeline, server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", pipeline, home
    demo.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(served, browser):
    url, _, _ = served
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    outside: list[str] = []     # the UI must not load anything (fonts, scripts) from the internet
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:"))
         else outside.append(r.url))
    p.goto(url)
    p.wait_for_selector("#question textarea")
    yield p
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not outside, f"the page requested non-local URLs: {outside}"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def ask(page, question: str):
    """Ask in the Chat tab; returns the final answer element of this question."""
    page.get_by_role("tab", name="Chat", exact=True).click()
    done_before = page.locator("#chat .answer.final").count()
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(f"document.querySelectorAll('#chat .answer.final').length > {done_before}")
    answer = page.locator("#chat .answer.final").last
    assert "notice" not in (answer.get_attribute("class") or ""), answer.inner_text()
    return answer


def upload(page, *paths: Path) -> str:
    page.get_by_role("tab", name="Add articles", exact=True).click()
    page.set_input_files("#upload input[type=file]", [str(p) for p in paths])
    for p in paths:     # the upload to the server finishes before the button may be pressed
        page.wait_for_selector(f"#upload :text('{p.name}')")
    page.click("#add")
    page.wait_for_function("document.querySelector('#add-result textarea').value.includes('Added')")
    return page.input_value("#add-result textarea")


def open_row(page, text: str) -> None:
    """Click the title cell of the Articles table row holding `text` (which opens the article)."""
    row = page.locator("#articles [role=row]", has_text=text).first
    row.locator("[role=gridcell]").first.click()


def card_for(page, answer, n: int = 1):
    href = answer.locator("a.cite-link", has_text=f"[{n}]").first.get_attribute("href")
    return page.locator(href)


def test_answer_with_highlighted_passage_and_clickable_citation(page):
    answer = ask(page, "What did Lavrov say about THAAD?")
    assert "pretext" in answer.inner_text()
    card = card_for(page, answer, 1)
    assert "pretext" in card.locator("mark.quote").inner_text()
    assert "Russia and China united in opposition to THAAD" in card.locator(".cite-head").inner_text()
    assert "2016-04-30" in card.locator(".cite-meta").inner_text()
    shot(page, "01-answer-lavrov.png")

    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # the card out of sight
    answer.locator("a.cite-link", has_text="[1]").first.click()
    page.wait_for_function("el => el.classList.contains('cite-active') && el.matches(':target')",
                           arg=card.element_handle())
    assert card.is_visible()
    box, view = card.bounding_box(), page.viewport_size
    assert box["y"] < view["height"] and box["y"] + box["height"] > 0, "card not scrolled into view"
    page.screenshot(path=str(SHOTS / "02-citation-clicked.png"))

    follow_up = ask(page, "And what did Wang Yi say?")      # the chat keeps both turns
    assert page.locator("#sources .cite-turn").count() == 2
    assert follow_up.locator("a.cite-link").count() >= 1
    page.click("#clear")
    page.wait_for_function("document.querySelectorAll('#chat .answer').length === 0")
    assert "Cited passages appear here" in page.inner_text("#sources")


def test_uploaded_article_is_searchable_at_once(page, served, tmp_path):
    _, pipeline, _ = served
    harbour = tmp_path / "velmora-harbour.md"
    harbour.write_text(HARBOUR, encoding="utf-8")
    result = upload(page, harbour)
    assert "✓ Velmora harbour opens a deep-water crane terminal" in result
    shot(page, "03-upload-result.png")

    answer = ask(page, "What did Ilse Brandvik say about the terminal?")
    card = card_for(page, answer, 1)
    assert "Velmora harbour" in card.locator(".cite-head").inner_text()
    assert "largest container ships" in card.locator("mark.quote").inner_text()
    shot(page, "04-new-article-cited.png")

    page.get_by_text("Filters: articles, source, dates").click()
    page.click("#f-articles input")
    assert page.get_by_role("option", name="Velmora harbour").count() == 1  # dropdown refreshed
    page.keyboard.press("Escape")
    assert pipeline.article("velmora-harbour") is not None


def test_hostile_article_shows_as_text_and_runs_nothing(page, tmp_path):
    hostile = tmp_path / "tarnwick-quarry.md"
    hostile.write_text(HOSTILE, encoding="utf-8")
    upload(page, hostile)

    page.get_by_role("tab", name="Articles", exact=True).click()
    page.fill("#article-search textarea, #article-search input", "Tarnwick")
    open_row(page, "Tarnwick")
    page.wait_for_function("document.querySelector('#article-page').innerText.includes('Tarnwick')")
    text = page.inner_text("#article-page")
    assert HOSTILE_SCRIPT in text and HOSTILE_IMG in text
    summary_link = page.locator("#article-page .summary a.cite-link").first
    summary_link.click()                # the summary's [n] highlights its sentence below
    mark = page.locator(summary_link.get_attribute("href"))
    page.wait_for_function("el => el.classList.contains('cite-active')", arg=mark.element_handle())
    assert mark.inner_text() in page.inner_text("#article-page .article-text")
    shot(page, "05-hostile-article-page.png")

    answer = ask(page, "What did Odile Marchetti say about the quarry walls?")
    card = card_for(page, answer, 1)
    assert "Tarnwick" in card.locator(".cite-head").inner_text()
    assert HOSTILE_IMG in card.locator("mark.quote").inner_text()
    assert HOSTILE_IMG in answer.inner_text()
    shot(page, "06-hostile-article-cited.png")

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("[...document.scripts].some(s => s.text.includes('__pwned'))") is False


def test_pasted_article_can_be_opened_and_deleted(page, served):
    _, pipeline, _ = served
    page.get_by_role("tab", name="Add articles", exact=True).click()
    page.fill("#paste-title textarea, #paste-title input", "Orchard cooperative buys a cider press")
    page.fill("#paste-text textarea",
              "The Halden orchard cooperative bought a hydraulic cider press in March.\n\n"
              "Members said the press triples the juice they can sell at the autumn market.")
    page.click("#add")
    page.wait_for_function("document.querySelector('#add-result textarea').value.includes('Added')")
    assert "✓ Orchard cooperative buys a cider press" in page.input_value("#add-result textarea")
    article_id = next(r.article.id for r in pipeline.articles() if "cider" in r.article.title)

    page.get_by_role("tab", name="Articles", exact=True).click()
    page.fill("#article-search textarea, #article-search input", "cider")
    open_row(page, "cider")
    page.wait_for_function("document.querySelector('#article-page').innerText.includes('hydraulic')")
    assert page.input_value("#article-id textarea, #article-id input") == article_id
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-article")
    page.wait_for_function("document.body.innerText.includes('Deleted')")
    assert pipeline.article(article_id) is None
    page.wait_for_function("!document.querySelector('#articles [role=grid]').innerText.includes('cider')")
    shot(page, "07-article-deleted.png")


def test_a_fresh_page_shows_the_archive_as_it_is_now(page, served, tmp_path):
    _, pipeline, _ = served
    late = tmp_path / "late-edition.md"
    late.write_text("Late edition: the ferry timetable changes\n\n"
                    "The ferry company said the winter timetable starts on Monday.\n")
    pipeline.ingest([late])             # added behind the page's back, e.g. by the CLI
    page.reload()
    page.get_by_role("tab", name="Articles", exact=True).click()
    page.wait_for_function("document.querySelector('#articles').innerText.includes('ferry')")
    page.get_by_role("tab", name="Status", exact=True).click()
    count = len(pipeline.articles())
    page.wait_for_function(f"document.querySelector('#status').innerText"
                           f".includes('{count} articles')")
    text = page.inner_text("#status")
    assert pipeline.embedder.name in text
    assert str(pipeline.settings.chroma_dir.resolve()) in text and " MB" in text
    assert "extractive" in text
    shot(page, "08-status.png")


def test_timeline_view_lists_a_dated_story_with_its_coverage_plot(page, served, tmp_path):
    _, pipeline, _ = served
    for day, source, text in [
            ("2024-06-03", "coast-news", "Quillmoor dredging halted by court\n\nA court halted the "
             "Quillmoor harbour dredging after a complaint by fishermen."),
            ("2024-06-20", "harbour-daily", "Quillmoor dredging resumes\n\nDredging at Quillmoor "
             "harbour resumed after the court lifted its order.")]:
        path = tmp_path / f"{day}.md"
        path.write_text(f"---\ndate: {day}\nsource: {source}\n---\n{text}\n", encoding="utf-8")
        pipeline.ingest([path])
    page.get_by_role("tab", name="Timeline", exact=True).click()
    page.fill("#timeline-topic textarea, #timeline-topic input", "Quillmoor dredging")
    page.click("#timeline-go")
    page.wait_for_selector("#timeline .tl-entry")
    entries = page.locator("#timeline .tl-dated .tl-entry")
    dates = [entries.nth(i).locator(".tl-date").inner_text() for i in range(entries.count())]
    assert dates == ["2024-06-03", "2024-06-20"]
    assert "court" in entries.first.locator(".tl-sentence").inner_text()
    page.wait_for_selector("#coverage-plot canvas, #coverage-plot svg")
    shot(page, "06-timeline.png")
