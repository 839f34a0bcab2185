"""The run ledger: queueing, claiming, progress and the end of a run.

A run is a row. Sync Now, the schedule and the CLI all queue one; the partial unique index
``uq_sync_run_one_active`` lets at most one be queued or running per workspace, so a second
request joins the first. A run is claimed with a compare-and-set, so exactly one process
runs it. A run whose process died is reaped: at once when its pid is gone on this host,
otherwise once its heartbeat is stale.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from webapp.clock import utcnow
from webapp.models import ACTIVE_STATUSES, SyncRun

RUN = SyncRun.__table__
STALE_AFTER = timedelta(minutes=5)
HOST = socket.gethostname()


def worker_id() -> str:
    return f"{HOST}:{os.getpid()}"


@dataclass(frozen=True)
class Requested:
    run_id: int
    joined: bool  # True: a run was already queued or running, and this request joined it
    status: str


def active_run(conn: Connection, workspace_id: int):
    return conn.execute(
        select(RUN.c.id, RUN.c.status).where(RUN.c.workspace_id == workspace_id, RUN.c.status.in_(ACTIVE_STATUSES))
    ).first()


def request_run(engine: Engine, workspace_id: int, trigger: str, *, user_id: int | None = None, retry_error_id: int | None = None) -> Requested:
    """Queue a run, or join the one already queued or running."""
    reap_stale(engine, workspace_id)
    for _ in range(3):
        try:
            with engine.begin() as conn:
                run_id = conn.execute(
                    insert(RUN).values(
                        workspace_id=workspace_id, trigger=trigger, status="queued", requested_by_id=user_id,
                        retry_error_id=retry_error_id, queued_at=utcnow(), counts={}, api_calls=0,
                    ).returning(RUN.c.id)
                ).scalar_one()
            return Requested(run_id, False, "queued")
        except IntegrityError:
            with engine.connect() as conn:
                row = active_run(conn, workspace_id)
            if row is not None:
                return Requested(row.id, True, row.status)
    raise RuntimeError("Could not queue a sync run.")


def claim(engine: Engine, run_id: int) -> bool:
    """queued → running for this process; False when someone else got it first."""
    now = utcnow()
    with engine.begin() as conn:
        result = conn.execute(
            update(RUN)
            .where(RUN.c.id == run_id, RUN.c.status == "queued")
            .values(status="running", started_at=now, heartbeat_at=now, worker=worker_id())
        )
    return result.rowcount == 1


def queued_runs(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(RUN.c.id).where(RUN.c.status == "queued").order_by(RUN.c.id)).scalars())


def progress(conn: Connection, run_id: int, *, counts: dict, api_calls: int, current: str | None) -> None:
    conn.execute(
        update(RUN).where(RUN.c.id == run_id).values(
            counts=counts, api_calls=api_calls, current_object=current, heartbeat_at=utcnow()
        )
    )


def finish(engine: Engine, run_id: int, status: str, reason: str | None, *, counts: dict | None = None, api_calls: int | None = None, usage=None) -> None:
    values = {"status": status, "reason": reason, "finished_at": utcnow(), "current_object": None}
    if counts is not None:
        values["counts"] = counts
    if api_calls is not None:
        values["api_calls"] = api_calls
    if usage is not None:
        values["org_used"], values["org_limit"] = usage.used, usage.limit
    with engine.begin() as conn:
        conn.execute(update(RUN).where(RUN.c.id == run_id, RUN.c.status == "running").values(**values))


def _dead(worker: str | None, heartbeat: datetime | None, now: datetime) -> bool:
    if heartbeat is None or now - heartbeat > STALE_AFTER:
        return True
    host, _, pid = (worker or "").rpartition(":")
    if host != HOST or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def reap_stale(engine: Engine, workspace_id: int | None = None) -> list[int]:
    """Mark runs whose process is gone as failed, so the workspace can sync again. The cursors
    only ever hold committed pages, so the next run resumes where the dead one got to."""
    now = utcnow()
    query = select(RUN.c.id, RUN.c.worker, RUN.c.heartbeat_at).where(RUN.c.status == "running")
    if workspace_id is not None:
        query = query.where(RUN.c.workspace_id == workspace_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    reaped = [r.id for r in rows if _dead(r.worker, r.heartbeat_at, now)]
    if reaped:
        with engine.begin() as conn:
            conn.execute(
                update(RUN).where(RUN.c.id.in_(reaped), RUN.c.status == "running").values(
                    status="failed", reason="Interrupted: the process running it stopped. The next run resumes from the last saved page.",
                    finished_at=now, current_object=None,
                )
            )
    return reaped
