"""The People view in a real browser (Debian's chromium, Playwright, the real model)."""
import pytest

from test_browser import browser, page, served, shot  # noqa: F401  (fixtures and helpers)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_people_view_lists_quotes_over_time_and_opens_the_highlighted_span(page):  # noqa: F811
    page.get_by_role("tab", name="People", exact=True).click()
    page.wait_for_selector("#people-table :text('Wang Yi')")
    page.fill("#person-name textarea", "Mr Lavrov")
    page.click("#person-show")
    page.wait_for_selector("#person-heading :text('Sergey Lavrov')")
    assert "2 quotations" in page.inner_text("#person-heading")
    page.wait_for_selector("#person-plot img, #person-plot svg, #person-plot canvas")
    first = page.locator("#person-quotes [role=row]", has_text="pretext").first
    first.locator("[role=gridcell]").nth(1).click()
    mark = page.locator("#person-article mark.quote").first
    mark.wait_for()
    assert "pretext" in mark.inner_text() and "said Sergey Lavrov" not in mark.inner_text()
    shot(page, "07-people-lavrov.png")
