"""Mail imports started from the settings page: each runs in the background from a stored
upload, and its row says how far it got, so any process can show its progress."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Index, Text
from sqlmodel import Field, SQLModel

from webapp.clock import utcnow

IMPORT_JOB_STATUSES = ("queued", "running", "done", "failed", "interrupted")
IMPORT_JOB_ACTIVE = ("queued", "running")


class MailImportJob(SQLModel, table=True):
    __tablename__ = "mail_import_job"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed', 'interrupted')", name="status"
        ),
        Index("ix_mail_import_job_recent", "workspace_id", "created_at"),
        Index("ix_mail_import_job_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    filename: str = Field(max_length=255)
    stored_path: str = Field(sa_column=Column(Text, nullable=False))  # the upload, under the instance folder
    size_bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))  # as uploaded
    total_bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))  # to read, unpacked (measured, never declared)
    status: str = Field(default="queued", max_length=12)
    owner: str | None = Field(default=None, max_length=120)  # the process running it: host:pid:nonce
    seen: int = Field(default=0)
    imported: int = Field(default=0)
    skipped: int = Field(default=0)
    unpacked_bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))  # read so far, decompressed
    summary: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None  # moves while the owner is alive
