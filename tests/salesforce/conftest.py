"""The app wired to a real emulator over HTTP on a loopback port."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests

from webapp.emulator import EmulatorOptions
from webapp.emulator.server import serve_in_thread

PUBLIC = "http://inbox.test"
CALLBACK = f"{PUBLIC}/oauth/salesforce/callback"
SMALL_ORG = dict(accounts=20, contacts=80, opportunities=40)


@pytest.fixture
def start_emulator():
    running = []

    def start(**overrides):
        options = EmulatorOptions(redirect_uris=[CALLBACK], **{**SMALL_ORG, **overrides})
        emulator = serve_in_thread(options)
        running.append(emulator)
        return emulator

    yield start
    for emulator in running:
        emulator.stop()


@pytest.fixture
def emulator(start_emulator):
    return start_emulator()


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PUBLIC_BASE_URL": PUBLIC}


def setup_form(emulator, **overrides) -> dict:
    data = {
        "mode": "oauth",
        "environment": "custom",
        "url": emulator.url,
        "client_id": emulator.app.emulator.options.client_id,
        "client_secret": emulator.app.emulator.options.client_secret,
        "session_minutes": "120",
    }
    data.update(overrides)
    return data


def approve(authorize_url: str, *, action="allow", password="emulator") -> str:
    """Log in on the emulator's page and press Allow (or Deny); returns where it redirects."""
    with requests.Session() as browser:
        page = browser.get(authorize_url, timeout=10)
        assert page.status_code == 200, page.text[:300]
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
        import html

        fields = {k: html.unescape(v) for k, v in fields.items()}
        fields.update(username="admin@emulator.test", password=password, action=action)
        answer = browser.post(urlsplit(authorize_url)._replace(query="").geturl(), data=fields, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:300]
    return answer.headers["Location"]


def connect_with_oauth(client, emulator, **form) -> requests.Response:
    """Save the OAuth setup, click Connect, approve at the emulator, follow the callback."""
    assert client.post("/settings/integrations/salesforce", setup_form(emulator, **form)).status_code == 302
    start = client.post("/settings/integrations/salesforce/connect")
    assert start.status_code == 302, start.get_data(as_text=True)[:300]
    back = approve(start.headers["Location"])
    assert back.startswith(CALLBACK)
    return client.get(back[len(PUBLIC):])
