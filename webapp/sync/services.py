"""What the settings page shows of the sync, and the admin's actions on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from webapp.clock import utcnow
from webapp.integrations.salesforce_card import record_url
from webapp.models import ACTIVE_STATUSES, SalesforceConnection, SyncRecordError, SyncRun, SyncSettings
from webapp.salesforce.sync import ledger
from webapp.salesforce.sync.objects import OBJECTS
from webapp.salesforce.sync.push import ERROR_OBJECT
from webapp.sync import activity, twoway
from webapp.sync.settings import EffectiveSettings, load_settings, next_daily

TRIGGER_LABELS = {"daily": "Scheduled", "interval": "Scheduled", "connect": "First sync after connecting",
                  "manual": "Sync Now", "push": "Push immediately", "errors": "Retry failed records",
                  "cli": "Command line", "cli_errors": "Command line: failed records", "retry": "Retry after an interrupted run"}
OBJECT_LABELS = {"OpportunityStage": "Stages", "Account": "Accounts", "Contact": "Contacts",
                 "Opportunity": "Opportunities", "OpportunityHistory": "Stage history", "Inbox contacts": "Inbox contacts",
                 "Deals": "Deals → opportunities", "Contacts (inbox edits)": "Contact edits → Salesforce",
                 "Emails": "Emails → Salesforce"}
ORDER = [s.name for s in OBJECTS] + ["Inbox contacts", "Deals", "Contacts (inbox edits)", "Emails"]
RECENT = 10
ERRORS_SHOWN = 50


class NotFound(LookupError):
    pass


@dataclass
class CountRow:
    label: str
    mode: str | None
    total: int | None
    fetched: int
    created: int
    updated: int
    deleted: int
    failed: int
    note: str | None = None
    push: dict | None = None  # a two-way row: created, updated, deleted, failed, conflicts, from_salesforce, unlinked


@dataclass
class RunView:
    id: int
    trigger: str
    status: str
    reason: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    current_object: str | None
    api_calls: int
    org_used: int | None
    org_limit: int | None
    rows: list[CountRow] = field(default_factory=list)
    retry_error_id: int | None = None
    retry_of_id: int | None = None
    retry_attempt: int | None = None
    retry_limit: int | None = None
    not_before: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def trigger_label(self) -> str:
        if self.trigger == "retry" and self.retry_attempt:
            return f"Retry {self.retry_attempt} of {self.retry_limit} after an interrupted run"
        if self.trigger == "errors" and self.retry_error_id is not None:
            return "Retry of one record"
        return TRIGGER_LABELS.get(self.trigger, self.trigger)

    @property
    def waiting(self) -> bool:
        """Queued, and not to start before ``not_before`` (a retry's backoff)."""
        return self.status == "queued" and self.not_before is not None and self.not_before > utcnow()

    @property
    def current_label(self) -> str | None:
        return OBJECT_LABELS.get(self.current_object or "", self.current_object)

    @property
    def seconds(self) -> float | None:
        if not self.started_at:
            return None
        return ((self.finished_at or utcnow()) - self.started_at).total_seconds()

    @property
    def totals(self) -> dict:
        keys = ("fetched", "created", "updated", "deleted", "failed")
        return {k: sum(getattr(r, k) for r in self.rows if r.label != "Inbox contacts" and r.push is None) for k in keys}

    @property
    def push_totals(self) -> dict:
        """What went to Salesforce: records pushed, conflicts settled, pushes that failed."""
        rows = [r.push for r in self.rows if r.push is not None]
        pushed = sum(p.get("created", 0) + p.get("updated", 0) + p.get("deleted", 0) for p in rows)
        return {"pushed": pushed, "conflicts": sum(p.get("conflicts", 0) for p in rows),
                "failed": sum(p.get("failed", 0) for p in rows),
                "from_salesforce": sum(p.get("from_salesforce", 0) for p in rows)}

    @property
    def status_label(self) -> str:
        if self.status == "paused" and (self.reason or "").startswith("API budget"):
            return "Paused: API budget"
        if self.status == "paused":
            return "Paused: API limit"
        return {"queued": "Queued", "running": "Running", "succeeded": "Done", "failed": "Failed",
                "interrupted": "Interrupted"}.get(self.status, self.status)


@dataclass
class ErrorView:
    id: int
    sobject: str
    sf_id: str
    message: str
    attempts: int
    updated_at: datetime
    match_sobject: str | None = None  # the record a duplicate rule says this one duplicates
    match_url: str | None = None

    @property
    def push(self) -> bool:
        return self.sobject in ERROR_OBJECT.values()


@dataclass
class SyncPage:
    settings: EffectiveSettings
    next_run_at: datetime | None
    latest: RunView | None
    recent: list[RunView]
    errors: list[ErrorView]
    error_count: int
    two_way: object = None  # webapp.sync.twoway.TwoWayView
    activity: object = None  # webapp.sync.activity.ActivityView


def _run_view(row) -> RunView:
    counts = row.counts or {}
    rows = []
    for name in sorted(counts, key=lambda n: ORDER.index(n) if n in ORDER else 99):
        c = counts[name]
        rows.append(CountRow(OBJECT_LABELS.get(name, name), c.get("mode"), c.get("total"), c.get("fetched", 0),
                             c.get("created", 0), c.get("updated", 0), c.get("deleted", 0), c.get("failed", 0), c.get("note"),
                             push=dict(c) if c.get("mode") == "push" else None))
    return RunView(row.id, row.trigger, row.status, row.reason, row.queued_at, row.started_at, row.finished_at,
                   row.current_object, row.api_calls, row.org_used, row.org_limit, rows, row.retry_error_id,
                   row.retry_of_id, row.retry_attempt, row.retry_limit, row.not_before)


def run_view(session: Session, workspace_id: int, run_id: int) -> RunView:
    row = session.execute(select(SyncRun).where(SyncRun.id == run_id, SyncRun.workspace_id == workspace_id)).scalar_one_or_none()
    if row is None:
        raise NotFound("No such sync run in this workspace.")
    session.refresh(row)  # the run moves on in another thread or process
    return _run_view(row)


def page(session: Session, workspace_id: int) -> SyncPage:
    settings = load_settings(session, workspace_id)
    runs = session.execute(
        select(SyncRun).where(SyncRun.workspace_id == workspace_id).order_by(SyncRun.id.desc()).limit(RECENT)
    ).scalars().all()
    views = [_run_view(r) for r in runs]
    errors = session.execute(
        select(SyncRecordError).where(SyncRecordError.workspace_id == workspace_id)
        .order_by(SyncRecordError.updated_at.desc(), SyncRecordError.id).limit(ERRORS_SHOWN)
    ).scalars().all()
    count = session.execute(
        select(func.count()).select_from(SyncRecordError).where(SyncRecordError.workspace_id == workspace_id)
    ).scalar_one()
    instance = session.execute(select(SalesforceConnection.instance_url).where(
        SalesforceConnection.workspace_id == workspace_id)).scalar() if any(e.match_id for e in errors) else None
    now = utcnow()
    next_run = None
    if settings.frequency == "daily":
        next_run = next_daily(settings, now)
    return SyncPage(
        settings=settings, next_run_at=next_run, latest=views[0] if views else None, recent=views,
        errors=[ErrorView(e.id, e.sobject, e.sf_id, e.message, e.attempts, e.updated_at, e.match_sobject,
                          record_url(instance, e.match_id, e.match_sobject) if e.match_id and e.match_sobject else None)
                for e in errors],
        error_count=count, two_way=twoway.view(session, workspace_id), activity=activity.view(session, workspace_id),
    )


def sync_now(engine: Engine, workspace_id: int, user_id: int) -> ledger.Requested:
    return ledger.request_run(engine, workspace_id, "manual", user_id=user_id)


def retry(session: Session, engine: Engine, workspace_id: int, user_id: int, error_id: int | None = None) -> ledger.Requested:
    if error_id is not None:
        found = session.execute(
            select(SyncRecordError.id).where(SyncRecordError.id == error_id, SyncRecordError.workspace_id == workspace_id)
        ).scalar_one_or_none()
        if found is None:
            raise NotFound("That error is gone: a later sync may have taken the record in.")
    return ledger.request_run(engine, workspace_id, "errors", user_id=user_id, retry_error_id=error_id)


def push_soon(session: Session, engine: Engine, workspace_id: int, user_id: int) -> ledger.Requested | None:
    """After an inbox edit: with two-way sync and "push immediately" on, queue a run (or join
    the one under way) for the scheduler to pick up. Never calls Salesforce itself."""
    row = session.execute(select(SyncSettings.two_way, SyncSettings.push_immediately).where(
        SyncSettings.workspace_id == workspace_id)).first()
    if not (row and row[0] and row[1]):
        return None
    return ledger.request_run(engine, workspace_id, "push", user_id=user_id)
