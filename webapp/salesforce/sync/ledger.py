"""The run ledger: queueing, claiming, progress and the end of a run.

A run is a row. Sync Now, the schedule and the CLI all queue one; the partial unique index
``uq_sync_run_one_active`` lets at most one be queued or running per workspace, so a second
request joins the first. A run is claimed with a compare-and-set, so exactly one process
runs it. A run whose process died is reaped: at once when its pid is gone on this host,
otherwise once its heartbeat is stale.

A reaped run is marked interrupted and, when the scheduler reaps it, retried: a ``retry`` run
linked to it is queued in the same transaction, not to be claimed before a backoff (1, 2, 4,
8 minutes by default), up to a number of attempts; after the last the workspace waits for its
next scheduled run, and the interrupted run's reason says so.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from webapp.clock import utcnow
from webapp.models import ACTIVE_STATUSES, SyncRun

RUN = SyncRun.__table__
STALE_AFTER = timedelta(minutes=5)
HOST = socket.gethostname()
# Runs the scheduler retries after an interruption. A command-line run is its operator's to
# rerun, and a Retry of failed records is the admin's to press again.
RETRIED_TRIGGERS = ("daily", "interval", "connect", "manual", "push", "retry", "log")
INTERRUPTED = "Interrupted: the process running it stopped."


@dataclass(frozen=True)
class RetryBackoff:
    """When to retry an interrupted run: attempt n waits base × 2^(n-1) seconds, at most cap."""

    attempts: int = 4
    base_seconds: float = 60.0
    cap_seconds: float = 900.0

    def __post_init__(self) -> None:
        if self.attempts < 0 or self.base_seconds < 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("Retry backoff needs attempts ≥ 0 and 0 ≤ base seconds ≤ cap seconds.")

    def delay(self, attempt: int) -> timedelta:
        return timedelta(seconds=min(self.base_seconds * 2 ** (attempt - 1), self.cap_seconds))


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
            with engine.begin() as conn:
                row = active_run(conn, workspace_id)
                if row is not None:
                    # A retry waiting out its backoff runs now: someone wants a sync at once.
                    conn.execute(update(RUN).where(RUN.c.id == row.id, RUN.c.status == "queued").values(not_before=None))
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
    """Queued runs that may start now (a retry waits until ``not_before``)."""
    with engine.connect() as conn:
        return list(conn.execute(
            select(RUN.c.id).where(RUN.c.status == "queued", or_(RUN.c.not_before.is_(None), RUN.c.not_before <= utcnow()))
            .order_by(RUN.c.id)
        ).scalars())


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


def reap_stale(engine: Engine, workspace_id: int | None = None, *, backoff: RetryBackoff | None = None) -> list[int]:
    """Mark runs whose process is gone as interrupted, so the workspace can sync again, and
    with ``backoff`` queue their retry. The cursors only ever hold committed pages, so the
    next run resumes where the dead one got to."""
    now = utcnow()
    query = select(RUN.c.id, RUN.c.workspace_id, RUN.c.trigger, RUN.c.retry_attempt, RUN.c.worker,
                   RUN.c.heartbeat_at).where(RUN.c.status == "running")
    if workspace_id is not None:
        query = query.where(RUN.c.workspace_id == workspace_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    reaped = []
    for row in rows:
        if _dead(row.worker, row.heartbeat_at, now) and _interrupt(engine, row, now, backoff):
            reaped.append(row.id)
    return reaped


def _interrupt(engine: Engine, row, now: datetime, backoff: RetryBackoff | None) -> bool:
    attempt = (row.retry_attempt or 0) + 1 if row.trigger == "retry" else 1
    retry = backoff is not None and row.trigger in RETRIED_TRIGGERS
    spent = retry and attempt > backoff.attempts
    for queue in ((True, False) if retry and not spent else (False,)):
        try:
            with engine.begin() as conn:
                marked = conn.execute(
                    update(RUN).where(RUN.c.id == row.id, RUN.c.status == "running")
                    .values(status="interrupted", finished_at=now, current_object=None,
                            reason=f"{INTERRUPTED} The next run resumes from the last saved page.")
                ).rowcount
                if not marked:
                    return False  # another process reaped it first
                if queue:
                    at = now + backoff.delay(attempt)
                    retry_id = conn.execute(insert(RUN).values(
                        workspace_id=row.workspace_id, trigger="retry", status="queued", queued_at=now, not_before=at,
                        retry_of_id=row.id, retry_attempt=attempt, retry_limit=backoff.attempts, counts={}, api_calls=0,
                    ).returning(RUN.c.id)).scalar_one()
                    reason = (f"{INTERRUPTED} Retry {attempt} of {backoff.attempts} (run #{retry_id}) at "
                              f"{at:%H:%M:%S} UTC resumes from the last saved page.")
                elif spent and backoff.attempts:
                    reason = (f"{INTERRUPTED} All {backoff.attempts} retries are spent: the next scheduled run "
                              "resumes from the last saved page.")
                else:
                    reason = None
                if reason:
                    conn.execute(update(RUN).where(RUN.c.id == row.id).values(reason=reason))
            return True
        except IntegrityError:
            continue  # a run was queued meanwhile (a click, the schedule): it does the retry's work
    return False
