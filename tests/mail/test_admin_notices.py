"""Admins' notices by email: a failed sync is mailed to the workspace's admins from its first
mailbox, over the real SMTP server (tests.smtpserver) into their real Dovecot mailboxes, once
per incident; a mailbox that cannot send leaves the incident open with the reason."""

from __future__ import annotations

import email
from email import policy

from sqlalchemy import insert, text
from sqlmodel import Session

from tests.smtpserver import Submission
from webapp.auth.services import create_user
from webapp.clock import utcnow
from webapp.db import get_engine
from webapp.mail.fetch import FetchOptions
from webapp.models import SalesforceConnection, SyncRun, Workspace
from webapp.notify.incidents import check

BOSS = "boss@acme.test"


def _setup(app, workspace_id):
    with Session(get_engine(app)) as s:
        create_user(s, email=BOSS, password="correct-horse-battery", role="admin", workspace=s.get(Workspace, workspace_id))
        create_user(s, email="agent@acme.test", password="correct-horse-battery", role="member",
                    workspace=s.get(Workspace, workspace_id))
        s.add(SalesforceConnection(workspace_id=workspace_id, login_url="https://acme.my.salesforce.com", client_id="key",
                                   client_secret_enc=app.extensions["vault"].encrypt("secret"), state="connected",
                                   connected_at=utcnow()))
        s.commit()
    now = utcnow()
    with get_engine(app).begin() as conn:
        conn.execute(insert(SyncRun.__table__).values(
            workspace_id=workspace_id, trigger="daily", status="failed", reason="Salesforce unavailable: 503.",
            queued_at=now, started_at=now, finished_at=now, counts={}, api_calls=1))


def _tick(app):
    return check(get_engine(app), app.extensions["vault"], "https://inbox.example.com",
                 FetchOptions.from_config(app.config))


def _inbox(dovecot, user):
    with dovecot.imap(user) as imap:
        imap.select("INBOX")
        _, data = imap.uid("SEARCH", None, "ALL")
        messages = []
        for uid in data[0].split():
            _, parts = imap.uid("FETCH", uid, "(RFC822)")
            messages.append(email.message_from_bytes(parts[0][1], policy=policy.default))
        return messages


def test_a_failed_sync_is_mailed_to_the_admins_once(app, dovecot, workspace_id, make_mailbox, client):
    dovecot.add_user(BOSS, "boss-secret")
    dovecot.add_user("admin@acme.test", "admin-secret")
    _setup(app, workspace_id)
    with Submission(dovecot) as smtp:
        make_mailbox(workspace_id, smtp_host=smtp.host, smtp_port=smtp.port, smtp_security="starttls")
        client.login("admin@acme.test", "correct-horse-battery")
        page = client.get("/settings/integrations/salesforce?tab=sync").get_data(as_text=True)
        assert "admins are emailed too, from its first mailbox." in page
        assert [s.kind for s in _tick(app)] == ["sync"]
        assert _tick(app) == []  # once per incident, not once per tick
        [accepted] = smtp.received
    assert sorted(accepted.rcpt_tos) == ["admin@acme.test", BOSS]  # admins only, never the member
    [mail] = _inbox(dovecot, BOSS)
    assert mail["Subject"] == "Salesforce sync failed for Acme"
    assert mail["From"].addresses[0].addr_spec == "support@acme.test"
    body = mail.get_content()
    assert "Salesforce unavailable: 503." in body and "https://inbox.example.com/settings/integrations/salesforce" in body


def test_a_mailbox_that_cannot_send_leaves_the_incident_open_with_the_reason(app, dovecot, workspace_id, make_mailbox):
    _setup(app, workspace_id)
    make_mailbox(workspace_id, smtp_host="127.0.0.1", smtp_port=1, smtp_security="starttls")  # nothing listens
    assert _tick(app) == []
    with get_engine(app).connect() as conn:
        row = conn.execute(text("SELECT notified_at, attempts, last_error FROM notification_incident")).one()
    assert row.notified_at is None and row.attempts == 1
    assert row.last_error.startswith("email: the email was not sent")
