"""Logging email to Salesforce, a phase of the sync run after the pull (and the push).

Each message becomes one record: an ``EmailMessage`` with ``EmailMessageRelation`` rows for
the people it involves, related to the contact's open opportunity (the most recently
modified) or else its account; where Enhanced Email is off, a completed ``Task`` of subtype
Email instead. They go out in sObject Collections, the API budget checked before every call.

Never two records for one message. Every message has one outbox row (``email_log``). It is
marked ``pending`` and committed before the Collections POST, and the answer's Ids are
committed after it. A run killed in between (or a POST without a clear answer, MaybeWritten)
leaves pending rows, which the next run looks up in Salesforce before anything is sent again:
an EmailMessage by ``MessageIdentifier`` (the Message-ID), a Task by the marker ending its
Subject. The marker is a short hash of the Message-ID in the Subject because Description is
a long text area, which SOQL cannot filter on. Found: recorded. Not found and older than the
grace period: it never arrived, and is sent again. Younger: it may still be in flight; it
waits for the next run.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.utils import getaddresses

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.engine import Connection, Engine

from webapp.clock import utcnow
from webapp.models import (Contact, Conversation, EmailLog, Message, SalesforceChoice, SfContact, SfOpportunity,
                           SyncRecordError)
from webapp.salesforce import soql
from webapp.salesforce.client import COLLECTION_SIZE, SalesforceClient
from webapp.salesforce.errors import BadQuery, NotFound
from webapp.salesforce.sync.pages import Budget
from webapp.salesforce.sync.upsert import insert_for

log = logging.getLogger(__name__)
LOG, MESSAGE, CONVERSATION, CONTACT = EmailLog.__table__, Message.__table__, Conversation.__table__, Contact.__table__
SF_CONTACT, SF_OPPORTUNITY, ERROR = SfContact.__table__, SfOpportunity.__table__, SyncRecordError.__table__
CHOICE = SalesforceChoice.__table__
ERROR_OBJECT = "EmailMessage"  # the record-error table's sobject for messages that failed
QUERY_CHARS = 6000  # literals per lookup query: well inside the 16 KB URL limit
LEAD_BATCH = 100
MAX_BODY = 32000  # Task.Description; EmailMessage.TextBody takes more, but one limit is clearer
STATUS_SENT, STATUS_READ = "3", "1"


@dataclass(frozen=True)
class EmailOptions:
    mode: str  # request | auto
    exclusions: tuple[str, ...] = ()  # lower-cased addresses and domains
    subject_only: bool = False
    own: tuple[str, ...] = ()  # the workspace's own addresses and domains: never excluded by being there
    pending_grace: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class Person:
    kind: str  # Contact | Lead
    sf_id: str
    account_id: str | None = None


def identifier_for(header: str | None, workspace_id: int, message_id: int) -> str:
    """The Message-ID sent as MessageIdentifier; a stable made-up one when the mail had none."""
    header = (header or "").strip()
    return header[:255] if header else f"<inbox-{workspace_id}-{message_id}@inbox.invalid>"


def task_marker(identifier: str) -> str:
    return f"[ref:{hashlib.sha256(identifier.encode()).hexdigest()[:12]}]"


def task_subject(subject: str, identifier: str) -> str:
    marker = task_marker(identifier)
    head = f"Email: {subject or '(no subject)'}"
    return f"{head[: 255 - len(marker) - 1]} {marker}"


def matches(address: str, entries) -> str | None:
    """The exclusion entry (an address, or a domain and its subdomains) that covers ``address``."""
    address = address.strip().lower()
    domain = address.rpartition("@")[2]
    for entry in entries:
        if "@" in entry:
            if address == entry:
                return entry
        elif domain == entry or domain.endswith("." + entry):
            return entry
    return None


def addresses(*fields: str) -> list[str]:
    return [a.strip().lower() for _, a in getaddresses([f for f in fields if f]) if "@" in a]


def excluded_by(row, options: EmailOptions) -> str | None:
    """Why a message is never logged: its sender or a recipient is on the exclusion list. A
    listed domain does not cover the workspace's own addresses (or listing the own domain would
    stop all); a listed address always counts, a colleague's too."""
    if not options.exclusions:
        return None
    for address in addresses(row.from_address, row.to_addresses, row.cc_addresses):
        entry = matches(address, options.exclusions)
        if entry and ("@" in entry or not matches(address, options.own)):
            return f"{address} is on the exclusion list ({entry})."
    return None


def _literal_chunks(values: list[str]):
    chunk, size = [], 0
    for v in values:
        literal = soql.quote(v)
        if chunk and size + len(literal) > QUERY_CHARS:
            yield chunk
            chunk, size = [], 0
        chunk.append(literal)
        size += len(literal) + 2
    if chunk:
        yield chunk


class EmailLogger:
    def __init__(self, engine: Engine, client: SalesforceClient, workspace_id: int, run_id: int, options: EmailOptions,
                 budget: Budget, counts: dict, publish: Callable[[Connection], None], *, clock=utcnow):
        self.engine, self.client, self.workspace_id, self.run_id = engine, client, workspace_id, run_id
        self.options, self.budget, self.counts, self.publish, self.clock = options, budget, counts, publish, clock
        self._enhanced: bool | None = None
        self._leads: dict[str, Person | None] = {}

    # -- the phase ------------------------------------------------------------------------------

    def run(self, retry_ids: set[int] | None = None) -> None:
        if retry_ids:
            with self.engine.begin() as conn:
                conn.execute(update(LOG).where(LOG.c.workspace_id == self.workspace_id, LOG.c.message_id.in_(sorted(retry_ids)),
                                               LOG.c.state.in_(("failed", "skipped"))).values(state="queued", updated_at=self.clock()))
        elif self.options.mode == "auto":
            self._enqueue_automatic()
        self._resolve_pending()
        self._relate(self._rows("relating"), fresh=False)
        while True:
            rows = self._rows("queued", limit=COLLECTION_SIZE)
            if not rows:
                break
            self._send(rows)

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def _check(self) -> None:
        self.budget.check(self.client)

    # -- what goes out ----------------------------------------------------------------------------

    def _select(self):
        return (select(LOG.c.id, LOG.c.message_id, LOG.c.identifier, LOG.c.state, LOG.c.sf_object, LOG.c.sf_id,
                       LOG.c.sent_at, LOG.c.attempts, MESSAGE.c.direction, MESSAGE.c.from_address, MESSAGE.c.from_name,
                       MESSAGE.c.to_addresses, MESSAGE.c.cc_addresses, MESSAGE.c.subject, MESSAGE.c.sent_at.label("message_at"),
                       MESSAGE.c.body_text, CONTACT.c.email_normalized.label("contact_email"),
                       CONTACT.c.salesforce_id.label("contact_sf_id"))
                .select_from(LOG.join(MESSAGE, MESSAGE.c.id == LOG.c.message_id)
                             .join(CONVERSATION, CONVERSATION.c.id == MESSAGE.c.conversation_id)
                             .outerjoin(CONTACT, CONTACT.c.id == CONVERSATION.c.contact_id))
                .where(LOG.c.workspace_id == self.workspace_id))

    def _rows(self, state: str, *, limit: int | None = None) -> list:
        query = self._select().where(LOG.c.state == state).order_by(LOG.c.id)
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return conn.execute(query).all()

    def _enqueue_automatic(self) -> None:
        """Every message of a conversation whose contact is a Salesforce contact or lead gets a
        queued row; the others a skipped one saying why (looked at again on each run)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(MESSAGE.c.id, MESSAGE.c.message_id, CONTACT.c.email_normalized, CONTACT.c.salesforce_id, LOG.c.id)
                .select_from(MESSAGE.join(CONVERSATION, CONVERSATION.c.id == MESSAGE.c.conversation_id)
                             .join(CONTACT, CONTACT.c.id == CONVERSATION.c.contact_id)
                             .outerjoin(LOG, and_(LOG.c.message_id == MESSAGE.c.id, LOG.c.workspace_id == MESSAGE.c.workspace_id)))
                .where(MESSAGE.c.workspace_id == self.workspace_id, CONTACT.c.email_normalized.is_not(None),
                       (LOG.c.id.is_(None)) | (LOG.c.state == "skipped"))
                .order_by(MESSAGE.c.id)).all()
        if not rows:
            return
        people = self._people({(r[2], r[3]) for r in rows})
        now = self.clock()
        with self.engine.begin() as conn:
            new = []
            for message_id, header, email, _, log_id in rows:
                found = people.get(email) is not None
                if log_id is None:
                    new.append({"workspace_id": self.workspace_id, "message_id": message_id,
                                "identifier": identifier_for(header, self.workspace_id, message_id),
                                "state": "queued" if found else "skipped", "attempts": 0, "updated_at": now,
                                "error": None if found else _no_match(email)})
                elif found:
                    conn.execute(update(LOG).where(LOG.c.id == log_id).values(state="queued", error=None, updated_at=now))
            if new:
                conn.execute(insert_for(conn, LOG).on_conflict_do_nothing(), new)
            self.publish(conn)

    # -- who and what ---------------------------------------------------------------------------

    def _people(self, contacts: set[tuple[str, str | None]]) -> dict[str, Person | None]:
        """(address, the inbox contact's linked Salesforce id) → the Contact in the mirror (the
        linked one, else the most recently modified), else an open Lead from Salesforce."""
        found: dict[str, Person | None] = {}
        emails = sorted({e for e, _ in contacts if e})
        linked = {e: sf for e, sf in contacts if e and sf}
        with self.engine.connect() as conn:
            for start in range(0, len(emails), 500):
                chunk = emails[start : start + 500]
                # The record an agent chose on the card for a shared address comes first.
                chosen = {email: (sobject, sf_id) for email, sobject, sf_id in conn.execute(
                    select(CHOICE.c.email_normalized, CHOICE.c.sobject, CHOICE.c.sf_id).where(
                        CHOICE.c.workspace_id == self.workspace_id, CHOICE.c.email_normalized.in_(chunk)))}
                # Otherwise the card's pick: the most recently modified, ties by Id.
                rows = conn.execute(select(SF_CONTACT.c.email_normalized, SF_CONTACT.c.sf_id, SF_CONTACT.c.account_id)
                                    .where(SF_CONTACT.c.workspace_id == self.workspace_id, SF_CONTACT.c.is_deleted.is_(False),
                                           SF_CONTACT.c.email_normalized.in_(chunk))
                                    .order_by(func.coalesce(SF_CONTACT.c.last_modified_date, SF_CONTACT.c.system_modstamp).desc(),
                                              SF_CONTACT.c.sf_id)).all()
                for email, sf_id, account_id in rows:
                    pick = chosen.get(email)
                    if pick == ("Contact", sf_id):
                        found[email] = Person("Contact", sf_id, account_id)
                    elif pick is None and (email not in found or linked.get(email) == sf_id):
                        found[email] = Person("Contact", sf_id, account_id)
                for email, (sobject, sf_id) in chosen.items():
                    if sobject == "Lead":
                        found[email] = Person("Lead", sf_id)
        missing = [e for e in emails if e not in found and e not in self._leads]
        for start in range(0, len(missing), LEAD_BATCH):
            chunk = missing[start : start + LEAD_BATCH]
            self._check()
            listed = ", ".join(soql.quote(e) for e in chunk)
            for e in chunk:
                self._leads[e] = None
            for record in self.client.query(f"SELECT Id, Email FROM Lead WHERE IsConverted = false AND Email IN ({listed}) "
                                            "ORDER BY LastModifiedDate DESC"):
                email = (record.get("Email") or "").lower()
                if email in self._leads and self._leads[email] is None:
                    self._leads[email] = Person("Lead", record["Id"])
        for e in emails:
            if e not in found:
                found[e] = self._leads.get(e)
        return found

    def _related(self, conn: Connection, account_ids: set[str]) -> dict[str, str]:
        """Account → its open opportunity modified last, else the account itself."""
        related = {a: a for a in account_ids}
        if account_ids:
            rows = conn.execute(select(SF_OPPORTUNITY.c.account_id, SF_OPPORTUNITY.c.sf_id).where(
                SF_OPPORTUNITY.c.workspace_id == self.workspace_id, SF_OPPORTUNITY.c.is_deleted.is_(False),
                SF_OPPORTUNITY.c.is_closed.is_(False), SF_OPPORTUNITY.c.account_id.in_(sorted(account_ids)))
                .order_by(func.coalesce(SF_OPPORTUNITY.c.last_modified_date, SF_OPPORTUNITY.c.system_modstamp).asc(),
                          SF_OPPORTUNITY.c.sf_id.desc())).all()
            for account_id, sf_id in rows:  # oldest first: the latest wins
                related[account_id] = sf_id
        return related

    def _others(self, conn: Connection, emails: set[str]) -> dict[str, str]:
        """Other participants who are Salesforce contacts in the mirror: address → Id."""
        found: dict[str, str] = {}
        emails = sorted(emails)
        for start in range(0, len(emails), 500):
            for email, sf_id in conn.execute(select(SF_CONTACT.c.email_normalized, SF_CONTACT.c.sf_id).where(
                    SF_CONTACT.c.workspace_id == self.workspace_id, SF_CONTACT.c.is_deleted.is_(False),
                    SF_CONTACT.c.email_normalized.in_(emails[start : start + 500]))
                    .order_by(func.coalesce(SF_CONTACT.c.last_modified_date, SF_CONTACT.c.system_modstamp).asc(),
                              SF_CONTACT.c.sf_id.desc())):  # the last one kept is the card's pick
                found[email] = sf_id
        return found

    def enhanced_email(self) -> bool:
        """Whether the org has EmailMessage (Enhanced Email on); asked once per run."""
        if self._enhanced is None:
            self._check()
            try:
                self.client.describe("EmailMessage")
                self._enhanced = True
            except NotFound:
                self._enhanced = False
        return self._enhanced

    # -- records --------------------------------------------------------------------------------

    def _body(self, row) -> str | None:
        if self.options.subject_only:
            return None
        return (row.body_text or "")[:MAX_BODY] or None

    def _email_record(self, row, related: str | None) -> dict:
        return {"attributes": {"type": "EmailMessage"}, "Subject": (row.subject or "")[:3000],
                "TextBody": self._body(row), "FromAddress": row.from_address[:255], "FromName": (row.from_name or "")[:1000] or None,
                "ToAddress": (row.to_addresses or "")[:4000] or None, "CcAddress": (row.cc_addresses or "")[:4000] or None,
                "MessageDate": row.message_at.isoformat(), "Incoming": row.direction == "in",
                "Status": STATUS_READ if row.direction == "in" else STATUS_SENT,
                "MessageIdentifier": row.identifier, "RelatedToId": related}

    def _task_record(self, row, who: Person, related: str | None) -> dict:
        body = self._body(row)
        description = f"{body}\n\n" if body else ""
        description += f"From: {row.from_address}\nTo: {row.to_addresses}\nMessage-ID: {row.identifier}"
        return {"attributes": {"type": "Task"}, "Subject": task_subject(row.subject, row.identifier),
                "TaskSubtype": "Email", "Status": "Completed", "WhoId": who.sf_id,
                # Salesforce refuses a WhatId on a task whose Who is a lead.
                "WhatId": related if who.kind == "Contact" else None,
                "ActivityDate": row.message_at.date().isoformat(), "Description": description[:MAX_BODY]}

    def _relations(self, row, who: Person, others: dict[str, str]) -> list[dict]:
        """The people a message involves: its contact (or lead), and other participants who are
        Salesforce contacts. Addresses of no Salesforce record stay in the To and Cc fields."""
        wanted: list[tuple[str, str]] = [(who.sf_id, "ToAddress" if row.direction == "out" else "FromAddress")]
        for field, value in (("FromAddress", row.from_address), ("ToAddress", row.to_addresses), ("CcAddress", row.cc_addresses)):
            for address in addresses(value):
                if address == (row.contact_email or "").lower():
                    continue  # the conversation's person: the record chosen above, not another twin
                sf_id = others.get(address)
                if sf_id and sf_id != who.sf_id and (sf_id, field) not in wanted:
                    wanted.append((sf_id, field))
        return [{"attributes": {"type": "EmailMessageRelation"}, "EmailMessageId": row.sf_id, "RelationId": sf_id,
                 "RelationType": kind} for sf_id, kind in wanted]

    # -- sending ----------------------------------------------------------------------------------

    def _send(self, rows: list) -> None:
        now = self.clock()
        people = self._people({(r.contact_email, r.contact_sf_id) for r in rows if r.contact_email})
        ready: list[tuple] = []
        with self.engine.begin() as conn:
            related = self._related(conn, {p.account_id for p in people.values() if p and p.account_id})
            for row in rows:
                reason = excluded_by(row, self.options)
                if reason:
                    self._settle(conn, row, state="excluded", error=reason)
                    self._count("excluded")
                    continue
                who = people.get(row.contact_email) if row.contact_email else None
                if who is None:
                    self._settle(conn, row, state="skipped", error=_no_match(row.contact_email))
                    self._count("skipped")
                    continue
                ready.append((row, who, related.get(who.account_id) if who.account_id else None))
            self.publish(conn)
        if not ready:
            return
        enhanced = self.enhanced_email()
        records = [self._email_record(r, rel) if enhanced else self._task_record(r, who, rel) for r, who, rel in ready]
        sobject = "EmailMessage" if enhanced else "Task"
        # The outbox: what is about to be created is on disk before Salesforce hears of it.
        with self.engine.begin() as conn:
            for row, _, _ in ready:
                conn.execute(update(LOG).where(LOG.c.id == row.id).values(
                    state="pending", sf_object=sobject, sent_at=now, attempts=LOG.c.attempts + 1, updated_at=now))
            self.publish(conn)
        self._check()
        results = self.client.collection("POST", records)
        relating = []
        with self.engine.begin() as conn:
            for (row, who, _), result in zip(ready, results, strict=True):
                if result.get("success"):
                    if enhanced:
                        conn.execute(update(LOG).where(LOG.c.id == row.id).values(
                            state="relating", sf_id=result["id"], error=None, updated_at=self.clock()))
                        relating.append(row.id)
                    else:
                        self._logged(conn, row, result["id"])
                    self._count("created")
                    continue
                code, message = _message(result)
                if code == "INVALID_TYPE" and enhanced:
                    # Enhanced Email was turned off since the describe: send it again as a task.
                    self._enhanced = False
                    conn.execute(update(LOG).where(LOG.c.id == row.id).values(state="queued", sent_at=None, updated_at=self.clock()))
                else:
                    self._failed(conn, row, message)
            self.publish(conn)
        if relating:
            self._relate(self._rows_by_id(relating), fresh=True)

    def _rows_by_id(self, ids: list[int]) -> list:
        with self.engine.connect() as conn:
            return conn.execute(self._select().where(LOG.c.id.in_(ids)).order_by(LOG.c.id)).all()

    def _relate(self, rows: list, *, fresh: bool) -> None:
        """Relations of logged EmailMessages. After an interruption (``fresh`` False) the ones
        already in Salesforce are read first, so none is written twice."""
        if not rows:
            return
        people = self._people({(r.contact_email, r.contact_sf_id) for r in rows if r.contact_email})
        with self.engine.connect() as conn:
            others = self._others(conn, {a for r in rows for a in addresses(r.from_address, r.to_addresses, r.cc_addresses)})
        have: set[tuple] = set()
        if not fresh:
            for chunk in _literal_chunks([r.sf_id for r in rows]):
                self._check()
                for rel in self.client.query_all(f"SELECT EmailMessageId, RelationId, RelationType FROM EmailMessageRelation "
                                                 f"WHERE EmailMessageId IN ({', '.join(chunk)})"):
                    have.add((rel.get("EmailMessageId"), rel.get("RelationId"), rel.get("RelationType")))
        wanted: list[tuple] = []
        for row in rows:
            who = people.get(row.contact_email) if row.contact_email else None
            for relation in self._relations(row, who, others) if who else []:
                if (row.sf_id, relation["RelationId"], relation["RelationType"]) not in have:
                    wanted.append((row, relation))
        refused: dict[int, list[str]] = {}
        for start in range(0, len(wanted), COLLECTION_SIZE):
            batch = wanted[start : start + COLLECTION_SIZE]
            self._check()
            results = self.client.collection("POST", [r for _, r in batch])
            for (row, _), result in zip(batch, results, strict=True):
                if not result.get("success"):
                    refused.setdefault(row.id, []).append(_message(result)[1])
        with self.engine.begin() as conn:
            for row in rows:
                note = refused.get(row.id)
                self._logged(conn, row, row.sf_id, note=("Logged; a relation was refused: " + "; ".join(note))[:2000] if note else None)
            self.publish(conn)

    # -- after a crash -----------------------------------------------------------------------------

    def _resolve_pending(self) -> None:
        rows = self._rows("pending")
        if not rows:
            return
        now = self.clock()
        found: dict[int, str] = {}
        emails = [r for r in rows if r.sf_object == "EmailMessage"]
        tasks = [r for r in rows if r.sf_object != "EmailMessage"]
        by_identifier = {r.identifier: r for r in emails}
        try:
            for chunk in _literal_chunks(sorted(by_identifier)):
                self._check()
                for record in self.client.query_all(f"SELECT Id, MessageIdentifier FROM EmailMessage "
                                                    f"WHERE MessageIdentifier IN ({', '.join(chunk)}) ORDER BY CreatedDate"):
                    row = by_identifier.get(record.get("MessageIdentifier"))
                    if row is not None and row.id not in found:
                        found[row.id] = record["Id"]
        except BadQuery:  # Enhanced Email turned off meanwhile: nothing can be found, or resent as email
            log.warning("pending emails could not be looked up", exc_info=True)
        by_marker = {task_marker(r.identifier): r for r in tasks}
        markers = sorted(by_marker)
        for start in range(0, len(markers), 100):
            chunk = markers[start : start + 100]
            self._check()
            likes = " OR ".join(f"Subject LIKE {soql.quote('%' + m)}" for m in chunk)
            for record in self.client.query_all(f"SELECT Id, Subject FROM Task WHERE TaskSubtype = 'Email' AND ({likes})"):
                subject = record.get("Subject") or ""
                row = next((by_marker[m] for m in chunk if subject.endswith(m)), None)
                if row is not None and row.id not in found:
                    found[row.id] = record["Id"]
        recovered = []
        with self.engine.begin() as conn:
            for row in rows:
                if row.id in found:
                    self._count("recovered")
                    if row.sf_object == "EmailMessage":
                        conn.execute(update(LOG).where(LOG.c.id == row.id).values(state="relating", sf_id=found[row.id], updated_at=now))
                        recovered.append(row.id)
                    else:
                        self._logged(conn, row, found[row.id])
                elif row.sent_at is None or now - row.sent_at >= self.options.pending_grace:
                    conn.execute(update(LOG).where(LOG.c.id == row.id).values(state="queued", sent_at=None, updated_at=now))
                else:
                    self._count("waiting")
            self.publish(conn)

    # -- outcomes ---------------------------------------------------------------------------------

    def _settle(self, conn: Connection, row, *, state: str, error: str | None) -> None:
        conn.execute(update(LOG).where(LOG.c.id == row.id).values(state=state, error=error, sent_at=None, updated_at=self.clock()))

    def _logged(self, conn: Connection, row, sf_id: str, note: str | None = None) -> None:
        now = self.clock()
        conn.execute(update(LOG).where(LOG.c.id == row.id).values(state="sent", sf_id=sf_id, error=note, sent_at=None,
                                                                 logged_at=now, updated_at=now))
        conn.execute(delete(ERROR).where(ERROR.c.workspace_id == self.workspace_id, ERROR.c.sobject == ERROR_OBJECT,
                                         ERROR.c.sf_id == str(row.message_id)))

    def _failed(self, conn: Connection, row, message: str) -> None:
        now = self.clock()
        conn.execute(update(LOG).where(LOG.c.id == row.id).values(state="failed", error=message[:2000], sent_at=None, updated_at=now))
        stmt = insert_for(conn, ERROR)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ERROR.c.workspace_id, ERROR.c.sobject, ERROR.c.sf_id],
            set_={"message": stmt.excluded.message, "last_run_id": stmt.excluded.last_run_id,
                  "updated_at": stmt.excluded.updated_at, "attempts": ERROR.c.attempts + 1})
        subject = (row.subject or "(no subject)")[:120]
        conn.execute(stmt.values(workspace_id=self.workspace_id, sobject=ERROR_OBJECT, sf_id=str(row.message_id),
                                 message=f"“{subject}”: {message}"[:2000], attempts=1, last_run_id=self.run_id,
                                 created_at=now, updated_at=now))
        self._count("failed")


def _no_match(email: str | None) -> str:
    if not email:
        return "The conversation has no contact address to log it against."
    return f"No Salesforce contact or open lead has {email}."


def _message(result: dict) -> tuple[str, str]:
    first = (result.get("errors") or [{}])[0]
    code = first.get("statusCode") or first.get("errorCode") or "UNKNOWN"
    fields = first.get("fields") or []
    text = (first.get("message") or "Salesforce refused the record.").strip()
    return code, f"{code}: {text}" + (f" (fields: {', '.join(fields)})" if fields else "")
