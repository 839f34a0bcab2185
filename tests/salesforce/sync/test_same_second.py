"""An edit in Salesforce that keeps the stored SystemModstamp (whole seconds: made in the same
second as our last read of the record) still reaches the mirror and the inbox, and re-reading
unchanged records (the lookback) writes and counts nothing."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from tests.salesforce.sync.conftest import sync
from tests.salesforce.sync.test_pull import _api
from webapp.db import get_engine
from webapp.models import SyncRun


def _row(app, sql, **params):
    with get_engine(app).connect() as conn:
        return conn.execute(text(sql), params).one()


def _counts(app, run_id) -> dict:
    with Session(get_engine(app)) as s:
        return s.get(SyncRun, run_id).counts


def test_an_edit_within_the_stored_second_updates_the_mirror(connected, emulator):
    sync(connected)
    store = emulator.app.emulator.store
    contact = next(r for r in store.tables["Contact"].records
                   if not r["IsDeleted"] and r["Email"] and r["AccountId"] and r["Title"] != "Chief Same Second")
    # Recently stamped, so the next incremental sync reads it again (its lookback).
    _api(emulator, "PATCH", f"sobjects/Contact/{contact['Id']}", json={"Phone": "+1 555 0100"})
    sync(connected)
    stamp = contact["SystemModstamp"]
    assert _row(connected, "SELECT phone FROM sf_contact WHERE sf_id = :i", i=contact["Id"])[0] == "+1 555 0100"

    # A no-change sync re-reads it with the same stamp and the same content: nothing written.
    synced_at = _row(connected, "SELECT synced_at FROM sf_contact WHERE sf_id = :i", i=contact["Id"])[0]
    run_id, outcome = sync(connected)
    counts = _counts(connected, run_id)["Contact"]
    assert outcome.status == "succeeded" and counts["fetched"] >= 1 and counts["updated"] == 0
    assert _row(connected, "SELECT synced_at FROM sf_contact WHERE sf_id = :i", i=contact["Id"])[0] == synced_at

    # The same second, other content: the mirror follows, and so does the inbox contact.
    store.tables["Contact"].change(contact, {"Title": "Chief Same Second"})
    assert contact["SystemModstamp"] == stamp
    run_id, outcome = sync(connected)
    assert outcome.status == "succeeded" and _counts(connected, run_id)["Contact"]["updated"] == 1
    assert _row(connected, "SELECT title FROM sf_contact WHERE sf_id = :i", i=contact["Id"])[0] == "Chief Same Second"
    email = contact["Email"].lower()
    title, matches = _row(connected, "SELECT title, salesforce_matches FROM contact WHERE email_normalized = :e", e=email)
    assert matches != 1 or title == "Chief Same Second"

    # And once stored, it is unchanged again.
    run_id, _ = sync(connected)
    assert _counts(connected, run_id)["Contact"]["updated"] == 0
