"""Per-message facts for analytics, precomputed after imports and syncs.

One row per message: who the other party was, whether an inbound message started a wait for
our reply and how long that wait lasted (wall-clock and business hours), and the Salesforce
dimensions of the other party at the time (account, type, industry, owner, lead source,
stage of the open opportunity, stage when the message was sent). Reports read only this table.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from webapp.clock import utcnow


class MessageFact(SQLModel, table=True):
    __tablename__ = "message_fact"
    __table_args__ = (
        Index("ix_message_fact_workspace_sent", "workspace_id", "sent_at"),
        Index("ix_message_fact_workspace_account", "workspace_id", "account_name"),
        # The filters people use most: stages and Enterprise vs SMB.
        Index("ix_message_fact_workspace_open_stage", "workspace_id", "open_stage"),
        Index("ix_message_fact_workspace_stage_at_send", "workspace_id", "stage_at_send"),
        Index("ix_message_fact_workspace_account_type", "workspace_id", "account_type"),
        Index("ix_message_fact_conversation", "conversation_id"),
        # What an incremental refresh looks up: the facts a changed account, contact or
        # address reaches (domain then counterpart serves both "this domain" and "this address").
        Index("ix_message_fact_workspace_account_sf_id", "workspace_id", "account_sf_id"),
        Index("ix_message_fact_workspace_sf_contact", "workspace_id", "sf_contact_id"),
        Index("ix_message_fact_workspace_domain_counterpart", "workspace_id", "domain", "counterpart"),
    )

    message_id: int = Field(primary_key=True, foreign_key="message.id", ondelete="CASCADE")
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    conversation_id: int
    direction: str = Field(max_length=3)
    sent_at: datetime
    sent_day: date  # in the workspace's time zone, for charts over time
    counterpart: str | None = Field(default=None, max_length=254)
    domain: str | None = Field(default=None, max_length=254)
    awaits_reply: bool = Field(default=False)  # an inbound message that starts a wait for us
    replied_at: datetime | None = None
    response_seconds: int | None = None
    business_seconds: int | None = None
    account_sf_id: str | None = Field(default=None, max_length=18)
    # The Salesforce contact the counterpart resolved to, so a change to it finds these facts
    # even after its address changed.
    sf_contact_id: str | None = Field(default=None, max_length=18)
    account_name: str | None = Field(default=None, max_length=255)
    account_type: str | None = Field(default=None, max_length=255)
    industry: str | None = Field(default=None, max_length=255)
    account_owner: str | None = Field(default=None, max_length=255)
    lead_source: str | None = Field(default=None, max_length=255)
    open_stage: str | None = Field(default=None, max_length=255)
    stage_at_send: str | None = Field(default=None, max_length=255)


class FactRefresh(SQLModel, table=True):
    """Facts work still to do, kept in the database so a crash cannot lose it: written in the
    transaction of the mirror rows that made the facts stale, deleted in the one that writes
    the refreshed facts. ``sobject``/``sf_id`` say what changed (a mirror record, or
    "Conversation" and its id after mail arrived); "*"/"*" is the whole workspace. ``version`` goes up
    at each new change, so a refresh only clears the requests it saw when it started."""

    __tablename__ = "fact_refresh"
    __table_args__ = (UniqueConstraint("workspace_id", "sobject", "sf_id", name="uq_fact_refresh_scope"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    sobject: str = Field(default="*", max_length=40)
    sf_id: str = Field(default="*", max_length=18)
    version: int = Field(default=1)
    requested_at: datetime = Field(default_factory=utcnow)


class FactValue(SQLModel, table=True):
    """How many facts carry each value of each report dimension: the filter menus, read
    without scanning the facts, and kept exact by every refresh."""

    __tablename__ = "fact_value"
    __table_args__ = (Index("ix_fact_value_ranking", "workspace_id", "dimension", "messages"),)

    workspace_id: int = Field(primary_key=True, foreign_key="workspace.id", ondelete="CASCADE")
    dimension: str = Field(primary_key=True, max_length=40)
    value: str = Field(primary_key=True, max_length=255)
    messages: int = Field(default=0)
