"""Reading and updating conversations. Every query is scoped to one workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from webapp.listing import Page, contains_any, paginate
from webapp.scoping import owned
from webapp.models import CONVERSATION_STATUSES, Contact, Conversation, Deal, Message

STATUS_FILTERS = ("open", "pending", "closed", "all")


@dataclass
class ConversationRow:
    id: int
    subject: str
    status: str
    last_activity_at: datetime
    contact_name: str
    contact_email: str | None
    snippet: str = ""
    message_count: int = 0
    last_direction: str = "in"


@dataclass
class ConversationList:
    page: Page
    status: str
    query: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class ContactSummary:
    contact: Contact
    conversation_count: int
    open_deal_count: int


@dataclass
class ConversationView:
    conversation: Conversation
    messages: list[Message]
    contact: ContactSummary | None


def list_conversations(
    session: Session, workspace_id: int, *, status: str, query: str, page: int
) -> ConversationList:
    status = status if status in STATUS_FILTERS else "open"
    base = (
        select(Conversation, Contact)
        .outerjoin(Contact, Contact.id == Conversation.contact_id)
        .where(Conversation.workspace_id == workspace_id)
    )
    if query.strip():
        base = base.where(
            contains_any([Conversation.subject, Contact.name, Contact.email], query)
        )
    counts = _status_counts(session, base)
    listed = base if status == "all" else base.where(Conversation.status == status)
    listed = listed.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
    result = paginate(session, listed, page)
    result.items = _rows(session, result.items)
    return ConversationList(page=result, status=status, query=query, counts=counts)


def _status_counts(session: Session, base) -> dict[str, int]:
    sub = base.with_only_columns(Conversation.status).subquery()
    rows = session.execute(select(sub.c.status, func.count()).group_by(sub.c.status)).all()
    counts = dict.fromkeys(CONVERSATION_STATUSES, 0)
    counts.update({status: n for status, n in rows})
    counts["all"] = sum(counts.values())
    return counts


def _rows(session: Session, pairs) -> list[ConversationRow]:
    ids = [conversation.id for conversation, _ in pairs]
    latest: dict[int, tuple[str, str]] = {}
    totals: dict[int, int] = {}
    if ids:
        totals = dict(
            session.execute(
                select(Message.conversation_id, func.count())
                .where(Message.conversation_id.in_(ids))
                .group_by(Message.conversation_id)
            ).all()
        )
        newest = (
            select(Message.conversation_id, func.max(Message.sent_at).label("sent_at"))
            .where(Message.conversation_id.in_(ids))
            .group_by(Message.conversation_id)
            .subquery()
        )
        for conversation_id, snippet, direction in session.execute(
            select(Message.conversation_id, Message.snippet, Message.direction).join(
                newest,
                (newest.c.conversation_id == Message.conversation_id)
                & (newest.c.sent_at == Message.sent_at),
            )
        ).all():
            latest[conversation_id] = (snippet, direction)
    rows = []
    for conversation, contact in pairs:
        snippet, direction = latest.get(conversation.id, ("", "in"))
        rows.append(
            ConversationRow(
                id=conversation.id,
                subject=conversation.subject or "(no subject)",
                status=conversation.status,
                last_activity_at=conversation.last_activity_at,
                contact_name=contact.display_name if contact else "Unknown sender",
                contact_email=contact.email if contact else None,
                snippet=snippet,
                message_count=totals.get(conversation.id, 0),
                last_direction=direction,
            )
        )
    return rows


def get_conversation(session: Session, workspace_id: int, conversation_id: int) -> ConversationView:
    conversation = owned(session, Conversation, workspace_id, conversation_id)
    messages = list(
        session.execute(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.sent_at, Message.id)
        ).scalars()
    )
    contact = None
    if conversation.contact_id is not None:
        contact = contact_summary(session, workspace_id, conversation.contact_id)
    return ConversationView(conversation=conversation, messages=messages, contact=contact)


def contact_summary(session: Session, workspace_id: int, contact_id: int) -> ContactSummary:
    contact = owned(session, Contact, workspace_id, contact_id)
    conversations = session.execute(
        select(func.count()).where(Conversation.contact_id == contact.id)
    ).scalar_one()
    open_deals = session.execute(
        select(func.count()).where(
            Deal.contact_id == contact.id, Deal.stage.not_in(("Closed Won", "Closed Lost"))
        )
    ).scalar_one()
    return ContactSummary(contact=contact, conversation_count=conversations, open_deal_count=open_deals)


def set_status(session: Session, workspace_id: int, conversation_id: int, status: str) -> Conversation:
    if status not in CONVERSATION_STATUSES:
        raise ValueError(f"Unknown status {status!r}.")
    conversation = owned(session, Conversation, workspace_id, conversation_id)
    conversation.status = status
    session.add(conversation)
    session.flush()
    return conversation


def conversation_of(session: Session, workspace_id: int, message_id: int) -> int:
    return owned(session, Message, workspace_id, message_id).conversation_id
