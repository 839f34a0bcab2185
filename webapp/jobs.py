"""The scheduler's jobs. They run only in the leader (webapp.scheduler) and get the service.

Sync Now and the schedule both work through rows: a queued run is claimed (compare-and-set)
and run here, so a click in any process runs exactly once; a scheduled run is queued only if
none was queued since the time it was due, so a new leader never repeats one. Each job first
passes the leader's fence (``service.may_act``), so a leader that lost its lock stops acting.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from webapp.analytics.facts import catch_up as catch_up_facts
from webapp.clock import utcnow
from webapp.mail.fetch import FetchOptions, due_mailboxes, fetch_mailbox
from webapp.models import SalesforceConnection, SyncRun
from webapp.salesforce.sync import ledger
from webapp.sync import purged
from webapp.sync.execution import run_queued
from webapp.sync.settings import EffectiveSettings, load_settings, next_daily

log = logging.getLogger(__name__)
# A due time missed while no leader ran is caught up within this window, not later.
CATCH_UP = timedelta(hours=6)


def run_queued_syncs(service) -> None:
    if not service.may_act():
        return
    ledger.reap_stale(service.engine, backoff=service.backoff)
    for run_id in ledger.queued_runs(service.engine):
        with service._guard:
            if run_id in service.in_flight or service.runs is None or not service.may_act():
                continue
            service.in_flight.add(run_id)
            service.runs.submit(_run, service, run_id)


def _run(service, run_id: int) -> None:
    try:
        run_queued(service.engine, service.vault, service.cache, run_id)
    finally:
        with service._guard:
            service.in_flight.discard(run_id)


def previous_due(settings: EffectiveSettings, now: datetime, last_run: datetime | None) -> datetime | None:
    """When the latest scheduled run was due, at or before ``now``."""
    if settings.frequency == "daily":
        return next_daily(settings, now - timedelta(days=1))
    if settings.frequency == "hours":
        if last_run is None:
            return now
        due = last_run + timedelta(hours=settings.interval_hours)
        return due if due <= now else None
    return None


def plan_scheduled_syncs(service) -> None:
    """Queue every scheduled run that is due. Each connected workspace syncs once right
    after it connects, then on its schedule."""
    if not service.may_act():
        return
    now = utcnow()
    with Session(service.engine) as session:
        workspaces = session.execute(
            select(SalesforceConnection.workspace_id, SalesforceConnection.connected_at)
            .where(SalesforceConnection.state == "connected")
        ).all()
        for workspace_id, connected_at in workspaces:
            settings = load_settings(session, workspace_id)
            last_any = session.execute(  # a reconciliation pulls nothing: the schedule goes on
                select(func.max(SyncRun.queued_at)).where(SyncRun.workspace_id == workspace_id,
                                                          SyncRun.trigger != "reconcile")
            ).scalar()
            trigger = "interval" if settings.frequency == "hours" else "daily"
            if last_any is None or (connected_at and last_any < connected_at):
                _enqueue(service, workspace_id, "connect", "first sync after connecting")
                continue
            # Any run since the due time (Sync Now included) already brought the data up to date.
            due = previous_due(settings, now, last_any)
            if due is not None and now - due <= CATCH_UP and last_any < due:
                _enqueue(service, workspace_id, trigger, f"due at {due.isoformat()}")
                continue
            # Weekly: the id-only check for records purged from Salesforce's Recycle Bin. One
            # that did not finish (the API limit, an outage) is tried again hours later, not at once.
            last_check = session.execute(select(func.max(SyncRun.queued_at)).where(
                SyncRun.workspace_id == workspace_id, SyncRun.trigger == "reconcile")).scalar()
            if purged.due(session.connection(), workspace_id, now) and (
                    last_check is None or now - last_check > purged.RETRY_AFTER):
                _enqueue(service, workspace_id, "reconcile", "weekly check for purged records")
    # Facts work a killed process left (it runs at the leader's start too: this job's first tick).
    catch_up_facts(service.engine)


def _enqueue(service, workspace_id: int, trigger: str, why: str) -> None:
    requested = ledger.request_run(service.engine, workspace_id, trigger)
    if not requested.joined:
        log.info("scheduled sync queued", extra={"workspace": workspace_id, "run": requested.run_id, "why": why})


def notify_admins(service) -> None:
    """Tell admins of a failed sync or a needed reconnect, once per incident (webapp.notify)."""
    if not service.may_act():
        return
    from webapp.notify.incidents import check

    check(service.engine, service.vault, service.base_url, service.mail_options)


def fetch_mailboxes(service) -> None:
    """Fetch every mailbox that is due (its interval passed, or "Fetch now" was pressed), each
    in the runs pool; a mailbox already being fetched here is left to that fetch."""
    if not service.may_act():
        return
    for mailbox_id in due_mailboxes(service.engine):
        key = ("mailbox", mailbox_id)
        with service._guard:
            if key in service.in_flight or service.runs is None or not service.may_act():
                continue
            service.in_flight.add(key)
            service.runs.submit(_fetch, service, mailbox_id)


def _fetch(service, mailbox_id: int) -> None:
    try:
        fetch_mailbox(service.engine, service.vault, mailbox_id, service.mail_options or FetchOptions())
    except Exception:
        log.exception("mailbox fetch crashed", extra={"mailbox": mailbox_id})
    finally:
        with service._guard:
            service.in_flight.discard(("mailbox", mailbox_id))
