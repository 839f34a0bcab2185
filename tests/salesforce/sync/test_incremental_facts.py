"""Analytics facts follow a sync incrementally: after Salesforce changes accounts, contacts and
opportunities (renames, new websites, re-parented and re-addressed contacts, deletes, stage
moves, an opportunity moved between accounts), the facts the run leaves equal a full rebuild's,
column for column, and the run touched only the facts those records reach."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import requests

from tests.analytics.tables import as_rebuilt
from tests.salesforce.conftest import connect_with_oauth
from tests.salesforce.sync.conftest import sync
from webapp.analytics.facts import rebuild
from webapp.db import get_engine, session_scope
from webapp.models import Conversation, Message, WorkspaceAddress

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _api(emulator, method, path, **kw):
    token = requests.post(f"{emulator.url}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "emulator-client-id",
        "client_secret": "emulator-client-secret"}, timeout=10).json()
    response = requests.request(method, f"{emulator.url}/services/data/v62.0/{path}",
                                headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10, **kw)
    assert response.status_code < 300, response.text
    return response


def _mail(app, addresses: list[str]) -> None:
    """A short thread with each address: question, answer, follow-up."""
    with session_scope(get_engine(app)) as s:
        s.add(WorkspaceAddress(workspace_id=1, value="acme.test"))
        for i, email in enumerate(addresses):
            conv = Conversation(workspace_id=1, subject=f"Question {i}")
            s.add(conv)
            s.flush()
            at = T0 + timedelta(days=i)
            for n, (direction, minutes) in enumerate((("in", 0), ("out", 90), ("in", 600))):
                inbound = direction == "in"
                s.add(Message(workspace_id=1, conversation_id=conv.id, direction=direction,
                              from_address=email if inbound else "agent@acme.test",
                              to_addresses="support@acme.test" if inbound else email,
                              message_id=f"<m{i}.{n}@example.org>", sent_at=at + timedelta(minutes=minutes)))


def test_facts_follow_a_sync_of_changed_records_as_a_rebuild_would(start_emulator, admin_client, caplog):
    emulator = start_emulator(accounts=20, contacts=80, opportunities=60)
    connect_with_oauth(admin_client, emulator)
    app = admin_client.app
    engine = get_engine(app)
    store = emulator.app.emulator.store
    live = lambda name: [r for r in store.tables[name].records if not r["IsDeleted"]]  # noqa: E731
    contacts = [r for r in live("Contact") if r["Email"]]
    accounts = [r for r in live("Account") if r.get("Website")]
    domains = [a["Website"].split("www.", 1)[-1] for a in accounts]
    # Contacts' own addresses, strangers at account domains (found by website), a free-mail one.
    addresses = [r["Email"].lower() for r in contacts[:40]]
    addresses += [f"someone{i}@{d}" for i, d in enumerate(domains[:8])]
    addresses += ["moved.here@newsite.example", "nobody@gmail.com"]
    _mail(app, addresses)
    rebuild(engine, 1)  # as after a mail import, before Salesforce was connected

    caplog.set_level(logging.INFO, logger="webapp.analytics.facts")
    sync(app)
    before, rebuilt = as_rebuilt(engine)
    assert before == rebuilt
    assert sum(1 for f in before[0] if f["account_sf_id"]) > 40  # account_sf_id: most mail found its account

    by_account: dict[str, list[dict]] = {}
    for c in contacts[:40]:
        if c["AccountId"]:
            by_account.setdefault(c["AccountId"], []).append(c)
    mailed = [a for a in accounts if a["Id"] in by_account]
    renamed, rewebbed, removed, target = mailed[0], mailed[1], mailed[2], mailed[3]
    _api(emulator, "PATCH", f"sobjects/Account/{renamed['Id']}", json={"Name": "Renamed Ltd", "Type": "Partner"})
    _api(emulator, "PATCH", f"sobjects/Account/{rewebbed['Id']}", json={"Website": "https://www.newsite.example"})
    _api(emulator, "DELETE", f"sobjects/Account/{removed['Id']}")
    moved = next(c for c in contacts[:40] if c["AccountId"] not in {renamed["Id"], rewebbed["Id"], removed["Id"], target["Id"]})
    _api(emulator, "PATCH", f"sobjects/Contact/{moved['Id']}", json={"AccountId": target["Id"]})
    readdressed = next(c for c in contacts[:40] if c["Id"] != moved["Id"] and c["AccountId"])
    _api(emulator, "PATCH", f"sobjects/Contact/{readdressed['Id']}", json={"Email": "nobody@gmail.com"})
    gone = next(c for c in contacts[:40] if c["Id"] not in {moved["Id"], readdressed["Id"]} and c["AccountId"])
    _api(emulator, "DELETE", f"sobjects/Contact/{gone['Id']}")
    opportunities = [o for o in live("Opportunity") if o["AccountId"] in by_account and not o["IsClosed"]]
    _api(emulator, "PATCH", f"sobjects/Opportunity/{opportunities[0]['Id']}", json={"StageName": "Negotiation/Review"})
    switched = next(o for o in opportunities[1:] if o["AccountId"] != target["Id"])
    _api(emulator, "PATCH", f"sobjects/Opportunity/{switched['Id']}", json={"AccountId": target["Id"]})
    _api(emulator, "POST", "sobjects/Opportunity/", json={
        "Name": "Fresh deal", "StageName": "Id. Decision Makers", "CloseDate": "2026-01-15", "AccountId": renamed["Id"]})

    caplog.clear()
    sync(app)
    refreshed = [r for r in caplog.records if r.name == "webapp.analytics.facts"]
    assert [r.getMessage() for r in refreshed] == ["analytics facts refreshed"]  # not rebuilt
    assert 0 < refreshed[0].rows < len(addresses) * 3  # only the facts the changes reach

    after, rebuilt = as_rebuilt(engine)
    assert after == rebuilt
    assert after != before
    names = {f["account_name"] for f in after[0]}
    assert "Renamed Ltd" in names and removed["Name"] not in names
