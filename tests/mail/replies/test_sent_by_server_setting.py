"""The per-mailbox "the SMTP server files sent mail itself" setting, from the settings page and
the command line; off by default, so a reply is appended to the sent folder."""

from __future__ import annotations

from sqlalchemy import select

from tests.mail.conftest import MAILBOX_PASSWORD, MAILBOX_USER
from webapp.models import Mailbox


def _form(dovecot, smtp_server, **fields):
    data = {
        "address": MAILBOX_USER, "display_name": "Acme Support", "imap_host": dovecot.host,
        "imap_port": str(dovecot.port), "imap_security": "tls", "imap_username": MAILBOX_USER,
        "imap_password": MAILBOX_PASSWORD, "inbox_folder": "INBOX", "sent_folder": "Sent",
        "smtp_host": smtp_server.host, "smtp_port": str(smtp_server.port), "smtp_security": "starttls",
        "smtp_same_as_imap": ["0", "1"], "smtp_username": "", "smtp_password": "",
        "fetch_interval_minutes": "2", "backfill_days": "90", "enabled": ["0", "1"],
    }
    data.update(fields)
    return data


def _files_sent(db) -> bool:
    with db() as session:
        return session.execute(select(Mailbox.smtp_files_sent)).scalar_one()


def test_the_settings_form_sets_and_clears_it(admin_client, db, dovecot, smtp_server):
    assert admin_client.post("/settings/mailboxes/new", _form(dovecot, smtp_server)).status_code == 302
    assert _files_sent(db) is False
    with db() as session:
        mailbox_id = session.execute(select(Mailbox.id)).scalar_one()
    page = admin_client.get(f"/settings/mailboxes/{mailbox_id}").get_data(as_text=True)
    assert 'name="smtp_files_sent" value="1" id="smtp_files_sent" >' in page  # shown, unticked
    assert admin_client.post(f"/settings/mailboxes/{mailbox_id}",
                             _form(dovecot, smtp_server, imap_password="", smtp_files_sent="1")).status_code == 302
    assert _files_sent(db) is True
    page = admin_client.get(f"/settings/mailboxes/{mailbox_id}").get_data(as_text=True)
    assert 'id="smtp_files_sent" checked' in page
    admin_client.post(f"/settings/mailboxes/{mailbox_id}", _form(dovecot, smtp_server, imap_password=""))
    assert _files_sent(db) is False


def test_the_command_line_sets_it(app, db, dovecot, smtp_server, workspace_id):
    result = app.test_cli_runner().invoke(args=[
        "mailbox", "add", "--workspace", "Acme", "--address", MAILBOX_USER, "--imap-host", dovecot.host,
        "--imap-port", str(dovecot.port), "--smtp-host", smtp_server.host, "--smtp-port", str(smtp_server.port),
        "--smtp-files-sent"], env={"MAILBOX_IMAP_PASSWORD": MAILBOX_PASSWORD})
    assert result.exit_code == 0, result.output
    assert _files_sent(db) is True
