"""The Salesforce settings page as an admin meets it, at 1440 and 390 px: setup first while
not connected, then status and sync first with the rest in tabs; Sync Now disabled with its
reason until connected; two-way asks before it creates the existing deals; Disconnect asks
in the page. Tabs and the confirmation work without JavaScript too."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_conversation_page import _sign_in
from webapp.emulator import EmulatorOptions
from webapp.emulator.server import serve_in_thread

PAGE = "/settings/integrations/salesforce"


def _shoot(page, artifacts, name):
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(artifacts / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})


def test_not_set_up_the_page_starts_with_the_setup_and_warns(browser, live_server, seeded, app, artifacts):
    app.config["PUBLIC_BASE_URL"] = "http://inbox.example.com"
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    _sign_in(page, live_server)
    page.goto(live_server + PAGE)
    expect(page.locator("#salesforce-tabs")).to_have_count(0)
    setup, guide = page.locator("#salesforce-setup").bounding_box(), page.locator("#salesforce-guide").bounding_box()
    assert setup["y"] < 400 and guide["y"] < 400  # side by side, at the top
    expect(page.locator("#callback-warning")).to_contain_text("plain http on inbox.example.com")

    # Client credentials through login.salesforce.com: warned while the form says so.
    warning = page.locator("#cc-login-warning")
    expect(warning).to_be_hidden()
    page.check("#salesforce-setup input[value=client-credentials]")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("My Domain URL")
    page.select_option("#environment", "mydomain")
    expect(warning).to_be_hidden()
    page.check("#salesforce-setup input[value=oauth]")
    _shoot(page, artifacts, "salesforce-settings-not-set-up")

    page.set_viewport_size({"width": 390, "height": 900})
    setup = page.locator("#salesforce-setup").bounding_box()
    assert setup["x"] >= 0 and setup["x"] + setup["width"] <= 390 + 1  # nothing cut off on a phone
    page.close()


def test_from_set_up_to_connected_to_two_way(browser, live_server, seeded, app, artifacts):
    app.config["PUBLIC_BASE_URL"] = live_server
    emulator = serve_in_thread(EmulatorOptions(redirect_uris=[f"{live_server}/oauth/salesforce/callback"]))
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        _sign_in(page, live_server)
        page.goto(live_server + PAGE)
        page.select_option("#environment", "custom")
        page.fill("#url", emulator.url)
        page.fill("#client_id", "emulator-client-id")
        page.fill("#client_secret", "emulator-client-secret")
        page.click("#salesforce-setup button[type=submit]")
        expect(page.locator("#tab-connection")).to_have_attribute("aria-current", "page")

        # Not connected: Sync Now is disabled and says why.
        page.click("#tab-sync")
        expect(page.locator("#sync-now")).to_be_disabled()
        expect(page.locator("#sync-blocked")).to_have_text("Connect Salesforce first: the setup is saved but not connected.")
        _shoot(page, artifacts, "salesforce-settings-not-connected")

        page.click("#salesforce-connect")
        page.wait_for_url(re.compile(re.escape(emulator.url) + r"/services/oauth2/authorize.*"))
        page.fill("#username", "admin@emulator.test")
        page.fill("#password", "emulator")
        page.click("button[value=allow]")
        page.wait_for_url(live_server + PAGE)

        # Connected: status, then the Sync tab; Sync Now works and no red box is left over.
        expect(page.locator("#salesforce-status")).to_have_attribute("data-state", "connected")
        expect(page.locator("#tab-sync")).to_have_attribute("aria-current", "page")
        expect(page.locator("#sync-now")).to_be_enabled()
        expect(page.locator("#sync-blocked")).to_have_count(0)
        expect(page.locator("#sync-reason")).to_have_count(0)
        status, sync = page.locator("#salesforce-status").bounding_box(), page.locator("#salesforce-sync").bounding_box()
        assert status["y"] < sync["y"] < 700
        _shoot(page, artifacts, "salesforce-settings-connected-sync")

        # Two-way: turning it on says what it will do and waits for the admin's choice.
        page.click("#tab-two-way")
        expect(page).to_have_url(re.compile(r".*\?tab=two-way$"))
        page.check("#sync-two-way input[name=two_way]")
        page.click("#sync-two-way button[type=submit]")
        preview = page.locator("#two-way-preview")
        expect(preview).to_contain_text(re.compile(r"\d+ deals will be created in Salesforce"))
        expect(page.locator("#two-way-state")).to_have_text("Off")
        preview.scroll_into_view_if_needed()
        _shoot(page, artifacts, "salesforce-settings-two-way-preview")
        page.check("#two-way-preview input[value=new]")
        page.click("#two-way-confirm")
        expect(page.locator(".flash-success")).to_contain_text("Deals created from now on go to Salesforce")
        expect(page.locator("#two-way-state")).to_have_text("On")
        expect(page.locator("#two-way-since")).to_be_visible()

        # Disconnect asks in the page; keeping the connection changes nothing.
        page.click("#salesforce-disconnect")
        panel = page.locator("#disconnect-confirm-panel")
        expect(panel).to_contain_text("Disconnect Salesforce?")
        panel.scroll_into_view_if_needed()
        _shoot(page, artifacts, "salesforce-settings-disconnect-confirm")
        page.click("#salesforce-disconnect-cancel")
        expect(page.locator("#salesforce-status")).to_have_attribute("data-state", "connected")
        page.close()

        # Without JavaScript: the tabs are links and Disconnect opens a confirmation page.
        context = browser.new_context(java_script_enabled=False, viewport={"width": 1440, "height": 900})
        plain = context.new_page()
        _sign_in(plain, live_server)
        plain.goto(live_server + PAGE)
        plain.click("#tab-activity")
        expect(plain.locator("#sync-activity")).to_be_visible()
        plain.click("#salesforce-disconnect")
        expect(plain).to_have_url(live_server + PAGE + "/disconnect")
        plain.click("#salesforce-disconnect-confirm")
        expect(plain.locator("#salesforce-status")).to_have_attribute("data-state", "configured")
        context.close()
    finally:
        emulator.stop()
