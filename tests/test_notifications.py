"""Admins are told outside the page when a sync fails or Salesforce needs reconnecting: a
webhook (Slack-compatible JSON) posted from the scheduler's job, never in a request, once per
incident (until a successful sync or a reconnect), received here by a real HTTP server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import insert, select, text, update
from sqlmodel import Session

from webapp.auth.services import create_user, get_or_create_workspace
from webapp.clock import utcnow
from webapp.db import get_engine
from webapp.models import NotificationIncident, SalesforceConnection, SyncRun, SyncSettings
from webapp.notify import notifier
from webapp.notify.incidents import MAX_ATTEMPTS, check
from webapp.scheduler import job_specs

URL = "/settings/integrations/salesforce/sync/notifications"


class Hook:
    """A chat tool's incoming webhook: records what it is sent; answers ``status``."""

    def __init__(self):
        self.received: list[dict] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.received.append({"path": self.path, "type": self.headers.get("Content-Type"), "json": json.loads(body)})
                self.send_response(hook.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @property
    def texts(self) -> list[str]:
        return [r["json"]["text"] for r in self.received]


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def workspace(app):
    """A workspace with two admins, a member and a connected Salesforce connection."""
    engine = get_engine(app)
    with Session(engine) as s:
        ws, _ = get_or_create_workspace(s, "Acme")
        for email, role in (("boss@acme.test", "admin"), ("ops@acme.test", "admin"), ("agent@acme.test", "member")):
            create_user(s, email=email, password="correct-horse-battery", role=role, workspace=ws)
        s.add(SalesforceConnection(workspace_id=ws.id, login_url="https://acme.my.salesforce.com", client_id="key",
                                   client_secret_enc=app.extensions["vault"].encrypt("secret"), state="connected",
                                   connected_at=utcnow()))
        s.commit()
        return ws.id


@pytest.fixture
def admin(admin_client, app):
    """The signed-in admin's workspace, connected to Salesforce (the panel shows then)."""
    with Session(get_engine(app)) as s:
        ws, _ = get_or_create_workspace(s, "Acme")
        s.add(SalesforceConnection(workspace_id=ws.id, login_url="https://acme.my.salesforce.com", client_id="key",
                                   client_secret_enc=app.extensions["vault"].encrypt("secret"), state="connected",
                                   connected_at=utcnow()))
        s.commit()
    return admin_client


def _set_webhook(app, workspace_id, url):
    with Session(get_engine(app)) as s:
        s.add(SyncSettings(workspace_id=workspace_id, extra_fields={},
                           notify_webhook_enc=app.extensions["vault"].encrypt(url) if url else None))
        s.commit()


def _run(app, workspace_id, status, reason=None):
    now = utcnow()
    with get_engine(app).begin() as conn:
        conn.execute(insert(SyncRun.__table__).values(
            workspace_id=workspace_id, trigger="daily", status=status, reason=reason, queued_at=now, started_at=now,
            finished_at=now, counts={}, api_calls=1))


def _state(app, workspace_id, state, error=None):
    with get_engine(app).begin() as conn:
        conn.execute(update(SalesforceConnection.__table__).where(SalesforceConnection.workspace_id == workspace_id)
                     .values(state=state, last_error=error))


def _tick(app):
    return check(get_engine(app), app.extensions["vault"], "https://inbox.example.com")


def _incidents(app):
    with get_engine(app).connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT kind, closed_at IS NULL, notified_at IS NOT NULL, attempts FROM notification_incident ORDER BY id"))]


def test_a_failed_sync_is_told_once_until_a_sync_succeeds(app, workspace, hook):
    _set_webhook(app, workspace, hook.url)
    _run(app, workspace, "failed", "Salesforce unavailable: 503 Service Unavailable.")
    assert [s.kind for s in _tick(app)] == ["sync"]
    [sent] = hook.received
    assert sent["path"] == "/services/T000/B000/secret" and sent["type"] == "application/json"
    assert list(sent["json"]) == ["text"]  # Slack-compatible: {"text": …}
    assert "Salesforce sync failed for Acme" in sent["json"]["text"] and "503" in sent["json"]["text"]
    assert "https://inbox.example.com/settings/integrations/salesforce" in sent["json"]["text"]

    # The next failures belong to the same incident: no new message.
    _tick(app)
    _run(app, workspace, "failed", "Salesforce unavailable again.")
    _tick(app)
    assert len(hook.received) == 1

    # A success ends it; the next failure is a new incident and is told.
    _run(app, workspace, "succeeded")
    _tick(app)
    assert _incidents(app)[0][:2] == ("sync", False)
    _run(app, workspace, "failed", "Salesforce refused the sync: INVALID_FIELD.")
    _tick(app)
    assert len(hook.received) == 2 and "INVALID_FIELD" in hook.texts[1]


def test_a_needed_reconnect_is_told_once_and_its_failed_runs_add_nothing(app, workspace, hook):
    _set_webhook(app, workspace, hook.url)
    _state(app, workspace, "reconnect", "expired access/refresh token")
    _run(app, workspace, "failed", "Reconnect needed: expired access/refresh token")
    _tick(app)
    _tick(app)
    assert len(hook.received) == 1
    assert "Salesforce needs to be reconnected for Acme" in hook.texts[0] and "expired access/refresh token" in hook.texts[0]
    assert [k for k, *_ in _incidents(app)] == ["reconnect"]

    _state(app, workspace, "connected")  # reconnected: the incident ends
    _run(app, workspace, "succeeded")
    _tick(app)
    _state(app, workspace, "reconnect", "user revoked the app")
    _tick(app)
    assert len(hook.received) == 2 and "user revoked the app" in hook.texts[1]


def test_a_webhook_that_fails_is_tried_again_on_later_ticks_then_given_up(app, workspace, hook):
    _set_webhook(app, workspace, hook.url)
    hook.status = 500
    _run(app, workspace, "failed", "boom")
    assert _tick(app) == []
    assert _incidents(app) == [("sync", True, False, 1)]
    hook.status = 200
    assert [s.kind for s in _tick(app)] == ["sync"]
    assert _incidents(app) == [("sync", True, True, 2)] and len(hook.received) == 2
    _tick(app)
    assert len(hook.received) == 2

    # A webhook that never answers well is given up after a few tries.
    _run(app, workspace, "succeeded")
    _tick(app)
    hook.status = 404
    _run(app, workspace, "failed", "again")
    for _ in range(MAX_ATTEMPTS + 3):
        _tick(app)
    assert _incidents(app)[-1] == ("sync", True, False, MAX_ATTEMPTS)


def test_an_unreachable_webhook_is_an_error_not_a_crash(app, workspace, hook):
    url = hook.url
    hook.close()  # nothing listens there any more
    _set_webhook(app, workspace, url)
    _run(app, workspace, "failed", "boom")
    assert _tick(app) == []
    with Session(get_engine(app)) as s:
        incident = s.execute(select(NotificationIncident)).scalar_one()
    assert "did not answer" in incident.last_error and incident.notified_at is None


def test_without_a_channel_the_incident_waits_for_one(app, workspace, hook):
    _run(app, workspace, "failed", "boom")
    _tick(app)
    assert _incidents(app) == [("sync", True, False, 0)]
    _set_webhook(app, workspace, hook.url)
    _tick(app)
    assert len(hook.received) == 1


def test_the_admin_saves_the_webhook_encrypted_and_nothing_is_sent_from_the_request(admin, app, hook):
    admin_client = admin
    response = admin_client.post(URL, {"webhook_url": hook.url, "action": "save"})
    assert response.status_code == 302 and response.headers["Location"].endswith("?tab=sync#sync-notifications")
    with Session(get_engine(app)) as s:
        stored = s.execute(select(SyncSettings.notify_webhook_enc)).scalar_one()
    assert hook.url not in stored and app.extensions["vault"].decrypt(stored) == hook.url
    assert hook.received == []
    page = admin_client.get("/settings/integrations/salesforce?tab=sync").get_data(as_text=True)
    assert hook.url not in page and "/services/T000" not in page  # never shown back
    assert 'id="notify-state">Webhook set</span>' in page

    assert admin_client.post(URL, {"action": "remove"}).status_code == 302
    with Session(get_engine(app)) as s:
        assert s.execute(select(SyncSettings.notify_webhook_enc)).scalar_one() is None


@pytest.mark.parametrize(("url", "message"), [
    ("not a url", "starting with https://"),
    ("ftp://hooks.example.com/x", "starting with https://"),
    ("http://hooks.slack.com/services/x", "Use an https:// webhook URL"),
    ("https://hooks.example.com/" + "x" * 2100, "longer than 2,000 characters"),
])
def test_a_bad_webhook_url_is_refused_and_nothing_is_saved(admin, app, url, message):
    admin_client = admin
    response = admin_client.post(URL, {"webhook_url": url, "action": "save"})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    with Session(get_engine(app)) as s:
        assert s.execute(select(SyncSettings.notify_webhook_enc)).scalar_one_or_none() is None


def test_members_cannot_set_the_webhook(member_client, app):
    assert member_client.post(URL, {"webhook_url": "https://hooks.example.com/x"}).status_code == 403


def test_the_scheduler_runs_the_notices():
    assert ("notify-admins", "webapp.jobs:notify_admins") in [(s.id, s.func) for s in job_specs(3, 30)]
