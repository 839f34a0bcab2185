"""Incidents admins are told about outside the page: a failed sync, a connection that needs
reconnecting. One open incident per workspace and kind; it closes at the next success or
reconnect, so admins hear once per incident, not once per run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from webapp.clock import utcnow

INCIDENT_KINDS = ("sync", "reconnect")
_OPEN = text("closed_at IS NULL")


class NotificationIncident(SQLModel, table=True):
    __tablename__ = "notification_incident"
    __table_args__ = (
        CheckConstraint("kind IN ('sync', 'reconnect')", name="kind"),
        Index("uq_notification_incident_open", "workspace_id", "kind", unique=True, sqlite_where=_OPEN,
              postgresql_where=_OPEN),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    kind: str = Field(max_length=12)
    detail: str = Field(sa_column=Column(Text, nullable=False))
    run_id: int | None = None  # the failed run that opened a sync incident
    opened_at: datetime = Field(default_factory=utcnow)
    notified_at: datetime | None = None  # every channel answered (or none is set up)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    closed_at: datetime | None = None
