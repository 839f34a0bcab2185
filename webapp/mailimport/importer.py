"""Parsed mail into conversations, messages and contacts of one workspace: files imported
(``import_messages``) and mail fetched over IMAP (``import_parsed``) take this one path.

Messages are handled in batches: one query per batch finds which Message-IDs (the batch's own
and those it refers to) are already stored, one finds the contacts, one the conversations a
subject might continue; rows are then written in bulk. Nothing is committed here: the caller
owns the transaction, so an import is whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlmodel import Session

from webapp.addresses import own_addresses
from webapp.clock import as_utc
from webapp.mailimport.parse import (
    ParsedMessage,
    Unparseable,
    normalize_subject,
    parse_message,
    strip_prefixes,
)
from webapp.mailimport.sources import Limits, RawMessage
from webapp.mailimport.summary import DUPLICATE_IN_SOURCE, DUPLICATE_STORED, ImportSummary
from webapp.models import Contact, Conversation, Message

BATCH = 1000
# A batch is also written once its bodies reach this many characters, so a run of long
# messages cannot pile up in memory before the next write.
BATCH_CHARS = 16_000_000
# Messages remembered between batches before the in-memory indexes are dropped: past this, a
# batch finds earlier ones in the database instead (they are flushed), so an import's memory
# is bounded by this and the batch, not by the size of the mailbox.
REMEMBERED = 20_000
IN_CHUNK = 900  # bound parameters per IN (...), well under SQLite's and Postgres' limits
# Subject threading only joins a reply to a conversation with the same correspondent that was
# active within this window; older mail with the same subject starts a new conversation.
SUBJECT_WINDOW = timedelta(days=30)
REPLY_LOOKAHEAD = timedelta(days=90)


@dataclass(eq=False)
class _Thread:
    """A conversation while the import runs; ``row`` is None until it is written."""

    subject: str
    first_at: datetime
    last_at: datetime
    status: str = "open"
    contact: Contact | None = None
    row: Conversation | None = None
    existed: bool = False
    touched: bool = False


@dataclass
class Incoming:
    """One parsed message from any source. ``direction`` is set when the source knows it (a
    Sent folder holds our own mail); otherwise the From address tells."""

    label: str
    parsed: ParsedMessage
    direction: str | None = None


# progress(summary, written): after every message read, and with written=True right after a
# batch's rows were sent to the database (the session then holds nothing unflushed).
Progress = Callable[[ImportSummary, bool], None]


def import_messages(
    session: Session,
    workspace_id: int,
    items: Iterable[RawMessage],
    source: str = "",
    *,
    limits: Limits | None = None,
    progress: Progress | None = None,
    summary: ImportSummary | None = None,
) -> ImportSummary:
    return _Importer(session, workspace_id, source, limits or Limits(), progress, summary).run(items)


def import_parsed(
    session: Session,
    workspace_id: int,
    items: Iterable[Incoming],
    source: str = "",
    *,
    limits: Limits | None = None,
    progress: Progress | None = None,
    summary: ImportSummary | None = None,
) -> ImportSummary:
    """The same as import_messages for messages a source has parsed itself (with
    parse_raw): the caller counts them as seen and records what it skipped."""
    return _Importer(session, workspace_id, source, limits or Limits(), progress, summary).run_parsed(items)


def parse_raw(item: RawMessage, limits: Limits, summary: ImportSummary) -> ParsedMessage | None:
    """The parser every source uses; an unreadable or unparseable message is counted as a
    skip in ``summary`` with its reason, and None comes back."""
    if item.data is None:
        summary.skip(item.error or "unreadable", item.label)
        return None
    parsed = parse_message(item.data, item.fallback_date, limits.addresses_per_header)
    if isinstance(parsed, Unparseable):
        label = f"{item.label}: “{parsed.subject}”" if parsed.subject else item.label
        summary.skip(parsed.reason, label)
        return None
    return parsed


class _Importer:
    def __init__(self, session: Session, workspace_id: int, source: str, limits: Limits,
                 progress: Progress | None, summary: ImportSummary | None):
        self.session = session
        self.workspace_id = workspace_id
        self.summary = summary or ImportSummary(source=source)
        self.limits = limits
        self.progress = progress
        self.own = own_addresses(session, workspace_id)
        self.thread_of: dict[str, _Thread] = {}  # Message-ID -> its conversation
        self.children_of: dict[str, _Thread] = {}  # referenced but not yet seen -> the reply's
        self.threads_by_id: dict[int, _Thread] = {}
        self.by_subject: dict[tuple[str, str], list[_Thread]] = {}
        self.contacts: dict[str, Contact | None] = {}
        self.imported_ids: set[str] = set()
        self.stored_ids: set[str] = set()

    def run(self, items: Iterable[RawMessage]) -> ImportSummary:
        def parsed():
            for item in items:
                self.summary.seen += 1
                message = parse_raw(item, self.limits, self.summary)
                yield None if message is None else Incoming(item.label, message)

        return self._run(parsed())

    def run_parsed(self, items: Iterable[Incoming]) -> ImportSummary:
        return self._run(items)

    def _run(self, items: Iterable[Incoming | None]) -> ImportSummary:
        """``None`` items stand for messages read but skipped (progress is still reported)."""
        batch: list[Incoming] = []
        chars = 0
        for item in items:
            if item is not None:
                batch.append(item)
                chars += len(item.parsed.body_text)
                if len(batch) >= BATCH or chars >= BATCH_CHARS:
                    self._import_batch(batch)
                    batch, chars = [], 0
                    if len(self.imported_ids) + len(self.thread_of) > REMEMBERED:
                        self._forget()
                    self._report(written=True)
                    continue
            self._report(written=False)
        if batch:
            self._import_batch(batch)
            self._report(written=True)
        return self.summary

    def _forget(self) -> None:
        """Drop what earlier batches left in memory; the database answers for them from now
        on (a message seen again counts as already stored rather than repeated in the file)."""
        self.session.flush()
        for index in (self.thread_of, self.children_of, self.threads_by_id, self.by_subject, self.contacts,
                      self.imported_ids, self.stored_ids):
            index.clear()

    def _report(self, *, written: bool) -> None:
        if self.progress is not None:
            self.progress(self.summary, written)

    # -- one batch -------------------------------------------------------------------------

    def _import_batch(self, batch: list[Incoming]) -> None:
        self._load_stored_ids(batch)
        fresh: list[ParsedMessage] = []
        forced: dict[int, str] = {}  # id(parsed) -> the direction its source gave
        for item in batch:  # in file order: the first copy is the one kept
            label, parsed = item.label, item.parsed
            if item.direction:
                forced[id(parsed)] = item.direction
            if parsed.message_id in self.imported_ids:
                self.summary.skip(DUPLICATE_IN_SOURCE, f"{label}: {parsed.message_id}")
            elif parsed.message_id in self.stored_ids:
                self.summary.skip(DUPLICATE_STORED, f"{label}: {parsed.message_id}")
            else:
                self.imported_ids.add(parsed.message_id)
                self.summary.notes.update(parsed.notes)
                self.summary.addresses_dropped += parsed.addresses_dropped
                fresh.append(parsed)
        # Oldest first, so a reply usually finds its parent already placed.
        fresh.sort(key=lambda parsed: parsed.sent_at)
        directions = [forced.get(id(p)) or ("out" if self._is_ours(p.from_address) else "in") for p in fresh]
        people = [self._correspondent(p, d) for p, d in zip(fresh, directions)]
        self._load_contacts({email for email, _ in people if email})
        self._load_subject_candidates(fresh, people)

        new_threads: list[_Thread] = []
        placed: list[tuple[ParsedMessage, str, _Thread]] = []
        for parsed, direction, (email, name) in zip(fresh, directions, people):
            contact = self._contact(email, name)
            thread = self._find_thread(parsed, email)
            if thread is None:
                thread = _Thread(strip_prefixes(parsed.subject), parsed.sent_at, parsed.sent_at)
                new_threads.append(thread)
                self.summary.conversations_created += 1
            elif thread.existed and not thread.touched:
                self.summary.conversations_extended += 1
            self._place(parsed, direction, contact, thread, email)
            placed.append((parsed, direction, thread))
        self._write(new_threads, placed)

    def _load_stored_ids(self, batch: list[Incoming]) -> None:
        own = {item.parsed.message_id for item in batch} - self.thread_of.keys()
        wanted = set(own)
        for parsed in (item.parsed for item in batch):
            wanted.update(parsed.references)
            if parsed.in_reply_to:
                wanted.add(parsed.in_reply_to)
        wanted -= self.thread_of.keys()
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(wanted)):
            found.update(
                self.session.execute(
                    select(Message.message_id, Message.conversation_id).where(
                        Message.workspace_id == self.workspace_id, Message.message_id.in_(chunk)
                    )
                ).all()
            )
        replies = self._stored_replies(own - found.keys(), batch)
        self._load_threads(set(found.values()) | set(replies.values()))
        # Every id found, not only the batch's own: a later batch may hold one of them.
        self.stored_ids.update(found.keys())
        for message_id, conversation_id in found.items():
            self.thread_of[message_id] = self.threads_by_id[conversation_id]
        for parent_id, conversation_id in replies.items():
            self.children_of.setdefault(parent_id, self.threads_by_id[conversation_id])

    def _stored_replies(self, ids: set[str], batch) -> dict[str, int]:
        """Stored replies to messages of this batch (a Sent folder imported before the Inbox).

        In-Reply-To has no index, so the search is bounded by time, which the index covers:
        a reply is sent after its parent, and nearly always within REPLY_LOOKAHEAD.
        """
        if not ids:
            return {}
        since = min(item.parsed.sent_at for item in batch)
        until = max(item.parsed.sent_at for item in batch) + REPLY_LOOKAHEAD
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(ids)):
            rows = self.session.execute(
                select(Message.in_reply_to, Message.conversation_id).where(
                    Message.workspace_id == self.workspace_id,
                    Message.sent_at >= since,
                    Message.sent_at <= until,
                    Message.in_reply_to.in_(chunk),
                )
            ).all()
            for parent_id, conversation_id in rows:
                found.setdefault(parent_id, conversation_id)
        return found

    def _load_threads(self, ids: set[int]) -> None:
        missing = sorted(ids - self.threads_by_id.keys())
        for chunk in _chunks(missing):
            rows = self.session.execute(
                select(Conversation, Contact)
                .outerjoin(Contact, Contact.id == Conversation.contact_id)
                .where(Conversation.workspace_id == self.workspace_id, Conversation.id.in_(chunk))
            )
            for conversation, contact in rows:
                self._adopt(conversation, contact)

    def _adopt(self, conversation: Conversation, contact: Contact | None) -> _Thread:
        thread = _Thread(
            subject=conversation.subject,
            first_at=as_utc(conversation.created_at),
            last_at=as_utc(conversation.last_activity_at),
            status=conversation.status,
            contact=contact,
            row=conversation,
            existed=True,
        )
        self.threads_by_id[conversation.id] = thread
        if contact is not None and contact.email_normalized:
            self.contacts.setdefault(contact.email_normalized, contact)
            self._index_subject(thread, contact.email_normalized)
        return thread

    def _load_contacts(self, emails: set[str]) -> None:
        missing = sorted(emails - self.contacts.keys())
        for chunk in _chunks(missing):
            rows = self.session.execute(
                select(Contact).where(
                    Contact.workspace_id == self.workspace_id, Contact.email_normalized.in_(chunk)
                )
            ).scalars()
            for contact in rows:
                self.contacts[contact.email_normalized] = contact
        for email in missing:
            self.contacts.setdefault(email, None)

    def _load_subject_candidates(self, batch: list[ParsedMessage], people) -> None:
        """Stored conversations a reply without usable headers might belong to."""
        replies = [(p, email) for p, (email, _) in zip(batch, people) if email and p.is_reply]
        if not replies:
            return
        since = min(p.sent_at for p, _ in replies) - SUBJECT_WINDOW
        contact_ids = sorted(
            {c.id for _, email in replies if (c := self.contacts.get(email)) is not None and c.id}
        )
        for chunk in _chunks(contact_ids):
            rows = self.session.execute(
                select(Conversation, Contact)
                .join(Contact, Contact.id == Conversation.contact_id)
                .where(
                    Conversation.workspace_id == self.workspace_id,
                    Conversation.contact_id.in_(chunk),
                    Conversation.last_activity_at >= since,
                )
            )
            for conversation, contact in rows:
                if conversation.id not in self.threads_by_id:
                    self._adopt(conversation, contact)

    # -- threading ---------------------------------------------------------------------------

    def _find_thread(self, parsed: ParsedMessage, email: str | None) -> _Thread | None:
        for ref in ([parsed.in_reply_to] if parsed.in_reply_to else []) + parsed.references[::-1]:
            if ref in self.thread_of:
                return self.thread_of[ref]
        # A reply that came earlier in the file named this message as its parent.
        if parsed.message_id in self.children_of:
            return self.children_of[parsed.message_id]
        if not (parsed.is_reply and email):
            return None
        key = normalize_subject(parsed.subject)
        if not key:
            return None
        best, best_gap = None, None
        for thread in self.by_subject.get((email, key), ()):
            if thread.first_at - SUBJECT_WINDOW <= parsed.sent_at <= thread.last_at + SUBJECT_WINDOW:
                gap = abs(parsed.sent_at - thread.last_at)
                if best_gap is None or gap < best_gap:
                    best, best_gap = thread, gap
        return best

    def _place(self, parsed: ParsedMessage, direction: str, contact, thread: _Thread, email) -> None:
        thread.touched = True
        if thread.contact is None and contact is not None:
            thread.contact = contact
        thread.first_at = min(thread.first_at, parsed.sent_at)
        if parsed.sent_at >= thread.last_at:
            thread.last_at = parsed.sent_at
            # The newest message decides: theirs needs an answer; ours waits on them.
            if direction == "in":
                thread.status = "open"
            elif thread.status == "open":
                thread.status = "pending"
        self.thread_of[parsed.message_id] = thread
        for ref in ([parsed.in_reply_to] if parsed.in_reply_to else []) + parsed.references:
            if ref not in self.thread_of:
                self.children_of.setdefault(ref, thread)
        if email:
            self._index_subject(thread, email, parsed.subject)
        self.summary.imported += 1
        if direction == "in":
            self.summary.inbound += 1
        else:
            self.summary.outbound += 1

    def _index_subject(self, thread: _Thread, email: str, subject: str | None = None) -> None:
        key = normalize_subject(subject if subject is not None else thread.subject)
        if key:
            threads = self.by_subject.setdefault((email, key), [])
            if thread not in threads:
                threads.append(thread)

    # -- people ------------------------------------------------------------------------------

    def _is_ours(self, address: str) -> bool:
        return self.own.is_ours(address)

    def _correspondent(self, parsed: ParsedMessage, direction: str) -> tuple[str | None, str]:
        """The person on the other side: the sender of inbound mail, else the first outside
        recipient. None for mail only between our own addresses."""
        if direction == "in" and not self._is_ours(parsed.from_address):
            return parsed.from_address, parsed.from_name
        for address, name in parsed.to + parsed.cc:
            if not self._is_ours(address):
                return address, name
        return None, ""

    def _contact(self, email: str | None, name: str) -> Contact | None:
        if not email:
            return None
        contact = self.contacts.get(email)
        if contact is None:
            contact = Contact(workspace_id=self.workspace_id, name=name, email=email, email_normalized=email)
            self.session.add(contact)
            self.contacts[email] = contact
            self.summary.contacts_created += 1
        elif not contact.name and name:
            contact.name = name
        return contact

    # -- writing -----------------------------------------------------------------------------

    def _write(self, new_threads: list[_Thread], placed: list[tuple[ParsedMessage, str, _Thread]]) -> None:
        self.session.flush()  # new contacts get their ids
        for thread in new_threads:
            thread.row = Conversation(workspace_id=self.workspace_id, subject=thread.subject[:998])
            self.session.add(thread.row)
        for thread in {id(t): t for _, _, t in placed}.values():
            row = thread.row
            row.contact_id = row.contact_id or (thread.contact.id if thread.contact else None)
            row.status = thread.status
            row.last_activity_at = thread.last_at
            # An imported conversation began with its first message, not when it was imported.
            row.created_at = thread.first_at if not thread.existed else min(as_utc(row.created_at), thread.first_at)
        self.session.flush()
        for thread in new_threads:
            self.threads_by_id[thread.row.id] = thread
        rows = [
            {
                "workspace_id": self.workspace_id,
                "conversation_id": thread.row.id,
                "direction": direction,
                "from_address": p.from_address,
                "from_name": p.from_name,
                "to_addresses": ", ".join(address for address, _ in p.to),
                "cc_addresses": ", ".join(address for address, _ in p.cc),
                "subject": p.subject,
                "sent_at": p.sent_at,
                "message_id": p.message_id,
                "in_reply_to": p.in_reply_to,
                "snippet": p.snippet,
                "body_text": p.body_text,
            }
            for p, direction, thread in placed
        ]
        if rows:
            self.session.execute(insert(Message), rows)


def _chunks(values: list) -> Iterable[list]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]
