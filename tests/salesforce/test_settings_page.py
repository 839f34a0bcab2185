"""The Salesforce settings page tells the truth: setup first until connected, status and sync
first after; Sync Now refused (and disabled, with the reason) while not connected; every run
labelled as what started it; honest run states; one reconnect message; the product's own
Disconnect confirmation; real plurals; the setup guide's warnings."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import insert, text, update

from tests.salesforce.conftest import connect_with_oauth, setup_form
from webapp.clock import utcnow
from webapp.db import get_engine
from webapp.integrations import salesforce_connection as connection
from webapp.integrations.salesforce_connection import callback_warning, login_url_warning
from webapp.models import RUN_TRIGGERS, SalesforceConnection, SyncRun
from webapp.plurals import plural
from webapp.sync.services import TRIGGER_LABELS, CountRow, RunView

PAGE = "/settings/integrations/salesforce"


def _page(client, tab=None) -> str:
    response = client.get(PAGE + (f"?tab={tab}" if tab else ""))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _runs(app) -> list[tuple]:
    with get_engine(app).connect() as conn:
        return [tuple(r) for r in conn.execute(text('SELECT "trigger", status FROM sync_run ORDER BY id'))]


def _add_run(app, status, *, reason=None, counts=None, finished=None, trigger="manual") -> int:
    now = utcnow()
    with get_engine(app).begin() as conn:
        return conn.execute(insert(SyncRun.__table__).values(
            workspace_id=1, trigger=trigger, status=status, reason=reason, queued_at=now, started_at=now,
            finished_at=finished or now, counts=counts or {}, api_calls=3,
        ).returning(SyncRun.__table__.c.id)).scalar_one()


def _state(app, state, error=None):
    with get_engine(app).begin() as conn:
        conn.execute(update(SalesforceConnection.__table__).values(state=state, last_error=error))


# -- layout ----------------------------------------------------------------------------------

def test_not_set_up_the_page_starts_with_the_setup(admin_client):
    page = _page(admin_client)
    assert page.index('id="salesforce-start"') < page.index('id="salesforce-setup"') < page.index('id="salesforce-guide"')
    assert 'id="salesforce-tabs"' not in page and 'id="salesforce-sync"' not in page


def test_set_up_but_not_connected_it_opens_on_the_connection_tab_with_sync_now_disabled(admin_client, emulator):
    assert admin_client.post(PAGE, setup_form(emulator)).status_code == 302
    page = _page(admin_client)
    assert 'data-state="configured"' in page and 'id="salesforce-connect"' in page
    assert '<a href="/settings/integrations/salesforce?tab=connection" id="tab-connection" aria-current="page">' in page
    assert page.index('id="salesforce-status"') < page.index('id="salesforce-setup"')
    sync_tab = _page(admin_client, "sync")
    button = re.search(r'<button class="btn btn-primary" id="sync-now"[^>]*>', sync_tab).group(0)
    assert "disabled" in button and 'aria-describedby="sync-blocked"' in button
    assert "Connect Salesforce first: the setup is saved but not connected." in sync_tab


def test_sync_now_is_refused_while_not_connected_and_records_no_run(admin_client, emulator, app):
    assert admin_client.post(PAGE, setup_form(emulator)).status_code == 302
    plain = admin_client.post("/settings/integrations/salesforce/sync/now")
    assert plain.status_code == 302
    assert "Not synced: Connect Salesforce first" in _page(admin_client, "sync")
    htmx = admin_client.post("/settings/integrations/salesforce/sync/now", htmx=True)
    assert htmx.status_code == 422 and htmx.headers["HX-Retarget"] == "#sync-status"
    assert "Connect Salesforce first" in htmx.get_data(as_text=True)
    assert admin_client.post("/settings/integrations/salesforce/sync/errors/retry").status_code == 302
    assert _runs(app) == []


def test_connected_it_opens_on_status_and_sync_and_every_tab_renders(admin_client, emulator):
    connect_with_oauth(admin_client, emulator)
    page = _page(admin_client)
    assert page.index('id="salesforce-status"') < page.index('id="salesforce-tabs"') < page.index('id="salesforce-sync"')
    assert 'id="tab-sync" aria-current="page"' in page and 'id="salesforce-setup"' not in page
    for tab, marker in (("connection", 'id="salesforce-setup"'), ("two-way", 'id="sync-two-way"'),
                        ("fields", 'id="sync-fields"'), ("activity", 'id="sync-activity"'), ("bogus", 'id="salesforce-sync"')):
        assert marker in _page(admin_client, tab), tab


def test_the_not_connected_failure_is_gone_once_connected(admin_client, emulator, app):
    assert admin_client.post(PAGE, setup_form(emulator)).status_code == 302
    _add_run(app, "failed", reason="Salesforce is not connected for this workspace.",
             finished=utcnow() - timedelta(minutes=5))
    connect_with_oauth(admin_client, emulator)
    page = _page(admin_client)
    assert 'data-state="connected"' in page
    assert 'id="sync-reason"' not in page and "not connected for this workspace" not in page.split('id="sync-history"')[0]


# -- runs ------------------------------------------------------------------------------------

def test_every_trigger_has_its_own_label():
    assert set(TRIGGER_LABELS) == set(RUN_TRIGGERS)
    labels = [TRIGGER_LABELS[t] for t in RUN_TRIGGERS]
    assert len(set(labels)) == len(labels)
    assert TRIGGER_LABELS["push"].startswith("Push immediately") and TRIGGER_LABELS["log"].startswith("Log to Salesforce")


def _view(status, failed=0, push_failed=0) -> RunView:
    now = utcnow()
    rows = [CountRow("Contacts", "full", None, 10, 7, 0, 0, failed),
            CountRow("Deals → opportunities", "push", None, 0, 0, 0, 0, push_failed, push={"failed": push_failed})]
    return RunView(1, "manual", status, None, now, now, now, None, 4, None, None, rows)


def test_a_run_with_failed_records_does_not_say_done_alone():
    assert _view("succeeded").status_label == "Done"
    assert _view("succeeded", failed=2, push_failed=1).status_label == "Done, 3 records failed"
    assert _view("succeeded", failed=1).status_label == "Done, 1 record failed"


def test_the_page_says_done_with_failures_and_not_none_after_a_failed_run(admin_client, emulator, app):
    connect_with_oauth(admin_client, emulator)
    _add_run(app, "succeeded", reason="3 records could not be synced; see the records that failed below.",
             counts={"Contact": {"fetched": 10, "created": 7, "failed": 3, "mode": "full"}})
    page = _page(admin_client)
    assert 'id="sync-state">Done, 3 records failed</span>' in page and "sync-badge-partial" in page
    _add_run(app, "failed", reason="Salesforce unavailable: 503. The next run resumes from here.")
    page = _page(admin_client)
    assert "every record of the last runs made it in" not in page
    assert "No single record was refused: the last run stopped as a whole (Failed)" in page


def test_history_follows_the_header_when_a_run_starts(admin_client, emulator, app):
    connect_with_oauth(admin_client, emulator)
    run_id = _add_run(app, "running", finished=None)
    with get_engine(app).begin() as conn:
        conn.execute(update(SyncRun.__table__).where(SyncRun.__table__.c.id == run_id).values(finished_at=None))
    moved = admin_client.htmx_get(f"/settings/integrations/salesforce/sync/runs/{run_id}?seen=queued")
    assert moved.headers.get("HX-Trigger") == "sync-started"  # the history reloads and says Running too
    same = admin_client.htmx_get(f"/settings/integrations/salesforce/sync/runs/{run_id}?seen=running")
    assert "HX-Trigger" not in same.headers
    history = admin_client.get("/settings/integrations/salesforce/sync/history").get_data(as_text=True)
    assert f'id="sync-run-{run_id}" data-status="running"' in history and ">Running</span>" in history


# -- reconnect, disconnect -------------------------------------------------------------------

def test_the_reconnect_message_is_said_once(admin_client, emulator, app):
    connect_with_oauth(admin_client, emulator)
    _state(app, "reconnect", "expired access/refresh token")
    _add_run(app, "failed", reason="Reconnect needed: expired access/refresh token")
    page = _page(admin_client)
    assert page.count("expired access/refresh token") == 1
    assert 'id="salesforce-banner"' not in page
    assert 'id="salesforce-banner"' in admin_client.get("/inbox").get_data(as_text=True)  # elsewhere it still shows


def test_disconnect_asks_with_the_products_own_confirmation(admin_client, emulator):
    connect_with_oauth(admin_client, emulator)
    page = _page(admin_client)
    assert "data-confirm" not in page
    assert re.search(r'<a class="btn" id="salesforce-disconnect" href="/settings/integrations/salesforce/disconnect"\s+'
                     r'hx-get="/settings/integrations/salesforce/disconnect" hx-target="#disconnect-confirm"', page)
    panel = admin_client.htmx_get("/settings/integrations/salesforce/disconnect").get_data(as_text=True)
    assert "<html" not in panel and "Disconnect Salesforce?" in panel
    full = admin_client.get("/settings/integrations/salesforce/disconnect").get_data(as_text=True)
    assert "<html" in full and 'id="salesforce-disconnect-confirm"' in full and 'id="salesforce-disconnect-cancel"' in full
    assert 'data-state="connected"' in _page(admin_client)  # asking changed nothing
    assert admin_client.post("/settings/integrations/salesforce/disconnect").status_code == 302
    assert 'data-state="configured"' in _page(admin_client)
    nothing = admin_client.get("/settings/integrations/salesforce/disconnect")
    assert nothing.status_code == 302  # not connected: nothing to confirm


def test_members_cannot_see_the_confirmation(member_client):
    assert member_client.get("/settings/integrations/salesforce/disconnect").status_code == 403


# -- words -----------------------------------------------------------------------------------

def test_plurals():
    assert (plural(1, "record"), plural(3, "record"), plural(0, "record")) == ("1 record", "3 records", "0 records")
    assert plural(1204, "opportunity", "opportunities") == "1,204 opportunities"


def test_no_page_tab_says_record_s(admin_client, emulator, app):
    connect_with_oauth(admin_client, emulator)
    _add_run(app, "succeeded", reason="1 record could not be synced; see the records that failed below.",
             counts={"Contact": {"fetched": 1, "failed": 1}})
    for tab in ("connection", "sync", "two-way", "fields", "activity"):
        assert "(s)" not in _page(admin_client, tab), tab


# -- the setup guide -------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "warned"), [
    ("http://inbox.example.com/oauth/salesforce/callback", True),
    ("http://10.0.0.5:8000/oauth/salesforce/callback", True),
    ("http://localhost:5000/oauth/salesforce/callback", False),
    ("http://127.0.0.1:5000/oauth/salesforce/callback", False),
    ("https://inbox.example.com/oauth/salesforce/callback", False),
])
def test_a_plain_http_callback_off_this_machine_is_warned_about(url, warned):
    assert (callback_warning(url) is not None) is warned


def test_the_guide_warns_on_the_page_and_names_salesforces_labels(admin_client):
    page = _page(admin_client)  # PUBLIC_BASE_URL is http://inbox.test in these tests
    assert 'id="callback-warning"' in page and "plain http on inbox.test" in page
    for label in ("Setup → Apps → External Client Apps → External Client App Manager", "Quick Find",
                  "<strong>Distribution State</strong> to <strong>Local</strong>",
                  "Manage user data via APIs (api)", "Perform requests at any time (refresh_token, offline_access)",
                  "Require secret for Web Server Flow", "Require secret for Refresh Token Flow",
                  "Require Proof Key for Code Exchange (PKCE) extension for Supported Authorization Flows",
                  "Permitted Users", "IP Relaxation", "Refresh Token Policy", "Flow Enablement",
                  "Run As (Username)", "My Domain URL", "verification code", "Salesforce Support can still turn Connected App creation on"):
        assert label in page, label
    assert 'class="flash flash-error small cc-login-warning"' in page


def test_client_credentials_through_login_salesforce_com_is_warned_about(admin_client, start_emulator, monkeypatch):
    assert login_url_warning("client-credentials", "production") and login_url_warning("client-credentials", "sandbox")
    assert login_url_warning("client-credentials", "mydomain") is None and login_url_warning("oauth", "production") is None
    # "Production" answers from an emulator that, like login.salesforce.com, refuses the flow.
    refusing = start_emulator(client_credentials=False)
    monkeypatch.setitem(connection.LOGIN_URLS, "production", refusing.url)
    refused = admin_client.post(PAGE, setup_form(refusing, mode="client-credentials", environment="production", url=""))
    assert refused.status_code == 422 and "needs your org&#39;s My Domain URL" in refused.get_data(as_text=True)


def test_push_immediately_queues_nothing_while_not_connected(admin_client, emulator, app):
    from tests.salesforce.sync.twoway_helpers import enable

    connect_with_oauth(admin_client, emulator)
    enable(app, push_immediately=True)
    _state(app, "configured")
    form = {"name": "Saved while disconnected", "amount": "1200.00", "currency": "USD", "stage": "Prospecting",
            "close_date": "2026-12-01", "contact_email": ""}
    assert admin_client.post("/deals/new", form).status_code == 302
    assert _runs(app) == []  # no run that could only fail; the deal goes out after connecting
