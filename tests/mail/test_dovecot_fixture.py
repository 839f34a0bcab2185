"""The Dovecot fixture itself: TLS verified against its CA, users, Maildir delivery."""

import imaplib
import ssl

import pytest

from tests.mail.conftest import MAILBOX_PASSWORD, MAILBOX_USER


def test_login_over_verified_tls_and_read_delivered_mail(dovecot):
    dovecot.deliver(MAILBOX_USER, b"From: a@b.test\r\nSubject: hello\r\nMessage-ID: <1@b.test>\r\n\r\nbody\r\n")
    with dovecot.imap(MAILBOX_USER) as imap:
        typ, data = imap.select("INBOX", readonly=True)
        assert (typ, data) == ("OK", [b"1"])
        typ, data = imap.uid("FETCH", "1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert b"hello" in data[0][1]
        typ, folders = imap.list()
        assert any(b"\\Sent" in f for f in folders)


def test_wrong_password_and_untrusted_certificate_are_refused(dovecot):
    with pytest.raises(imaplib.IMAP4.error):
        with dovecot.imap(MAILBOX_USER, "wrong"):
            pass
    with pytest.raises(ssl.SSLCertVerificationError):
        imaplib.IMAP4_SSL(dovecot.host, dovecot.port, ssl_context=ssl.create_default_context(), timeout=10)


def test_starttls_port_and_recreated_folder_gets_new_uidvalidity(dovecot):
    client = imaplib.IMAP4(dovecot.host, dovecot.starttls_port, timeout=10)
    client.starttls(ssl_context=dovecot.client_context())
    client.login(MAILBOX_USER, MAILBOX_PASSWORD)
    client.logout()  # closes the socket
    dovecot.append(MAILBOX_USER, b"Subject: x\r\nMessage-ID: <2@b.test>\r\n\r\nx\r\n", "Sent")
    before = dovecot.uidvalidity(MAILBOX_USER, "Sent")
    dovecot.recreate_folder(MAILBOX_USER, "Sent")
    assert dovecot.uidvalidity(MAILBOX_USER, "Sent") != before


def test_restart_after_kill(dovecot):
    dovecot.kill()
    dovecot.start()
    with dovecot.imap(MAILBOX_USER) as imap:
        assert imap.select("INBOX")[0] == "OK"
