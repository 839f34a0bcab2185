"""Logging email to Salesforce: one outbox row per message, so a message becomes at most one
Salesforce record however often a run is retried or killed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from webapp.clock import utcnow

# queued: waiting for the next run; pending: the create was sent and its answer is not recorded
# yet (looked up before anything is sent again); relating: the EmailMessage exists, its
# relations are still to be written; sent; failed: Salesforce refused it (Retry);
# excluded: never logged (the exclusion list); skipped: no Salesforce contact or lead to log
# it against (yet).
EMAIL_LOG_STATES = ("queued", "pending", "relating", "sent", "failed", "excluded", "skipped")
EMAIL_LOG_MODES = ("off", "request", "auto")


class EmailLog(SQLModel, table=True):
    __tablename__ = "email_log"
    __table_args__ = (
        UniqueConstraint("workspace_id", "message_id", name="uq_email_log_message"),
        CheckConstraint("state IN ('queued', 'pending', 'relating', 'sent', 'failed', 'excluded', 'skipped')",
                        name="state"),
        Index("ix_email_log_state", "workspace_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    message_id: int = Field(foreign_key="message.id", ondelete="CASCADE")
    # The Message-ID header sent as MessageIdentifier (or a stable one made up when the mail had none).
    identifier: str = Field(max_length=255)
    state: str = Field(default="queued", max_length=10)
    sf_object: str | None = Field(default=None, max_length=20)  # EmailMessage | Task
    sf_id: str | None = Field(default=None, max_length=18)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    attempts: int = Field(default=0)
    sent_at: datetime | None = None  # when the pending create left
    logged_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
