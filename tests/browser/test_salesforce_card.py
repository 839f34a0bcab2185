"""The Salesforce card as a person sees it, against the emulator's demo org."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.test_conversation_page import _sign_in
from webapp.db import get_engine, session_scope
from webapp.emulator import EmulatorOptions
from webapp.emulator.server import serve_in_thread
from webapp.integrations import salesforce_connection as connection
from webapp.models import Contact, Conversation


@pytest.fixture
def demo_emulator():
    running = serve_in_thread(EmulatorOptions())
    yield running
    running.stop()


def test_card_loads_with_pills_and_a_link(browser, live_server, seeded, app, demo_emulator, artifacts):
    store = demo_emulator.app.emulator.store
    opportunities = store.tables["Opportunity"].records
    with session_scope(get_engine(app)) as session:
        connection.save_setup(
            session, app.extensions["vault"], 1,
            connection.SetupInput(mode="client-credentials", environment="custom", url=demo_emulator.url,
                                  client_id="emulator-client-id", client_secret="emulator-client-secret"),
        )
        # A demo conversation whose contact has an account with closed and open opportunities.
        conversation_id = None
        for conv, email in session.execute(select(Conversation.id, Contact.email_normalized).join(Contact)).all():
            sf = [c for c in store.tables["Contact"].records if (c.get("Email") or "").lower() == email and not c["IsDeleted"]]
            if len(sf) == 1 and sf[0].get("AccountId"):
                mine = [o for o in opportunities if o["AccountId"] == sf[0]["AccountId"] and not o["IsDeleted"]]
                if len({o["IsWon"] for o in mine if o["IsClosed"]}) == 2 and any(not o["IsClosed"] for o in mine):
                    conversation_id, contact_id = conv, sf[0]["Id"]
                    break
    assert conversation_id, "the demo data should include such a conversation"

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, live_server)
    page.goto(f"{live_server}/inbox/{conversation_id}")
    card = page.locator("#card-salesforce[data-state='shown']")
    expect(card).to_be_visible()
    expect(card.locator(".opportunity").first).to_be_visible()
    assert card.locator(".opportunity").count() <= 5
    pills = set(card.locator(".pill").all_inner_texts())
    assert pills <= {"Won", "Lost", "Open"} and pills
    link = card.get_by_role("link", name=re.compile("Open in Salesforce"))
    expect(link).to_have_attribute("href", f"{demo_emulator.url}/lightning/r/Contact/{contact_id}/view")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", re.compile("noopener"))
    page.screenshot(path=str(artifacts / "salesforce-card.png"))
    page.close()


def test_a_slow_salesforce_card_says_so_then_fills_in_by_itself(browser, live_server, seeded, app, demo_emulator, artifacts):
    store = demo_emulator.app.emulator.store
    with session_scope(get_engine(app)) as session:
        connection.save_setup(
            session, app.extensions["vault"], 1,
            connection.SetupInput(mode="client-credentials", environment="custom", url=demo_emulator.url,
                                  client_id="emulator-client-id", client_secret="emulator-client-secret"),
        )
        conversation_id = None
        for conv, email in session.execute(select(Conversation.id, Contact.email_normalized).join(Contact)).all():
            if any((c.get("Email") or "").lower() == email and c.get("AccountId") for c in store.tables["Contact"].records):
                conversation_id = conv
                break
    assert conversation_id
    app.config["SALESFORCE_CARD_BUDGET"] = 0.3
    demo_emulator.app.emulator.set_faults(latency_ms=2500)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, live_server)
    page.goto(f"{live_server}/inbox/{conversation_id}")
    waiting = page.locator("#card-salesforce[data-state='unavailable']")
    expect(waiting).to_contain_text("still answering")
    page.screenshot(path=str(artifacts / "salesforce-card-slow.png"))
    # No reload, no click: the card asks again and shows the contact once Salesforce has answered.
    expect(page.locator("#card-salesforce[data-state='shown']")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(artifacts / "salesforce-card-slow-filled.png"))
    page.close()


def test_a_leads_conversation_and_creating_a_contact_from_the_card(browser, live_server, seeded, app, demo_emulator, artifacts):
    from tests import factories

    store = demo_emulator.app.emulator.store

    def live(sobject):
        return [r for r in store.tables[sobject].records if not r["IsDeleted"] and r.get("Email")]

    contact_emails = {c["Email"].lower() for c in live("Contact")}
    open_leads: dict[str, list] = {}
    for lead in live("Lead"):
        open_leads.setdefault(lead["Email"].lower(), []).append(lead)
    account = next(a for a in store.tables["Account"].records if not a["IsDeleted"] and (a.get("Website") or "").startswith("https://www."))
    domain = account["Website"][len("https://www."):]
    with session_scope(get_engine(app)) as session:
        connection.save_setup(
            session, app.extensions["vault"], 1,
            connection.SetupInput(mode="client-credentials", environment="custom", url=demo_emulator.url,
                                  client_id="emulator-client-id", client_secret="emulator-client-secret"),
        )
        lead_conversation = lead = None
        for conv, email in session.execute(select(Conversation.id, Contact.email_normalized).join(Contact)).all():
            leads = open_leads.get(email or "", [])
            if email not in contact_emails and len(leads) == 1 and not leads[0]["IsConverted"]:
                lead_conversation, lead = conv, leads[0]
                break
        newcomer = factories.contact(session, 1, name="Grace Hopper", email=f"grace.hopper@{domain}", title="Rear Admiral")
        new_conversation = factories.conversation(session, 1, newcomer).id
    assert lead_conversation, "the demo inbox should have a conversation with an open lead"

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, live_server)
    page.goto(f"{live_server}/inbox/{lead_conversation}")
    card = page.locator("#card-salesforce[data-state='shown'][data-record='Lead']")
    expect(card).to_be_visible()
    expect(card.locator(".badge-lead")).to_have_text("Lead")
    expect(card).to_contain_text(lead["Company"])
    expect(card).to_contain_text(lead["Status"])
    link = card.get_by_role("link", name=re.compile("Open in Salesforce"))
    expect(link).to_have_attribute("href", f"{demo_emulator.url}/lightning/r/Lead/{lead['Id']}/view")
    page.screenshot(path=str(artifacts / "salesforce-card-lead.png"))

    page.goto(f"{live_server}/inbox/{new_conversation}")
    empty = page.locator("#card-salesforce[data-state='no-match']")
    expect(empty).to_be_visible()
    empty.get_by_role("button", name="Create contact").click()
    form = page.locator("#sf-create-form")
    expect(form.get_by_label("Last name")).to_have_value("Hopper")
    expect(form.get_by_label("Account", exact=True)).to_have_value(account["Id"])
    form.get_by_label("Last name").fill("")
    form.get_by_role("button", name="Create contact").click()
    expect(page.locator("#sf-last_name-error")).to_contain_text("Required fields are missing")
    page.screenshot(path=str(artifacts / "salesforce-card-create-refused.png"))
    page.locator("#sf-create-form").get_by_label("Last name").fill("Hopper")
    page.locator("#sf-create-form").get_by_role("button", name="Create contact").dblclick()
    shown = page.locator("#card-salesforce[data-state='shown'][data-record='Contact']")
    expect(shown).to_be_visible()
    expect(shown).to_contain_text(account["Name"])
    made = [c for c in store.tables["Contact"].records if (c.get("Email") or "").lower() == f"grace.hopper@{domain}"]
    assert len(made) == 1 and made[0]["Title"] == "Rear Admiral"
    page.screenshot(path=str(artifacts / "salesforce-card-created.png"))
    page.close()


def test_card_with_many_opportunities_says_how_many_more_with_close_dates(browser, live_server, seeded, app,
                                                                          demo_emulator, artifacts):
    from webapp.demo.seed import MEMBER
    from tests.salesforce.sync.conftest import sync

    store = demo_emulator.app.emulator.store
    opportunities = store.tables["Opportunity"].records
    with session_scope(get_engine(app)) as session:
        connection.save_setup(
            session, app.extensions["vault"], 1,
            connection.SetupInput(mode="client-credentials", environment="custom", url=demo_emulator.url,
                                  client_id="emulator-client-id", client_secret="emulator-client-secret"),
        )
        found = None
        for conv, email in session.execute(select(Conversation.id, Contact.email_normalized).join(Contact)).all():
            sf = [c for c in store.tables["Contact"].records if (c.get("Email") or "").lower() == email and not c["IsDeleted"]]
            if len(sf) == 1 and sf[0].get("AccountId"):
                mine = [o for o in opportunities if o["AccountId"] == sf[0]["AccountId"] and not o["IsDeleted"]]
                if len(mine) > 5:
                    found = conv, sf[0]["AccountId"], len(mine)
                    break
    assert found, "the demo org should have an account with more than five opportunities in the inbox"
    conversation_id, account_id, total = found

    # Before any sync, with Salesforce down, a member reads why the card is missing.
    demo_emulator.app.emulator.set_faults(unavailable=100)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    _sign_in(page, live_server, MEMBER)
    page.goto(f"{live_server}/inbox/{conversation_id}")
    line = page.locator("#card-salesforce[data-state='unavailable']")
    expect(line).to_be_visible()
    expect(line).to_contain_text("Salesforce is unavailable just now; try again later.")
    page.screenshot(path=str(artifacts / "salesforce-card-member-unavailable-1440.png"))
    page.close()
    demo_emulator.app.emulator.set_faults(unavailable=0)
    app.extensions["cache"].clear()

    sync(app)  # the synced copy counts the account's opportunities

    for viewport, name in (({"width": 1440, "height": 900}, "1440"), ({"width": 390, "height": 844}, "390")):
        page = browser.new_page(viewport=viewport)
        _sign_in(page, live_server)
        page.goto(f"{live_server}/inbox/{conversation_id}")
        if viewport["width"] < 800:
            page.click("#details-toggle")
        card = page.locator("#card-salesforce[data-state='shown']")
        expect(card).to_be_visible()
        assert card.locator(".opportunity").count() == 5
        assert card.locator(".opp-close time").count() == 5
        more = card.locator("#sf-more-opportunities")
        expect(more).to_have_text(f"+{total - 5} more in Salesforce ↗")
        expect(more).to_have_attribute("href", f"{demo_emulator.url}/lightning/r/Account/{account_id}/related/Opportunities/view")
        expect(card.locator(".sf-asof")).to_contain_text("From Salesforce just now")
        card.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / f"salesforce-card-more-{name}.png"))
        page.close()

