"""The org's duplicate rules against the product, over HTTP with the emulator: a create from
the card and a push refused with Salesforce's message and a link to the matching record, and
the workspace setting that sends `Sforce-Duplicate-Rule-Header: allowSave=true`."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from tests.salesforce.conftest import connect_with_oauth
from tests.salesforce.sync.conftest import sync
from tests.salesforce.sync.twoway_helpers import api, enable, linked_contact
from webapp.db import get_engine
from webapp.models import Contact, SalesforceChoice, SyncSettings
from webapp.salesforce.client import SalesforceClient
from webapp.salesforce.errors import DuplicatesDetected

CARD = "/integrations/salesforce/card"
CREATE = f"{CARD}/create"


@pytest.fixture
def connected(admin_client, emulator):
    connect_with_oauth(admin_client, emulator)
    return admin_client


def _key(body: str) -> str:
    return re.search(r'name="key" value="([^"]+)"', body).group(1)


def _form(client, email, kind):
    response = client.htmx_get(f"{CARD}/new", query_string={"email": email, "kind": kind})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _records(emulator, sobject, email):
    return [r for r in emulator.app.emulator.store.tables[sobject].records
            if not r["IsDeleted"] and (r.get("Email") or "").lower() == email]


def _allow(app, allowed: bool):
    with Session(get_engine(app)) as s:
        row = s.execute(select(SyncSettings).where(SyncSettings.workspace_id == 1)).scalar_one_or_none()
        row = row or SyncSettings(workspace_id=1, extra_fields={})
        row.allow_duplicate_save = allowed
        s.add(row)
        s.commit()


def test_a_card_create_refused_by_a_duplicate_rule_links_to_the_match(connected, emulator):
    email = "twin.arrival@duplicate-rule.test"
    assert connected.htmx_get(CARD, query_string={"email": email}).headers["X-Salesforce-Card"] == "no-match"
    form = _form(connected, email, "contact")
    # Meanwhile someone creates the contact in Salesforce, and the org blocks duplicates.
    made = api(emulator, "POST", "sobjects/Contact/", json={"LastName": "Early", "Email": email}).json()["id"]
    emulator.app.emulator.set_duplicate_rules({"Contact": "block"})
    refused = connected.post(CREATE, {"kind": "contact", "email": email, "key": _key(form), "first_name": "Tia",
                                      "last_name": "Twin", "title": "", "account_id": ""}, htmx=True)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Salesforce&#39;s duplicate rules refused it: Use one of these records? Nothing was created." in body
    link = re.search(r'<a href="([^"]+)"[^>]*id="sf-duplicate-link">Open the matching contact in Salesforce</a>', body)
    assert link and link.group(1) == f"{emulator.url}/lightning/r/Contact/{made}/view"
    assert "only alerts" not in body  # a blocking rule: the setting would not help
    assert [r["Id"] for r in _records(emulator, "Contact", email)] == [made]


def test_an_alerting_rule_saves_from_the_card_only_with_the_setting(connected, emulator):
    email = "alerted@duplicate-rule.test"
    api(emulator, "POST", "sobjects/Lead/", json={"LastName": "First", "Company": "Acme", "Email": email})
    emulator.app.emulator.set_duplicate_rules({"Lead": "alert"})
    # The card would show that lead; a second create (a colleague's open form) meets the rule.
    form = _form(connected, email, "lead")
    data = {"kind": "lead", "email": email, "key": _key(form), "last_name": "Second", "company": "Acme"}
    refused = connected.post(CREATE, data, htmx=True)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "Open the matching lead in Salesforce" in body
    assert "The rule only alerts" in body and "Save even when a duplicate rule alerts" in body
    assert len(_records(emulator, "Lead", email)) == 1
    _allow(connected.app, True)
    saved = connected.post(CREATE, {**data, "key": _key(body)}, htmx=True)
    assert saved.status_code == 200 and saved.headers["X-Salesforce-Record"] == "Lead"
    assert len(_records(emulator, "Lead", email)) == 2


def test_the_client_sends_allow_save_on_writes_only_when_told(emulator, connected):
    from webapp.integrations.salesforce_connection import client_for
    app = connected.app
    name = next(a["Name"] for a in emulator.app.emulator.store.tables["Account"].records if not a["IsDeleted"])
    emulator.app.emulator.set_duplicate_rules({"Account": "alert"})
    client = client_for(get_engine(app), app.extensions["vault"], 1)
    assert client.allow_duplicate_save is False
    with pytest.raises(DuplicatesDetected) as refused:
        client.create("Account", {"Name": name})
    assert refused.value.allow_save is True and refused.value.matches[0][0] == "Account"
    assert str(refused.value) == "Use one of these records?"
    _allow(app, True)
    allowed = client_for(get_engine(app), app.extensions["vault"], 1)
    assert isinstance(allowed, SalesforceClient) and allowed.allow_duplicate_save
    assert allowed.create("Account", {"Name": name}).startswith("001")
    emulator.app.emulator.set_duplicate_rules({"Account": "block"})
    with pytest.raises(DuplicatesDetected) as blocked:
        allowed.create("Account", {"Name": name})
    assert blocked.value.allow_save is False and len(blocked.value.matches) == 2


def _shared_email_contact(app, emulator):
    """A linked inbox contact whose Salesforce contact shares its email with another one: an
    agent chose which one it is on the card, so it stays linked."""
    contact = linked_contact(app)
    record = emulator.app.emulator.store.get("Contact", contact.salesforce_id)
    twin = api(emulator, "POST", "sobjects/Contact/", json={"LastName": "Twin", "Email": record["Email"]}).json()["id"]
    with Session(get_engine(app)) as s:
        s.add(SalesforceChoice(workspace_id=1, email_normalized=contact.email_normalized, sobject="Contact",
                               sf_id=contact.salesforce_id))
        s.commit()
    return contact, twin


def test_a_push_refused_by_a_duplicate_rule_is_a_run_error_with_a_link(connected, emulator):
    app = connected.app
    sync(app)
    enable(app)
    contact, twin = _shared_email_contact(app, emulator)
    sync(app)
    emulator.app.emulator.set_duplicate_rules({"Contact": "block"})
    assert connected.post(f"/contacts/{contact.id}/edit", data={"name": "Ada Duplicate", "title": "CFO", "phone": ""}).status_code == 302
    _, outcome = sync(app)
    assert outcome.status == "succeeded" and "could not be synced" in outcome.reason
    with get_engine(app).connect() as conn:
        row = conn.execute(text("SELECT message, match_sobject, match_id FROM sync_record_error "
                                "WHERE sobject = 'Inbox contact' AND sf_id = :c"), {"c": str(contact.id)}).one()
    assert row.message.endswith("DUPLICATES_DETECTED: Use one of these records?")
    assert (row.match_sobject, row.match_id) == ("Contact", twin)
    page = connected.get("/settings/integrations/salesforce").get_data(as_text=True)
    assert "DUPLICATES_DETECTED: Use one of these records?" in page
    assert (f'<a href="{emulator.url}/lightning/r/Contact/{twin}/view" target="_blank" rel="noopener" '
            'class="sync-duplicate-link">Open the matching contact in Salesforce</a>') in page
    assert emulator.app.emulator.store.get("Contact", contact.salesforce_id)["Title"] != "CFO"


def test_the_setting_pushes_past_an_alerting_rule_but_not_a_blocking_one(connected, emulator):
    app = connected.app
    sync(app)
    enable(app)
    contact, _ = _shared_email_contact(app, emulator)
    sync(app)
    emulator.app.emulator.set_duplicate_rules({"Contact": "alert"})
    answer = connected.post("/settings/integrations/salesforce/sync/two-way",
                            data={"two_way": "on", "allow_duplicate_save": "on", "external_id_field": ""})
    assert answer.status_code == 302
    page = connected.get("/settings/integrations/salesforce").get_data(as_text=True)
    assert re.search(r'name="allow_duplicate_save" id="allow_duplicate_save" checked', page)
    connected.post(f"/contacts/{contact.id}/edit", data={"name": "Ada Alerted", "title": "COO", "phone": ""})
    _, outcome = sync(app)
    assert outcome.status == "succeeded"
    assert emulator.app.emulator.store.get("Contact", contact.salesforce_id)["Title"] == "COO"
    emulator.app.emulator.set_duplicate_rules({"Contact": "block"})
    connected.post(f"/contacts/{contact.id}/edit", data={"name": "Ada Blocked", "title": "CEO", "phone": ""})
    sync(app)
    assert emulator.app.emulator.store.get("Contact", contact.salesforce_id)["Title"] == "COO"
    with get_engine(app).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sync_record_error WHERE match_id IS NOT NULL")).scalar() == 1
    # Turned off again, the alerting rule refuses the push as well.
    connected.post("/settings/integrations/salesforce/sync/two-way", data={"two_way": "on", "external_id_field": ""})
    with Session(get_engine(app)) as s:
        assert s.execute(select(SyncSettings.allow_duplicate_save)).scalar() is False
        assert s.get(Contact, contact.id).title == "CEO"


def test_a_deal_refused_by_a_duplicate_rule_links_to_the_match_on_its_page(connected, emulator):
    # Orgs can put duplicate rules on custom matching; a deal's refusal reads like any other.
    from tests.salesforce.sync.twoway_helpers import add_deal
    from webapp.models import SyncLink, SyncRecordError

    app = connected.app
    deal_id = add_deal(app, "Refused deal")
    with Session(get_engine(app)) as s:
        s.add(SyncLink(workspace_id=1, kind="deal", local_id=deal_id, key="k-1", state="new", name="Refused deal"))
        s.add(SyncRecordError(workspace_id=1, sobject="Deal", sf_id=str(deal_id), match_sobject="Opportunity",
                              match_id="006000000000001AAA",
                              message="Refused deal: DUPLICATES_DETECTED: Use one of these records?"))
        s.commit()
    page = connected.get(f"/deals/{deal_id}/edit").get_data(as_text=True)
    assert "<code>DUPLICATES_DETECTED</code>" in page and "Use one of these records?" in page
    assert "A duplicate rule of your Salesforce org flagged it" in page
    assert (f'<a href="{emulator.url}/lightning/r/Opportunity/006000000000001AAA/view" target="_blank" '
            'rel="noopener" id="deal-duplicate-link">Open the matching opportunity in Salesforce</a>') in page
