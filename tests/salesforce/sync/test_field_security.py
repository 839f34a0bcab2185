"""The sync, pushes and two-way when field-level security hides fields from the connected user
(the emulator answers as real orgs do: see tests/emulator/test_field_security.py)."""

from __future__ import annotations

import requests
from sqlalchemy import text
from sqlmodel import Session

from tests.salesforce.sync.conftest import sync
from tests.salesforce.sync.twoway_helpers import add_deal, api, deal, edit_deal, enable, link, linked_contact, opportunities
from webapp.db import get_engine
from webapp.models import SyncRun


def hide(emulator, sobject, hidden=(), read_only=()):
    response = requests.post(f"{emulator.url}/_emulator/field-security", timeout=10,
                             json={"sobject": sobject, "hidden": list(hidden), "read_only": list(read_only)})
    assert response.status_code == 200, response.text


def _rows(app, sql, **params):
    with get_engine(app).connect() as conn:
        return conn.execute(text(sql), params).all()


def _run(app, run_id) -> SyncRun:
    with Session(get_engine(app)) as s:
        return s.get(SyncRun, run_id)


def test_the_sync_keeps_working_without_title_lead_source_phone_and_amount(connected, emulator):
    hide(emulator, "Contact", ["Title", "LeadSource", "Phone"])
    hide(emulator, "Opportunity", ["Amount"])
    run_id, outcome = sync(connected)
    assert outcome.status == "succeeded", outcome.reason
    store = emulator.app.emulator.store
    live = [r for r in store.tables["Contact"].records if not r["IsDeleted"]]
    assert _rows(connected, "SELECT count(*) FROM sf_contact WHERE NOT is_deleted")[0][0] == len(live)
    assert any(r["Title"] for r in live) and any(r["Amount"] for r in store.tables["Opportunity"].records)
    assert _rows(connected, "SELECT count(*) FROM sf_contact WHERE title IS NOT NULL OR lead_source IS NOT NULL "
                            "OR phone IS NOT NULL")[0][0] == 0
    assert _rows(connected, "SELECT count(*) FROM sf_opportunity WHERE amount_minor IS NOT NULL")[0][0] == 0
    assert _rows(connected, "SELECT count(*) FROM sf_opportunity WHERE stage_name IS NOT NULL")[0][0] > 0
    counts = _run(connected, run_id).counts
    assert "Title, LeadSource, Phone" in counts["Contact"]["note"] and "Amount" in counts["Opportunity"]["note"]
    # The access was kept: the next run asks no describe, and nothing changed.
    described = emulator.app.emulator.calls["sobject_describe"]
    run_id, outcome = sync(connected)
    assert outcome.status == "succeeded" and emulator.app.emulator.calls["sobject_describe"] == described
    assert _run(connected, run_id).api_calls <= 5


def test_a_field_hidden_after_the_describe_was_kept_is_dropped_at_once(connected, emulator):
    assert sync(connected)[1].status == "succeeded"
    hide(emulator, "Contact", ["Title"])
    contact = next(r for r in emulator.app.emulator.store.tables["Contact"].records if not r["IsDeleted"])
    api(emulator, "PATCH", f"sobjects/Contact/{contact['Id']}", json={"FirstName": "Renamed"})
    run_id, outcome = sync(connected)
    assert outcome.status == "succeeded", outcome.reason  # INVALID_FIELD, a fresh describe, then without Title
    assert _rows(connected, "SELECT first_name FROM sf_contact WHERE sf_id = :i", i=contact["Id"])[0][0] == "Renamed"
    assert "Title" in _run(connected, run_id).counts["Contact"]["note"]


def test_pushes_never_write_a_hidden_or_read_only_field_and_amounts_stay(connected, emulator):
    sync(connected)
    enable(connected)
    contact = linked_contact(connected)
    hide(emulator, "Opportunity", ["Amount"])
    hide(emulator, "Contact", read_only=["Title"])
    sync(connected)  # the describes are kept from here on
    first = add_deal(connected, "Hidden amount deal", contact_id=contact.id, amount_minor=123_400)
    _, outcome = sync(connected)
    assert outcome.status == "succeeded", outcome.reason
    [opp] = opportunities(emulator, "Hidden amount deal")
    assert opp["Amount"] is None and link(connected, first).state == "linked"
    assert deal(connected, first).amount_minor == 123_400  # an unreadable amount is no change from Salesforce
    assert _rows(connected, "SELECT count(*) FROM sync_record_error")[0][0] == 0

    # Inbox edits: the stage goes out, the amount does not; Salesforce's stage comes back.
    edit_deal(connected, first, stage="Negotiation/Review", amount_minor=999_900)
    api(emulator, "PATCH", f"sobjects/Contact/{contact.salesforce_id}", json={"Department": "Ops"})
    with Session(get_engine(connected)) as s:
        s.execute(text("UPDATE contact SET title = 'Edited here', updated_at = CURRENT_TIMESTAMP WHERE id = :i"),
                  {"i": contact.id})
        s.commit()
    _, outcome = sync(connected)
    assert outcome.status == "succeeded", outcome.reason
    stored = emulator.app.emulator.store.get("Opportunity", opp["Id"])
    assert stored["StageName"] == "Negotiation/Review" and stored["Amount"] is None
    assert deal(connected, first).amount_minor == 999_900
    # The read-only title was not sent: no record error, the contact's title unchanged there.
    assert _rows(connected, "SELECT sobject, message FROM sync_record_error") == []
    sf_contact = emulator.app.emulator.store.get("Contact", contact.salesforce_id)
    assert sf_contact["Title"] != "Edited here"
