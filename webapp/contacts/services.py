"""Listing and reading contacts, scoped to one workspace."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from webapp.scoping import owned
from webapp.listing import Page, contains_any, paginate
from webapp.models import Contact, Conversation, Deal
from webapp.sync.mirror import MirrorContact, contacts_for_email


@dataclass
class ContactDetail:
    contact: Contact
    conversations: list[Conversation]
    deals: list[Deal]
    # Set when several Salesforce contacts share this address: the sync links none of them.
    salesforce_matches: list[MirrorContact] | None = None


def list_contacts(session: Session, workspace_id: int, *, query: str, page: int) -> Page:
    conversations = (
        select(Conversation.contact_id, func.count().label("n"), func.max(Conversation.last_activity_at).label("last"))
        .where(Conversation.workspace_id == workspace_id)
        .group_by(Conversation.contact_id)
        .subquery()
    )
    stmt = (
        select(Contact, func.coalesce(conversations.c.n, 0), conversations.c.last)
        .outerjoin(conversations, conversations.c.contact_id == Contact.id)
        .where(Contact.workspace_id == workspace_id)
        .order_by(func.lower(Contact.name), Contact.id)
    )
    if query.strip():
        stmt = stmt.where(contains_any([Contact.name, Contact.email, Contact.company], query))
    return paginate(session, stmt, page)


def get_contact(session: Session, workspace_id: int, contact_id: int) -> Contact:
    return owned(session, Contact, workspace_id, contact_id)


def contact_detail(session: Session, workspace_id: int, contact_id: int) -> ContactDetail:
    contact = get_contact(session, workspace_id, contact_id)
    conversations = session.execute(
        select(Conversation)
        .where(Conversation.contact_id == contact.id)
        .order_by(Conversation.last_activity_at.desc())
        .limit(50)
    ).scalars()
    deals = session.execute(
        select(Deal).where(Deal.contact_id == contact.id).order_by(Deal.updated_at.desc())
    ).scalars()
    shared = None
    if contact.salesforce_matches > 1 and contact.email_normalized:
        shared = contacts_for_email(session, workspace_id, contact.email_normalized)
    return ContactDetail(contact=contact, conversations=list(conversations), deals=list(deals), salesforce_matches=shared)


def update_contact(session: Session, workspace_id: int, contact_id: int, *, name: str, title: str, phone: str) -> Contact:
    """An inbox edit; a linked contact's edit goes to Salesforce on the next two-way sync."""
    from webapp.clock import utcnow

    contact = get_contact(session, workspace_id, contact_id)
    contact.name = (name or "").strip()[:200]
    contact.title = (title or "").strip()[:200] or None
    contact.phone = (phone or "").strip()[:64] or None
    contact.updated_at = utcnow()
    session.add(contact)
    session.flush()
    return contact
