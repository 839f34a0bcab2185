"""A run whose process died, in a browser: the retry waits out its backoff, the ledger says
which retry it is and of what, and Sync Now runs it at once."""

from __future__ import annotations

import subprocess
import sys

from playwright.sync_api import expect
from sqlalchemy import select, text

from tests.browser.test_conversation_page import _sign_in
from webapp.clock import utcnow
from webapp.db import get_engine, session_scope
from webapp.emulator import EmulatorOptions
from webapp.emulator.server import serve_in_thread
from webapp.integrations import salesforce_connection as connection
from webapp.models import SyncRun
from webapp.salesforce.sync import ledger


def test_a_waiting_retry_is_shown_and_sync_now_runs_it(browser, live_server, seeded, app, artifacts):
    engine = get_engine(app)
    emulator = serve_in_thread(EmulatorOptions())
    try:
        with session_scope(engine) as session:
            connection.save_setup(session, app.extensions["vault"], 1, connection.SetupInput(
                mode="client-credentials", environment="custom", url=emulator.url,
                client_id="emulator-client-id", client_secret="emulator-client-secret"))
    finally:
        emulator.stop()  # nothing here calls Salesforce again
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    now = utcnow()
    with engine.begin() as conn:
        interrupted = conn.execute(text(
            "INSERT INTO sync_run (workspace_id, trigger, status, queued_at, started_at, heartbeat_at, worker, counts, api_calls) "
            "VALUES (1, 'daily', 'running', :now, :now, :now, :w, '{}', 0) RETURNING id"), {"now": now, "w": f"{ledger.HOST}:{gone.pid}"}).scalar_one()
    ledger.reap_stale(engine, backoff=ledger.RetryBackoff(attempts=4, base_seconds=600, cap_seconds=600))

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    _sign_in(page, live_server)
    page.goto(f"{live_server}/settings/integrations/salesforce")
    status = page.locator("#sync-status")
    expect(status).to_have_attribute("data-status", "queued")
    expect(status).to_contain_text(f"Retry 1 of 4 after an interrupted run #{interrupted}, at")
    expect(status).to_contain_text("Sync Now runs it at once.")
    expect(page.locator("#sync-now")).to_be_enabled()
    runs = page.locator("#sync-runs tbody tr")
    expect(runs).to_have_count(2)
    expect(runs.nth(0)).to_contain_text("Retry 1 of 4 after an interrupted run")
    expect(runs.nth(0).locator(f'a[href="#sync-run-{interrupted}"]')).to_be_visible()
    expect(runs.nth(1).locator(".badge")).to_have_text("Interrupted")
    assert "Retry 1 of 4" in runs.nth(1).locator(".badge").get_attribute("title")
    page.locator("#sync-status").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "salesforce-sync-retry-waiting.png"), full_page=True)

    page.click("#sync-now")
    expect(status).to_contain_text("waiting for the scheduler to pick it up")
    with engine.connect() as conn:
        row = conn.execute(select(SyncRun.__table__).where(SyncRun.__table__.c.retry_of_id == interrupted)).mappings().one()
    assert row["status"] == "queued" and row["not_before"] is None
    page.close()
