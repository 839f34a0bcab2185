"""Email logging killed with SIGKILL at random points, then run again: the org holds exactly
one EmailMessage (or Email task) per Message-ID, and each relation once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.salesforce.conftest import connect_with_oauth
from tests.salesforce.sync.conftest import FAST
from tests.salesforce.sync.email_helpers import conversation, customer_with_open_opportunity, live, log_rows, logging_on
from webapp.clock import utcnow
from webapp.db import get_engine
from webapp.models import EmailLog, SyncRun
from webapp.salesforce.sync import ledger
from webapp.sync.execution import run_queued

CHILD = Path(__file__).with_name("child_push.py")  # a sync run in a child process
ROOT = Path(__file__).resolve().parents[3]
CONVERSATIONS, PER_CONVERSATION = 90, 5  # 450 messages: three Collections calls of creates
GRACE = 0.5
RUN, LOG = SyncRun.__table__, EmailLog.__table__


def _wait_for_emails(engine, child, timeout=30.0):
    """Until this child's run (not a killed one's row, before it is reaped) logs emails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        with engine.connect() as conn:
            if conn.execute(select(func.count()).select_from(RUN).where(
                    RUN.c.status == "running", RUN.c.current_object == "Emails",
                    RUN.c.worker.like(f"%:{child.pid}"))).scalar():
                return
        time.sleep(0.02)


def _wait_for_a_pending_create(engine, child, since, timeout=30.0):
    """Until this child marks a batch pending: its create is about to leave or on its way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        with engine.connect() as conn:
            if conn.execute(select(func.count()).select_from(LOG).where(LOG.c.state == "pending", LOG.c.sent_at > since)).scalar():
                return
        time.sleep(0.003)


@pytest.mark.parametrize("enhanced", [True, False], ids=["email-message", "task"])
def test_sigkill_during_logging_never_duplicates(start_emulator, admin_client, app_config, enhanced):
    emulator = start_emulator(latency_ms=40, enhanced_email=enhanced)
    connect_with_oauth(admin_client, emulator)
    app = admin_client.app
    engine = get_engine(app)
    vault = app.extensions["vault"]
    run_queued(engine, vault, None, ledger.request_run(engine, 1, "cli").run_id, client_options=FAST)
    contact, _ = customer_with_open_opportunity(emulator)
    colleague = next(c for c in live(emulator, "Contact") if c["Email"] and c["Id"] != contact["Id"])
    for i in range(CONVERSATIONS):
        conversation(app, contact["Email"], messages=PER_CONVERSATION, subject=f"Kill {i}", cc=colleague["Email"])
    logging_on(app, "auto")
    config = json.dumps({**app_config, "SECRET_KEY": app.config["SECRET_KEY"]})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(5 if enhanced else 9)
    kills = 0
    for attempt in range(5):
        started = utcnow()
        child = subprocess.Popen([sys.executable, str(CHILD), config, str(GRACE)], cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_for_emails(engine, child)
        if attempt % 2 == 0:
            # Every other kill lands while a create is in flight (the emulator waits 40 ms
            # before it answers, then commits whether or not the caller is still there).
            _wait_for_a_pending_create(engine, child, started)
            time.sleep(rng.uniform(0, 0.06))
        else:
            time.sleep(rng.uniform(0, 0.4))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        _, errors = child.communicate(timeout=60)
        assert child.returncode in (0, -signal.SIGKILL), errors.decode()[-2000:]
        time.sleep(GRACE + 0.2)  # past the grace: a pending create not found is sent again
    assert kills >= 3
    assert emulator.app.emulator.calls["collections_create"] > 0
    outcome = run_queued(engine, vault, None, ledger.request_run(engine, 1, "cli").run_id, client_options=FAST,
                         pending_grace=timedelta(seconds=GRACE))
    assert outcome.status == "succeeded", outcome.reason

    total = CONVERSATIONS * PER_CONVERSATION
    rows = log_rows(app)
    assert len(rows) == total and {r.state for r in rows} == {"sent"}
    if enhanced:
        emails = [e for e in live(emulator, "EmailMessage") if (e["MessageIdentifier"] or "").startswith("<m-")]
        assert len(emails) == total
        assert len({e["MessageIdentifier"] for e in emails}) == total
        assert {r.sf_id for r in rows} == {e["Id"] for e in emails}
        relations = Counter((r["EmailMessageId"], r["RelationId"], r["RelationType"])
                            for r in live(emulator, "EmailMessageRelation"))
        ours = {e["Id"] for e in emails}
        mine = {k: n for k, n in relations.items() if k[0] in ours}
        assert len(mine) == 2 * total and set(mine.values()) == {1}
    else:
        tasks = [t for t in live(emulator, "Task") if (t["Subject"] or "").startswith("Email: Kill ")]
        assert len(tasks) == total
        assert {r.sf_id for r in rows} == {t["Id"] for t in tasks}
