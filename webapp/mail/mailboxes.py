"""A workspace's mailboxes: validated settings, passwords through the vault (never shown back),
"Test" (IMAP and SMTP, naming what failed), accepting a self-signed certificate, "Fetch now".
Reached only through their workspace (another workspace's id is NotFound). Nothing commits
here: the request, the CLI or the job does."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from webapp.addresses import InvalidAddress, normalize_email
from webapp.clock import as_utc, utcnow
from webapp.crypto import SecretUnreadable
from webapp.mail import imap, smtp
from webapp.mail.credentials import imap_login, set_imap_password, set_smtp_password, smtp_login
from webapp.mail.errors import MailServerError
from webapp.mail.fetch import SECRET, FetchOptions, endpoint_for, folders_of
from webapp.mail.tls import normalize_fingerprint
from webapp.models import TLS_MODES, Mailbox, MailboxFolder
from webapp.scoping import NotFound, owned
from webapp.validation import FieldError

HOST_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
IPV6_RE = re.compile(r"^\[?[0-9A-Fa-f:]+\]?$")
MAX_INTERVAL = 24 * 60
MAX_BACKFILL = 3650
DEFAULT_PORTS = {("imap", "tls"): 993, ("imap", "starttls"): 143, ("smtp", "tls"): 465, ("smtp", "starttls"): 587}

__all__ = ["MailboxError", "MailboxInput", "NotFound"]


class MailboxError(FieldError):
    """Invalid mailbox settings."""


@dataclass
class MailboxInput:
    address: str = ""
    display_name: str = ""
    imap_host: str = ""
    imap_port: int | str | None = None
    imap_security: str = "tls"
    imap_username: str = ""
    imap_password: str | None = None  # None or "" on edit: keep the stored one
    inbox_folder: str = "INBOX"
    sent_folder: str = "Sent"
    smtp_host: str = ""
    smtp_port: int | str | None = None
    smtp_security: str = "starttls"
    smtp_same_as_imap: bool = True
    smtp_username: str = ""
    smtp_password: str | None = None
    smtp_files_sent: bool = False  # the SMTP server files sent mail itself (Gmail): no IMAP copy
    fetch_interval_minutes: int | str = 2
    backfill_days: int | str = 90
    enabled: bool = True

    @classmethod
    def from_mailbox(cls, mailbox: Mailbox) -> MailboxInput:
        """The form's values for an existing mailbox; passwords are never filled in."""
        return cls(
            address=mailbox.address, display_name=mailbox.display_name, imap_host=mailbox.imap_host,
            imap_port=mailbox.imap_port, imap_security=mailbox.imap_security, imap_username=mailbox.imap_username,
            inbox_folder=mailbox.inbox_folder, sent_folder=mailbox.sent_folder or "", smtp_host=mailbox.smtp_host,
            smtp_port=mailbox.smtp_port, smtp_security=mailbox.smtp_security,
            smtp_same_as_imap=mailbox.smtp_same_as_imap, smtp_username=mailbox.smtp_username or "",
            smtp_files_sent=mailbox.smtp_files_sent,
            fetch_interval_minutes=mailbox.fetch_interval_minutes, backfill_days=mailbox.backfill_days,
            enabled=mailbox.enabled,
        )


def _host(value: str, name: str, label: str) -> str:
    value = (value or "").strip().rstrip(".")
    if not value:
        raise MailboxError(name, f"The {label} server's host name is needed.")
    if not (HOST_RE.match(value) or IPV6_RE.match(value)):
        raise MailboxError(name, f"{value!r} is not a host name.")
    return value.strip("[]")


def _int(value, name: str, label: str, low: int, high: int, default: int | None = None) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is not None:
            return default
        raise MailboxError(name, f"{label} is needed.")
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise MailboxError(name, f"{label} must be a whole number, not {value!r}.") from exc
    if not low <= number <= high:
        raise MailboxError(name, f"{label} must be between {low:,} and {high:,}.")
    return number


def _folder(value: str, name: str, label: str, *, required: bool) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise MailboxError(name, f"The {label} folder is needed (usually INBOX).")
        return None
    if len(value) > 255 or any(ch in value for ch in "\r\n\0"):
        raise MailboxError(name, f"{value!r} is not a folder name.")
    return value


def _security(value: str, name: str) -> str:
    if value not in TLS_MODES:
        raise MailboxError(name, "Choose implicit TLS or STARTTLS.")
    return value


def _apply(session: Session, vault, workspace_id: int, mailbox: Mailbox, data: MailboxInput, *, new: bool) -> Mailbox:
    try:
        address = normalize_email(data.address)
    except InvalidAddress as exc:
        raise MailboxError("address", f"{(data.address or '').strip()!r} is not an email address.") from exc
    clash = session.execute(
        select(Mailbox.id).where(Mailbox.workspace_id == workspace_id, Mailbox.address == address,
                                 Mailbox.id != (mailbox.id or -1))
    ).first()
    if clash:
        raise MailboxError("address", f"This workspace already has a mailbox for {address}.")
    display_name = (data.display_name or "").strip()
    if len(display_name) > 200:
        raise MailboxError("display_name", "The display name may be at most 200 characters.")
    imap_security = _security(data.imap_security, "imap_security")
    smtp_security = _security(data.smtp_security, "smtp_security")
    imap_host = _host(data.imap_host, "imap_host", "IMAP")
    imap_port = _int(data.imap_port, "imap_port", "The IMAP port", 1, 65535, DEFAULT_PORTS[("imap", imap_security)])
    imap_username = (data.imap_username or "").strip() or address
    if len(imap_username) > 255:
        raise MailboxError("imap_username", "The IMAP username may be at most 255 characters.")
    if new and not data.imap_password:
        raise MailboxError("imap_password", "The IMAP password (or app password) is needed.")
    inbox_folder = _folder(data.inbox_folder, "inbox_folder", "inbox", required=True)
    sent_folder = _folder(data.sent_folder, "sent_folder", "sent", required=False)
    smtp_host = _host(data.smtp_host, "smtp_host", "SMTP")
    smtp_port = _int(data.smtp_port, "smtp_port", "The SMTP port", 1, 65535, DEFAULT_PORTS[("smtp", smtp_security)])
    smtp_username = (data.smtp_username or "").strip()
    if not data.smtp_same_as_imap:
        if not smtp_username:
            raise MailboxError("smtp_username", "The SMTP username is needed (or choose “same as IMAP”).")
        if len(smtp_username) > 255:
            raise MailboxError("smtp_username", "The SMTP username may be at most 255 characters.")
        if not data.smtp_password and not mailbox.smtp_password_enc:
            raise MailboxError("smtp_password", "The SMTP password is needed (or choose “same as IMAP”).")
    interval = _int(data.fetch_interval_minutes, "fetch_interval_minutes", "The fetch interval", 1, MAX_INTERVAL, 2)
    backfill = _int(data.backfill_days, "backfill_days", "The backfill window", 0, MAX_BACKFILL, 90)

    server_changed = not new and (imap_host, imap_port) != (mailbox.imap_host, mailbox.imap_port)
    mailbox.address, mailbox.display_name = address, display_name
    mailbox.imap_host, mailbox.imap_port, mailbox.imap_security = imap_host, imap_port, imap_security
    mailbox.imap_username, mailbox.inbox_folder, mailbox.sent_folder = imap_username, inbox_folder, sent_folder
    if data.imap_password:
        set_imap_password(mailbox, vault, data.imap_password)
    smtp_changed = not new and (smtp_host, smtp_port) != (mailbox.smtp_host, mailbox.smtp_port)
    mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security = smtp_host, smtp_port, smtp_security
    mailbox.smtp_same_as_imap = bool(data.smtp_same_as_imap)
    mailbox.smtp_files_sent = bool(data.smtp_files_sent)
    if mailbox.smtp_same_as_imap:
        mailbox.smtp_username, mailbox.smtp_password_enc = None, None
    else:
        mailbox.smtp_username = smtp_username
        if data.smtp_password:
            set_smtp_password(mailbox, vault, data.smtp_password)
    # A pin belongs to one server: pointing the mailbox elsewhere drops it.
    if server_changed:
        mailbox.imap_pinned_sha256 = None
    if smtp_changed:
        mailbox.smtp_pinned_sha256 = None
    mailbox.fetch_interval_minutes, mailbox.backfill_days = interval, backfill
    mailbox.enabled = bool(data.enabled)
    mailbox.updated_at = utcnow()
    session.add(mailbox)
    session.flush()
    return mailbox


def create(session: Session, vault, workspace_id: int, data: MailboxInput) -> Mailbox:
    return _apply(session, vault, workspace_id, Mailbox(workspace_id=workspace_id, imap_password_enc=""), data, new=True)


def update(session: Session, vault, workspace_id: int, mailbox_id: int, data: MailboxInput) -> Mailbox:
    mailbox = owned(session, Mailbox, workspace_id, mailbox_id)
    return _apply(session, vault, workspace_id, mailbox, data, new=False)


def delete(session: Session, workspace_id: int, mailbox_id: int) -> Mailbox:
    """The mailbox and its fetch state go; the mail it brought in stays in the inbox."""
    mailbox = owned(session, Mailbox, workspace_id, mailbox_id)
    session.delete(mailbox)
    session.flush()
    return mailbox


def get(session: Session, workspace_id: int, mailbox_id: int) -> Mailbox:
    return owned(session, Mailbox, workspace_id, mailbox_id)


def find(session: Session, workspace_id: int, address: str) -> Mailbox:
    mailbox = session.execute(
        select(Mailbox).where(Mailbox.workspace_id == workspace_id, Mailbox.address == (address or "").strip().lower())
    ).scalar_one_or_none()
    if mailbox is None:
        raise NotFound(address)
    return mailbox


def list_for(session: Session, workspace_id: int) -> list[Mailbox]:
    return list(session.execute(
        select(Mailbox).where(Mailbox.workspace_id == workspace_id).order_by(Mailbox.address)
    ).scalars())


def pin(session: Session, workspace_id: int, mailbox_id: int, service: str, fingerprint: str) -> Mailbox:
    """Accept this self-signed certificate: from now on exactly this one is trusted."""
    mailbox = owned(session, Mailbox, workspace_id, mailbox_id)
    try:
        value = normalize_fingerprint(fingerprint)
    except ValueError as exc:
        raise MailboxError("fingerprint", str(exc)) from exc
    if value is None:
        raise MailboxError("fingerprint", "No certificate fingerprint was given.")
    if service == "imap":
        mailbox.imap_pinned_sha256 = value
    elif service == "smtp":
        mailbox.smtp_pinned_sha256 = value
    else:
        raise MailboxError("service", "Pin the IMAP or the SMTP certificate.")
    mailbox.updated_at = utcnow()
    session.add(mailbox)
    session.flush()
    return mailbox


def unpin(session: Session, workspace_id: int, mailbox_id: int, service: str) -> Mailbox:
    mailbox = owned(session, Mailbox, workspace_id, mailbox_id)
    if service == "imap":
        mailbox.imap_pinned_sha256 = None
    elif service == "smtp":
        mailbox.smtp_pinned_sha256 = None
    else:
        raise MailboxError("service", "Unpin the IMAP or the SMTP certificate.")
    session.add(mailbox)
    session.flush()
    return mailbox


def request_fetch(session: Session, workspace_id: int, mailbox_id: int) -> Mailbox:
    """Fetch now: the scheduler's leader picks it up on its next tick."""
    mailbox = owned(session, Mailbox, workspace_id, mailbox_id)
    mailbox.fetch_requested_at = utcnow()
    session.add(mailbox)
    session.flush()
    return mailbox


# -- Test ------------------------------------------------------------------------------


@dataclass
class Check:
    service: str  # "IMAP" | "SMTP"
    ok: bool
    message: str
    kind: str | None = None
    fingerprint: str | None = None  # an unverifiable certificate the admin may accept


@dataclass
class TestReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def test(mailbox: Mailbox, vault, options: FetchOptions) -> TestReport:
    """Log in over IMAP and open the folders; connect, encrypt and log in over SMTP."""
    report = TestReport()
    try:
        login = imap_login(mailbox, vault)
        folders = [name for _, name in folders_of(mailbox)]
        imap.check(endpoint_for(mailbox, options), login.username, login.password, folders)
        report.checks.append(Check("IMAP", True, f"Logged in to {mailbox.imap_host} and opened {', '.join(folders)}."))
    except SecretUnreadable:
        report.checks.append(Check("IMAP", False, SECRET, "secret"))
    except MailServerError as exc:
        report.checks.append(Check("IMAP", False, exc.message, exc.kind, exc.fingerprint))
    try:
        login = smtp_login(mailbox, vault)
        smtp.check(smtp_endpoint(mailbox, options), login.username, login.password)
        report.checks.append(Check("SMTP", True, f"Logged in to {mailbox.smtp_host} over {mailbox.smtp_security.upper()}."))
    except SecretUnreadable:
        report.checks.append(Check("SMTP", False, SECRET, "secret"))
    except MailServerError as exc:
        report.checks.append(Check("SMTP", False, exc.message, exc.kind, exc.fingerprint))
    return report


def smtp_endpoint(mailbox: Mailbox, options: FetchOptions) -> imap.Endpoint:
    return imap.Endpoint(mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security,
                         pin=mailbox.smtp_pinned_sha256, ca_file=options.ca_file, timeout=options.timeout)


# -- what the page shows -----------------------------------------------------------------


@dataclass
class FolderView:
    role: str
    name: str
    state: str
    to_read: int
    done: int
    stored: int
    skipped: int
    last_skip: str | None

    @property
    def percent(self) -> int:
        return 100 if not self.to_read else min(100, round(100 * self.done / self.to_read))


@dataclass
class MailboxView:
    mailbox: Mailbox
    folders: list[FolderView]
    fetching: bool
    requested: bool

    @property
    def backfilling(self) -> bool:
        return any(f.state == "backfill" for f in self.folders)


def views(session: Session, workspace_id: int, now: datetime | None = None) -> list[MailboxView]:
    now = now or utcnow()
    mailboxes = list_for(session, workspace_id)
    states: dict[int, list[MailboxFolder]] = {}
    if mailboxes:
        for folder in session.execute(
            select(MailboxFolder).where(MailboxFolder.workspace_id == workspace_id).order_by(MailboxFolder.role)
        ).scalars():
            states.setdefault(folder.mailbox_id, []).append(folder)
    result = []
    for mailbox in mailboxes:
        folders = [
            FolderView(f.role, f.name, f.state, f.to_read, f.done, f.stored, f.skipped, f.last_skip)
            for f in states.get(mailbox.id, [])
        ]
        lease = mailbox.fetch_lease_until
        fetching = lease is not None and as_utc(lease) > now
        result.append(MailboxView(mailbox, folders, fetching, mailbox.fetch_requested_at is not None))
    return result


def count(session: Session, workspace_id: int) -> int:
    return session.execute(select(func.count()).select_from(Mailbox).where(Mailbox.workspace_id == workspace_id)).scalar()
