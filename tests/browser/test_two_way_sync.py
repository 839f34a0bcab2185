"""Two-way sync in a browser: the demo's deals go out as opportunities, a deal page shows its
opportunity, an edit on each side makes a conflict, and the settings page lists it."""

from __future__ import annotations

import time

from playwright.sync_api import expect
from sqlalchemy import text

from tests.browser.test_conversation_page import _sign_in
from tests.salesforce.sync.conftest import sync
from tests.salesforce.sync.twoway_helpers import api, enable
from webapp.db import get_engine, session_scope
from webapp.emulator import EmulatorOptions
from webapp.emulator.server import serve_in_thread
from webapp.integrations import salesforce_connection as connection


def test_deals_are_pushed_and_a_conflict_is_logged(browser, live_server, seeded, app, artifacts):
    emulator = serve_in_thread(EmulatorOptions(accounts=20, contacts=80, opportunities=40))
    try:
        with session_scope(get_engine(app)) as session:
            connection.save_setup(session, app.extensions["vault"], 1, connection.SetupInput(
                mode="client-credentials", environment="custom", url=emulator.url,
                client_id="emulator-client-id", client_secret="emulator-client-secret"))
        sync(app)
        enable(app)
        _, outcome = sync(app)
        assert outcome.status == "succeeded", outcome.reason
        with get_engine(app).connect() as conn:
            deal_id, sf_id = conn.execute(text(
                "SELECT local_id, sf_id FROM sync_link WHERE kind = 'deal' AND state = 'linked' ORDER BY local_id")).first()

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _sign_in(page, live_server)
        page.goto(f"{live_server}/deals/{deal_id}/edit")
        expect(page.locator("#deal-salesforce")).to_have_attribute("data-state", "linked")
        expect(page.locator("#deal-opportunity")).to_have_attribute("href", f"{emulator.url}/lightning/r/Opportunity/{sf_id}/view")
        page.screenshot(path=str(artifacts / "deal-linked.png"))

        time.sleep(1.05)  # SystemModstamp has whole seconds: the edit must be after our write's
        api(emulator, "PATCH", f"sobjects/Opportunity/{sf_id}", json={"Name": "Renamed in Salesforce", "Amount": 4321})
        page.fill("#name", "Renamed in the inbox")
        page.fill("#amount", "9999.00")
        page.click("form.form button[type=submit]")
        expect(page.locator(".flash-success")).to_contain_text("Renamed in the inbox")
        sync(app)

        page.goto(f"{live_server}/settings/integrations/salesforce?tab=two-way#sync-conflicts")
        rows = page.locator("#sync-conflicts tbody tr")
        expect(rows).to_have_count(2)
        # Name: most recent change wins (the inbox's, made later); amount: Salesforce wins.
        expect(rows.filter(has_text="Deal name")).to_contain_text("Renamed in Salesforce")
        expect(rows.filter(has_text="Deal name").locator("td.conflict-kept")).to_have_text("Renamed in the inbox")
        expect(rows.filter(has_text="Amount")).to_contain_text("9999.00 USD")
        expect(rows.filter(has_text="Amount").locator("td.conflict-kept")).to_have_text("4321.00 USD")
        assert emulator.app.emulator.store.get("Opportunity", sf_id)["Name"] == "Renamed in the inbox"
        page.locator("#sync-conflicts").evaluate("e => e.scrollIntoView({block: 'center'})")
        page.screenshot(path=str(artifacts / "salesforce-conflicts.png"))
        page.close()
    finally:
        emulator.stop()
