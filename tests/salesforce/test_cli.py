"""`flask salesforce configure|status|disconnect` and `flask rotate-encryption-key`."""

from __future__ import annotations

from cryptography.fernet import Fernet
from sqlmodel import Session, select

from tests.salesforce.test_connect import _refresh_token_from
from webapp import create_app
from webapp.db import get_engine
from webapp.models import SalesforceConnection, SyncSettings


def _configure(app, emulator, *extra, mode="refresh-token"):
    args = ["salesforce", "configure", "--workspace", "Acme", "--mode", mode, "--login-url", emulator.url,
            "--client-id", "emulator-client-id", "--client-secret", "emulator-client-secret", *extra]
    return app.test_cli_runner().invoke(args=args)


def test_configure_status_disconnect(app, make_user, emulator):
    make_user("admin@acme.test", role="admin")
    token = _refresh_token_from(emulator)
    result = _configure(app, emulator, "--refresh-token", token, "--instance-url", emulator.url)
    assert result.exit_code == 0, result.output
    assert "Connected “Acme” to Salesforce as admin@emulator.test" in result.output
    status = app.test_cli_runner().invoke(args=["salesforce", "status", "--workspace", "Acme"])
    assert status.exit_code == 0 and "connected" in status.output and emulator.url in status.output
    assert token not in status.output
    gone = app.test_cli_runner().invoke(args=["salesforce", "disconnect", "--workspace", "Acme"])
    assert gone.exit_code == 0 and "revoked" in gone.output
    after = app.test_cli_runner().invoke(args=["salesforce", "status", "--workspace", "Acme"])
    assert after.exit_code == 1 and "configured" in after.output


def test_configure_reads_the_environment(app, make_user, emulator, monkeypatch):
    make_user("admin@acme.test", role="admin")
    for name, value in {
        "SALESFORCE_WORKSPACE": "Acme", "SALESFORCE_MODE": "client-credentials", "SALESFORCE_LOGIN_URL": emulator.url,
        "SALESFORCE_CLIENT_ID": "emulator-client-id", "SALESFORCE_CLIENT_SECRET": "emulator-client-secret",
    }.items():
        monkeypatch.setenv(name, value)
    result = app.test_cli_runner().invoke(args=["salesforce", "configure"])
    assert result.exit_code == 0, result.output
    assert "Connected" in result.output


def test_oauth_mode_is_saved_for_a_browser_connect(app, make_user, emulator):
    make_user("admin@acme.test", role="admin")
    result = _configure(app, emulator, mode="oauth")
    assert result.exit_code == 0 and "clicks Connect" in result.output


def test_bad_cli_input_exits_non_zero_and_saves_nothing(app, make_user, emulator):
    make_user("admin@acme.test", role="admin")
    runner = app.test_cli_runner()
    cases = [
        (["salesforce", "configure", "--workspace", "Nope", "--mode", "oauth", "--login-url", emulator.url,
          "--client-id", "x", "--client-secret", "y"], "No workspace"),
        (["salesforce", "configure", "--workspace", "Acme", "--mode", "oauth", "--login-url", "not a url",
          "--client-id", "x", "--client-secret", "y"], "url"),
        (["salesforce", "configure", "--workspace", "Acme", "--mode", "refresh-token", "--login-url", emulator.url,
          "--client-id", "emulator-client-id", "--client-secret", "emulator-client-secret",
          "--refresh-token", "bogus", "--instance-url", emulator.url], "did not accept"),
        (["salesforce", "disconnect", "--workspace", "Acme"], "not set up"),
    ]
    for args, message in cases:
        result = runner.invoke(args=args)
        assert result.exit_code != 0, args
        assert message in result.output, result.output
    with Session(get_engine(app)) as s:
        assert s.exec(select(SalesforceConnection)).all() == []


def test_rotate_encryption_key_re_encrypts_under_the_newest_key(app_config, make_user, emulator):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    first = create_app({**app_config, "ENCRYPTION_KEYS": old})
    with first.app_context():
        make_user("admin@acme.test", role="admin")
    assert _configure(first, emulator, mode="client-credentials").exit_code == 0
    with Session(get_engine(first)) as s:  # the admins' webhook URL is a secret too
        s.add(SyncSettings(workspace_id=1, extra_fields={},
                           notify_webhook_enc=first.extensions["vault"].encrypt("https://hooks.example.com/T/B/x")))
        s.commit()
    both = create_app({**app_config, "ENCRYPTION_KEYS": f"{new},{old}"})
    result = both.test_cli_runner().invoke(args=["rotate-encryption-key"])
    assert result.exit_code == 0 and "2 rows" in result.output
    only_new = create_app({**app_config, "ENCRYPTION_KEYS": new})
    with Session(get_engine(only_new)) as s:
        conn = s.exec(select(SalesforceConnection)).one()
        assert only_new.extensions["vault"].decrypt(conn.client_secret_enc) == "emulator-client-secret"
        hook = s.exec(select(SyncSettings)).one()
        assert only_new.extensions["vault"].decrypt(hook.notify_webhook_enc) == "https://hooks.example.com/T/B/x"
    # A key set that cannot read the secrets fails loudly and changes nothing.
    stranger = create_app({**app_config, "ENCRYPTION_KEYS": Fernet.generate_key().decode()})
    failed = stranger.test_cli_runner().invoke(args=["rotate-encryption-key"])
    assert failed.exit_code != 0 and "cannot be decrypted" in failed.output
    for a in (first, both, only_new, stranger):
        get_engine(a).dispose()
