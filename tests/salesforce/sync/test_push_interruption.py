"""A push killed with SIGKILL at random points, then run again: the org holds exactly one
opportunity per deal, with the deal's latest values, on the outbox and External ID paths."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.salesforce.conftest import connect_with_oauth
from tests.salesforce.sync.conftest import FAST
from tests.salesforce.sync.twoway_helpers import add_deal, edit_deal, enable
from webapp.db import get_engine
from webapp.salesforce.sync import ledger
from webapp.sync.execution import run_queued

CHILD = Path(__file__).with_name("child_push.py")
ROOT = Path(__file__).resolve().parents[3]
DEALS = 420  # three Collections calls per push
GRACE = 0.5


def _wait_for_the_push(engine, child, timeout=30.0):
    """Until the child's run reaches the two-way phase (or the child ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        with engine.connect() as conn:
            if conn.execute(text("SELECT count(*) FROM sync_run WHERE status = 'running' AND current_object = 'Deals'")).scalar():
                return
        time.sleep(0.02)


def _creates(emulator) -> int:
    calls = emulator.app.emulator.calls
    return calls["collections_create"] + calls["collections_upsert"]


def _wait_for_a_create(emulator, child, timeout=30.0):
    seen = _creates(emulator)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None and _creates(emulator) == seen:
        time.sleep(0.005)


@pytest.mark.parametrize("external_id", [None, "Inbox_Deal_Id__c"], ids=["outbox", "external-id"])
def test_sigkill_during_pushes_never_duplicates(start_emulator, admin_client, app_config, external_id):
    emulator = start_emulator(latency_ms=40)
    connect_with_oauth(admin_client, emulator)
    app = admin_client.app
    engine = get_engine(app)
    vault = app.extensions["vault"]
    run_queued(engine, vault, None, ledger.request_run(engine, 1, "cli").run_id, client_options=FAST)
    enable(app, external_id_field=external_id)
    ids = [add_deal(app, f"Kill deal {i}", amount_minor=100 * i) for i in range(DEALS)]
    config = json.dumps({**app_config, "SECRET_KEY": app.config["SECRET_KEY"]})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(7 if external_id else 11)
    kills = 0
    for attempt in range(5):
        child = subprocess.Popen([sys.executable, str(CHILD), config, str(GRACE)], cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_for_the_push(engine, child)
        if attempt % 2 == 0:
            # Every other kill lands after a create went out, however slow the machine is.
            _wait_for_a_create(emulator, child)
        time.sleep(rng.uniform(0, 0.5))  # somewhere in the push
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        _, errors = child.communicate(timeout=60)
        assert child.returncode in (0, -signal.SIGKILL), errors.decode()[-2000:]
        for deal_id in rng.sample(ids, 25):  # the inbox moves on between attempts
            edit_deal(app, deal_id, amount_minor=rng.randrange(1, 10**7))
    assert kills >= 3
    assert _creates(emulator) > 0  # the kills reached the push
    time.sleep(GRACE + 0.3)  # a killed process's request may still be on its way
    run_id = ledger.request_run(engine, 1, "cli").run_id
    outcome = run_queued(engine, vault, None, run_id, client_options=FAST, pending_grace=timedelta(seconds=GRACE))
    assert outcome.status == "succeeded", outcome.reason

    store = emulator.app.emulator.store
    ours = [r for r in store.tables["Opportunity"].records if not r["IsDeleted"] and r["Name"].startswith("Kill deal ")]
    by_name: dict[str, list] = {}
    for r in ours:
        by_name.setdefault(r["Name"], []).append(r)
    assert len(ours) == DEALS and all(len(v) == 1 for v in by_name.values())
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT d.name, d.amount_minor, l.sf_id, l.state FROM deal d "
                                 "JOIN sync_link l ON l.kind = 'deal' AND l.local_id = d.id")).all()
    assert len(rows) == DEALS
    for name, amount, sf_id, state in rows:
        record = store.get("Opportunity", sf_id)
        assert state == "linked" and record["Name"] == name
        assert round(record["Amount"] * 100) == amount
