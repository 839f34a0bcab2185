"""simple-salesforce, a client written against real orgs, talking to the emulator over TLS."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession, SalesforceMalformedRequest, SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest, SalesforceResourceNotFound)


@pytest.fixture
def emulator(start_emulator):
    return start_emulator(contacts=4500, accounts=200, opportunities=300)


@pytest.fixture
def sf(emulator, http, token_for):
    token = token_for(emulator.url)
    return Salesforce(instance_url=emulator.url, session_id=token, session=http)


def test_query_all_follows_every_page(sf, emulator):
    live = [c for c in emulator.app.emulator.store.tables["Contact"].records if not c["IsDeleted"]]
    result = sf.query_all("SELECT Id, Email, Account.Name, SystemModstamp FROM Contact "
                          "WHERE SystemModstamp >= 2000-01-01T00:00:00Z ORDER BY SystemModstamp")
    assert result["totalSize"] == len(live) > 4000
    assert len(result["records"]) == len(live)
    assert len({r["Id"] for r in result["records"]}) == len(live)
    stamps = [r["SystemModstamp"] for r in result["records"]]
    assert stamps == sorted(stamps) and stamps[0].endswith(".000+0000")
    assert emulator.app.emulator.calls["query_more"] == 2
    assert any(r["Account"] is None for r in result["records"])
    with_deleted = sf.query_all("SELECT Id, IsDeleted FROM Contact", include_deleted=True)
    assert with_deleted["totalSize"] == len(emulator.app.emulator.store.tables["Contact"].records)
    assert any(r["IsDeleted"] for r in with_deleted["records"])
    assert emulator.app.emulator.calls["query_all"] == 1


def test_upsert_by_external_id_creates_then_updates(sf):
    assert sf.Opportunity.upsert("Inbox_Deal_Id__c/deal-42", {
        "Name": "Inbox deal", "StageName": "Prospecting", "CloseDate": "2026-12-31",
        "Amount": 12000}) == 201
    assert sf.Opportunity.upsert("Inbox_Deal_Id__c/deal-42", {"StageName": "Closed Won"}) == 200
    record = sf.Opportunity.get_by_custom_id("Inbox_Deal_Id__c", "deal-42")
    assert (record["StageName"], record["IsClosed"], record["IsWon"], record["Amount"]) == (
        "Closed Won", True, True, 12000)
    history = sf.query(f"SELECT StageName FROM OpportunityHistory WHERE OpportunityId = '{record['Id']}' "
                       "ORDER BY CreatedDate")
    assert [r["StageName"] for r in history["records"]] == ["Prospecting", "Closed Won"]


def test_upsert_with_several_matches_is_300(sf):
    sf.Contact.create({"LastName": "One", "External_Id__c": "dup-a"})
    email = "twin@example.com"
    sf.Contact.create({"LastName": "A", "Email": email})
    sf.Contact.create({"LastName": "B", "Email": email})
    with pytest.raises(SalesforceMoreThanOneRecord) as info:
        sf.Contact.upsert(f"Email/{email}", {"Title": "Twin"})
    assert len(info.value.content) == 2 and all("/sobjects/Contact/003" in u for u in info.value.content)


def test_crud_and_describe(sf):
    created = sf.Contact.create({"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"})
    assert created["success"] and created["id"].startswith("003") and len(created["id"]) == 18
    assert sf.Contact.update(created["id"], {"Title": "Countess"}) == 204
    fetched = sf.Contact.get(created["id"])
    assert (fetched["Name"], fetched["Title"], fetched["AccountId"]) == ("Ada Lovelace", "Countess", None)
    assert fetched["LastModifiedDate"].endswith(".000+0000")
    assert sf.Contact.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(created["id"])
    describe = sf.Opportunity.describe()
    fields = {f["name"]: f for f in describe["fields"]}
    assert describe["keyPrefix"] == "006"
    assert [p["value"] for p in fields["StageName"]["picklistValues"]][-2:] == ["Closed Won", "Closed Lost"]
    assert fields["Inbox_Deal_Id__c"]["externalId"] and fields["Inbox_Deal_Id__c"]["unique"]
    assert fields["IsClosed"]["updateable"] is False and "CurrencyIsoCode" not in fields
    assert fields["AccountId"]["referenceTo"] == ["Account"] and fields["AccountId"]["relationshipName"] == "Account"
    assert {s["name"] for s in sf.describe()["sobjects"]} >= {"Account", "Contact", "OpportunityStage"}


def test_limits_and_api_usage(sf):
    limits = sf.restful("limits/")
    assert limits["DailyApiRequests"]["Max"] == 15000
    assert limits["DailyApiRequests"]["Remaining"] == 15000 - 1
    sf.query("SELECT COUNT() FROM Account")
    assert sf.api_usage["api-usage"].used == 2 and sf.api_usage["api-usage"].total == 15000


def test_errors_map_to_the_clients_exceptions(sf, emulator):
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query("SELECT Id FRM Contact")
    assert info.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful("sobjects/Nope/describe")
    emulator.app.emulator.set_faults(fail_after=0)
    with pytest.raises(SalesforceRefusedRequest) as info:
        sf.query("SELECT Id FROM Contact")
    assert info.value.content == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    emulator.app.emulator.set_faults(fail_after=None)
    emulator.app.emulator.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as info:
        sf.query("SELECT Id FROM Contact")
    assert info.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_email_logged_with_relations_and_the_org_without_enhanced_email(start_emulator, http, token_for):
    emulator = start_emulator()
    sf = Salesforce(instance_url=emulator.url, session_id=token_for(emulator.url), session=http)
    assert sf.Lead.describe()["keyPrefix"] == "00Q"
    lead = sf.query("SELECT Id, Email FROM Lead WHERE IsConverted = false AND Email != null LIMIT 1")["records"][0]
    email = sf.EmailMessage.create({"Subject": "Hello", "TextBody": "Hi", "Status": "3", "Incoming": False,
                                    "FromAddress": "maya@northwind.example", "ToAddress": lead["Email"],
                                    "MessageDate": "2025-03-04T10:00:00Z"})
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [
        {"attributes": {"type": "EmailMessageRelation"}, "EmailMessageId": email["id"],
         "RelationId": lead["Id"], "RelationType": "ToAddress"}]})
    assert results[0]["success"], results
    task = sf.query(f"SELECT Who.Type, TaskSubtype FROM Task WHERE WhoId = '{lead['Id']}'")["records"][0]
    assert (task["Who"]["Type"], task["TaskSubtype"]) == ("Lead", "Email")
    with pytest.raises(SalesforceMalformedRequest) as bad_who:
        sf.Task.create({"Subject": "x", "WhoId": sf.query("SELECT Id FROM Account LIMIT 1")["records"][0]["Id"]})
    assert bad_who.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    emulator.emulator.set_enhanced_email(False)
    with pytest.raises(SalesforceResourceNotFound):
        sf.EmailMessage.describe()
    with pytest.raises(SalesforceMalformedRequest) as query:
        sf.query("SELECT Id FROM EmailMessage")
    assert query.value.content[0]["errorCode"] == "INVALID_TYPE"
