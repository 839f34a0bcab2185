"""The inbox's own tables: workspaces, users, contacts, conversations, messages, deals."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from webapp.clock import utcnow
from webapp.money import from_minor

# Named constraints, so later migrations can alter them on SQLite (batch mode) and Postgres alike.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("admin", "member")
CONVERSATION_STATUSES = ("open", "pending", "closed")
DIRECTIONS = ("in", "out")
# The default Opportunity stages of a new Salesforce org; deals use them until an org is
# connected, and the deal sync maps them onto the org's own stages.
DEAL_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)


def foreign_key_field(target: str, *, nullable: bool = False, ondelete: str = "CASCADE"):
    return Field(
        default=None if nullable else ...,
        foreign_key=target,
        ondelete=ondelete,
        index=True,
        nullable=nullable,
    )


class Workspace(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    timezone: str = Field(default="UTC", max_length=64)
    # How amounts are written and read (Babel locale): "12,500.50" in en_US, "12.500,50" in de_DE.
    locale: str = Field(default="en_US", max_length=16, sa_column_kwargs={"server_default": "en_US"})
    # Business hours for response times: local times and ISO weekdays (1 = Monday).
    business_start: str = Field(default="09:00", max_length=5)
    business_end: str = Field(default="17:00", max_length=5)
    business_days: str = Field(default="12345", max_length=7)
    created_at: datetime = Field(default_factory=utcnow)


class WorkspaceAddress(SQLModel, table=True):
    """An address (``support@acme.com``) or a whole domain (``acme.com``) the workspace owns.

    A message from one of these is outbound; anything else is inbound.
    """

    __tablename__ = "workspace_address"
    __table_args__ = (UniqueConstraint("workspace_id", "value"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = foreign_key_field("workspace.id")
    value: str = Field(max_length=254)  # lower-cased


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    __table_args__ = (CheckConstraint("role IN ('admin', 'member')", name="role"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = foreign_key_field("workspace.id")
    email: str = Field(max_length=254, unique=True)  # lower-cased; the login name
    name: str = Field(default="", max_length=120)
    password_hash: str = Field(max_length=255)
    role: str = Field(default="member", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Contact(SQLModel, table=True):
    __table_args__ = (
        # One inbox contact per address; addresses compare case-insensitively.
        UniqueConstraint("workspace_id", "email_normalized"),
        # One inbox contact per Salesforce contact; NULLs (unlinked contacts) do not clash.
        UniqueConstraint("workspace_id", "salesforce_id"),
        Index("ix_contact_workspace_name", "workspace_id", "name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = foreign_key_field("workspace.id")
    name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=254)
    email_normalized: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=64)
    title: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    # The Salesforce contact this one mirrors, set by the sync when exactly one has this email.
    salesforce_id: str | None = Field(default=None, max_length=18)
    # How many Salesforce contacts share this email; 2 or more is flagged, never guessed.
    salesforce_matches: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def display_name(self) -> str:
        return self.name or self.email or "Unknown contact"


class Conversation(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint("status IN ('open', 'pending', 'closed')", name="status"),
        Index("ix_conversation_list", "workspace_id", "status", "last_activity_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = foreign_key_field("workspace.id")
    contact_id: int | None = foreign_key_field("contact.id", nullable=True, ondelete="SET NULL")
    subject: str = Field(default="", max_length=998)
    status: str = Field(default="open", max_length=16)
    last_activity_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)


class Message(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="direction"),
        # De-duplication of imported mail is by Message-ID within a workspace.
        UniqueConstraint("workspace_id", "message_id"),
        Index("ix_message_conversation_sent", "conversation_id", "sent_at"),
        Index("ix_message_workspace_sent", "workspace_id", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = foreign_key_field("workspace.id")
    conversation_id: int = foreign_key_field("conversation.id")
    direction: str = Field(max_length=3)
    from_address: str = Field(max_length=254)
    from_name: str = Field(default="", max_length=200)
    to_addresses: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    cc_addresses: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    subject: str = Field(default="", max_length=998)
    sent_at: datetime
    message_id: str | None = Field(default=None, max_length=998)
    in_reply_to: str | None = Field(default=None, max_length=998)
    snippet: str = Field(default="", max_length=300)
    body_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class Deal(SQLModel, table=True):
    __table_args__ = (Index("ix_deal_workspace_updated", "workspace_id", "updated_at"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = foreign_key_field("workspace.id")
    contact_id: int | None = foreign_key_field("contact.id", nullable=True, ondelete="SET NULL")
    name: str = Field(max_length=120)
    amount_minor: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency: str = Field(default="USD", max_length=3)
    stage: str = Field(default=DEAL_STAGES[0], max_length=120)
    close_date: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def amount(self) -> Decimal | None:
        if self.amount_minor is None:
            return None
        return from_minor(self.amount_minor, self.currency)

