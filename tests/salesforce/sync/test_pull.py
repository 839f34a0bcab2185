"""The pull sync against the emulator over HTTP: mirror, inbox contacts, increments, deletes,
budget, faults, record errors and the card cache."""

from __future__ import annotations

from datetime import timedelta

import requests
from sqlalchemy import select, text, update
from sqlmodel import Session

from tests.salesforce.sync.conftest import sync
from webapp.clock import utcnow
from webapp.db import get_engine
from webapp.integrations import card_cache
from webapp.salesforce.client import RetryPolicy
from webapp.salesforce.sync import ledger
from webapp.sync.execution import run_queued
from webapp.models import (
    Contact, SalesforceConnection, SfAccount, SfContact, SfOpportunity, SyncCursor, SyncRecordError, SyncRun,
)


def _rows(app, sql, **params):
    with get_engine(app).connect() as conn:
        return conn.execute(text(sql), params).all()


def _run(app, run_id) -> SyncRun:
    with Session(get_engine(app)) as s:
        return s.get(SyncRun, run_id)


def _api(emulator, method, path, **kw):
    """Change the org through its REST API, as a Salesforce user would."""
    token = requests.post(f"{emulator.url}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "emulator-client-id", "client_secret": "emulator-client-secret"}).json()
    response = requests.request(method, f"{emulator.url}/services/data/v62.0/{path}",
                                headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10, **kw)
    assert response.status_code < 300, response.text
    return response


def test_first_sync_fills_the_mirror_and_the_inbox(connected, emulator):
    run_id, outcome = sync(connected)
    assert outcome.status == "succeeded"
    store = emulator.app.emulator.store
    live = [r for r in store.tables["Contact"].records if not r["IsDeleted"]]
    assert _rows(connected, "SELECT count(*) FROM sf_contact WHERE NOT is_deleted")[0][0] == len(live)
    run = _run(connected, run_id)
    assert run.counts["Contact"]["mode"] == "full" and run.counts["Contact"]["created"] == len(live)
    # A query per object, and once the describe of the four whose fields security may hide.
    assert run.api_calls == 5 + 4 and run.org_limit == 15000 and run.org_used >= 5

    # Typed columns: exact money, the website's domain, stage flags, owner names.
    opp = next(r for r in store.tables["Opportunity"].records if not r["IsDeleted"] and r["Amount"])
    amount, currency = _rows(connected, "SELECT amount_minor, currency FROM sf_opportunity WHERE sf_id = :i", i=opp["Id"])[0]
    assert amount == round(opp["Amount"] * 100) and currency == "USD"
    assert _rows(connected, "SELECT count(*) FROM sf_opportunity_stage WHERE is_won")[0][0] == 1
    assert _rows(connected, "SELECT count(*) FROM sf_user")[0][0] >= 1
    assert all(d and not d.startswith("www.") for (d,) in _rows(connected, "SELECT website_domain FROM sf_account WHERE website IS NOT NULL"))

    # Inbox: one contact per address, linked by Id, case-insensitive; shared addresses flagged.
    with Session(get_engine(connected)) as s:
        contacts = s.execute(select(Contact)).scalars().all()
    by_email = {c.email_normalized: c for c in contacts}
    emails = {}
    for r in live:
        if r["Email"]:
            emails.setdefault(r["Email"].lower(), []).append(r)
    assert set(by_email) == set(emails)
    shared = [e for e, rs in emails.items() if len(rs) > 1]
    assert shared, "the emulator org has an address shared by two contacts"
    for email in shared:
        assert by_email[email].salesforce_matches == len(emails[email]) and by_email[email].salesforce_id is None
    single = next(rs[0] for e, rs in emails.items() if len(rs) == 1 and rs[0]["AccountId"])
    contact = by_email[single["Email"].lower()]
    account = store.get("Account", single["AccountId"])
    assert (contact.salesforce_id, contact.name, contact.company) == (single["Id"], single["Name"], account["Name"])


def test_an_existing_inbox_contact_is_matched_by_email_case_insensitively(connected, emulator, db):
    record = next(r for r in emulator.app.emulator.store.tables["Contact"].records if r["Email"] and not r["IsDeleted"])
    with db() as s:
        s.add(Contact(workspace_id=1, name="Kept", email=record["Email"].upper(), email_normalized=record["Email"].lower(), phone="+1 555"))
    sync(connected)
    rows = _rows(connected, "SELECT name, phone, salesforce_id FROM contact WHERE email_normalized = :e", e=record["Email"].lower())
    assert len(rows) == 1 and rows[0][2] == record["Id"] and rows[0][0] == record["Name"]
    assert rows[0][1] == (record["Phone"] or "+1 555")  # a blank in Salesforce never erases ours


def test_incremental_sync_takes_changes_and_deletes_only(connected, emulator, app):
    cache = app.extensions["cache"]
    sync(connected)
    store = emulator.app.emulator.store
    contact = next(r for r in store.tables["Contact"].records if r["Email"] and r["AccountId"] and not r["IsDeleted"])
    gone = next(r for r in store.tables["Contact"].records if r["Email"] and not r["IsDeleted"] and r["Id"] != contact["Id"])
    cache.set(card_cache.card_key(1, contact["Email"].lower()), {"stale": True})
    cache.set(card_cache.card_key(1, "new.person@example.org"), {"stale": True})
    _api(emulator, "PATCH", f"sobjects/Contact/{contact['Id']}", json={"Title": "Chief Sync Officer"})
    _api(emulator, "DELETE", f"sobjects/Contact/{gone['Id']}")
    _api(emulator, "POST", "sobjects/Contact/", json={"LastName": "Person", "FirstName": "New", "Email": "New.Person@example.org"})

    run_id, outcome = sync(connected)
    counts = _run(connected, run_id).counts["Contact"]
    assert counts["mode"] == "incremental"
    assert (counts["created"], counts["updated"], counts["deleted"]) == (1, 1, 1)
    assert _rows(connected, "SELECT title FROM contact WHERE salesforce_id = :i", i=contact["Id"])[0][0] == "Chief Sync Officer"
    assert _rows(connected, "SELECT is_deleted FROM sf_contact WHERE sf_id = :i", i=gone["Id"])[0][0]
    assert _rows(connected, "SELECT salesforce_id FROM contact WHERE email_normalized = :e", e=gone["Email"].lower())[0][0] is None
    assert _rows(connected, "SELECT count(*) FROM contact WHERE email_normalized = 'new.person@example.org'")[0][0] == 1
    assert cache.get(card_cache.card_key(1, contact["Email"].lower())) is None  # the card was dropped
    assert cache.get(card_cache.card_key(1, "new.person@example.org")) is None  # misses too


def test_a_sync_with_nothing_changed_spends_five_calls(connected, emulator):
    sync(connected)
    run_id, outcome = sync(connected)
    run = _run(connected, run_id)
    assert outcome.status == "succeeded" and run.api_calls <= 5
    assert sum(c.get("created", 0) + c.get("updated", 0) + c.get("deleted", 0) for c in run.counts.values()) == 0


def test_an_old_last_sync_reconciles_ids_and_finds_purged_records(connected, emulator):
    sync(connected)
    table = emulator.app.emulator.store.tables["Account"]
    purged = next(r for r in table.records if not r["IsDeleted"])
    table.records.remove(purged)  # gone from the Recycle Bin too: only an id check notices
    table.all_by_stamp.discard(purged)
    table.live_by_stamp.discard(purged)
    del table.by_id[purged["Id"]]
    with get_engine(connected).begin() as conn:
        conn.execute(update(SyncCursor.__table__).values(last_success_at=utcnow() - timedelta(days=20)))
    run_id, _ = sync(connected)
    counts = _run(connected, run_id).counts["Account"]
    assert counts["mode"] == "incremental" and counts["deleted"] == 1 and counts["created"] == 0
    assert counts["reconciled"] == len([r for r in table.records if not r["IsDeleted"]])
    assert _rows(connected, "SELECT is_deleted FROM sf_account WHERE sf_id = :i", i=purged["Id"])[0][0]


def test_the_budget_pauses_a_run_and_the_next_resumes(connected, emulator):
    with get_engine(connected).begin() as conn:
        conn.execute(text("INSERT INTO sync_settings (workspace_id, frequency, daily_time, interval_hours, budget_percent, extra_fields, updated_at) "
                          "VALUES (1, 'daily', '03:00', 4, 5, '{}', CURRENT_TIMESTAMP)"))
    emulator.app.emulator.api_used = 15000 * 5 // 100 - 3  # three calls left inside 5%
    run_id, outcome = sync(connected)
    run = _run(connected, run_id)
    assert outcome.status == "paused" and run.reason.startswith("API budget")
    assert run.org_used <= 15000 * 5 // 100
    # A day later the rolling 24-hour usage has dropped; the stored figure is old by then.
    emulator.app.emulator.api_used = 0
    with get_engine(connected).begin() as conn:
        conn.execute(update(SalesforceConnection.__table__).values(api_usage_at=utcnow() - timedelta(hours=1)))
    run_id, outcome = sync(connected)
    assert outcome.status == "succeeded"
    assert _run(connected, run_id).counts["OpportunityStage"]["created"] == 0  # resumed, not redone


def test_request_limit_exceeded_pauses_and_the_next_run_resumes(connected, emulator):
    emulator.app.emulator.set_faults(fail_after=emulator.app.emulator.api_used + 3)
    run_id, outcome = sync(connected)
    assert outcome.status == "paused" and "REQUEST_LIMIT_EXCEEDED" in _run(connected, run_id).reason
    emulator.app.emulator.set_faults(fail_after=None)
    _, outcome = sync(connected)
    assert outcome.status == "succeeded"
    assert _rows(connected, "SELECT count(*) FROM sf_opportunity_history")[0][0] > 0


def test_expired_session_refreshes_and_revoked_token_ends_the_run(connected, emulator):
    emulator.app.emulator.expire_sessions()
    _, outcome = sync(connected)
    assert outcome.status == "succeeded"
    emulator.app.emulator.expire_sessions()
    emulator.app.emulator.revoke_refresh_tokens()
    run_id, outcome = sync(connected)
    assert outcome.status == "failed" and _run(connected, run_id).reason.startswith("Reconnect needed")
    with Session(get_engine(connected)) as s:
        assert s.execute(select(SalesforceConnection.state)).scalar_one() == "reconnect"
    _, outcome = sync(connected)
    assert outcome.status == "failed"


def test_a_503_storm_fails_the_run_and_the_next_resumes(connected, emulator):
    emulator.app.emulator.set_faults(unavailable=50)
    run_id, outcome = sync(connected)
    assert outcome.status == "failed" and "unavailable" in _run(connected, run_id).reason.lower()
    emulator.app.emulator.set_faults(unavailable=0)
    assert sync(connected)[1].status == "succeeded"


def test_a_record_that_cannot_be_taken_is_logged_and_retried(connected, emulator, admin_client):
    opp = next(r for r in emulator.app.emulator.store.tables["Opportunity"].records if not r["IsDeleted"])
    opp["Amount"] = 10.005  # more decimals than USD has: refused, never rounded silently
    run_id, outcome = sync(connected)
    assert outcome.status == "succeeded" and "1 record" in _run(connected, run_id).reason
    with Session(get_engine(connected)) as s:
        error = s.execute(select(SyncRecordError)).scalar_one()
    assert error.sf_id == opp["Id"] and "decimals" in error.message
    page = admin_client.get("/settings/integrations/salesforce").get_data(as_text=True)
    assert opp["Id"] in page and "Retry all" in page

    opp["Amount"] = 10.5
    response = admin_client.post(f"/settings/integrations/salesforce/sync/errors/{error.id}/retry")
    assert response.status_code == 302
    from webapp.salesforce.sync import ledger
    from webapp.sync.execution import run_queued
    from tests.salesforce.sync.conftest import FAST

    engine = get_engine(connected)
    (queued,) = ledger.queued_runs(engine)
    assert _rows(connected, "SELECT trigger, retry_error_id FROM sync_run WHERE id = :i", i=queued) == [("errors", error.id)]
    assert run_queued(engine, connected.extensions["vault"], None, queued, client_options=FAST).status == "succeeded"
    assert "Retry of one record" in admin_client.get("/settings/integrations/salesforce").get_data(as_text=True)
    assert _rows(connected, "SELECT count(*) FROM sync_record_error")[0][0] == 0
    assert _rows(connected, "SELECT amount_minor FROM sf_opportunity WHERE sf_id = :i", i=opp["Id"])[0][0] == 1050
    assert _run(connected, queued).api_calls == 1


def test_multi_currency_amounts_keep_their_currency(start_emulator, admin_client):
    from tests.salesforce.conftest import connect_with_oauth

    emulator = start_emulator(multi_currency=True)
    connect_with_oauth(admin_client, emulator)
    sync(admin_client.app)
    rows = _rows(admin_client.app, "SELECT sf_id, amount_minor, currency FROM sf_opportunity WHERE amount_minor IS NOT NULL")
    store = emulator.app.emulator.store
    for sf_id, minor, currency in rows:
        record = store.get("Opportunity", sf_id)
        assert currency == record["CurrencyIsoCode"]
        assert minor == round(record["Amount"] * (1 if currency == "JPY" else 100))


def test_a_first_pass_whose_memory_of_ids_says_yes_to_everything_ends_the_same(connected, emulator, monkeypatch):
    """A first pass remembers what it wrote in a fixed amount of memory, which may say "seen"
    for a value it never saw; that only sends the writer to the database. Here it says so for
    every id and address, on pages of 200, and the mirror and the inbox come out as always."""
    from webapp.salesforce.sync import writer

    monkeypatch.setattr(writer.Seen, "__contains__", lambda self, value: True)
    engine = get_engine(connected)
    requested = ledger.request_run(engine, 1, "manual")
    outcome = run_queued(engine, connected.extensions["vault"], connected.extensions["cache"], requested.run_id,
                         client_options={"retry": RetryPolicy(attempts=4, base_delay=0, max_delay=0), "sleep": lambda s: None},
                         batch_size=200)
    assert outcome.status == "succeeded"
    store = emulator.app.emulator.store
    live = [r for r in store.tables["Contact"].records if not r["IsDeleted"]]
    assert _rows(connected, "SELECT count(*) FROM sf_contact WHERE NOT is_deleted")[0][0] == len(live)
    assert _run(connected, requested.run_id).counts["Contact"]["created"] == len(live)
    emails: dict[str, list] = {}
    for r in live:
        if r["Email"]:
            emails.setdefault(r["Email"].lower(), []).append(r)
    with Session(get_engine(connected)) as s:
        by_email = {c.email_normalized: c for c in s.execute(select(Contact)).scalars()}
    assert set(by_email) == set(emails)
    for email, records in emails.items():
        contact = by_email[email]
        if len(records) == 1:
            assert (contact.salesforce_id, contact.salesforce_matches) == (records[0]["Id"], 1), email
        else:
            assert (contact.salesforce_id, contact.salesforce_matches) == (None, len(records)), email


def test_seen_never_forgets_and_stays_the_same_size():
    from webapp.salesforce.sync.writer import Seen

    seen = Seen()
    size = len(seen._bits)
    values = [f"003{i:015d}" for i in range(50_000)]
    seen.update(values[:25_000])
    for value in values[25_000:]:
        seen.add(value)
    assert all(v in seen for v in values)
    assert len(seen._bits) == size
    others = sum(f"001{i:015d}" in seen for i in range(20_000))
    assert others < 200  # about 0.15 % at 50,000 values


def test_a_full_pass_marks_purged_records_a_chunk_at_a_time(connected, emulator, monkeypatch):
    from webapp.salesforce.sync import writer

    sync(connected)
    table = emulator.app.emulator.store.tables["Account"]
    purged = [r for r in table.records if not r["IsDeleted"]][:7]
    for record in purged:  # gone from the Recycle Bin too: only a full pass (or an id check) notices
        table.records.remove(record)
        table.all_by_stamp.discard(record)
        table.live_by_stamp.discard(record)
        del table.by_id[record["Id"]]
    with get_engine(connected).begin() as conn:
        conn.execute(update(SyncCursor.__table__).values(full_requested=True))
    monkeypatch.setattr(writer, "CHUNK", 3)
    run_id, _ = sync(connected)
    counts = _run(connected, run_id).counts["Account"]
    assert counts["mode"] == "full" and counts["deleted"] == 7
    ids = ", ".join(f"'{r['Id']}'" for r in purged)
    assert _rows(connected, f"SELECT count(*) FROM sf_account WHERE is_deleted AND sf_id IN ({ids})")[0][0] == 7


def test_the_next_objects_query_goes_out_while_the_last_page_is_written(connected, monkeypatch):
    """Fetching is pipelined across objects: the contacts query is sent before the accounts'
    last page is written (here, while the writer holds that page until it sees the query)."""
    import threading

    from webapp.salesforce.client import SalesforceClient
    from webapp.salesforce.sync import writer

    contacts_asked = threading.Event()
    order: list[str] = []
    real_request, real_write = SalesforceClient.request, writer.PageWriter.write

    def request(self, method, path, *args, **kwargs):
        if " FROM Contact " in (kwargs.get("params") or {}).get("q", ""):
            order.append("query Contact")
            contacts_asked.set()
        return real_request(self, method, path, *args, **kwargs)

    def write(self, conn, spec, records, *args, **kwargs):
        if spec.name == "Account":
            contacts_asked.wait(30)  # only a deadline for the failure: the query is already out
            order.append("write Account")
        return real_write(self, conn, spec, records, *args, **kwargs)

    monkeypatch.setattr(SalesforceClient, "request", request)
    monkeypatch.setattr(writer.PageWriter, "write", write)
    _, outcome = sync(connected)
    assert outcome.status == "succeeded"
    assert order[:2] == ["query Contact", "write Account"], order

