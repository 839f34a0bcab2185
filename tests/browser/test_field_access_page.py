"""The settings page tells the admin which fields Salesforce hides from the integration user,
what that costs, and when purged records were last reconciled; at a desktop and a phone width."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.test_conversation_page import _sign_in
from tests.salesforce.sync.conftest import FAST
from webapp.db import get_engine, session_scope
from webapp.emulator import EmulatorOptions
from webapp.emulator.server import serve_in_thread
from webapp.integrations import salesforce_connection as connection
from webapp.salesforce.sync import ledger
from webapp.sync.execution import run_queued


def test_hidden_fields_and_the_reconcile_schedule_are_shown(browser, live_server, seeded, app, artifacts):
    emulator = serve_in_thread(EmulatorOptions(hidden_fields=["Contact.LeadSource", "Contact.Phone",
                                                              "Opportunity.Amount"]))
    try:
        engine = get_engine(app)
        with session_scope(engine) as session:
            connection.save_setup(session, app.extensions["vault"], 1, connection.SetupInput(
                mode="client-credentials", environment="custom", url=emulator.url,
                client_id="emulator-client-id", client_secret="emulator-client-secret"))
        requested = ledger.request_run(engine, 1, "manual")
        assert run_queued(engine, app.extensions["vault"], app.extensions["cache"], requested.run_id,
                          client_options=FAST).status == "succeeded"
        for name, width in (("desktop", 1440), ("phone", 390)):
            page = browser.new_page(viewport={"width": width, "height": 900})
            _sign_in(page, live_server)
            page.goto(f"{live_server}/settings/integrations/salesforce?tab=fields")
            section = page.locator("#salesforce-field-access")
            expect(section).to_contain_text("Lead source is hidden from the integration user: the card will not show it")
            expect(section).to_contain_text("Opportunity amount is hidden from the integration user")
            expect(section.locator(".badge")).to_have_text("3 hidden")
            section.screenshot(path=str(artifacts / f"salesforce-field-access-{name}.png"))
            page.screenshot(path=str(artifacts / f"salesforce-settings-field-access-{name}.png"), full_page=True)
            page.goto(f"{live_server}/settings/integrations/salesforce")
            expect(page.locator("#sync-reconcile")).to_contain_text("Last reconciled just now")
            page.locator("#salesforce-sync").screenshot(path=str(artifacts / f"salesforce-sync-reconcile-{name}.png"))
            page.set_viewport_size({"width": width, "height": 1400})
            page.screenshot(path=str(artifacts / f"salesforce-settings-top-{name}.png"))
            page.close()
    finally:
        emulator.stop()
