"""What agents decide on the Salesforce card: which record an ambiguous address is, and the
records they create from it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from webapp.clock import utcnow
from webapp.models.inbox import foreign_key_field

CARD_SOBJECTS = ("Contact", "Lead")
CREATE_STATES = ("pending", "created", "unclear", "refused")


class SalesforceChoice(SQLModel, table=True):
    """The Salesforce record an address is, picked by an agent when several share it. Used by
    the card, by the sync's update of the inbox contact, and by email logging."""

    __tablename__ = "salesforce_choice"
    __table_args__ = (
        UniqueConstraint("workspace_id", "email_normalized"),
        CheckConstraint("sobject IN ('Contact', 'Lead')", name="sobject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = foreign_key_field("workspace.id")
    email_normalized: str = Field(max_length=254)
    sobject: str = Field(max_length=8)
    sf_id: str = Field(max_length=18)
    chosen_by_id: int | None = foreign_key_field("app_user.id", nullable=True, ondelete="SET NULL")
    chosen_at: datetime = Field(default_factory=utcnow)


class SalesforceCreate(SQLModel, table=True):
    """One create from the card, recorded before it is sent: the form's key is unique, so a
    double click sends one POST; an unclear answer is looked up before another create."""

    __tablename__ = "salesforce_create"
    __table_args__ = (
        UniqueConstraint("workspace_id", "key"),
        Index("ix_salesforce_create_email", "workspace_id", "email_normalized"),
        CheckConstraint("sobject IN ('Contact', 'Lead')", name="sobject"),
        CheckConstraint("state IN ('pending', 'created', 'unclear', 'refused')", name="state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = foreign_key_field("workspace.id")
    key: str = Field(max_length=36)
    email_normalized: str = Field(max_length=254)
    sobject: str = Field(max_length=8)
    state: str = Field(default="pending", max_length=8)
    sf_id: str | None = Field(default=None, max_length=18)
    message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_by_id: int | None = foreign_key_field("app_user.id", nullable=True, ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
