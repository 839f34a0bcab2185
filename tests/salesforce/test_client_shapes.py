"""The product's client against the shapes real orgs give (tests/emulator/test_shapes.py names
their sources): it keeps working, and a URI Salesforce refuses as too long is not resent."""

from __future__ import annotations

import pytest

from tests.salesforce.conftest import connect_with_oauth
from webapp.db import get_engine
from webapp.integrations import salesforce_connection as connection
from webapp.salesforce.client import RetryPolicy
from webapp.salesforce.errors import RequestFailed


@pytest.fixture
def client(admin_client, emulator):
    connect_with_oauth(admin_client, emulator)
    app = admin_client.app
    return connection.client_for(get_engine(app), app.extensions["vault"], 1,
                                 retry=RetryPolicy(attempts=4, base_delay=0, max_delay=0), sleep=lambda s: None)


def test_upsert_update_with_location_and_collections_shapes(client, emulator):
    assert client.upsert("Opportunity", "Inbox_Deal_Id__c", "deal-9",
                         {"Name": "D", "StageName": "Prospecting", "CloseDate": "2026-12-31"})[1] is True
    sf_id, created = client.upsert("Opportunity", "Inbox_Deal_Id__c", "deal-9", {"Name": "D2"})
    assert created is False and sf_id.startswith("006")
    results = client.collection("PATCH", [
        {"attributes": {"type": "Opportunity"}, "id": sf_id, "Name": "D3"},
        {"attributes": {"type": "Opportunity"}, "id": "006000000000000AAA", "Name": "Gone"}])
    assert results[0]["success"] and "id" not in results[1]
    upserts = client.collection("PATCH", [{"attributes": {"type": "Opportunity"}, "Inbox_Deal_Id__c": "deal-10"}],
                                external_id="Inbox_Deal_Id__c", sobject="Opportunity")
    assert upserts[0]["success"] is False and upserts[0]["created"] is False


def test_a_query_too_long_for_salesforce_fails_once_with_a_clear_error(client, emulator):
    soql = "SELECT Id FROM Contact WHERE Email IN (" + ",".join(f"'someone{i}@example.com'" for i in range(600)) + ")"
    before = emulator.app.emulator.api_used
    with pytest.raises(RequestFailed) as info:
        list(client.query(soql))
    assert info.value.status == 414 and info.value.code == "URI_TOO_LONG"
    assert "must stay under 16,384 bytes" in str(info.value)
    assert client.calls == 1 and emulator.app.emulator.api_used == before  # not resent, not counted
