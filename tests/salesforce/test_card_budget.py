"""A slow Salesforce never holds the server: card lookups answer within a budget, run a bounded
number at a time off the request threads, and fill the cache for the next request."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.salesforce.conftest import connect_with_oauth
from tests.served import gunicorn, server_env, signed_in
from webapp.integrations import salesforce_connection as connection
from webapp.integrations.live_lookups import Late, LiveLookups, Saturated
from webapp.models.mirror import SfAccount, SfContact

CARD = "/integrations/salesforce/card"


def _calls(emulator) -> int:
    """Calls a lookup makes; the describes of a first lookup are kept for a week, not counted."""
    return sum(n for name, n in emulator.app.emulator.calls.snapshot().items() if name != "sobject_describe")


def _settle(app, seconds=30):
    """Wait until the lookups in flight have finished (they run on their own threads)."""
    lookups = app.extensions["salesforce_lookups"]
    deadline = time.monotonic() + seconds
    while lookups.in_flight() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lookups.in_flight() == 0


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SALESFORCE_CARD_BUDGET": 0.3}


@pytest.fixture
def connected(admin_client, emulator):
    connect_with_oauth(admin_client, emulator)
    return admin_client


def _emails(emulator, n):
    contacts = [c for c in emulator.app.emulator.store.tables["Contact"].records if c.get("Email") and not c["IsDeleted"]]
    return [c["Email"] for c in contacts[:n]]


def test_a_slow_lookup_answers_within_the_budget_and_fills_the_cache_meanwhile(connected, emulator, app):
    [email] = _emails(emulator, 1)
    emulator.app.emulator.set_faults(latency_ms=1500)
    before = _calls(emulator)
    response = connected.htmx_get(f"{CARD}?email={email}")
    # Answered before Salesforce did: no call had completed when the answer came.
    assert _calls(emulator) == before
    assert response.headers["X-Salesforce-Card"] == "unavailable"
    wait = float(response.headers["X-Salesforce-Card-Retry-After"])
    assert 1.5 <= wait <= 4.5  # about three seconds, jittered
    body = response.get_data(as_text=True)
    assert f'hx-trigger="load delay:{int(wait * 1000)}ms"' in body and "attempt=1" in body
    assert "still answering" in body
    _settle(app)
    spent = _calls(emulator)
    again = connected.htmx_get(f"{CARD}?email={email}&attempt=1")
    assert again.headers["X-Salesforce-Card"] == "shown"
    assert "X-Salesforce-Card-Retry-After" not in again.headers
    assert _calls(emulator) == spent  # from the cache the lookup filled


def test_while_salesforce_is_slow_the_synced_copy_is_shown_and_said_so(connected, emulator, app, db):
    synced = datetime.now(UTC) - timedelta(hours=2)
    with db() as s:
        s.add_all([
            SfAccount(workspace_id=1, sf_id="001SLOW0000000AAA", name="Slow Account", system_modstamp=synced, synced_at=synced),
            SfContact(workspace_id=1, sf_id="003SLOW0000000AAA", account_id="001SLOW0000000AAA", email="slow@mirror.test",
                      email_normalized="slow@mirror.test", name="Slow Person", system_modstamp=synced, synced_at=synced),
        ])
    emulator.app.emulator.set_faults(latency_ms=1500)
    response = connected.htmx_get(f"{CARD}?email=slow@mirror.test")
    body = response.get_data(as_text=True)
    assert response.headers["X-Salesforce-Card"] == "shown"
    assert "Slow Account" in body
    assert "Salesforce is slow to answer; showing data synced 2 hours ago" in body
    assert 'hx-trigger="load delay:' in body
    _settle(app)
    # Salesforce's answer (no such contact there) replaces the copy once it has arrived.
    assert connected.htmx_get(f"{CARD}?email=slow@mirror.test&attempt=1").headers["X-Salesforce-Card"] == "no-match"


def test_the_browser_stops_asking_after_three_tries(connected, emulator):
    [email] = _emails(emulator, 1)
    emulator.app.emulator.set_faults(latency_ms=1500)
    response = connected.htmx_get(f"{CARD}?email={email}&attempt=3")
    body = response.get_data(as_text=True)
    assert response.headers["X-Salesforce-Card"] == "unavailable"
    assert "X-Salesforce-Card-Retry-After" not in response.headers
    assert "hx-trigger" not in body and "slow to answer" in body and "Retry" in body


def test_live_lookups_are_bounded_per_process(connected, emulator, app):
    """One lookup slot, one queue place, nobody waits: a third email gets no lookup at all."""
    app.extensions["salesforce_lookups"] = LiveLookups(workers=1, queued=1, waiters=0)
    emails = [f"nobody-{i}@bounded.test" for i in range(5)]
    emulator.app.emulator.set_faults(latency_ms=500)
    before = _calls(emulator)
    states = [connected.htmx_get(f"{CARD}?email={e}").headers["X-Salesforce-Card"] for e in emails]
    assert states == ["unavailable"] * 5
    _settle(app)
    assert _calls(emulator) - before == 4  # two lookups of two calls each (no contact, no lead)
    # The two that ran are cached; the three refused are looked up when asked again.
    emulator.app.emulator.set_faults(latency_ms=0)
    app.extensions["salesforce_lookups"] = LiveLookups(workers=2)
    assert [connected.htmx_get(f"{CARD}?email={e}").headers["X-Salesforce-Card"] for e in emails] == ["no-match"] * 5
    assert _calls(emulator) - before == 10


def test_live_lookups_join_the_flight_for_the_same_key():
    lookups = LiveLookups(workers=1, queued=0, waiters=1)
    release = threading.Event()
    first = lookups.submit("k", lambda: release.wait(5) and "done")
    assert lookups.submit("k", lambda: "other") is first
    with pytest.raises(Saturated):
        lookups.submit("other-key", lambda: "x")
    with pytest.raises(Late):
        lookups.wait(first, 0.05)
    release.set()
    assert lookups.wait(first, 5) == "done"
    lookups.shutdown()


def test_a_slow_salesforce_does_not_starve_the_server(app, app_config, db, make_user, start_emulator, tmp_path):
    """Gunicorn as in production: sixteen card misses hang on Salesforce while pages, /healthz
    and other partials are answered before any Salesforce call has even completed."""
    emulator = start_emulator()
    _, workspace_id = make_user("admin@acme.test", role="admin")
    with db() as s:
        connection.save_setup(s, app.extensions["vault"], workspace_id, connection.SetupInput(
            mode="client-credentials", environment="custom", url=emulator.url,
            client_id=emulator.app.emulator.options.client_id, client_secret=emulator.app.emulator.options.client_secret,
        ))
    env = server_env(database_url=app_config["DATABASE_URL"], secret_key=app_config["SECRET_KEY"],
                     instance_path=tmp_path / "served")
    with gunicorn(env) as base:
        sessions = [signed_in(base, "admin@acme.test", "correct-horse-battery") for _ in range(17)]
        emulator.app.emulator.set_faults(latency_ms=6000)
        before = _calls(emulator)
        answers = []

        def card(s, i):
            answers.append(s.get(f"{base}{CARD}?email=hanging-{i}@slow.test", headers={"HX-Request": "true"}, timeout=60))

        threads = [threading.Thread(target=card, args=(s, i)) for i, s in enumerate(sessions[:16])]
        for t in threads:
            t.start()
        time.sleep(0.5)  # the card requests are in the server now
        probe = sessions[16]
        for path, headers in (("/healthz", {}), ("/login", {}), ("/inbox", {"HX-Request": "true"}), ("/inbox", {})):
            answer = probe.get(f"{base}{path}", headers=headers, timeout=60)
            assert answer.status_code in (200, 302), path
            assert _calls(emulator) == before, f"{path} waited for Salesforce"
        for t in threads:
            t.join(60)
        # Every card answered, none of them waited for Salesforce's six seconds either.
        assert [a.headers["X-Salesforce-Card"] for a in answers] == ["unavailable"] * 16
        assert _calls(emulator) == before


def test_the_field_list_waits_for_a_slow_describe_only_within_the_budget(connected, emulator, app):
    fields = "/settings/integrations/salesforce/sync/fields"
    emulator.app.emulator.set_faults(latency_ms=1500)
    before = _calls(emulator)
    body = connected.htmx_get(fields).get_data(as_text=True)
    assert _calls(emulator) == before
    assert "Salesforce is slow to answer; try again in a moment." in body and "Try again" in body
    _settle(app)
    emulator.app.emulator.set_faults(latency_ms=0)
    body = connected.htmx_get(fields).get_data(as_text=True)
    assert 'name="Account"' in body and "Save fields" in body  # from the describes the first click fetched


def test_the_come_back_delays_are_jittered_so_many_cards_do_not_return_at_once():
    from webapp.integrations import salesforce_card as card

    pending = card.CardResult(state="unavailable", pending=True)
    for attempt, base in enumerate((3, 6, 12)):
        waits = {card.retry_in(pending, attempt) for _ in range(200)}
        assert len(waits) > 5 and all(0.5 * base - 0.05 <= w <= 1.5 * base + 0.05 for w in waits)
    assert card.retry_in(pending, 3) is None
    busy = card.CardResult(state="unavailable", pending=True, busy=True)
    assert all(3 - 0.05 <= card.retry_in(busy, 0) <= 9 + 0.05 for _ in range(100))  # no lookup started: later
    assert card.retry_in(card.CardResult(state="shown"), 0) is None
