"""The two-way settings form and "push immediately": what is validated and how a refusal
reads, what is saved, who may post, and that a deal or contact edit queues a run without
calling Salesforce inside the request."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from tests.conftest import Client
from tests.salesforce.sync.conftest import sync
from tests.salesforce.sync.twoway_helpers import add_deal, enable, linked_contact
from webapp.db import get_engine
from webapp.models import SyncSettings

URL = "/settings/integrations/salesforce/sync/two-way"
DEFAULT_RULES = {
    "rule:deal.name": "recent", "rule:deal.stage": "recent", "rule:deal.amount": "salesforce",
    "rule:deal.close_date": "recent", "rule:deal.account": "inbox", "rule:contact.name": "salesforce",
    "rule:contact.title": "recent", "rule:contact.phone": "recent",
}


def _form(**values) -> dict:
    """The form as the page posts it: ticked checkboxes send "on", unticked ones nothing."""
    form = {"two_way": "on", "external_id_field": "", **DEFAULT_RULES}
    form.update(values)
    return {k: v for k, v in form.items() if v is not None}


def _settings(app) -> SyncSettings | None:
    with Session(get_engine(app)) as s:
        return s.execute(select(SyncSettings).where(SyncSettings.workspace_id == 1)).scalar_one_or_none()


def _queued(app) -> list[tuple]:
    with get_engine(app).connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT trigger, status FROM sync_run WHERE status = 'queued'"))]


def _calls(emulator) -> int:
    return sum(emulator.app.emulator.calls.snapshot().values())


def test_saving_turns_it_on_with_the_switches_and_rules(connected, admin_client):
    response = admin_client.post(URL, _form(**{"push_immediately": "on", "delete_in_salesforce": "on",
                                               "rule:deal.name": "inbox", "rule:contact.phone": "off"}))
    assert response.status_code == 302 and response.headers["Location"].endswith("#sync-two-way")
    saved = _settings(connected)
    assert (saved.two_way, saved.push_immediately, saved.delete_in_salesforce, saved.external_id_field) == (True, True, True, None)
    assert saved.field_rules["deal.name"] == "inbox" and saved.field_rules["contact.phone"] == "off"
    page = admin_client.get("/settings/integrations/salesforce").get_data(as_text=True)
    assert "Two-way settings saved." in page
    assert '<option value="inbox" selected>Inbox wins</option>' in page

    # Unticked switches are saved as off.
    assert admin_client.post(URL, _form()).status_code == 302
    saved = _settings(connected)
    assert (saved.two_way, saved.push_immediately, saved.delete_in_salesforce) == (True, False, False)
    assert saved.field_rules["deal.name"] == "recent"


@pytest.mark.parametrize(("override", "message"), [
    ({"rule:deal.bogus": "inbox"}, "“deal.bogus” is not a synced field"),
    ({"rule:deal.name": "whoever"}, "Deal name: “whoever” is not a rule; choose one of Salesforce wins, Inbox wins"),
    # The contact's account only goes out: Salesforce cannot win it.
    ({"rule:deal.account": "salesforce"}, "Contact&#39;s account: “salesforce” is not a rule; choose one of Inbox wins, Not synced."),
])
def test_an_unknown_field_or_rule_is_refused_with_a_message_and_nothing_is_saved(connected, admin_client, override, message):
    response = admin_client.post(URL, _form(push_immediately="on", **override))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="sync-two-way-error"' in body and message in body
    assert _settings(connected) is None
    # The admin's choices are shown back, not lost.
    assert 'name="push_immediately" checked' in body


def test_the_external_id_field_is_checked_against_the_orgs_describe(connected, admin_client, emulator):
    for name, message in (
        ("NextStep", "NextStep is not an External ID text field on Opportunity that the integration user can edit "
                     "(the org has: Inbox_Deal_Id__c)."),
        ("Nope__c", "Nope__c is not an External ID text field"),
        ("Inbox Deal Id", "Enter the field&#39;s API name, e.g. Inbox_Deal_Id__c."),
    ):
        response = admin_client.post(URL, _form(external_id_field=name))
        body = response.get_data(as_text=True)
        assert response.status_code == 422, name
        assert 'id="external_id_field-error"' in body and message in body, name
        assert f'value="{name}"' in body
        assert _settings(connected) is None
    described = emulator.app.emulator.calls["describe"]
    assert admin_client.post(URL, _form(external_id_field="Inbox_Deal_Id__c")).status_code == 302
    assert _settings(connected).external_id_field == "Inbox_Deal_Id__c"
    # Saving again with the same field asks Salesforce nothing.
    calls = _calls(emulator)
    assert admin_client.post(URL, _form(external_id_field="Inbox_Deal_Id__c", push_immediately="on")).status_code == 302
    assert _calls(emulator) == calls and emulator.app.emulator.calls["describe"] >= described
    # Cleared, creates go through the outbox.
    assert admin_client.post(URL, _form(external_id_field="")).status_code == 302
    assert _settings(connected).external_id_field is None


def test_an_unreachable_org_refuses_a_new_external_id_field_with_the_reason(connected, admin_client, emulator):
    emulator.app.emulator.set_faults(unavailable=1000)
    response = admin_client.post(URL, _form(external_id_field="Inbox_Deal_Id__c"))
    emulator.app.emulator.set_faults(unavailable=0)
    assert response.status_code == 422
    assert "Salesforce could not list Opportunity&#39;s fields" in response.get_data(as_text=True)
    assert _settings(connected) is None


def test_a_refusal_without_a_csrf_token_saves_nothing(connected, admin_client):
    assert admin_client.post(URL, _form(push_immediately="on"), csrf=False).status_code == 400
    assert _settings(connected) is None


def test_members_get_403_on_every_two_way_route(connected, make_user):
    make_user("member@acme.test", role="member")
    member = Client(connected)
    member.login("member@acme.test", "correct-horse-battery")
    routes = [(method, rule.rule.replace("<int:error_id>", "1").replace("<int:run_id>", "1"))
              for rule in connected.url_map.iter_rules() if rule.endpoint.startswith("sync.")
              for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    assert ("POST", URL) in routes and ("GET", URL) in routes and len(routes) >= 8
    for method, url in routes:
        response = member.get(url) if method == "GET" else member.post(url, _form(push_immediately="on"))
        assert response.status_code == 403, (method, url)
    assert _settings(connected) is None and _queued(connected) == []


def test_a_get_of_the_form_address_leads_back_to_the_panel(connected, admin_client):
    response = admin_client.get(URL)
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings/integrations/salesforce#sync-two-way")


# -- push immediately ----------------------------------------------------------------------

def _deal_form(**values) -> dict:
    return {"name": "Pushed at once", "amount": "1200.00", "currency": "USD", "stage": "Prospecting",
            "close_date": "2026-12-01", "contact": "", **values}


def test_push_immediately_queues_a_run_after_a_deal_save_and_delete_without_calling_salesforce(connected, admin_client, emulator):
    sync(connected)
    enable(connected, push_immediately=True)
    calls = _calls(emulator)

    assert admin_client.post("/deals/new", _deal_form()).status_code == 302
    assert _queued(connected) == [("push", "queued")]  # its own trigger, not "Sync Now"
    assert _calls(emulator) == calls  # queued for the scheduler; nothing sent from the request
    assert "Push immediately" in admin_client.get("/settings/integrations/salesforce").get_data(as_text=True)

    _, outcome = sync(connected)  # the scheduler's poller would run the queued one; this joins it
    assert outcome.status == "succeeded"
    assert _queued(connected) == []
    deal_id = _rows_one(connected, "SELECT id FROM deal WHERE name = 'Pushed at once'")
    calls = _calls(emulator)
    assert admin_client.post(f"/deals/{deal_id}/edit", _deal_form(name="Pushed at once, edited")).status_code == 302
    assert _queued(connected) == [("push", "queued")]
    sync(connected)

    calls = _calls(emulator)
    assert admin_client.post(f"/deals/{deal_id}/delete").status_code == 302
    assert _queued(connected) == [("push", "queued")] and _calls(emulator) == calls

    # A second change before the run starts joins the queued run.
    other = add_deal(connected, "Another")
    assert admin_client.post(f"/deals/{other}/delete").status_code == 302
    assert _queued(connected) == [("push", "queued")]


def test_push_immediately_queues_a_run_after_editing_a_linked_contact(connected, admin_client, emulator):
    sync(connected)
    enable(connected, push_immediately=True)
    contact = linked_contact(connected)
    calls = _calls(emulator)
    answer = admin_client.post(f"/contacts/{contact.id}/edit", data={"name": contact.name, "title": "CTO", "phone": ""})
    assert answer.status_code == 302
    assert _queued(connected) == [("push", "queued")] and _calls(emulator) == calls


@pytest.mark.parametrize("settings", [{"push_immediately": False}, {"push_immediately": True, "two_way": False}])
def test_without_push_immediately_or_two_way_nothing_is_queued(connected, admin_client, emulator, settings):
    sync(connected)
    enable(connected, **settings)
    calls = _calls(emulator)
    assert admin_client.post("/deals/new", _deal_form()).status_code == 302
    deal_id = _rows_one(connected, "SELECT id FROM deal WHERE name = 'Pushed at once'")
    assert admin_client.post(f"/deals/{deal_id}/edit", _deal_form(name="Edited")).status_code == 302
    assert admin_client.post(f"/deals/{deal_id}/delete").status_code == 302
    contact = linked_contact(connected)
    assert admin_client.post(f"/contacts/{contact.id}/edit", data={"name": contact.name, "title": "CFO"}).status_code == 302
    assert _queued(connected) == [] and _calls(emulator) == calls


def _rows_one(app, sql):
    with get_engine(app).connect() as conn:
        return conn.execute(text(sql)).scalar_one()
