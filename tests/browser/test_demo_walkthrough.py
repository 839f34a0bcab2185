"""The README's run command as a newcomer meets it: the demo server, Connect, approve on the
emulator's page, and Salesforce cards on the demo conversations."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from webapp.demo.seed import ADMIN

ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def demo_server(tmp_path):
    port, emulator_port = _port(), _port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CACHE_URL", "SECRET_KEY", "ENCRYPTION_KEYS"))}
    env.update(APP_ENV="development", INSTANCE_PATH=str(tmp_path), PUBLIC_BASE_URL=base, HOME=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "demo", "--port", str(port), "--emulator-port", str(emulator_port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.3)
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
        yield base, f"http://127.0.0.1:{emulator_port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=20)  # also closes the output pipe


def test_connect_the_demo_and_see_cards(browser, demo_server, artifacts):
    base, emulator = demo_server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/login")
    page.fill("#email", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/inbox$"))

    # The demo left the setup filled in: one click on Connect, then the emulator's page.
    page.goto(f"{base}/settings/integrations/salesforce")
    expect(page.locator("#client_id")).to_have_value("emulator-client-id")
    page.click("#salesforce-connect")
    page.wait_for_url(re.compile(re.escape(emulator) + r"/services/oauth2/authorize.*"))
    page.fill("#username", "admin@emulator.test")
    page.fill("#password", "emulator")
    page.click("button[value=allow]")
    page.wait_for_url(f"{base}/settings/integrations/salesforce")
    expect(page.locator("#salesforce-status")).to_have_attribute("data-state", "connected")

    # Most demo contacts are people of the emulator's org: their conversations get a card.
    page.goto(f"{base}/inbox?status=all")
    links = [a.get_attribute("href") for a in page.locator(".conversation-row").all()[:8]]
    shown = 0
    for href in links:
        page.goto(base + href)
        card = page.locator("#card-salesforce")
        expect(card).to_have_attribute("data-state", re.compile(r"shown|no-match"))
        if card.get_attribute("data-state") == "shown":
            shown += 1
            if shown == 1:
                page.screenshot(path=str(artifacts / "demo-card.png"))
    assert shown >= 3, f"only {shown} of {len(links)} demo conversations showed a Salesforce card"
    page.close()
