"""A connected workspace against the emulator, and a one-call way to run a sync."""

from __future__ import annotations

import pytest

from tests.salesforce.conftest import connect_with_oauth

from webapp.db import get_engine
from webapp.salesforce.client import RetryPolicy
from webapp.salesforce.sync import ledger
from webapp.sync.execution import run_queued

FAST = {"retry": RetryPolicy(attempts=3, base_delay=0, max_delay=0), "sleep": lambda s: None}


@pytest.fixture
def connected(admin_client, emulator):
    connect_with_oauth(admin_client, emulator)
    return admin_client.app


def sync(app, trigger="manual", workspace_id=1, **kwargs):
    """Queue a run, claim it and run it here; returns (run_id, outcome)."""
    engine = get_engine(app)
    requested = ledger.request_run(engine, workspace_id, trigger, **kwargs)
    outcome = run_queued(engine, app.extensions["vault"], app.extensions["cache"], requested.run_id, client_options=FAST)
    return requested.run_id, outcome
