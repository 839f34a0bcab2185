"""Pending creates of the outbox: found in Salesforce, or released to be sent again.

A pending link carries what its create sent and when. Salesforce is asked for the
opportunities our user created since then (queryAll, so one deleted meanwhile is found too);
one with the same name, account, stage and close date that no other link holds is the one we
created, and is linked. Two pending deals that sent identical values may take either record:
they are indistinguishable, and the next push writes each deal's own latest values.
Nothing found and the create is older than the grace period: it never reached Salesforce,
and is sent again. Younger ones wait, since the request may still be in flight.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from webapp.clock import utcnow
from webapp.models import SyncLink
from webapp.salesforce import soql
from webapp.salesforce.client import SalesforceClient
from webapp.salesforce.sync.ownership import meaning_of
from webapp.salesforce.sync.pages import Budget
from webapp.salesforce.sync.reconcile import org_stages

LINK = SyncLink.__table__
CLOCK_SKEW = timedelta(minutes=5)  # our clock against Salesforce's


def _same(sent: dict, record: dict) -> bool:
    return (record.get("Name") == sent.get("name") and record.get("StageName") == sent.get("stage")
            and (record.get("CloseDate") or None) == sent.get("close_date")
            and ("account" not in sent or record.get("AccountId") == sent.get("account")))


def resolve(engine: Engine, client: SalesforceClient, workspace_id: int, budget: Budget, *, user_id: str | None,
            grace: timedelta, counts: dict, now: datetime | None = None) -> int:
    """Settle every pending create; returns how many are still waiting."""
    with engine.connect() as conn:
        pending = conn.execute(select(LINK.c.id, LINK.c.state, LINK.c.sent, LINK.c.sent_at).where(
            LINK.c.workspace_id == workspace_id, LINK.c.kind == "deal", LINK.c.sf_id.is_(None),
            LINK.c.sent_at.is_not(None)).order_by(LINK.c.id)).all()
        if not pending:
            return 0
        taken = set(conn.execute(select(LINK.c.sf_id).where(LINK.c.workspace_id == workspace_id, LINK.c.kind == "deal",
                                                            LINK.c.sf_id.is_not(None))).scalars())
        stages = org_stages(conn, workspace_id)
    now = now or utcnow()
    since = min(p.sent_at for p in pending) - CLOCK_SKEW
    where = f"CreatedDate >= {soql.datetime_literal(since)}"
    if user_id:
        where += f" AND CreatedById = {soql.quote(user_id)}"
    budget.check(client)
    candidates = [r for r in client.query_all(
        f"SELECT Id, Name, StageName, CloseDate, AccountId, CreatedDate FROM Opportunity WHERE {where} ORDER BY CreatedDate, Id")
        if r.get("Id") not in taken]
    waiting = 0
    with engine.begin() as conn:
        for link in pending:
            sent = link.sent or {}
            match = next((r for r in candidates if _same(sent, r)), None)
            if match is not None:
                candidates.remove(match)
                base = dict(sent, stage_meaning=meaning_of(sent.get("stage"), stages))
                conn.execute(update(LINK).where(LINK.c.id == link.id).values(
                    sf_id=match["Id"], state="linked" if link.state == "pending" else link.state, base=base,
                    sent=None, sent_at=None, sf_stamp=None, updated_at=now))
                counts["recovered"] = counts.get("recovered", 0) + 1
            elif now - link.sent_at >= grace:
                conn.execute(update(LINK).where(LINK.c.id == link.id).values(
                    state="new" if link.state == "pending" else link.state, sent=None, sent_at=None, updated_at=now))
            else:
                waiting += 1
    return waiting
