"""Field-level security and the Recycle Bin, answered the way real orgs answer.

Sources for the shapes:
- a query naming a field the user cannot see: INVALID_FIELD "No such column 'Type' on entity
  'Account'" (jereze/alfred-salesforce#4, a standard field hidden in an org; the message layout
  as in salesforce-rest.md §4, INVALID_FIELD);
- a write naming one: INVALID_FIELD "No such column 'AccountSource' on sobject of type Account"
  (wadewegner/Force.com-Toolkit-for-NET#90, an upsert of a field the user could not see);
- a write to a field the user may read but not edit: INVALID_FIELD_FOR_INSERT_UPDATE "Unable to
  create/update fields: IsClosedOnCreate. Please check the security settings of this field and
  verify that it is read/write for your profile or permission set." with ``fields``
  (verbb/formie#1981, a recorded REST answer);
- describe leaves out fields the user cannot see (simple-salesforce#621: a field created without
  field-level security is missing from ``describe()``);
- the Recycle Bin keeps deleted records 15 days; getDeleted and queryAll see them until an admin
  or the 15 days purge them (salesforce-rest.md §3 getDeleted, §6 Deletes).
"""

from __future__ import annotations

from tests.emulator.test_rest import V, q


def _hide(app, sobject, hidden=(), read_only=(), user=None):
    body = {"sobject": sobject, "hidden": list(hidden), "read_only": list(read_only)}
    if user:
        body["user"] = user
    return app.test_client().post("/_emulator/field-security", json=body)


def test_a_hidden_field_fails_the_whole_query_as_no_such_column(app, api):
    assert _hide(app, "Contact", ["Title"]).status_code == 200
    for soql in ("SELECT Id, Title FROM Contact", "SELECT Id FROM Contact WHERE Title = 'CEO'",
                 "SELECT Id FROM Contact ORDER BY Title", "SELECT Id, ConvertedContact.Title FROM Lead"):
        response = q(api, soql)
        assert response.status_code == 400, soql
        (error,) = response.json
        assert error["errorCode"] == "INVALID_FIELD"
        assert "No such column 'Title' on entity 'Contact'." in error["message"]
        assert "ERROR at Row:1:Column:" in error["message"]
    assert q(api, "SELECT Id, Name, LeadSource FROM Contact LIMIT 1").status_code == 200


def test_describe_and_record_reads_leave_a_hidden_field_out(app, api):
    _hide(app, "Opportunity", ["Amount"])
    names = [f["name"] for f in api.get(f"{V}/sobjects/Opportunity/describe").json["fields"]]
    assert "Amount" not in names and "StageName" in names
    record_id = q(api, "SELECT Id FROM Opportunity LIMIT 1").json["records"][0]["Id"]
    record = api.get(f"{V}/sobjects/Opportunity/{record_id}").json
    assert "Amount" not in record and "StageName" in record
    asked = api.get(f"{V}/sobjects/Opportunity/{record_id}", query_string={"fields": "Name,Amount"})
    assert asked.status_code == 400 and asked.json[0]["errorCode"] == "INVALID_FIELD"


def test_writing_a_hidden_field_is_no_such_column_on_sobject(app, api):
    _hide(app, "Contact", ["Phone"])
    created = api.post(f"{V}/sobjects/Contact/", json={"LastName": "Hidden", "Phone": "555"})
    assert created.status_code == 400
    assert created.json == [{"message": "No such column 'Phone' on sobject of type Contact",
                             "errorCode": "INVALID_FIELD"}]
    record_id = q(api, "SELECT Id FROM Contact LIMIT 1").json["records"][0]["Id"]
    updated = api.patch(f"{V}/sobjects/Contact/{record_id}", json={"Phone": "555"})
    assert updated.status_code == 400 and updated.json[0]["errorCode"] == "INVALID_FIELD"
    # sObject Collections: per record, with statusCode.
    items = api.post(f"{V}/composite/sobjects/", json={"records": [
        {"attributes": {"type": "Contact"}, "LastName": "A", "Phone": "1"},
        {"attributes": {"type": "Contact"}, "LastName": "B"}]}).json
    assert items[0]["success"] is False and items[0]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert items[1]["success"] is True
    assert api.post(f"{V}/sobjects/Contact/", json={"LastName": "Visible"}).status_code == 201


def test_a_read_only_field_is_described_so_and_refused_on_write(app, api):
    _hide(app, "Contact", read_only=["Title"])
    title = next(f for f in api.get(f"{V}/sobjects/Contact/describe").json["fields"] if f["name"] == "Title")
    assert title["createable"] is False and title["updateable"] is False
    assert q(api, "SELECT Id, Title FROM Contact LIMIT 1").status_code == 200
    refused = api.post(f"{V}/sobjects/Contact/", json={"LastName": "X", "Title": "Boss"})
    assert refused.status_code == 400 and refused.json[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert refused.json[0]["fields"] == ["Title"]


def test_field_security_is_per_user_and_refuses_fields_every_record_needs(app, api):
    client = app.test_client()
    assert _hide(app, "Contact", ["Title"], user="somebody.else@emulator.test").status_code == 400  # no such user
    other = next(u for u in app.emulator.store.tables["User"].records if u["Id"] != app.emulator.user_id)
    assert _hide(app, "Contact", ["Title"], user=other["Username"]).status_code == 200
    assert q(api, "SELECT Id, Title FROM Contact LIMIT 1").status_code == 200  # the connected user still sees it
    for name in ("LastName", "Id", "Name", "SystemModstamp"):
        answer = _hide(app, "Contact", [name])
        assert answer.status_code == 400 and "always visible" in answer.json["error"]
    assert _hide(app, "Contact", ["NoSuchField__c"]).status_code == 400
    assert client.post("/_emulator/field-security", json={"hidden": ["Title"]}).status_code == 400
    # Shown in the state, cleared by a reset.
    _hide(app, "Contact", ["Title"])
    state = client.get("/_emulator/state").json
    assert state["field_security"][app.emulator.user_id]["Contact"]["hidden"] == ["Title"]
    assert client.post("/_emulator/reset").status_code == 204
    assert q(api, "SELECT Id, Title FROM Contact LIMIT 1").status_code == 200


def test_fields_hidden_from_the_start_by_option():
    from tests.emulator.conftest import CALLBACK, SMALL
    from webapp.emulator import EmulatorOptions, create_emulator_app

    app = create_emulator_app(EmulatorOptions(redirect_uris=[CALLBACK], hidden_fields=["Lead.LeadSource"], **SMALL))
    client = app.test_client()
    token = client.post("/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "emulator-client-id",
        "client_secret": "emulator-client-secret"}).json["access_token"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert q(client, "SELECT Id, LeadSource FROM Lead").json[0]["errorCode"] == "INVALID_FIELD"


def test_the_command_refuses_a_field_that_cannot_be_hidden():
    from click.testing import CliRunner

    from webapp.emulator.cli import salesforce_emulator

    result = CliRunner().invoke(salesforce_emulator, ["--port", "0", "--accounts", "2", "--contacts", "4",
                                                      "--opportunities", "2", "--hide-field", "Contact.LastName"])
    assert result.exit_code == 2 and "always visible" in result.output


# ---- the Recycle Bin --------------------------------------------------------------------

def test_purged_rows_leave_query_all_and_get_deleted(app, api):
    record_id = q(api, "SELECT Id FROM Contact WHERE Email != null LIMIT 1").json["records"][0]["Id"]
    assert api.delete(f"{V}/sobjects/Contact/{record_id}").status_code == 204
    soql = f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{record_id}'"
    assert q(api, soql, "queryAll").json["records"][0]["IsDeleted"] is True
    client = app.test_client()
    assert client.post("/_emulator/purge", json={"ids": [record_id]}).json == {"purged": 1}
    assert q(api, soql, "queryAll").json["totalSize"] == 0
    assert q(api, soql).json["totalSize"] == 0
    assert api.get(f"{V}/sobjects/Contact/{record_id}").status_code == 404
    assert client.post("/_emulator/purge", json={"ids": "nope"}).status_code == 400


def test_deleted_rows_are_purged_after_the_recycle_bin_window(app, api):
    seeded = q(api, "SELECT Id FROM Contact WHERE IsDeleted = true", "queryAll").json["totalSize"]
    assert seeded > 0  # deleted in the last ten days: still in a 15-day Recycle Bin
    client = app.test_client()
    assert client.get("/_emulator/state").json["recycle_bin"]["days"] == 15
    assert client.post("/_emulator/recycle-bin", json={"days": -1}).status_code == 400
    assert client.post("/_emulator/recycle-bin", json={"days": 0}).json == {"days": 0}
    assert q(api, "SELECT Id FROM Contact WHERE IsDeleted = true", "queryAll").json["totalSize"] == 0
    assert q(api, "SELECT Id FROM Contact WHERE IsDeleted = false", "queryAll").json["totalSize"] > 0
