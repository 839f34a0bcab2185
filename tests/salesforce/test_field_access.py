"""The card and the settings page when field-level security hides fields from the connected
user (the emulator answers as real orgs do: see tests/emulator/test_field_security.py)."""

from __future__ import annotations

import html

import pytest
import requests

from tests.salesforce.conftest import connect_with_oauth
from tests.salesforce.test_card import CARD, _calls, _contact_with_opportunities
from webapp.money import format_money

PAGE = "/settings/integrations/salesforce"
FIELDS_TAB = f"{PAGE}?tab=fields"


def hide(emulator, sobject, hidden=()):
    response = requests.post(f"{emulator.url}/_emulator/field-security", timeout=10,
                             json={"sobject": sobject, "hidden": list(hidden)})
    assert response.status_code == 200, response.text


@pytest.fixture
def connected(admin_client, emulator):
    connect_with_oauth(admin_client, emulator)
    return admin_client


def test_the_card_shows_what_it_can_read_in_two_queries(connected, emulator):
    contact, opps = _contact_with_opportunities(emulator)
    hide(emulator, "Contact", ["Title", "LeadSource"])
    hide(emulator, "Opportunity", ["Amount"])
    before = _calls(emulator)
    response = connected.htmx_get(f"{CARD}?email={contact['Email']}")
    assert response.headers["X-Salesforce-Card"] == "shown"
    assert _calls(emulator) - before == 2  # the describes are kept, not queries
    body = html.unescape(response.get_data(as_text=True))
    account = emulator.app.emulator.store.get("Account", contact["AccountId"])
    assert account["Name"] in body
    assert contact["Title"] not in body and f">{contact['LeadSource']}<" not in body
    shown = [o for o in opps if o["Name"] in body]
    assert shown and all(o["StageName"] in body for o in shown)
    assert not any(format_money(round(o["Amount"] * 100), "USD") in body for o in shown if o["Amount"])


def test_a_field_hidden_after_the_access_was_kept_is_left_out_at_once(connected, emulator):
    contact, _ = _contact_with_opportunities(emulator)
    assert connected.htmx_get(f"{CARD}?email={contact['Email']}").headers["X-Salesforce-Card"] == "shown"
    hide(emulator, "Contact", ["Title"])
    response = connected.htmx_get(f"{CARD}?email={contact['Email']}&refresh=1")
    assert response.headers["X-Salesforce-Card"] == "shown"  # INVALID_FIELD, a fresh describe, asked again
    assert contact["Title"] not in html.unescape(response.get_data(as_text=True))


def test_the_settings_page_names_hidden_fields_and_what_they_cost(connected, emulator):
    page = connected.get(FIELDS_TAB).get_data(as_text=True)
    assert 'id="salesforce-field-access"' in page and "Not checked yet" in page
    hide(emulator, "Contact", ["LeadSource", "Phone"])
    hide(emulator, "Opportunity", ["Amount"])
    assert connected.post(f"{PAGE}/field-access").status_code == 302
    page = html.unescape(connected.get(FIELDS_TAB).get_data(as_text=True))
    assert "Lead source is hidden from the integration user: the card will not show it" in page
    assert "Contact phone is hidden from the integration user" in page
    assert "Opportunity amount is hidden from the integration user" in page
    assert "Contact title is hidden" not in page and "3 hidden" in page
    # Access given back: the next check says so.
    hide(emulator, "Contact", [])
    hide(emulator, "Opportunity", [])
    connected.post(f"{PAGE}/field-access")
    page = connected.get(FIELDS_TAB).get_data(as_text=True)
    assert "is hidden from the integration user" not in page and "All visible" in page


def test_members_cannot_check_field_access(connected, emulator, make_user):
    make_user("member@acme.test", role="member")
    connected.post("/logout")
    connected.login("member@acme.test", "correct-horse-battery")
    described = emulator.app.emulator.calls["sobject_describe"]
    assert connected.post(f"{PAGE}/field-access").status_code in (302, 403)
    assert emulator.app.emulator.calls["sobject_describe"] == described


def test_create_from_the_card_leaves_out_a_field_the_user_may_not_set(connected, emulator):
    from tests.salesforce.test_card import CREATE, _key, _new_form

    hide(emulator, "Lead", ["Title"])
    email = "grace@hidden-title-works.example"
    form = _new_form(connected, email, "lead")
    data = {"kind": "lead", "email": email, "key": _key(form), "first_name": "Grace", "last_name": "Hopper",
            "title": "Rear Admiral", "company": "Hidden Title Works"}
    created = connected.post(CREATE, data, htmx=True)
    assert created.status_code == 200 and created.headers["X-Salesforce-Record"] == "Lead"
    [lead] = [r for r in emulator.app.emulator.store.tables["Lead"].records if r.get("Email") == email]
    assert lead["LastName"] == "Hopper" and lead["Title"] is None
