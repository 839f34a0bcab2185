"""Builds the per-message facts of a workspace (``message_fact``) from the inbox and the
Salesforce mirror, and keeps them following both.

First-response time: an inbound message that follows one of ours (or opens the thread)
starts a wait; the wait ends at our next reply in the same conversation. Inbound messages
sent while already waiting do not start another.

Two ways to refresh. ``rebuild`` recomputes every fact of a workspace (after a first sync, a
change of business hours or addresses, or from the CLI). ``refresh_changes`` reads the open
requests (``fact_refresh``: which accounts, contacts, opportunities, stage history rows and
conversations changed) and touches only the facts that depend on them: a conversation with new
mail is rebuilt whole (its response times change); a changed mirror record re-resolves the
Salesforce columns of the facts it reaches, found through indexes, a chunk at a time. Both keep
``fact_value`` (the filter menus' counts) exact.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, func, insert, literal, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from webapp.addresses import FREE_MAIL, OwnAddresses, domain_of, own_addresses
from webapp.analytics import freshness
from webapp.analytics.business_hours import BusinessHours
from webapp.analytics.report import DIMENSIONS
from webapp.clock import as_utc
from webapp.models import Message, Workspace
from webapp.models.analytics import FactValue, MessageFact
from webapp.models.mirror import SfAccount, SfContact, SfOpportunity, SfOpportunityHistory, SfUser
from webapp.salesforce.sync.upsert import execute_many, insert_for

log = logging.getLogger(__name__)

BATCH = 5000  # facts per insert in a rebuild
CHUNK = 900  # ids per IN (...) and facts per incremental step
CONVERSATIONS_PER_STEP = 500
# More open record requests than this and a rebuild is cheaper than following each one.
MAX_RECORD_REQUESTS = 20_000
# The Salesforce columns of a fact: what a mirror change can alter.
SALESFORCE_COLUMNS = ("sf_contact_id", "account_sf_id", "account_name", "account_type", "industry",
                      "account_owner", "lead_source", "open_stage", "stage_at_send")
# Report dimension -> fact column, for the filter menus' counts.
MENU = {key: dim.column.key for key, dim in DIMENSIONS.items()}
F = MessageFact.__table__
VALUES = FactValue.__table__
INSERT_FACTS = insert(F)  # one statement object, so its compiled form is reused
LOCK_CLASS = 0x46414354  # PostgreSQL advisory lock space of the facts refresh ("FACT")


@dataclass
class AccountInfo:
    sf_id: str
    name: str
    type: str | None
    industry: str | None
    owner: str | None
    open_stage: str | None
    stage_history: list[tuple[datetime, str]]  # (when, stage) over all its opportunities, sorted


@dataclass(frozen=True)
class Refresh:
    mode: str  # "none", "incremental" or "rebuild"
    facts: int  # facts written or changed


def _first_external(addresses: str, own: OwnAddresses) -> str | None:
    for raw in (addresses or "").split(","):
        email = raw.strip().lower()
        if "@" in email and not own.is_ours(email):
            return email
    return None


def _chunks(values: Iterable, size: int = CHUNK) -> Iterator[list]:
    values = sorted(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _scoped(session: Session, stmt, column, values: set | None) -> Iterator[tuple]:
    """Rows of ``stmt``; when ``values`` is given, only those with ``column`` among them (each
    value's rows come in one chunk, in the statement's order)."""
    if values is None:
        yield from session.execute(stmt)
        return
    for chunk in _chunks(values):
        yield from session.execute(stmt.where(column.in_(chunk)))


class SalesforceDimensions:
    """Contact email → Salesforce contact → account, or the sender's domain → account website.

    Loads the whole mirror of the workspace, or (``emails``/``domains`` given) only what those
    addresses and domains can reach; both answer alike for them."""

    def __init__(self, session: Session, workspace_id: int, *, emails: set[str] | None = None,
                 domains: set[str] | None = None):
        ws = workspace_id
        whole = emails is None
        # Several Salesforce contacts may share an address: the card's pick wins (the latest
        # LastModifiedDate, then the lowest Id), so it comes last here.
        self.contacts: dict[str, tuple[str, str | None, str | None]] = {}
        contacts = (
            select(SfContact.email_normalized, SfContact.sf_id, SfContact.account_id, SfContact.lead_source)
            .where(SfContact.workspace_id == ws, SfContact.is_deleted.is_(False), SfContact.email_normalized.is_not(None))
            .order_by(func.coalesce(SfContact.last_modified_date, SfContact.system_modstamp), SfContact.sf_id.desc())
        )
        for email, sf_id, account_id, lead_source in _scoped(session, contacts, SfContact.email_normalized, emails):
            self.contacts[email] = (sf_id, account_id, lead_source)

        # The first account (in mirror order) with a website at the domain.
        self.by_domain: dict[str, str] = {}
        websites = (
            select(SfAccount.website_domain, SfAccount.sf_id)
            .where(SfAccount.workspace_id == ws, SfAccount.is_deleted.is_(False), SfAccount.website_domain.is_not(None))
            .order_by(SfAccount.id)
        )
        wanted_domains = None if whole else {d for d in (domains or ()) if d and d not in FREE_MAIL}
        for domain, sf_id in _scoped(session, websites, SfAccount.website_domain, wanted_domains):
            if domain and domain.lower() not in FREE_MAIL:
                self.by_domain.setdefault(domain.lower(), sf_id)

        account_ids = None if whole else (
            {a for _, a, _ in self.contacts.values() if a} | set(self.by_domain.values()))
        open_stage: dict[str, tuple] = {}
        opp_account: dict[str, str] = {}
        opportunities = select(
            SfOpportunity.sf_id, SfOpportunity.account_id, SfOpportunity.stage_name, SfOpportunity.is_closed,
            SfOpportunity.close_date, SfOpportunity.last_modified_date,
        ).where(SfOpportunity.workspace_id == ws, SfOpportunity.is_deleted.is_(False))
        for sf_id, account_id, stage, is_closed, close_date, modified in _scoped(
                session, opportunities, SfOpportunity.account_id, account_ids):
            if not account_id:
                continue
            opp_account[sf_id] = account_id
            if not is_closed:
                # The account's open opportunity: the one closing soonest, then the newest.
                rank = (close_date.toordinal() if close_date else 10**9, -(modified.timestamp() if modified else 0))
                if account_id not in open_stage or rank < open_stage[account_id][0]:
                    open_stage[account_id] = (rank, stage)
        history: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        steps = (
            select(SfOpportunityHistory.opportunity_id, SfOpportunityHistory.stage_name, SfOpportunityHistory.created_date)
            .where(SfOpportunityHistory.workspace_id == ws, SfOpportunityHistory.is_deleted.is_(False))
        )
        for opp_id, stage, created in _scoped(session, steps, SfOpportunityHistory.opportunity_id,
                                              None if whole else set(opp_account)):
            account_id = opp_account.get(opp_id)
            if account_id and created and stage:
                history[account_id].append((as_utc(created), stage))

        rows = list(_scoped(session, select(
            SfAccount.sf_id, SfAccount.name, SfAccount.type, SfAccount.industry, SfAccount.owner_id)
            .where(SfAccount.workspace_id == ws, SfAccount.is_deleted.is_(False)), SfAccount.sf_id, account_ids))
        owner_ids = None if whole else {r[4] for r in rows if r[4]}
        owners = dict(_scoped(session, select(SfUser.sf_id, SfUser.name).where(SfUser.workspace_id == ws),
                              SfUser.sf_id, owner_ids))
        self.accounts: dict[str, AccountInfo] = {}
        for sf_id, name, kind, industry, owner_id in rows:
            self.accounts[sf_id] = AccountInfo(
                sf_id, name, kind, industry, owners.get(owner_id), (open_stage.get(sf_id) or (None, None))[1],
                sorted(history.get(sf_id, [])),
            )
        self._resolved: dict[tuple, tuple] = {}

    def _resolve(self, email: str | None, domain: str | None) -> tuple[AccountInfo | None, str | None, str | None]:
        key = (email, domain)
        found = self._resolved.get(key)
        if found is None:
            contact_id, account_id, lead_source = self.contacts.get(email or "", (None, None, None))
            if account_id is None and domain:
                account_id = self.by_domain.get(domain)
            account = self.accounts.get(account_id) if account_id else None
            found = self._resolved[key] = (account, contact_id, lead_source)
        return found

    def for_counterpart(self, email: str | None, domain: str | None, sent_at: datetime) -> dict:
        """Every Salesforce column of a fact (None where nothing matched)."""
        account, contact_id, lead_source = self._resolve(email, domain)
        if account is None:
            return {**_NO_SALESFORCE, "sf_contact_id": contact_id, "lead_source": lead_source}
        stage_at_send = None
        if account.stage_history:
            index = bisect.bisect_right(account.stage_history, (sent_at, "\uffff")) - 1
            if index >= 0:
                stage_at_send = account.stage_history[index][1]
        return {
            "sf_contact_id": contact_id,
            "account_sf_id": account.sf_id,
            "account_name": account.name,
            "account_type": account.type,
            "industry": account.industry,
            "account_owner": account.owner,
            "lead_source": lead_source,
            "open_stage": account.open_stage,
            "stage_at_send": stage_at_send,
        }


_NO_SALESFORCE = dict.fromkeys(SALESFORCE_COLUMNS)
MESSAGE_COLUMNS = (Message.id, Message.conversation_id, Message.direction, Message.sent_at, Message.from_address,
                   Message.to_addresses)


class _Workspace:
    """What every fact of one workspace is computed with: its zone, hours and own addresses."""

    def __init__(self, session: Session, workspace_id: int):
        workspace = session.get(Workspace, workspace_id)
        if workspace is None:
            raise LookupError(f"No workspace {workspace_id}.")
        self.id = workspace_id
        self.zone = ZoneInfo(workspace.timezone)
        self.hours = BusinessHours.parse(workspace.timezone, workspace.business_start, workspace.business_end,
                                         workspace.business_days)
        self.own = own_addresses(session, workspace_id)

    def counterpart(self, direction: str, sender: str | None, recipients: str) -> str | None:
        if direction == "in":
            return (sender or "").lower() or None
        return _first_external(recipients, self.own)

    def build(self, messages: list[tuple], dims: SalesforceDimensions) -> list[dict]:
        """The facts of ``messages``: whole conversations, ordered by conversation, time, id."""
        facts: list[dict] = []
        waiting: dict | None = None
        current = None
        for message_id, conversation_id, direction, sent_at, sender, recipients in messages:
            sent_at = as_utc(sent_at)
            if conversation_id != current:
                current, waiting = conversation_id, None
            counterpart = self.counterpart(direction, sender, recipients)
            domain = domain_of(counterpart) if counterpart else None
            fact = {
                "message_id": message_id, "workspace_id": self.id, "conversation_id": conversation_id,
                "direction": direction, "sent_at": sent_at, "sent_day": sent_at.astimezone(self.zone).date(),
                "counterpart": counterpart, "domain": domain, "awaits_reply": False, "replied_at": None,
                "response_seconds": None, "business_seconds": None,
            }
            fact.update(dims.for_counterpart(counterpart, domain, sent_at))
            if direction == "in":
                if waiting is None:
                    fact["awaits_reply"] = True
                    waiting = fact
            elif waiting is not None:
                waiting["replied_at"] = sent_at
                waiting["response_seconds"] = int((sent_at - waiting["sent_at"]).total_seconds())
                waiting["business_seconds"] = self.hours.seconds_between(waiting["sent_at"], sent_at)
                waiting = None
            facts.append(fact)
        return facts


def _lock(session: Session, workspace_id: int) -> None:
    """One refresh of a workspace at a time (PostgreSQL; SQLite has one writer anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:c, :w)"), {"c": LOCK_CLASS, "w": workspace_id})


def _whole_conversations(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    """Rows ordered by conversation, in lists of about ``size`` that never split one."""
    chunk: list[tuple] = []
    current = None
    for row in rows:
        if row[1] != current:
            if len(chunk) >= size:
                yield chunk
                chunk = []
            current = row[1]
        chunk.append(row)
    if chunk:
        yield chunk


# -- the whole workspace -----------------------------------------------------------------------

def rebuild(engine: Engine, workspace_id: int) -> int:
    """Recompute every fact of the workspace in one transaction; returns the row count. The
    refresh requests open when it starts are deleted in that same transaction."""
    with Session(engine) as session:
        _lock(session, workspace_id)
        total = _rebuild(session, workspace_id, freshness.pending(session.connection(), workspace_id))
        session.commit()
        # Fresh statistics, so the planner picks the filter indexes on a large table.
        session.execute(text("ANALYZE message_fact"))
        session.commit()
    log.info("analytics facts rebuilt", extra={"workspace": workspace_id, "rows": total})
    return total


refresh_facts = rebuild  # the name the callers that want everything recomputed know


def _rebuild(session: Session, workspace_id: int, requests: list[freshness.Pending]) -> int:
    # The requests were read before the mirror: a page committed after that read asks again.
    ctx = _Workspace(session, workspace_id)
    dims = SalesforceDimensions(session, workspace_id)
    session.execute(delete(MessageFact).where(MessageFact.workspace_id == workspace_id))
    conn = session.connection()
    rows = conn.execute(
        select(*MESSAGE_COLUMNS)
        .where(Message.workspace_id == workspace_id)
        .order_by(Message.conversation_id, Message.sent_at, Message.id)
        .execution_options(yield_per=BATCH)
    )
    total = 0
    for messages in _whole_conversations(rows, BATCH):
        facts = ctx.build(messages, dims)
        execute_many(conn, INSERT_FACTS, facts)
        total += len(facts)
    _count_values(session.connection(), workspace_id)
    freshness.clear(session.connection(), requests)
    return total


def _count_values(conn: Connection, workspace_id: int) -> None:
    conn.execute(delete(VALUES).where(VALUES.c.workspace_id == workspace_id))
    for key, column in MENU.items():
        col = F.c[column]
        conn.execute(insert(VALUES).from_select(
            ["workspace_id", "dimension", "value", "messages"],
            select(F.c.workspace_id, literal(key), col, func.count())
            .where(F.c.workspace_id == workspace_id, col.is_not(None))
            .group_by(F.c.workspace_id, col),
        ))


# -- what changed --------------------------------------------------------------------------------

def refresh_changes(engine: Engine, workspace_id: int) -> Refresh:
    """Bring the workspace's facts up to date with the open requests, touching only the facts
    they reach; a whole-workspace request (or a great many) rebuilds instead."""
    with Session(engine) as session:
        _lock(session, workspace_id)
        conn = session.connection()
        open_count = freshness.count(conn, workspace_id, MAX_RECORD_REQUESTS + 1)
        if not open_count:
            return Refresh("none", 0)
        requests = freshness.pending(conn, workspace_id)
        if open_count > MAX_RECORD_REQUESTS or any(p.sobject == freshness.WHOLE for p in requests):
            total = _rebuild(session, workspace_id, requests)
            session.commit()
            session.execute(text("ANALYZE message_fact"))
            session.commit()
            log.info("analytics facts rebuilt", extra={"workspace": workspace_id, "rows": total})
            return Refresh("rebuild", total)
        changed = _Incremental(session, workspace_id).run(requests)
        freshness.clear(conn, requests)
        session.commit()
    log.info("analytics facts refreshed", extra={"workspace": workspace_id, "rows": changed,
                                                 "requests": len(requests)})
    return Refresh("incremental", changed)


class _Incremental:
    def __init__(self, session: Session, workspace_id: int):
        self.session, self.ws = session, workspace_id
        self.deltas: Counter = Counter()  # (dimension, value) -> change in count

    def run(self, requests: list[freshness.Pending]) -> int:
        kinds: dict[str, set[str]] = defaultdict(set)
        for p in requests:
            kinds[p.sobject].add(p.sf_id)
        conversations = {int(i) for i in kinds.pop(freshness.CONVERSATION, ()) if i.isdigit()}
        changed = self._salesforce(kinds, conversations) if kinds else 0
        changed += self._conversations(conversations)
        self._apply_deltas()
        return changed

    def _ids(self, stmt, column, values) -> set:
        found: set = set()
        for chunk in _chunks({v for v in values if v is not None}):
            found.update(self.session.execute(stmt.where(column.in_(chunk))).scalars())
        found.discard(None)
        return found

    def _salesforce(self, kinds: dict[str, set[str]], skip_conversations: set[int]) -> int:
        """Re-resolve the Salesforce columns of every fact a changed mirror record reaches."""
        ws = self.ws
        opportunities = set(kinds.get("Opportunity", ()))
        opportunities |= self._ids(select(SfOpportunityHistory.opportunity_id).where(
            SfOpportunityHistory.workspace_id == ws), SfOpportunityHistory.sf_id, kinds.get("OpportunityHistory", ()))
        # Deleted rows too: their account's stage no longer counts them.
        accounts = set(kinds.get("Account", ()))
        accounts |= self._ids(select(SfOpportunity.account_id).where(SfOpportunity.workspace_id == ws),
                              SfOpportunity.sf_id, opportunities)
        contacts = set(kinds.get("Contact", ()))
        # Addresses that may resolve differently now: the changed contacts' and the changed accounts'.
        emails = self._ids(select(SfContact.email_normalized).where(SfContact.workspace_id == ws),
                           SfContact.sf_id, contacts)
        emails |= self._ids(select(SfContact.email_normalized).where(SfContact.workspace_id == ws),
                            SfContact.account_id, accounts)
        domains = {d.lower() for d in self._ids(select(SfAccount.website_domain).where(SfAccount.workspace_id == ws),
                                                 SfAccount.sf_id, accounts)} - FREE_MAIL

        facts = select(F.c.message_id).where(F.c.workspace_id == ws)
        ids = self._ids(facts, F.c.account_sf_id, accounts)
        ids |= self._ids(facts, F.c.sf_contact_id, contacts)
        ids |= self._ids(facts, F.c.domain, domains)
        for chunk in _chunks(emails):  # served by the (domain, counterpart) index
            ids |= self._ids(facts.where(F.c.counterpart.in_(chunk)), F.c.domain, {domain_of(e) for e in chunk})

        changed = 0
        columns = [F.c[c] for c in SALESFORCE_COLUMNS]
        stmt = update(F).where(F.c.message_id == bindparam("mid")).values(
            {c: bindparam(f"new_{c}") for c in SALESFORCE_COLUMNS})
        for chunk in _chunks(ids):
            rows = self.session.execute(
                select(F.c.message_id, F.c.conversation_id, F.c.counterpart, F.c.domain, F.c.sent_at, *columns)
                .where(F.c.message_id.in_(chunk))).all()
            dims = SalesforceDimensions(self.session, ws, emails={r[2] for r in rows if r[2]},
                                        domains={r[3] for r in rows if r[3]})
            updates = []
            for message_id, conversation_id, counterpart, domain, sent_at, *old in rows:
                if conversation_id in skip_conversations:
                    continue  # rebuilt whole below
                new = dims.for_counterpart(counterpart, domain, as_utc(sent_at))
                before = dict(zip(SALESFORCE_COLUMNS, old))
                if new != before:
                    self._count(before, -1)
                    self._count(new, +1)
                    updates.append({"mid": message_id, **{f"new_{c}": new[c] for c in SALESFORCE_COLUMNS}})
            if updates:
                self.session.execute(stmt, updates)
                changed += len(updates)
        return changed

    def _conversations(self, conversations: set[int]) -> int:
        """Rebuild the facts of conversations with new (or removed) mail, whole."""
        if not conversations:
            return 0
        ctx = _Workspace(self.session, self.ws)
        menu_columns = [F.c[c] for c in MENU.values()]
        written = 0
        for chunk in _chunks(conversations, CONVERSATIONS_PER_STEP):
            for old in self.session.execute(select(*menu_columns).where(
                    F.c.workspace_id == self.ws, F.c.conversation_id.in_(chunk))):
                self._count(dict(zip(MENU.values(), old)), -1)
            self.session.execute(delete(F).where(F.c.workspace_id == self.ws, F.c.conversation_id.in_(chunk)))
            # By conversation alone (each request names one of this workspace's): with the
            # workspace in the query, SQLite walks all of its messages for every chunk.
            messages = self.session.connection().execute(
                select(*MESSAGE_COLUMNS, Message.workspace_id)
                .where(Message.conversation_id.in_(chunk))
                .order_by(Message.conversation_id, Message.sent_at, Message.id)).all()
            messages = [m[:-1] for m in messages if m[-1] == self.ws]
            if not messages:
                continue
            counterparts = {ctx.counterpart(m[2], m[4], m[5]) for m in messages}
            counterparts.discard(None)
            dims = SalesforceDimensions(self.session, self.ws, emails=counterparts,
                                        domains={domain_of(e) for e in counterparts})
            facts = ctx.build(messages, dims)
            execute_many(self.session.connection(), INSERT_FACTS, facts)
            for fact in facts:
                self._count(fact, +1)
            written += len(facts)
        return written

    def _count(self, fact: dict, sign: int) -> None:
        for key, column in MENU.items():
            value = fact.get(column)
            if value is not None:
                self.deltas[(key, value)] += sign

    def _apply_deltas(self) -> None:
        rows = [{"workspace_id": self.ws, "dimension": k, "value": v, "messages": n}
                for (k, v), n in self.deltas.items() if n]
        if not rows:
            return
        conn = self.session.connection()
        stmt = insert_for(conn, VALUES)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=[VALUES.c.workspace_id, VALUES.c.dimension, VALUES.c.value],
            set_={"messages": VALUES.c.messages + stmt.excluded.messages}), rows)
        gone = [{"d": r["dimension"], "v": r["value"]} for r in rows if r["messages"] < 0]
        if gone:
            conn.execute(delete(VALUES).where(
                VALUES.c.workspace_id == self.ws, VALUES.c.dimension == bindparam("d"), VALUES.c.value == bindparam("v"),
                VALUES.c.messages <= 0), gone)


def refresh_if_requested(engine: Engine, workspace_id: int) -> bool:
    """Follow the workspace's open refresh requests, if any; True when there were some."""
    with engine.connect() as conn:
        if not freshness.count(conn, workspace_id, 1):
            return False
    return refresh_changes(engine, workspace_id).mode != "none"


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
