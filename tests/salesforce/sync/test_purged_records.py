"""Records deleted and purged from Salesforce's Recycle Bin between two syncs: queryAll never
shows them, so only the id-only reconciliation takes them out of the mirror. Against the
emulator over HTTP, which purges on demand (/_emulator/purge) as an admin emptying the bin."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import requests
from sqlalchemy import text, update
from sqlmodel import Session

from tests.salesforce.sync.conftest import FAST, sync
from tests.salesforce.sync.twoway_helpers import api
from webapp.clock import utcnow
from webapp.db import get_engine
from webapp.jobs import plan_scheduled_syncs
from webapp.models import SyncCursor, SyncRun
from webapp.salesforce.sync import ledger
from webapp.sync.execution import run_queued


def _rows(app, sql, **params):
    with get_engine(app).connect() as conn:
        return conn.execute(text(sql), params).all()


def _run(app, run_id) -> SyncRun:
    with Session(get_engine(app)) as s:
        return s.get(SyncRun, run_id)


def _delete_and_purge(emulator, sobject, record_id):
    api(emulator, "DELETE", f"sobjects/{sobject}/{record_id}")
    answer = requests.post(f"{emulator.url}/_emulator/purge", json={"ids": [record_id]}, timeout=10)
    assert answer.json() == {"purged": 1}


def _reconcile(app, **options):
    engine = get_engine(app)
    requested = ledger.request_run(engine, 1, "reconcile")
    outcome = run_queued(engine, app.extensions["vault"], app.extensions["cache"], requested.run_id,
                         client_options=FAST, **options)
    return requested.run_id, outcome


def _live_contacts(emulator):
    return [r for r in emulator.app.emulator.store.tables["Contact"].records
            if not r["IsDeleted"] and r["Email"] and sum(
                1 for o in emulator.app.emulator.store.tables["Contact"].records
                if (o["Email"] or "").lower() == r["Email"].lower() and not o["IsDeleted"]) == 1]


def test_a_record_purged_before_the_next_sync_leaves_the_mirror_at_reconciliation(connected, emulator):
    sync(connected)
    contact = _live_contacts(emulator)[0]
    email = contact["Email"].lower()
    assert _rows(connected, "SELECT salesforce_id FROM contact WHERE email_normalized = :e", e=email)[0][0] == contact["Id"]
    _delete_and_purge(emulator, "Contact", contact["Id"])

    # The next sync cannot see it: not in queryAll, so the mirror keeps it.
    run_id, outcome = sync(connected)
    assert outcome.status == "succeeded" and _run(connected, run_id).counts["Contact"]["deleted"] == 0
    assert not _rows(connected, "SELECT is_deleted FROM sf_contact WHERE sf_id = :i", i=contact["Id"])[0][0]

    run_id, outcome = _reconcile(connected)
    assert outcome.status == "succeeded", outcome.reason
    run = _run(connected, run_id)
    assert run.trigger == "reconcile" and run.counts["Contact"]["mode"] == "reconcile"
    assert run.counts["Contact"]["deleted"] == 1 and run.counts["Contact"]["purged"] == 1
    live = len([r for r in emulator.app.emulator.store.tables["Contact"].records if not r["IsDeleted"]])
    assert run.counts["Contact"]["reconciled"] == live
    assert _rows(connected, "SELECT is_deleted FROM sf_contact WHERE sf_id = :i", i=contact["Id"])[0][0]
    # As a normal delete does: the inbox contact is no longer linked to it.
    assert _rows(connected, "SELECT salesforce_id FROM contact WHERE email_normalized = :e", e=email)[0][0] is None
    assert _rows(connected, "SELECT count(*) FROM sf_contact WHERE NOT is_deleted")[0][0] == live
    # Ids only, a page per object (this org fits one page each).
    assert run.api_calls == 4


def test_a_purged_account_takes_its_contacts_and_opportunities_out_as_a_delete_does(connected, emulator):
    sync(connected)
    store = emulator.app.emulator.store
    account = next(a for a in store.tables["Account"].records if not a["IsDeleted"] and any(
        c["AccountId"] == a["Id"] and not c["IsDeleted"] for c in store.tables["Contact"].records) and any(
        o["AccountId"] == a["Id"] and not o["IsDeleted"] for o in store.tables["Opportunity"].records))
    children = [r["Id"] for t in ("Contact", "Opportunity") for r in store.tables[t].records
                if r["AccountId"] == account["Id"] and not r["IsDeleted"]]
    api(emulator, "DELETE", f"sobjects/Account/{account['Id']}")
    requests.post(f"{emulator.url}/_emulator/purge", json={}, timeout=10)  # the whole bin
    _, outcome = _reconcile(connected)
    assert outcome.status == "succeeded", outcome.reason
    assert _rows(connected, "SELECT is_deleted FROM sf_account WHERE sf_id = :i", i=account["Id"])[0][0]
    for table in ("sf_contact", "sf_opportunity"):
        left = _rows(connected, f"SELECT sf_id FROM {table} WHERE NOT is_deleted")
        assert not set(children) & {r[0] for r in left}


def test_a_reconciliation_cut_off_half_way_removes_nothing(start_emulator, admin_client):
    from tests.salesforce.conftest import connect_with_oauth

    emulator = start_emulator(contacts=450)
    connect_with_oauth(admin_client, emulator)
    app = admin_client.app
    sync(app)
    purged = _live_contacts(emulator)[-1]
    _delete_and_purge(emulator, "Contact", purged["Id"])
    live_before = _rows(app, "SELECT count(*) FROM sf_contact WHERE NOT is_deleted")[0][0]
    # Accounts fit one page; contacts take three of 200 ids, and the org refuses the second.
    emulator.app.emulator.set_faults(fail_after=emulator.app.emulator.api_used + 2)
    run_id, outcome = _reconcile(app, batch_size=200)
    assert outcome.status == "paused" and "REQUEST_LIMIT_EXCEEDED" in outcome.reason
    assert _run(app, run_id).counts["Account"]["reconciled"] > 0  # it had started
    assert _rows(app, "SELECT count(*) FROM sf_contact WHERE NOT is_deleted")[0][0] == live_before
    with get_engine(app).connect() as conn:
        stamp = conn.execute(text("SELECT last_reconciled_at FROM sync_cursor WHERE sobject = 'Contact'")).scalar()
    emulator.app.emulator.set_faults(fail_after=None)
    run_id, outcome = _reconcile(app, batch_size=200)
    assert outcome.status == "succeeded", outcome.reason
    assert _run(app, run_id).counts["Contact"]["deleted"] == 1
    assert _rows(app, "SELECT count(*) FROM sf_contact WHERE NOT is_deleted")[0][0] == live_before - 1
    with get_engine(app).connect() as conn:
        assert conn.execute(text("SELECT last_reconciled_at FROM sync_cursor WHERE sobject = 'Contact'")).scalar() != stamp


def test_the_recycle_bin_window_purges_and_an_old_last_sync_reconciles(connected, emulator):
    sync(connected)
    contact = _live_contacts(emulator)[0]
    api(emulator, "DELETE", f"sobjects/Contact/{contact['Id']}")
    # Salesforce's own purge: the emulator keeps deleted rows for --recycle-bin-days.
    assert requests.post(f"{emulator.url}/_emulator/recycle-bin", json={"days": 0}, timeout=10).status_code == 200
    with get_engine(connected).begin() as conn:
        conn.execute(update(SyncCursor.__table__).values(last_success_at=utcnow() - timedelta(days=16)))
    run_id, outcome = sync(connected)
    assert outcome.status == "succeeded"
    counts = _run(connected, run_id).counts["Contact"]
    assert counts["mode"] == "incremental" and counts["deleted"] == 1 and "purged in Salesforce: 1" in counts["note"]
    assert _rows(connected, "SELECT is_deleted FROM sf_contact WHERE sf_id = :i", i=contact["Id"])[0][0]


def test_the_leader_queues_a_reconciliation_weekly(connected, emulator, admin_client):
    engine = get_engine(connected)
    service = SimpleNamespace(engine=engine, may_act=lambda: True)
    sync(connected)
    page = admin_client.get("/settings/integrations/salesforce").get_data(as_text=True)
    assert 'id="sync-reconcile"' in page and "Last reconciled just now" in page and "Next " in page

    def queued():
        return _rows(connected, "SELECT trigger FROM sync_run WHERE status = 'queued'")

    with engine.begin() as conn:  # the daily run is not due: nothing but the weekly check could be queued
        conn.execute(text("UPDATE sync_run SET queued_at = :t"), {"t": utcnow()})
    plan_scheduled_syncs(service)
    assert queued() == []
    with engine.begin() as conn:
        conn.execute(update(SyncCursor.__table__).values(last_reconciled_at=utcnow() - timedelta(days=8)))
    plan_scheduled_syncs(service)
    assert queued() == [("reconcile",)]
    (run_id,) = ledger.queued_runs(engine)
    emulator.app.emulator.set_faults(unavailable=50)  # it does not finish: not queued again at once
    assert run_queued(engine, connected.extensions["vault"], None, run_id, client_options=FAST).status == "failed"
    plan_scheduled_syncs(service)
    assert queued() == []
    emulator.app.emulator.set_faults(unavailable=0)
    with engine.begin() as conn:
        conn.execute(text("UPDATE sync_run SET queued_at = :t WHERE trigger = 'reconcile'"),
                     {"t": utcnow() - timedelta(hours=7)})
    plan_scheduled_syncs(service)
    (run_id,) = ledger.queued_runs(engine)
    assert run_queued(engine, connected.extensions["vault"], None, run_id, client_options=FAST).status == "succeeded"
    plan_scheduled_syncs(service)
    assert queued() == []
    page = admin_client.get("/settings/integrations/salesforce").get_data(as_text=True)
    assert "Reconcile: records purged in Salesforce" in page
