"""Two-way sync bookkeeping: which inbox record is which Salesforce record, what both sides
last agreed on (so our own writes never come back as changes), and the conflict log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from webapp.clock import utcnow

LINK_KINDS = ("deal", "contact")
# new: not in Salesforce yet; pending: a create was sent and its answer is not recorded yet
# (the outbox); linked; unlinked: the record was deleted in Salesforce; deleted: the inbox
# record was deleted and the Salesforce record is still to be deleted.
LINK_STATES = ("new", "pending", "linked", "unlinked", "deleted")


class SyncLink(SQLModel, table=True):
    __tablename__ = "sync_link"
    __table_args__ = (
        UniqueConstraint("workspace_id", "kind", "local_id", name="uq_sync_link_local"),
        # NULLs (not created yet) do not clash: one link per Salesforce record.
        UniqueConstraint("workspace_id", "kind", "sf_id", name="uq_sync_link_sf"),
        CheckConstraint("kind IN ('deal', 'contact')", name="kind"),
        CheckConstraint("state IN ('new', 'pending', 'linked', 'unlinked', 'deleted')", name="state"),
        Index("ix_sync_link_state", "workspace_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    kind: str = Field(max_length=8)
    local_id: int  # no foreign key: a deleted deal's link outlives it until Salesforce is told
    sf_id: str | None = Field(default=None, max_length=18)
    state: str = Field(default="new", max_length=10)
    # The deal's value of the external id field, and the outbox's token: stable per deal.
    key: str = Field(max_length=36)
    # {field: value} both sides agreed on at the last sync, in the inbox's terms.
    base: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    sf_stamp: datetime | None = None  # the mirror's SystemModstamp reconciled last
    local_seen: datetime | None = None  # the inbox record's updated_at reconciled last
    sent_at: datetime | None = None  # when the pending create left
    sent: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # what it carried
    failed_at: datetime | None = None  # the record's updated_at when its push last failed
    name: str = Field(default="", max_length=255)  # for the log once the deal is gone
    unlinked_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class SyncConflict(SQLModel, table=True):
    """Both sides changed one field since the last sync; the field's rule picked a winner."""

    __tablename__ = "sync_conflict"
    __table_args__ = (Index("ix_sync_conflict_recent", "workspace_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    kind: str = Field(max_length=8)
    local_id: int
    sf_id: str | None = Field(default=None, max_length=18)
    record_name: str = Field(default="", max_length=255)
    field: str = Field(max_length=40)
    inbox_value: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    salesforce_value: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    rule: str = Field(max_length=12)
    winner: str = Field(max_length=12)  # inbox | salesforce
    run_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
