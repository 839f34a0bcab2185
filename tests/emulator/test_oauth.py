"""OAuth 2.0 as Authlib's OAuth2Session (an independent client) and Salesforce's errors see it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

CALLBACK = "https://inbox.example/oauth/salesforce/callback"
CLIENT_ID, SECRET = "emulator-client-id", "emulator-client-secret"


@pytest.fixture
def emulator(start_emulator):
    return start_emulator()


@pytest.fixture
def oauth(ca_path):
    def make(**kwargs):
        session = OAuth2Session(CLIENT_ID, SECRET, redirect_uri=CALLBACK,
                                code_challenge_method="S256", **kwargs)
        session.trust_env = False
        session.verify = ca_path
        made.append(session)
        return session
    made = []
    yield make
    for session in made:
        session.close()


def approve(http, authorization_url, action="allow", password="emulator"):
    """Log in on the authorize page and press a button, as a person would."""
    page = http.get(authorization_url)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    fields.update(username="admin@emulator.test", password=password, action=action)
    action_url = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    base = "{0.scheme}://{0.netloc}".format(urlsplit(authorization_url))
    return http.post(base + action_url, data=fields, allow_redirects=False)


def authorize(emulator, http, client, scope=None, verifier=None):
    verifier = verifier or generate_token(48)
    extra = {"scope": scope} if scope else {}
    url, state = client.create_authorization_url(
        f"{emulator.url}/services/oauth2/authorize", code_verifier=verifier, **extra)
    response = approve(http, url)
    assert response.status_code == 302
    return response.headers["Location"], verifier, state


def test_authorization_code_with_pkce_then_refresh(emulator, http, oauth):
    client = oauth()
    location, verifier, state = authorize(emulator, http, client)
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(CALLBACK) and query["state"] == [state]
    token = client.fetch_token(f"{emulator.url}/services/oauth2/token",
                               authorization_response=location, code_verifier=verifier)
    assert "expires_in" not in token and token["token_type"] == "Bearer"
    assert token["instance_url"] == emulator.url
    assert token["id"] == f"{emulator.url}/id/00D5g00000EmuLaEAJ/0055g0E00000001ACA"
    assert token["issued_at"].isdigit() and abs(int(token["issued_at"]) / 1000 - time.time()) < 60
    assert token["access_token"].startswith("00D5g00000EmuLa!")
    expected = base64.b64encode(hmac.new(SECRET.encode(), (token["id"] + token["issued_at"]).encode(),
                                         hashlib.sha256).digest()).decode()
    assert token["signature"] == expected
    assert set(token["scope"].split()) >= {"api", "refresh_token"}
    assert client.get(f"{emulator.url}/services/data/v59.0/limits/").status_code == 200
    first_refresh = token["refresh_token"]

    refreshed = client.refresh_token(f"{emulator.url}/services/oauth2/token")
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] == first_refresh  # kept by the client: none was sent
    assert client.get(f"{emulator.url}/services/oauth2/userinfo").json()["preferred_username"] == "admin@emulator.test"
    assert emulator.app.emulator.calls["token"] == 2


def test_refresh_response_has_no_refresh_token_unless_rotating(emulator, http):
    grant = _code_grant(emulator, http)
    body = _token(emulator, http, grant_type="refresh_token", refresh_token=grant["refresh_token"])
    assert "refresh_token" not in body and body["instance_url"] == emulator.url


def test_refresh_token_rotation(start_emulator, http):
    emulator = start_emulator(rotate_refresh_tokens=True)
    grant = _code_grant(emulator, http)
    rotated = _token(emulator, http, grant_type="refresh_token", refresh_token=grant["refresh_token"])
    assert rotated["refresh_token"] != grant["refresh_token"]
    stale = _token(emulator, http, 400, grant_type="refresh_token", refresh_token=grant["refresh_token"])
    assert stale == {"error": "invalid_grant", "error_description": "expired access/refresh token"}


def test_no_refresh_token_without_the_scope(emulator, http, oauth):
    client = oauth(scope="api id")
    location, verifier, _ = authorize(emulator, http, client)
    token = client.fetch_token(f"{emulator.url}/services/oauth2/token",
                               authorization_response=location, code_verifier=verifier)
    assert "refresh_token" not in token and token["scope"] == "api id"


def test_access_tokens_expire(start_emulator, http):
    emulator = start_emulator(session_seconds=1)
    token = _token(emulator, http, grant_type="client_credentials", client_id=CLIENT_ID,
                   client_secret=SECRET)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert http.get(f"{emulator.url}/services/data/v59.0/limits/", headers=headers).status_code == 200
    time.sleep(1.1)
    expired = http.get(f"{emulator.url}/services/data/v59.0/limits/", headers=headers)
    assert expired.status_code == 401 and expired.headers["WWW-Authenticate"] == "Token"
    assert expired.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_client_credentials_grant(emulator, http):
    body = _token(emulator, http, grant_type="client_credentials", client_id=CLIENT_ID,
                  client_secret=SECRET)
    assert set(body) == {"access_token", "signature", "scope", "instance_url", "id", "token_type",
                         "issued_at"}
    bad = _token(emulator, http, 400, grant_type="client_credentials", client_id=CLIENT_ID,
                 client_secret="wrong")
    assert bad == {"error": "invalid_client", "error_description": "invalid client credentials"}


def test_deny_and_bad_password(emulator, http, oauth):
    client = oauth()
    url, state = client.create_authorization_url(f"{emulator.url}/services/oauth2/authorize",
                                                 code_verifier=generate_token(48))
    denied = approve(http, url, action="deny")
    query = parse_qs(urlsplit(denied.headers["Location"]).query)
    assert query == {"error": ["access_denied"], "error_description": ["end-user denied authorization"],
                     "state": [state]}
    wrong = approve(http, url, password="nope")
    assert wrong.status_code == 200 and "check your username and password" in wrong.text


def test_authorize_errors(emulator, http):
    base = f"{emulator.url}/services/oauth2/authorize"
    unknown = http.get(base, params={"response_type": "code", "client_id": "x", "redirect_uri": CALLBACK})
    assert unknown.status_code == 400 and "invalid_client_id" in unknown.text
    mismatch = http.get(base, params={"response_type": "code", "client_id": CLIENT_ID,
                                      "redirect_uri": "https://evil.example/cb"})
    assert mismatch.status_code == 400 and "redirect_uri_mismatch" in mismatch.text
    bad_type = http.get(base, params={"response_type": "token2", "client_id": CLIENT_ID,
                                      "redirect_uri": CALLBACK, "state": "s1"}, allow_redirects=False)
    assert parse_qs(urlsplit(bad_type.headers["Location"]).query)["error"] == ["unsupported_response_type"]
    bad_scope = http.get(base, params={"response_type": "code", "client_id": CLIENT_ID,
                                       "redirect_uri": CALLBACK, "scope": "api wizardry"},
                         allow_redirects=False)
    assert parse_qs(urlsplit(bad_scope.headers["Location"]).query)["error"] == ["invalid_scope"]


@pytest.mark.parametrize("change, expected", [
    ({"client_secret": "wrong"}, ("invalid_client", "invalid client credentials")),
    ({"client_id": "other"}, ("invalid_client_id", "client identifier invalid")),
    ({"redirect_uri": "https://inbox.example/other"}, ("redirect_uri_mismatch",
                                                       "redirect_uri must match configuration")),
    ({"code_verifier": "x" * 50}, ("invalid_request", "invalid code verifier")),
    ({"code_verifier": None}, ("invalid_grant", "invalid code verifier")),
    ({"code": "aPrxNotACode"}, ("invalid_grant", "expired authorization code")),
    ({"grant_type": "password"}, ("unsupported_grant_type", "grant type not supported")),
])
def test_token_errors(emulator, http, change, expected):
    code, verifier = _code(emulator, http)
    form = {"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID,
            "client_secret": SECRET, "redirect_uri": CALLBACK, "code_verifier": verifier, **change}
    body = _token(emulator, http, 400, **{k: v for k, v in form.items() if v is not None})
    assert (body["error"], body["error_description"]) == expected
    assert set(body) == {"error", "error_description"}


def test_codes_are_single_use_and_expire(start_emulator, http):
    emulator = start_emulator(code_seconds=1)
    code, verifier = _code(emulator, http)
    form = dict(grant_type="authorization_code", code=code, client_id=CLIENT_ID,
                client_secret=SECRET, redirect_uri=CALLBACK, code_verifier=verifier)
    _token(emulator, http, **form)
    assert _token(emulator, http, 400, **form)["error_description"] == "expired authorization code"
    code, verifier = _code(emulator, http)
    time.sleep(1.1)
    late = _token(emulator, http, 400, **dict(form, code=code, code_verifier=verifier))
    assert late == {"error": "invalid_grant", "error_description": "expired authorization code"}


def test_client_secret_basic_is_accepted(emulator, http):
    response = http.post(f"{emulator.url}/services/oauth2/token", auth=(CLIENT_ID, SECRET),
                         data={"grant_type": "client_credentials"})
    assert response.status_code == 200


def test_revoke_refresh_token_revokes_its_sessions(emulator, http):
    grant = _code_grant(emulator, http)
    headers = {"Authorization": f"Bearer {grant['access_token']}"}
    assert http.post(f"{emulator.url}/services/oauth2/revoke",
                     data={"token": grant["refresh_token"]}).status_code == 200
    assert http.get(f"{emulator.url}/services/data/v59.0/limits/", headers=headers).status_code == 401
    again = _token(emulator, http, 400, grant_type="refresh_token", refresh_token=grant["refresh_token"],
                   client_id=CLIENT_ID, client_secret=SECRET)
    assert again == {"error": "invalid_grant", "error_description": "expired access/refresh token"}
    unknown = http.post(f"{emulator.url}/services/oauth2/revoke", data={"token": "nope"})
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_token"


def test_revoke_every_refresh_token_fault(emulator, http):
    grant = _code_grant(emulator, http)
    emulator.app.emulator.revoke_refresh_tokens()
    body = _token(emulator, http, 400, grant_type="refresh_token", refresh_token=grant["refresh_token"],
                  client_id=CLIENT_ID, client_secret=SECRET)
    assert body["error_description"] == "expired access/refresh token"


def test_userinfo_and_identity(emulator, http):
    grant = _code_grant(emulator, http)
    headers = {"Authorization": f"Bearer {grant['access_token']}"}
    info = http.get(f"{emulator.url}/services/oauth2/userinfo", headers=headers).json()
    assert info["sub"] == grant["id"] and info["organization_id"] == "00D5g00000EmuLaEAJ"
    assert info["urls"]["rest"] == f"{emulator.url}/services/data/v{{version}}/"
    identity = http.get(grant["id"], headers=headers).json()
    assert identity["username"] == "admin@emulator.test"
    assert http.get(f"{emulator.url}/services/oauth2/userinfo").status_code == 403


# ---- helpers -----------------------------------------------------------------------------

def _token(emulator, http, status=200, **form):
    form.setdefault("client_id", CLIENT_ID)
    form.setdefault("client_secret", SECRET)
    response = http.post(f"{emulator.url}/services/oauth2/token", data=form)
    assert response.status_code == status, response.text
    return response.json()


def _code(emulator, http, scope=None):
    verifier = generate_token(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": CALLBACK,
              "state": "xyz", "code_challenge": challenge, "code_challenge_method": "S256"}
    if scope:
        params["scope"] = scope
    url = requests.Request("GET", f"{emulator.url}/services/oauth2/authorize", params=params).prepare().url
    location = approve(http, url).headers["Location"]
    return parse_qs(urlsplit(location).query)["code"][0], verifier


def _code_grant(emulator, http):
    code, verifier = _code(emulator, http)
    return _token(emulator, http, grant_type="authorization_code", code=code,
                  redirect_uri=CALLBACK, code_verifier=verifier)
