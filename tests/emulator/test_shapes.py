"""Answers whose shape real orgs give and the emulator once did not, over real HTTP. Each test
names the recorded answer or the documentation it follows."""

from __future__ import annotations

import pytest
import requests

V = "/services/data/v66.0"


@pytest.fixture
def org(start_emulator, http, token_for):
    emulator = start_emulator()
    http.headers["Authorization"] = f"Bearer {token_for(emulator.url)}"
    return emulator


def test_upsert_that_updates_sends_location(org, http):
    # Recorded: NangoHQ/integration-templates, integrations/salesforce/tests/
    # update-record-by-external-id.test.json (May 2026): an upsert that updates answers 200
    # {"id", "success", "errors", "created": false} with `location: /services/data/v59.0/sobjects/Account/<id>`.
    url = f"{org.url}{V}/sobjects/Opportunity/Inbox_Deal_Id__c/deal-7"
    created = http.patch(url, json={"Name": "D", "StageName": "Prospecting", "CloseDate": "2026-12-31"})
    assert created.status_code == 201
    updated = http.patch(url, json={"Name": "D2"})
    assert updated.status_code == 200 and updated.json()["created"] is False
    assert updated.headers["Location"] == f"{V}/sobjects/Opportunity/{created.json()['id']}"


def test_failed_collections_upsert_item_says_created_false(org, http):
    # Recorded: NangoHQ/integration-templates, integrations/salesforce/tests/
    # upsert-sobject-collection.test.json (May 2026): a failed item is
    # {"success": false, "errors": [...], "created": false}.
    response = http.patch(f"{org.url}{V}/composite/sobjects/Opportunity/Inbox_Deal_Id__c", json={"records": [
        {"attributes": {"type": "Opportunity"}, "Inbox_Deal_Id__c": "x-1", "Name": "No stage"},
        {"attributes": {"type": "Opportunity"}, "Inbox_Deal_Id__c": "x-2", "Name": "Fine", "StageName": "Prospecting",
         "CloseDate": "2026-12-31"}]})
    failed, created = response.json()
    assert failed == {"success": False, "errors": [
        {"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [StageName, CloseDate]",
         "fields": ["StageName", "CloseDate"]}], "created": False}
    assert created["success"] is True and created["created"] is True


def test_item_for_an_unresolvable_id_omits_id(org, http):
    # REST API Developer Guide, "Update Records Using sObject Collections" and "Delete Records
    # Using sObject Collections": an item whose id names no record has no "id".
    contact = next(r for r in org.app.emulator.store.tables["Contact"].records if not r["IsDeleted"])
    response = http.patch(f"{org.url}{V}/composite/sobjects", json={"records": [
        {"attributes": {"type": "Contact"}, "id": contact["Id"], "Title": "Known"},
        {"attributes": {"type": "Contact"}, "id": "003000000000000AAA", "Title": "Unknown"},
        {"attributes": {"type": "Contact"}, "id": "001xx000003DGb2999", "Title": "Wrong type"}]})
    known, unknown, wrong = response.json()
    assert known == {"id": contact["Id"], "success": True, "errors": []}
    assert "id" not in unknown and unknown["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert "id" not in wrong and wrong["errors"][0] == {
        "statusCode": "MALFORMED_ID", "message": "Contact ID: id value of incorrect type: 001xx000003DGb2999",
        "fields": ["Id"]}
    deleted = http.delete(f"{org.url}{V}/composite/sobjects", params={"ids": "003000000000000AAA,zzz"}).json()
    assert all("id" not in item and not item["success"] for item in deleted)


def test_retrieve_by_post_takes_up_to_2000_ids(org, http):
    # REST API Developer Guide, "Get Records With a Request Body Using sObject Collections":
    # POST /composite/sobjects/{type} with {"ids": [...], "fields": [...]}, up to 2,000 ids.
    contacts = [r for r in org.app.emulator.store.tables["Contact"].records if not r["IsDeleted"]]
    ids = [r["Id"] for r in contacts] * 5
    ids = ids[:2000]
    response = http.post(f"{org.url}{V}/composite/sobjects/Contact", json={"ids": ids, "fields": ["Id", "Email"]})
    assert response.status_code == 200
    records = response.json()
    assert len(records) == 2000 and records[0] == {
        "attributes": {"type": "Contact", "url": f"{V}/sobjects/Contact/{ids[0]}"}, "Id": ids[0],
        "Email": contacts[0]["Email"]}
    missing = http.post(f"{org.url}{V}/composite/sobjects/Contact",
                        json={"ids": ["003000000000000AAA"], "fields": ["Id"]}).json()
    assert missing == [None]
    too_many = http.post(f"{org.url}{V}/composite/sobjects/Contact", json={"ids": ids + ids[:1], "fields": ["Id"]})
    assert too_many.status_code == 400 and too_many.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    bad = http.post(f"{org.url}{V}/composite/sobjects/Contact", json={"ids": "003"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    # The GET form still stops at 200 ids, which fit a URL.
    assert http.get(f"{org.url}{V}/composite/sobjects/Contact",
                    params={"ids": ",".join(ids[:201]), "fields": "Id"}).status_code == 400


def test_uri_over_16384_bytes_is_414(org, http):
    # Salesforce Help 000386264: "If the URI itself exceeds this limit [16,384 bytes], the
    # request returns a 414 URI Too Long error."
    def query(pad: int) -> requests.PreparedRequest:
        soql = "SELECT Id FROM Contact WHERE Email = '" + "a" * pad + "'"
        return requests.Request("GET", f"{org.url}{V}/query", params={"q": soql}, headers=dict(http.headers)).prepare()

    base = len(query(0).path_url.encode())
    at_limit = query(16_384 - base)
    assert len(at_limit.path_url.encode()) == 16_384
    assert http.send(at_limit).status_code == 200
    assert http.send(query(16_385 - base)).status_code == 414
    assert org.app.emulator.api_used == 1  # refused before it counts as an API call


def test_retrieve_by_post_is_a_read_for_after_commit_faults(org, http):
    # The after-commit faults model writes Salesforce made; a retrieve by POST writes nothing.
    contact = next(r for r in org.app.emulator.store.tables["Contact"].records if not r["IsDeleted"])
    org.app.emulator.set_faults(after_commit_503=1)
    read = http.post(f"{org.url}{V}/composite/sobjects/Contact", json={"ids": [contact["Id"]], "fields": ["Id"]})
    assert read.status_code == 200 and org.app.emulator.faults.after_commit_503 == 1
    write = http.post(f"{org.url}{V}/composite/sobjects", json={"records": [
        {"attributes": {"type": "Contact"}, "LastName": "Made"}]})
    assert write.status_code == 503 and org.app.emulator.faults.after_commit_503 == 0
