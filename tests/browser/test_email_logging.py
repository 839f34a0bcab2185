"""Logging a conversation to Salesforce from the conversation page: "Log", then the sync, then
each message says it was logged and links to its Salesforce email."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import text

from tests.browser.test_conversation_page import _sign_in
from tests.salesforce.sync.conftest import FAST, sync
from tests.salesforce.sync.email_helpers import conversation, customer_with_open_opportunity, logging_on
from webapp.db import get_engine, session_scope
from webapp.emulator import EmulatorOptions
from webapp.emulator.server import serve_in_thread
from webapp.integrations import salesforce_connection as connection
from webapp.sync.execution import run_queued


def test_log_a_conversation_from_its_page(browser, live_server, seeded, app, artifacts):
    emulator = serve_in_thread(EmulatorOptions(accounts=20, contacts=80, opportunities=40))
    try:
        with session_scope(get_engine(app)) as session:
            connection.save_setup(session, app.extensions["vault"], 1, connection.SetupInput(
                mode="client-credentials", environment="custom", url=emulator.url,
                client_id="emulator-client-id", client_secret="emulator-client-secret"))
        sync(app)
        contact, _ = customer_with_open_opportunity(emulator)
        conv_id, ids = conversation(app, contact["Email"], messages=3, subject="<b>Renewal</b> quote",
                                    body="Hi, the renewal quote is attached. <script>alert(1)</script>")
        logging_on(app, "request", exclusions=["personal.example"])

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        _sign_in(page, live_server)
        page.goto(f"{live_server}/inbox/{conv_id}")
        expect(page.locator("h1")).to_have_text("<b>Renewal</b> quote")
        expect(page.locator("#log-conversation button")).to_have_text("Log")
        expect(page.locator(".message-log[data-log-state='none']")).to_have_count(3)
        page.screenshot(path=str(artifacts / "conversation-offers-log.png"))
        page.click("#log-conversation button")
        expect(page.locator(".flash-success")).to_contain_text("3 messages queued")
        expect(page.locator(".message-log[data-log-state='queued']")).to_have_count(3)
        expect(page.locator("#log-conversation")).to_have_count(0)

        with get_engine(app).connect() as conn:
            run_id = conn.execute(text("SELECT id FROM sync_run WHERE status = 'queued'")).scalar_one()
        outcome = run_queued(get_engine(app), app.extensions["vault"], app.extensions["cache"], run_id, client_options=FAST)
        assert outcome.status == "succeeded", outcome.reason

        page.reload()
        logged = page.locator(".message-log[data-log-state='sent']")
        expect(logged).to_have_count(3)
        expect(logged.first).to_contain_text("Logged to Salesforce")
        href = logged.first.locator("a").get_attribute("href")
        assert href.startswith(f"{emulator.url}/lightning/r/EmailMessage/") and href.endswith("/view")
        expect(page.locator("#sf-last-activity")).to_contain_text("Last activity: 04 May 2026")
        assert dialogs == []  # the script in the body stayed text
        page.screenshot(path=str(artifacts / "conversation-logged-to-salesforce.png"))

        page.goto(f"{live_server}/settings/integrations/salesforce?tab=activity#sync-activity")
        expect(page.locator("#sync-activity input[value='request']")).to_be_checked()
        expect(page.locator("#email_exclusions")).to_have_value("personal.example")
        page.locator("#sync-activity").evaluate("e => e.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(artifacts / "salesforce-activity-settings.png"))
        page.close()
    finally:
        emulator.stop()
