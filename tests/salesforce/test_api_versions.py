"""The REST API version: negotiated with the org at connect, pinned by the admin if wanted,
shown in the status, and the emulator able to stop at an older release."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import update
from sqlmodel import Session, select

from tests.salesforce.conftest import connect_with_oauth, setup_form
from webapp.db import get_engine
from webapp.integrations import salesforce_connection as connection
from webapp.models import SalesforceConnection
from webapp.salesforce import versions


def _conn(app) -> SalesforceConnection:
    with Session(get_engine(app)) as s:
        return s.exec(select(SalesforceConnection)).one()


def _client(app):
    return connection.client_for(get_engine(app), app.extensions["vault"], 1)


def test_the_newest_tested_version_the_org_offers_is_used_and_shown(admin_client, emulator):
    connect_with_oauth(admin_client, emulator)
    assert _conn(admin_client.app).api_version == versions.NEWEST_TESTED == "66.0"
    assert _client(admin_client.app).count("SELECT COUNT() FROM Account") > 0
    page = admin_client.get("/settings/integrations/salesforce?tab=connection").get_data(as_text=True)
    assert "v66.0" in page and "the newest the org offers" in page


def test_an_org_on_an_older_release_gets_its_own_newest_version(admin_client, start_emulator):
    emulator = start_emulator(max_version="63.0")
    offered = [v["version"] for v in requests.get(f"{emulator.url}/services/data/", timeout=10).json()]
    assert offered[-1] == "63.0" and "64.0" not in offered
    # The emulator refuses what it does not serve, as an org does.
    assert requests.get(f"{emulator.url}/services/data/v66.0/", timeout=10).status_code == 404
    connect_with_oauth(admin_client, emulator)
    assert _conn(admin_client.app).api_version == "63.0"
    client = _client(admin_client.app)
    assert client.api_version == "63.0" and client.count("SELECT COUNT() FROM Contact") > 0


def test_the_emulator_can_be_moved_to_another_release_over_its_admin_api(emulator):
    answer = requests.post(f"{emulator.url}/_emulator/versions", json={"max": "60.0"}, timeout=10)
    assert answer.status_code == 200 and answer.json()[-1] == "60.0"
    assert requests.post(f"{emulator.url}/_emulator/versions", json={"max": "99.0"}, timeout=10).status_code == 400
    assert requests.post(f"{emulator.url}/_emulator/versions", json={"max": "x"}, timeout=10).status_code == 400
    requests.post(f"{emulator.url}/_emulator/reset", timeout=10)
    assert requests.get(f"{emulator.url}/services/data/", timeout=10).json()[-1]["version"] == "66.0"


def test_a_pinned_version_is_used_and_one_the_org_lacks_is_refused(admin_client, start_emulator, db):
    emulator = start_emulator(max_version="64.0")
    form = setup_form(emulator, mode="client-credentials", api_version="62.0")
    assert admin_client.post("/settings/integrations/salesforce", form).status_code == 302
    conn = _conn(admin_client.app)
    assert (conn.api_version, conn.api_version_pinned, conn.state) == ("62.0", "62.0", "connected")
    assert "(pinned in the setup)" in admin_client.get("/settings/integrations/salesforce?tab=connection").get_data(as_text=True)

    refused = admin_client.post("/settings/integrations/salesforce", setup_form(emulator, mode="client-credentials", api_version="65.0"))
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "does not offer API version 65.0" in body
    assert _conn(admin_client.app).api_version == "62.0"  # nothing saved

    for bad in ("sixty", "40.0", "62.5"):
        answer = admin_client.post("/settings/integrations/salesforce", setup_form(emulator, mode="client-credentials", api_version=bad))
        assert answer.status_code == 422 and "Enter an API version such as 66.0" in answer.get_data(as_text=True)


def test_an_org_older_than_the_app_supports_is_refused_in_plain_words(admin_client, start_emulator):
    emulator = start_emulator(max_version="48.0")
    answer = admin_client.post("/settings/integrations/salesforce", setup_form(emulator, mode="client-credentials"))
    assert answer.status_code == 422
    assert "newest API version is 48.0; this app needs 52.0 or newer" in answer.get_data(as_text=True)


def test_a_connection_made_before_versions_were_negotiated_finds_its_version(admin_client, start_emulator):
    emulator = start_emulator(max_version="65.0")
    connect_with_oauth(admin_client, emulator)
    with Session(get_engine(admin_client.app)) as s:
        s.execute(update(SalesforceConnection).values(api_version=None))
        s.commit()
    assert _client(admin_client.app).api_version == "65.0"
    assert _conn(admin_client.app).api_version == "65.0"


@pytest.mark.parametrize("offered, pinned, chosen", [
    (["60.0", "65.0", "66.0", "67.0"], None, "66.0"),  # newer than tested: the newest tested
    (["52.0", "53.0"], None, "53.0"),
    (["60.0", "64.0"], "60.0", "60.0"),
    (["60.0", "64.0"], "v64.0", "64.0"),
])
def test_choose(offered, pinned, chosen):
    assert versions.choose(offered, pinned) == chosen


def test_a_sync_that_cannot_learn_the_version_fails_with_the_reason(admin_client, emulator):
    from tests.salesforce.sync.conftest import sync

    connect_with_oauth(admin_client, emulator)
    with Session(get_engine(admin_client.app)) as s:
        s.execute(update(SalesforceConnection).values(api_version=None))
        s.commit()
    emulator.app.emulator.set_faults(unavailable=3)
    _, outcome = sync(admin_client.app)
    assert outcome.status == "failed" and "did not list its API versions" in outcome.reason


def test_the_sync_waits_as_long_as_salesforce_lets_a_query_run(admin_client, emulator, monkeypatch):
    from tests.salesforce.sync.conftest import sync
    from webapp.sync import execution

    connect_with_oauth(admin_client, emulator)
    made = []

    def recording_client_for(*args, **kwargs):
        made.append(connection.client_for(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(execution, "client_for", recording_client_for)
    _, outcome = sync(admin_client.app)
    assert outcome.status == "succeeded"
    # Salesforce fails a query after two minutes; the sync waits for that answer.
    assert made[0].timeout == execution.SYNC_TIMEOUT and made[0].timeout[1] > 120
