"""Sync Now in a browser: queued, running with live counts, done; the button is disabled meanwhile."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.test_conversation_page import _sign_in
from webapp.db import get_engine, session_scope
from webapp.emulator import EmulatorOptions
from webapp.emulator.server import serve_in_thread
from webapp.integrations import salesforce_connection as connection
from webapp.scheduler import start


def test_sync_now_runs_to_done(browser, live_server, seeded, app, artifacts):
    # Slow enough (five calls of 0.8 s) that the once-a-second status poll sees it running.
    emulator = serve_in_thread(EmulatorOptions(latency_ms=800))
    app.config["SCHEDULER_ENABLED"] = True
    try:
        with session_scope(get_engine(app)) as session:
            connection.save_setup(session, app.extensions["vault"], 1, connection.SetupInput(
                mode="client-credentials", environment="custom", url=emulator.url,
                client_id="emulator-client-id", client_secret="emulator-client-secret"))
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        _sign_in(page, live_server)
        page.goto(f"{live_server}/settings/integrations/salesforce")
        expect(page.locator("#sync-status")).to_have_attribute("data-status", "none")
        page.click("#sync-now")
        expect(page.locator("#sync-now")).to_be_disabled()
        expect(page.locator("#sync-status")).to_have_attribute("data-status", "queued")
        start(app, poll_seconds=0.3, plan_seconds=3600, retry_seconds=0.3)  # the leader picks it up
        expect(page.locator("#sync-status")).to_have_attribute("data-status", "running", timeout=10000)
        expect(page.locator("#sync-counts")).to_be_visible()
        page.screenshot(path=str(artifacts / "salesforce-sync-running.png"))
        expect(page.locator("#sync-status")).to_have_attribute("data-status", "succeeded", timeout=30000)
        expect(page.locator("#sync-now")).to_be_enabled()
        expect(page.locator("#sync-state")).to_have_text("Done")
        expect(page.locator("#sync-runs tbody tr")).to_have_count(1)
        page.screenshot(path=str(artifacts / "salesforce-sync-done.png"), full_page=True)
        page.close()
    finally:
        service = app.extensions.pop("scheduler", None)
        if service is not None:
            service.stop()
        emulator.stop()
