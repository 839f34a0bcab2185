"""Leads, tasks and Enhanced Email (EmailMessage, EmailMessageRelation) in the emulator:
describe shapes, the documented write rules and error shapes, SOQL across polymorphic
lookups, queryAll of deleted rows, and the org without Enhanced Email."""

from __future__ import annotations

from collections import Counter

import pytest
from click.testing import CliRunner

from webapp.emulator import DEMO_ORG, EmulatorOptions, create_emulator_app, generate_org
from webapp.emulator.cli import salesforce_emulator

V = "/services/data/v59.0"
SENT_EMAIL = {"Subject": "Renewal quote", "TextBody": "Hi, the quote is attached.",
              "HtmlBody": "<p>Hi, the quote is attached.</p>", "FromAddress": "maya@northwind.example",
              "ToAddress": "buyer@example.com", "CcAddress": "boss@example.com",
              "MessageDate": "2025-03-04T10:00:00.000+0000", "Incoming": False, "Status": "3",
              "MessageIdentifier": "<abc@northwind.example>", "ThreadIdentifier": "<abc@northwind.example>"}


def q(api, soql, resource="query"):
    return api.get(f"{V}/{resource}/", query_string={"q": soql})


def first_id(api, soql):
    return q(api, soql).json["records"][0]["Id"]


def collections(api, records, all_or_none=False):
    return api.post(f"{V}/composite/sobjects/", json={"allOrNone": all_or_none, "records": records})


def fields_of(api, sobject):
    response = api.get(f"{V}/sobjects/{sobject}/describe")
    assert response.status_code == 200, response.json
    return {f["name"]: f for f in response.json["fields"]}


# ---- describe ------------------------------------------------------------------------------

def test_lead_describe_required_and_read_only_fields(api):
    fields = fields_of(api, "Lead")
    assert api.get(f"{V}/sobjects/Lead/describe").json["keyPrefix"] == "00Q"
    for name in ("LastName", "Company"):
        assert (fields[name]["nillable"], fields[name]["createable"], fields[name]["defaultedOnCreate"]) == (
            False, True, False)
    status = fields["Status"]
    assert status["type"] == "picklist" and not status["nillable"] and status["defaultedOnCreate"]
    assert [v["value"] for v in status["picklistValues"]] == [
        "Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"]
    assert [v["value"] for v in status["picklistValues"] if v["defaultValue"]] == ["Open - Not Contacted"]
    assert (fields["IsConverted"]["createable"], fields["IsConverted"]["updateable"]) == (True, False)
    for name in ("ConvertedContactId", "ConvertedAccountId", "ConvertedOpportunityId", "Name"):
        assert not fields[name]["createable"] and not fields[name]["updateable"]
    assert fields["ConvertedContactId"]["referenceTo"] == ["Contact"]
    assert fields["ConvertedContactId"]["relationshipName"] == "ConvertedContact"
    assert fields["Email"]["type"] == "email" and fields["Email"]["idLookup"]


def test_task_describe_polymorphic_lookups_and_subtype(api):
    fields = fields_of(api, "Task")
    who, what = fields["WhoId"], fields["WhatId"]
    assert (who["referenceTo"], who["relationshipName"], who["polymorphicForeignKey"]) == (
        ["Contact", "Lead"], "Who", True)
    assert what["relationshipName"] == "What" and what["polymorphicForeignKey"]
    assert {"Account", "Opportunity"} <= set(what["referenceTo"])
    assert fields["AccountId"]["polymorphicForeignKey"] is False and not fields["AccountId"]["createable"]
    subtype = fields["TaskSubtype"]
    assert subtype["restrictedPicklist"] and subtype["createable"] and not subtype["updateable"]
    assert [v["value"] for v in subtype["picklistValues"]] == [
        "Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"]
    assert [v["value"] for v in fields["Priority"]["picklistValues"]] == ["High", "Normal", "Low"]
    assert "Completed" in [v["value"] for v in fields["Status"]["picklistValues"]]
    relationships = {r["relationshipName"]: r for r in api.get(f"{V}/sobjects/Lead/describe").json[
        "childRelationships"]}
    assert relationships["Tasks"]["field"] == "WhoId"


def test_email_message_and_relation_describe(api):
    fields = fields_of(api, "EmailMessage")
    status = fields["Status"]
    assert status["restrictedPicklist"] and not status["nillable"] and not status["defaultedOnCreate"]
    assert [(v["value"], v["label"]) for v in status["picklistValues"]] == [
        ("0", "New"), ("1", "Read"), ("2", "Replied"), ("3", "Sent"), ("4", "Forwarded"), ("5", "Draft")]
    for name in ("FromAddress", "ToAddress", "CcAddress", "Subject", "TextBody", "HtmlBody", "MessageDate",
                 "Incoming", "MessageIdentifier", "ThreadIdentifier", "RelatedToId"):
        assert fields[name]["createable"], name
    assert fields["RelatedToId"]["polymorphicForeignKey"] and fields["RelatedToId"]["relationshipName"] == "RelatedTo"
    assert not fields["ActivityId"]["createable"] and fields["ActivityId"]["referenceTo"] == ["Task"]
    relation = fields_of(api, "EmailMessageRelation")
    assert relation["RelationId"]["referenceTo"] == ["Contact", "Lead", "User"]
    assert relation["RelationType"]["restrictedPicklist"] and not relation["RelationType"]["nillable"]
    assert {v["value"] for v in relation["RelationType"]["picklistValues"]} >= {
        "FromAddress", "ToAddress", "CcAddress"}
    assert not relation["EmailMessageId"]["nillable"] and not relation["RelationObjectType"]["createable"]
    names = {s["name"] for s in api.get(f"{V}/sobjects/").json["sobjects"]}
    assert {"Lead", "Task", "EmailMessage", "EmailMessageRelation"} <= names


# ---- write rules -------------------------------------------------------------------------------

def test_lead_required_fields_over_rest_and_collections(api):
    response = api.post(f"{V}/sobjects/Lead/", json={"FirstName": "Ada"})
    assert response.status_code == 400
    assert response.json == [{"fields": ["LastName", "Company"], "message":
                              "Required fields are missing: [LastName, Company]",
                              "errorCode": "REQUIRED_FIELD_MISSING"}]
    body = collections(api, [{"attributes": {"type": "Lead"}, "LastName": "Lovelace"},
                             {"attributes": {"type": "Lead"}, "LastName": "Byron", "Company": "Analytical Engines"}]).json
    assert body[0] == {"success": False, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING", "message":
                       "Required fields are missing: [Company]", "fields": ["Company"]}]}
    assert body[1]["success"] is True
    created = api.get(f"{V}/sobjects/Lead/{body[1]['id']}").json
    assert (created["Status"], created["IsConverted"], created["Name"]) == ("Open - Not Contacted", False, "Byron")


def test_converted_lead_cannot_be_updated_or_referenced(api, app):
    lead = next(r for r in app.emulator.store.tables["Lead"].records if r["IsConverted"] and not r["IsDeleted"])
    response = api.patch(f"{V}/sobjects/Lead/{lead['Id']}", json={"Title": "CEO"})
    assert response.status_code == 400
    assert response.json == [{"fields": [], "message": "cannot reference converted lead",
                              "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD"}]
    task = api.post(f"{V}/sobjects/Task/", json={"Subject": "Call", "WhoId": lead["Id"]})
    assert task.json[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert api.get(f"{V}/sobjects/Lead/{lead['Id']}").json["Title"] == lead["Title"]


def test_restricted_picklists_refuse_unknown_values(api):
    contact = first_id(api, "SELECT Id FROM Contact WHERE AccountId != null LIMIT 1")
    task = api.post(f"{V}/sobjects/Task/", json={"Subject": "x", "WhoId": contact, "TaskSubtype": "Fax"})
    assert task.status_code == 400 and task.json == [{"fields": ["TaskSubtype"], "message":
        "Task Subtype: bad value for restricted picklist field: Fax",
        "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"}]
    email = api.post(f"{V}/sobjects/EmailMessage/", json=dict(SENT_EMAIL, Status="Sent"))
    assert email.json[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert email.json[0]["fields"] == ["Status"]
    missing = api.post(f"{V}/sobjects/EmailMessage/", json={k: v for k, v in SENT_EMAIL.items() if k != "Status"})
    assert missing.json == [{"fields": ["Status"], "message": "Required fields are missing: [Status]",
                             "errorCode": "REQUIRED_FIELD_MISSING"}]
    email_id = api.post(f"{V}/sobjects/EmailMessage/", json=SENT_EMAIL).json["id"]
    body = collections(api, [{"attributes": {"type": "EmailMessageRelation"}, "EmailMessageId": email_id,
                              "RelationAddress": "x@example.com", "RelationType": "ReplyTo"}]).json
    assert body[0]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert body[0]["errors"][0]["fields"] == ["RelationType"]


def test_task_who_and_what_checks(api):
    account = first_id(api, "SELECT Id FROM Account LIMIT 1")
    response = api.post(f"{V}/sobjects/Task/", json={"Subject": "Call", "WhoId": account})
    assert response.status_code == 400
    assert response.json == [{"fields": ["WhoId"], "message": f"Name ID: id value of incorrect type: {account}",
                              "errorCode": "FIELD_INTEGRITY_EXCEPTION"}]
    body = collections(api, [{"attributes": {"type": "Task"}, "Subject": "x", "WhatId": "003000000000000AAA"},
                             {"attributes": {"type": "Task"}, "Subject": "x", "WhoId": "nonsense"}]).json
    assert body[0]["errors"][0]["statusCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert body[0]["errors"][0]["fields"] == ["WhatId"]
    assert body[1]["errors"][0]["statusCode"] == "MALFORMED_ID"


def test_task_defaults_account_and_subtype_not_updatable(api):
    contact = q(api, "SELECT Id, AccountId FROM Contact WHERE AccountId != null LIMIT 1").json["records"][0]
    task_id = api.post(f"{V}/sobjects/Task/", json={"Subject": "Follow up", "WhoId": contact["Id"],
                                                     "TaskSubtype": "Call"}).json["id"]
    task = api.get(f"{V}/sobjects/Task/{task_id}").json
    assert (task["Status"], task["Priority"], task["IsClosed"], task["AccountId"]) == (
        "Not Started", "Normal", False, contact["AccountId"])
    assert api.patch(f"{V}/sobjects/Task/{task_id}", json={"Status": "Completed"}).status_code == 204
    assert api.get(f"{V}/sobjects/Task/{task_id}").json["IsClosed"] is True
    response = api.patch(f"{V}/sobjects/Task/{task_id}", json={"TaskSubtype": "Email"})
    assert response.json[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert response.json[0]["fields"] == ["TaskSubtype"]


def test_sent_email_with_relations_through_collections_logs_a_task(api):
    opp = q(api, "SELECT Id, AccountId FROM Opportunity LIMIT 1").json["records"][0]
    contact = q(api, "SELECT Id, Email FROM Contact WHERE Email != null LIMIT 1").json["records"][0]
    lead = q(api, "SELECT Id, Email FROM Lead WHERE IsConverted = false AND Email != null LIMIT 1").json["records"][0]
    user = first_id(api, "SELECT Id FROM User LIMIT 1")
    created = collections(api, [dict(SENT_EMAIL, attributes={"type": "EmailMessage"}, RelatedToId=opp["Id"])],
                          all_or_none=True).json
    assert created[0]["success"], created
    email_id = created[0]["id"]
    relations = collections(api, [
        {"attributes": {"type": "EmailMessageRelation"}, "EmailMessageId": email_id, "RelationId": user,
         "RelationType": "FromAddress"},
        {"attributes": {"type": "EmailMessageRelation"}, "EmailMessageId": email_id, "RelationId": contact["Id"],
         "RelationType": "ToAddress"},
        {"attributes": {"type": "EmailMessageRelation"}, "EmailMessageId": email_id, "RelationId": lead["Id"],
         "RelationType": "CcAddress"},
        {"attributes": {"type": "EmailMessageRelation"}, "EmailMessageId": email_id,
         "RelationAddress": "outsider@example.org", "RelationType": "CcAddress"},
    ], all_or_none=True).json
    assert all(r["success"] for r in relations), relations
    rows = q(api, "SELECT RelationType, RelationObjectType, RelationAddress, Relation.Name, Relation.Type, "
                  f"EmailMessage.Subject FROM EmailMessageRelation WHERE EmailMessageId = '{email_id}'").json["records"]
    by_type = [(r["RelationType"], r["RelationObjectType"], r["RelationAddress"]) for r in rows]
    assert by_type[1:] == [("ToAddress", "Contact", contact["Email"]), ("CcAddress", "Lead", lead["Email"]),
                           ("CcAddress", None, "outsider@example.org")]
    assert rows[1]["Relation"]["attributes"] == {"type": "Name", "url": f"{V}/sobjects/Contact/{contact['Id']}"}
    assert rows[2]["Relation"]["Type"] == "Lead" and rows[3]["Relation"] is None
    assert rows[0]["EmailMessage"]["Subject"] == "Renewal quote"
    email = q(api, "SELECT Status, Incoming, ActivityId, RelatedTo.Name, RelatedTo.Type FROM EmailMessage "
                   f"WHERE Id = '{email_id}'").json["records"][0]
    assert (email["Status"], email["Incoming"], email["RelatedTo"]["Type"]) == ("3", False, "Opportunity")
    task = q(api, "SELECT TaskSubtype, Status, Subject, WhatId, WhoId, AccountId, Who.Name, What.Type FROM Task "
                  f"WHERE Id = '{email['ActivityId']}'").json["records"][0]
    assert (task["TaskSubtype"], task["Status"], task["Subject"]) == ("Email", "Completed", "Email: Renewal quote")
    assert (task["WhatId"], task["WhoId"], task["AccountId"]) == (opp["Id"], contact["Id"], opp["AccountId"])
    assert task["What"]["Type"] == "Opportunity" and task["Who"]["Name"]
    by_lead = q(api, f"SELECT Id FROM Task WHERE Who.Type = 'Contact' AND Id = '{email['ActivityId']}'").json
    assert by_lead["totalSize"] == 1


def test_sent_email_is_locked_but_a_draft_is_not(api):
    email_id = api.post(f"{V}/sobjects/EmailMessage/", json=SENT_EMAIL).json["id"]
    response = api.patch(f"{V}/sobjects/EmailMessage/{email_id}", json={"Subject": "Changed", "TextBody": "x"})
    assert response.status_code == 400 and response.json[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert response.json[0]["fields"] == ["Subject", "TextBody"]
    assert api.get(f"{V}/sobjects/EmailMessage/{email_id}").json["Subject"] == "Renewal quote"
    assert api.patch(f"{V}/sobjects/EmailMessage/{email_id}", json={"IsExternallyVisible": True}).status_code == 204
    new = api.post(f"{V}/sobjects/EmailMessage/", json=dict(SENT_EMAIL, Status="0", Incoming=True)).json["id"]
    assert api.patch(f"{V}/sobjects/EmailMessage/{new}", json={"Status": "1"}).status_code == 204
    assert api.patch(f"{V}/sobjects/EmailMessage/{new}", json={"Status": "0"}).status_code == 400
    draft = api.post(f"{V}/sobjects/EmailMessage/", json=dict(SENT_EMAIL, Status="5")).json["id"]
    assert api.get(f"{V}/sobjects/EmailMessage/{draft}").json["ActivityId"] is None
    assert api.patch(f"{V}/sobjects/EmailMessage/{draft}", json={"Subject": "Better"}).status_code == 204


def test_query_all_sees_deleted_tasks_emails_and_their_relations(api):
    contact = first_id(api, "SELECT Id FROM Contact WHERE AccountId != null LIMIT 1")
    task_id = api.post(f"{V}/sobjects/Task/", json={"Subject": "Gone", "WhoId": contact}).json["id"]
    email_id = api.post(f"{V}/sobjects/EmailMessage/", json=SENT_EMAIL).json["id"]
    relation_id = api.post(f"{V}/sobjects/EmailMessageRelation/", json={
        "EmailMessageId": email_id, "RelationId": contact, "RelationType": "ToAddress"}).json["id"]
    activity = api.get(f"{V}/sobjects/EmailMessage/{email_id}").json["ActivityId"]
    assert api.delete(f"{V}/sobjects/Task/{task_id}").status_code == 204
    assert api.delete(f"{V}/composite/sobjects/", query_string={"ids": email_id}).json[0]["success"]
    for sobject, record_id in (("Task", task_id), ("EmailMessage", email_id),
                               ("EmailMessageRelation", relation_id), ("Task", activity)):
        soql = f"SELECT Id, IsDeleted FROM {sobject} WHERE Id = '{record_id}'"
        assert q(api, soql).json["totalSize"] == 0, sobject
        assert q(api, soql, "queryAll").json["records"][0]["IsDeleted"] is True, sobject


# ---- Enhanced Email off ------------------------------------------------------------------------

def assert_not_available(api):
    for path in ("/sobjects/EmailMessage/describe", "/sobjects/EmailMessage/", "/sobjects/EmailMessageRelation/describe"):
        response = api.get(V + path)
        assert response.status_code == 404, path
        assert response.json == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
    create = api.post(f"{V}/sobjects/EmailMessage/", json=SENT_EMAIL)
    assert create.status_code == 404 and create.json[0]["errorCode"] == "NOT_FOUND"
    item = collections(api, [dict(SENT_EMAIL, attributes={"type": "EmailMessage"})]).json[0]
    assert item["errors"][0] == {"statusCode": "INVALID_TYPE", "message": "sObject type 'EmailMessage' is not "
                                 "supported.", "fields": []}
    for soql in ("SELECT Id FROM EmailMessage", "SELECT Id FROM EmailMessageRelation"):
        for resource in ("query", "queryAll"):
            response = q(api, soql, resource)
            assert response.status_code == 400 and response.json[0]["errorCode"] == "INVALID_TYPE"
            assert "is not supported" in response.json[0]["message"]
    names = {s["name"] for s in api.get(f"{V}/sobjects/").json["sobjects"]}
    assert "EmailMessage" not in names and "EmailMessageRelation" not in names and "Task" in names


def test_org_without_enhanced_email_has_no_email_message():
    app = create_emulator_app(EmulatorOptions(accounts=5, contacts=12, opportunities=5, enhanced_email=False))
    client = app.test_client()
    token = client.post("/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "emulator-client-id",
        "client_secret": "emulator-client-secret"}).json["access_token"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert_not_available(client)
    assert app.test_client().get("/_emulator/state").json["switches"] == {"enhanced_email": False}


def test_switch_over_the_admin_api_on_a_real_server(start_emulator, http, token_for):
    emulator = start_emulator()
    http.headers["Authorization"] = f"Bearer {token_for(emulator.url)}"
    email_id = http.post(f"{emulator.url}{V}/sobjects/EmailMessage/", json=SENT_EMAIL).json()["id"]
    off = http.post(f"{emulator.url}/_emulator/enhanced-email", json={"enabled": False})
    assert off.status_code == 200 and off.json() == {"enhanced_email": False}
    response = http.get(f"{emulator.url}{V}/sobjects/EmailMessage/{email_id}")
    assert response.status_code == 404
    query = http.get(f"{emulator.url}{V}/query/", params={"q": "SELECT Id FROM EmailMessage"})
    assert query.status_code == 400 and query.json()[0]["errorCode"] == "INVALID_TYPE"
    assert http.get(f"{emulator.url}/_emulator/state").json()["switches"] == {"enhanced_email": False}
    bad = http.post(f"{emulator.url}/_emulator/enhanced-email", json={"enabled": "no"})
    assert bad.status_code == 400 and "enabled" in bad.json()["error"]
    assert http.post(f"{emulator.url}/_emulator/reset").status_code == 204
    # Back on (reset restores the start-up setting): the email written before is still there.
    record = http.get(f"{emulator.url}{V}/sobjects/EmailMessage/{email_id}").json()
    assert record["Subject"] == "Renewal quote"


def test_switch_in_process_and_through_the_cli(api, app, monkeypatch):
    app.emulator.set_enhanced_email(False)
    assert_not_available(api)
    app.emulator.set_enhanced_email(True)
    assert api.get(f"{V}/sobjects/EmailMessage/describe").status_code == 200
    seen = {}

    class FakeServer:
        server_port = 4321

        def serve_forever(self):
            raise KeyboardInterrupt

        def server_close(self):
            pass

    monkeypatch.setattr("webapp.emulator.cli.make_server",
                        lambda host, port, app, **kw: seen.update(app=app) or FakeServer())
    result = CliRunner().invoke(salesforce_emulator, ["--port", "0", "--contacts", "30", "--accounts", "5",
                                                      "--opportunities", "5", "--no-enhanced-email",
                                                      "--leads", "4"])
    assert result.exit_code == 0, result.output
    assert "Enhanced Email off" in result.output and "4 leads" in result.output
    assert not seen["app"].emulator.enhanced_email
    assert len(seen["app"].emulator.store.tables["Lead"].records) == 4
    bad = CliRunner().invoke(salesforce_emulator, ["--leads", "-1"])
    assert bad.exit_code != 0 and "--leads" in bad.output


# ---- the demo org's leads ----------------------------------------------------------------------

def test_demo_org_leads_are_seeded_converted_and_distinct_from_contacts():
    first, second = generate_org(**DEMO_ORG), generate_org(**DEMO_ORG)
    strip = lambda rows: [{k: v for k, v in r.items() if not k.endswith(("Date", "Modstamp"))} for r in rows]  # noqa: E731
    assert strip(first["Lead"]) == strip(second["Lead"]) and len(first["Lead"]) == 50
    leads = first["Lead"]
    assert all(r["Id"].startswith("00Q") for r in leads)
    contacts = {c["Id"]: c for c in first["Contact"]}
    contact_emails = {c["Email"].lower() for c in contacts.values() if c["Email"]}
    lead_emails = [r["Email"].lower() for r in leads if r["Email"]]
    assert not contact_emails & set(lead_emails)
    assert [e for e, n in Counter(lead_emails).items() if n > 1]  # leads that share an email
    converted = [r for r in leads if r["IsConverted"]]
    assert len(converted) >= 5
    for lead in converted:
        contact = contacts[lead["ConvertedContactId"]]
        assert lead["Status"] == "Closed - Converted" and not contact["IsDeleted"]
        assert lead["ConvertedAccountId"] == contact["AccountId"] is not None
    assert {r["Status"] for r in leads if not r["IsConverted"]} <= {
        "Open - Not Contacted", "Working - Contacted", "Closed - Not Converted"}
    # The leads come from their own generator: the rest of the org is what it was without them.
    without = generate_org(**DEMO_ORG, leads=0)
    assert without["Lead"] == [] and strip(without["Contact"]) == strip(first["Contact"])


def test_demo_org_leads_answer_soql(api, app):
    converted = q(api, "SELECT Name, Company, ConvertedContact.Email, ConvertedAccount.Name FROM Lead "
                       "WHERE IsConverted = true").json
    assert converted["totalSize"] >= 1
    record = converted["records"][0]
    assert record["ConvertedContact"]["attributes"]["type"] == "Contact" and record["ConvertedAccount"]["Name"]
    email = next(r["Email"] for r in app.emulator.store.tables["Lead"].records if r["Email"])
    by_email = q(api, f"SELECT Id, Email FROM Lead WHERE Email = '{email.upper()}'").json
    assert by_email["totalSize"] >= 1 and by_email["records"][0]["Email"] == email


@pytest.mark.parametrize("body", [{"enabled": None}, [], "on"])
def test_switch_values_are_checked(app, body):
    response = app.test_client().post("/_emulator/enhanced-email", json=body)
    assert response.status_code == 400
    assert app.emulator.enhanced_email is True
