"""The scheduler: one leader per deployment, a new one when it dies, Sync Now from any
process run exactly once, and the daily schedule queued once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from tests.salesforce.conftest import connect_with_oauth
from webapp.db import get_engine
from webapp.jobs import previous_due
from webapp.salesforce.sync import ledger
from webapp.scheduler import FileLock, lock_for
from webapp.sync.settings import EffectiveSettings, next_daily

CHILD = Path(__file__).with_name("scheduler_child.py")
ROOT = Path(__file__).resolve().parents[3]


def test_one_file_lock_holder_and_a_new_one_after_release(tmp_path):
    first, second = FileLock(tmp_path / "s.lock"), FileLock(tmp_path / "s.lock")
    assert first.acquire() and not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_a_deleted_or_replaced_lock_file_is_no_longer_held(tmp_path):
    first, second = FileLock(tmp_path / "s.lock"), FileLock(tmp_path / "s.lock")
    assert first.acquire() and first.held()
    (tmp_path / "s.lock").unlink()
    assert not first.held()
    assert second.acquire() and second.held() and not first.held()  # a new file at the same path
    first.release()
    second.release()


def test_daily_time_follows_the_time_zone_and_dst():
    settings = EffectiveSettings(daily_time="03:00", timezone="Europe/Berlin")
    assert next_daily(settings, datetime(2026, 7, 1, 12, tzinfo=UTC)) == datetime(2026, 7, 2, 1, tzinfo=UTC)
    assert next_daily(settings, datetime(2026, 12, 1, 12, tzinfo=UTC)) == datetime(2026, 12, 2, 2, tzinfo=UTC)
    assert previous_due(settings, datetime(2026, 7, 2, 1, 30, tzinfo=UTC), None) == datetime(2026, 7, 2, 1, tzinfo=UTC)
    hourly = EffectiveSettings(frequency="hours", interval_hours=3)
    assert previous_due(hourly, datetime(2026, 7, 2, 4, tzinfo=UTC), datetime(2026, 7, 2, 2, tzinfo=UTC)) is None


def test_one_active_run_per_workspace_and_a_second_click_joins(admin_client, emulator):
    connect_with_oauth(admin_client, emulator)
    engine = get_engine(admin_client.app)
    first = ledger.request_run(engine, 1, "manual")
    clicks = [None] * 8

    def click(i):
        clicks[i] = ledger.request_run(engine, 1, "manual")

    threads = [threading.Thread(target=click, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert {c.run_id for c in clicks} == {first.run_id} and all(c.joined for c in clicks)
    assert ledger.claim(engine, first.run_id) and not ledger.claim(engine, first.run_id)


def _spawn(config):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(CHILD), json.dumps(config)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _leader(children, timeout=60):
    deadline = time.monotonic() + timeout
    states = {}
    while time.monotonic() < deadline:
        for child in children:
            if child.poll() is None:
                os.set_blocking(child.stdout.fileno(), False)
                for line in child.stdout.readlines():
                    event = json.loads(line)
                    states[event["pid"]] = event["leading"]
        leaders = [pid for pid, leading in states.items() if leading and any(c.pid == pid and c.poll() is None for c in children)]
        if len(leaders) == 1:
            return leaders[0]
        time.sleep(0.1)
    raise AssertionError(f"no single leader: {states}")


def _wait_run(engine, run_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            status, worker = conn.execute(text("SELECT status, worker FROM sync_run WHERE id = :i"), {"i": run_id}).one()
        if status not in ("queued", "running"):
            return status, worker
        time.sleep(0.2)
    raise AssertionError("the run never ended")


def test_two_app_processes_elect_one_scheduler_and_fail_over(admin_client, emulator, app_config):
    connect_with_oauth(admin_client, emulator)
    app = admin_client.app
    engine = get_engine(app)
    config = {**app_config, "SECRET_KEY": app.config["SECRET_KEY"], "SCHEDULER_ENABLED": True}
    children = [_spawn(config), _spawn(config)]
    try:
        leader = _leader(children)
        # The first sync after connecting is queued once, by the leader, and run once.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                runs = conn.execute(text("SELECT id, trigger FROM sync_run")).all()
            if runs:
                break
            time.sleep(0.2)
        assert len(runs) == 1 and runs[0].trigger == "connect"
        status, worker = _wait_run(engine, runs[0].id)
        assert status == "succeeded" and worker.endswith(f":{leader}")

        # Sync Now recorded by any process runs exactly once, in the leader.
        requested = ledger.request_run(engine, 1, "manual")
        status, worker = _wait_run(engine, requested.run_id)
        assert status == "succeeded" and worker.endswith(f":{leader}")

        # Kill the leader: the other takes over and runs the next click.
        dead = next(c for c in children if c.pid == leader)
        dead.send_signal(signal.SIGKILL)
        dead.wait(10)
        successor = _leader([c for c in children if c is not dead])
        assert successor != leader
        requested = ledger.request_run(engine, 1, "manual")
        status, worker = _wait_run(engine, requested.run_id)
        assert status == "succeeded" and worker.endswith(f":{successor}")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM sync_run WHERE trigger = 'connect'")).scalar() == 1
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
            child.wait(10)
            child.stdout.close()


def test_the_lock_is_an_advisory_lock_on_postgres(app):
    lock = lock_for(get_engine(app), app.instance_path)
    if get_engine(app).dialect.name != "postgresql":
        assert isinstance(lock, FileLock)
        return
    other = lock_for(get_engine(app), app.instance_path)
    assert lock.acquire() and not other.acquire() and lock.held()
    lock.release()
    assert other.acquire()
    other.release()
