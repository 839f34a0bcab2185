"""A contact whose address two Salesforce contacts share, in a browser: it shows the card's
pick (the most recently modified), says the address is shared and lists both."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import text

from tests.browser.test_conversation_page import _sign_in
from tests.salesforce.sync.conftest import sync
from webapp.db import get_engine, session_scope
from webapp.emulator import EmulatorOptions
from webapp.emulator.server import serve_in_thread
from webapp.integrations import salesforce_connection as connection

EMAIL = "pat.shared@example.org"


def test_a_shared_address_shows_the_card_pick(browser, live_server, seeded, app, artifacts):
    emulator = serve_in_thread(EmulatorOptions())
    try:
        with session_scope(get_engine(app)) as session:
            connection.save_setup(session, app.extensions["vault"], 1, connection.SetupInput(
                mode="client-credentials", environment="custom", url=emulator.url,
                client_id="emulator-client-id", client_secret="emulator-client-secret"))
        store = emulator.app.emulator.store
        table = store.tables["Contact"]
        accounts = [r for r in store.tables["Account"].records if not r["IsDeleted"]]
        older = store.create(table, {"Email": EMAIL, "FirstName": "Pat", "LastName": "Older", "Title": "Buyer",
                                     "Phone": "+1 555 0100", "AccountId": accounts[0]["Id"]})
        table.change(older, {"LastModifiedDate": older["LastModifiedDate"] - timedelta(hours=1)})
        sync(app)
        newer = store.create(table, {"Email": EMAIL, "FirstName": "Pat", "LastName": "Newer",
                                     "Title": "Head of Purchasing", "AccountId": accounts[1]["Id"]})
        sync(app)
    finally:
        emulator.stop()
    with get_engine(app).connect() as conn:
        contact_id = conn.execute(text("SELECT id FROM contact WHERE email_normalized = :e"), {"e": EMAIL}).scalar()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, live_server)
    page.goto(f"{live_server}/contacts/{contact_id}")
    expect(page.locator("h1")).to_have_text("Pat Newer")
    expect(page.locator("header p.muted")).to_have_text(f"Head of Purchasing · {accounts[1]['Name']}")
    shared = page.locator("#salesforce-shared")
    expect(shared).to_contain_text("2 Salesforce contacts share this email address")
    expect(shared.locator("li").first).to_contain_text(f"Pat Newer, Head of Purchasing · {accounts[1]['Name']} {newer['Id']} (shown here)")
    expect(shared.locator("li").nth(1)).to_contain_text(f"Pat Older, Buyer · {accounts[0]['Name']} {older['Id']}")
    page.screenshot(path=str(artifacts / "contact-shared-address.png"), full_page=True)
    page.close()
