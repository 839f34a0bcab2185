"""Duplicate rules over real HTTP: off by default, on from the flags or the admin API, and the
refusal in Salesforce's documented shape.

The shape is the REST rendering of the SOAP API's DuplicateError / DuplicateResult /
MatchResult / MatchRecord (API Developer Guide, "DuplicateResult", "MatchResult",
"MatchRecord"): single-record REST answers 400 with one error carrying `duplicateResult`;
sObject Collections give the failed item an error with `statusCode` and the same
`duplicateResult` ("DuplicateError": duplicateResult, fields, message, statusCode). The
Duplicate Rule Header (REST API Developer Guide, "Duplicate Rule Header", API 52.0+):
`allowSave=true` saves past a rule that only alerts.
"""

from __future__ import annotations

import pytest

from webapp.emulator.cli import salesforce_emulator

V = "/services/data/v66.0"
DUPLICATE_RESULT_KEYS = {"allowSave", "duplicateRule", "duplicateRuleEntityType", "errorMessage", "matchResults"}


@pytest.fixture
def org(start_emulator, http, token_for):
    emulator = start_emulator()
    token = token_for(emulator.url)
    http.headers["Authorization"] = f"Bearer {token}"
    return emulator


def live(emulator, sobject):
    """Live records whose Email (Name for accounts) no other live record has."""
    field = "Name" if sobject == "Account" else "Email"
    rows = [r for r in emulator.app.emulator.store.tables[sobject].records if not r["IsDeleted"] and r.get(field)]
    seen: dict[str, int] = {}
    for r in rows:
        seen[r[field].lower()] = seen.get(r[field].lower(), 0) + 1
    return [r for r in rows if seen[r[field].lower()] == 1]


def rules(http, org, body):
    response = http.post(f"{org.url}/_emulator/duplicate-rules", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_off_by_default(org, http):
    existing = live(org, "Contact")[0]
    response = http.post(f"{org.url}{V}/sobjects/Contact/", json={"LastName": "Twin", "Email": existing["Email"]})
    assert response.status_code == 201
    assert http.get(f"{org.url}/_emulator/state").json()["duplicate_rules"] == {}


def test_blocking_rule_on_contact_email_answers_the_documented_shape(org, http):
    assert rules(http, org, {"Contact": "block"}) == {"Contact": "block"}
    existing = live(org, "Contact")[0]
    count = len(org.app.emulator.store.tables["Contact"].records)
    response = http.post(f"{org.url}{V}/sobjects/Contact/",
                         json={"LastName": "Twin", "Email": existing["Email"].upper()},
                         headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"})
    assert response.status_code == 400
    [error] = response.json()
    assert (error["errorCode"], error["message"], error["fields"]) == (
        "DUPLICATES_DETECTED", "Use one of these records?", [])
    result = error["duplicateResult"]
    assert set(result) == DUPLICATE_RESULT_KEYS
    assert (result["allowSave"], result["duplicateRule"], result["duplicateRuleEntityType"]) == (
        False, "Standard_Contact_Duplicate_Rule", "Contact")
    [match] = result["matchResults"]
    assert (match["entityType"], match["rule"], match["size"], match["success"], match["errors"]) == (
        "Contact", "Standard_Contact_Match_Rule_v1_1", 1, True, [])
    [record] = match["matchRecords"]
    assert record["matchConfidence"] == 100.0 and record["fieldDiffs"] == []
    assert record["record"] == {"attributes": {"type": "Contact", "url": f"{V}/sobjects/Contact/{existing['Id']}"},
                                "Id": existing["Id"]}
    assert len(org.app.emulator.store.tables["Contact"].records) == count  # nothing saved


def test_alerting_rule_saves_only_with_allow_save(org, http):
    rules(http, org, {"Lead": "alert", "Account": "alert"})
    lead = live(org, "Lead")[0]
    refused = http.post(f"{org.url}{V}/sobjects/Lead/", json={"LastName": "L", "Company": "C", "Email": lead["Email"]})
    assert refused.status_code == 400
    result = refused.json()[0]["duplicateResult"]
    assert result["allowSave"] is True and result["duplicateRuleEntityType"] == "Lead"
    assert lead["Id"] in [m["record"]["Id"] for m in result["matchResults"][0]["matchRecords"]]
    header = {"Sforce-Duplicate-Rule-Header": "allowSave=true; includeRecordDetails=false"}
    saved = http.post(f"{org.url}{V}/sobjects/Lead/", json={"LastName": "L", "Company": "C", "Email": lead["Email"]},
                      headers=header)
    assert saved.status_code == 201
    account = live(org, "Account")[0]
    assert http.post(f"{org.url}{V}/sobjects/Account/", json={"Name": account["Name"]}).status_code == 400
    assert http.post(f"{org.url}{V}/sobjects/Account/", json={"Name": account["Name"]}, headers=header).status_code == 201
    # The header only exists from API 52.0: older versions are refused whatever they send.
    old = http.post(f"{org.url}/services/data/v51.0/sobjects/Account/", json={"Name": account["Name"]}, headers=header)
    assert old.status_code == 400 and old.json()[0]["errorCode"] == "DUPLICATES_DETECTED"


def test_rules_run_on_update_and_upsert(org, http):
    rules(http, org, {"Contact": "block"})
    first, second = live(org, "Contact")[:2]
    moved = http.patch(f"{org.url}{V}/sobjects/Contact/{second['Id']}", json={"Email": first["Email"]})
    assert moved.status_code == 400 and moved.json()[0]["errorCode"] == "DUPLICATES_DETECTED"
    assert http.patch(f"{org.url}{V}/sobjects/Contact/{second['Id']}", json={"Title": "Own email"}).status_code == 204
    upsert = http.patch(f"{org.url}{V}/sobjects/Contact/External_Id__c/dup-1",
                        json={"LastName": "U", "Email": first["Email"]})
    assert upsert.status_code == 400 and upsert.json()[0]["errorCode"] == "DUPLICATES_DETECTED"


def test_collections_refuse_per_item(org, http):
    rules(http, org, {"Contact": "block"})
    existing = live(org, "Contact")[0]
    body = {"records": [
        {"attributes": {"type": "Contact"}, "LastName": "Dup", "Email": existing["Email"]},
        {"attributes": {"type": "Contact"}, "LastName": "New", "Email": "brand.new@example.org"}]}
    response = http.post(f"{org.url}{V}/composite/sobjects", json=body)
    assert response.status_code == 200
    failed, created = response.json()
    assert created["success"] is True and created["id"].startswith("003")
    assert "id" not in failed and failed["success"] is False
    [error] = failed["errors"]
    assert (error["statusCode"], error["message"], error["fields"]) == (
        "DUPLICATES_DETECTED", "Use one of these records?", [])
    assert error["duplicateResult"]["matchResults"][0]["matchRecords"][0]["record"]["Id"] == existing["Id"]
    # allOrNone: the duplicate rolls the other back.
    body["records"][1]["Email"] = "another.new@example.org"
    rolled = http.post(f"{org.url}{V}/composite/sobjects", json={**body, "allOrNone": True}).json()
    assert [r["errors"][0]["statusCode"] for r in rolled] == ["DUPLICATES_DETECTED", "ALL_OR_NONE_OPERATION_ROLLED_BACK"]
    upsert = http.patch(f"{org.url}{V}/composite/sobjects/Contact/External_Id__c", json={"records": [
        {"attributes": {"type": "Contact"}, "External_Id__c": "c-dup", "LastName": "D", "Email": existing["Email"]}]})
    [item] = upsert.json()
    assert item["created"] is False and item["errors"][0]["statusCode"] == "DUPLICATES_DETECTED"


def test_admin_api_validates_and_reset_restores(org, http):
    assert http.post(f"{org.url}/_emulator/duplicate-rules", json={"Opportunity": "block"}).status_code == 400
    assert http.post(f"{org.url}/_emulator/duplicate-rules", json={"Contact": "warn"}).status_code == 400
    assert http.post(f"{org.url}/_emulator/duplicate-rules", data="nope").status_code == 400
    assert rules(http, org, {"Contact": "block", "Account": "alert"}) == {"Contact": "block", "Account": "alert"}
    assert rules(http, org, {"Contact": None}) == {"Account": "alert"}
    assert http.post(f"{org.url}/_emulator/reset").status_code == 204
    assert http.get(f"{org.url}/_emulator/state").json()["duplicate_rules"] == {}


def test_rules_from_the_options(start_emulator, http, token_for):
    emulator = start_emulator(duplicate_rules={"Account": "block"})
    http.headers["Authorization"] = f"Bearer {token_for(emulator.url)}"
    name = live(emulator, "Account")[0]["Name"]
    assert http.post(f"{emulator.url}{V}/sobjects/Account/", json={"Name": name}).status_code == 400
    http.post(f"{emulator.url}/_emulator/reset")
    assert http.post(f"{emulator.url}{V}/sobjects/Account/", json={"Name": name}).status_code == 400  # the options stay


def test_cli_flag_refuses_unknown_rules():
    from click.testing import CliRunner

    result = CliRunner().invoke(salesforce_emulator, ["--duplicate-rule", "Opportunity=block", "--port", "0"])
    assert result.exit_code != 0 and "duplicate rules exist for Contact, Lead, Account" in result.output
    result = CliRunner().invoke(salesforce_emulator, ["--duplicate-rule", "Contact=maybe", "--port", "0"])
    assert result.exit_code != 0 and "block or alert" in result.output
