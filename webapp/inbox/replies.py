"""Replying from a conversation: what the reply box starts with, and sending a reply once.

The box is prefilled: To the customer, Cc everyone else on the thread except our own addresses,
the mailbox the conversation came in through (else the first), and a one-time token. ``send``
records the reply under that token (state ``sending``) and commits before it speaks to the SMTP
server, so the same form submitted twice sends once; then it records the outcome. A sent reply
becomes an outgoing Message (the row a fetch of the sent folder finds by Message-ID, so it is
never stored twice), moves the conversation to pending, and is filed in the IMAP sent folder
unless the SMTP server files it itself. ``send`` commits on its own, like a job: its steps
must each be durable before the next one starts.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import getaddresses

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from webapp.addresses import InvalidAddress, OwnAddresses, normalize_email, own_addresses
from webapp.analytics import freshness
from webapp.clock import as_utc, utcnow
from webapp.crypto import SecretUnreadable
from webapp.mail import send as mail
from webapp.mail.credentials import imap_login, smtp_login
from webapp.mail.errors import MailServerError
from webapp.mail.fetch import SECRET, FetchOptions, endpoint_for
from webapp.mail.mailboxes import list_for, smtp_endpoint
from webapp.mailimport.parse import SYNTHETIC_DOMAIN, parse_message, snippet_of
from webapp.models import Contact, Conversation, Mailbox, Message, Reply
from webapp.scoping import NotFound, owned
from webapp.validation import FieldError

log = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_BODY = 100_000  # characters of plain text
MAX_RECIPIENTS = 50
NO_MAILBOX = "No mailbox to send from: an admin adds one under Settings → Mailboxes."

__all__ = ["NotFound", "ReplyError", "ReplyInput", "notes", "prefill", "refused", "send"]


class ReplyError(FieldError):
    """The reply as submitted cannot be sent (a bad address, no text, no such mailbox)."""


@dataclass
class ReplyInput:
    token: str = ""
    mailbox_id: int | str | None = None
    to: str = ""
    cc: str = ""
    body: str = ""


@dataclass
class ReplyBox:
    """What the reply box shows."""

    conversation_id: int
    token: str
    to: str = ""
    cc: str = ""
    body: str = ""
    mailbox_id: int | None = None
    mailboxes: list[Mailbox] = field(default_factory=list)
    subject: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    # failed: why the last send failed (the text is kept); unknown: a send that did not
    # finish and may have gone out; sending: under way; sent: just sent.
    state: str = "draft"
    message: str | None = None

    @property
    def can_send(self) -> bool:
        return bool(self.mailboxes)


@dataclass
class Outcome:
    box: ReplyBox
    message: Message | None = None  # the new outgoing message, to show at once
    conversation: Conversation | None = None
    message_count: int = 0


def new_token() -> str:
    return uuid.uuid4().hex


# -- the box ----------------------------------------------------------------------------------


def _messages(session: Session, conversation_id: int) -> list[Message]:
    return list(session.execute(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.sent_at, Message.id)
    ).scalars())


def _split(value: str) -> list[str]:
    return [a.strip().lower() for a in (value or "").split(",") if a.strip()]


def _customer(session: Session, conversation: Conversation, messages: list[Message], own: OwnAddresses) -> str:
    if conversation.contact_id is not None:
        contact = session.get(Contact, conversation.contact_id)
        if contact is not None and contact.email and contact.email.lower() not in own:
            return contact.email.lower()
    for message in reversed(messages):
        if message.direction == "in" and message.from_address not in own:
            return message.from_address
    for message in reversed(messages):
        for address in _split(message.to_addresses):
            if address not in own:
                return address
    return ""


def _cc(messages: list[Message], own: OwnAddresses, to: list[str]) -> list[str]:
    """Everyone else the thread was between, in the order they first appear."""
    seen: dict[str, None] = {}
    for message in messages:
        for address in [message.from_address, *_split(message.to_addresses), *_split(message.cc_addresses)]:
            if address and address not in own and address not in to:
                seen.setdefault(address)
    return list(seen)


def _came_through(messages: list[Message], mailboxes: list[Mailbox]) -> Mailbox | None:
    """The mailbox the newest message reached (or left from), else the first one."""
    by_address = {m.address: m for m in mailboxes}
    for message in reversed(messages):
        candidates = ([message.from_address] if message.direction == "out"
                      else _split(message.to_addresses) + _split(message.cc_addresses))
        for address in candidates:
            if address in by_address:
                return by_address[address]
    return mailboxes[0] if mailboxes else None


def _subject(conversation: Conversation, messages: list[Message]) -> str:
    return mail.reply_subject(messages[-1].subject if messages else conversation.subject)


def _stale(reply: Reply, stale_after: timedelta, now: datetime) -> bool:
    return as_utc(reply.created_at) + stale_after <= now


def prefill(session: Session, workspace_id: int, conversation_id: int, user_id: int,
            stale_after: timedelta) -> ReplyBox:
    """A fresh box; or, when this user's last reply here failed or never finished, that one's
    text again with what happened."""
    conversation = owned(session, Conversation, workspace_id, conversation_id)
    messages = _messages(session, conversation.id)
    own = own_addresses(session, workspace_id)
    mailboxes = list_for(session, workspace_id)
    to = _customer(session, conversation, messages, own)
    mailbox = _came_through(messages, mailboxes)
    box = ReplyBox(conversation.id, new_token(), to=to, cc=", ".join(_cc(messages, own, [to])),
                   mailbox_id=mailbox.id if mailbox else None, mailboxes=mailboxes,
                   subject=_subject(conversation, messages))
    if not mailboxes:
        box.message = NO_MAILBOX
        return box
    last = session.execute(
        select(Reply).where(Reply.conversation_id == conversation.id, Reply.user_id == user_id)
        .order_by(Reply.created_at.desc(), Reply.id.desc()).limit(1)
    ).scalar_one_or_none()
    if last is None or last.state == "sent":
        return box
    stored = session.execute(
        select(Message.id).where(Message.workspace_id == workspace_id, Message.message_id == last.message_id)
    ).first()
    if stored is not None:  # it did go out: the sent folder's copy was fetched since
        return box
    now = utcnow()
    if last.state == "failed":
        _keep(box, last)
        box.state, box.message = "failed", f"Not sent: {last.error}"
    elif _stale(last, stale_after, now):
        _keep(box, last)
        box.state = "unknown"
        box.message = (f"A reply started {_when(last.created_at)} did not finish: it may have gone out. "
                       "Check the mailbox's Sent folder before sending it again.")
    else:
        box.state, box.message = "sending", "Your last reply is still being sent."
    return box


def refused(session: Session, workspace_id: int, conversation_id: int, user_id: int, data: ReplyInput,
            error: ReplyError, stale_after: timedelta) -> ReplyBox:
    """The box again with what was typed and what to correct. Nothing was recorded under the
    token, so it may be sent again (a forged one is replaced)."""
    box = prefill(session, workspace_id, conversation_id, user_id, stale_after)
    if TOKEN_RE.match(data.token or ""):
        box.token = data.token
    box.to, box.cc, box.body = data.to, data.cc, data.body
    box.mailbox_id = next((m.id for m in box.mailboxes if str(m.id) == str(data.mailbox_id)), box.mailbox_id)
    box.state, box.message, box.errors = "draft", None, {error.field: str(error)}
    return box


def _keep(box: ReplyBox, reply: Reply) -> None:
    box.to, box.cc, box.body = reply.to_addresses, reply.cc_addresses, reply.body_text
    if reply.mailbox_id is not None and any(m.id == reply.mailbox_id for m in box.mailboxes):
        box.mailbox_id = reply.mailbox_id


def _when(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def notes(session: Session, workspace_id: int, message_ids: list[int]) -> dict[int, Reply]:
    """Sent replies among these messages, for what to say under them (refused recipients, a
    copy that could not be filed)."""
    if not message_ids:
        return {}
    rows = session.execute(
        select(Reply).where(Reply.workspace_id == workspace_id, Reply.message_row_id.in_(message_ids))
    ).scalars()
    return {r.message_row_id: r for r in rows}


# -- input ------------------------------------------------------------------------------------


def _addresses(value: str, name: str, label: str) -> list[str]:
    value = value or ""
    if any(ch in value for ch in "\r\n\0"):
        raise ReplyError(name, f"{label}: one line of addresses, separated by commas.")
    found: list[str] = []
    for display, address in getaddresses([value]):
        if not address and not display:
            continue
        try:
            found.append(normalize_email(address))
        except InvalidAddress:
            shown = address or display
            raise ReplyError(name, f"{label}: {shown!r} is not an email address.") from None
    if not found and value.strip().strip(","):
        raise ReplyError(name, f"{label}: {value.strip()!r} is not an email address.")
    return list(dict.fromkeys(found))


@dataclass
class _Valid:
    token: str
    mailbox: Mailbox
    to: list[str]
    cc: list[str]
    body: str


def _validate(session: Session, workspace_id: int, data: ReplyInput) -> _Valid:
    token = (data.token or "").strip()
    if not TOKEN_RE.match(token):
        raise ReplyError("token", "This reply form is not valid; reload the page.")
    try:
        mailbox = owned(session, Mailbox, workspace_id, int(str(data.mailbox_id or "").strip()))
    except (ValueError, NotFound):
        raise ReplyError("mailbox_id", "Choose a mailbox to send from.") from None
    if not mailbox.smtp_host:
        raise ReplyError("mailbox_id", f"{mailbox.address} has no SMTP server set up; an admin adds one in its settings.")
    to = _addresses(data.to, "to", "To")
    if not to:
        raise ReplyError("to", "To: at least one recipient is needed.")
    cc = [a for a in _addresses(data.cc, "cc", "Cc") if a not in to]
    if len(to) + len(cc) > MAX_RECIPIENTS:
        raise ReplyError("cc", f"At most {MAX_RECIPIENTS} recipients in all.")
    body = (data.body or "").replace("\r\n", "\n").rstrip()
    if not body.strip():
        raise ReplyError("body", "Write a reply first.")
    if len(body) > MAX_BODY:
        raise ReplyError("body", f"A reply may be at most {MAX_BODY:,} characters.")
    return _Valid(token, mailbox, to, cc, body)


# -- sending ----------------------------------------------------------------------------------


def _thread_ids(messages: list[Message]) -> list[str]:
    """Message-IDs a reply can refer to: not the ones the importer made up for mail without one."""
    return [m.message_id for m in messages if m.message_id and not m.message_id.endswith(f"@{SYNTHETIC_DOMAIN}>")]


def send(engine: Engine, vault, options: FetchOptions, workspace_id: int, user_id: int, conversation_id: int,
         data: ReplyInput, stale_after: timedelta) -> Outcome:
    """Send the reply once. ReplyError for input to correct (nothing is recorded or sent),
    NotFound for a conversation of another workspace; every other outcome is in the box."""
    with Session(engine, expire_on_commit=False) as session:
        conversation = owned(session, Conversation, workspace_id, conversation_id)
        earlier = _by_token(session, workspace_id, data.token)
        if earlier is not None:
            return _again(session, earlier, stale_after)
        valid = _validate(session, workspace_id, data)
        messages = _messages(session, conversation.id)
        chain = _thread_ids(messages)
        mailbox = valid.mailbox
        now = utcnow().replace(microsecond=0)
        outgoing = mail.Outgoing(
            from_address=mailbox.address, from_name=mailbox.display_name, to=valid.to, cc=valid.cc,
            subject=_subject(conversation, messages), body=valid.body, message_id=mail.new_message_id(mailbox.address),
            date=now, in_reply_to=chain[-1] if chain else None, references=mail.references(chain),
        )
        reply = Reply(workspace_id=workspace_id, conversation_id=conversation.id, mailbox_id=mailbox.id, user_id=user_id,
                      token=valid.token, from_address=mailbox.address, to_addresses=", ".join(valid.to),
                      cc_addresses=", ".join(valid.cc), subject=outgoing.subject, body_text=valid.body,
                      message_id=outgoing.message_id, in_reply_to=outgoing.in_reply_to, created_at=now)
        session.add(reply)
        try:
            session.commit()  # recorded before anything is sent
        except IntegrityError:  # the same form, submitted twice at once: the other request sends it
            session.rollback()
            return _again(session, _by_token(session, workspace_id, valid.token), stale_after)

    message = mail.compose(outgoing)
    try:
        try:
            login = smtp_login(mailbox, vault)
        except SecretUnreadable as exc:
            raise MailServerError("secret", SECRET) from exc
        refused = mail.submit(smtp_endpoint(mailbox, options), login.username, login.password, outgoing, message)
    except MailServerError as exc:
        return _failed(engine, reply, mailbox, exc)

    data_bytes = message.as_bytes()
    row = _record_sent(engine, reply, mailbox, outgoing, data_bytes, refused)
    _file(engine, vault, options, reply, mailbox, data_bytes, now)
    log.info("reply sent", extra={"workspace": workspace_id, "user": user_id, "reply": reply.id,
                                  "refused": len(refused)})
    with Session(engine, expire_on_commit=False) as session:
        conversation = session.get(Conversation, conversation_id)
        fresh = prefill(session, workspace_id, conversation_id, user_id, stale_after)
        fresh.state = "sent"
        fresh.message = _sent_note(reply, refused)
        return Outcome(fresh, message=session.get(Message, row), conversation=conversation,
                       message_count=_count(session, conversation_id))


def _count(session: Session, conversation_id: int) -> int:
    return session.execute(select(func.count()).where(Message.conversation_id == conversation_id)).scalar_one()


def _by_token(session: Session, workspace_id: int, token: str) -> Reply | None:
    token = (token or "").strip()
    if not TOKEN_RE.match(token):
        return None
    return session.execute(
        select(Reply).where(Reply.workspace_id == workspace_id, Reply.token == token)
    ).scalar_one_or_none()


def _again(session: Session, earlier: Reply, stale_after: timedelta) -> Outcome:
    """The same form submitted again (a double click, a resent request): never a second send."""
    box = prefill(session, earlier.workspace_id, earlier.conversation_id, earlier.user_id, stale_after)
    conversation = session.get(Conversation, earlier.conversation_id)
    if earlier.state == "sent":
        box.state, box.message = "sent", "This reply was sent already; it was not sent again."
    elif earlier.state == "failed":
        _keep(box, earlier)
        box.state, box.message = "failed", f"Not sent: {earlier.error}"
    elif _stale(earlier, stale_after, utcnow()):
        _keep(box, earlier)
        box.state = "unknown"
        box.message = "This reply did not finish sending: it may have gone out. Check the Sent folder before sending it again."
    else:
        box.state, box.message = "sending", "This reply is being sent already; it is sent once."
    return Outcome(box, conversation=conversation, message_count=_count(session, earlier.conversation_id))


def _failed(engine: Engine, reply: Reply, mailbox: Mailbox, exc: MailServerError) -> Outcome:
    with Session(engine, expire_on_commit=False) as session:
        session.execute(update(Reply).where(Reply.id == reply.id).values(state="failed", error=exc.message, error_kind=exc.kind))
        session.commit()
        log.warning("reply not sent", extra={"workspace": reply.workspace_id, "reply": reply.id, "kind": exc.kind})
        box = prefill(session, reply.workspace_id, reply.conversation_id, reply.user_id, timedelta(days=1))
        _keep(box, reply)
        box.state, box.message = "failed", f"Not sent: {exc.message}"
        return Outcome(box, conversation=session.get(Conversation, reply.conversation_id),
                       message_count=_count(session, reply.conversation_id))


def _record_sent(engine: Engine, reply: Reply, mailbox: Mailbox, outgoing: mail.Outgoing, data: bytes,
                 refused: dict[str, str]) -> int:
    """The outgoing Message, the reply marked sent and the conversation moved to pending, in
    one transaction. Returns the Message's id."""
    parsed = parse_message(data)
    body = getattr(parsed, "body_text", outgoing.body)
    values = dict(
        workspace_id=reply.workspace_id, conversation_id=reply.conversation_id, direction="out",
        from_address=mailbox.address, from_name=mailbox.display_name, to_addresses=", ".join(outgoing.to),
        cc_addresses=", ".join(outgoing.cc), subject=outgoing.subject, sent_at=outgoing.date,
        message_id=outgoing.message_id, in_reply_to=outgoing.in_reply_to, body_text=body,
        snippet=getattr(parsed, "snippet", snippet_of(body)),
    )
    filed = "server" if mailbox.smtp_files_sent else ("pending" if mailbox.sent_folder else "none")
    with Session(engine) as session:
        row = Message(**values)
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # a fetch of the sent folder stored the server's copy first
            session.rollback()
            row = session.execute(
                select(Message).where(Message.workspace_id == reply.workspace_id, Message.message_id == outgoing.message_id)
            ).scalar_one()
        session.execute(update(Reply).where(Reply.id == reply.id).values(
            state="sent", sent_at=outgoing.date, message_row_id=row.id, filed=filed,
            refused="; ".join(f"{rcpt} ({answer})" for rcpt, answer in refused.items())))
        conversation = session.get(Conversation, reply.conversation_id)
        # Replying hands the conversation to the customer: pending until they answer.
        conversation.status = "pending"
        conversation.last_activity_at = max(as_utc(conversation.last_activity_at), outgoing.date)
        session.add(conversation)
        # Analytics recompute this conversation only (its response times change).
        freshness.request_records(session.connection(), reply.workspace_id, freshness.CONVERSATION,
                                  [str(reply.conversation_id)])
        session.commit()
        return row.id


def _file(engine: Engine, vault, options: FetchOptions, reply: Reply, mailbox: Mailbox, data: bytes,
          when: datetime) -> None:
    """The copy in the sent folder; the reply is sent whatever happens here."""
    if mailbox.smtp_files_sent or not mailbox.sent_folder:
        return
    try:
        try:
            login = imap_login(mailbox, vault)
        except SecretUnreadable as exc:
            raise MailServerError("secret", SECRET) from exc
        mail.file_in_sent(endpoint_for(mailbox, options), login.username, login.password, mailbox.sent_folder, data, when)
        values = {"filed": "filed", "filed_error": None}
    except MailServerError as exc:
        log.warning("reply not filed", extra={"workspace": reply.workspace_id, "reply": reply.id, "kind": exc.kind})
        values = {"filed": "failed", "filed_error": exc.message}
    with Session(engine) as session:
        session.execute(update(Reply).where(Reply.id == reply.id).values(**values))
        session.commit()
    reply.filed, reply.filed_error = values["filed"], values["filed_error"]


def _sent_note(reply: Reply, refused: dict[str, str]) -> str:
    note = "Sent. The conversation is now Pending until the customer answers."
    if refused:
        note += " Not delivered to " + "; ".join(f"{rcpt} ({answer})" for rcpt, answer in refused.items()) + "."
    if reply.filed == "failed":
        note += f" It could not be filed in the Sent folder: {reply.filed_error}"
    return note
