"""Settings → Mailboxes: admins only, scoped to the workspace, passwords encrypted and never
shown back, Test naming what failed, accepting a self-signed certificate, Fetch now."""

from __future__ import annotations

import re

import pytest
import trustme
from sqlalchemy import func, select

from tests.mail.conftest import MAILBOX_PASSWORD, MAILBOX_USER
from tests.mailservers import Dovecot, SmtpServer, free_port
from webapp.addresses import own_addresses
from webapp.models import Mailbox, MailboxFolder, WorkspaceAddress


def _form(dovecot, smtp_server=None, **fields):
    data = {
        "address": "Support@Acme.test", "display_name": "Acme Support",
        "imap_host": dovecot.host, "imap_port": str(dovecot.port), "imap_security": "tls",
        "imap_username": MAILBOX_USER, "imap_password": MAILBOX_PASSWORD,
        "inbox_folder": "INBOX", "sent_folder": "Sent",
        "smtp_host": dovecot.host, "smtp_port": str(smtp_server.port if smtp_server else 1),
        "smtp_security": "starttls", "smtp_same_as_imap": ["0", "1"],
        "smtp_username": "", "smtp_password": "",
        "fetch_interval_minutes": "2", "backfill_days": "90", "enabled": ["0", "1"],
    }
    data.update(fields)
    return data


def _only_mailbox(db) -> Mailbox:
    with db() as session:
        return session.execute(select(Mailbox)).scalar_one()


def test_members_and_strangers_cannot_reach_the_page(client, member_client):
    assert member_client.get("/settings/mailboxes").status_code == 403
    assert member_client.post("/settings/mailboxes/new", {}).status_code == 403


def test_add_stores_the_password_encrypted_and_never_shows_it(app, admin_client, db, dovecot):
    page = admin_client.get("/settings/mailboxes")
    assert page.status_code == 200 and "No mailboxes yet" in page.get_data(as_text=True)
    response = admin_client.post("/settings/mailboxes/new", _form(dovecot))
    assert response.status_code == 302
    mailbox = _only_mailbox(db)
    assert mailbox.address == "support@acme.test"
    assert MAILBOX_PASSWORD not in mailbox.imap_password_enc
    assert app.extensions["vault"].decrypt(mailbox.imap_password_enc) == MAILBOX_PASSWORD
    assert (mailbox.fetch_interval_minutes, mailbox.backfill_days, mailbox.smtp_same_as_imap) == (2, 90, True)
    for url in ("/settings/mailboxes", f"/settings/mailboxes/{mailbox.id}"):
        html = admin_client.get(url).get_data(as_text=True)
        assert MAILBOX_PASSWORD not in html and mailbox.imap_password_enc not in html
    # The mailbox's address is one of the workspace's own from now on, listed addresses or not.
    with db() as session:
        assert own_addresses(session, mailbox.workspace_id).is_ours("support@acme.test")
        session.add(WorkspaceAddress(workspace_id=mailbox.workspace_id, value="elsewhere.test"))
    with db() as session:
        own = own_addresses(session, mailbox.workspace_id)
        assert own.from_settings and own.is_ours("support@acme.test") and not own.is_ours("other@acme.test")


def test_edit_keeps_the_password_when_left_empty_and_replaces_it_when_given(app, admin_client, db, dovecot):
    admin_client.post("/settings/mailboxes/new", _form(dovecot))
    mailbox = _only_mailbox(db)
    response = admin_client.post(f"/settings/mailboxes/{mailbox.id}",
                                 _form(dovecot, imap_password="", display_name="Help desk", backfill_days="30"))
    assert response.status_code == 302
    kept = _only_mailbox(db)
    assert (kept.display_name, kept.backfill_days) == ("Help desk", 30)
    assert app.extensions["vault"].decrypt(kept.imap_password_enc) == MAILBOX_PASSWORD
    admin_client.post(f"/settings/mailboxes/{mailbox.id}", _form(dovecot, imap_password="new-one"))
    assert app.extensions["vault"].decrypt(_only_mailbox(db).imap_password_enc) == "new-one"


@pytest.mark.parametrize("field, value, message", [
    ("address", "not-an-address", "is not an email address"),
    ("imap_host", "", "host name is needed"),
    ("imap_host", "bad host!", "is not a host name"),
    ("imap_port", "70000", "between 1 and 65,535"),
    ("imap_port", "abc", "whole number"),
    ("imap_security", "ssl3", "implicit TLS or STARTTLS"),
    ("imap_password", "", "password (or app password) is needed"),
    ("inbox_folder", "", "inbox folder is needed"),
    ("fetch_interval_minutes", "0", "between 1 and 1,440"),
    ("backfill_days", "-1", "between 0 and 3,650"),
    ("smtp_host", "", "host name is needed"),
])
def test_bad_input_is_refused_with_the_field_named_and_nothing_stored(admin_client, db, dovecot, field, value, message):
    response = admin_client.post("/settings/mailboxes/new", _form(dovecot, **{field: value}))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with db() as session:
        assert session.execute(select(func.count()).select_from(Mailbox)).scalar() == 0


def test_own_smtp_login_needs_its_username_and_password(app, admin_client, db, dovecot):
    response = admin_client.post("/settings/mailboxes/new", _form(dovecot, smtp_same_as_imap="0"))
    assert response.status_code == 422 and "SMTP username is needed" in response.get_data(as_text=True)
    response = admin_client.post("/settings/mailboxes/new", _form(dovecot, smtp_same_as_imap="0",
                                                                  smtp_username="relay", smtp_password="relay-pw"))
    assert response.status_code == 302
    mailbox = _only_mailbox(db)
    assert mailbox.smtp_username == "relay"
    assert app.extensions["vault"].decrypt(mailbox.smtp_password_enc) == "relay-pw"


def test_the_same_address_twice_is_refused(admin_client, db, dovecot):
    admin_client.post("/settings/mailboxes/new", _form(dovecot))
    response = admin_client.post("/settings/mailboxes/new", _form(dovecot, address="support@acme.test"))
    assert response.status_code == 422 and "already has a mailbox" in response.get_data(as_text=True)


def test_another_workspaces_mailbox_is_404_everywhere(admin_client, db, dovecot, make_user, make_mailbox):
    _, other = make_user("boss@globex.test", role="admin", workspace="Globex")
    theirs = make_mailbox(other, address="support@globex.test")
    for url in (f"/settings/mailboxes/{theirs}", f"/settings/mailboxes/{theirs}/status"):
        assert admin_client.get(url).status_code == 404
    for action in ("", "/delete", "/test", "/fetch", "/pin", "/unpin"):
        assert admin_client.post(f"/settings/mailboxes/{theirs}{action}", _form(dovecot)).status_code == 404
    with db() as session:
        mailbox = session.get(Mailbox, theirs)
        assert mailbox.address == "support@globex.test" and mailbox.fetch_requested_at is None
    assert "globex" not in admin_client.get("/settings/mailboxes").get_data(as_text=True)


def test_delete_removes_the_mailbox_and_its_state_but_keeps_the_mail(admin_client, db, dovecot, fetch):
    from tests.mail.messages import raw
    from webapp.models import Message

    admin_client.post("/settings/mailboxes/new", _form(dovecot))
    mailbox = _only_mailbox(db)
    dovecot.append(MAILBOX_USER, raw(1))
    assert fetch(mailbox.id).stored == 1
    assert admin_client.post(f"/settings/mailboxes/{mailbox.id}/delete").status_code == 302
    with db() as session:
        assert session.execute(select(func.count()).select_from(Mailbox)).scalar() == 0
        assert session.execute(select(func.count()).select_from(MailboxFolder)).scalar() == 0
        assert session.execute(select(func.count()).select_from(Message)).scalar() == 1


def _test(admin_client, mailbox_id):
    response = admin_client.post(f"/settings/mailboxes/{mailbox_id}/test", htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    kinds = dict(re.findall(r'data-service="(\w+)" data-kind="(\w+)"', html))
    return kinds, html


def test_test_passes_for_a_working_mailbox(admin_client, db, dovecot, smtp_server):
    admin_client.post("/settings/mailboxes/new", _form(dovecot, smtp_server))
    kinds, html = _test(admin_client, _only_mailbox(db).id)
    assert kinds == {"imap": "ok", "smtp": "ok"}, html
    assert "opened INBOX, Sent" in html


def test_test_names_wrong_passwords_for_imap_and_smtp(admin_client, db, dovecot, smtp_server):
    admin_client.post("/settings/mailboxes/new", _form(dovecot, smtp_server, imap_password="wrong"))
    kinds, html = _test(admin_client, _only_mailbox(db).id)
    assert kinds == {"imap": "auth", "smtp": "auth"}
    assert html.count("Authentication failed: the") == 2


def test_test_names_a_missing_folder(admin_client, db, dovecot, smtp_server):
    admin_client.post("/settings/mailboxes/new", _form(dovecot, smtp_server, sent_folder="Sent Items"))
    kinds, html = _test(admin_client, _only_mailbox(db).id)
    assert kinds == {"imap": "folder", "smtp": "ok"}
    assert "Folder missing" in html and "Sent Items" in html


def test_test_names_refused_connections_and_failed_name_lookups(admin_client, db, dovecot):
    closed = free_port()
    admin_client.post("/settings/mailboxes/new", _form(dovecot, imap_port=str(closed), smtp_port=str(closed)))
    kinds, html = _test(admin_client, _only_mailbox(db).id)
    assert kinds == {"imap": "refused", "smtp": "refused"} and "Connection refused" in html
    mailbox = _only_mailbox(db)
    admin_client.post(f"/settings/mailboxes/{mailbox.id}",
                      _form(dovecot, imap_host="imap.nowhere.invalid", smtp_host="smtp.nowhere.invalid"))
    kinds, html = _test(admin_client, mailbox.id)
    assert kinds == {"imap": "lookup", "smtp": "lookup"} and "Name lookup failed" in html


def test_implicit_tls_smtp_passes(admin_client, db, dovecot):
    with SmtpServer(dovecot, implicit_tls=True) as server:
        admin_client.post("/settings/mailboxes/new", _form(dovecot, smtp_port=str(server.port), smtp_security="tls"))
        kinds, html = _test(admin_client, _only_mailbox(db).id)
    assert kinds == {"imap": "ok", "smtp": "ok"}, html


@pytest.fixture
def self_signed(tmp_path):
    """A Dovecot whose certificate no CA the app trusts has signed (a self-signed server)."""
    with Dovecot(tmp_path / "self-signed", ca=trustme.CA()) as server:
        server.add_user(MAILBOX_USER, MAILBOX_PASSWORD)
        yield server


def test_a_self_signed_certificate_is_refused_then_accepted_by_its_fingerprint(
        admin_client, db, dovecot, self_signed, fetch):
    from tests.mail.messages import raw

    admin_client.post("/settings/mailboxes/new", _form(self_signed, imap_port=str(self_signed.port)))
    mailbox = _only_mailbox(db)
    kinds, html = _test(admin_client, mailbox.id)
    assert kinds["imap"] == "certificate" and "could not be verified" in html
    # The page offers the certificate the server showed, by its SHA-256, to accept.
    offered = re.search(r'name="service" value="imap">\s*<input type="hidden" name="fingerprint" value="([0-9a-f]{64})"', html)
    assert offered and offered.group(1) == self_signed.fingerprint
    assert fetch(mailbox.id).error.kind == "certificate"

    response = admin_client.post(f"/settings/mailboxes/{mailbox.id}/pin",
                                 {"service": "imap", "fingerprint": offered.group(1)})
    assert response.status_code == 302
    page = admin_client.get("/settings/mailboxes").get_data(as_text=True)
    assert "Self-signed IMAP certificate accepted" in page
    kinds, _ = _test(admin_client, mailbox.id)
    assert kinds["imap"] == "ok"
    self_signed.append(MAILBOX_USER, raw(1))
    assert fetch(mailbox.id).stored == 1


def test_a_pinned_certificate_that_changes_is_refused(admin_client, db, dovecot, fetch):
    admin_client.post("/settings/mailboxes/new", _form(dovecot))
    mailbox = _only_mailbox(db)
    other = "ab" * 32
    admin_client.post(f"/settings/mailboxes/{mailbox.id}/pin", {"service": "imap", "fingerprint": other})
    kinds, html = _test(admin_client, mailbox.id)
    assert kinds["imap"] == "certificate" and "certificate changed" in html
    result = fetch(mailbox.id)
    assert result.error.kind == "certificate"
    # Back to normal verification (the test CA is trusted through MAIL_CA_FILE).
    admin_client.post(f"/settings/mailboxes/{mailbox.id}/unpin", {"service": "imap"})
    assert _test(admin_client, mailbox.id)[0]["imap"] == "ok"


def test_a_malformed_fingerprint_is_refused(admin_client, db, dovecot):
    admin_client.post("/settings/mailboxes/new", _form(dovecot))
    mailbox = _only_mailbox(db)
    response = admin_client.post(f"/settings/mailboxes/{mailbox.id}/pin", {"service": "imap", "fingerprint": "xyz"})
    assert response.status_code == 303
    assert _only_mailbox(db).imap_pinned_sha256 is None
    assert "64 hexadecimal digits" in admin_client.get("/settings/mailboxes").get_data(as_text=True)


def test_fetch_now_asks_the_scheduler_and_the_state_polls(admin_client, db, dovecot):
    admin_client.post("/settings/mailboxes/new", _form(dovecot))
    mailbox = _only_mailbox(db)
    response = admin_client.post(f"/settings/mailboxes/{mailbox.id}/fetch", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Fetch requested" in html
    assert f'hx-get="/settings/mailboxes/{mailbox.id}/status"' in html
    assert _only_mailbox(db).fetch_requested_at is not None


def test_the_page_shows_backfill_progress_and_the_last_error(admin_client, db, dovecot, fetch):
    admin_client.post("/settings/mailboxes/new", _form(dovecot, imap_password="wrong"))
    mailbox = _only_mailbox(db)
    fetch(mailbox.id)
    with db() as session:
        session.add(MailboxFolder(mailbox_id=mailbox.id, workspace_id=mailbox.workspace_id, role="inbox",
                                  name="INBOX", uidvalidity=1, last_uid=40, state="backfill", to_read=160, done=40))
    html = admin_client.get(f"/settings/mailboxes/{mailbox.id}/status").get_data(as_text=True)
    assert "Authentication failed" in html
    assert "40 of 160" in html and 'value="25"' in html
