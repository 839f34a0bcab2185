"""Accounts: creating users, checking passwords, signing in and out, loading the signed-in user."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

from flask_login import UserMixin
from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.addresses import InvalidAddress
from webapp.addresses import normalize_email as _normalize_address
from webapp.clock import as_utc, utcnow
from webapp.db import get_engine
from webapp.auth.throttle import LoginThrottle, account_key
from webapp.models import ROLES, User, UserSession, Workspace

MIN_PASSWORD_LENGTH = 8
# Checked when no user matches, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")
# last_seen_at is written at most this often per session, not on every request.
SEEN_EVERY = timedelta(minutes=5)


class AccountError(ValueError):
    """Bad input for an account operation; the message is safe to show."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


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
    locale: str = "en_US"
    # The sign-in session's token, as the signed cookie carries it.
    session_token: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def get_id(self) -> str:
        # What Flask-Login keeps in the cookie: the session, not the user, so that ending
        # the session on the server ends it for every copy of the cookie.
        return self.session_token


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
        locale=workspace.locale,
    )


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


USER = User.__table__
WORKSPACE = Workspace.__table__
SESSION = UserSession.__table__
_SESSION_USER = (
    sa_select(USER.c.id, USER.c.email, USER.c.name, USER.c.role, WORKSPACE.c.id, WORKSPACE.c.name,
              WORKSPACE.c.timezone, WORKSPACE.c.locale, SESSION.c.last_seen_at)
    .select_from(SESSION.join(USER, USER.c.id == SESSION.c.user_id).join(WORKSPACE, WORKSPACE.c.id == USER.c.workspace_id))
    .where(SESSION.c.id == bindparam("session_id"), SESSION.c.revoked_at.is_(None))
)
_SEEN = update(SESSION).where(SESSION.c.id == bindparam("session_id")).values(last_seen_at=bindparam("now"))


def load_session_user(token: str) -> SessionUser | None:
    """The user of a live sign-in session, in one query, or None when it ended. Every signed-in
    request runs it: plain columns of a statement built once (SQLAlchemy reuses its compiled
    form), not ORM rows, whose identity-mapped objects cost more than the query itself."""
    if not token or len(token) > 100:
        return None
    session_id = _token_id(token)
    # A connection of its own, returned at once: a request that then waits on Salesforce holds none.
    with get_engine().connect() as conn:
        row = conn.execute(_SESSION_USER, {"session_id": session_id}).first()
        if row is None:
            return None
        user_id, email, name, role, workspace_id, workspace_name, timezone, locale, last_seen = row
        now = utcnow()
        if now - as_utc(last_seen) > SEEN_EVERY:
            conn.execute(_SEEN, {"session_id": session_id, "now": now})
            conn.commit()
    return SessionUser(id=user_id, email=email, name=name, role=role, workspace_id=workspace_id,
                       workspace_name=workspace_name, timezone=timezone, locale=locale or "en_US",
                       session_token=token)


def start_session(session: Session, user: SessionUser, user_agent: str = "") -> SessionUser:
    """Records a new sign-in session; the returned user carries its token for the cookie."""
    token = secrets.token_urlsafe(32)
    session.add(UserSession(id=_token_id(token), user_id=user.id, user_agent=(user_agent or "")[:255]))
    return replace(user, session_token=token)


def end_session(session: Session, token: str) -> None:
    session.exec(
        update(UserSession)
        .where(UserSession.id == _token_id(token), col(UserSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


def end_user_sessions(session: Session, user_id: int, *, keep_token: str | None = None) -> int:
    """Ends every live session of a user (but the one of ``keep_token``); returns how many."""
    statement = update(UserSession).where(
        UserSession.user_id == user_id, col(UserSession.revoked_at).is_(None)
    )
    if keep_token:
        statement = statement.where(UserSession.id != _token_id(keep_token))
    return session.exec(statement.values(revoked_at=utcnow())).rowcount


def live_sessions(session: Session, user_id: int) -> list[UserSession]:
    return list(
        session.exec(
            select(UserSession)
            .where(UserSession.user_id == user_id, col(UserSession.revoked_at).is_(None))
            .order_by(col(UserSession.last_seen_at).desc())
        )
    )


def is_current(record: UserSession, token: str) -> bool:
    return record.id == _token_id(token)


@dataclass(frozen=True)
class WorkspaceMember:
    id: int
    email: str
    name: str
    role: str
    last_login_at: object
    live_sessions: int


def workspace_members(session: Session, workspace_id: int) -> list[WorkspaceMember]:
    live = (
        select(UserSession.user_id, func.count().label("n"))
        .where(col(UserSession.revoked_at).is_(None))
        .group_by(UserSession.user_id)
        .subquery()
    )
    rows = session.exec(
        select(User, func.coalesce(live.c.n, 0))
        .outerjoin(live, live.c.user_id == User.id)
        .where(User.workspace_id == workspace_id)
        .order_by(User.email)
    ).all()
    return [WorkspaceMember(u.id, u.email, u.name, u.role, u.last_login_at, n) for u, n in rows]


def sign_out_everywhere(session: Session, workspace_id: int, user_id: int) -> tuple[str, int]:
    """An admin ends every session of a user of their own workspace; (email, count)."""
    user = session.get(User, user_id)
    if user is None or user.workspace_id != workspace_id:
        raise AccountError("There is no such user in this workspace.")
    return user.email, end_user_sessions(session, user_id)


def change_password(
    session: Session, user: SessionUser, *, current: str, new: str, confirm: str
) -> int:
    """Sets a new password and ends the user's other sessions; returns how many ended."""
    row = session.get(User, user.id)
    if row is None or not check_password_hash(row.password_hash, current or ""):
        raise AccountError("The current password is not correct.", "current_password")
    if len(new or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"The new password must be at least {MIN_PASSWORD_LENGTH} characters.", "new_password"
        )
    if new != confirm:
        raise AccountError("The two new passwords do not match.", "confirm_password")
    row.password_hash = generate_password_hash(new)
    session.add(row)
    return end_user_sessions(session, user.id, keep_token=user.session_token)


def sign_in(
    session: Session, throttle: LoginThrottle, email: str, password: str, *, address: str, user_agent: str = ""
) -> SessionUser | None:
    """Checks the credentials under the login throttle and starts a session.

    Raises Throttled (also for the right password) while the account or address is locked."""
    try:
        account = account_key(normalize_email(email))
    except AccountError:
        account = account_key((email or "").strip().lower())
    throttle.begin(account, address)
    user = authenticate(session, email, password)
    if user is None:
        throttle.failed(account, address)
        return None
    throttle.succeeded(account, address)
    return start_session(session, user, user_agent)


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
