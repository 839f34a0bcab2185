"""A sync killed right after its run is recorded as succeeded, before the analytics facts were
refreshed: the facts are behind the mirror, and the next run (even one that changes nothing)
or the scheduler's leader when it starts brings them up to date (SQLite and Postgres alike)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from tests.salesforce.conftest import connect_with_oauth
from tests.salesforce.sync.conftest import sync
from webapp.analytics.facts import refresh_facts
from webapp.db import get_engine, session_scope
from webapp.models import Contact, Conversation, Message, SyncRun, SyncSettings
from webapp.scheduler import SchedulerService, lock_for

CHILD = Path(__file__).with_name("child_sync.py")
ROOT = Path(__file__).resolve().parents[3]
THREADS = 12
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _mail_from_salesforce_contacts(app, store) -> dict[str, str]:
    """A thread from each of some contacts with an account and an address of their own;
    returns email -> the account its messages belong to."""
    live = [r for r in store.tables["Contact"].records if not r["IsDeleted"] and r["Email"]]
    counts: dict[str, int] = {}
    for r in live:
        counts[r["Email"].lower()] = counts.get(r["Email"].lower(), 0) + 1
    chosen = [r for r in live if r["AccountId"] and counts[r["Email"].lower()] == 1][:THREADS]
    assert len(chosen) == THREADS
    with session_scope(get_engine(app)) as s:
        for i, r in enumerate(chosen):
            email = r["Email"].lower()
            contact = Contact(workspace_id=1, name=r["Name"], email=email, email_normalized=email)
            s.add(contact)
            s.flush()
            conv = Conversation(workspace_id=1, contact_id=contact.id, subject=f"Question {i}")
            s.add(conv)
            s.flush()
            s.add(Message(workspace_id=1, conversation_id=conv.id, direction="in", from_address=email,
                          to_addresses="support@acme.test", message_id=f"<q{i}@example.org>", sent_at=T0))
            s.add(Message(workspace_id=1, conversation_id=conv.id, direction="out", from_address="support@acme.test",
                          to_addresses=email, message_id=f"<a{i}@example.org>",
                          sent_at=T0 + timedelta(hours=1)))
        # Only the schedule's catch-up may repair facts in the scheduler test, not a scheduled run.
        s.add(SyncSettings(workspace_id=1, frequency="off"))
    return {r["Email"].lower(): r["AccountId"] for r in chosen}


def _facts(engine) -> list[tuple[str, str | None]]:
    """(counterpart, account) per message."""
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(text("SELECT counterpart, account_sf_id FROM message_fact")))


def _wanted(expected: dict[str, str]) -> list[tuple[str, str]]:
    return sorted((email, account) for email, account in expected.items() for _ in ("in", "out"))


def _requests(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM fact_refresh")).scalar()


def _killed_after_success(start_emulator, admin_client, app_config):
    emulator = start_emulator()
    connect_with_oauth(admin_client, emulator)
    app = admin_client.app
    engine = get_engine(app)
    expected = _mail_from_salesforce_contacts(app, emulator.app.emulator.store)
    refresh_facts(engine, 1)  # as after a mail import: facts without Salesforce dimensions
    assert [a for _, a in _facts(engine)] == [None] * 2 * THREADS

    config = json.dumps({**app_config, "SECRET_KEY": app.config["SECRET_KEY"]})
    child = subprocess.run([sys.executable, str(CHILD), config, "after-succeeded"], cwd=ROOT, capture_output=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM sync_run")).scalars().all() == ["succeeded"]
        assert conn.execute(text("SELECT count(*) FROM sf_contact")).scalar() > 0
    # The mirror is complete but the facts were never refreshed: every message still lacks its account.
    assert [a for _, a in _facts(engine)] == [None] * 2 * THREADS
    pass  # before-fix run
    return app, engine, expected


@pytest.fixture
def killed(start_emulator, admin_client, app_config):
    return _killed_after_success(start_emulator, admin_client, app_config)


def test_the_next_run_repairs_the_facts_though_it_changes_nothing(killed):
    app, engine, expected = killed
    run_id, outcome = sync(app)
    assert outcome.status == "succeeded"
    with Session(engine) as s:
        counts = s.get(SyncRun, run_id).counts
    assert not any(c.get(k) for c in counts.values() for k in ("created", "updated", "deleted"))
    assert _facts(engine) == _wanted(expected)
    assert _requests(engine) == 0


def test_the_scheduler_leader_repairs_the_facts_when_it_starts(killed):
    app, engine, expected = killed
    service = SchedulerService(engine=engine, vault=app.extensions["vault"], cache=app.extensions["cache"],
                               lock=lock_for(engine, app.instance_path), poll_seconds=0.5, plan_seconds=0.5,
                               retry_seconds=0.2).start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _requests(engine):
            time.sleep(0.2)
    finally:
        service.stop()
    assert _requests(engine) == 0
    assert _facts(engine) == _wanted(expected)
    with engine.connect() as conn:  # repaired by the leader itself, not by a new run
        assert conn.execute(text("SELECT count(*) FROM sync_run")).scalar() == 1
