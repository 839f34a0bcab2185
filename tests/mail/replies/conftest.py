"""Fixtures for replies: the Dovecot of tests/mail plus a real SMTP submission server
(tests.smtpserver) that delivers into it, a mailbox that uses both, and a conversation that
came in through that mailbox."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.mail.conftest import MAILBOX_USER
from tests.mail.messages import raw
from tests.smtpserver import Submission
from webapp.models import Conversation

CUSTOMER = "customer@client.test"
CUSTOMER_PASSWORD = "customer-secret"
COLLEAGUE = "colleague@client.test"  # the customer's colleague, on Cc of the first message
ADMIN = ("admin@acme.test", "correct-horse-battery")
TOKEN_RE = re.compile(r'name="token" value="([0-9a-f]{32})"')


@pytest.fixture
def smtp_server(dovecot):
    """Submission (STARTTLS on .port, implicit TLS on .tls_port) delivering into the Dovecot;
    the customer and the colleague have mailboxes there."""
    dovecot.add_user(CUSTOMER, CUSTOMER_PASSWORD)
    dovecot.add_user(COLLEAGUE, "colleague-secret")
    with Submission(dovecot) as server:
        yield server


@pytest.fixture
def mailbox_id(workspace_id, make_mailbox, smtp_server):
    return make_mailbox(workspace_id, smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_security="starttls")


@pytest.fixture
def conversation_id(db, dovecot, mailbox_id, fetch):
    """The customer's question, Cc the colleague and the mailbox itself, fetched over IMAP."""
    dovecot.append(MAILBOX_USER, raw(1, subject="Re: Pricing", to=f"{MAILBOX_USER}, {COLLEAGUE}",
                                     message_id="<q1@client.test>", body="What does the Pro plan cost?"))
    assert fetch(mailbox_id).stored == 1
    with db() as session:
        return session.execute(select(Conversation.id)).scalar_one()


@pytest.fixture
def agent(client, workspace_id):
    client.login(*ADMIN)
    return client


def token_of(page: str) -> str:
    return TOKEN_RE.search(page).group(1)
