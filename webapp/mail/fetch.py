"""Fetching a mailbox over IMAP into the inbox, through the importer's one code path.

Per folder (the inbox, and the sent folder whose messages are outgoing), incremental by
UIDVALIDITY and the highest UID stored. The first pass reads the backfill window (IMAP
``SINCE``); a changed UIDVALIDITY means the UIDs were renumbered, so the folder is read again
the same way and what is already stored is recognised by Message-ID.

UIDs are read in batches; each batch's messages and the folder's new ``last_uid`` are committed
together, so a connection dropped (or a process killed) mid-fetch resumes after the last whole
batch: nothing lost, nothing twice. A message over the import size limit is skipped from its
RFC822.SIZE, before it is downloaded; one that cannot be parsed is skipped with the parser's
reason; the rest go on.

One fetch at a time per mailbox: it is claimed with a lease (compare-and-set), renewed after
every batch, so a process that died leaves a lease that simply runs out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from webapp.analytics.facts import refresh_if_requested
from webapp.clock import as_utc, utcnow
from webapp.crypto import SecretUnreadable
from webapp.mail.credentials import imap_login
from webapp.mail.errors import MailServerError
from webapp.mail.imap import Endpoint, Envelope, ImapSession
from webapp.mailimport.importer import Incoming, import_parsed, parse_raw
from webapp.mailimport.sources import Limits, RawMessage
from webapp.mailimport.summary import DUPLICATE_IN_SOURCE, DUPLICATE_STORED, ImportSummary
from webapp.models import Mailbox, MailboxFolder

log = logging.getLogger(__name__)

BATCH_MESSAGES = 200
BATCH_BYTES = 16 * 1024 * 1024  # downloaded per batch at most (one bigger message goes alone)
LEASE = timedelta(minutes=5)  # renewed after every batch; a fetch whose process died frees it by then
CONCURRENT = "Another import or fetch stored some of the same messages at the same time; the batch is read again next time."
SECRET = "The mailbox's password cannot be decrypted with the configured ENCRYPTION_KEYS; enter it again."


@dataclass(frozen=True)
class FetchOptions:
    limits: Limits = field(default_factory=Limits)
    ca_file: str | None = None
    timeout: float = 30.0
    batch_messages: int = BATCH_MESSAGES
    batch_bytes: int = BATCH_BYTES
    lease: timedelta = LEASE

    @classmethod
    def from_config(cls, config, **overrides) -> FetchOptions:
        return cls(limits=Limits.from_config(config), ca_file=config.get("MAIL_CA_FILE"),
                   timeout=float(config.get("MAIL_TIMEOUT_SECONDS", 30)), **overrides)


@dataclass
class FetchResult:
    mailbox_id: int
    status: str  # "done" | "failed" | "busy" | "missing"
    summary: ImportSummary = field(default_factory=ImportSummary)
    error: MailServerError | None = None
    stored: int = 0  # messages stored in committed batches


# after_batch(folder_state): called after each committed batch (progress, and tests' faults).
AfterBatch = Callable[[MailboxFolder], None]


def endpoint_for(mailbox: Mailbox, options: FetchOptions) -> Endpoint:
    return Endpoint(mailbox.imap_host, mailbox.imap_port, mailbox.imap_security,
                    pin=mailbox.imap_pinned_sha256, ca_file=options.ca_file, timeout=options.timeout)


def folders_of(mailbox: Mailbox) -> list[tuple[str, str]]:
    """(role, folder name) to read, the inbox first."""
    pairs = [("inbox", mailbox.inbox_folder)]
    if mailbox.sent_folder:
        pairs.append(("sent", mailbox.sent_folder))
    return pairs


def due_mailboxes(engine: Engine, now=None) -> list[int]:
    """Mailboxes to fetch now: "Fetch now" pressed, or enabled and their interval passed since
    the last fetch (or never fetched); none whose lease is held."""
    now = now or utcnow()
    with engine.connect() as conn:
        rows = conn.execute(
            select(Mailbox.id, Mailbox.enabled, Mailbox.fetch_requested_at, Mailbox.last_fetch_at,
                   Mailbox.fetch_interval_minutes)
            .where(or_(Mailbox.fetch_lease_until.is_(None), Mailbox.fetch_lease_until < now))
            .order_by(Mailbox.id)
        ).all()
    due = []
    for mailbox_id, enabled, requested, last, minutes in rows:
        if requested is not None or (
            enabled and (last is None or as_utc(last) + timedelta(minutes=minutes) <= now)
        ):
            due.append(mailbox_id)
    return due


def claim(engine: Engine, mailbox_id: int, lease: timedelta) -> bool:
    now = utcnow()
    with engine.begin() as conn:
        return bool(conn.execute(
            update(Mailbox)
            .where(Mailbox.id == mailbox_id,
                   or_(Mailbox.fetch_lease_until.is_(None), Mailbox.fetch_lease_until < now))
            .values(fetch_lease_until=now + lease, fetch_requested_at=None)
        ).rowcount)


def fetch_mailbox(engine: Engine, vault, mailbox_id: int, options: FetchOptions | None = None, *,
                  after_batch: AfterBatch | None = None) -> FetchResult:
    """Fetch what is new in every folder of the mailbox; the outcome is recorded on its row."""
    options = options or FetchOptions()
    if not claim(engine, mailbox_id, options.lease):
        with Session(engine) as session:
            exists = session.get(Mailbox, mailbox_id) is not None
        return FetchResult(mailbox_id, "busy" if exists else "missing")
    result = FetchResult(mailbox_id, "done")
    workspace_id = None
    try:
        with Session(engine, expire_on_commit=False) as session:
            mailbox = session.get(Mailbox, mailbox_id)
            if mailbox is None:  # removed since it was claimed
                result.status = "missing"
                return result
            workspace_id = mailbox.workspace_id
            result.summary.source = mailbox.address
            try:
                login = imap_login(mailbox, vault)
            except SecretUnreadable as exc:
                raise MailServerError("secret", SECRET) from exc
            with ImapSession(endpoint_for(mailbox, options), login.username, login.password) as imap:
                for role, name in folders_of(mailbox):
                    _Folder(session, mailbox, role, name, imap, options, result, after_batch).run()
    except (MailboxRemoved, StaleDataError):
        result.status = "missing"  # removed during the fetch: nothing to record the outcome on
    except MailServerError as exc:
        result.status, result.error = "failed", exc
    except IntegrityError:
        result.status, result.error = "failed", MailServerError("protocol", CONCURRENT)
    finally:
        # Always, so the lease never outlives this fetch (whatever stopped it).
        if result.status != "missing":
            _finish(engine, mailbox_id, result, options)
    if result.stored:
        # Committed batches stay, even when the mailbox was removed during the fetch.
        refresh_if_requested(engine, workspace_id)  # only the conversations the fetch touched
    return result


def _finish(engine: Engine, mailbox_id: int, result: FetchResult, options: FetchOptions) -> None:
    now = utcnow()
    values = {"fetch_lease_until": None, "last_fetch_at": now, "last_summary": result.summary.to_json()}
    if result.error is None:
        values.update(last_success_at=now, last_error=None, last_error_at=None)
    else:
        values.update(last_error=result.error.message, last_error_at=now)
        log.warning("mailbox fetch failed", extra={"mailbox": mailbox_id, "kind": result.error.kind})
    with engine.begin() as conn:
        conn.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(**values))


class MailboxRemoved(Exception):
    """The mailbox was removed while it was being fetched."""


class _Folder:
    def __init__(self, session: Session, mailbox: Mailbox, role: str, name: str, imap: ImapSession,
                 options: FetchOptions, result: FetchResult, after_batch: AfterBatch | None):
        self.session, self.mailbox, self.role, self.name = session, mailbox, role, name
        self.imap, self.options, self.after_batch = imap, options, after_batch
        self.result, self.summary = result, result.summary
        self.direction = "out" if role == "sent" else None  # the sent folder holds our own mail

    def _state(self) -> MailboxFolder:
        state = self.session.execute(
            select(MailboxFolder).where(MailboxFolder.mailbox_id == self.mailbox.id, MailboxFolder.role == self.role)
        ).scalar_one_or_none()
        if state is None:
            state = MailboxFolder(mailbox_id=self.mailbox.id, workspace_id=self.mailbox.workspace_id,
                                  role=self.role, name=self.name)
            self.session.add(state)
        return state

    def run(self) -> None:
        state = self._state()
        uidvalidity, self.uidnext = self.imap.examine(self.name)
        if state.uidvalidity != uidvalidity or state.name != self.name:
            if state.uidvalidity is not None:
                log.info("mailbox folder renumbered; reading it again",
                         extra={"mailbox": self.mailbox.id, "folder": self.name})
            state.name, state.uidvalidity, state.last_uid, state.state = self.name, uidvalidity, 0, "new"
        since = (utcnow() - timedelta(days=self.mailbox.backfill_days)).date()
        if state.state == "new":
            if self.mailbox.backfill_days == 0:
                # No backfill: only mail that arrives from now on.
                if self.uidnext:
                    state.last_uid = self.uidnext - 1
                else:
                    state.last_uid = max(self.imap.search_uids(0), default=0)
                state.state, state.to_read, state.done = "current", 0, 0
                uids: list[int] = []
            else:
                uids = self.imap.search_uids(0, since, uidnext=self.uidnext)
                state.state, state.to_read, state.done = "backfill", len(uids), 0
        elif state.state == "backfill":
            uids = self.imap.search_uids(state.last_uid, since, uidnext=self.uidnext)
            state.to_read = state.done + len(uids)
        else:
            uids = self.imap.search_uids(state.last_uid, uidnext=self.uidnext)
            state.to_read, state.done = len(uids), 0
        state.updated_at = utcnow()
        self.session.commit()
        step = self.options.batch_messages
        for start in range(0, len(uids), step):
            chunk = uids[start : start + step]
            for group in self._groups(chunk, self.imap.envelopes(chunk)):
                self._batch(state, group)
        state.state, state.updated_at = "current", utcnow()
        self.session.commit()

    def _groups(self, uids: list[int], envelopes: list[Envelope]):
        """The chunk in UID order, cut where the bytes to download reach the batch size.
        Each group is (uids, {uid: envelope}); a UID without an envelope was expunged."""
        known = {e.uid: e for e in envelopes}
        group: list[int] = []
        size = 0
        for uid in uids:
            envelope = known.get(uid)
            download = envelope.size if envelope and envelope.size <= self.options.limits.message_bytes else 0
            if group and size + download > self.options.batch_bytes:
                yield group, known
                group, size = [], 0
            group.append(uid)
            size += download
        if group:
            yield group, known

    def _batch(self, state: MailboxFolder, group) -> None:
        uids, known = group
        limits = self.options.limits
        # The lease moves with the work, so a long backfill keeps its claim; a mailbox removed
        # meanwhile stops the fetch here, before anything more is written.
        renewed = self.session.execute(update(Mailbox).where(Mailbox.id == self.mailbox.id)
                                       .values(fetch_lease_until=utcnow() + self.options.lease)).rowcount
        if not renewed:
            raise MailboxRemoved(self.mailbox.id)
        wanted = [uid for uid in uids if uid in known and known[uid].size <= limits.message_bytes]
        bodies = self.imap.bodies(wanted)
        before_stored = self.summary.imported
        before_skips = _real_skips(self.summary)
        incoming: list[Incoming] = []
        for uid in uids:
            envelope = known.get(uid)
            if envelope is None:
                continue  # expunged since the search
            label = f"{self.name} UID {uid}"
            self.summary.seen += 1
            if envelope.size > limits.message_bytes:
                self.summary.skip(limits.too_large, label)
                continue
            parsed = parse_raw(RawMessage(label, bodies.get(uid), envelope.internal_date,
                                          error="" if uid in bodies else "gone from the server before it was read"),
                               limits, self.summary)
            if parsed is not None:
                incoming.append(Incoming(label, parsed, self.direction))
        if incoming:
            import_parsed(self.session, self.mailbox.workspace_id, incoming, self.mailbox.address,
                          limits=limits, summary=self.summary)
        state.last_uid = max(uids)
        state.done += len(uids)
        stored = self.summary.imported - before_stored
        state.stored += stored
        skips = _real_skips(self.summary) - before_skips
        if skips:
            state.skipped += skips
            state.last_skip = _last_reason(self.summary)
        state.updated_at = utcnow()
        self.session.commit()
        self.result.stored += stored
        if self.after_batch is not None:
            self.after_batch(state)


def _real_skips(summary: ImportSummary) -> int:
    """Skips that lose a message; a copy of one already stored loses nothing."""
    return summary.skipped_total - summary.skipped[DUPLICATE_STORED] - summary.skipped[DUPLICATE_IN_SOURCE]


def _last_reason(summary: ImportSummary) -> str | None:
    reasons = [r for r in summary.skipped if r not in (DUPLICATE_STORED, DUPLICATE_IN_SOURCE)]
    if not reasons:
        return None
    reason = reasons[-1]
    examples = summary.examples.get(reason) or []
    return f"{reason} ({examples[-1]})" if examples else reason
