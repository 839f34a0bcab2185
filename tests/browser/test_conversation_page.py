"""What a person sees: sign in, open a conversation, toggle the details panel."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect

from webapp.demo.seed import ADMIN, MEMBER


def _sign_in(page, base, who=ADMIN):
    page.goto(f"{base}/login")
    page.fill("#email", who[0])
    page.fill("#password", who[1])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/inbox$"))


def _external_requests(page, base):
    seen: list[str] = []
    host = urlsplit(base).netloc
    page.on("request", lambda r: seen.append(r.url) if urlsplit(r.url).netloc not in ("", host) and not r.url.startswith("data:") else None)
    return seen


def test_sign_in_open_conversation_and_toggle_the_details_panel(browser, live_server, seeded, artifacts):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    external = _external_requests(page, live_server)
    _sign_in(page, live_server)
    expect(page.locator(".conversation-row").first).to_be_visible()

    page.locator(".conversation-row").first.click()
    page.wait_for_url(re.compile(r".*/inbox/\d+$"))
    details = page.locator("#details")
    expect(details).to_be_visible()
    expect(page.locator("#contact-card h3")).not_to_be_empty()
    # The integration card arrived after the page, through htmx, in its place below the contact.
    expect(page.locator("#card-salesforce[data-state='not-connected']")).to_be_visible()
    expect(page.locator("#card-salesforce")).to_contain_text("not connected")
    page.screenshot(path=str(artifacts / "conversation-details-open.png"), full_page=False)

    page.click("#details-toggle")
    expect(details).to_be_hidden()
    expect(page.locator("#details-toggle")).to_have_attribute("aria-expanded", "false")
    page.screenshot(path=str(artifacts / "conversation-details-closed.png"))
    page.reload()
    expect(details).to_be_hidden()  # the choice is remembered
    page.click("#details-toggle")
    expect(details).to_be_visible()
    assert external == []
    page.close()


def test_narrow_screen_starts_with_the_panel_closed(browser, live_server, seeded, artifacts):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    _sign_in(page, live_server, MEMBER)
    page.locator(".conversation-row").first.click()
    details = page.locator("#details")
    expect(details).to_be_hidden()
    page.click("#details-toggle")
    expect(details).to_be_visible()
    expect(page.locator("#contact-card")).to_be_visible()
    # Members see no integration reason, only admins do.
    expect(page.locator("#card-salesforce")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts / "conversation-narrow-details.png"))
    page.close()


def test_search_updates_the_list_in_place_and_keeps_the_url(browser, live_server, seeded):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _sign_in(page, live_server)
    page.fill("input[type=search]", "invoice")
    page.wait_for_url(re.compile(r".*q=invoice.*"))
    subjects = page.locator(".conv-subject").all_inner_texts()
    assert subjects and all("invoice" in s.lower() for s in subjects)
    page.close()


def test_expired_session_sends_htmx_to_the_login_page_not_into_a_panel(browser, live_server, seeded):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    _sign_in(page, live_server)
    context.clear_cookies()
    page.fill("input[type=search]", "refund")
    page.wait_for_url(re.compile(r".*/login.*"))
    expect(page.locator("h1")).to_have_text("Sign in")
    assert page.locator("#conversation-list").count() == 0
    context.close()
