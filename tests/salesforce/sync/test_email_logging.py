"""Logging email to Salesforce against the emulator over HTTP: one EmailMessage per message
with its relations and RelatedTo, the Task fallback without Enhanced Email, exclusions,
subject-only, hostile input, a create without a clear answer, failures and Retry."""

from __future__ import annotations

import time

from sqlalchemy import text

from tests.salesforce.conftest import connect_with_oauth
from tests.salesforce.sync.conftest import sync
from tests.salesforce.sync.email_helpers import conversation, customer_with_open_opportunity, live, log_rows, logging_on
from tests.salesforce.sync.twoway_helpers import api
from webapp.db import get_engine


def _connected(admin_client, emulator):
    connect_with_oauth(admin_client, emulator)
    app = admin_client.app
    _, outcome = sync(app)  # the mirror
    assert outcome.status == "succeeded", outcome.reason
    return app


def _counts(app, run_id):
    with get_engine(app).connect() as conn:
        import json
        raw = conn.execute(text("SELECT counts FROM sync_run WHERE id = :r"), {"r": run_id}).scalar()
    return raw if isinstance(raw, dict) else json.loads(raw)


def test_each_message_becomes_one_email_on_the_open_opportunity_with_relations(admin_client, emulator):
    app = _connected(admin_client, emulator)
    contact, opps = customer_with_open_opportunity(emulator)
    newest = opps[0]
    time.sleep(1.05)  # whole-second stamps: the edit is later than every other
    api(emulator, "PATCH", f"sobjects/Opportunity/{newest['Id']}", json={"Description": "touched"})
    colleague = next(c for c in live(emulator, "Contact") if c["Email"] and c["Id"] != contact["Id"])
    logging_on(app, "auto")
    _, ids = conversation(app, contact["Email"], messages=3, cc=colleague["Email"])

    run_id, outcome = sync(app)
    assert outcome.status == "succeeded", outcome.reason
    emails = [e for e in live(emulator, "EmailMessage") if e["MessageIdentifier"].startswith("<m-")]
    assert len(emails) == 3
    assert {e["RelatedToId"] for e in emails} == {newest["Id"]}
    assert [e["Incoming"] for e in sorted(emails, key=lambda e: e["MessageIdentifier"])] == [True, False, True]
    assert {e["Status"] for e in emails} == {"1", "3"}
    relations = [r for r in live(emulator, "EmailMessageRelation") if r["EmailMessageId"] in {e["Id"] for e in emails}]
    by_email = {}
    for r in relations:
        by_email.setdefault(r["EmailMessageId"], set()).add((r["RelationId"], r["RelationType"]))
    for e in emails:
        kind = "FromAddress" if e["Incoming"] else "ToAddress"
        assert by_email[e["Id"]] == {(contact["Id"], kind), (colleague["Id"], "CcAddress")}
    # On the contact's, the account's and the opportunity's timelines: the logged activity.
    tasks = {t["Id"]: t for t in live(emulator, "Task")}
    for e in emails:
        task = tasks[e["ActivityId"]]
        assert (task["WhoId"], task["WhatId"], task["AccountId"]) == (contact["Id"], newest["Id"], contact["AccountId"])
    assert {r.state for r in log_rows(app)} == {"sent"}
    assert _counts(app, run_id)["Emails"]["created"] == 3

    _, again = sync(app)
    assert again.status == "succeeded"
    assert len([e for e in live(emulator, "EmailMessage") if e["MessageIdentifier"].startswith("<m-")]) == 3
    assert [r.message_id for r in log_rows(app)] == ids


def test_without_enhanced_email_a_completed_email_task_instead(admin_client, start_emulator):
    emulator = start_emulator(enhanced_email=False)
    app = _connected(admin_client, emulator)
    contact, opps = customer_with_open_opportunity(emulator)
    logging_on(app, "auto")
    _, ids = conversation(app, contact["Email"], messages=2, subject="Pricing", body="Our price list.")
    _, outcome = sync(app)
    assert outcome.status == "succeeded", outcome.reason
    tasks = [t for t in live(emulator, "Task") if (t["Subject"] or "").startswith("Email: Pricing [ref:")]
    assert len(tasks) == 2
    for t in tasks:
        assert (t["TaskSubtype"], t["Status"], t["WhoId"]) == ("Email", "Completed", contact["Id"])
        assert t["WhatId"] in {o["Id"] for o in opps}
        assert t["Description"].startswith("Our price list.") and "Message-ID: <m-" in t["Description"]
    rows = log_rows(app)
    assert {(r.state, r.sf_object) for r in rows} == {("sent", "Task")}
    assert {r.sf_id for r in rows} == {t["Id"] for t in tasks}
    sync(app)
    assert len([t for t in live(emulator, "Task") if (t["Subject"] or "").startswith("Email: Pricing [ref:")]) == 2


def test_exclusions_and_subject_only(admin_client, emulator):
    app = _connected(admin_client, emulator)
    contact, _ = customer_with_open_opportunity(emulator)
    logging_on(app, "auto", exclusions=["personal.example", "boss@acme.test"], subject_only=True)
    _, plain = conversation(app, contact["Email"], messages=1, subject="Plain", body="secret body text", prefix="p")
    _, cc_personal = conversation(app, contact["Email"], messages=1, subject="Cc", cc="me@home.personal.example", prefix="c")
    _, cc_boss = conversation(app, contact["Email"], messages=1, subject="Boss", cc="Boss <BOSS@acme.test>", prefix="b")
    run_id, outcome = sync(app)
    assert outcome.status == "succeeded", outcome.reason
    assert _counts(app, run_id)["Emails"]["note"] == "2 excluded."
    ours = {e["MessageIdentifier"][:2]: e for e in live(emulator, "EmailMessage") if e["MessageIdentifier"][1] in "pcb"}
    assert set(ours) == {"<p"}
    assert ours["<p"]["TextBody"] is None and ours["<p"]["Subject"] == "Plain"
    assert "secret body text" not in str(live(emulator, "Task"))
    rows = {r.message_id: r for r in log_rows(app)}
    assert rows[cc_personal[0]].state == "excluded" and "personal.example" in rows[cc_personal[0]].error
    assert rows[cc_boss[0]].state == "excluded" and "boss@acme.test" in rows[cc_boss[0]].error
    assert rows[plain[0]].state == "sent"


def test_a_lead_and_hostile_input(admin_client, emulator):
    """Script and quotes in subjects, bodies and addresses go out as text, are escaped in SOQL
    and on the page."""
    app = _connected(admin_client, emulator)
    logging_on(app, "request")
    hostile = "o'brien+x@evil.example"
    lead_id = api(emulator, "POST", "sobjects/Lead/", json={"LastName": "O'Brien", "Company": "Evil",
                                                            "Email": hostile}).json()["id"]
    subject = "<script>alert('s')</script> ' OR Id != null"
    body = "<img src=x onerror=alert(1)> \\' \" DROP TABLE message; --"
    conv_id, ids = conversation(app, hostile, messages=1, subject=subject, body=body)
    assert admin_client.post(f"/inbox/{conv_id}/log").status_code == 302
    _, outcome = sync(app)
    assert outcome.status == "succeeded", outcome.reason
    email = next(e for e in live(emulator, "EmailMessage") if e["MessageIdentifier"] == f"<m-{conv_id}-0@mail.test>")
    assert (email["Subject"], email["TextBody"], email["RelatedToId"]) == (subject, body, None)
    relations = [r for r in live(emulator, "EmailMessageRelation") if r["EmailMessageId"] == email["Id"]]
    assert [(r["RelationId"], r["RelationType"]) for r in relations] == [(lead_id, "FromAddress")]
    page = admin_client.get(f"/inbox/{conv_id}").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert" in page and "Logged to Salesforce" in page


def test_log_queues_without_calling_salesforce_then_the_run_logs(admin_client, emulator):
    app = _connected(admin_client, emulator)
    contact, _ = customer_with_open_opportunity(emulator)
    conv_id, ids = conversation(app, contact["Email"], messages=2)
    off = admin_client.post(f"/inbox/{conv_id}/log")
    assert off.status_code == 302
    assert "is off" in admin_client.get(f"/inbox/{conv_id}").get_data(as_text=True)
    assert log_rows(app) == []
    logging_on(app, "request")
    page = admin_client.get(f"/inbox/{conv_id}").get_data(as_text=True)
    assert 'id="log-conversation"' in page
    sync(app)  # logging on request: a run alone logs nothing
    assert log_rows(app) == []
    before = emulator.app.emulator.calls.snapshot()
    assert admin_client.post(f"/inbox/{conv_id}/log").status_code == 302
    assert emulator.app.emulator.calls.snapshot() == before
    assert {r.state for r in log_rows(app)} == {"queued"}
    with get_engine(app).connect() as conn:
        run = conn.execute(text("SELECT id, \"trigger\", status FROM sync_run ORDER BY id DESC")).first()
    assert (run[1], run[2]) == ("log", "queued")  # its own trigger, not Sync Now
    from webapp.sync.execution import run_queued
    from tests.salesforce.sync.conftest import FAST
    outcome = run_queued(get_engine(app), app.extensions["vault"], None, run[0], client_options=FAST)
    assert outcome.status == "succeeded", outcome.reason
    rows = log_rows(app)
    assert {r.state for r in rows} == {"sent"}
    page = admin_client.get(f"/inbox/{conv_id}").get_data(as_text=True)
    assert page.count("Logged to Salesforce") == 2
    assert f"/lightning/r/EmailMessage/{rows[0].sf_id}/view" in page
    assert 'id="log-conversation"' not in page


def test_no_clear_answer_is_looked_up_not_resent(admin_client, emulator):
    app = _connected(admin_client, emulator)
    contact, _ = customer_with_open_opportunity(emulator)
    logging_on(app, "auto")
    conversation(app, contact["Email"], messages=3)
    emulator.app.emulator.set_faults(after_commit_503=1)
    _, outcome = sync(app)
    assert outcome.status == "failed" and "may have been made" in outcome.reason
    assert {r.state for r in log_rows(app)} == {"pending"}
    assert len([e for e in live(emulator, "EmailMessage") if e["MessageIdentifier"].startswith("<m-")]) == 3
    _, outcome = sync(app)
    assert outcome.status == "succeeded", outcome.reason
    emails = [e for e in live(emulator, "EmailMessage") if e["MessageIdentifier"].startswith("<m-")]
    assert len(emails) == 3
    assert {r.state for r in log_rows(app)} == {"sent"}
    assert {r.sf_id for r in log_rows(app)} == {e["Id"] for e in emails}
    # The relations went out once the emails were found.
    related = {r["EmailMessageId"] for r in live(emulator, "EmailMessageRelation")}
    assert {e["Id"] for e in emails} <= related


def test_a_refused_message_is_a_record_error_with_retry(admin_client, emulator):
    app = _connected(admin_client, emulator)
    contact, opps = customer_with_open_opportunity(emulator)
    logging_on(app, "auto")
    _, ids = conversation(app, contact["Email"], messages=1)
    # The mirror holds an open opportunity Salesforce does not have (e.g. deleted and purged
    # since): Salesforce refuses the email that points at it.
    with get_engine(app).begin() as conn:
        conn.execute(text("INSERT INTO sf_opportunity (workspace_id, sf_id, account_id, name, is_closed, is_won, "
                          "last_modified_date, system_modstamp, is_deleted, synced_at) VALUES (1, '006000000000999AAA', "
                          ":a, 'Ghost', false, false, '2099-01-01 00:00:00', '2099-01-01 00:00:00', false, "
                          "'2099-01-01 00:00:00')"), {"a": contact["AccountId"]})
    run_id, outcome = sync(app)
    assert outcome.status == "succeeded" and "could not be synced" in outcome.reason
    [row] = log_rows(app)
    assert row.state == "failed" and row.error
    with get_engine(app).connect() as conn:
        error_id, sobject, sf_id, message = conn.execute(text(
            "SELECT id, sobject, sf_id, message FROM sync_record_error")).one()
    assert (sobject, sf_id) == ("EmailMessage", str(ids[0])) and "Renewal quote" in message
    assert _counts(app, run_id)["Emails"]["failed"] == 1
    page = admin_client.get("/settings/integrations/salesforce").get_data(as_text=True)
    assert f"/inbox/messages/{ids[0]}" in page
    with get_engine(app).begin() as conn:
        conn.execute(text("DELETE FROM sf_opportunity WHERE sf_id = '006000000000999AAA'"))
    assert admin_client.post(f"/settings/integrations/salesforce/sync/errors/{error_id}/retry").status_code == 302
    with get_engine(app).connect() as conn:
        retry_run = conn.execute(text("SELECT id FROM sync_run WHERE \"trigger\" = 'errors'")).scalar_one()
    from webapp.sync.execution import run_queued
    from tests.salesforce.sync.conftest import FAST
    outcome = run_queued(get_engine(app), app.extensions["vault"], None, retry_run, client_options=FAST)
    assert outcome.status == "succeeded", outcome.reason
    [row] = log_rows(app)
    assert row.state == "sent" and emulator.app.emulator.store.get("EmailMessage", row.sf_id)["RelatedToId"] in {
        o["Id"] for o in opps}
    with get_engine(app).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sync_record_error")).scalar() == 0


def test_activity_settings_refuse_bad_input_and_keep_what_was_typed(admin_client, emulator):
    app = _connected(admin_client, emulator)
    url = "/settings/integrations/salesforce/sync/activity"
    bad = admin_client.post(url, {"email_logging": "always", "email_exclusions": "gmail.com"})
    assert bad.status_code == 422 and "Choose off, on request or automatic" in bad.get_data(as_text=True)
    typed = "Colleague@Acme.test\nnot an address!!\n<script>x</script>"
    bad = admin_client.post(url, {"email_logging": "auto", "email_exclusions": typed})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "is neither an email address nor a domain" in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x</script>" not in page
    from webapp.sync.settings import load_settings
    from sqlmodel import Session
    with Session(get_engine(app)) as s:
        assert load_settings(s, 1).email_logging == "off"
    good = admin_client.post(url, {"email_logging": "request", "email_exclusions": "Colleague@Acme.test, @GMAIL.com\ngmail.com",
                                   "email_subject_only": "on"})
    assert good.status_code == 302
    with Session(get_engine(app)) as s:
        saved = load_settings(s, 1)
    assert (saved.email_logging, saved.email_exclusions, saved.email_subject_only) == (
        "request", ["colleague@acme.test", "gmail.com"], True)
    page = admin_client.get("/settings/integrations/salesforce?tab=activity").get_data(as_text=True)
    assert 'id="sync-activity"' in page and "colleague@acme.test\ngmail.com</textarea>" in page


def test_members_cannot_change_activity_settings(member_client):
    response = member_client.post("/settings/integrations/salesforce/sync/activity", {"email_logging": "auto"})
    assert response.status_code in (302, 403)
    with get_engine(member_client.app).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sync_settings WHERE email_logging = 'auto'")).scalar() == 0


def test_the_card_shows_the_last_logged_activity(admin_client, emulator):
    app = _connected(admin_client, emulator)
    contact, _ = customer_with_open_opportunity(emulator)
    logging_on(app, "auto")
    conversation(app, contact["Email"], messages=2)
    card = admin_client.get(f"/integrations/salesforce/card?email={contact['Email']}").get_data(as_text=True)
    assert 'id="sf-last-activity"' not in card
    sync(app)
    card = admin_client.get(f"/integrations/salesforce/card?email={contact['Email']}").get_data(as_text=True)
    assert "Last activity: 04 May 2026" in card


def test_a_shared_address_logs_to_the_record_an_agent_chose_on_the_card(admin_client, emulator):
    from webapp.integrations import salesforce_choices

    connect_with_oauth(admin_client, emulator)
    app = admin_client.app
    contact, _ = customer_with_open_opportunity(emulator)
    twin = api(emulator, "POST", "sobjects/Contact", json={"LastName": "Twin", "Email": contact["Email"]}).json()["id"]
    _, outcome = sync(app)  # the mirror holds both; the twin is the most recently modified
    assert outcome.status == "succeeded", outcome.reason
    salesforce_choices.remember(get_engine(app), 1, contact["Email"].lower(), "Contact", contact["Id"], user_id=1)
    logging_on(app, "auto")
    conversation(app, contact["Email"], messages=1, prefix="shared")
    _, outcome = sync(app)
    assert outcome.status == "succeeded", outcome.reason
    [email] = [e for e in live(emulator, "EmailMessage") if e["MessageIdentifier"].startswith("<shared-")]
    related = {r["RelationId"] for r in live(emulator, "EmailMessageRelation") if r["EmailMessageId"] == email["Id"]}
    assert contact["Id"] in related and twin not in related
