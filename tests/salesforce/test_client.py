"""The API client against the emulator: refresh, rotation, retries, limits, typed errors."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from tests.salesforce.conftest import connect_with_oauth
from webapp.clock import utcnow
from webapp.db import get_engine
from webapp.integrations import salesforce_connection as connection
from webapp.models import SalesforceConnection
from webapp.salesforce.client import RetryPolicy
from webapp.salesforce.errors import BadQuery, NotFound, RateLimited, ReconnectNeeded, RequestFailed, Unavailable

FAST = RetryPolicy(attempts=4, base_delay=0, max_delay=0)


@pytest.fixture
def connected(admin_client, emulator):
    connect_with_oauth(admin_client, emulator)
    return admin_client.app


def _client(app, **options):
    return connection.client_for(
        get_engine(app), app.extensions["vault"], 1, retry=options.pop("retry", FAST), sleep=lambda s: None, **options
    )


def _conn(app) -> SalesforceConnection:
    from sqlmodel import Session

    with Session(get_engine(app)) as s:
        return s.exec(select(SalesforceConnection)).one()


def test_query_streams_every_page(connected, emulator):
    client = _client(connected)
    records = list(client.query("SELECT Id, Email FROM Contact", batch_size=200))
    expected = client.count("SELECT COUNT() FROM Contact")
    assert len(records) == expected > 0
    assert emulator.app.emulator.calls["query_more"] == 0  # 80 contacts fit one page of 200
    pages = list(client.query_pages("SELECT Id FROM Contact", batch_size=200))
    assert len(pages) == 1 and "nextRecordsUrl" not in pages[0]


def test_query_all_sees_soft_deleted_records(connected):
    client = _client(connected)
    live = {r["Id"] for r in client.query("SELECT Id FROM Contact")}
    every = {r["Id"]: r["IsDeleted"] for r in client.query_all("SELECT Id, IsDeleted FROM Contact")}
    assert live < set(every) and any(every.values())


def test_expired_session_is_refreshed_once_and_the_call_retried(connected, emulator):
    client = _client(connected)
    emulator.app.emulator.expire_sessions()
    before = emulator.app.emulator.calls["token"]
    assert client.count("SELECT COUNT() FROM Account") > 0
    assert emulator.app.emulator.calls["token"] == before + 1
    assert _conn(connected).last_refresh_at is not None


def test_token_is_renewed_ahead_of_the_session_lifetime(connected, emulator):
    client = _client(connected)
    client.auth.clock = lambda: utcnow() + timedelta(minutes=115)  # 120-minute sessions
    before = emulator.app.emulator.calls["token"]
    client.count("SELECT COUNT() FROM Account")
    assert emulator.app.emulator.calls["token"] == before + 1
    assert client.auth.refreshes == 1


def test_revoked_refresh_token_means_reconnect_everywhere(connected, emulator, admin_client):
    emulator.app.emulator.revoke_refresh_tokens()
    emulator.app.emulator.expire_sessions()
    with pytest.raises(ReconnectNeeded):
        _client(connected).count("SELECT COUNT() FROM Account")
    conn = _conn(connected)
    assert conn.state == "reconnect" and "expired access/refresh token" in conn.last_error
    with pytest.raises(ReconnectNeeded):
        _client(connected)  # stands down until an admin reconnects
    page = admin_client.get("/inbox").get_data(as_text=True)
    assert 'id="salesforce-banner"' in page
    settings = admin_client.get("/settings/integrations/salesforce").get_data(as_text=True)
    assert "Reconnect</button>" in settings and "Reconnect needed" in settings
    # Reconnecting clears it.
    connect_with_oauth(admin_client, emulator)
    assert _conn(connected).state == "connected"
    assert 'id="salesforce-banner"' not in admin_client.get("/inbox").get_data(as_text=True)


def test_a_401_right_after_a_refresh_marks_the_connection_everywhere(connected, emulator, admin_client):
    emulator.app.emulator.set_faults(refuse_sessions=2)  # the call, then the retry with a fresh token
    with pytest.raises(ReconnectNeeded):
        _client(connected).count("SELECT COUNT() FROM Account")
    conn = _conn(connected)
    assert conn.state == "reconnect" and "even after a refresh" in conn.last_error
    assert 'id="salesforce-banner"' in admin_client.get("/inbox").get_data(as_text=True)
    assert "Reconnect needed" in admin_client.get("/settings/integrations/salesforce").get_data(as_text=True)


def test_members_see_no_banner(connected, emulator, make_user):
    emulator.app.emulator.revoke_refresh_tokens()
    emulator.app.emulator.expire_sessions()
    with pytest.raises(ReconnectNeeded):
        _client(connected).count("SELECT COUNT() FROM Account")
    make_user("m@acme.test", role="member")
    from tests.conftest import Client

    member = Client(connected)
    member.login("m@acme.test", "correct-horse-battery")
    assert 'id="salesforce-banner"' not in member.get("/inbox").get_data(as_text=True)


def test_rotated_refresh_token_is_persisted(admin_client, start_emulator):
    emulator = start_emulator(rotate_refresh_tokens=True)
    connect_with_oauth(admin_client, emulator)
    app = admin_client.app
    vault = app.extensions["vault"]
    first = vault.decrypt(_conn(app).refresh_token_enc)
    emulator.app.emulator.expire_sessions()
    _client(app).count("SELECT COUNT() FROM Account")
    second = vault.decrypt(_conn(app).refresh_token_enc)
    assert second != first
    emulator.app.emulator.expire_sessions()
    _client(app).count("SELECT COUNT() FROM Account")  # works with the rotated one
    assert _conn(app).state == "connected"


def test_concurrent_threads_make_one_refresh(connected, emulator):
    emulator.app.emulator.expire_sessions()
    before = emulator.app.emulator.calls["token"]
    clients = [_client(connected) for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    failures = []

    def work(client):
        barrier.wait()
        try:
            client.count("SELECT COUNT() FROM Account")
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failures == []
    assert emulator.app.emulator.calls["token"] == before + 1


def test_503_burst_is_retried(connected, emulator):
    client = _client(connected)
    emulator.app.emulator.set_faults(unavailable=2)
    assert client.count("SELECT COUNT() FROM Account") > 0
    emulator.app.emulator.set_faults(unavailable=10)
    with pytest.raises(Unavailable, match="unavailable"):
        client.count("SELECT COUNT() FROM Account")


def test_html_edge_page_is_retried_then_reported(connected, emulator):
    client = _client(connected)
    emulator.app.emulator.set_faults(edge_502=1)
    assert client.count("SELECT COUNT() FROM Account") > 0
    emulator.app.emulator.set_faults(edge_502=10)
    with pytest.raises(Unavailable):
        client.count("SELECT COUNT() FROM Account")


def test_row_lock_on_a_write_is_retried(connected, emulator):
    client = _client(connected)
    account = next(client.query("SELECT Id FROM Account LIMIT 1"))
    emulator.app.emulator.set_faults(lock_rows=2)
    client.update("Account", account["Id"], {"Description": "updated through a lock"})
    assert client.get("Account", account["Id"], ["Description"])["Description"] == "updated through a lock"


def test_limit_exceeded_is_never_retried(connected, emulator):
    client = _client(connected)
    used = emulator.app.emulator.api_used
    emulator.app.emulator.set_faults(fail_after=used)
    calls = client.calls
    with pytest.raises(RateLimited, match="API limit"):
        client.count("SELECT COUNT() FROM Account")
    assert client.calls == calls + 1


def test_api_usage_is_recorded_on_the_connection(connected, emulator):
    client = _client(connected)
    client.token_store._usage_written = 0
    client.count("SELECT COUNT() FROM Account")
    conn = _conn(connected)
    assert conn.api_limit == 15000 and conn.api_used == client.usage.used > 0


def test_timeouts_end_in_unavailable(connected, emulator):
    client = _client(connected, timeout=(1, 0.2), retry=RetryPolicy(attempts=2, base_delay=0, max_delay=0))
    emulator.app.emulator.set_faults(latency_ms=600)
    with pytest.raises(Unavailable, match="did not answer"):
        client.count("SELECT COUNT() FROM Account")
    emulator.app.emulator.set_faults(latency_ms=0)


def test_typed_errors(connected):
    client = _client(connected)
    with pytest.raises(BadQuery) as bad:
        client.count("SELECT COUNT() FROM Contact WHERE Nope__c = 1")
    assert bad.value.code == "INVALID_FIELD"
    with pytest.raises(BadQuery):
        list(client.query("SELEC Id FROM Contact"))
    with pytest.raises(NotFound):
        client.get("Contact", "003000000000000AAA")
    with pytest.raises(RequestFailed) as missing:
        client.create("Opportunity", {"Name": "No stage"})
    assert missing.value.code == "REQUIRED_FIELD_MISSING"


def test_sobjects_and_collections_round_trip(connected):
    client = _client(connected)
    account_id = client.create("Account", {"Name": "Round Trip Ltd"})
    client.update("Account", account_id, {"Industry": "Energy"})
    assert client.get("Account", account_id, ["Name", "Industry"])["Industry"] == "Energy"
    opp_id, created = client.upsert(
        "Opportunity", "Inbox_Deal_Id__c", "deal-1", {"Name": "Deal 1", "StageName": "Prospecting", "CloseDate": "2027-01-31", "AccountId": account_id}
    )
    assert created and opp_id
    again, created = client.upsert("Opportunity", "Inbox_Deal_Id__c", "deal-1", {"Amount": 1200})
    assert (again, created) == (opp_id, False)
    results = client.collection(
        "POST",
        [{"attributes": {"type": "Contact"}, "LastName": f"Bulk {i}", "AccountId": account_id} for i in range(250)],
    )
    assert len(results) == 250 and all(r["success"] for r in results)
    deleted = client.delete_many([r["id"] for r in results])
    assert len(deleted) == 250 and all(r["success"] for r in deleted)
    client.delete("Account", account_id)
    described = client.describe("Opportunity")
    assert any(f["name"] == "StageName" for f in described["fields"])
    assert client.describe("Opportunity") is described  # cached
    assert client.limits()["DailyApiRequests"]["Max"] == 15000
