"""Fixtures for driving the Salesforce emulator over real sockets (TLS with a test CA)."""

from __future__ import annotations

import ssl

import pytest
import requests
import trustme

from webapp.emulator import EmulatorOptions, create_emulator_app
from webapp.emulator.server import serve_in_thread

CALLBACK = "https://inbox.example/oauth/salesforce/callback"
SMALL = dict(accounts=30, contacts=450, opportunities=60)


@pytest.fixture(scope="session")
def ca():
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_path(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def server_context(ca):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def start_emulator(server_context):
    """Start an https emulator with the given options; stopped after the test."""
    running = []

    def start(**overrides):
        options = EmulatorOptions(redirect_uris=[CALLBACK], **{**SMALL, **overrides})
        emulator = serve_in_thread(options, ssl_context=server_context)
        running.append(emulator)
        return emulator

    yield start
    for emulator in running:
        emulator.stop()


@pytest.fixture
def http(ca_path):
    """A requests session trusting the test CA."""
    with requests.Session() as session:
        session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace `verify`
        session.verify = ca_path
        yield session


@pytest.fixture
def token_for(http):
    """Get a bearer token for an emulator URL through the client credentials flow."""
    return lambda url: client_credentials_token(http, url)


def client_credentials_token(session: requests.Session, url: str) -> str:
    response = session.post(f"{url}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "emulator-client-id",
        "client_secret": "emulator-client-secret"})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def app():
    """An in-process emulator app (no socket) on a small org."""
    return create_emulator_app(EmulatorOptions(redirect_uris=[CALLBACK], **SMALL))


@pytest.fixture
def api(app):
    """A Flask test client with a bearer session for the in-process app."""
    client = app.test_client()
    token = client.post("/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "emulator-client-id",
        "client_secret": "emulator-client-secret"}).json["access_token"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client
