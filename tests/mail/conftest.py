"""Fixtures for live mail: a real Dovecot per test (tests.mailservers)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.mailservers import DOVECOT, Dovecot

MAILBOX_USER = "support@acme.test"
MAILBOX_PASSWORD = "imap-secret-1"


@pytest.fixture
def dovecot(tmp_path):
    """A running Dovecot (IMAPS on ``.port``, STARTTLS on ``.starttls_port``) with one user,
    support@acme.test / imap-secret-1, and its INBOX and Sent folders; ``.ca_file`` is the CA
    that signed its certificate, ``.fingerprint`` the certificate's SHA-256."""
    if not shutil.which(DOVECOT) and not os.environ.get("CI"):
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd); CI installs it")
    with Dovecot(tmp_path) as server:
        server.add_user(MAILBOX_USER, MAILBOX_PASSWORD)
        yield server


@pytest.fixture
def app_config(app_config, dovecot):
    """The app trusts the test CA that signed the Dovecot certificate (MAIL_CA_FILE)."""
    return {**app_config, "MAIL_CA_FILE": str(dovecot.ca_file), "MAIL_TIMEOUT_SECONDS": 10}


@pytest.fixture
def workspace_id(make_user):
    _, ws = make_user("admin@acme.test", role="admin", name="Ada Admin")
    return ws


@pytest.fixture
def make_mailbox(app, db, dovecot):
    """make_mailbox(workspace_id, **fields) -> mailbox id: a mailbox on the test Dovecot."""
    from webapp.mail.mailboxes import MailboxInput, create

    def make(workspace_id, **fields):
        values = dict(
            address=MAILBOX_USER, display_name="Acme Support", imap_host=dovecot.host, imap_port=dovecot.port,
            imap_security="tls", imap_username=MAILBOX_USER, imap_password=MAILBOX_PASSWORD,
            smtp_host=dovecot.host, smtp_port=1, smtp_security="starttls",
        )
        values.update(fields)
        with db() as session:
            return create(session, app.extensions["vault"], workspace_id, MailboxInput(**values)).id

    return make


@pytest.fixture
def fetch(app):
    """fetch(mailbox_id, **options) -> FetchResult, as the scheduler's job runs it."""
    from webapp.db import get_engine
    from webapp.mail.fetch import FetchOptions, fetch_mailbox

    def run(mailbox_id, *, after_batch=None, **options):
        return fetch_mailbox(get_engine(app), app.extensions["vault"], mailbox_id,
                             FetchOptions.from_config(app.config, **options), after_batch=after_batch)

    return run


@pytest.fixture
def smtp_server(dovecot):
    """A real SMTP server (STARTTLS, AUTH against Dovecot's users) on ``.port``; what it gets is
    in ``.received`` and delivered into Dovecot for recipients that are its users."""
    from tests.mailservers import SmtpServer

    with SmtpServer(dovecot) as server:
        yield server
