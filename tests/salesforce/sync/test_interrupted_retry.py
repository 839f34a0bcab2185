"""An interrupted run is retried within minutes, with backoff, a bounded number of times, and
the ledger says so. The processes running the syncs are real scheduler leaders, SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.salesforce.conftest import connect_with_oauth
from webapp.clock import utcnow
from webapp.config import ConfigError, load_config
from webapp.db import get_engine
from webapp.models import SyncRun
from webapp.salesforce.sync import ledger
from webapp.salesforce.sync.ledger import RetryBackoff
from webapp.scheduler import SchedulerService

CHILD = Path(__file__).with_name("scheduler_child.py")
ROOT = Path(__file__).resolve().parents[3]
RUN = SyncRun.__table__
FAST = {"poll_seconds": 0.3, "plan_seconds": 0.5, "check_seconds": 0.3, "retry_seconds": 0.2}


def _leader(config):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(CHILD), json.dumps(config), json.dumps(FAST)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _run(engine, run_id):
    with engine.connect() as conn:
        return conn.execute(select(RUN).where(RUN.c.id == run_id)).mappings().first()


def _wait(engine, run_id, ready, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = _run(engine, run_id)
        if row is not None and ready(row):
            return row
        time.sleep(0.05)
    raise AssertionError(f"run #{run_id} never got there: {_run(engine, run_id)}")


def _kill_while_running(engine, child, run_id):
    _wait(engine, run_id, lambda r: r["status"] == "running" and r["current_object"] is not None)
    child.send_signal(signal.SIGKILL)
    child.wait(10)


@pytest.fixture
def retrying(start_emulator, admin_client, app_config):
    emulator = start_emulator()
    connect_with_oauth(admin_client, emulator)
    app = admin_client.app
    config = {**app_config, "SECRET_KEY": app.config["SECRET_KEY"], "SCHEDULER_ENABLED": True,
              "SYNC_RETRY_ATTEMPTS": 2, "SYNC_RETRY_BASE_SECONDS": 1, "SYNC_RETRY_MAX_SECONDS": 1.5}
    children = []

    def spawn():
        children.append(_leader(config))
        return children[-1]

    yield app, emulator, spawn
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.wait(10)


def test_a_killed_scheduled_run_is_retried_with_backoff_and_the_ledger_says_so(retrying, admin_client):
    app, emulator, spawn = retrying
    engine = get_engine(app)
    emulator.app.emulator.set_faults(latency_ms=400)  # slow enough to be killed mid-run

    # The first sync after connecting, killed with its leader.
    _kill_while_running(engine, spawn(), 1)
    # The next leader finds it interrupted and retries after 1 s; that one is killed too.
    second = spawn()
    retry1 = _wait(engine, 2, lambda r: r["status"] == "running")
    first = _run(engine, 1)
    assert (first["trigger"], first["status"]) == ("connect", "interrupted")
    assert "Retry 1 of 2 (run #2)" in first["reason"]
    assert (retry1["trigger"], retry1["retry_of_id"], retry1["retry_attempt"], retry1["retry_limit"]) == ("retry", 1, 1, 2)
    assert retry1["started_at"] >= retry1["not_before"] == retry1["queued_at"] + timedelta(seconds=1)
    _kill_while_running(engine, second, 2)

    # Retry 2 waits the doubled backoff (capped at 1.5 s) and, with the org fast again, succeeds.
    emulator.app.emulator.set_faults(latency_ms=0)
    spawn()
    retry2 = _wait(engine, 3, lambda r: r["status"] not in ("queued", "running"))
    assert (retry2["status"], retry2["retry_of_id"], retry2["retry_attempt"]) == ("succeeded", 2, 2)
    assert retry2["not_before"] - retry2["queued_at"] == timedelta(seconds=1.5)
    assert "Retry 2 of 2 (run #3)" in _run(engine, 2)["reason"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sync_run")).scalar() == 3

    page = admin_client.get("/settings/integrations/salesforce").get_data(as_text=True)
    assert "Retry 2 of 2 after an interrupted run" in page and "Retry 1 of 2 after an interrupted run" in page
    assert 'href="#sync-run-1"' in page and "Interrupted" in page


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _running(engine, trigger, **values) -> int:
    """A run row as a process leaves it when it dies mid-run (that process really ran and is gone)."""
    now = utcnow()
    with engine.begin() as conn:
        return conn.execute(text(
            "INSERT INTO sync_run (workspace_id, trigger, status, queued_at, started_at, heartbeat_at, worker, counts, "
            "api_calls, retry_attempt, retry_limit) VALUES (1, :t, 'running', :now, :now, :now, :w, '{}', 0, :a, :l) RETURNING id"
        ), {"t": trigger, "now": now, "w": f"{ledger.HOST}:{_dead_pid()}", "a": values.get("attempt"),
            "l": values.get("limit")}).scalar_one()


def test_after_the_last_attempt_it_waits_for_the_schedule_and_says_so(connected):
    engine = get_engine(connected)
    run_id = _running(engine, "retry", attempt=2, limit=2)
    assert ledger.reap_stale(engine, backoff=RetryBackoff(attempts=2, base_seconds=60)) == [run_id]
    row = _run(engine, run_id)
    assert row["status"] == "interrupted" and "All 2 retries are spent: the next scheduled run" in row["reason"]
    assert ledger.queued_runs(engine) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sync_run WHERE status = 'queued'")).scalar() == 0


def test_a_command_line_run_is_not_retried_and_a_click_runs_a_waiting_retry_now(connected):
    engine = get_engine(connected)
    backoff = RetryBackoff(attempts=3, base_seconds=600, cap_seconds=600)
    cli_run = _running(engine, "cli")
    assert ledger.reap_stale(engine, backoff=backoff) == [cli_run]
    assert _run(engine, cli_run)["status"] == "interrupted" and ledger.queued_runs(engine) == []

    daily = _running(engine, "daily")
    ledger.reap_stale(engine, backoff=backoff)
    with engine.connect() as conn:
        retry_id, not_before = conn.execute(select(RUN.c.id, RUN.c.not_before).where(RUN.c.retry_of_id == daily)).one()
    assert not_before > utcnow() + timedelta(minutes=9)
    assert ledger.queued_runs(engine) == []  # waiting out its backoff
    clicked = ledger.request_run(engine, 1, "manual")
    assert clicked.joined and clicked.run_id == retry_id
    assert ledger.queued_runs(engine) == [retry_id]  # no more waiting: someone asked for a sync


def test_backoff_doubles_up_to_its_cap_and_bad_settings_are_refused(tmp_path):
    backoff = RetryBackoff(attempts=5, base_seconds=60, cap_seconds=300)
    assert [backoff.delay(n).total_seconds() for n in range(1, 6)] == [60, 120, 240, 300, 300]
    with pytest.raises(ValueError):
        RetryBackoff(attempts=2, base_seconds=60, cap_seconds=30)
    with pytest.raises(ConfigError, match="SYNC_RETRY_BASE_SECONDS must be a number of seconds"):
        _config(tmp_path, SYNC_RETRY_BASE_SECONDS="soon")
    with pytest.raises(ConfigError, match="SYNC_RETRY_ATTEMPTS must be a whole number"):
        _config(tmp_path, SYNC_RETRY_ATTEMPTS="2.5")
    with pytest.raises(ConfigError, match="at least SYNC_RETRY_BASE_SECONDS"):
        _config(tmp_path, SYNC_RETRY_BASE_SECONDS="60", SYNC_RETRY_MAX_SECONDS="10")
    with pytest.raises(ConfigError, match="≥ 0"):
        _config(tmp_path, SYNC_RETRY_ATTEMPTS="-1")
    assert _config(tmp_path, SYNC_RETRY_ATTEMPTS="3")["SYNC_RETRY_ATTEMPTS"] == 3


def _config(tmp_path, **env):
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return load_config(str(tmp_path), {"TESTING": True})
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_a_takeover_delay_not_longer_than_the_check_is_refused(app):
    with pytest.raises(ValueError, match="longer than its lock check"):
        SchedulerService(engine=get_engine(app), vault=None, cache=None, lock=None, check_seconds=2, takeover_seconds=2)
