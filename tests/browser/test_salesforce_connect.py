"""Connecting Salesforce as an admin would: fill in the setup, click Connect, approve, land back."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_conversation_page import _sign_in
from webapp.emulator import EmulatorOptions
from webapp.emulator.server import serve_in_thread


def test_connect_through_the_emulators_login_page(browser, live_server, seeded, app, artifacts):
    app.config["PUBLIC_BASE_URL"] = live_server
    emulator = serve_in_thread(EmulatorOptions(redirect_uris=[f"{live_server}/oauth/salesforce/callback"]))
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        _sign_in(page, live_server)
        page.goto(f"{live_server}/settings/integrations")
        page.click("#tile-salesforce >> text=Set up")
        expect(page.locator("#callback-url")).to_have_text(f"{live_server}/oauth/salesforce/callback")
        page.select_option("#environment", "custom")
        page.fill("#url", emulator.url)
        page.fill("#client_id", "emulator-client-id")
        page.fill("#client_secret", "emulator-client-secret")
        page.click("#salesforce-setup button[type=submit]")
        expect(page.locator(".flash-success")).to_contain_text("Click Connect")
        expect(page.locator("#client_secret")).to_have_value("")  # never rendered back
        page.click("#salesforce-connect")
        page.wait_for_url(re.compile(re.escape(emulator.url) + r"/services/oauth2/authorize.*"))
        page.fill("#username", "admin@emulator.test")
        page.fill("#password", "emulator")
        page.click("button[value=allow]")
        page.wait_for_url(f"{live_server}/settings/integrations/salesforce")
        status = page.locator("#salesforce-status")
        expect(status).to_have_attribute("data-state", "connected")
        expect(status).to_contain_text("admin@emulator.test")
        expect(page.locator(".flash-success")).to_contain_text("Connected to Salesforce")
        page.screenshot(path=str(artifacts / "salesforce-settings-connected.png"), full_page=True)
        page.close()
    finally:
        emulator.stop()
