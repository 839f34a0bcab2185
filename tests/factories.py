"""Rows for tests, with defaults that can be overridden."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from webapp.models import Contact, Conversation, Deal, Message

_seq = itertools.count(1)
BASE_TIME = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def contact(session, workspace_id, **fields) -> Contact:
    n = next(_seq)
    email = fields.pop("email", f"person{n}@customer.test")
    row = Contact(
        workspace_id=workspace_id,
        name=fields.pop("name", f"Person {n}"),
        email=email,
        email_normalized=email.lower() if email else None,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def conversation(session, workspace_id, contact_row=None, *, messages=2, **fields) -> Conversation:
    contact_row = contact_row or contact(session, workspace_id)
    n = next(_seq)
    row = Conversation(
        workspace_id=workspace_id,
        contact_id=contact_row.id,
        subject=fields.pop("subject", f"Question number {n}"),
        status=fields.pop("status", "open"),
        last_activity_at=fields.pop("last_activity_at", BASE_TIME + timedelta(hours=n)),
        **fields,
    )
    session.add(row)
    session.flush()
    for i in range(messages):
        inbound = i % 2 == 0
        body = fields.get("body", f"Message {i} of conversation {n}")
        session.add(
            Message(
                workspace_id=workspace_id,
                conversation_id=row.id,
                direction="in" if inbound else "out",
                from_address=contact_row.email if inbound else "agent@acme.test",
                from_name=contact_row.name if inbound else "Agent",
                to_addresses="support@acme.test" if inbound else contact_row.email,
                subject=row.subject,
                sent_at=row.last_activity_at - timedelta(minutes=10 * (messages - i)),
                message_id=f"<t{n}-{i}@acme.test>",
                snippet=body[:200],
                body_text=body,
            )
        )
    session.flush()
    return row


def deal(session, workspace_id, **fields) -> Deal:
    row = Deal(
        workspace_id=workspace_id,
        name=fields.pop("name", f"Deal {next(_seq)}"),
        amount_minor=fields.pop("amount_minor", 1_250_000),
        currency=fields.pop("currency", "USD"),
        stage=fields.pop("stage", "Prospecting"),
        **fields,
    )
    session.add(row)
    session.flush()
    return row
