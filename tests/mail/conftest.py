"""Fixtures for live mail: a real Dovecot per test (tests.mailservers)."""

from __future__ import annotations

import pytest

from tests.mailservers import Dovecot

MAILBOX_USER = "support@acme.test"
MAILBOX_PASSWORD = "imap-secret-1"


@pytest.fixture
def dovecot(tmp_path):
    """A running Dovecot (IMAPS on ``.port``, STARTTLS on ``.starttls_port``) with one user,
    support@acme.test / imap-secret-1, and its INBOX and Sent folders; ``.ca_file`` is the CA
    that signed its certificate, ``.fingerprint`` the certificate's SHA-256."""
    with Dovecot(tmp_path) as server:
        server.add_user(MAILBOX_USER, MAILBOX_PASSWORD)
        yield server
