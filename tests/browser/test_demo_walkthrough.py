"""The README's run command as a newcomer meets it: the demo server opens connected to the
emulator and synced, with Salesforce cards on the demo conversations; Disconnect (with the
page's own confirmation) and Connect again through the emulator's page still work."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.demo_server import demo_server as _demo_server
from webapp.demo.seed import ADMIN


@pytest.fixture
def demo_server(tmp_path):
    with _demo_server(tmp_path) as (base, emulator, _output):
        yield base, emulator


def test_connect_the_demo_and_see_cards(browser, demo_server, artifacts):
    base, emulator = demo_server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/login")
    page.fill("#email", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/inbox$"))

    # The demo opened connected and synced: status and sync first.
    page.goto(f"{base}/settings/integrations/salesforce")
    expect(page.locator("#salesforce-status")).to_have_attribute("data-state", "connected")
    expect(page.locator("#sync-state")).to_have_text("Done")
    expect(page.locator("#sync-runs tbody tr").first).to_contain_text("First sync after connecting")
    page.screenshot(path=str(artifacts / "demo-salesforce-settings.png"), full_page=True)

    # Disconnect asks in the page, then Connect goes through the emulator's login page again.
    page.click("#salesforce-disconnect")
    expect(page.locator("#disconnect-confirm-panel")).to_be_visible()
    page.click("#salesforce-disconnect-confirm")
    expect(page.locator("#salesforce-status")).to_have_attribute("data-state", "configured")
    page.click("#salesforce-connect")
    page.wait_for_url(re.compile(re.escape(emulator) + r"/services/oauth2/authorize.*"))
    page.fill("#username", "admin@emulator.test")
    page.fill("#password", "emulator")
    page.click("button[value=allow]")
    page.wait_for_url(f"{base}/settings/integrations/salesforce")
    expect(page.locator("#salesforce-status")).to_have_attribute("data-state", "connected")

    # Most demo contacts are people of the emulator's org: their conversations get a card.
    page.goto(f"{base}/inbox?status=all")
    links = [a.get_attribute("href") for a in page.locator(".conversation-row").all()[:8]]
    shown = 0
    for href in links:
        page.goto(base + href)
        card = page.locator("#card-salesforce")
        expect(card).to_have_attribute("data-state", re.compile(r"shown|no-match"))
        if card.get_attribute("data-state") == "shown":
            shown += 1
            if shown == 1:
                page.screenshot(path=str(artifacts / "demo-card.png"))
    assert shown >= 3, f"only {shown} of {len(links)} demo conversations showed a Salesforce card"
    page.close()
