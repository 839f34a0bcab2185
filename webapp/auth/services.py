"""Accounts: creating users, checking passwords, loading the signed-in user."""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import UserMixin
from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.addresses import InvalidAddress
from webapp.addresses import normalize_email as _normalize_address
from webapp.clock import utcnow
from webapp.db import get_engine
from webapp.models import ROLES, User, Workspace

MIN_PASSWORD_LENGTH = 8
# Checked when no user matches, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AccountError(ValueError):
    """Bad input for an account operation; the message is safe to show."""


@dataclass(frozen=True)
class SessionUser(UserMixin):
    """What a request knows about its signed-in user (a plain value, not a live ORM row)."""

    id: int
    email: str
    name: str
    role: str
    workspace_id: int
    workspace_name: str
    timezone: str = "UTC"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def get_id(self) -> str:
        return str(self.id)


def normalize_email(email: str) -> str:
    try:
        return _normalize_address(email)
    except InvalidAddress as exc:
        raise AccountError(str(exc)) from exc


def _session_user(user: User, workspace: Workspace) -> SessionUser:
    return SessionUser(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        workspace_id=workspace.id,
        workspace_name=workspace.name,
        timezone=workspace.timezone,
    )


def load_session_user(user_id: str) -> SessionUser | None:
    if not user_id.isdigit():
        return None
    # Its own short session: a request that then waits on Salesforce holds no connection.
    with Session(get_engine()) as session:
        row = session.exec(select(User, Workspace).join(Workspace).where(User.id == int(user_id))).first()
        return _session_user(*row) if row else None


def authenticate(session: Session, email: str, password: str) -> SessionUser | None:
    """The user for these credentials, or None; never says which of the two was wrong."""
    try:
        email = normalize_email(email)
    except AccountError:
        email = ""
    row = session.exec(select(User, Workspace).join(Workspace).where(User.email == email)).first()
    if row is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    user, workspace = row
    if not check_password_hash(user.password_hash, password or ""):
        return None
    user.last_login_at = utcnow()
    session.add(user)
    return _session_user(user, workspace)


def get_or_create_workspace(session: Session, name: str) -> tuple[Workspace, bool]:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise AccountError("A workspace name is required (at most 120 characters).")
    workspace = session.exec(select(Workspace).where(Workspace.name == name)).first()
    if workspace:
        return workspace, False
    workspace = Workspace(name=name)
    session.add(workspace)
    session.flush()
    return workspace, True


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: str,
    workspace: Workspace,
    name: str = "",
) -> User:
    email = normalize_email(email)
    if role not in ROLES:
        raise AccountError(f"Role must be one of {', '.join(ROLES)}, not {role!r}.")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise AccountError(f"A user with the email {email} already exists.")
    user = User(
        email=email,
        name=(name or "").strip()[:120],
        password_hash=generate_password_hash(password),
        role=role,
        workspace_id=workspace.id,
    )
    session.add(user)
    session.flush()
    return user
