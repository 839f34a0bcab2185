"""Sign-in sessions: one row per login, so a session can be ended on the server."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from webapp.clock import utcnow


class UserSession(SQLModel, table=True):
    """The signed cookie carries a random token; this row is keyed by its SHA-256, so a copy
    of the table alone cannot be replayed as a cookie."""

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user_active", "user_id", "revoked_at"),)

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the cookie's token
    user_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    user_agent: str = Field(default="", max_length=255)
    revoked_at: datetime | None = None
