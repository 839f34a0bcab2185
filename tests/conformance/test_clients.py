"""Two Salesforce clients nobody here wrote, simple-salesforce (Python) and jsforce (Node), over
every path the product uses, against the emulator over TLS: versions, limits, query and
queryAll with paging, get, create, update, upsert by external id, delete, sObject
Collections (create, update, upsert, delete, retrieve by GET and by POST), describe, and the
errors the product relies on. A change to the emulator that a real client would notice fails
here.

jsforce is installed into tests/conformance/node from its package-lock with `npm ci` (.ci/run
does it before the suite; the test does it when it is missing). Without Node or the npm
registry the jsforce half is skipped locally, with the reason, and fails in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

V = "66.0"
NODE_DIR = Path(__file__).parent / "node"
IN_CI = os.environ.get("CI") == "true"


def _live(org, sobject):
    return [r for r in org.emulator.store.tables[sobject].records if not r["IsDeleted"]]


def _unique_email(org):
    counts: dict[str, int] = {}
    for r in _live(org, "Contact"):
        if r.get("Email"):
            counts[r["Email"].lower()] = counts.get(r["Email"].lower(), 0) + 1
    return next(r for r in _live(org, "Contact") if r.get("Email") and counts[r["Email"].lower()] == 1)


@pytest.fixture
def sf(org, token, http):
    return Salesforce(instance_url=org.url, session_id=token, session=http, version=V)


# -- simple-salesforce ------------------------------------------------------------------------

def test_simple_salesforce_versions_limits_and_describe(sf, org):
    versions = sf._call_salesforce("GET", f"{org.url}/services/data/").json()
    assert versions[-1] == {"label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0"}
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 15000 and limits["DailyApiRequests"]["Remaining"] < 15000
    described = sf.Opportunity.describe()
    fields = {f["name"]: f for f in described["fields"]}
    assert described["keyPrefix"] == "006" and fields["Inbox_Deal_Id__c"]["externalId"]
    assert {"Closed Won", "Closed Lost"} <= {p["value"] for p in fields["StageName"]["picklistValues"]}
    assert {"Account", "Contact", "Lead", "Opportunity"} <= {s["name"] for s in sf.describe()["sobjects"]}


def test_simple_salesforce_query_pages_and_query_all(sf, org):
    live = len(_live(org, "Contact"))
    first = sf.query("SELECT Id, Email, Account.Name FROM Contact ORDER BY Id")
    assert first["totalSize"] == live and len(first["records"]) == 2000 and first["done"] is False
    rest = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert rest["done"] is True and len(rest["records"]) == live - 2000
    assert first["records"][0]["attributes"]["type"] == "Contact"
    everything = sf.query_all("SELECT Id FROM Contact")
    assert len({r["Id"] for r in everything["records"]}) == live
    with_deleted = sf.query_all("SELECT Id, IsDeleted FROM Contact", include_deleted=True)
    assert with_deleted["totalSize"] == len(org.emulator.store.tables["Contact"].records) > live
    with pytest.raises(SalesforceMalformedRequest) as mixed:
        sf.query("SELECT Id FROM Contact WHERE Email = 'a' AND LastName = 'b' OR Title = 'c'")
    assert mixed.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert sf.query("SELECT COUNT() FROM Opportunity WHERE IsWon = null")["totalSize"] == len(
        [o for o in _live(org, "Opportunity") if not o["IsWon"]])


def test_simple_salesforce_records(sf, org):
    created = sf.Contact.create({"FirstName": "Simple", "LastName": "Salesforce", "Email": "simple@conformance.test"})
    assert created["success"] and created["id"].startswith("003")
    assert sf.Contact.update(created["id"], {"Title": "Client"}) == 204
    assert sf.Contact.get(created["id"])["Title"] == "Client"
    assert sf.Contact.get_by_custom_id("Email", "simple@conformance.test")["Id"] == created["id"]
    fields = {"Name": "Simple deal", "StageName": "Prospecting", "CloseDate": "2026-12-31"}
    made = sf.Opportunity.upsert("Inbox_Deal_Id__c/simple-1", fields, raw_response=True)
    assert made.status_code == 201 and made.json()["created"] is True
    again = sf.Opportunity.upsert("Inbox_Deal_Id__c/simple-1", {"StageName": "Closed Won"}, raw_response=True)
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.headers["Location"] == f"/services/data/v{V}/sobjects/Opportunity/{made.json()['id']}"
    assert sf.Contact.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(created["id"])


def test_simple_salesforce_collections(sf, org):
    created = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Contact"}, "LastName": "Coll A"},
        {"attributes": {"type": "Contact"}, "FirstName": "No last name"}]})
    assert created[0]["success"] and created[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    new_id = created[0]["id"]
    updated = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Contact"}, "id": new_id, "Title": "Coll"},
        {"attributes": {"type": "Contact"}, "id": "003000000000000AAA", "Title": "Nobody"}]})
    assert updated[0] == {"id": new_id, "success": True, "errors": []} and "id" not in updated[1]
    upserted = sf.restful("composite/sobjects/Opportunity/Inbox_Deal_Id__c", method="PATCH", json={"records": [
        {"attributes": {"type": "Opportunity"}, "Inbox_Deal_Id__c": "coll-1", "Name": "C", "StageName": "Prospecting",
         "CloseDate": "2026-12-31"},
        {"attributes": {"type": "Opportunity"}, "Inbox_Deal_Id__c": "coll-2", "Name": "No stage"}]})
    assert upserted[0]["created"] is True and upserted[1] == {**upserted[1], "success": False, "created": False}
    by_get = sf.restful("composite/sobjects/Contact", params={"ids": new_id, "fields": "Id,Title"})
    assert by_get[0]["Title"] == "Coll"
    ids = [r["Id"] for r in _live(org, "Contact")][:1500]
    by_post = sf.restful("composite/sobjects/Contact", method="POST", json={"ids": ids, "fields": ["Id"]})
    assert [r["Id"] for r in by_post] == ids
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{new_id},003000000000000AAA"})
    assert deleted[0] == {"id": new_id, "success": True, "errors": []} and not deleted[1]["success"]


def test_simple_salesforce_duplicate_rules(sf, org):
    existing = _unique_email(org)
    org.emulator.set_duplicate_rules({"Contact": "alert"})
    try:
        with pytest.raises(SalesforceMalformedRequest) as refused:
            sf.Contact.create({"LastName": "Dup", "Email": existing["Email"]})
        [error] = refused.value.content
        assert error["errorCode"] == "DUPLICATES_DETECTED" and error["duplicateResult"]["allowSave"] is True
        assert error["duplicateResult"]["matchResults"][0]["matchRecords"][0]["record"]["Id"] == existing["Id"]
        saved = sf.Contact.create({"LastName": "Dup", "Email": existing["Email"]},
                                  headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"})
        assert saved["success"]
    finally:
        org.emulator.set_duplicate_rules({"Contact": None})


# -- jsforce ----------------------------------------------------------------------------------

def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"jsforce must run in CI: {reason}")
    pytest.skip(reason)


def _jsforce_installed() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _unavailable("Node.js and npm are not installed")
    marker = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            _unavailable(f"npm ci could not install jsforce (is the npm registry reachable?): {done.stderr[-500:]}")
    return node


def test_jsforce_over_every_path_the_product_uses(org, token, ca_path):
    node = _jsforce_installed()
    duplicate = _unique_email(org)
    contacts_before = len(_live(org, "Contact"))
    org.emulator.set_duplicate_rules({"Contact": "block"})
    env = {"PATH": os.environ.get("PATH", ""), "NODE_EXTRA_CA_CERTS": ca_path, "SF_INSTANCE_URL": org.url,
           "SF_ACCESS_TOKEN": token, "SF_API_VERSION": V, "SF_DUPLICATE_EMAIL": duplicate["Email"]}
    try:
        done = subprocess.run([node, "conformance.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True,
                              timeout=60)
    finally:
        org.emulator.set_duplicate_rules({"Contact": None})
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen["versions"][0] == "31.0" and seen["versions"][-1] == V
    assert seen["dailyApi"]["Max"] == 15000
    assert seen["firstPage"]["size"] == 200 and seen["firstPage"]["done"] is False
    assert f"/services/data/v{V}/query/" in seen["firstPage"]["next"]  # jsforce makes it absolute
    assert seen["pagedIds"] == seen["uniqueIds"] == seen["firstPage"]["totalSize"]
    assert seen["autoFetched"] == seen["pagedIds"]
    assert seen["queryAll"]["deleted"] > 0 and seen["queryAll"]["totalSize"] > seen["pagedIds"]
    assert seen["created"]["success"] is True and seen["created"]["id"].startswith("003")
    assert seen["got"] == {"Id": seen["created"]["id"], "Name": "Js Force", "type": "Contact",
                           "url": f"/services/data/v{V}/sobjects/Contact/{seen['created']['id']}"}
    assert seen["updated"]["success"] is True and seen["afterUpdate"] == "Client"
    assert seen["upsertCreated"]["success"] is True and seen["upsertCreated"]["created"] is True
    assert seen["upsertUpdated"]["success"] is True and seen["upsertUpdated"]["created"] is False
    assert seen["deleted"]["success"] is True
    assert seen["getDeleted"]["errorCode"] == "NOT_FOUND"
    assert [r["success"] for r in seen["batchCreate"]] == [True, True, False]
    assert seen["batchCreate"][2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert all(r["success"] for r in seen["batchUpdate"]) and len(seen["batchUpdate"]) == 2
    upserts = seen["batchUpsert"]
    assert [r["success"] for r in upserts] == [True, True, False]
    assert [r.get("created") for r in upserts] == [False, True, False]
    assert seen["retrieveGet"] == ["Batched", "Batched"]
    assert seen["retrievePost"] == ["Batch A", "Batch B", None]
    assert [r["success"] for r in seen["batchDelete"]] == [True, True, False]
    assert "id" not in seen["batchDelete"][2]
    assert seen["describeGlobal"] and {"Account", "Contact", "Opportunity", "Lead"} == set(seen["describeGlobal"])
    assert seen["describe"]["keyPrefix"] == "006" and seen["describe"]["externalId"] is True
    assert seen["describe"]["stageValues"][-2:] == ["Closed Won", "Closed Lost"]
    assert seen["badQuery"]["errorCode"] == "MALFORMED_QUERY"
    assert seen["duplicate"]["errorCode"] == "DUPLICATES_DETECTED"
    assert len(_live(org, "Contact")) == contacts_before  # what jsforce created, it deleted
