"""A workspace's mailboxes (IMAP to read, SMTP to send) and how far each folder was read.

Passwords are Fernet ciphertext (webapp.crypto's vault), never shown back. A pinned
certificate is the SHA-256 of the server's DER certificate, as lower-case hex: when set, that
certificate is accepted instead of one a CA vouches for (a self-signed server).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from webapp.clock import utcnow
from webapp.models.inbox import foreign_key_field

TLS_MODES = ("tls", "starttls")  # implicit TLS (993 / 465) or STARTTLS on a plain port (143 / 587)
FOLDER_ROLES = ("inbox", "sent")
FOLDER_STATES = ("new", "backfill", "current")


class Mailbox(SQLModel, table=True):
    __tablename__ = "mailbox"
    __table_args__ = (
        UniqueConstraint("workspace_id", "address"),
        CheckConstraint("imap_security IN ('tls', 'starttls')", name="imap_security"),
        CheckConstraint("smtp_security IN ('tls', 'starttls')", name="smtp_security"),
        CheckConstraint("fetch_interval_minutes >= 1", name="fetch_interval"),
        CheckConstraint("backfill_days >= 0", name="backfill_days"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = foreign_key_field("workspace.id")
    address: str = Field(max_length=254)  # lower-cased; one of the workspace's own addresses
    display_name: str = Field(default="", max_length=200)

    imap_host: str = Field(max_length=255)
    imap_port: int = Field(default=993)
    imap_security: str = Field(default="tls", max_length=8)
    imap_username: str = Field(max_length=255)
    imap_password_enc: str = Field(sa_column=Column(Text, nullable=False))
    inbox_folder: str = Field(default="INBOX", max_length=255)
    sent_folder: str | None = Field(default="Sent", max_length=255)  # None: no sent folder read
    imap_pinned_sha256: str | None = Field(default=None, max_length=64)

    smtp_host: str = Field(default="", max_length=255)
    smtp_port: int = Field(default=587)
    smtp_security: str = Field(default="starttls", max_length=8)
    # True: SMTP logs in with the IMAP username and password (the usual case).
    smtp_same_as_imap: bool = Field(default=True)
    smtp_username: str | None = Field(default=None, max_length=255)
    smtp_password_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    smtp_pinned_sha256: str | None = Field(default=None, max_length=64)
    # True: the SMTP server files what it sends in the sent folder itself (Gmail does), so a
    # reply is not also appended there over IMAP.
    smtp_files_sent: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})

    fetch_interval_minutes: int = Field(default=2)
    backfill_days: int = Field(default=90)
    enabled: bool = Field(default=True)

    # Fetching: "Fetch now" sets fetch_requested_at; the scheduler's leader claims a mailbox by
    # setting a lease (compare-and-set), so one fetch at a time runs per mailbox.
    fetch_requested_at: datetime | None = None
    fetch_lease_until: datetime | None = None
    last_fetch_at: datetime | None = None  # the last fetch that finished, well or not
    last_success_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_error_at: datetime | None = None
    last_summary: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # ImportSummary of the last fetch

    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def pinned(self) -> bool:
        return bool(self.imap_pinned_sha256 or self.smtp_pinned_sha256)


class MailboxFolder(SQLModel, table=True):
    """One folder of a mailbox being read: the UIDVALIDITY its UIDs belong to, the highest UID
    stored (committed batch by batch), and the first fetch's backfill progress."""

    __tablename__ = "mailbox_folder"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "role"),
        CheckConstraint("role IN ('inbox', 'sent')", name="role"),
        CheckConstraint("state IN ('new', 'backfill', 'current')", name="state"),
        Index("ix_mailbox_folder_workspace", "workspace_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mailbox_id: int = foreign_key_field("mailbox.id")
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    role: str = Field(max_length=8)
    name: str = Field(max_length=255)  # the folder read when this state was recorded
    uidvalidity: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    last_uid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    state: str = Field(default="new", max_length=8)
    # The pass under way: how many messages it has to read and how many it has read.
    to_read: int = Field(default=0)
    done: int = Field(default=0)
    stored: int = Field(default=0)  # messages stored from this folder, all passes
    skipped: int = Field(default=0)
    last_skip: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow)
