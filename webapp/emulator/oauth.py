"""OAuth 2.0 under /services/oauth2/: authorize (login and allow), token, revoke, userinfo,
and the identity URL. Tokens live in memory in `Tokens`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlencode

from flask import Blueprint, Response, current_app, redirect, render_template, request

from . import org
from .errors import OAuthError
from .options import SUPPORTED_SCOPES

bp = Blueprint("oauth", __name__)


@dataclass
class Grant:
    """What a code, refresh token or access token stands for."""
    client_id: str
    user_id: str
    scope: str
    expires: float | None = None
    revoked: bool = False
    refresh_token: str | None = None  # for access tokens: the refresh token they came from
    redirect_uri: str | None = None  # for codes
    challenge: str | None = None  # for codes (PKCE, S256)

    def live(self) -> bool:
        return not self.revoked and (self.expires is None or time.time() < self.expires)


@dataclass
class Tokens:
    codes: dict[str, Grant] = field(default_factory=dict)
    refresh: dict[str, Grant] = field(default_factory=dict)
    access: dict[str, Grant] = field(default_factory=dict)

    def session(self, token: str | None) -> Grant | None:
        grant = self.access.get(token or "")
        return grant if grant and grant.live() else None

    def expire_sessions(self) -> None:
        for grant in self.access.values():
            grant.expires = 0

    def revoke_refresh_tokens(self) -> None:
        for grant in self.refresh.values():
            grant.revoked = True


def _emulator():
    return current_app.emulator


def _base_url() -> str:
    return request.url_root.rstrip("/")


def _scopes(text: str) -> list[str]:
    return [s for s in text.replace("+", " ").split() if s]


# ---- authorize ---------------------------------------------------------------------------

AUTH_PARAMS = ("response_type", "client_id", "redirect_uri", "state", "scope",
               "code_challenge", "code_challenge_method", "prompt", "display", "login_hint",
               "nonce")


def _error_page(error: str, description: str) -> Response:
    html = render_template("oauth_error.html", error=error, description=description)
    return Response(html, 400, mimetype="text/html")


def _redirect_error(redirect_uri: str, state: str | None, error: str, description: str):
    params = {"error": error, "error_description": description}
    if state:
        params["state"] = state
    sep = "&" if "?" in redirect_uri else "?"
    return redirect(f"{redirect_uri}{sep}{urlencode(params)}", 302)


@bp.route("/services/oauth2/authorize", methods=["GET", "POST"], endpoint="authorize")
def authorize():
    em = _emulator()
    opts = em.options
    params = {k: (request.values.get(k) or "") for k in AUTH_PARAMS}
    # Without a known client and a registered callback there is nowhere safe to redirect to.
    if params["client_id"] != opts.client_id:
        return _error_page("invalid_client_id", "client identifier invalid")
    if params["redirect_uri"] not in opts.redirect_uris:
        return _error_page("redirect_uri_mismatch", "redirect_uri must match configuration")
    uri, state = params["redirect_uri"], params["state"] or None
    if params["response_type"] != "code":
        return _redirect_error(uri, state, "unsupported_response_type",
                               "response type not supported")
    requested = _scopes(params["scope"])
    if any(s not in SUPPORTED_SCOPES or s not in _scopes(opts.scopes) for s in requested):
        return _redirect_error(uri, state, "invalid_scope", "the requested scope is not allowed")
    if params["code_challenge_method"] not in ("", "S256"):
        return _redirect_error(uri, state, "invalid_request", "unsupported code challenge method")
    if request.method == "GET":
        return render_template("authorize.html", params=params, error=None,
                               username=params["login_hint"])
    if request.form.get("action") != "allow":
        return _redirect_error(uri, state, "access_denied", "end-user denied authorization")
    username = request.form.get("username", "")
    if username.lower() != opts.username.lower() or request.form.get("password") != opts.password:
        html = render_template("authorize.html", params=params, username=username, error=(
            "Please check your username and password. If you still can't log in, contact your "
            "Salesforce administrator."))
        return Response(html, 200, mimetype="text/html")
    code = "aPrx" + secrets.token_urlsafe(48)
    em.tokens.codes[code] = Grant(
        opts.client_id, em.user_id, " ".join(requested) or opts.scopes,
        expires=time.time() + opts.code_seconds, redirect_uri=uri,
        challenge=params["code_challenge"] or None)
    query = {"code": code}
    if state:
        query["state"] = state
    return redirect(f"{uri}{'&' if '?' in uri else '?'}{urlencode(query)}", 302)


# ---- token -------------------------------------------------------------------------------

def _client_credentials() -> tuple[str, str | None]:
    auth = request.authorization
    if auth and auth.type == "basic":
        return unquote(auth.username or ""), unquote(auth.password or "")
    return request.form.get("client_id", ""), request.form.get("client_secret")


def _authenticate_client(secret_required: bool) -> None:
    opts = _emulator().options
    client_id, secret = _client_credentials()
    if client_id != opts.client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if (secret_required or secret) and not hmac.compare_digest(
            (secret or "").encode(), opts.client_secret.encode()):
        raise OAuthError("invalid_client", "invalid client credentials")


@bp.route("/services/oauth2/token", methods=["POST"], endpoint="token")
def token():
    em = _emulator()
    grant_type = request.form.get("grant_type", "")
    if grant_type == "authorization_code":
        _authenticate_client(em.options.require_secret)
        return _json(_exchange_code(em))
    if grant_type == "refresh_token":
        _authenticate_client(True)
        return _json(_refresh(em))
    if grant_type == "client_credentials":
        _authenticate_client(True)
        if not em.options.client_credentials:
            raise OAuthError("invalid_grant", "no client credentials user enabled")
        scope = " ".join(s for s in _scopes(em.options.scopes)
                         if s not in ("refresh_token", "offline_access"))
        return _json(_issue(em, Grant(em.options.client_id, em.user_id, scope), None))
    if not grant_type:
        raise OAuthError("invalid_request", "grant type not specified")
    raise OAuthError("unsupported_grant_type", "grant type not supported")


def _exchange_code(em) -> dict:
    code = em.tokens.codes.get(request.form.get("code", ""))
    if code is None or not code.live() or code.client_id != em.options.client_id:
        raise OAuthError("invalid_grant", "expired authorization code")
    if request.form.get("redirect_uri", "") != code.redirect_uri:
        raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
    if code.challenge:
        verifier = request.form.get("code_verifier")
        if not verifier:
            raise OAuthError("invalid_grant", "invalid code verifier")
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != code.challenge:
            raise OAuthError("invalid_request", "invalid code verifier")
    code.revoked = True  # single use
    refresh = None
    if {"refresh_token", "offline_access"} & set(_scopes(code.scope)):
        refresh = _new_refresh(em, code)
    return _issue(em, code, refresh)


def _new_refresh(em, grant: Grant) -> str:
    value = "5Aep861" + secrets.token_urlsafe(60).replace("-", ".").replace("_", ".")
    lifetime = em.options.refresh_token_seconds
    em.tokens.refresh[value] = Grant(grant.client_id, grant.user_id, grant.scope,
                                     expires=None if lifetime is None else time.time() + lifetime)
    return value


def _refresh(em) -> dict:
    value = request.form.get("refresh_token", "")
    grant = em.tokens.refresh.get(value)
    if grant is None or not grant.live() or grant.client_id != em.options.client_id:
        raise OAuthError("invalid_grant", "expired access/refresh token")
    if em.options.rotate_refresh_tokens:
        # Rotation: a new refresh token each time; the old one stops working.
        grant.revoked = True
        new_value = _new_refresh(em, grant)
        return _issue(em, grant, new_value, return_refresh=True)
    return _issue(em, grant, value, return_refresh=False)


def _issue(em, grant: Grant, refresh: str | None, return_refresh: bool = True) -> dict:
    issued_ms = str(int(time.time() * 1000))
    access = f"{org.ORG_ID[:15]}!AQ" + secrets.token_urlsafe(72).replace("-", ".")
    em.tokens.access[access] = Grant(grant.client_id, grant.user_id, grant.scope,
                                     expires=time.time() + em.options.session_seconds,
                                     refresh_token=refresh)
    identity = f"{_base_url()}/id/{org.ORG_ID}/{grant.user_id}"
    signature = base64.b64encode(hmac.new(em.options.client_secret.encode(),
                                          (identity + issued_ms).encode(),
                                          hashlib.sha256).digest()).decode()
    body = {"access_token": access}
    if refresh and return_refresh:
        body["refresh_token"] = refresh
    body.update({"signature": signature, "scope": grant.scope, "instance_url": _base_url(),
                 "id": identity, "token_type": "Bearer", "issued_at": issued_ms})
    return body


def _json(body: dict, status: int = 200) -> Response:
    response = current_app.json.response(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-cache,must-revalidate,max-age=0,no-store,private"
    return response


# ---- revoke, userinfo, identity ------------------------------------------------------------

@bp.route("/services/oauth2/revoke", methods=["GET", "POST"], endpoint="revoke")
def revoke():
    tokens = _emulator().tokens
    value = request.values.get("token", "")
    if not value:
        raise OAuthError("unsupported_token_type", "this token type is not supported")
    if value in tokens.refresh:
        tokens.refresh[value].revoked = True
        for grant in tokens.access.values():
            if grant.refresh_token == value:
                grant.revoked = True
    elif value in tokens.access:
        tokens.access[value].revoked = True
    else:
        raise OAuthError("invalid_token", "invalid token")
    return Response("", 200)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value:
        return value.strip()
    return request.values.get("access_token") or request.values.get("oauth_token")


def _identity(em, user: dict, version: str) -> dict:
    base = _base_url()
    rest = f"{base}/services/data/v{version}/"
    return {
        "user_id": user["Id"], "organization_id": org.ORG_ID,
        "preferred_username": user["Username"], "nickname": user["Alias"], "name": user["Name"],
        "email": user["Email"], "email_verified": True, "given_name": user["FirstName"],
        "family_name": user["LastName"], "zoneinfo": user["TimeZoneSidKey"],
        "photos": {"picture": f"{base}/profilephoto/005/F", "thumbnail": f"{base}/profilephoto/005/T"},
        "profile": f"{base}/{user['Id']}", "picture": f"{base}/profilephoto/005/F",
        "address": {}, "is_salesforce_integration_user": False,
        "urls": {
            "enterprise": f"{base}/services/Soap/c/{{version}}/{org.ORG_ID[:15]}",
            "metadata": f"{base}/services/Soap/m/{{version}}/{org.ORG_ID[:15]}",
            "partner": f"{base}/services/Soap/u/{{version}}/{org.ORG_ID[:15]}",
            "rest": f"{base}/services/data/v{{version}}/",
            "sobjects": f"{base}/services/data/v{{version}}/sobjects/",
            "search": f"{base}/services/data/v{{version}}/search/",
            "query": f"{base}/services/data/v{{version}}/query/",
            "recent": f"{base}/services/data/v{{version}}/recent/",
            "profile": f"{base}/{user['Id']}", "feeds": f"{rest}chatter/feeds",
            "users": f"{rest}chatter/users", "custom_domain": base,
        },
        "active": user["IsActive"], "user_type": "STANDARD", "language": "en_US",
        "locale": "en_US", "utcOffset": -28800000,
        "updated_at": f"{user['LastModifiedDate']:%Y-%m-%dT%H:%M:%SZ}", "is_app_installed": True,
    }


def _authorized_user():
    em = _emulator()
    grant = em.tokens.session(_bearer())
    if grant is None:
        return None
    return em.store.get("User", grant.user_id)


@bp.route("/services/oauth2/userinfo", methods=["GET", "POST"], endpoint="userinfo")
def userinfo():
    user = _authorized_user()
    if user is None:
        return Response("Bad_OAuth_Token", 403, mimetype="text/plain")
    doc = _identity(_emulator(), user, "")
    doc = {"sub": f"{_base_url()}/id/{org.ORG_ID}/{user['Id']}", **doc}
    return _json(doc)


@bp.route("/id/<org_id>/<user_id>", methods=["GET", "POST"], endpoint="identity")
def identity(org_id: str, user_id: str):
    user = _authorized_user()
    if user is None or user["Id"][:15] != user_id[:15] or org_id[:15] != org.ORG_ID[:15]:
        return Response("Bad_OAuth_Token", 403, mimetype="text/plain")
    doc = _identity(_emulator(), user, "")
    doc = {"id": f"{_base_url()}/id/{org.ORG_ID}/{user['Id']}", "asserted_user": True,
           "username": user["Username"], "display_name": user["Name"], **doc}
    return _json(doc)
