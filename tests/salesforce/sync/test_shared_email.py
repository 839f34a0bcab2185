"""Two Salesforce contacts with one email address: the inbox contact shows the one the card
shows (the latest LastModifiedDate, then the lowest Id), whichever arrived first, in one run
or over several, and after a sync killed between them (SQLite and Postgres alike)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.salesforce.conftest import connect_with_oauth
from tests.salesforce.sync.conftest import sync
from webapp.db import get_engine
from webapp.integrations import salesforce_card
from webapp.integrations.salesforce_connection import client_for

CHILD = Path(__file__).with_name("child_sync.py")
ROOT = Path(__file__).resolve().parents[3]
EMAIL = "pat.shared@example.org"


def _create(store, **fields) -> dict:
    return store.create(store.tables["Contact"], {"Email": EMAIL, **fields})


def _older(store, record, *, hours=1) -> None:
    """Last edited earlier than it was created here (SystemModstamp unchanged)."""
    store.tables["Contact"].change(record, {"LastModifiedDate": record["LastModifiedDate"] - timedelta(hours=hours)})


def _accounts(store) -> tuple[dict, dict]:
    live = [r for r in store.tables["Account"].records if not r["IsDeleted"]]
    return live[0], live[1]


def _older_contact(store):
    first, _ = _accounts(store)
    record = _create(store, FirstName="Pat", LastName="Older", Title="Buyer", Phone="+1 555 0100", AccountId=first["Id"])
    _older(store, record)
    return record


def _newer_contact(store):
    _, second = _accounts(store)
    return _create(store, FirstName="Pat", LastName="Newer", Title="Head of Purchasing", AccountId=second["Id"])  # no phone


def _inbox(engine, email=EMAIL):
    with engine.connect() as conn:
        return conn.execute(text("SELECT name, phone, title, company, salesforce_id, salesforce_matches FROM contact "
                                 "WHERE email_normalized = :e"), {"e": email}).one()


def _card_pick(app, email=EMAIL) -> salesforce_card.CardData:
    client = client_for(get_engine(app), app.extensions["vault"], 1)
    return salesforce_card.fetch(client, email, multi_currency=False, org_currency="USD")


def _assert_takes_the_card_pick(app, store, email=EMAIL, matches=2):
    card = _card_pick(app, email)
    pick = store.get("Contact", card.contact_id)
    assert card.other_matches == matches - 1
    assert tuple(_inbox(get_engine(app), email)) == (pick["Name"], pick["Phone"], pick["Title"], card.account_name, None, matches)
    # The card's fallback (the mirror) picks the same record.
    assert salesforce_card.from_mirror(get_engine(app), 1, email).contact_id == card.contact_id
    return pick


def _in_one_run(app, store):
    older, newer = _older_contact(store), _newer_contact(store)
    sync(app)
    return older, newer


def _older_first(app, store):
    older = _older_contact(store)
    sync(app)
    newer = _newer_contact(store)
    sync(app)
    return older, newer


def _newer_first(app, store):
    newer = _newer_contact(store)
    sync(app)
    older = _older_contact(store)  # e.g. made visible to the integration user only now
    sync(app)
    return older, newer


@pytest.mark.parametrize("history", [_in_one_run, _older_first, _newer_first], ids=["one-run", "older-first", "newer-first"])
def test_the_inbox_contact_takes_the_card_pick_whatever_the_order(connected, emulator, history, admin_client):
    store = emulator.app.emulator.store
    older, newer = history(connected, store)
    pick = _assert_takes_the_card_pick(connected, store)
    assert pick["Id"] == newer["Id"]  # the latest LastModifiedDate, though it has no phone
    # The contact page says the address is shared, lists both, and which one it shows.
    contact_id = get_engine(connected).connect().execute(
        text("SELECT id FROM contact WHERE email_normalized = :e"), {"e": EMAIL}).scalar()
    page = admin_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert "2 Salesforce contacts share this email address" in page
    assert older["Id"] in page and newer["Id"] in page
    assert page.index(newer["Id"]) < page.index("(shown here)") < page.index(older["Id"])


def test_a_tie_on_last_modified_goes_to_the_lowest_id(connected, emulator):
    store = emulator.app.emulator.store
    older = _older_contact(store)
    sync(connected)
    newer = _newer_contact(store)
    store.tables["Contact"].change(newer, {"LastModifiedDate": older["LastModifiedDate"]})
    sync(connected)
    pick = _assert_takes_the_card_pick(connected, store)
    assert pick["Id"] == min(older["Id"], newer["Id"])


def test_a_sync_killed_between_the_two_then_resumed_takes_the_card_pick(start_emulator, admin_client, app_config):
    emulator = start_emulator(accounts=40, contacts=450, opportunities=40)
    connect_with_oauth(admin_client, emulator)
    app = admin_client.app
    engine = get_engine(app)
    store = emulator.app.emulator.store
    live = [r for r in store.tables["Contact"].records if not r["IsDeleted"] and r["Email"] and r["AccountId"]]
    counts: dict[str, int] = {}
    for r in store.tables["Contact"].records:
        if r["Email"]:
            counts[r["Email"].lower()] = counts.get(r["Email"].lower(), 0) + 1
    # The oldest change is on the first page of contacts; one made now is on the last.
    first = min((r for r in live if counts[r["Email"].lower()] == 1), key=lambda r: (r["SystemModstamp"], r["Id"]))
    email = first["Email"].lower()
    newer = store.create(store.tables["Contact"], {"Email": first["Email"], "LastName": "Newcomer", "Title": "Owner"})

    config = json.dumps({**app_config, "SECRET_KEY": app.config["SECRET_KEY"]})
    child = subprocess.run([sys.executable, str(CHILD), config, "after-contact-page"], cwd=ROOT, capture_output=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    # Killed between them: the inbox has only seen the first.
    assert tuple(_inbox(engine, email))[4:] == (first["Id"], 1)

    _, outcome = sync(app)
    assert outcome.status == "succeeded"
    pick = _assert_takes_the_card_pick(app, store, email)
    assert pick["Id"] == newer["Id"]
