"""No moment with two schedulers: when the leader loses its lock (its Postgres connection is
terminated, or its SQLite lock file is deleted and a new one made), it stops before another
process starts. Two real app processes write when their scheduler starts and stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from webapp.db import get_engine
from webapp.scheduler import LOCK_KEY

CHILD = Path(__file__).with_name("scheduler_child.py")
ROOT = Path(__file__).resolve().parents[3]
# The follower retries far more often than the leader checks: the race the takeover delay closes.
OPTIONS = {"poll_seconds": 0.5, "plan_seconds": 1, "check_seconds": 1.0, "retry_seconds": 0.1}


def _spawn(config, events):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(CHILD), json.dumps(config), json.dumps(OPTIONS), str(events)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _intervals(events: list[dict], until: float) -> list[tuple[int, float, float]]:
    """(pid, started, stopped) per time a process led; a scheduler still running ends at ``until``."""
    open_, spans = {}, []
    for e in sorted(events, key=lambda e: e["t"]):
        if e["event"] == "start":
            assert e["pid"] not in open_, f"started twice without stopping: {e}"
            open_[e["pid"]] = e["t"]
        elif e["pid"] in open_:
            spans.append((e["pid"], open_.pop(e["pid"]), e["t"]))
    return spans + [(pid, t, until) for pid, t in open_.items()]


def _overlaps(spans):
    return [(a, b) for i, a in enumerate(spans) for b in spans[i + 1:]
            if a[0] != b[0] and a[1] < b[2] and b[1] < a[2]]


def _wait_start_after(path: Path, moment: float, timeout=60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        later = [e for e in _events(path) if e["event"] == "start" and e["t"] > moment]
        if later:
            return later[0]
        time.sleep(0.05)
    raise AssertionError(f"no scheduler started after the lock was lost: {_events(path)}")


def _leader_now(path: Path) -> int:
    spans = _intervals(_events(path), float("inf"))
    running = [pid for pid, _, end in spans if end == float("inf")]
    assert len(running) == 1, spans
    return running[0]


def _run(app_config, tmp_path, lose_lock):
    events = tmp_path / "events.jsonl"
    config = {**app_config, "SCHEDULER_ENABLED": True}
    children = [_spawn(config, events), _spawn(config, events)]
    try:
        _wait_start_after(events, 0)
        handovers = set()
        for _ in range(3):
            time.sleep(0.5)
            leader = _leader_now(events)
            moment = time.time()
            lose_lock(leader)
            handovers.add(_wait_start_after(events, moment)["pid"])
            time.sleep(OPTIONS["check_seconds"] * 2)  # let a late stop of the old leader show up
            spans = _intervals(_events(events), time.time())
            assert _overlaps(spans) == [], spans
        assert {c.poll() for c in children} == {None}
        # The lock really moved: a leader who lost it gave way, not only re-took it.
        assert len(handovers | {leader}) == 2
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
            child.wait(10)


def test_a_terminated_lock_connection_never_leaves_two_schedulers(app, app_config, tmp_path):
    engine = get_engine(app)
    if engine.dialect.name != "postgresql":
        return _run(app_config, tmp_path, lambda leader: _steal_lock_file(app))

    def terminate(_leader):
        with engine.begin() as conn:
            killed = conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = 0 AND objid = :key AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ), {"key": LOCK_KEY}).scalars().all()
        assert killed == [True]

    _run(app_config, tmp_path, terminate)


def _steal_lock_file(app):
    """SQLite: the lock is an flock on a file. Deleting the file lets the next process lock a new
    one at the same path while the leader still holds the old one."""
    path = Path(app.instance_path) / "scheduler.lock"
    assert path.exists()
    path.unlink()
