"""Two-way sync against the emulator: deals out as opportunities (outbox and External ID
paths), edits back, ownership rules and conflicts, stage renames, per-record errors, row
locks, deletes both ways, and the loop test."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from tests.salesforce.sync.conftest import sync
from tests.salesforce.sync.twoway_helpers import add_deal, api, deal, edit_deal, enable, link, linked_contact, opportunities
from webapp.db import get_engine
from webapp.emulator.customize import ValidationRule, add_validation_rule, rename_stage
from webapp.models import SyncRun
from sqlmodel import Session


def _run(app, run_id) -> SyncRun:
    with Session(get_engine(app)) as s:
        return s.get(SyncRun, run_id)


def _rows(app, sql, **params):
    with get_engine(app).connect() as conn:
        return conn.execute(text(sql), params).all()


def test_deals_go_out_through_the_outbox_and_edits_come_back(connected, emulator):
    sync(connected)
    enable(connected)
    contact = linked_contact(connected)
    account = emulator.app.emulator.store.get("Contact", contact.salesforce_id)["AccountId"]
    first = add_deal(connected, "Outbox deal", contact_id=contact.id, stage="Negotiation/Review", amount_minor=1_234_56)
    run_id, outcome = sync(connected)
    assert outcome.status == "succeeded", outcome.reason
    [opp] = opportunities(emulator, "Outbox deal")
    assert (opp["StageName"], opp["Amount"], opp["CloseDate"].isoformat(), opp["AccountId"]) == (
        "Negotiation/Review", 1234.56, "2026-12-01", account)
    assert link(connected, first).state == "linked" and link(connected, first).sf_id == opp["Id"]
    counts = _run(connected, run_id).counts["Deals"]
    assert counts["created"] == 1 and counts["failed"] == 0
    assert emulator.app.emulator.calls["collections_create"] == 1

    # Edited in Salesforce (a user, over REST): the deal follows on the next sync.
    api(emulator, "PATCH", f"sobjects/Opportunity/{opp['Id']}", json={"StageName": "Closed Won", "Amount": 2000})
    _, outcome = sync(connected)
    changed = deal(connected, first)
    assert (changed.stage, changed.amount_minor) == ("Closed Won", 200_000)
    # Edited here: it goes out; the other fields are left as Salesforce has them.
    edit_deal(connected, first, name="Outbox deal, renamed")
    sync(connected)
    assert emulator.app.emulator.store.get("Opportunity", opp["Id"])["Name"] == "Outbox deal, renamed"
    assert len(opportunities(emulator, "Outbox deal, renamed")) == 1


def test_external_id_upserts_by_the_deals_key(connected, emulator):
    sync(connected)
    enable(connected, external_id_field="Inbox_Deal_Id__c")
    first = add_deal(connected, "Keyed deal")
    sync(connected)
    [opp] = opportunities(emulator, "Keyed deal")
    assert opp["Inbox_Deal_Id__c"] == link(connected, first).key
    assert emulator.app.emulator.calls["collections_upsert"] == 1 and emulator.app.emulator.calls["collections_create"] == 0
    # Sending the same create again (as after a crash) matches the same record.
    with get_engine(connected).begin() as conn:
        conn.execute(text("UPDATE sync_link SET state = 'new', sf_id = NULL WHERE local_id = :d"), {"d": first})
    sync(connected)
    assert len(opportunities(emulator, "Keyed deal")) == 1 and link(connected, first).sf_id == opp["Id"]


def test_conflicts_follow_the_rules_and_are_logged(connected, emulator, admin_client):
    sync(connected)
    enable(connected, field_rules={"deal.name": "inbox"})
    first = add_deal(connected, "Both sides")
    sync(connected)
    [opp] = opportunities(emulator, "Both sides")
    api(emulator, "PATCH", f"sobjects/Opportunity/{opp['Id']}", json={"Amount": 7000, "Name": "Named in Salesforce"})
    edit_deal(connected, first, amount_minor=900_000, name="Named in the inbox")
    run_id, _ = sync(connected)
    now = deal(connected, first)
    # Amount: Salesforce wins by default. Name: the admin chose inbox wins.
    assert now.amount_minor == 700_000 and now.name == "Named in the inbox"
    assert emulator.app.emulator.store.get("Opportunity", opp["Id"])["Name"] == "Named in the inbox"
    logged = _rows(connected, "SELECT field, inbox_value, salesforce_value, winner FROM sync_conflict ORDER BY field")
    assert [tuple(r) for r in logged] == [("deal.amount", "9000.00 USD", "7000.00 USD", "salesforce"),
                                          ("deal.name", "Named in the inbox", "Named in Salesforce", "inbox")]
    assert _run(connected, run_id).counts["Deals"]["conflicts"] == 2
    page = admin_client.get("/settings/integrations/salesforce").get_data(as_text=True)
    assert "Conflict log" in page and "Named in Salesforce" in page and "Most recent change wins" in page


def test_a_renamed_stage_maps_by_meaning(connected, emulator):
    sync(connected)
    enable(connected)
    first = add_deal(connected, "Renamed stage", stage="Negotiation/Review")
    sync(connected)
    store = emulator.app.emulator.store
    rename_stage(store, "Negotiation/Review", "Negotiation")
    rename_stage(store, "Closed Won", "Won")
    second = add_deal(connected, "Won deal", stage="Closed Won")
    edit_deal(connected, first, amount_minor=600_000)
    _, outcome = sync(connected)
    assert outcome.status == "succeeded", outcome.reason
    assert opportunities(emulator, "Won deal")[0]["StageName"] == "Won" and opportunities(emulator, "Won deal")[0]["IsWon"]
    assert opportunities(emulator, "Renamed stage")[0]["StageName"] == "Negotiation"
    assert deal(connected, first).stage == "Negotiation" and deal(connected, second).stage == "Won"


def test_refused_records_are_logged_with_salesforces_message_and_the_rest_go_on(connected, emulator, admin_client):
    sync(connected)
    enable(connected)
    add_validation_rule(emulator.app.emulator.store, ValidationRule(
        "Opportunity", "Closed deals need an amount.", lambda r: r["IsClosed"] and not r["Amount"], ("Amount",)))
    no_date = add_deal(connected, "No close date", close=None)
    invalid = add_deal(connected, "Closed, no amount", stage="Closed Lost", amount_minor=None)
    fine = add_deal(connected, "Fine deal")
    run_id, outcome = sync(connected)
    assert outcome.status == "succeeded" and "could not be synced" in outcome.reason
    errors = dict(_rows(connected, "SELECT sf_id, message FROM sync_record_error WHERE sobject = 'Deal'"))
    assert "REQUIRED_FIELD_MISSING: Required fields are missing: [CloseDate]" in errors[str(no_date)]
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION: Closed deals need an amount." in errors[str(invalid)]
    assert len(opportunities(emulator, "Fine deal")) == 1 and link(connected, fine).state == "linked"
    assert _run(connected, run_id).counts["Deals"]["failed"] == 2
    page = admin_client.get(f"/deals/{invalid}/edit").get_data(as_text=True)
    assert "Closed deals need an amount." in page
    # Not retried while unchanged; fixed and retried from settings, it goes out.
    calls = emulator.app.emulator.calls["collections_create"]
    sync(connected)
    assert emulator.app.emulator.calls["collections_create"] == calls
    edit_deal(connected, no_date, close_date=date(2027, 1, 31))
    with get_engine(connected).begin() as conn:
        conn.execute(text("UPDATE sync_link SET failed_at = NULL WHERE local_id = :d"), {"d": -1})
    error_id = _rows(connected, "SELECT id FROM sync_record_error WHERE sf_id = :d", d=str(no_date))[0][0]
    assert admin_client.post(f"/settings/integrations/salesforce/sync/errors/{error_id}/retry").status_code == 302
    run_id = _rows(connected, "SELECT max(id) FROM sync_run")[0][0]
    from webapp.sync.execution import run_queued
    from tests.salesforce.sync.conftest import FAST
    run_queued(get_engine(connected), connected.extensions["vault"], None, run_id, client_options=FAST)
    assert len(opportunities(emulator, "No close date")) == 1
    assert [r[0] for r in _rows(connected, "SELECT sf_id FROM sync_record_error")] == [str(invalid)]


def test_row_locks_are_retried_then_recorded(connected, emulator):
    sync(connected)
    enable(connected)
    add_deal(connected, "Locked once")
    emulator.app.emulator.set_faults(lock_rows=1)
    _, outcome = sync(connected)
    assert outcome.status == "succeeded" and len(opportunities(emulator, "Locked once")) == 1
    locked = add_deal(connected, "Locked for good")
    emulator.app.emulator.set_faults(lock_rows=10)
    sync(connected)
    [(message,)] = _rows(connected, "SELECT message FROM sync_record_error WHERE sf_id = :d", d=str(locked))
    assert "UNABLE_TO_LOCK_ROW" in message
    emulator.app.emulator.set_faults(lock_rows=0)
    sync(connected)  # a lock is transient: the next run tries again by itself
    assert len(opportunities(emulator, "Locked for good")) == 1


def test_deletes_unlink_or_stay_unless_turned_on(connected, emulator, admin_client):
    sync(connected)
    enable(connected)
    gone_there = add_deal(connected, "Deleted in Salesforce")
    gone_here = add_deal(connected, "Deleted in the inbox")
    sync(connected)
    [opp] = opportunities(emulator, "Deleted in Salesforce")
    api(emulator, "DELETE", f"sobjects/Opportunity/{opp['Id']}")
    assert admin_client.post(f"/deals/{gone_here}/delete").status_code == 302
    run_id, _ = sync(connected)
    assert link(connected, gone_there).state == "unlinked"
    assert "was deleted in Salesforce" in admin_client.get(f"/deals/{gone_there}/edit").get_data(as_text=True)
    assert "Unlinked" in admin_client.get("/deals").get_data(as_text=True)
    assert len(opportunities(emulator, "Deleted in the inbox")) == 1  # off by default
    assert _run(connected, run_id).counts["Deals"]["unlinked"] == 1

    enable(connected, delete_in_salesforce=True)
    doomed = add_deal(connected, "Deleted in both")
    sync(connected)
    assert admin_client.post(f"/deals/{doomed}/delete").status_code == 302
    run_id, _ = sync(connected)
    assert opportunities(emulator, "Deleted in both") == [] and _run(connected, run_id).counts["Deals"]["deleted"] == 1


def test_loop_edit_each_side_then_ten_syncs_change_nothing_more(connected, emulator):
    sync(connected)
    enable(connected)
    ours = add_deal(connected, "Loop deal", contact_id=linked_contact(connected).id)
    sync(connected)
    [opp] = opportunities(emulator, "Loop deal")
    api(emulator, "PATCH", f"sobjects/Opportunity/{opp['Id']}", json={"CloseDate": "2027-03-01"})
    edit_deal(connected, ours, name="Loop deal, edited here")
    contact = linked_contact(connected)
    with get_engine(connected).begin() as conn:
        conn.execute(text("UPDATE contact SET title = 'Edited title', updated_at = CURRENT_TIMESTAMP WHERE id = :c"),
                     {"c": contact.id})
    first, _ = sync(connected)
    record = emulator.app.emulator.store.get("Opportunity", opp["Id"])
    assert record["Name"] == "Loop deal, edited here" and deal(connected, ours).close_date == date(2027, 3, 1)
    assert emulator.app.emulator.store.get("Contact", contact.salesforce_id)["Title"] == "Edited title"
    stamp = record["SystemModstamp"]
    before = deal(connected, ours).updated_at
    calls = []
    for _ in range(10):
        run_id, outcome = sync(connected)
        run = _run(connected, run_id)
        calls.append(run.api_calls)
        changed = {name: c for name, c in run.counts.items()
                   if any(c.get(k) for k in ("created", "updated", "deleted", "failed", "conflicts", "from_salesforce"))}
        assert changed == {}, changed
    assert calls == [5] * 10
    assert emulator.app.emulator.store.get("Opportunity", opp["Id"])["SystemModstamp"] == stamp
    assert deal(connected, ours).updated_at == before
    assert _rows(connected, "SELECT count(*) FROM sync_conflict")[0][0] == 0


def test_an_inbox_edit_of_a_linked_contact_goes_out_and_salesforces_edits_come_back(connected, emulator, admin_client):
    sync(connected)
    enable(connected)
    contact = linked_contact(connected)
    sync(connected)  # the contact's link starts from what the pull brought
    answer = admin_client.post(f"/contacts/{contact.id}/edit", data={"name": "Ada King Lovelace", "title": "CTO", "phone": ""})
    assert answer.status_code == 302
    sync(connected)
    record = emulator.app.emulator.store.get("Contact", contact.salesforce_id)
    assert (record["FirstName"], record["LastName"], record["Title"]) == ("Ada King", "Lovelace", "CTO")
    api(emulator, "PATCH", f"sobjects/Contact/{contact.salesforce_id}", json={"Title": "Chief Technology Officer"})
    sync(connected)
    assert linked_contact(connected).title == "Chief Technology Officer"
    assert linked_contact(connected).name == "Ada King Lovelace"


def test_a_linked_deal_salesforce_refused_is_not_called_synced_and_says_what_to_do(connected, emulator, admin_client):
    sync(connected)
    enable(connected)
    first = add_deal(connected, "Linked, then refused")
    sync(connected)
    assert link(connected, first).state == "linked"
    assert "Synced with Salesforce" in admin_client.get(f"/deals/{first}/edit").get_data(as_text=True)
    add_validation_rule(emulator.app.emulator.store, ValidationRule(
        "Opportunity", "Closed deals need an amount.", lambda r: r["IsClosed"] and not r["Amount"], ("Amount",)))
    edit_deal(connected, first, stage="Closed Lost", amount_minor=None)
    sync(connected)
    page = admin_client.get(f"/deals/{first}/edit").get_data(as_text=True)
    assert link(connected, first).state == "linked"
    assert "Synced with Salesforce" not in page and "badge-won" not in page
    assert "Not synced: Salesforce refused the last change" in page
    assert "A validation rule of your Salesforce org refused it" in page  # what to do
    assert "<code>FIELD_CUSTOM_VALIDATION_EXCEPTION</code> Closed deals need an amount." in page  # and the code
    listing = admin_client.get("/deals").get_data(as_text=True)
    row = listing.split("Linked, then refused")[1].split("</tr>")[0]
    assert "Not synced" in row and "badge-won" not in row
