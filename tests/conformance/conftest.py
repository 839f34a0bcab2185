"""One TLS emulator per module for the conformance tests, and a session token for it."""

from __future__ import annotations

import ssl

import pytest
import requests
import trustme

from webapp.emulator import EmulatorOptions
from webapp.emulator.server import serve_in_thread

# More contacts than one 2,000-record page, so every client has to follow nextRecordsUrl.
ORG = dict(accounts=60, contacts=2300, opportunities=120)


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_path(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def org(ca):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    running = serve_in_thread(EmulatorOptions(**ORG), ssl_context=context)
    yield running
    running.stop()


@pytest.fixture
def http(ca_path):
    with requests.Session() as session:
        session.trust_env = False
        session.verify = ca_path
        yield session


@pytest.fixture
def token(org, http):
    response = http.post(f"{org.url}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "emulator-client-id",
        "client_secret": "emulator-client-secret"})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]
