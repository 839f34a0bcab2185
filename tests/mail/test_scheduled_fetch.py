"""Fetching in the scheduler's leader: each mailbox on its own interval, "Fetch now" at once."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select

from tests.mail.conftest import MAILBOX_USER
from tests.mail.messages import raw
from webapp.clock import utcnow
from webapp.db import get_engine
from webapp.mail import mailboxes
from webapp.mail.fetch import FetchOptions, due_mailboxes
from webapp.models import Mailbox, Message
from webapp.scheduler import SchedulerService, lock_for


def _count(db) -> int:
    with db() as session:
        return session.execute(select(func.count()).select_from(Message)).scalar()


def _wait_for(predicate, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_due_mailboxes_follow_their_interval_fetch_now_and_the_lease(app, db, workspace_id, make_mailbox):
    engine = get_engine(app)
    first = make_mailbox(workspace_id)
    second = make_mailbox(workspace_id, address="sales@acme.test", fetch_interval_minutes=10)
    third = make_mailbox(workspace_id, address="off@acme.test", enabled=False)
    now = utcnow()
    assert due_mailboxes(engine, now) == [first, second]  # never fetched; the disabled one waits
    with db() as session:
        for mailbox_id in (first, second, third):
            session.get(Mailbox, mailbox_id).last_fetch_at = now
    assert due_mailboxes(engine, now + timedelta(minutes=1)) == []
    assert due_mailboxes(engine, now + timedelta(minutes=2)) == [first]
    assert due_mailboxes(engine, now + timedelta(minutes=10)) == [first, second]
    with db() as session:
        mailboxes.request_fetch(session, workspace_id, third)  # Fetch now, even when paused
        session.get(Mailbox, second).fetch_lease_until = now + timedelta(minutes=15)  # being fetched
    assert due_mailboxes(engine, now + timedelta(minutes=10)) == [first, third]


def test_the_leader_fetches_due_mailboxes_and_fetch_now(app, db, dovecot, workspace_id, make_mailbox):
    dovecot.append(MAILBOX_USER, raw(1))
    mailbox_id = make_mailbox(workspace_id, fetch_interval_minutes=60)
    engine = get_engine(app)
    service = SchedulerService(engine=engine, vault=app.extensions["vault"], cache=app.extensions["cache"],
                               lock=lock_for(engine, app.instance_path), poll_seconds=0.2, plan_seconds=30,
                               retry_seconds=0.2, mail_options=FetchOptions.from_config(app.config)).start()
    try:
        assert _wait_for(lambda: _count(db) == 1)  # never fetched: due at once
        dovecot.append(MAILBOX_USER, raw(2))
        with db() as session:
            mailboxes.request_fetch(session, workspace_id, mailbox_id)
        # The interval (an hour) is far off; the click brings it in.
        assert _wait_for(lambda: _count(db) == 2)
        with db() as session:
            assert _wait_for(lambda: session.get(Mailbox, mailbox_id).fetch_requested_at is None)
    finally:
        service.stop()
        _wait_for(lambda: not service.in_flight)
