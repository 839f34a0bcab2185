"""`flask salesforce sync --workspace W`: foreground, progress, exit status."""

from __future__ import annotations

from sqlalchemy import text

from webapp.db import get_engine


def test_cli_sync_runs_in_the_foreground(connected, emulator):
    runner = connected.test_cli_runner()
    result = runner.invoke(args=["salesforce", "sync", "--workspace", "Acme"])
    assert result.exit_code == 0, result.output
    assert "Contacts" in result.output and "Done" in result.output
    with get_engine(connected).connect() as conn:
        assert conn.execute(text("SELECT trigger, status FROM sync_run")).one() == ("cli", "succeeded")


def test_cli_sync_exits_non_zero_when_it_fails(connected, emulator):
    emulator.app.emulator.revoke_refresh_tokens()
    emulator.app.emulator.expire_sessions()
    result = connected.test_cli_runner().invoke(args=["salesforce", "sync", "--workspace", "Acme"])
    assert result.exit_code == 1 and "Reconnect needed" in result.output
    result = connected.test_cli_runner().invoke(args=["salesforce", "sync", "--workspace", "Nobody"])
    assert result.exit_code != 0 and "No workspace" in result.output


def test_cli_retry_errors_has_its_own_trigger_and_label(connected, emulator, admin_client):
    result = connected.test_cli_runner().invoke(args=["salesforce", "sync", "--workspace", "Acme", "--retry-errors"])
    assert result.exit_code == 0, result.output
    with get_engine(connected).connect() as conn:
        assert conn.execute(text("SELECT trigger, status FROM sync_run")).one() == ("cli_errors", "succeeded")
    assert "Command line: failed records" in admin_client.get("/settings/integrations/salesforce").get_data(as_text=True)
