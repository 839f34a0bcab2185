"""Replies sent from a conversation over SMTP.

Each submit of the reply box carries a one-time token; its row is written (state ``sending``)
and committed before the SMTP server is spoken to, under a unique (workspace, token), so a
double submit finds the first row instead of sending again. ``sent`` rows point at the
outgoing Message the conversation shows; ``failed`` ones say why. A row left ``sending`` by a
process that died between the SMTP server's answer and our commit stays so: it may have gone
out, so it is shown as unknown and never sent again by itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from webapp.clock import utcnow
from webapp.models.inbox import foreign_key_field

REPLY_STATES = ("sending", "sent", "failed")
FILED_STATES = ("pending", "filed", "failed", "server", "none")


class Reply(SQLModel, table=True):
    __tablename__ = "reply"
    __table_args__ = (
        UniqueConstraint("workspace_id", "token"),
        CheckConstraint("state IN ('sending', 'sent', 'failed')", name="state"),
        CheckConstraint("filed IN ('pending', 'filed', 'failed', 'server', 'none')", name="filed"),
        Index("ix_reply_conversation_created", "conversation_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    conversation_id: int = Field(foreign_key="conversation.id", ondelete="CASCADE")
    mailbox_id: int | None = foreign_key_field("mailbox.id", nullable=True, ondelete="SET NULL")
    user_id: int | None = foreign_key_field("app_user.id", nullable=True, ondelete="SET NULL")
    # The outgoing message once sent (the same row a fetch of the sent folder would find).
    message_row_id: int | None = foreign_key_field("message.id", nullable=True, ondelete="SET NULL")
    token: str = Field(max_length=64)
    state: str = Field(default="sending", max_length=8)
    from_address: str = Field(max_length=254)
    to_addresses: str = Field(sa_column=Column(Text, nullable=False))  # ", "-separated, as on Message
    cc_addresses: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    subject: str = Field(default="", max_length=998)
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    message_id: str = Field(max_length=998)  # the fresh Message-ID, chosen before sending
    in_reply_to: str | None = Field(default=None, max_length=998)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error_kind: str | None = Field(default=None, max_length=16)
    # Recipients the server refused while accepting the others (the reply still went out).
    refused: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The copy in the IMAP sent folder: pending, filed, failed (why in filed_error), server (the
    # SMTP server files it itself) or none (the mailbox reads no sent folder).
    filed: str = Field(default="pending", max_length=8)
    filed_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
