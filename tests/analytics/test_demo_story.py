"""The demo's mail history and the emulator's org line up: after a sync, the analytics page
tells a story (Enterprise accounts are answered faster than SMB ones)."""

from __future__ import annotations

from webapp.analytics.report import Query, run
from webapp.db import get_engine, session_scope
from webapp.demo.seed import WORKSPACE
from webapp.emulator import EmulatorOptions
from webapp.emulator.server import serve_in_thread
from webapp.integrations import salesforce_connection as connection


def test_demo_analytics_story_after_a_sync(app, db):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    emulator = serve_in_thread(EmulatorOptions())
    try:
        with session_scope(get_engine(app)) as session:
            connection.save_setup(
                session, app.extensions["vault"], 1,
                connection.SetupInput(mode="client-credentials", environment="custom", url=emulator.url,
                                      client_id="emulator-client-id", client_secret="emulator-client-secret"),
            )
        result = runner.invoke(args=["salesforce", "sync", "--workspace", WORKSPACE])
        assert result.exit_code == 0, result.output
    finally:
        emulator.stop()
    with db() as session:
        by_type = {row.value: row for row in run(session, 1, Query(group_by="account_type")).rows}
        by_account = run(session, 1, Query(group_by="account")).rows
    assert by_type["Enterprise"].median < by_type["Mid-Market"].median < by_type["SMB"].median
    assert by_type["(none)"].received > 0  # free-mail and inbox-only senders have no account
    assert len(by_account) > 20
