"""`flask demo` opens connected to the emulator and synced, through the OAuth flow and a
real sync run; Disconnect and Connect still work from there."""

from __future__ import annotations

import csv
import html
import io
import re
from urllib.parse import urlsplit

import requests

from tests.demo_server import demo_server
from tests.salesforce.conftest import approve
from tests.served import signed_in
from webapp.demo.seed import ADMIN, _lead_people
from webapp.emulator.org import DEMO_ORG, generate_org


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def _card(s: requests.Session, base: str, email: str) -> requests.Response:
    return s.get(f"{base}/integrations/salesforce/card", params={"email": email}, timeout=30)


def test_the_demo_opens_connected_and_synced(tmp_path):
    with demo_server(tmp_path) as (base, emulator, output):
        s = signed_in(base, ADMIN[0], ADMIN[1])

        # The first conversation of the inbox has its Salesforce card.
        inbox = s.get(f"{base}/inbox", timeout=30).text
        first = re.search(r'class="conversation-row" href="([^"]+)"', inbox).group(1)
        conversation = s.get(base + first, timeout=30).text
        card_url = html.unescape(re.search(r'id="card-salesforce" hx-get="([^"]+)"', conversation).group(1))
        card = s.get(base + card_url, timeout=30)
        assert card.headers["X-Salesforce-Card"] == "shown", card.text[:500]

        # An open lead of the emulator's org who writes in gets a Lead card.
        lead = _lead_people(generate_org(**DEMO_ORG))[0]
        lead_card = _card(s, base, lead.email)
        assert lead_card.headers["X-Salesforce-Card"] == "shown" and "badge-lead" in lead_card.text

        # Analytics by account: the sync filled the mirror and the facts followed it.
        exported = s.get(f"{base}/analytics/export.csv", params={"group": "account"}, timeout=30).text
        accounts = [row[0] for row in list(csv.reader(io.StringIO(exported)))[1:] if row and row[0]]
        assert len(accounts) >= 5, exported[:500]

        # The settings page: connected, the first run done and labelled as what it was.
        settings = s.get(f"{base}/settings/integrations/salesforce", timeout=30).text
        assert 'data-state="connected"' in settings
        assert "First sync after connecting" in settings

        # Disconnect, then Connect again through the emulator's login page.
        gone = s.post(f"{base}/settings/integrations/salesforce/disconnect",
                      data={"csrf_token": _csrf(settings)}, allow_redirects=False, timeout=30)
        assert gone.status_code == 302
        page = s.get(f"{base}/settings/integrations/salesforce", timeout=30).text
        assert 'data-state="configured"' in page
        assert _card(s, base, lead.email).headers["X-Salesforce-Card"] == "not-connected"
        start = s.post(f"{base}/settings/integrations/salesforce/connect", data={"csrf_token": _csrf(page)},
                       allow_redirects=False, timeout=30)
        assert start.headers["Location"].startswith(emulator)
        back = approve(start.headers["Location"])
        s.get(base + urlsplit(back)._replace(scheme="", netloc="").geturl(), timeout=30)
        assert 'data-state="connected"' in s.get(f"{base}/settings/integrations/salesforce", timeout=30).text
        assert _card(s, base, lead.email).headers["X-Salesforce-Card"] == "shown"
        s.close()
    assert "Connected as admin@emulator.test; first sync run #1: succeeded." in output[0]
