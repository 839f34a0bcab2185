"""Running one queued sync run with the workspace's connection (no request state: the
scheduler's jobs and the CLI call this)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from cachelib import BaseCache
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from webapp.analytics.facts import refresh_if_requested
from webapp.clock import utcnow
from webapp.crypto import Vault
from webapp.integrations import card_cache
from webapp.integrations.salesforce_connection import NotConnected, client_for
from webapp.models import SalesforceConnection, SyncRun
from webapp.salesforce.errors import ReconnectNeeded, SalesforceError
from webapp.salesforce.fields import FieldAccess
from webapp.salesforce.sync import ledger
from webapp.salesforce.sync.objects import Context
from webapp.salesforce.sync.ownership import rules_for
from webapp.salesforce.sync.pages import Budget
from webapp.salesforce.sync.push import PushOptions
from webapp.salesforce.sync.runner import Outcome, RunOptions, SyncRunner
from webapp.sync import activity
from webapp.sync.settings import load_settings

log = logging.getLogger(__name__)
# The stored usage stops a run before its first call only while it is recent: the daily
# allowance is a rolling 24-hour window, so an older figure may overstate today's use.
USAGE_FRESH_SECONDS = 900
# Salesforce gives a query two minutes before it fails with QUERY_TIMEOUT; wait a little longer
# than that, so a slow page ends in Salesforce's own answer, not in our impatience.
SYNC_TIMEOUT = (10, 130)


def execute(engine: Engine, vault: Vault, cache: BaseCache | None, run_id: int, *,
            on_page: Callable[[dict], None] | None = None, client_options: dict | None = None,
            batch_size: int | None = None, pending_grace=None) -> Outcome:
    """Run a run this process has claimed, and record how it ended."""
    with engine.connect() as conn:
        run = conn.execute(select(SyncRun.__table__).where(SyncRun.__table__.c.id == run_id)).one()
        conn_row = conn.execute(
            select(SalesforceConnection.__table__).where(SalesforceConnection.__table__.c.workspace_id == run.workspace_id)
        ).first()
    with Session(engine) as session:
        settings = load_settings(session, run.workspace_id)
    try:
        client = client_for(engine, vault, run.workspace_id, describe_cache=cache,
                            **{"timeout": SYNC_TIMEOUT, **(client_options or {})})
    except (NotConnected, SalesforceError) as exc:  # e.g. the org's API versions could not be listed
        reason = f"Reconnect needed: {exc}" if isinstance(exc, ReconnectNeeded) else str(exc)
        ledger.finish(engine, run_id, "failed", reason)
        return Outcome("failed", reason)

    fresh = conn_row.api_usage_at is not None and (utcnow() - conn_row.api_usage_at).total_seconds() < USAGE_FRESH_SECONDS
    options = RunOptions(
        context=Context(org_currency=conn_row.org_currency or "USD", multi_currency=bool(conn_row.multi_currency)),
        budget=Budget(settings.budget_percent, conn_row.api_used if fresh else None, conn_row.api_limit if fresh else None),
        extra_fields=settings.extra_fields,
        retry=run.trigger in ("errors", "cli_errors"),  # only the records that failed before
        retry_error_id=run.retry_error_id,
        batch_size=batch_size,
        two_way=PushOptions(
            multi_currency=bool(conn_row.multi_currency), org_currency=conn_row.org_currency or "USD",
            external_id_field=settings.external_id_field, delete_in_salesforce=settings.delete_in_salesforce,
            new_deals_since=settings.two_way_since,
            **({"pending_grace": pending_grace} if pending_grace is not None else {}),
        ) if settings.two_way else None,
        rules=rules_for(settings.field_rules),
        sf_user_id=conn_row.sf_user_id,
        emails=activity.email_options(engine, run.workspace_id, settings,
                                      **({"pending_grace": pending_grace} if pending_grace is not None else {})),
        fields=FieldAccess(engine, client, run.workspace_id, user_id=conn_row.sf_user_id),
        reconcile_only=run.trigger == "reconcile",
    )

    def invalidate(emails: set[str]) -> None:
        if cache is not None:
            try:
                card_cache.invalidate(cache, run.workspace_id, emails)
            except Exception:  # a cache outage must not fail the sync; cards expire anyway
                log.warning("card cache invalidation failed", exc_info=True)

    runner = SyncRunner(engine, client, run.workspace_id, run_id, options, invalidate=invalidate, on_page=on_page)
    outcome = runner.run()
    if cache is not None:
        try:
            activity.forget_last_logged(cache, run.workspace_id)  # the card's "Last activity" follows the run
        except Exception:  # a cache outage must not fail the sync; the date expires anyway
            log.warning("card cache invalidation failed", exc_info=True)
    if client.usage is not None:
        client.token_store.record_usage(client.usage, now=True)  # the final figure, not in 5 s
    # Analytics group by account, stage and owner: their facts follow the mirror. The request
    # was saved with the mirror pages (this run's or an interrupted one's), not taken from counts.
    refresh_if_requested(engine, run.workspace_id)
    log.info("sync finished", extra={"run": run_id, "workspace": run.workspace_id, "status": outcome.status,
                                     "reason": outcome.reason, "api_calls": client.calls})
    return outcome


def run_queued(engine: Engine, vault: Vault, cache: BaseCache | None, run_id: int, **kwargs) -> Outcome | None:
    """Claim and run one queued run; None when another process claimed it first."""
    if not ledger.claim(engine, run_id):
        return None
    try:
        return execute(engine, vault, cache, run_id, **kwargs)
    except Exception:
        log.exception("sync run crashed", extra={"run": run_id})
        ledger.finish(engine, run_id, "failed", "Internal error; see the server log.")
        return Outcome("failed", "Internal error; see the server log.")
