"""A duplicate rule's refusal as a person sees it: on the card's create form and among the
sync's failed records, each with a link to the matching record in Salesforce; and the
setting that lets alerting rules through."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_conversation_page import _sign_in
from webapp.db import get_engine, session_scope
from webapp.emulator import EmulatorOptions
from webapp.emulator.server import serve_in_thread
from webapp.integrations import salesforce_connection as connection
from webapp.models import SyncRecordError, SyncSettings

WIDTHS = (1440, 390)


@pytest.fixture
def demo_emulator():
    running = serve_in_thread(EmulatorOptions())
    yield running
    running.stop()


def _connect(app, emulator):
    with session_scope(get_engine(app)) as session:
        connection.save_setup(
            session, app.extensions["vault"], 1,
            connection.SetupInput(mode="client-credentials", environment="custom", url=emulator.url,
                                  client_id="emulator-client-id", client_secret="emulator-client-secret"),
        )


def test_a_card_create_refused_as_a_duplicate_links_to_the_match(browser, live_server, seeded, app, demo_emulator, artifacts):
    from tests import factories

    _connect(app, demo_emulator)
    for width in WIDTHS:
        email = f"late.twin.{width}@duplicates.example"
        with session_scope(get_engine(app)) as session:
            person = factories.contact(session, 1, name="Lena Twin", email=email, title="Buyer")
            conversation = factories.conversation(session, 1, person).id
        page = browser.new_page(viewport={"width": width, "height": 900})
        _sign_in(page, live_server)
        page.goto(f"{live_server}/inbox/{conversation}")
        if width < 800:
            page.click("#details-toggle")  # narrow screens start with the panel closed
        empty = page.locator("#card-salesforce[data-state='no-match']")
        expect(empty).to_be_visible()
        empty.get_by_role("button", name="Create contact").click()
        form = page.locator("#sf-create-form")
        expect(form.get_by_label("Last name")).to_have_value("Twin")
        # Someone creates the contact in Salesforce meanwhile; the org blocks duplicates.
        store = demo_emulator.emulator.store
        twin = store.create(store.tables["Contact"], {"LastName": "Twin", "Email": email})
        demo_emulator.emulator.set_duplicate_rules({"Contact": "block"})
        form.get_by_role("button", name="Create contact").click()
        expect(page.locator(".sf-form-error")).to_contain_text("Salesforce's duplicate rules refused it: Use one of these records?")
        link = page.locator("#sf-duplicate-link")
        expect(link).to_have_text("Open the matching contact in Salesforce")
        expect(link).to_have_attribute("href", f"{demo_emulator.url}/lightning/r/Contact/{twin['Id']}/view")
        page.locator("#sf-create-form").scroll_into_view_if_needed()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(artifacts / f"salesforce-card-duplicate-{width}.png"))
        page.close()


def test_failed_records_link_to_the_match_and_the_setting_shows(browser, live_server, seeded, app, demo_emulator, artifacts):
    _connect(app, demo_emulator)
    with session_scope(get_engine(app)) as session:
        session.add(SyncSettings(workspace_id=1, extra_fields={}, two_way=True, allow_duplicate_save=True))
        session.add(SyncRecordError(workspace_id=1, sobject="Inbox contact", sf_id="1", match_sobject="Contact",
                                    match_id="003000000000042AAA",
                                    message="Ada Example: DUPLICATES_DETECTED: Use one of these records?"))
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 900})
        _sign_in(page, live_server)
        page.goto(f"{live_server}/settings/integrations/salesforce")
        errors = page.locator("#sync-error-list")
        expect(errors).to_contain_text("DUPLICATES_DETECTED: Use one of these records?")
        link = errors.get_by_role("link", name="Open the matching contact in Salesforce")
        expect(link).to_have_attribute("href", f"{demo_emulator.url}/lightning/r/Contact/003000000000042AAA/view")
        errors.scroll_into_view_if_needed()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(artifacts / f"salesforce-sync-duplicate-{width}.png"))
        setting = page.locator("#allow_duplicate_save")
        expect(setting).to_be_checked()
        setting.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / f"salesforce-duplicate-setting-{width}.png"))
        page.close()
