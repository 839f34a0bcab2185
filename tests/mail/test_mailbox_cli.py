"""`flask mailbox add/list/test/fetch/remove`: headless set-up, non-zero exit on bad input."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.mail.conftest import MAILBOX_PASSWORD, MAILBOX_USER
from tests.mail.messages import raw
from webapp.models import Mailbox, Message


def _add_args(dovecot, smtp_port, *extra):
    return ["mailbox", "add", "--workspace", "Acme", "--address", MAILBOX_USER, "--imap-host", dovecot.host,
            "--imap-port", str(dovecot.port), "--smtp-host", dovecot.host, "--smtp-port", str(smtp_port), *extra]


def _count(db, model):
    with db() as session:
        return session.execute(select(func.count()).select_from(model)).scalar()


def test_add_test_fetch_list_remove(app, db, dovecot, smtp_server, workspace_id):
    runner = app.test_cli_runner()
    result = runner.invoke(args=_add_args(dovecot, smtp_server.port), env={"MAILBOX_IMAP_PASSWORD": MAILBOX_PASSWORD})
    assert result.exit_code == 0, result.output
    assert "Added mailbox support@acme.test" in result.output
    with db() as session:
        mailbox = session.execute(select(Mailbox)).scalar_one()
        assert app.extensions["vault"].decrypt(mailbox.imap_password_enc) == MAILBOX_PASSWORD

    result = runner.invoke(args=["mailbox", "test", "--workspace", "Acme", MAILBOX_USER])
    assert result.exit_code == 0, result.output
    assert "IMAP: OK" in result.output and "SMTP: OK" in result.output

    dovecot.append(MAILBOX_USER, raw(1))
    result = runner.invoke(args=["mailbox", "fetch", "--workspace", "Acme", MAILBOX_USER])
    assert result.exit_code == 0, result.output
    assert "Imported 1 of 1 messages" in result.output
    assert _count(db, Message) == 1

    result = runner.invoke(args=["mailbox", "list", "--workspace", "Acme"])
    assert result.exit_code == 0 and "support@acme.test  [ok]" in result.output and "INBOX: 1 stored" in result.output
    assert MAILBOX_PASSWORD not in result.output

    # Adding the same address again changes it (here: its interval), keeping the password.
    result = runner.invoke(args=_add_args(dovecot, smtp_server.port, "--fetch-interval", "5"),
                           env={"MAILBOX_IMAP_PASSWORD": MAILBOX_PASSWORD})
    assert result.exit_code == 0 and "Updated" in result.output

    result = runner.invoke(args=["mailbox", "remove", "--workspace", "Acme", MAILBOX_USER])
    assert result.exit_code == 0
    assert _count(db, Mailbox) == 0 and _count(db, Message) == 1


def test_bad_input_exits_non_zero_and_saves_nothing(app, db, dovecot, workspace_id):
    runner = app.test_cli_runner()
    env = {"MAILBOX_IMAP_PASSWORD": MAILBOX_PASSWORD}
    cases = [
        (["mailbox", "add", "--workspace", "Nope", "--address", "a@b.test", "--imap-host", "h.test", "--smtp-host", "h.test"],
         "No workspace named “Nope”"),
        (_add_args(dovecot, 587, "--address", "not-an-address"), "is not an email address"),
        (_add_args(dovecot, 587, "--imap-port", "0"), "between 1 and 65,535"),
        (_add_args(dovecot, 587, "--imap-security", "ssl"), "Invalid value for '--imap-security'"),
        (_add_args(dovecot, 587, "--backfill-days", "-3"), "between 0 and 3,650"),
        (_add_args(dovecot, 587, "--accept-imap-certificate", "zz"), "64 hexadecimal digits"),
        (_add_args(dovecot, 587, "--smtp-username", "relay"), "SMTP password is needed"),
    ]
    for args, message in cases:
        result = runner.invoke(args=args, env=env)
        assert result.exit_code != 0, (args, result.output)
        assert message in result.output, (args, result.output)
    assert _count(db, Mailbox) == 0
    # No password in the environment and none typed: refused, not stored empty.
    result = runner.invoke(args=_add_args(dovecot, 587), input="")
    assert result.exit_code != 0 and _count(db, Mailbox) == 0
    for command in ("test", "fetch", "remove"):
        result = runner.invoke(args=["mailbox", command, "--workspace", "Acme", "nobody@acme.test"])
        assert result.exit_code == 1 and "has no mailbox nobody@acme.test" in result.output


def test_test_and_fetch_exit_1_naming_what_failed(app, db, dovecot, workspace_id):
    runner = app.test_cli_runner()
    result = runner.invoke(args=_add_args(dovecot, 1), env={"MAILBOX_IMAP_PASSWORD": "wrong"})
    assert result.exit_code == 0
    result = runner.invoke(args=["mailbox", "test", "--workspace", "Acme", MAILBOX_USER])
    assert result.exit_code == 1
    assert "IMAP: FAILED  Authentication failed" in result.output
    assert "SMTP: FAILED  Connection refused" in result.output
    result = runner.invoke(args=["mailbox", "fetch", "--workspace", "Acme", MAILBOX_USER])
    assert result.exit_code == 1 and "Authentication failed" in result.output
