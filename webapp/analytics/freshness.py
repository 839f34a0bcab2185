"""Which workspaces' analytics facts are behind the mirror, durably.

The sync records a request (``fact_refresh``) in the same transaction as each page of mirror
writes that reach the facts; ``refresh_facts`` deletes the requests it saw in the transaction
that writes the new facts. So a process killed anywhere between the two leaves the request
behind, and whoever comes next (the next sync run, or the scheduler's leader on its planner
tick, through ``facts.catch_up``) finishes the job. No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.engine import Connection, Engine

from webapp.clock import utcnow
from webapp.models import ACTIVE_STATUSES, SyncRun
from webapp.models.analytics import FactRefresh
from webapp.salesforce.sync.upsert import insert_for

REFRESH = FactRefresh.__table__
RUN = SyncRun.__table__
WHOLE = "*"  # sobject and sf_id of a whole-workspace request
CONVERSATION = "Conversation"  # new mail: sf_id holds the conversation's id
# Past this many records in one call, the change is asked as a whole-workspace refresh: a first
# sync's pages or a big import are rebuilt at once rather than recorded row by row.
RECORDS_PER_REQUEST = 1000


@dataclass(frozen=True)
class Pending:
    id: int
    version: int
    sobject: str
    sf_id: str


def request(conn: Connection, workspace_id: int, sobject: str = WHOLE, sf_id: str = WHOLE) -> None:
    """Ask for a refresh, on the caller's transaction. Asking again bumps ``version``, so a
    refresh already under way leaves this request for the next one."""
    stmt = insert_for(conn, REFRESH).values(workspace_id=workspace_id, sobject=sobject, sf_id=sf_id, version=1,
                                            requested_at=utcnow())
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[REFRESH.c.workspace_id, REFRESH.c.sobject, REFRESH.c.sf_id],
        set_={"version": REFRESH.c.version + 1, "requested_at": stmt.excluded.requested_at},
    ))


def request_records(conn: Connection, workspace_id: int, sobject: str, sf_ids) -> None:
    """Ask for the facts that depend on these records, on the caller's transaction."""
    ids = sorted({str(i) for i in sf_ids if i is not None})
    if not ids:
        return
    if len(ids) > RECORDS_PER_REQUEST:
        request(conn, workspace_id)
        return
    now = utcnow()
    stmt = insert_for(conn, REFRESH)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[REFRESH.c.workspace_id, REFRESH.c.sobject, REFRESH.c.sf_id],
            set_={"version": REFRESH.c.version + 1, "requested_at": stmt.excluded.requested_at},
        ),
        [{"workspace_id": workspace_id, "sobject": sobject, "sf_id": i, "version": 1, "requested_at": now} for i in ids],
    )


def pending(conn: Connection, workspace_id: int) -> list[Pending]:
    """The workspace's open requests: what a refresh starting now covers."""
    return [Pending(*r) for r in conn.execute(
        select(REFRESH.c.id, REFRESH.c.version, REFRESH.c.sobject, REFRESH.c.sf_id)
        .where(REFRESH.c.workspace_id == workspace_id))]


def count(conn: Connection, workspace_id: int, limit: int) -> int:
    """How many requests are open, counted up to ``limit`` (enough to choose how to refresh)."""
    capped = select(REFRESH.c.id).where(REFRESH.c.workspace_id == workspace_id).limit(limit).subquery()
    return conn.execute(select(func.count()).select_from(capped)).scalar_one()


def clear(conn: Connection, seen: list[Pending]) -> None:
    """Delete the requests a refresh covered; those asked again since (a new version) stay."""
    if seen:
        conn.execute(
            delete(REFRESH).where(REFRESH.c.id == bindparam("rid"), REFRESH.c.version == bindparam("rversion")),
            [{"rid": p.id, "rversion": p.version} for p in seen],
        )


def stale_workspaces(engine: Engine) -> list[int]:
    """Workspaces with open requests and no sync queued or running (that run refreshes at its end)."""
    busy = select(RUN.c.id).where(RUN.c.workspace_id == REFRESH.c.workspace_id, RUN.c.status.in_(ACTIVE_STATUSES))
    with engine.connect() as conn:
        return list(conn.execute(
            select(REFRESH.c.workspace_id).where(~busy.exists()).distinct().order_by(REFRESH.c.workspace_id)).scalars())
