"""Builds the per-message facts of a workspace (``message_fact``) from the inbox and the
Salesforce mirror. Run after mail imports and syncs, and when business hours change.

First-response time: an inbound message that follows one of ours (or opens the thread)
starts a wait; the wait ends at our next reply in the same conversation. Inbound messages
sent while already waiting do not start another.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from webapp.addresses import FREE_MAIL, OwnAddresses, domain_of, own_addresses
from webapp.analytics import freshness
from webapp.analytics.business_hours import BusinessHours
from webapp.clock import as_utc
from webapp.models import Message, Workspace
from webapp.models.analytics import MessageFact
from webapp.models.mirror import SfAccount, SfContact, SfOpportunity, SfOpportunityHistory, SfUser

log = logging.getLogger(__name__)

BATCH = 5000


@dataclass
class AccountInfo:
    sf_id: str
    name: str
    type: str | None
    industry: str | None
    owner: str | None
    open_stage: str | None
    stage_history: list[tuple[datetime, str]]  # (when, stage) over all its opportunities, sorted


def _first_external(addresses: str, own: OwnAddresses) -> str | None:
    for raw in (addresses or "").split(","):
        email = raw.strip().lower()
        if "@" in email and not own.is_ours(email):
            return email
    return None


class SalesforceDimensions:
    """Contact email → Salesforce contact → account, or the sender's domain → account website."""

    def __init__(self, session: Session, workspace_id: int):
        owners = dict(session.execute(select(SfUser.sf_id, SfUser.name).where(SfUser.workspace_id == workspace_id)).all())
        open_stage: dict[str, tuple] = {}
        history: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        opp_account: dict[str, str] = {}
        for sf_id, account_id, stage, is_closed, close_date, modified in session.execute(
            select(
                SfOpportunity.sf_id, SfOpportunity.account_id, SfOpportunity.stage_name, SfOpportunity.is_closed,
                SfOpportunity.close_date, SfOpportunity.last_modified_date,
            ).where(SfOpportunity.workspace_id == workspace_id, SfOpportunity.is_deleted.is_(False))
        ):
            if not account_id:
                continue
            opp_account[sf_id] = account_id
            if not is_closed:
                # The account's open opportunity: the one closing soonest, then the newest.
                rank = (close_date.toordinal() if close_date else 10**9, -(modified.timestamp() if modified else 0))
                if account_id not in open_stage or rank < open_stage[account_id][0]:
                    open_stage[account_id] = (rank, stage)
        for opp_id, stage, created in session.execute(
            select(SfOpportunityHistory.opportunity_id, SfOpportunityHistory.stage_name, SfOpportunityHistory.created_date)
            .where(SfOpportunityHistory.workspace_id == workspace_id, SfOpportunityHistory.is_deleted.is_(False))
        ):
            account_id = opp_account.get(opp_id)
            if account_id and created and stage:
                history[account_id].append((as_utc(created), stage))
        self.accounts: dict[str, AccountInfo] = {}
        self.by_domain: dict[str, str] = {}
        for sf_id, name, kind, industry, owner_id, domain in session.execute(
            select(SfAccount.sf_id, SfAccount.name, SfAccount.type, SfAccount.industry, SfAccount.owner_id, SfAccount.website_domain)
            .where(SfAccount.workspace_id == workspace_id, SfAccount.is_deleted.is_(False))
        ):
            self.accounts[sf_id] = AccountInfo(
                sf_id, name, kind, industry, owners.get(owner_id), (open_stage.get(sf_id) or (None, None))[1],
                sorted(history.get(sf_id, [])),
            )
            if domain and domain not in FREE_MAIL:
                self.by_domain.setdefault(domain.lower(), sf_id)
        self._resolved: dict[tuple, tuple] = {}
        # Several Salesforce contacts may share an address: the card's pick wins (the latest
        # LastModifiedDate, then the lowest Id), so it comes last here.
        self.contacts: dict[str, tuple[str | None, str | None]] = {}
        for email, account_id, lead_source in session.execute(
            select(SfContact.email_normalized, SfContact.account_id, SfContact.lead_source)
            .where(SfContact.workspace_id == workspace_id, SfContact.is_deleted.is_(False), SfContact.email_normalized.is_not(None))
            .order_by(func.coalesce(SfContact.last_modified_date, SfContact.system_modstamp), SfContact.sf_id.desc())
        ):
            self.contacts[email] = (account_id, lead_source)

    def _resolve(self, email: str | None, domain: str | None) -> tuple[AccountInfo | None, str | None]:
        key = (email, domain)
        found = self._resolved.get(key)
        if found is None:
            account_id, lead_source = self.contacts.get(email or "", (None, None))
            if account_id is None and domain:
                account_id = self.by_domain.get(domain)
            found = self._resolved[key] = (self.accounts.get(account_id) if account_id else None, lead_source)
        return found

    def for_counterpart(self, email: str | None, domain: str | None, sent_at: datetime) -> dict:
        account, lead_source = self._resolve(email, domain)
        if account is None:
            return {"lead_source": lead_source}
        stage_at_send = None
        if account.stage_history:
            index = bisect.bisect_right(account.stage_history, (sent_at, "\uffff")) - 1
            if index >= 0:
                stage_at_send = account.stage_history[index][1]
        return {
            "account_sf_id": account.sf_id,
            "account_name": account.name,
            "account_type": account.type,
            "industry": account.industry,
            "account_owner": account.owner,
            "lead_source": lead_source,
            "open_stage": account.open_stage,
            "stage_at_send": stage_at_send,
        }


def refresh_facts(engine: Engine, workspace_id: int) -> int:
    """Recompute every fact of the workspace in one transaction; returns the row count. The
    refresh requests open when it starts are deleted in that same transaction."""
    with Session(engine) as session:
        # Read before the mirror: a page committed after this read asks again (a new version).
        requests = freshness.pending(session.connection(), workspace_id)
        workspace = session.get(Workspace, workspace_id)
        zone = ZoneInfo(workspace.timezone)
        hours = BusinessHours.parse(workspace.timezone, workspace.business_start, workspace.business_end, workspace.business_days)
        own = own_addresses(session, workspace_id)
        dims = SalesforceDimensions(session, workspace_id)
        session.execute(delete(MessageFact).where(MessageFact.workspace_id == workspace_id))
        rows = session.execute(
            select(
                Message.id, Message.conversation_id, Message.direction, Message.sent_at,
                Message.from_address, Message.to_addresses,
            )
            .where(Message.workspace_id == workspace_id)
            .order_by(Message.conversation_id, Message.sent_at, Message.id)
            .execution_options(yield_per=BATCH)
        )
        pending: list[dict] = []  # whole conversations only: a later reply updates an earlier fact
        waiting: dict | None = None
        current = None
        total = 0
        for message_id, conversation_id, direction, sent_at, sender, recipients in rows:
            sent_at = as_utc(sent_at)
            if conversation_id != current:
                if len(pending) >= BATCH:
                    session.execute(insert(MessageFact), pending)
                    total += len(pending)
                    pending = []
                current, waiting = conversation_id, None
            if direction == "in":
                counterpart = (sender or "").lower() or None
            else:
                counterpart = _first_external(recipients, own)
            domain = domain_of(counterpart) if counterpart else None
            fact = {
                "message_id": message_id, "workspace_id": workspace_id, "conversation_id": conversation_id,
                "direction": direction, "sent_at": sent_at, "sent_day": sent_at.astimezone(zone).date(),
                "counterpart": counterpart, "domain": domain, "awaits_reply": False, "replied_at": None,
                "response_seconds": None, "business_seconds": None,
                "account_sf_id": None, "account_name": None, "account_type": None, "industry": None,
                "account_owner": None, "lead_source": None, "open_stage": None, "stage_at_send": None,
            }
            fact.update(dims.for_counterpart(counterpart, domain, sent_at))
            if direction == "in":
                if waiting is None:
                    fact["awaits_reply"] = True
                    waiting = fact
            elif waiting is not None:
                waiting["replied_at"] = sent_at
                waiting["response_seconds"] = int((sent_at - waiting["sent_at"]).total_seconds())
                waiting["business_seconds"] = hours.seconds_between(waiting["sent_at"], sent_at)
                waiting = None
            pending.append(fact)
        if pending:
            session.execute(insert(MessageFact), pending)
            total += len(pending)
        freshness.clear(session.connection(), requests)
        session.commit()
        # Fresh statistics, so the planner picks the filter indexes on a large table.
        session.execute(text("ANALYZE message_fact"))
        session.commit()
    log.info("analytics facts refreshed", extra={"workspace": workspace_id, "rows": total})
    return total


def refresh_if_requested(engine: Engine, workspace_id: int) -> bool:
    """Refresh the workspace's facts when a refresh request is open; True when it did."""
    with engine.connect() as conn:
        if not freshness.pending(conn, workspace_id):
            return False
    refresh_facts(engine, workspace_id)
    return True


def catch_up(engine: Engine) -> list[int]:
    """Finish the facts work an interrupted process left behind, for every workspace no sync is
    working on; one workspace failing does not stop the others."""
    done = []
    for workspace_id in freshness.stale_workspaces(engine):
        try:
            if refresh_if_requested(engine, workspace_id):
                done.append(workspace_id)
        except Exception:
            log.exception("analytics facts refresh failed", extra={"workspace": workspace_id})
    return done
