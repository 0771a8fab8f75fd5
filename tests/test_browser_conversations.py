"""Saved conversations and feedback in a real browser (real model and store): 👍 with a note on
an answer, a new conversation, resuming the saved one with its citation cards, an edited
article shown as such, and the Markdown export. Screenshots land in artifacts/screenshots/."""
from conftest import SEED
from rag.conversations import Conversations, quote_line
from test_browser import ask, browser, card_for, page, served, shot  # noqa: F401  (fixtures)
from test_browser import pytestmark  # noqa: F401  (browser + slow, skipped without chromium)

LAVROV = "What did Lavrov say about THAAD?"


IN_VIEW = ("() => { const r = document.querySelector('#conv-new').getBoundingClientRect();"
           " return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth; }")


def open_sidebar(page):
    """The sidebar starts closed (slid out of view); its toggle slides it in."""
    if not page.evaluate(IN_VIEW):
        page.click("button[aria-label='Toggle Sidebar']")
    page.wait_for_function(IN_VIEW)


def test_feedback_resume_and_export(page, served, tmp_path):
    _, pipeline, _ = served
    answer = ask(page, LAVROV)
    quote = card_for(page, answer, 1).locator("mark.quote").inner_text()
    assert "pretext" in answer.inner_text()

    page.fill("#feedback-note textarea", "the pretext quote is the one I needed")
    page.locator("#chat").get_by_role("button", name="Like").last.click()
    page.wait_for_function("document.querySelector('#feedback-msg').innerText"
                           ".includes('recorded for answer 1')")
    assert page.input_value("#feedback-note textarea") == ""
    [row] = Conversations.under(pipeline.settings.home).feedback("")
    assert (row["rating"], row["note"], row["question"]) == (
        1, "the pretext quote is the one I needed", LAVROV)
    assert row["citations"][0]["quote"] == quote and row["settings"]["top_k"] == 5
    shot(page, "20-feedback-recorded.png")

    open_sidebar(page)
    page.click("#conv-new")
    page.wait_for_function("document.querySelectorAll('#chat .answer').length === 0")
    # the article changes after the answer: the resumed card must say so, quoting what was cited
    edited = tmp_path / SEED.name
    edited.write_text(SEED.read_text(encoding="utf-8").replace(
        "Russia and China", "Moscow and Beijing", 1), encoding="utf-8")
    assert pipeline.ingest([edited]).updated == 1

    page.locator("#conv-list label", has_text=LAVROV).first.click()
    page.click("#conv-resume")
    page.wait_for_function("document.querySelectorAll('#chat .answer.final').length === 1")
    resumed = page.locator("#chat .answer.final").last
    assert "pretext" in resumed.inner_text()
    card = card_for(page, resumed, 1)
    assert card.locator("mark.quote").inner_text() == quote
    assert "edited after the answer" in card.locator(".cite-stale").inner_text()
    shot(page, "21-conversation-resumed.png")

    page.click("#conv-export-btn")
    page.wait_for_function("document.querySelector('#conv-export textarea').value"
                           ".includes('## Q1')")
    md = page.input_value("#conv-export textarea")
    assert md.startswith(f"# {LAVROV}") and f"## Q1: {LAVROV}" in md
    assert f"  > {quote_line(quote)}" in md and "2016-04-30" in md
    assert "(article edited since this answer)" in md
    assert page.locator("#conv-file a").count() >= 1, "a download link for the .md file"
    shot(page, "22-conversation-exported.png")

    ask(page, "What did Wang Yi say about THAAD?")       # a resumed conversation continues
    conversations = Conversations.under(pipeline.settings.home).list("")
    assert [c["turns"] for c in conversations] == [2]
