"""OAuth 2.0 with Salesforce through Authlib's OAuth2Session: the authorization-code flow with
PKCE, the refresh-token and client-credentials grants, revocation, and one refresh at a time.

Salesforce sends no ``expires_in``: a token is refreshed when it is older than the org's
session lifetime allows (``session_seconds``), and on any 401 INVALID_SESSION_ID.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from webapp.salesforce.errors import ReconnectNeeded, SalesforceError, Unavailable, oauth_error

MODES = ("oauth", "refresh-token", "client-credentials")
SCOPES = "api refresh_token offline_access"
TIMEOUT = (5, 30)
# Refresh this long before the session lifetime runs out, so a call never starts on a dying token.
REFRESH_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True)
class Token:
    access_token: str
    refresh_token: str | None
    instance_url: str
    issued_at: datetime
    identity_url: str | None = None
    scope: str | None = None


class TokenStore(Protocol):
    """Where a connection's tokens live. ``save`` must persist at once: a rotated refresh
    token that is lost cannot be recovered."""

    def load(self) -> Token | None: ...

    def save(self, token: Token) -> None: ...

    def reconnect_needed(self, reason: str) -> None: ...


@dataclass(frozen=True)
class AppCredentials:
    login_url: str  # https://login.salesforce.com, https://test.salesforce.com, a My Domain, the emulator
    client_id: str
    client_secret: str

    @property
    def token_url(self) -> str:
        return f"{self.login_url}/services/oauth2/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.login_url}/services/oauth2/authorize"

    @property
    def revoke_url(self) -> str:
        return f"{self.login_url}/services/oauth2/revoke"


def token_from_response(data: dict, previous: Token | None = None) -> Token:
    """Salesforce's token response to a Token; a refresh response has no refresh_token."""
    issued_ms = data.get("issued_at")
    try:
        issued = datetime.fromtimestamp(int(issued_ms) / 1000, UTC)
    except (TypeError, ValueError):
        issued = datetime.now(UTC)
    refresh = data.get("refresh_token") or (previous.refresh_token if previous else None)
    instance = (data.get("instance_url") or (previous.instance_url if previous else "")).rstrip("/")
    if not data.get("access_token") or not instance:
        raise SalesforceError("Salesforce's token response lacked an access token or instance URL.")
    return Token(
        access_token=data["access_token"],
        refresh_token=refresh,
        instance_url=instance,
        issued_at=issued,
        identity_url=data.get("id") or (previous.identity_url if previous else None),
        scope=data.get("scope") or (previous.scope if previous else None),
    )


def _session(app: AppCredentials, **kwargs) -> OAuth2Session:
    return OAuth2Session(
        client_id=app.client_id,
        client_secret=app.client_secret,
        token_endpoint_auth_method="client_secret_post",
        **kwargs,
    )


def _token_call(call: Callable[[], dict], *, during: str) -> dict:
    try:
        return call()
    except OAuthError as exc:
        raise oauth_error(exc.error, exc.description, during=during) from exc
    except requests.RequestException as exc:
        raise Unavailable(f"Could not reach Salesforce's login server: {exc.__class__.__name__}.") from exc
    except ValueError as exc:  # an HTML page instead of JSON
        raise Unavailable("Salesforce's login server answered with something other than JSON.") from exc


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    code_verifier: str


def authorization_request(app: AppCredentials, redirect_uri: str, state: str) -> AuthorizationRequest:
    """The URL that sends a person to Salesforce to approve access (PKCE S256)."""
    verifier = generate_token(64)
    session = _session(app, redirect_uri=redirect_uri, scope=SCOPES, code_challenge_method="S256")
    url, _ = session.create_authorization_url(app.authorize_url, state=state, code_verifier=verifier)
    return AuthorizationRequest(url=url, state=state, code_verifier=verifier)


def exchange_code(app: AppCredentials, *, code: str, code_verifier: str, redirect_uri: str) -> Token:
    session = _session(app, redirect_uri=redirect_uri)
    data = _token_call(
        lambda: session.fetch_token(
            app.token_url, code=code, code_verifier=code_verifier, redirect_uri=redirect_uri, timeout=TIMEOUT
        ),
        during="code",
    )
    return token_from_response(dict(data))


def refresh(app: AppCredentials, refresh_token: str, previous: Token | None = None) -> Token:
    session = _session(app)
    data = _token_call(
        lambda: session.refresh_token(app.token_url, refresh_token=refresh_token, timeout=TIMEOUT),
        during="refresh",
    )
    return token_from_response(dict(data), previous)


def client_credentials(app: AppCredentials) -> Token:
    session = _session(app)
    data = _token_call(
        lambda: session.fetch_token(app.token_url, grant_type="client_credentials", timeout=TIMEOUT),
        during="client-credentials",
    )
    return token_from_response(dict(data))


def revoke(app: AppCredentials, token: str) -> None:
    """Revoke a refresh token (and every access token issued from it) or an access token."""
    try:
        response = requests.post(app.revoke_url, data={"token": token}, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise Unavailable(f"Could not reach Salesforce to revoke the token: {exc.__class__.__name__}.") from exc
    if response.status_code != 200:
        raise SalesforceError(
            f"Salesforce did not revoke the token (HTTP {response.status_code}).", status=response.status_code
        )


# One lock per connection and process: two threads that find the token stale make one refresh.
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


class Authenticator:
    """Hands out a live access token for one connection and renews it when needed."""

    def __init__(
        self,
        app: AppCredentials,
        store: TokenStore,
        *,
        mode: str,
        session_seconds: int = 7200,
        lock_key: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        if mode not in MODES:
            raise ValueError(f"Unknown connection mode {mode!r}.")
        self.app = app
        self.store = store
        self.mode = mode
        self.session_lifetime = timedelta(seconds=session_seconds)
        self.clock = clock
        self._lock = _lock_for(lock_key or hashlib.sha256(f"{app.login_url}|{app.client_id}".encode()).hexdigest())
        self.refreshes = 0

    def _stale(self, token: Token) -> bool:
        return self.clock() - token.issued_at >= max(self.session_lifetime - REFRESH_MARGIN, timedelta(minutes=1))

    def token(self) -> Token:
        token = self.store.load()
        if token is None:
            if self.mode == "client-credentials":
                return self.renew(None)
            raise oauth_error("invalid_grant", "no token saved", during="refresh")
        if self._stale(token):
            return self.renew(token)
        return token

    def renew(self, seen: Token | None) -> Token:
        """A new access token, unless another thread already replaced ``seen`` meanwhile."""
        with self._lock:
            current = self.store.load()
            if (
                current is not None
                and seen is not None
                and current.access_token != seen.access_token
                and not self._stale(current)
            ):
                return current
            try:
                fresh = self._grant(current or seen)
            except ReconnectNeeded as exc:
                # Another process may have rotated the refresh token a moment ago.
                latest = self.store.load()
                base = current or seen
                if latest is None or base is None or latest.refresh_token == base.refresh_token:
                    self.store.reconnect_needed(str(exc))
                    raise
                try:
                    fresh = self._grant(latest)
                except ReconnectNeeded as again:
                    self.store.reconnect_needed(str(again))
                    raise
            except SalesforceError as exc:
                if self.mode == "client-credentials" and exc.code in {"invalid_client", "invalid_client_id", "invalid_grant"}:
                    self.store.reconnect_needed(str(exc))
                raise
            self.refreshes += 1
            self.store.save(fresh)
            return fresh

    def _grant(self, base: Token | None) -> Token:
        if self.mode == "client-credentials":
            return client_credentials(self.app)
        if base is None or not base.refresh_token:
            raise oauth_error("invalid_grant", "no refresh token saved", during="refresh")
        return refresh(self.app, base.refresh_token, base)
