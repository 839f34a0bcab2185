"""The Activity part of the sync settings (logging email to Salesforce), "Log" on a
conversation, and what a conversation and the card show of it. No Salesforce calls here:
"Log" queues the messages and a run, and the run's email phase sends them."""

from __future__ import annotations

import hashlib
import uuid

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from webapp.addresses import own_addresses
from webapp.clock import utcnow
from webapp.integrations.salesforce_card import record_url
from webapp.models import (
    EMAIL_LOG_MODES,
    Contact,
    Conversation,
    EmailLog,
    Message,
    SalesforceConnection,
    SyncSettings,
)
from webapp.salesforce.sync import ledger
from webapp.salesforce.sync.activity import EmailOptions, identifier_for
from webapp.salesforce.sync.upsert import insert_for
from webapp.scoping import owned
from webapp.sync.settings import EffectiveSettings, SyncSettingsError, load_settings

MODE_LABELS = {"off": "Off", "request": "On request", "auto": "Automatic"}
MAX_EXCLUSIONS = 500
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
ADDRESS_RE = re.compile(r"^[^@\s<>\"',;]{1,64}@(?P<domain>[^@\s]+)$")
# Messages a Log press may send again: never sent, refused, or left out for a reason that may be gone.
RELOGGABLE = ("failed", "skipped", "excluded")


class LoggingOff(LookupError):
    """Email logging is off for the workspace."""


# -- settings -----------------------------------------------------------------------------------

def parse_exclusions(text: str) -> list[str]:
    """Addresses and domains, one per line (commas and spaces work too), lower-cased."""
    entries: list[str] = []
    for raw in re.split(r"[\s,;]+", text or ""):
        entry = raw.strip().lower().lstrip("@").rstrip(".")
        if not entry:
            continue
        address = ADDRESS_RE.match(entry)
        domain = address.group("domain") if address else entry
        if not DOMAIN_RE.match(domain):
            shown = raw[:80]
            raise SyncSettingsError("email_exclusions", f"“{shown}” is neither an email address nor a domain "
                                                        "(e.g. colleague@northwind.example or gmail.com).")
        if entry not in entries:
            entries.append(entry)
    if len(entries) > MAX_EXCLUSIONS:
        raise SyncSettingsError("email_exclusions", f"At most {MAX_EXCLUSIONS} addresses and domains.")
    return entries


@dataclass
class ActivityInput:
    mode: str
    exclusions: str
    subject_only: bool


@dataclass
class ActivityView:
    mode: str
    exclusions: str
    subject_only: bool
    states: dict[str, int]
    error: str | None = None

    @property
    def mode_label(self) -> str:
        return MODE_LABELS.get(self.mode, self.mode)


def save(session: Session, workspace_id: int, data: ActivityInput) -> None:
    if data.mode not in EMAIL_LOG_MODES:
        raise SyncSettingsError("email_logging", "Choose off, on request or automatic.")
    exclusions = parse_exclusions(data.exclusions)
    row = session.execute(select(SyncSettings).where(SyncSettings.workspace_id == workspace_id)).scalar_one_or_none()
    row = row or SyncSettings(workspace_id=workspace_id, extra_fields={})
    row.email_logging, row.email_exclusions, row.email_subject_only = data.mode, exclusions, data.subject_only
    row.updated_at = utcnow()
    session.add(row)
    session.flush()


def view(session: Session, workspace_id: int, *, submitted: ActivityInput | None = None,
         error: SyncSettingsError | None = None) -> ActivityView:
    settings = load_settings(session, workspace_id)
    states = dict(session.execute(select(EmailLog.state, func.count()).where(EmailLog.workspace_id == workspace_id)
                                  .group_by(EmailLog.state)).all())
    if submitted is not None:  # a refused submission: the admin's input, not lost
        return ActivityView(submitted.mode, submitted.exclusions, submitted.subject_only, states, str(error) if error else None)
    return ActivityView(settings.email_logging, "\n".join(settings.email_exclusions), settings.email_subject_only, states)


def email_options(engine: Engine, workspace_id: int, settings: EffectiveSettings, **kwargs) -> EmailOptions | None:
    """The email phase's options for a run; None when logging is off."""
    if settings.email_logging not in ("request", "auto"):
        return None
    with Session(engine) as session:
        own = list(own_addresses(session, workspace_id).entries)
    return EmailOptions(mode=settings.email_logging, exclusions=tuple(settings.email_exclusions),
                        subject_only=settings.email_subject_only, own=tuple(own), **kwargs)


# -- "Log" on a conversation -------------------------------------------------------------------------

def queue_conversation(session: Session, workspace_id: int, conversation_id: int) -> int:
    """Queue the conversation's messages that are not logged; returns how many. The caller
    commits, then queues a run (``request_run``)."""
    mode = session.execute(select(SyncSettings.email_logging).where(SyncSettings.workspace_id == workspace_id)).scalar()
    if mode not in ("request", "auto"):
        raise LoggingOff("Logging email to Salesforce is off; an admin can turn it on in the Salesforce settings.")
    conversation = owned(session, Conversation, workspace_id, conversation_id)
    messages = session.execute(select(Message.id, Message.message_id).where(Message.conversation_id == conversation.id)).all()
    if not messages:
        return 0
    now = utcnow()
    conn = session.connection()
    ids = [m.id for m in messages]
    table = EmailLog.__table__
    conn.execute(update(table).where(table.c.workspace_id == workspace_id, table.c.message_id.in_(ids),
                                     table.c.state.in_(RELOGGABLE)).values(state="queued", error=None, updated_at=now))
    rows = [{"workspace_id": workspace_id, "message_id": m.id, "identifier": identifier_for(m.message_id, workspace_id, m.id),
             "state": "queued", "attempts": 0, "updated_at": now} for m in messages]
    conn.execute(insert_for(conn, table).on_conflict_do_nothing(), rows)
    # Counted, not taken from rowcount: drivers do not report it for every executemany.
    return conn.execute(select(func.count()).select_from(table).where(
        table.c.workspace_id == workspace_id, table.c.message_id.in_(ids), table.c.state == "queued")).scalar_one()


def request_run(engine: Engine, workspace_id: int, user_id: int) -> ledger.Requested:
    return ledger.request_run(engine, workspace_id, "log", user_id=user_id)


# -- what the conversation and the card show ------------------------------------------------------

@dataclass
class MessageLog:
    state: str  # none | queued | pending | relating | sent | failed | excluded | skipped
    url: str | None = None
    reason: str | None = None
    logged_at: datetime | None = None

    @property
    def label(self) -> str:
        return {"sent": "Logged to Salesforce", "queued": "Waiting to be logged to Salesforce",
                "pending": "Being logged to Salesforce", "relating": "Being logged to Salesforce",
                "failed": "Not logged to Salesforce", "excluded": "Never logged to Salesforce",
                "skipped": "Not logged to Salesforce", "none": "Not logged to Salesforce"}[self.state]


@dataclass
class ConversationLog:
    mode: str
    messages: dict[int, MessageLog]

    @property
    def can_log(self) -> bool:
        """"Log" is offered while logging is on and a message is left to send."""
        return self.mode in ("request", "auto") and any(m.state in ("none",) + RELOGGABLE for m in self.messages.values())


def conversation_log(session: Session, workspace_id: int, message_ids: list[int]) -> ConversationLog:
    mode = session.execute(select(SyncSettings.email_logging).where(SyncSettings.workspace_id == workspace_id)).scalar() or "off"
    rows = {r.message_id: r for r in session.execute(select(EmailLog).where(
        EmailLog.workspace_id == workspace_id, EmailLog.message_id.in_(message_ids))).scalars()} if message_ids else {}
    instance = None
    if any(r.state == "sent" for r in rows.values()):
        instance = session.execute(select(SalesforceConnection.instance_url).where(
            SalesforceConnection.workspace_id == workspace_id)).scalar()
    logs = {}
    for message_id in message_ids:
        row = rows.get(message_id)
        if row is None:
            reason = "Logged at the next sync when the contact is in Salesforce." if mode == "auto" else None
            logs[message_id] = MessageLog("none", reason=reason)
            continue
        url = record_url(instance, row.sf_id, row.sf_object or "EmailMessage") if row.state == "sent" and row.sf_id else None
        logs[message_id] = MessageLog(row.state, url, row.error, row.logged_at)
    return ConversationLog(mode, logs)


LAST_LOGGED_TTL = 60  # seconds; the card shows a date, and a card hit should not need the database


def last_logged_cached(session: Callable[[], Session], cache, workspace_id: int, email: str) -> datetime | None:
    """``last_logged``, kept briefly in the cache so that a cached card stays a cheap request
    (``session`` is called only when the cache has no date, so a hit opens none)."""
    generation = cache.get(f"sflogged-gen:v1:{workspace_id}") or "0"
    digest = hashlib.sha256((email or "").strip().lower().encode()).hexdigest()
    key = f"sflogged:v1:{workspace_id}:{generation}:{digest}"
    value = cache.get(key)
    if value is None:
        found = last_logged(session(), workspace_id, email)
        value = found.isoformat() if found else ""
        cache.set(key, value, timeout=LAST_LOGGED_TTL)
    return datetime.fromisoformat(value) if value else None


def forget_last_logged(cache, workspace_id: int) -> None:
    """After a run: every card of the workspace reads its last logged date afresh."""
    cache.set(f"sflogged-gen:v1:{workspace_id}", uuid.uuid4().hex, timeout=0)


def last_logged(session: Session, workspace_id: int, email: str) -> datetime | None:
    """When the contact last had an email logged to Salesforce (its last activity from here)."""
    return session.execute(
        select(func.max(Message.sent_at))
        .join(EmailLog, EmailLog.message_id == Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(EmailLog.workspace_id == workspace_id, EmailLog.state == "sent",
               Contact.email_normalized == (email or "").strip().lower())
    ).scalar()
