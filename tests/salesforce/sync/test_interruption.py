"""A sync killed with SIGKILL at random points, then run again, ends exactly where an
uninterrupted sync ends: nothing lost, nothing duplicated (SQLite and Postgres alike)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from tests.salesforce.conftest import connect_with_oauth
from tests.salesforce.sync.conftest import sync
from webapp.db import get_engine

CHILD = Path(__file__).with_name("child_sync.py")
ROOT = Path(__file__).resolve().parents[3]


def _expected(store):
    live = lambda name: {r["Id"]: r for r in store.tables[name].records if not r["IsDeleted"]}  # noqa: E731
    contacts = live("Contact")
    emails: dict[str, list] = {}
    for r in contacts.values():
        if r["Email"]:
            emails.setdefault(r["Email"].lower(), []).append(r["Id"])
    inbox = {e: (ids[0] if len(ids) == 1 else None, len(ids)) for e, ids in emails.items()}
    return {
        "Account": set(live("Account")), "Contact": set(contacts), "Opportunity": set(live("Opportunity")),
        "OpportunityHistory": set(live("OpportunityHistory")), "inbox": inbox,
    }


def _actual(engine):
    with engine.connect() as conn:
        ids = lambda t: [r[0] for r in conn.execute(text(f"SELECT sf_id FROM {t} WHERE NOT is_deleted"))]  # noqa: E731
        inbox = {e: (sf, n) for e, sf, n in conn.execute(text("SELECT email_normalized, salesforce_id, salesforce_matches FROM contact"))}
        listed = {"Account": ids("sf_account"), "Contact": ids("sf_contact"), "Opportunity": ids("sf_opportunity"),
                  "OpportunityHistory": ids("sf_opportunity_history")}
    for name, values in listed.items():
        assert len(values) == len(set(values)), f"duplicate {name} rows"
    return {**{k: set(v) for k, v in listed.items()}, "inbox": inbox}


def test_sigkill_at_random_points_then_resume_equals_an_uninterrupted_run(start_emulator, admin_client, app_config):
    emulator = start_emulator(accounts=150, contacts=900, opportunities=400, latency_ms=15)
    connect_with_oauth(admin_client, emulator)
    app = admin_client.app
    engine = get_engine(app)
    config = json.dumps({**app_config, "SECRET_KEY": app.config["SECRET_KEY"]})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(6)
    kills = 0
    for _ in range(4):
        child = subprocess.Popen([sys.executable, str(CHILD), config], cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.4, 1.6))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        _, errors = child.communicate(timeout=30)
        assert child.returncode in (0, -signal.SIGKILL), errors.decode()[-2000:]
        # Change the org between attempts, as a live org would.
        emulator.app.emulator.store.update(
            emulator.app.emulator.store.tables["Contact"],
            next(r for r in emulator.app.emulator.store.tables["Contact"].records if not r["IsDeleted"] and r["Email"]),
            {"Title": f"Title {_}"},
        )
    assert kills >= 2
    with engine.connect() as conn:
        interrupted = conn.execute(text("SELECT count(*) FROM sync_run WHERE status = 'running'")).scalar()
    assert interrupted <= 1
    _, outcome = sync(app)
    assert outcome.status == "succeeded"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sync_run WHERE status = 'running'")).scalar() == 0
    assert _actual(engine) == _expected(emulator.app.emulator.store)
