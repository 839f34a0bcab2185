"""The local mirror of the Salesforce org: one table per object, typed columns for what the
inbox, the card and analytics use, and ``extra`` (JSON) for the fields an admin adds.

Rows are keyed by (workspace, Salesforce Id). Deletes are kept as ``is_deleted`` so the card
and analytics can ignore them without losing history; ``seen_pass`` marks the rows a full pass
saw, so rows it did not see (purged from the Recycle Bin) can be found afterwards.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from webapp.clock import utcnow


def _workspace():
    # No index of its own: every table here leads a unique key or index with workspace_id.
    return Field(foreign_key="workspace.id", ondelete="CASCADE")


def _keyed(table: str, *indexes: Index) -> tuple:
    return (UniqueConstraint("workspace_id", "sf_id", name=f"uq_{table}_workspace_sf_id"), *indexes)


class SfUser(SQLModel, table=True):
    __tablename__ = "sf_user"
    __table_args__ = _keyed("sf_user")

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = _workspace()
    sf_id: str = Field(max_length=18)
    name: str = Field(default="", max_length=255)
    synced_at: datetime = Field(default_factory=utcnow)


class SfAccount(SQLModel, table=True):
    __tablename__ = "sf_account"
    __table_args__ = _keyed("sf_account", Index("ix_sf_account_domain", "workspace_id", "website_domain"))

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = _workspace()
    sf_id: str = Field(max_length=18)
    name: str = Field(default="", max_length=255)
    type: str | None = Field(default=None, max_length=255)
    industry: str | None = Field(default=None, max_length=255)
    website: str | None = Field(default=None, max_length=255)
    website_domain: str | None = Field(default=None, max_length=255)
    owner_id: str | None = Field(default=None, max_length=18)
    system_modstamp: datetime
    is_deleted: bool = Field(default=False)
    seen_pass: int | None = None
    extra: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    synced_at: datetime = Field(default_factory=utcnow)


class SfContact(SQLModel, table=True):
    __tablename__ = "sf_contact"
    __table_args__ = _keyed(
        "sf_contact",
        Index("ix_sf_contact_email", "workspace_id", "email_normalized"),
        Index("ix_sf_contact_account", "workspace_id", "account_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = _workspace()
    sf_id: str = Field(max_length=18)
    account_id: str | None = Field(default=None, max_length=18)
    email: str | None = Field(default=None, max_length=254)
    email_normalized: str | None = Field(default=None, max_length=254)
    first_name: str | None = Field(default=None, max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    name: str = Field(default="", max_length=255)
    title: str | None = Field(default=None, max_length=255)
    lead_source: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=64)
    owner_id: str | None = Field(default=None, max_length=18)
    # Which of several contacts sharing an address the card shows: the latest LastModifiedDate.
    last_modified_date: datetime | None = None
    system_modstamp: datetime
    is_deleted: bool = Field(default=False)
    seen_pass: int | None = None
    extra: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    synced_at: datetime = Field(default_factory=utcnow)


class SfOpportunity(SQLModel, table=True):
    __tablename__ = "sf_opportunity"
    __table_args__ = _keyed(
        "sf_opportunity",
        Index("ix_sf_opportunity_account", "workspace_id", "account_id"),
        Index("ix_sf_opportunity_stage", "workspace_id", "stage_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = _workspace()
    sf_id: str = Field(max_length=18)
    account_id: str | None = Field(default=None, max_length=18)
    name: str = Field(default="", max_length=255)
    stage_name: str | None = Field(default=None, max_length=255)
    # Integer minor units of ``currency``: the org currency, or CurrencyIsoCode when multi-currency.
    amount_minor: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency: str | None = Field(default=None, max_length=3)
    currency_iso_code: str | None = Field(default=None, max_length=3)
    close_date: date | None = None
    is_closed: bool = Field(default=False)
    is_won: bool = Field(default=False)
    owner_id: str | None = Field(default=None, max_length=18)
    last_modified_date: datetime | None = None
    system_modstamp: datetime
    is_deleted: bool = Field(default=False)
    seen_pass: int | None = None
    extra: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    synced_at: datetime = Field(default_factory=utcnow)


class SfOpportunityHistory(SQLModel, table=True):
    __tablename__ = "sf_opportunity_history"
    __table_args__ = _keyed(
        "sf_opportunity_history", Index("ix_sf_opportunity_history_opp", "workspace_id", "opportunity_id")
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = _workspace()
    sf_id: str = Field(max_length=18)
    opportunity_id: str = Field(max_length=18)
    stage_name: str | None = Field(default=None, max_length=255)
    amount_minor: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency: str | None = Field(default=None, max_length=3)
    close_date: date | None = None
    probability: int | None = None
    created_date: datetime | None = None
    system_modstamp: datetime
    is_deleted: bool = Field(default=False)
    seen_pass: int | None = None
    extra: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    synced_at: datetime = Field(default_factory=utcnow)


class SfOpportunityStage(SQLModel, table=True):
    __tablename__ = "sf_opportunity_stage"
    __table_args__ = _keyed("sf_opportunity_stage")

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = _workspace()
    sf_id: str = Field(max_length=18)
    api_name: str = Field(default="", max_length=255)
    master_label: str = Field(default="", max_length=255)
    is_active: bool = Field(default=True)
    is_closed: bool = Field(default=False)
    is_won: bool = Field(default=False)
    default_probability: int | None = None
    forecast_category_name: str | None = Field(default=None, max_length=255)
    sort_order: int | None = None
    system_modstamp: datetime
    is_deleted: bool = Field(default=False)
    seen_pass: int | None = None
    extra: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    synced_at: datetime = Field(default_factory=utcnow)
