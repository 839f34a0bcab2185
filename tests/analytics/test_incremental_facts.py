"""Facts follow imported mail and mirror changes without a rebuild, and end up equal to one;
a whole-workspace request or too many changes rebuild instead; the CLI rebuilds on demand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text, update

from tests.analytics.tables import as_rebuilt, facts_table, menu_counts
from tests.mailimport.mail import eml, mbox
from webapp.analytics import facts, freshness
from webapp.analytics.facts import rebuild, refresh_changes
from webapp.db import get_engine, session_scope
from webapp.mailimport.importer import import_messages
from webapp.mailimport.sources import iter_path
from webapp.models import Workspace, WorkspaceAddress
from webapp.models.analytics import FactRefresh
from webapp.models.mirror import SfAccount, SfContact, SfOpportunity, SfOpportunityHistory, SfUser

STAMP = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def workspace(db, make_user):
    """Acme with a small mirror: two accounts (one found by website only), contacts, one of
    them sharing an address with another, opportunities and stage history."""
    make_user("admin@acme.test", role="admin", workspace="Acme")
    with db() as s:
        ws = s.execute(select(Workspace.id).where(Workspace.name == "Acme")).scalar_one()
        s.add(WorkspaceAddress(workspace_id=ws, value="acme.test"))
        s.add(SfUser(workspace_id=ws, sf_id="005A", name="Olga Owner"))
        for sf_id, name, domain in (("001A", "Alpha Inc", "alpha.com"), ("001B", "Beta GmbH", "beta.io")):
            s.add(SfAccount(workspace_id=ws, sf_id=sf_id, name=name, type="Customer", industry="Energy",
                            website=f"https://{domain}", website_domain=domain, owner_id="005A", system_modstamp=STAMP))
        for sf_id, email, account, source in (("003A", "ann@alpha.com", "001A", "Web"),
                                               ("003B", "bob@beta.io", "001B", "Partner"),
                                               ("003C", "bob@beta.io", None, "Phone")):
            s.add(SfContact(workspace_id=ws, sf_id=sf_id, email=email, email_normalized=email, account_id=account,
                            lead_source=source, system_modstamp=STAMP))
        s.add(SfOpportunity(workspace_id=ws, sf_id="006A", account_id="001A", stage_name="Qualification",
                            system_modstamp=STAMP))
        s.add(SfOpportunityHistory(workspace_id=ws, sf_id="008A", opportunity_id="006A", stage_name="Prospecting",
                                   created_date=datetime(2026, 8, 1, tzinfo=UTC), system_modstamp=STAMP))
    return ws


def _import(app, ws, tmp_path, *messages: bytes, name="mail.mbox"):
    path = tmp_path / name
    path.write_bytes(mbox(*messages))
    with session_scope(get_engine(app)) as s:
        return import_messages(s, ws, iter_path(path), source=path.name)


FIRST = [
    eml(frm="Ann <ann@alpha.com>", message_id="<a1@alpha.com>", date="Tue, 01 Sep 2026 09:00:00 +0000"),
    eml(frm="support@acme.test", to="ann@alpha.com", message_id="<a2@acme.test>", in_reply_to="<a1@alpha.com>",
        subject="Re: Pricing question", date="Tue, 01 Sep 2026 10:00:00 +0000"),
    eml(frm="Bob <bob@beta.io>", message_id="<b1@beta.io>", subject="Invoice", date="Wed, 02 Sep 2026 09:00:00 +0000"),
    eml(frm="Cy <cy@beta.io>", message_id="<c1@beta.io>", subject="Hello", date="Thu, 03 Sep 2026 09:00:00 +0000"),
    eml(frm="Dee <dee@gmail.com>", message_id="<d1@gmail.com>", subject="Hi", date="Thu, 03 Sep 2026 11:00:00 +0000"),
]


def _requests(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(FactRefresh.sobject, FactRefresh.sf_id))]


def test_imported_mail_refreshes_only_its_conversations_and_equals_a_rebuild(app, workspace, tmp_path):
    engine = get_engine(app)
    _import(app, workspace, tmp_path, *FIRST)
    rebuild(engine, workspace)
    # A reply into an existing conversation (it ends Bob's wait) and a new thread.
    _import(app, workspace, tmp_path,
            eml(frm="support@acme.test", to="bob@beta.io", message_id="<b2@acme.test>", in_reply_to="<b1@beta.io>",
                subject="Re: Invoice", date="Wed, 02 Sep 2026 12:00:00 +0000"),
            eml(frm="Ann <ann@alpha.com>", message_id="<a3@alpha.com>", subject="Renewal",
                date="Fri, 04 Sep 2026 09:00:00 +0000"), name="more.mbox")
    asked = _requests(engine)
    assert {s for s, _ in asked} == {freshness.CONVERSATION} and len(asked) == 2

    done = refresh_changes(engine, workspace)
    assert done.mode == "incremental"
    assert done.facts == 3  # Bob's two messages and Ann's new one, nothing else
    assert _requests(engine) == []
    before, rebuilt = as_rebuilt(engine, workspace)
    assert before == rebuilt
    bob = [f for f in before[0] if f["counterpart"] == "bob@beta.io"]
    assert [f["response_seconds"] for f in bob] == [3 * 3600, None]


def _changed(engine, ws, sobject, *ids):
    with engine.begin() as conn:
        freshness.request_records(conn, ws, sobject, ids)


def test_mirror_changes_refresh_the_facts_they_reach_as_a_rebuild_would(app, workspace, tmp_path):
    engine = get_engine(app)
    _import(app, workspace, tmp_path, *FIRST)
    rebuild(engine, workspace)
    start = facts_table(engine), menu_counts(engine)
    with engine.begin() as conn:
        # Ann's contact moves to Beta; Beta is renamed; the Alpha website goes to gmail (ignored);
        # Bob's newer duplicate contact wins his address; a history step on Alpha's opportunity.
        conn.execute(update(SfContact).where(SfContact.sf_id == "003A").values(account_id="001B"))
        conn.execute(update(SfAccount).where(SfAccount.sf_id == "001B").values(name="Beta AG", type="Partner"))
        conn.execute(update(SfContact).where(SfContact.sf_id == "003C").values(
            last_modified_date=datetime(2026, 6, 1, tzinfo=UTC)))
        conn.execute(SfOpportunityHistory.__table__.insert().values(
            workspace_id=workspace, sf_id="008B", opportunity_id="006A", stage_name="Negotiation/Review",
            created_date=datetime(2026, 8, 15, tzinfo=UTC), system_modstamp=STAMP, is_deleted=False, synced_at=STAMP))
    _changed(engine, workspace, "Contact", "003A", "003C")
    _changed(engine, workspace, "Account", "001B")
    _changed(engine, workspace, "OpportunityHistory", "008B")

    done = refresh_changes(engine, workspace)
    assert done.mode == "incremental" and done.facts > 0
    after, rebuilt = as_rebuilt(engine, workspace)
    assert after == rebuilt
    assert after != start
    ann = next(f for f in after[0] if f["counterpart"] == "ann@alpha.com")
    assert (ann["account_name"], ann["account_type"]) == ("Beta AG", "Partner")
    assert next(f for f in after[0] if f["counterpart"] == "bob@beta.io")["lead_source"] == "Phone"

    # Deletes: the account behind Cy's domain and Ann's contact are gone.
    with engine.begin() as conn:
        conn.execute(update(SfAccount).where(SfAccount.sf_id == "001B").values(is_deleted=True))
        conn.execute(update(SfContact).where(SfContact.sf_id == "003A").values(is_deleted=True))
    _changed(engine, workspace, "Account", "001B")
    _changed(engine, workspace, "Contact", "003A")
    assert refresh_changes(engine, workspace).mode == "incremental"
    after, rebuilt = as_rebuilt(engine, workspace)
    assert after == rebuilt
    assert not any(f["account_sf_id"] == "001B" for f in after[0])


def test_a_whole_workspace_request_or_too_many_changes_rebuild(app, workspace, tmp_path, monkeypatch):
    engine = get_engine(app)
    _import(app, workspace, tmp_path, *FIRST)
    assert refresh_changes(engine, workspace).mode == "incremental"  # new mail in five conversations
    assert refresh_changes(engine, workspace).mode == "none"
    with engine.begin() as conn:
        freshness.request(conn, workspace)
    assert refresh_changes(engine, workspace) == facts.Refresh("rebuild", len(FIRST))

    monkeypatch.setattr(facts, "MAX_RECORD_REQUESTS", 2)
    _changed(engine, workspace, "Contact", "003A", "003B", "003C")
    assert refresh_changes(engine, workspace).mode == "rebuild"
    assert _requests(engine) == []

    # A page of more records than one request follows asks for the whole workspace at once.
    _changed(engine, workspace, "Contact", *(f"003X{i:05d}" for i in range(freshness.RECORDS_PER_REQUEST + 1)))
    assert _requests(engine) == [(freshness.WHOLE, freshness.WHOLE)]


def test_a_request_made_while_a_refresh_runs_stays_for_the_next(app, workspace, tmp_path):
    engine = get_engine(app)
    _import(app, workspace, tmp_path, *FIRST)
    with engine.connect() as conn:
        seen = freshness.pending(conn, workspace)  # what a refresh starting now covers
    again = next(p.sf_id for p in seen if p.sobject == freshness.CONVERSATION)
    _changed(engine, workspace, freshness.CONVERSATION, again)  # asked again meanwhile
    _changed(engine, workspace, "Contact", "003A")  # asked for the first time meanwhile
    with engine.begin() as conn:
        freshness.clear(conn, seen)
    assert sorted(_requests(engine)) == [("Contact", "003A"), (freshness.CONVERSATION, again)]


def test_cli_rebuilds_a_workspace_and_refuses_an_unknown_one(app, workspace, tmp_path):
    engine = get_engine(app)
    _import(app, workspace, tmp_path, *FIRST)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["analytics", "rebuild", "--workspace", "Acme"])
    assert result.exit_code == 0, result.output
    assert "Rebuilt 5 facts of “Acme”" in result.output
    assert len(facts_table(engine)) == 5 and _requests(engine) == []

    result = runner.invoke(args=["analytics", "refresh", "--workspace", "Acme"])
    assert result.exit_code == 0 and "up to date" in result.output

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM message_fact"))
    for args in (["analytics", "rebuild", "--workspace", "Nope"], ["analytics", "refresh", "--workspace", "Nope"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1
        assert "No workspace named “Nope” (workspaces: “Acme”)" in result.output
    assert runner.invoke(args=["analytics", "rebuild"]).exit_code == 2  # --workspace is required
    assert facts_table(engine) == []  # nothing was written
