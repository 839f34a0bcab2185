"""Analytics as a person uses it: change a filter, the table and the chart follow, the URL too."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_conversation_page import _sign_in
from webapp.analytics.facts import refresh_facts
from webapp.db import get_engine


def test_filters_update_table_and_charts_in_place(browser, live_server, seeded, app, artifacts):
    refresh_facts(get_engine(app), 1)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    _sign_in(page, live_server)
    page.goto(f"{live_server}/analytics")
    table = page.locator("#analytics-table")
    expect(table).to_be_visible()
    expect(page.locator("#chart-volume rect.bar-in").first).to_be_attached()
    rows_before = table.locator("tbody tr").count()
    bars_before = page.locator("#chart-response g").count()
    total_before = table.locator("tr.total td").nth(1).inner_text()

    page.select_option("#f_domain", "gmail.com")
    page.wait_for_url(re.compile(r".*f_domain=gmail\.com.*"))
    expect(table.locator("tbody tr")).to_have_count(2)  # gmail.com and the total
    assert table.locator("tr.total td").nth(1).inner_text() != total_before
    assert page.locator("#chart-response g").count() == 1 < bars_before
    assert rows_before > 2
    csv_link = page.locator("#csv-export")
    expect(csv_link).to_have_attribute("href", re.compile(r"f_domain=gmail\.com"))
    page.screenshot(path=str(artifacts / "analytics-filtered.png"), full_page=True)

    # The URL is shareable: opening it again shows the same filtered report.
    page.goto(page.url)
    expect(page.locator("#f_domain")).to_have_value("gmail.com")
    expect(table.locator("tbody tr")).to_have_count(2)

    # A drill-down from a number lists the conversations behind it.
    table.locator("tr.total td").nth(3).locator("a").click()
    expect(page.locator("#drill-down li").first).to_be_visible()
    page.close()
