"""A workspace's Salesforce connection: setup, the three ways to connect, status, disconnect,
and a ready client for the card, the sync and the CLI.

Secrets go through the Vault and are never handed to templates; the status view carries
none of them.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from webapp.clock import as_utc, utcnow
from webapp.crypto import SecretUnreadable, Vault
from webapp.models import CONNECTION_MODES, OAuthState, SalesforceConnection, SyncSettings
from webapp.salesforce import auth, versions
from webapp.salesforce.client import ApiUsage, SalesforceClient
from webapp.salesforce.errors import ReconnectNeeded, SalesforceError, oauth_error
from webapp.validation import FieldError

log = logging.getLogger(__name__)

LOGIN_URLS = {"production": "https://login.salesforce.com", "sandbox": "https://test.salesforce.com"}
STATE_MAX_AGE = 600
USAGE_WRITE_INTERVAL = 5.0


class SetupError(FieldError):
    """Invalid Salesforce setup."""


class NotConnected(LookupError):
    """The workspace has no working Salesforce connection."""


class ConnectFailed(RuntimeError):
    """The OAuth round trip did not end in a connection; the message says why, in plain words."""


@dataclass(frozen=True)
class SetupInput:
    mode: str
    environment: str
    url: str  # My Domain or custom base URL; ignored for production and sandbox
    client_id: str
    client_secret: str  # blank keeps the saved one
    session_minutes: int = 120
    refresh_token: str = ""
    instance_url: str = ""
    api_version: str = ""  # blank: the newest the org offers that this app is tested with


@dataclass(frozen=True)
class ConnectionView:
    """What the status panel shows. No secrets, by construction."""

    mode: str
    environment: str
    login_url: str
    client_id: str
    has_secret: bool
    session_minutes: int
    state: str
    instance_url: str | None
    user_label: str | None
    org_label: str | None
    connected_at: datetime | None
    last_refresh_at: datetime | None
    api_used: int | None
    api_limit: int | None
    last_error: str | None
    last_error_at: datetime | None
    api_version: str | None = None
    api_version_pinned: str | None = None

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    @property
    def api_percent(self) -> int | None:
        if self.api_used is None or not self.api_limit:
            return None
        return min(100, round(100 * self.api_used / self.api_limit))


def _load(session: Session, workspace_id: int) -> SalesforceConnection | None:
    return session.execute(
        select(SalesforceConnection).where(SalesforceConnection.workspace_id == workspace_id)
    ).scalar_one_or_none()


def get_view(session: Session, workspace_id: int) -> ConnectionView | None:
    conn = _load(session, workspace_id)
    if conn is None:
        return None
    user = conn.sf_user_name or conn.sf_username
    if conn.sf_user_name and conn.sf_username:
        user = f"{conn.sf_user_name} ({conn.sf_username})"
    org = None
    if conn.sf_org_id:
        org = f"{conn.sf_org_name} ({conn.sf_org_id})" if conn.sf_org_name else conn.sf_org_id
    return ConnectionView(
        mode=conn.mode,
        environment=conn.environment,
        login_url=conn.login_url,
        client_id=conn.client_id,
        has_secret=bool(conn.client_secret_enc),
        session_minutes=conn.session_minutes,
        state=conn.state,
        instance_url=conn.instance_url,
        user_label=user,
        org_label=org,
        connected_at=conn.connected_at,
        last_refresh_at=conn.last_refresh_at,
        api_used=conn.api_used,
        api_limit=conn.api_limit,
        last_error=conn.last_error,
        last_error_at=conn.last_error_at,
        api_version=conn.api_version,
        api_version_pinned=conn.api_version_pinned,
    )


STATE_TTL = 10  # seconds a workspace's connection state is reused without asking the database


def _state_key(workspace_id: int) -> str:
    return f"sfconn:v2:{workspace_id}"


def cached_state(engine: Engine, cache, workspace_id: int) -> tuple[str | None, bool, str | None, str | None]:
    """(state, multi_currency, org_currency, sf_user_id), from the cache when it was read in the last few
    seconds: for what every request shows (the card, the admin's reconnect banner). Whatever
    changes the state forgets it (``forget_state``), so the TTL only bounds a missed change."""
    key = _state_key(workspace_id)
    cached = cache.get(key)
    if cached is not None:
        return tuple(cached)
    with engine.connect() as conn:
        row = conn.execute(
            select(SalesforceConnection.state, SalesforceConnection.multi_currency, SalesforceConnection.org_currency,
                   SalesforceConnection.sf_user_id)
            .where(SalesforceConnection.workspace_id == workspace_id)
        ).first()
    value = (row[0], bool(row[1]), row[2], row[3]) if row else (None, False, None, None)
    cache.set(key, value, timeout=STATE_TTL)
    return value


def forget_state(cache, workspace_id: int) -> None:
    cache.delete(_state_key(workspace_id))


def connection_state(session: Session, workspace_id: int) -> str | None:
    """``connected``, ``reconnect``, ``configured`` or None: cheap, for banners and the card."""
    return session.execute(
        select(SalesforceConnection.state).where(SalesforceConnection.workspace_id == workspace_id)
    ).scalar_one_or_none()


# -- setup ----------------------------------------------------------------------------------


def _base_url(value: str, field: str, *, https_only: bool) -> str:
    value = (value or "").strip().rstrip("/")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        parts = urlsplit("")
    schemes = {"https"} if https_only else {"http", "https"}
    if parts.scheme not in schemes or not parts.hostname or parts.path not in ("", "/") or parts.query:
        need = "an https:// address" if https_only else "an http:// or https:// address"
        raise SetupError(field, f"Enter {need} with no path, like https://yourcompany.my.salesforce.com.")
    return f"{parts.scheme}://{parts.netloc}"


def login_url_for(environment: str, url: str) -> str:
    if environment in LOGIN_URLS:
        return LOGIN_URLS[environment]
    if environment == "mydomain":
        base = _base_url(url, "url", https_only=True)
        if not urlsplit(base).hostname.endswith((".my.salesforce.com", ".salesforce.com")):
            raise SetupError("url", "A My Domain URL ends in .my.salesforce.com.")
        return base
    if environment == "custom":
        return _base_url(url, "url", https_only=False)
    raise SetupError("environment", "Choose Production, Sandbox, My Domain or a custom URL.")


LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
CLIENT_CREDENTIALS_LOGIN = ("The client credentials flow needs your org's My Domain URL (https://yourcompany.my.salesforce.com, "
                            "Setup → My Domain), not login.salesforce.com or test.salesforce.com.")


def callback_warning(callback_url: str) -> str | None:
    """Salesforce sends the authorization code to the callback URL: over plain http it travels
    in clear text, so only this machine may use http."""
    parts = urlsplit(callback_url)
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        return (f"The callback URL is plain http on {parts.hostname}. Salesforce accepts http only for localhost; "
                "set PUBLIC_BASE_URL to this inbox's public https:// address and restart.")
    return None


def login_url_warning(mode: str, environment: str) -> str | None:
    if mode == "client-credentials" and environment in LOGIN_URLS:
        return CLIENT_CREDENTIALS_LOGIN
    return None


def _credentials(conn: SalesforceConnection, vault: Vault) -> auth.AppCredentials:
    return auth.AppCredentials(conn.login_url, conn.client_id, vault.decrypt(conn.client_secret_enc))


def save_setup(session: Session, vault: Vault, workspace_id: int, data: SetupInput) -> SalesforceConnection:
    """Validate and save the setup. A change of org, app or mode drops the saved tokens.

    For the refresh-token and client-credentials modes the credentials are proven at once;
    when the proof fails nothing is saved.
    """
    if data.mode not in CONNECTION_MODES:
        raise SetupError("mode", "Choose how to connect.")
    login_url = login_url_for(data.environment, data.url)
    client_id = (data.client_id or "").strip()
    if not client_id or len(client_id) > 255 or any(c.isspace() for c in client_id):
        raise SetupError("client_id", "Paste the consumer key (client id) of the Salesforce app.")
    if not 15 <= int(data.session_minutes) <= 1440:
        raise SetupError("session_minutes", "The session timeout is between 15 and 1440 minutes.")
    pinned = (data.api_version or "").strip().lstrip("vV") or None
    if pinned is not None and not versions.valid_pin(pinned):
        raise SetupError("api_version", f"Enter an API version such as {versions.NEWEST_TESTED}, "
                                        f"{versions.OLDEST_SUPPORTED} or newer, or leave it blank.")
    conn = _load(session, workspace_id)
    secret = (data.client_secret or "").strip()
    if not secret:
        if conn is None:
            raise SetupError("client_secret", "Paste the consumer secret (client secret) of the Salesforce app.")
        if (conn.login_url, conn.client_id) != (login_url, client_id):
            # The saved secret only ever goes to the org and app it was given for.
            raise SetupError("client_secret", "Enter the consumer secret again when changing the org URL or the consumer key.")
        secret = vault.decrypt(conn.client_secret_enc)

    identity: _Identity | None = None
    app = auth.AppCredentials(login_url, client_id, secret)
    if data.mode == "refresh-token":
        refresh_token = (data.refresh_token or "").strip()
        if not refresh_token:
            raise SetupError("refresh_token", "Paste the refresh token.")
        instance = _base_url(data.instance_url, "instance_url", https_only=False)
        try:
            token = auth.refresh(app, refresh_token)
            token = replace(token, refresh_token=token.refresh_token or refresh_token)
            identity = _identify(app, data.mode, token, pinned)
        except SalesforceError as exc:
            raise SetupError("refresh_token", f"Salesforce did not accept these values: {exc}") from exc
        if token.instance_url.rstrip("/") != instance:
            log.info("instance URL differs from the one given", extra={"given": instance, "returned": token.instance_url})
    elif data.mode == "client-credentials":
        try:
            identity = _identify(app, data.mode, auth.client_credentials(app), pinned)
        except SalesforceError as exc:
            hint = f" {CLIENT_CREDENTIALS_LOGIN}" if data.environment in LOGIN_URLS else ""
            raise SetupError("client_secret", f"Salesforce did not accept these values: {exc}{hint}") from exc

    changed = conn is None or (conn.login_url, conn.client_id, conn.mode) != (login_url, client_id, data.mode)
    if conn is None:
        conn = SalesforceConnection(workspace_id=workspace_id, login_url=login_url, client_id=client_id, client_secret_enc="")
    conn.mode = data.mode
    conn.environment = data.environment
    conn.login_url = login_url
    conn.client_id = client_id
    conn.client_secret_enc = vault.encrypt(secret)
    conn.session_minutes = int(data.session_minutes)
    conn.updated_at = utcnow()
    if conn.api_version_pinned != pinned:
        conn.api_version_pinned, conn.api_version = pinned, None  # chosen again on the next call
    if changed:
        _forget_tokens(conn)
    session.add(conn)
    session.flush()
    if identity is not None:
        _apply(conn, vault, identity, user_id=None)
        session.add(conn)
        session.flush()
    return conn


def _forget_tokens(conn: SalesforceConnection) -> None:
    conn.state = "configured"
    conn.access_token_enc = conn.refresh_token_enc = None
    conn.token_issued_at = conn.instance_url = conn.identity_url = None
    conn.sf_user_id = conn.sf_username = conn.sf_user_name = conn.sf_org_id = conn.sf_org_name = None
    conn.connected_at = conn.connected_by_id = conn.last_refresh_at = None
    conn.api_used = conn.api_limit = conn.api_usage_at = None


def _store_token(conn: SalesforceConnection, vault: Vault, token: auth.Token, *, user_id: int | None = None) -> None:
    now = utcnow()
    conn.access_token_enc = vault.encrypt(token.access_token)
    conn.refresh_token_enc = vault.encrypt(token.refresh_token) if token.refresh_token else None
    conn.token_issued_at = token.issued_at
    conn.instance_url = token.instance_url
    conn.identity_url = token.identity_url
    conn.state = "connected"
    conn.connected_at = now
    conn.connected_by_id = user_id
    conn.last_refresh_at = now
    conn.last_error = conn.last_error_at = None
    conn.updated_at = now


@dataclass
class _Identity:
    token: auth.Token
    user_id: str | None
    username: str | None
    user_name: str | None
    org_id: str | None
    org_name: str | None
    org_currency: str | None
    multi_currency: bool
    usage: ApiUsage | None
    api_version: str


class _MemoryTokenStore:
    """Holds a token that is not saved yet, while a new connection proves itself."""

    def __init__(self, token: auth.Token):
        self.token = token

    def load(self) -> auth.Token:
        return self.token

    def save(self, token: auth.Token) -> None:
        self.token = token

    def reconnect_needed(self, reason: str) -> None:
        pass


def _identify(app: auth.AppCredentials, mode: str, token: auth.Token, pinned: str | None) -> _Identity:
    """Who and which org a new token belongs to, and the API version to speak (the versions
    list, one userinfo call and one query), before anything is saved, so a failure leaves the
    connection as it was."""
    api_version = versions.choose(versions.offered(token.instance_url), pinned)
    store = _MemoryTokenStore(token)
    client = SalesforceClient(auth.Authenticator(app, store, mode=mode, lock_key=f"identify-{id(store)}"),
                              api_version=api_version)
    info = client.userinfo()
    try:
        org = next(client.query("SELECT Id, Name, DefaultCurrencyIsoCode FROM Organization LIMIT 1"), None)
    except SalesforceError:
        org = None  # the user may lack access to Organization; its id is enough
    # CurrencyIsoCode exists on records only when the org has multi-currency turned on.
    fields = {f["name"] for f in client.describe("Opportunity").get("fields", [])}
    return _Identity(
        token=store.token,
        user_id=(info.get("user_id") or "")[:18] or None,
        username=info.get("preferred_username") or info.get("email"),
        user_name=info.get("name"),
        org_id=(info.get("organization_id") or "")[:18] or None,
        org_name=org.get("Name") if org else None,
        org_currency=(org or {}).get("DefaultCurrencyIsoCode") or None,
        multi_currency="CurrencyIsoCode" in fields,
        usage=client.usage,
        api_version=api_version,
    )


def _apply(conn: SalesforceConnection, vault: Vault, identity: _Identity, *, user_id: int | None) -> None:
    _store_token(conn, vault, identity.token, user_id=user_id)
    conn.sf_user_id, conn.sf_username, conn.sf_user_name = identity.user_id, identity.username, identity.user_name
    conn.sf_org_id, conn.sf_org_name = identity.org_id, identity.org_name
    conn.org_currency, conn.multi_currency = identity.org_currency, identity.multi_currency
    conn.api_version = identity.api_version
    if identity.usage:
        conn.api_used, conn.api_limit, conn.api_usage_at = identity.usage.used, identity.usage.limit, utcnow()


def _token_of(conn: SalesforceConnection, vault: Vault) -> auth.Token | None:
    if not conn.access_token_enc or not conn.instance_url:
        return None
    return auth.Token(
        access_token=vault.decrypt(conn.access_token_enc),
        refresh_token=vault.decrypt(conn.refresh_token_enc),
        instance_url=conn.instance_url,
        issued_at=as_utc(conn.token_issued_at) if conn.token_issued_at else utcnow() - timedelta(days=1),
        identity_url=conn.identity_url,
    )


# -- the OAuth web-server flow ------------------------------------------------------------


def _signer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="salesforce-oauth-state")


def start_connect(session: Session, vault: Vault, *, workspace_id: int, user_id: int, redirect_uri: str, secret_key: str) -> str:
    """The Salesforce URL to send the admin to; the state is signed, bound and single-use."""
    conn = _load(session, workspace_id)
    if conn is None or conn.mode != "oauth":
        raise SetupError("mode", "Save the OAuth setup (consumer key and secret) before connecting.")
    nonce = secrets.token_urlsafe(24)
    state = _signer(secret_key).dumps({"n": nonce, "w": workspace_id, "u": user_id})
    request = auth.authorization_request(_credentials(conn, vault), redirect_uri, state)
    session.execute(delete(OAuthState).where(OAuthState.created_at < utcnow() - timedelta(seconds=STATE_MAX_AGE)))
    session.add(
        OAuthState(
            nonce=nonce,
            workspace_id=workspace_id,
            user_id=user_id,
            code_verifier_enc=vault.encrypt(request.code_verifier),
            redirect_uri=redirect_uri,
        )
    )
    session.flush()
    return request.url


@dataclass(frozen=True)
class SpentState:
    """A verified, now used-up Connect attempt: what the code exchange needs."""

    code_verifier: str
    redirect_uri: str


def spend_state(session: Session, vault: Vault, *, workspace_id: int, user_id: int, secret_key: str, state: str) -> SpentState:
    """Check the signed state and use it up. The caller commits before any network call, so
    the attempt is spent even if the exchange fails, and no write lock waits on Salesforce."""
    try:
        payload = _signer(secret_key).loads(state or "", max_age=STATE_MAX_AGE)
    except SignatureExpired as exc:
        raise ConnectFailed("The connection attempt took too long and expired. Click Connect again.") from exc
    except BadSignature as exc:
        raise ConnectFailed("The reply from Salesforce could not be verified (bad state). Click Connect again.") from exc
    if payload.get("w") != workspace_id or payload.get("u") != user_id:
        raise ConnectFailed("This connection attempt was started by someone else. Click Connect again.")
    pending = session.get(OAuthState, payload.get("n"))
    if pending is None:
        raise ConnectFailed("This connection attempt was already used. Click Connect again.")
    spent = SpentState(vault.decrypt(pending.code_verifier_enc), pending.redirect_uri)
    session.execute(delete(OAuthState).where(OAuthState.nonce == pending.nonce))
    session.flush()
    return spent


def finish_connect(
    session: Session,
    vault: Vault,
    spent: SpentState,
    *,
    workspace_id: int,
    user_id: int,
    code: str | None,
    error: str | None,
    error_description: str | None,
) -> SalesforceConnection:
    """Trade the code for tokens, then save them. Raises ConnectFailed in plain words."""
    if error:
        raise ConnectFailed(str(oauth_error(error, error_description, during="authorize")))
    if not code:
        raise ConnectFailed("Salesforce sent no authorization code. Click Connect again.")
    conn = _load(session, workspace_id)
    if conn is None or conn.mode != "oauth":
        raise ConnectFailed("The Salesforce setup changed meanwhile. Click Connect again.")
    app = _credentials(conn, vault)
    pinned = conn.api_version_pinned
    session.rollback()  # hold no transaction while Salesforce answers
    try:
        token = auth.exchange_code(app, code=code, code_verifier=spent.code_verifier, redirect_uri=spent.redirect_uri)
        identity = _identify(app, conn.mode, token, pinned)
    except SalesforceError as exc:
        raise ConnectFailed(str(exc)) from exc
    conn = _load(session, workspace_id)
    if conn is None or conn.mode != "oauth" or (conn.login_url, conn.client_id) != (app.login_url, app.client_id):
        raise ConnectFailed("The Salesforce setup changed meanwhile. Click Connect again.")
    _apply(conn, vault, identity, user_id=user_id)
    session.add(conn)
    session.flush()
    return conn


# -- disconnect and status ----------------------------------------------------------------


def disconnect(session: Session, vault: Vault, workspace_id: int) -> str | None:
    """Revoke at Salesforce, then forget the tokens here. Returns a warning if revoking failed."""
    conn = _load(session, workspace_id)
    if conn is None:
        raise NotConnected("Salesforce is not set up for this workspace.")
    warning = None
    try:
        token = conn.refresh_token_enc or conn.access_token_enc
        if token:
            auth.revoke(_credentials(conn, vault), vault.decrypt(token))
    except (SalesforceError, SecretUnreadable) as exc:
        warning = f"Salesforce could not confirm the revocation ({exc}); the tokens were deleted here anyway."
    _forget_tokens(conn)
    conn.updated_at = utcnow()
    session.add(conn)
    session.flush()
    return warning


class DbTokenStore:
    """Token store that commits each change at once in its own transaction: a rotated refresh
    token must survive whatever happens to the caller's transaction."""

    def __init__(self, engine: Engine, vault: Vault, connection_id: int, *, state_changed=None):
        self.engine, self.vault, self.connection_id = engine, vault, connection_id
        self.state_changed = state_changed or (lambda: None)  # drops the cached state (banner, card)
        self._usage_written = 0.0

    def _row(self, session: Session) -> SalesforceConnection:
        return session.get(SalesforceConnection, self.connection_id)

    def load(self) -> auth.Token | None:
        with Session(self.engine) as session:
            conn = self._row(session)
            if conn is None or conn.state == "reconnect":
                return None
            return _token_of(conn, self.vault)

    def save(self, token: auth.Token) -> None:
        now = utcnow()
        values = {
            "access_token_enc": self.vault.encrypt(token.access_token),
            "token_issued_at": token.issued_at,
            "instance_url": token.instance_url,
            "last_refresh_at": now,
            "state": "connected",
            "updated_at": now,
        }
        if token.refresh_token:
            values["refresh_token_enc"] = self.vault.encrypt(token.refresh_token)
        self._update(values)
        self.state_changed()

    def reconnect_needed(self, reason: str) -> None:
        log.warning("salesforce reconnect needed", extra={"connection": self.connection_id, "reason": reason})
        self._update({"state": "reconnect", "last_error": reason, "last_error_at": utcnow()})
        self.state_changed()

    def record_usage(self, usage: ApiUsage, *, now: bool = False) -> None:
        # At most every few seconds: a sync makes many calls and the figure moves slowly.
        if not now and time.monotonic() - self._usage_written < USAGE_WRITE_INTERVAL:
            return
        self._usage_written = time.monotonic()
        self._update({"api_used": usage.used, "api_limit": usage.limit, "api_usage_at": utcnow()})

    def record_error(self, message: str) -> None:
        self._update({"last_error": message, "last_error_at": utcnow()})

    def remember_api_version(self, version: str) -> None:
        self._update({"api_version": version})

    def _update(self, values: dict) -> None:
        with Session(self.engine) as session:
            session.execute(
                update(SalesforceConnection).where(SalesforceConnection.id == self.connection_id).values(**values)
            )
            session.commit()


def client_for(engine: Engine, vault: Vault, workspace_id: int, *, describe_cache=None, state_cache=None,
               **client_options) -> SalesforceClient:
    """A client for the workspace's connection, or NotConnected / ReconnectNeeded. A change of
    the connection's state it makes (reconnect needed, a refreshed token) is forgotten from
    ``state_cache`` (or ``describe_cache``), so banners and cards see it at once."""
    with Session(engine) as session:
        conn = _load(session, workspace_id)
        if conn is None or conn.state == "configured":
            raise NotConnected("Salesforce is not connected for this workspace.")
        if conn.state == "reconnect":
            raise ReconnectNeeded(conn.last_error or "Salesforce needs to be reconnected.")
        app = _credentials(conn, vault)
        cache = state_cache if state_cache is not None else describe_cache
        store = DbTokenStore(engine, vault, conn.id, state_changed=None if cache is None else (
            lambda: _forget_quietly(cache, workspace_id)))
        authenticator = auth.Authenticator(
            app, store, mode=conn.mode, session_seconds=conn.session_minutes * 60, lock_key=f"sf-conn-{conn.id}"
        )
        api_version, pinned, instance_url = conn.api_version, conn.api_version_pinned, conn.instance_url
        allow_save = session.execute(select(SyncSettings.allow_duplicate_save).where(
            SyncSettings.workspace_id == workspace_id)).scalar()
    client_options.setdefault("allow_duplicate_save", bool(allow_save))
    if api_version is None:
        # Connected before versions were negotiated, or the admin changed the pinned version.
        api_version = versions.choose(versions.offered(instance_url), pinned)
        store.remember_api_version(api_version)
    client = SalesforceClient(authenticator, on_usage=store.record_usage, describe_cache=describe_cache,
                              api_version=api_version, **client_options)
    client.token_store = store
    return client


def _forget_quietly(cache, workspace_id: int) -> None:
    try:
        forget_state(cache, workspace_id)
    except Exception:  # a cache outage must not fail a Salesforce call; the state expires anyway
        log.warning("connection state not forgotten", exc_info=True)


def rotate_secrets(session: Session, vault: Vault) -> int:
    """Re-encrypt every stored secret under the newest key; returns how many rows changed."""
    rows = 0
    for conn in session.execute(select(SalesforceConnection)).scalars():
        conn.client_secret_enc = vault.rotate(conn.client_secret_enc)
        conn.access_token_enc = vault.rotate(conn.access_token_enc)
        conn.refresh_token_enc = vault.rotate(conn.refresh_token_enc)
        session.add(conn)
        rows += 1
    for pending in session.execute(select(OAuthState)).scalars():
        pending.code_verifier_enc = vault.rotate(pending.code_verifier_enc)
        session.add(pending)
        rows += 1
    for settings in session.execute(select(SyncSettings).where(SyncSettings.notify_webhook_enc.is_not(None))).scalars():
        settings.notify_webhook_enc = vault.rotate(settings.notify_webhook_enc)  # admins' webhook URL
        session.add(settings)
        rows += 1
    session.flush()
    return rows
