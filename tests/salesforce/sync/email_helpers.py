"""Shared steps of the email logging tests: settings, conversations with a Salesforce person,
and what the org holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlmodel import Session

from webapp.db import get_engine
from webapp.models import Contact, Conversation, Message, SyncSettings

BASE = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def logging_on(app, mode="auto", *, exclusions=(), subject_only=False, workspace_id=1):
    with Session(get_engine(app)) as s:
        row = s.execute(select(SyncSettings).where(SyncSettings.workspace_id == workspace_id)).scalar_one_or_none()
        row = row or SyncSettings(workspace_id=workspace_id, extra_fields={})
        row.email_logging, row.email_exclusions, row.email_subject_only = mode, list(exclusions), subject_only
        s.add(row)
        s.commit()


def conversation(app, email, *, messages=2, subject="Renewal quote", body="Hello, the quote is attached.",
                 cc="", prefix="m", workspace_id=1) -> tuple[int, list[int]]:
    """A conversation with ``email``: inbound and outbound messages in turn. Returns its id and
    its messages' ids."""
    with Session(get_engine(app)) as s:
        contact = s.execute(select(Contact).where(Contact.workspace_id == workspace_id,
                                                  Contact.email_normalized == email.lower())).scalar_one_or_none()
        if contact is None:
            contact = Contact(workspace_id=workspace_id, name=email.split("@")[0], email=email, email_normalized=email.lower())
            s.add(contact)
            s.flush()
        conv = Conversation(workspace_id=workspace_id, contact_id=contact.id, subject=subject, last_activity_at=BASE)
        s.add(conv)
        s.flush()
        ids = []
        for i in range(messages):
            inbound = i % 2 == 0
            m = Message(workspace_id=workspace_id, conversation_id=conv.id, direction="in" if inbound else "out",
                        from_address=email if inbound else "agent@acme.test", from_name="" if inbound else "Agent",
                        to_addresses="support@acme.test" if inbound else email, cc_addresses=cc, subject=subject,
                        sent_at=BASE + timedelta(minutes=i), message_id=f"<{prefix}-{conv.id}-{i}@mail.test>",
                        snippet=body[:200], body_text=body)
            s.add(m)
            s.flush()
            ids.append(m.id)
        s.commit()
        return conv.id, ids


def log_rows(app):
    with get_engine(app).connect() as conn:
        return conn.execute(text("SELECT message_id, state, sf_object, sf_id, error FROM email_log ORDER BY message_id")).all()


def live(emulator, sobject):
    return [r for r in emulator.app.emulator.store.tables[sobject].records if not r["IsDeleted"]]


def customer_with_open_opportunity(emulator):
    """A Salesforce contact with an email whose account has an open opportunity."""
    store = emulator.app.emulator.store
    opps = [o for o in live(emulator, "Opportunity") if not o["IsClosed"] and o["AccountId"]]
    by_account = {o["AccountId"] for o in opps}
    emails = [c["Email"].lower() for c in live(emulator, "Contact") if c["Email"]]
    for c in live(emulator, "Contact"):
        if c["Email"] and c["AccountId"] in by_account and emails.count(c["Email"].lower()) == 1:
            return c, [o for o in opps if o["AccountId"] == c["AccountId"]]
    raise AssertionError("the org has no contact with an open opportunity")
