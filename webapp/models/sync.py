"""The sync's own bookkeeping: settings, per-object cursors, the run ledger and the records
that failed.

At most one run per workspace is queued or running: a partial unique index says so, so two
clicks in two processes (or a click and the daily schedule) cannot start two syncs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from webapp.clock import utcnow


def _workspace():
    # No index of its own: every table here leads a unique key or index with workspace_id.
    return Field(foreign_key="workspace.id", ondelete="CASCADE")

# daily/interval: the schedule; connect: the first sync after connecting; manual: Sync Now;
# push: "push immediately" after an inbox edit; errors: the Retry buttons of failed records;
# cli / cli_errors: the command (with --retry-errors); retry: again after an interrupted run.
RUN_TRIGGERS = ("daily", "interval", "connect", "manual", "push", "errors", "cli", "cli_errors", "retry")
RUN_STATUSES = ("queued", "running", "succeeded", "paused", "failed", "interrupted")
ACTIVE_STATUSES = ("queued", "running")
FREQUENCIES = ("daily", "hours", "off")
_ACTIVE = text("status IN ('queued', 'running')")


class SyncSettings(SQLModel, table=True):
    """When a workspace syncs and what it pulls. No row means the defaults."""

    __tablename__ = "sync_settings"
    __table_args__ = (
        CheckConstraint("frequency IN ('daily', 'hours', 'off')", name="frequency"),
        CheckConstraint("email_logging IN ('off', 'request', 'auto')", name="email_logging"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE", unique=True)
    frequency: str = Field(default="daily", max_length=8)
    daily_time: str = Field(default="03:00", max_length=5)  # HH:MM in ``timezone``
    timezone: str | None = Field(default=None, max_length=64)  # None: the workspace's
    interval_hours: int = Field(default=4)
    budget_percent: int = Field(default=80)
    # {"Account": ["AnnualRevenue", …], …}: fields beyond the typed columns, kept in ``extra``.
    extra_fields: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Two-way: push deals (and inbox edits of linked contacts) to Salesforce.
    two_way: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    # An External ID field on Opportunity to upsert by; None: the crash-safe outbox.
    external_id_field: str | None = Field(default=None, max_length=80)
    push_immediately: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    delete_in_salesforce: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    # {"deal.amount": "salesforce", …}: the admin's ownership rules; missing keys use the defaults.
    field_rules: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, server_default=text("'{}'")))
    # Activity: logging email to Salesforce (off | request | auto), what is never logged, and
    # whether bodies stay here.
    email_logging: str = Field(default="off", max_length=8, sa_column_kwargs={"server_default": "off"})
    email_exclusions: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default=text("'[]'")))
    email_subject_only: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    # Writes send Sforce-Duplicate-Rule-Header: allowSave=true, saving past duplicate rules
    # that only alert (the push and creates from the card).
    allow_duplicate_save: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    updated_at: datetime = Field(default_factory=utcnow)


class SyncCursor(SQLModel, table=True):
    """Where the pull of one object stands. ``stamp`` only moves in the transaction that
    commits the page it came from; ``pass_id`` is set while a full pass is under way."""

    __tablename__ = "sync_cursor"
    __table_args__ = (UniqueConstraint("workspace_id", "sobject", name="uq_sync_cursor_workspace_sobject"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = _workspace()
    sobject: str = Field(max_length=40)
    stamp: datetime | None = None
    pass_id: int | None = None
    pass_started_at: datetime | None = None
    full_requested: bool = Field(default=False)
    last_success_at: datetime | None = None
    last_full_at: datetime | None = None


class SyncRun(SQLModel, table=True):
    """One sync, from the click (or the schedule) to its end: the ledger admins read."""

    __tablename__ = "sync_run"
    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATUSES}", name="status"),
        CheckConstraint(f"\"trigger\" IN {RUN_TRIGGERS}", name="trigger"),
        Index("uq_sync_run_one_active", "workspace_id", unique=True, sqlite_where=_ACTIVE, postgresql_where=_ACTIVE),
        Index("ix_sync_run_recent", "workspace_id", "queued_at"),
        Index("ix_sync_run_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = _workspace()
    trigger: str = Field(max_length=12)
    status: str = Field(default="queued", max_length=12)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    requested_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL", nullable=True)
    retry_error_id: int | None = None  # a single record to retry; None retries every failed record
    # A retry after an interrupted run: the run it retries, which retry this is, of how many.
    retry_of_id: int | None = Field(default=None, foreign_key="sync_run.id", ondelete="SET NULL", nullable=True)
    retry_attempt: int | None = None
    retry_limit: int | None = None
    queued_at: datetime = Field(default_factory=utcnow)
    not_before: datetime | None = None  # queued, but not claimed before then (a retry's backoff)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    worker: str | None = Field(default=None, max_length=120)  # host:pid running it
    current_object: str | None = Field(default=None, max_length=40)
    # {"Contact": {"fetched": n, "created": n, "updated": n, "deleted": n, "failed": n,
    #              "total": n, "mode": "full"|"incremental"|"retry"}, …}
    counts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    api_calls: int = Field(default=0)
    org_used: int | None = None
    org_limit: int | None = None


class SyncRecordError(SQLModel, table=True):
    """A record the sync could not take in; it stays until a later run takes it."""

    __tablename__ = "sync_record_error"
    __table_args__ = (
        UniqueConstraint("workspace_id", "sobject", "sf_id", name="uq_sync_record_error_record"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = _workspace()
    sobject: str = Field(max_length=40)
    sf_id: str = Field(max_length=18)
    message: str = Field(sa_column=Column(Text, nullable=False))
    # The record a duplicate rule said this one duplicates, to link to in Salesforce.
    match_sobject: str | None = Field(default=None, max_length=40)
    match_id: str | None = Field(default=None, max_length=18)
    attempts: int = Field(default=1)
    last_run_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
