"""The REST API's responses and errors in Salesforce's exact shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp.emulator import EmulatorOptions, create_emulator_app

V = "/services/data/v59.0"


def q(api, soql, resource="query", **headers):
    return api.get(f"{V}/{resource}/", query_string={"q": soql}, headers=headers)


def test_missing_or_bad_token_is_401_with_www_authenticate(app):
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = client.get(f"{V}/limits/", headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Token"
        assert response.json == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_versions_list_needs_no_session_and_has_no_limit_header(app):
    response = app.test_client().get("/services/data/")
    assert response.status_code == 200 and "Sforce-Limit-Info" not in response.headers
    assert response.json[0] == {"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in response.json


def test_data_responses_carry_api_usage(api):
    first = api.get(f"{V}/limits/")
    second = q(api, "SELECT Id FROM Account LIMIT 1")
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    assert second.headers["Sforce-Limit-Info"] == "api-usage=2/15000"
    assert api.get(f"{V}/limits/").json["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 3}


def test_query_shape_nulls_and_formats(api):
    body = q(api, "SELECT Id, Email, CreatedDate, Account.Name, Account.AnnualRevenue FROM Contact "
                  "WHERE AccountId = null LIMIT 1").json
    assert body["totalSize"] == 1 and body["done"] is True and "nextRecordsUrl" not in body
    record = body["records"][0]
    assert list(record) == ["attributes", "Id", "Email", "CreatedDate", "Account"]
    assert record["attributes"] == {"type": "Contact", "url": f"{V}/sobjects/Contact/{record['Id']}"}
    assert record["Account"] is None
    datetime.strptime(record["CreatedDate"], "%Y-%m-%dT%H:%M:%S.000+0000")
    linked = q(api, "SELECT account.name, ACCOUNT.annualrevenue FROM contact WHERE AccountId != null LIMIT 1").json
    account = linked["records"][0]["Account"]
    assert list(account) == ["attributes", "Name", "AnnualRevenue"]
    assert isinstance(account["AnnualRevenue"], int)


def test_count_query(api):
    body = q(api, "SELECT COUNT() FROM Opportunity WHERE IsClosed = false").json
    assert body["records"] == [] and body["done"] and body["totalSize"] > 0


def test_paging_invariants(api):
    soql = "SELECT Id FROM Contact ORDER BY Id"
    pages = [q(api, soql, **{"Sforce-Query-Options": "batchSize=50"}).json]  # clamped to 200
    while not pages[-1]["done"]:
        url = pages[-1]["nextRecordsUrl"]
        assert url.startswith(f"{V}/query/0r8") and url.endswith(f"-{200 * len(pages)}")
        pages.append(api.get(url).json)
    total = pages[0]["totalSize"]
    assert all(p["totalSize"] == total for p in pages)
    assert [len(p["records"]) for p in pages[:-1]] == [200] * (len(pages) - 1)
    assert "nextRecordsUrl" not in pages[-1] and len(pages) > 1
    ids = [r["Id"] for p in pages for r in p["records"]]
    assert len(ids) == total == len(set(ids)) and ids == sorted(ids)


def test_long_text_columns_shrink_pages(app):
    api = _api(create_emulator_app(EmulatorOptions(contacts=2100, accounts=10, opportunities=5)))
    narrow = q(api, "SELECT Id FROM Contact").json
    wide = q(api, "SELECT Id, Description FROM Contact").json
    assert len(narrow["records"]) == 2000 and len(wide["records"]) == 1000


def test_query_all_pages_and_bad_locators(api):
    body = q(api, "SELECT Id, IsDeleted FROM Contact", "queryAll",
             **{"Sforce-Query-Options": "batchSize=200"}).json
    assert body["nextRecordsUrl"].startswith(f"{V}/queryAll/")
    assert api.get(body["nextRecordsUrl"]).status_code == 200
    for url in (f"{V}/query/0r8bogus-200", body["nextRecordsUrl"].rsplit("-", 1)[0] + "-x"):
        response = api.get(url)
        assert response.status_code == 400
        assert response.json == [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]


@pytest.mark.parametrize("soql, code", [
    ("SELECT Id FRM Contact", "MALFORMED_QUERY"),
    ("SELECT Nope FROM Contact", "INVALID_FIELD"),
    ("SELECT Id FROM Nope", "INVALID_TYPE"),
    (r"SELECT Id FROM Contact WHERE Email = 'a\qb'", "MALFORMED_QUERY"),
])
def test_query_errors_over_http(api, soql, code):
    response = q(api, soql)
    assert response.status_code == 400
    [error] = response.json
    assert set(error) == {"message", "errorCode"} and error["errorCode"] == code
    assert error["message"].startswith("\n") and "ERROR at Row:1:Column:" in error["message"]


def test_missing_query_string(api):
    assert api.get(f"{V}/query/").json[0]["errorCode"] == "MALFORMED_QUERY"


def test_sobject_lifecycle(api, app):
    created = api.post(f"{V}/sobjects/Opportunity/", json={
        "Name": "Big one", "StageName": "Negotiation/Review", "CloseDate": "2026-09-30", "Amount": 5000})
    assert created.status_code == 201
    opp_id = created.json["id"]
    assert created.json == {"id": opp_id, "success": True, "errors": []}
    assert created.headers["Location"] == f"{V}/sobjects/Opportunity/{opp_id}"
    before = app.emulator.store.get("Opportunity", opp_id)["SystemModstamp"]
    record = api.get(f"{V}/sobjects/Opportunity/{opp_id}").json
    assert (record["IsClosed"], record["IsWon"], record["Probability"], record["ForecastCategoryName"]) == (
        False, False, 90, "Pipeline")
    assert record["OwnerId"] == app.emulator.user_id and record["CloseDate"] == "2026-09-30"
    app.emulator.store.get("Opportunity", opp_id)["SystemModstamp"] -= timedelta(seconds=5)
    assert api.patch(f"{V}/sobjects/Opportunity/{opp_id[:15]}", json={"StageName": "Closed Lost"}).status_code == 204
    updated = api.get(f"{V}/sobjects/Opportunity/{opp_id}", query_string={"fields": "IsClosed,IsWon,Probability,SystemModstamp"}).json
    assert (updated["IsClosed"], updated["IsWon"], updated["Probability"]) == (True, False, 0)
    assert app.emulator.store.get("Opportunity", opp_id)["SystemModstamp"] >= before
    assert api.delete(f"{V}/sobjects/Opportunity/{opp_id}").status_code == 204
    assert api.get(f"{V}/sobjects/Opportunity/{opp_id}").status_code == 404
    again = api.delete(f"{V}/sobjects/Opportunity/{opp_id}")
    assert again.status_code == 404 and again.json[0]["errorCode"] == "ENTITY_IS_DELETED"
    deleted = q(api, f"SELECT Id, IsDeleted FROM Opportunity WHERE Id = '{opp_id}'", "queryAll").json
    assert deleted["records"][0]["IsDeleted"] is True
    assert q(api, f"SELECT Id FROM Opportunity WHERE Id = '{opp_id}'").json["totalSize"] == 0


@pytest.mark.parametrize("method, path, body, status, expected", [
    ("post", "/sobjects/Opportunity/", {"Name": "x"}, 400,
     [{"fields": ["StageName", "CloseDate"], "message": "Required fields are missing: [StageName, CloseDate]",
       "errorCode": "REQUIRED_FIELD_MISSING"}]),
    ("post", "/sobjects/Contact/", {"LastName": "x", "Nope__c": 1}, 400,
     [{"message": "No such column 'Nope__c' on sobject of type Contact", "errorCode": "INVALID_FIELD"}]),
    ("post", "/sobjects/Opportunity/", {"Name": "x", "StageName": "Closed Won", "CloseDate": "2026-01-01",
                                        "IsWon": True}, 400, None),
    ("post", "/sobjects/Opportunity/", {"Name": "x", "StageName": "Won-ish", "CloseDate": "2026-01-01"}, 400,
     [{"fields": ["StageName"], "message": "Stage: bad value for restricted picklist field: Won-ish",
       "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"}]),
    ("post", "/sobjects/Contact/", {"LastName": "x", "AccountId": "003000000000000"}, 400,
     [{"fields": ["AccountId"], "message": "Account ID: id value of incorrect type: 003000000000000",
       "errorCode": "MALFORMED_ID"}]),
    ("post", "/sobjects/Nope/", {"Name": "x"}, 404,
     [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]),
    ("get", "/sobjects/Contact/not-an-id", None, 404,
     [{"message": "Provided external ID field does not exist or is not accessible: not-an-id",
       "errorCode": "NOT_FOUND"}]),
    ("get", "/sobjects/Contact/003000000000000AAA", None, 404,
     [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]),
    ("patch", "/sobjects/Contact/Nope__c/1", {"LastName": "x"}, 404,
     [{"message": "Provided external ID field does not exist or is not accessible: Nope__c",
       "errorCode": "NOT_FOUND"}]),
    ("put", "/sobjects/Contact/003000000000000AAA", {}, 405, None),
])
def test_write_errors(api, method, path, body, status, expected):
    response = getattr(api, method)(V + path, json=body)
    assert response.status_code == status
    if expected is not None:
        assert response.json == expected
    assert isinstance(response.json, list) and set(response.json[0]) <= {"message", "errorCode", "fields"}


def test_read_only_field_and_bad_json(api):
    response = api.post(f"{V}/sobjects/Opportunity/", json={"Name": "x", "StageName": "Prospecting",
                                                            "CloseDate": "2026-01-01", "IsWon": True})
    assert response.json[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert response.json[0]["fields"] == ["IsWon"]
    bad = api.post(f"{V}/sobjects/Contact/", data="{nope", content_type="application/json")
    assert bad.status_code == 400 and bad.json[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_upsert_statuses(api):
    url = f"{V}/sobjects/Contact/External_Id__c/ext%2F1"
    created = api.patch(url, json={"LastName": "Upserted"})
    assert created.status_code == 201 and created.json["created"] is True
    assert created.headers["Location"].endswith(created.json["id"])
    updated = api.patch(url, json={"Title": "Now updated"})
    assert updated.status_code == 200
    assert updated.json == {"id": created.json["id"], "success": True, "errors": [], "created": False}
    assert api.patch(f"{V.replace('59.0', '45.0')}/sobjects/Contact/External_Id__c/ext%2F1",
                     json={"Title": "Old API"}).status_code == 204
    assert api.patch(f"{V}/sobjects/Contact/External_Id__c/none", query_string={"updateOnly": "true"},
                     json={"LastName": "x"}).status_code == 404
    api.post(f"{V}/sobjects/Contact/", json={"LastName": "A", "Email": "Same@Example.com"})
    api.post(f"{V}/sobjects/Contact/", json={"LastName": "B", "Email": "same@example.com"})
    several = api.patch(f"{V}/sobjects/Contact/Email/SAME@example.com", json={"Title": "x"})
    assert several.status_code == 300 and len(several.json) == 2
    duplicate = api.post(f"{V}/sobjects/Contact/", json={"LastName": "C", "External_Id__c": "EXT/1"})
    assert duplicate.json[0]["errorCode"] == "DUPLICATE_VALUE"


def test_collections(api, app):
    records = [{"attributes": {"type": "Contact"}, "LastName": f"Bulk {i}"} for i in range(3)]
    created = api.post(f"{V}/composite/sobjects", json={"allOrNone": False, "records": records}).json
    assert [r["success"] for r in created] == [True, True, True]
    ids = [r["id"] for r in created]
    mixed = api.patch(f"{V}/composite/sobjects", json={"records": [
        {"attributes": {"type": "Contact"}, "id": ids[0], "Title": "T"},
        {"attributes": {"type": "Contact"}, "id": "003000000000000AAA", "Title": "T"}]})
    assert mixed.status_code == 200
    # No "id" for an id that names no record, as in the documented update example's failed
    # item (REST API Developer Guide, "Update Records Using sObject Collections").
    assert mixed.json[1] == {"success": False, "errors": [
        {"statusCode": "INVALID_CROSS_REFERENCE_KEY", "message": "invalid cross reference id", "fields": []}]}
    rolled = api.post(f"{V}/composite/sobjects", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Contact"}, "LastName": "Fine"}, {"attributes": {"type": "Contact"}}]}).json
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert rolled[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert q(api, "SELECT COUNT() FROM Contact WHERE LastName = 'Fine'").json["totalSize"] == 0
    too_many = api.post(f"{V}/composite/sobjects", json={"records": records * 67})
    assert too_many.status_code == 400 and too_many.json[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    fetched = api.get(f"{V}/composite/sobjects/Contact", query_string={"ids": ",".join(ids), "fields": "Id,Title"}).json
    assert fetched[0]["Title"] == "T" and fetched[1]["Title"] is None
    upserted = api.patch(f"{V}/composite/sobjects/Contact/External_Id__c", json={"records": [
        {"attributes": {"type": "Contact"}, "External_Id__c": "c-1", "LastName": "New"}]}).json
    assert upserted[0]["created"] is True and upserted[0]["success"] is True
    removed = api.delete(f"{V}/composite/sobjects", query_string={"ids": ",".join(ids)}).json
    assert all(r["success"] for r in removed)


def test_account_delete_cascades(api, app):
    account = next(a for a in app.emulator.store.tables["Account"].records if not a["IsDeleted"]
                   and app.emulator.store.tables["Contact"].lookup("AccountId", a["Id"]))
    assert api.delete(f"{V}/sobjects/Account/{account['Id']}").status_code == 204
    left = q(api, f"SELECT COUNT() FROM Contact WHERE AccountId = '{account['Id']}'").json
    assert left["totalSize"] == 0


def test_get_updated_and_deleted(api, app):
    now = datetime.now(UTC)
    window = {"start": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
              "end": (now + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")}
    new_id = api.post(f"{V}/sobjects/Contact/", json={"LastName": "Fresh"}).json["id"]
    updated = api.get(f"{V}/sobjects/Contact/updated/", query_string=window).json
    # The current minute is not covered yet: seconds are truncated, and the window ends now.
    assert updated["latestDateCovered"].endswith(":00.000+0000")
    table = app.emulator.store.tables["Contact"]
    record = table.by_id[new_id]
    table.change(record, {"SystemModstamp": record["SystemModstamp"] - timedelta(minutes=2)})
    assert new_id in api.get(f"{V}/sobjects/Contact/updated/", query_string=window).json["ids"]
    api.delete(f"{V}/sobjects/Contact/{new_id}")
    app.emulator.store.deleted_at[new_id] -= timedelta(minutes=2)
    window["start"] = (now - timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
    deleted = api.get(f"{V}/sobjects/Contact/deleted/", query_string=window).json
    assert len(deleted["deletedRecords"]) > 1  # the seeded org has recent deletions too
    assert {"id", "deletedDate"} == set(deleted["deletedRecords"][-1])
    assert new_id in [d["id"] for d in deleted["deletedRecords"]]
    assert set(deleted) == {"deletedRecords", "earliestDateAvailable", "latestDateCovered"}
    old = api.get(f"{V}/sobjects/Contact/updated/", query_string={**window, "start": "2000-01-01T00:00:00Z"})
    assert old.status_code == 400 and old.json[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_describe_if_modified_since(api):
    first = api.get(f"{V}/sobjects/Account/describe")
    assert first.status_code == 200 and first.json["name"] == "Account"
    again = api.get(f"{V}/sobjects/Account/describe", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert again.status_code == 304


def test_multi_currency_switch():
    single = _api(create_emulator_app(EmulatorOptions(accounts=5, contacts=5, opportunities=5)))
    multi = _api(create_emulator_app(EmulatorOptions(accounts=5, contacts=5, opportunities=5,
                                                     multi_currency=True)))
    soql = "SELECT Id, CurrencyIsoCode FROM Opportunity"
    assert q(single, soql).json[0]["errorCode"] == "INVALID_FIELD"
    assert q(single, "SELECT Id FROM CurrencyType").json[0]["errorCode"] == "INVALID_TYPE"
    assert all(r["CurrencyIsoCode"] for r in q(multi, soql).json["records"])
    corporate = q(multi, "SELECT IsoCode FROM CurrencyType WHERE IsCorporate = true").json["records"]
    assert [r["IsoCode"] for r in corporate] == ["USD"]
    org = q(single, "SELECT DefaultCurrencyIsoCode, IsSandbox FROM Organization").json["records"][0]
    assert (org["DefaultCurrencyIsoCode"], org["IsSandbox"]) == ("USD", False)


def test_unexpected_errors_never_leak_a_stack_trace(api, app, monkeypatch):
    monkeypatch.setattr(app.emulator.store, "table", lambda name: 1 / 0)
    response = q(api, "SELECT Id FROM Contact")
    assert response.status_code == 500 and response.json[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert "Traceback" not in response.get_data(as_text=True)


def _api(app):
    client = app.test_client()
    token = client.post("/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "emulator-client-id",
        "client_secret": "emulator-client-secret"}).json["access_token"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client
