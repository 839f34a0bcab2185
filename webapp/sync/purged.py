"""When the id-only reconciliation runs: weekly, on the scheduler's leader, and what the
settings page says of it. The work itself is the runner's (``reconcile`` runs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from webapp.clock import as_utc, utcnow
from webapp.models import SyncCursor
from webapp.salesforce.sync.objects import OBJECTS
from webapp.salesforce.sync.runner import RECYCLE_BIN

CURSOR = SyncCursor.__table__
RECONCILE_EVERY = timedelta(days=7)
RETRY_AFTER = timedelta(hours=6)  # after a reconciliation that did not finish
CHECKED = tuple(spec.name for spec in OBJECTS if spec.deletable)  # what has a Recycle Bin


@dataclass(frozen=True)
class ReconcileView:
    last: datetime | None  # every object was reconciled at least this recently
    next: datetime | None  # None: not before the first sync
    every: timedelta = RECONCILE_EVERY
    recycle_bin: timedelta = RECYCLE_BIN

    @property
    def overdue(self) -> bool:
        return self.next is not None and self.next <= utcnow()

    @property
    def every_label(self) -> str:
        return "Weekly" if self.every == timedelta(days=7) else f"Every {self.every.days} days"


def view(conn: Connection, workspace_id: int) -> ReconcileView:
    rows = conn.execute(select(CURSOR.c.last_success_at, CURSOR.c.last_reconciled_at).where(
        CURSOR.c.workspace_id == workspace_id, CURSOR.c.sobject.in_(CHECKED), CURSOR.c.last_success_at.is_not(None))).all()
    if not rows:
        return ReconcileView(None, None)
    stamps = [as_utc(r.last_reconciled_at) for r in rows]
    if any(s is None for s in stamps):
        never = min(as_utc(r.last_success_at) for r, s in zip(rows, stamps) if s is None)
        return ReconcileView(min((s for s in stamps if s), default=None), never)
    last = min(stamps)
    return ReconcileView(last, last + RECONCILE_EVERY)


def due(conn: Connection, workspace_id: int, now: datetime) -> bool:
    upcoming = view(conn, workspace_id).next
    return upcoming is not None and upcoming <= now
