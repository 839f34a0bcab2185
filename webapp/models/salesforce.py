"""The Salesforce connection of a workspace and its pending OAuth attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from webapp.clock import utcnow
from webapp.models.inbox import foreign_key_field

CONNECTION_MODES = ("oauth", "refresh-token", "client-credentials")
CONNECTION_STATES = ("configured", "connected", "reconnect")
SALESFORCE_ENVIRONMENTS = ("production", "sandbox", "mydomain", "custom")


class SalesforceConnection(SQLModel, table=True):
    """A workspace's link to its Salesforce org. Secrets are Fernet ciphertext (webapp.crypto)."""

    __tablename__ = "salesforce_connection"
    __table_args__ = (
        CheckConstraint(
            "mode IN ('oauth', 'refresh-token', 'client-credentials')", name="mode"
        ),
        CheckConstraint("state IN ('configured', 'connected', 'reconnect')", name="state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE", unique=True)
    mode: str = Field(default="oauth", max_length=24)
    environment: str = Field(default="production", max_length=16)
    login_url: str = Field(max_length=255)
    client_id: str = Field(sa_column=Column(Text, nullable=False))
    client_secret_enc: str = Field(sa_column=Column(Text, nullable=False))
    session_minutes: int = Field(default=120)
    state: str = Field(default="configured", max_length=16)
    access_token_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    refresh_token_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    token_issued_at: datetime | None = None
    instance_url: str | None = Field(default=None, max_length=255)
    identity_url: str | None = Field(default=None, max_length=255)
    sf_user_id: str | None = Field(default=None, max_length=18)
    sf_username: str | None = Field(default=None, max_length=255)
    sf_user_name: str | None = Field(default=None, max_length=255)
    sf_org_id: str | None = Field(default=None, max_length=18)
    sf_org_name: str | None = Field(default=None, max_length=255)
    org_currency: str | None = Field(default=None, max_length=3)
    multi_currency: bool = Field(default=False)
    api_version: str | None = Field(default=None, max_length=8)  # negotiated with the org at connect
    api_version_pinned: str | None = Field(default=None, max_length=8)  # the admin's choice, if any
    connected_at: datetime | None = None
    connected_by_id: int | None = Field(
        default=None, foreign_key="app_user.id", ondelete="SET NULL", nullable=True
    )
    last_refresh_at: datetime | None = None
    api_used: int | None = None
    api_limit: int | None = None
    api_usage_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_error_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class OAuthState(SQLModel, table=True):
    """One pending Connect: the signed ``state`` names this row, which is used at most once."""

    __tablename__ = "oauth_state"

    nonce: str = Field(primary_key=True, max_length=64)
    workspace_id: int = foreign_key_field("workspace.id")
    user_id: int = foreign_key_field("app_user.id")
    code_verifier_enc: str = Field(sa_column=Column(Text, nullable=False))
    redirect_uri: str = Field(max_length=512)
    created_at: datetime = Field(default_factory=utcnow)


class SalesforceFieldAccess(SQLModel, table=True):
    """What the connected Salesforce user may read and write on one object, from its describe:
    field-level security hides fields from integration users, and a query naming one fails."""

    __tablename__ = "salesforce_field_access"
    __table_args__ = (UniqueConstraint("workspace_id", "sobject", name="uq_salesforce_field_access_object"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    sobject: str = Field(max_length=40)
    sf_user_id: str | None = Field(default=None, max_length=18)  # whose access: another user, another check
    available: bool = Field(default=True)  # False: the user cannot see the object at all
    readable: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    createable: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updateable: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # {"account": ["AccountId", "Account"], …}: relationship name -> (lookup field, its object)
    relationships: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    checked_at: datetime = Field(default_factory=utcnow)
