"""Connecting a workspace: the three ways in, status, disconnect, and every way it can go wrong."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from tests.salesforce.conftest import CALLBACK, PUBLIC, approve, connect_with_oauth, setup_form
from webapp.integrations import salesforce_connection as connection
from webapp.models import OAuthState, SalesforceConnection
from webapp.salesforce import auth


def _conn(db) -> SalesforceConnection | None:
    with db() as s:
        return s.exec(select(SalesforceConnection)).first()


def _flash_of(client) -> str:
    return client.get("/settings/integrations/salesforce?tab=connection").get_data(as_text=True)


def test_oauth_connect_end_to_end(admin_client, db, emulator):
    landed = connect_with_oauth(admin_client, emulator)
    assert landed.status_code == 302 and landed.headers["Location"] == "/settings/integrations/salesforce"
    conn = _conn(db)
    assert conn.state == "connected" and conn.mode == "oauth"
    assert conn.instance_url == emulator.url
    assert conn.sf_username == "admin@emulator.test" and conn.sf_org_id and conn.sf_org_name
    assert conn.connected_by_id is not None and conn.api_limit == 15000
    page = _flash_of(admin_client)
    assert "Connected to Salesforce as admin@emulator.test" in page
    assert 'data-state="connected"' in page and emulator.url in page and "API usage" in page
    # PKCE was used: the emulator only issues the token when the verifier matches.
    assert emulator.app.emulator.calls["token"] == 1


def test_secrets_are_encrypted_at_rest_and_never_rendered(admin_client, db, emulator):
    connect_with_oauth(admin_client, emulator)
    conn = _conn(db)
    secret = emulator.app.emulator.options.client_secret
    for column in (conn.client_secret_enc, conn.access_token_enc, conn.refresh_token_enc):
        assert column and secret not in column and not column.startswith("00D")
    vault = admin_client.app.extensions["vault"]
    access, refresh = vault.decrypt(conn.access_token_enc), vault.decrypt(conn.refresh_token_enc)
    page = _flash_of(admin_client)
    for plaintext in (secret, access, refresh):
        assert plaintext not in page


def test_user_denies_access(admin_client, db, emulator):
    admin_client.post("/settings/integrations/salesforce", setup_form(emulator))
    start = admin_client.post("/settings/integrations/salesforce/connect")
    back = approve(start.headers["Location"], action="deny")
    assert parse_qs(urlsplit(back).query)["error"] == ["access_denied"]
    admin_client.get(back[len(PUBLIC):])
    assert "Access was not granted in Salesforce" in _flash_of(admin_client)
    assert _conn(db).state == "configured"


def test_wrong_secret_is_reported_at_the_code_exchange(admin_client, db, emulator):
    landed = connect_with_oauth(admin_client, emulator, client_secret="not-the-secret")
    assert landed.status_code == 302
    page = _flash_of(admin_client)
    assert "Salesforce was not connected" in page and "Check the consumer secret" in page
    assert _conn(db).state == "configured" and _conn(db).access_token_enc is None


def _started(admin_client, emulator) -> str:
    admin_client.post("/settings/integrations/salesforce", setup_form(emulator))
    start = admin_client.post("/settings/integrations/salesforce/connect")
    return approve(start.headers["Location"])


def test_replayed_callback_is_refused(admin_client, db, emulator):
    back = _started(admin_client, emulator)
    admin_client.get(back[len(PUBLIC):])
    assert _conn(db).state == "connected"
    admin_client.post("/settings/integrations/salesforce/disconnect")
    admin_client.get(back[len(PUBLIC):])
    assert "already used" in _flash_of(admin_client)
    assert _conn(db).state == "configured"


def test_forged_state_is_refused(admin_client, db, emulator):
    back = _started(admin_client, emulator)
    code = parse_qs(urlsplit(back).query)["code"][0]
    admin_client.get(f"/oauth/salesforce/callback?code={code}&state=forged.state.value")
    assert "could not be verified" in _flash_of(admin_client)
    assert _conn(db).state == "configured"


def test_expired_state_is_refused(admin_client, db, emulator, monkeypatch):
    back = _started(admin_client, emulator)
    monkeypatch.setattr(connection, "STATE_MAX_AGE", -1)
    admin_client.get(back[len(PUBLIC):])
    assert "expired" in _flash_of(admin_client)
    assert _conn(db).state == "configured"


def test_state_of_another_admin_is_refused(admin_client, db, emulator, make_user, app):
    back = _started(admin_client, emulator)
    make_user("other-admin@acme.test", role="admin")
    other = type(admin_client)(app)
    other.login("other-admin@acme.test", "correct-horse-battery")
    other.get(back[len(PUBLIC):])
    assert "started by someone else" in _flash_of(other)
    assert _conn(db).state == "configured"


def test_redirect_uri_mismatch_shows_salesforces_error(admin_client, emulator):
    emulator.app.emulator.options.redirect_uris[:] = ["http://somewhere.else/callback"]
    admin_client.post("/settings/integrations/salesforce", setup_form(emulator))
    start = admin_client.post("/settings/integrations/salesforce/connect")
    import requests

    page = requests.get(start.headers["Location"], timeout=10)
    assert "redirect_uri_mismatch" in page.text


def test_reused_authorization_code_is_refused(emulator):
    app = auth.AppCredentials(emulator.url, "emulator-client-id", "emulator-client-secret")
    request = auth.authorization_request(app, CALLBACK, "s1")
    code = parse_qs(urlsplit(approve(request.url)).query)["code"][0]
    token = auth.exchange_code(app, code=code, code_verifier=request.code_verifier, redirect_uri=CALLBACK)
    assert token.refresh_token and token.instance_url == emulator.url
    with pytest.raises(Exception, match="invalid_grant"):
        auth.exchange_code(app, code=code, code_verifier=request.code_verifier, redirect_uri=CALLBACK)


def test_pkce_verifier_must_match(emulator):
    app = auth.AppCredentials(emulator.url, "emulator-client-id", "emulator-client-secret")
    request = auth.authorization_request(app, CALLBACK, "s2")
    code = parse_qs(urlsplit(approve(request.url)).query)["code"][0]
    with pytest.raises(Exception, match="invalid"):
        auth.exchange_code(app, code=code, code_verifier="x" * 64, redirect_uri=CALLBACK)


def _refresh_token_from(emulator) -> str:
    app = auth.AppCredentials(emulator.url, "emulator-client-id", "emulator-client-secret")
    request = auth.authorization_request(app, CALLBACK, "s3")
    code = parse_qs(urlsplit(approve(request.url)).query)["code"][0]
    return auth.exchange_code(app, code=code, code_verifier=request.code_verifier, redirect_uri=CALLBACK).refresh_token


def test_pasted_refresh_token_is_proven_at_once(admin_client, db, emulator):
    refresh_token = _refresh_token_from(emulator)
    form = setup_form(emulator, mode="refresh-token", refresh_token=refresh_token, instance_url=emulator.url)
    assert admin_client.post("/settings/integrations/salesforce", form).status_code == 302
    conn = _conn(db)
    assert conn.state == "connected" and conn.sf_username == "admin@emulator.test"
    assert admin_client.app.extensions["vault"].decrypt(conn.refresh_token_enc) == refresh_token


def test_bad_pasted_refresh_token_saves_nothing(admin_client, db, emulator):
    form = setup_form(emulator, mode="refresh-token", refresh_token="5Aep-not-a-token", instance_url=emulator.url)
    response = admin_client.post("/settings/integrations/salesforce", form)
    assert response.status_code == 422
    assert "did not accept these values" in response.get_data(as_text=True)
    assert _conn(db) is None


def test_client_credentials_connect(admin_client, db, emulator):
    form = setup_form(emulator, mode="client-credentials")
    assert admin_client.post("/settings/integrations/salesforce", form).status_code == 302
    conn = _conn(db)
    assert conn.state == "connected" and conn.refresh_token_enc is None and conn.sf_org_id


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"mode": "magic"}, "mode", "Choose how to connect"),
        ({"environment": "mydomain", "url": "http://acme.my.salesforce.com"}, "url", "https://"),
        ({"environment": "mydomain", "url": "https://evil.example.com"}, "url", "My Domain"),
        ({"environment": "custom", "url": "ftp://x"}, "url", "http:// or https://"),
        ({"environment": "custom", "url": "http://[::1"}, "url", "http:// or https://"),
        ({"environment": "custom", "url": "http://x.test:99999"}, "url", "http:// or https://"),
        ({"client_id": ""}, "client_id", "consumer key"),
        ({"client_secret": ""}, "client_secret", "consumer secret"),
        ({"session_minutes": "5"}, "session_minutes", "between 15 and 1440"),
    ],
)
def test_bad_setup_is_refused_with_a_message(admin_client, db, emulator, overrides, field, message):
    response = admin_client.post("/settings/integrations/salesforce", setup_form(emulator, **overrides))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _conn(db) is None


def test_disconnect_revokes_at_salesforce_and_forgets_here(admin_client, db, emulator):
    connect_with_oauth(admin_client, emulator)
    vault = admin_client.app.extensions["vault"]
    old_refresh = vault.decrypt(_conn(db).refresh_token_enc)
    assert admin_client.post("/settings/integrations/salesforce/disconnect").status_code == 302
    assert emulator.app.emulator.calls["revoke"] == 1
    conn = _conn(db)
    assert conn.state == "configured" and conn.access_token_enc is None and conn.refresh_token_enc is None
    assert conn.client_id == "emulator-client-id"  # the setup stays for a later Connect
    app = auth.AppCredentials(emulator.url, "emulator-client-id", "emulator-client-secret")
    with pytest.raises(Exception, match="invalid_grant"):
        auth.refresh(app, old_refresh)
    assert "Disconnected from Salesforce" in _flash_of(admin_client)


def test_disconnect_when_salesforce_is_down_still_forgets_here(admin_client, db, emulator):
    connect_with_oauth(admin_client, emulator)
    emulator.stop()
    admin_client.post("/settings/integrations/salesforce/disconnect")
    assert _conn(db).access_token_enc is None
    assert "could not confirm the revocation" in _flash_of(admin_client)


def test_members_can_neither_see_nor_change_the_connection(member_client, db, emulator):
    for method, url in (
        ("get", "/settings/integrations/salesforce"),
        ("post", "/settings/integrations/salesforce"),
        ("post", "/settings/integrations/salesforce/connect"),
        ("post", "/settings/integrations/salesforce/disconnect"),
        ("get", "/oauth/salesforce/callback?code=x&state=y"),
    ):
        response = getattr(member_client, method)(url, **({"data": setup_form(emulator)} if method == "post" else {}))
        assert response.status_code == 403, url
    assert _conn(db) is None


def test_oauth_state_rows_do_not_pile_up(admin_client, db, emulator):
    admin_client.post("/settings/integrations/salesforce", setup_form(emulator))
    for _ in range(3):
        admin_client.post("/settings/integrations/salesforce/connect")
    with db() as s:
        assert len(s.exec(select(OAuthState)).all()) == 3
    back = approve(admin_client.post("/settings/integrations/salesforce/connect").headers["Location"])
    admin_client.get(back[len(PUBLIC):])
    with db() as s:
        assert len(s.exec(select(OAuthState)).all()) == 3  # the used one is gone


def test_the_saved_secret_never_goes_to_another_org(admin_client, db, emulator):
    connect_with_oauth(admin_client, emulator)
    calls = emulator.app.emulator.calls["token"]
    elsewhere = setup_form(emulator, mode="client-credentials", url="http://127.0.0.1:9", client_secret="")
    response = admin_client.post("/settings/integrations/salesforce", elsewhere)
    assert response.status_code == 422
    assert "Enter the consumer secret again" in response.get_data(as_text=True)
    other_app = setup_form(emulator, client_id="another-app", client_secret="")
    assert admin_client.post("/settings/integrations/salesforce", other_app).status_code == 422
    conn = _conn(db)
    assert conn.state == "connected" and conn.login_url == emulator.url
    assert emulator.app.emulator.calls["token"] == calls
    # Same org and app: leaving the secret blank keeps it.
    assert admin_client.post("/settings/integrations/salesforce", setup_form(emulator, client_secret="", session_minutes="90")).status_code == 302
    assert _conn(db).session_minutes == 90 and _conn(db).state == "connected"
