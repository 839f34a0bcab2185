"""The push: inbox deals out as Opportunities and inbox edits of linked contacts, in sObject
Collections of 200, after the pull and the reconciliation of the same run.

Creates never duplicate. With an External ID field they are upserts by the deal's key, which
Salesforce matches however often they are sent. Without one they go through an outbox: the
link is marked pending with what it carries and committed BEFORE the call; the answer's Ids
are committed after it. A process killed in between leaves pending links, which the next run
looks up in Salesforce (``outbox.resolve``) before anything is sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from webapp.clock import utcnow
from webapp.models import SyncLink, SyncRecordError
from webapp.money import from_minor
from webapp.salesforce.client import COLLECTION_SIZE, SalesforceClient
from webapp.salesforce.errors import duplicate_matches
from webapp.salesforce.sync.ownership import meaning_of
from webapp.salesforce.sync.reconcile import Outgoing, Plan
from webapp.salesforce.sync.upsert import insert_for

log = logging.getLogger(__name__)
LINK, ERROR = SyncLink.__table__, SyncRecordError.__table__
ERROR_OBJECT = {"deal": "Deal", "contact": "Inbox contact"}
LOCK_RETRIES = 3
GONE_CODES = {"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"}


@dataclass(frozen=True)
class PushOptions:
    multi_currency: bool
    org_currency: str
    external_id_field: str | None = None
    delete_in_salesforce: bool = False
    # A pending create younger than this may still be in flight at Salesforce: wait for it.
    pending_grace: timedelta = timedelta(minutes=2)


class LocalRefusal(ValueError):
    """The record cannot be sent as it is (found before spending a call)."""


def opportunity_fields(values: dict, options: PushOptions) -> dict:
    record: dict = {}
    if "name" in values:
        record["Name"] = values["name"]
    if "stage" in values:
        record["StageName"] = values["stage"]
    if "close_date" in values:
        record["CloseDate"] = values["close_date"]
    if "amount" in values:
        amount = values["amount"]
        if amount is not None and not options.multi_currency and amount[1] != options.org_currency:
            raise LocalRefusal(f"The org has one currency, {options.org_currency}; this deal is in {amount[1]}. "
                               "Change the deal's currency or enable multi-currency in Salesforce.")
        record["Amount"] = None if amount is None else float(from_minor(amount[0], amount[1]))
        if amount is not None and options.multi_currency:
            record["CurrencyIsoCode"] = amount[1]
    if "account" in values:
        record["AccountId"] = values["account"]
    return record


def contact_fields(values: dict) -> dict:
    record: dict = {}
    if "name" in values:
        # Salesforce keeps first and last name apart; the last word is the last name.
        first, _, last = (values["name"] or "").strip().rpartition(" ")
        record["FirstName"], record["LastName"] = first or None, last or None
    if "title" in values:
        record["Title"] = values["title"]
    if "phone" in values:
        record["Phone"] = values["phone"]
    return record


def _message(result: dict) -> tuple[str, str]:
    errors = result.get("errors") or [{}]
    first = errors[0]
    code = first.get("statusCode") or first.get("errorCode") or "UNKNOWN"
    fields = first.get("fields") or []
    text = (first.get("message") or "Salesforce refused the record.").strip()
    return code, f"{code}: {text}" + (f" (fields: {', '.join(fields)})" if fields else "")


class Pusher:
    def __init__(self, engine: Engine, client: SalesforceClient, workspace_id: int, run_id: int, options: PushOptions,
                 counts: dict[str, dict], plan: Plan, publish):
        self.engine, self.client, self.workspace_id, self.run_id = engine, client, workspace_id, run_id
        self.options, self.counts, self.plan, self.publish = options, counts, plan, publish

    def push(self, items: list[Outgoing]) -> int:
        """Send everything; returns how many records Salesforce took."""
        taken = 0
        creates = [i for i in items if i.create]
        updates = [i for i in items if not i.create]
        for kind, sobject in (("deal", "Opportunity"), ("contact", "Contact")):
            batch = [i for i in updates if i.kind == kind]
            for start in range(0, len(batch), COLLECTION_SIZE):
                taken += self._send(batch[start : start + COLLECTION_SIZE], sobject, create=False)
        for start in range(0, len(creates), COLLECTION_SIZE):
            taken += self._send(creates[start : start + COLLECTION_SIZE], "Opportunity", create=True)
        return taken

    # -- one Collections call -----------------------------------------------------------------

    def _record(self, item: Outgoing, sobject: str, create: bool) -> dict:
        fields = opportunity_fields(item.values, self.options) if item.kind == "deal" else contact_fields(item.values)
        record = {"attributes": {"type": sobject}, **fields}
        if create and self.options.external_id_field:
            record[self.options.external_id_field] = self._key(item.link_id)
        elif not create:
            record["id"] = item.sf_id
        return record

    def _key(self, link_id: int) -> str:
        if not hasattr(self, "_keys"):
            self._keys = {}
        if link_id not in self._keys:
            with self.engine.connect() as conn:
                self._keys[link_id] = conn.execute(select(LINK.c.key).where(LINK.c.id == link_id)).scalar_one()
        return self._keys[link_id]

    def _send(self, items: list[Outgoing], sobject: str, *, create: bool) -> int:
        ready: list[tuple[Outgoing, dict]] = []
        with self.engine.begin() as conn:
            for item in items:
                try:
                    ready.append((item, self._record(item, sobject, create)))
                except LocalRefusal as exc:
                    self._failed(conn, item, f"Not sent: {exc}")
            if create and not self.options.external_id_field and ready:
                # The outbox: what is about to be created is on disk before Salesforce hears of it.
                now = utcnow()
                for item, record in ready:
                    conn.execute(update(LINK).where(LINK.c.id == item.link_id).values(
                        state="pending", sent_at=now, sent=item.values, updated_at=now))
            self.publish(conn)
        taken = 0
        attempt = 0
        while ready:
            records = [r for _, r in ready]
            if create and self.options.external_id_field:
                results = self.client.collection("PATCH", records, external_id=self.options.external_id_field, sobject=sobject)
            elif create:
                results = self.client.collection("POST", records)
            else:
                results = self.client.collection("PATCH", records)
            locked: list[tuple[Outgoing, dict]] = []
            with self.engine.begin() as conn:
                for (item, record), result in zip(ready, results, strict=True):
                    if result.get("success"):
                        self._succeeded(conn, item, result.get("id") or item.sf_id, create)
                        taken += 1
                        continue
                    code, message = _message(result)
                    if code == "UNABLE_TO_LOCK_ROW" and attempt + 1 < LOCK_RETRIES:
                        locked.append((item, record))
                    elif code in GONE_CODES and not create:
                        self._gone(conn, item)
                    else:
                        # A duplicate rule names the record this one duplicates: kept, to link to.
                        matches = duplicate_matches((result.get("errors") or [{}])[0])
                        self._failed(conn, item, message, transient=code == "UNABLE_TO_LOCK_ROW",
                                     match=matches[0] if matches else None)
                self.publish(conn)
            ready = locked
            if ready:
                attempt += 1
                self.client.sleep(self.client.retry.delay(attempt))
        return taken

    # -- outcomes -----------------------------------------------------------------------------

    def _count(self, kind: str, key: str, n: int = 1) -> None:
        c = self.counts[kind]
        c[key] = c.get(key, 0) + n

    def _succeeded(self, conn, item: Outgoing, sf_id: str, create: bool) -> None:
        base = dict(item.base)
        base.update(item.values)
        if item.kind == "deal":
            base["stage_meaning"] = meaning_of(base.get("stage"), self.plan.stages) or base.get("stage_meaning")
        values = dict(base=base, local_seen=item.read_at, failed_at=None, sent=None, sent_at=None, updated_at=utcnow(),
                      name=item.name[:255])
        if create:
            values.update(sf_id=sf_id, state="linked", sf_stamp=None)
        conn.execute(update(LINK).where(LINK.c.id == item.link_id).values(**values))
        conn.execute(delete(ERROR).where(ERROR.c.workspace_id == self.workspace_id, ERROR.c.sobject == ERROR_OBJECT[item.kind],
                                         ERROR.c.sf_id == str(item.local_id)))
        self._count(item.kind, "created" if create else "updated")

    def _gone(self, conn, item: Outgoing) -> None:
        """Deleted in Salesforce before the pull saw it: unlink, as the pull would have."""
        now = utcnow()
        conn.execute(update(LINK).where(LINK.c.id == item.link_id).values(state="unlinked", unlinked_at=now, updated_at=now))
        self._count(item.kind, "unlinked")

    def _failed(self, conn, item: Outgoing, message: str, *, transient: bool = False,
                match: tuple[str, str] | None = None) -> None:
        now = utcnow()
        values = dict(failed_at=None if transient else item.read_at, updated_at=now)
        if item.create:
            values.update(state="new", sent=None, sent_at=None)
        conn.execute(update(LINK).where(LINK.c.id == item.link_id).values(**values))
        stmt = insert_for(conn, ERROR)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ERROR.c.workspace_id, ERROR.c.sobject, ERROR.c.sf_id],
            set_={"message": stmt.excluded.message, "last_run_id": stmt.excluded.last_run_id,
                  "updated_at": stmt.excluded.updated_at, "attempts": ERROR.c.attempts + 1,
                  "match_sobject": stmt.excluded.match_sobject, "match_id": stmt.excluded.match_id})
        match_sobject, match_id = (match[0][:40], match[1][:18]) if match else (None, None)
        conn.execute(stmt.values(workspace_id=self.workspace_id, sobject=ERROR_OBJECT[item.kind], sf_id=str(item.local_id),
                                 message=f"{item.name}: {message}"[:2000], attempts=1, last_run_id=self.run_id,
                                 created_at=now, updated_at=now, match_sobject=match_sobject, match_id=match_id))
        self._count(item.kind, "failed")

    # -- deletes ------------------------------------------------------------------------------

    def delete_deleted(self) -> None:
        """Opportunities of deals deleted in the inbox, when the admin turned that on."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(LINK.c.id, LINK.c.sf_id, LINK.c.local_id, LINK.c.name).where(
                LINK.c.workspace_id == self.workspace_id, LINK.c.kind == "deal", LINK.c.state == "deleted",
                LINK.c.sent_at.is_(None))).all()
        if not rows:
            return
        with self.engine.begin() as conn:
            unsent = [r.id for r in rows if r.sf_id is None]
            if unsent:
                conn.execute(delete(LINK).where(LINK.c.id.in_(unsent)))
        rows = [r for r in rows if r.sf_id is not None]
        if not self.options.delete_in_salesforce:
            with self.engine.begin() as conn:
                conn.execute(delete(LINK).where(LINK.c.id.in_([r.id for r in rows])))
            return
        for start in range(0, len(rows), COLLECTION_SIZE):
            batch = rows[start : start + COLLECTION_SIZE]
            results = self.client.delete_many([r.sf_id for r in batch])
            with self.engine.begin() as conn:
                for row, result in zip(batch, results, strict=True):
                    code = None if result.get("success") else _message(result)[0]
                    if code is None or code in GONE_CODES:
                        conn.execute(delete(LINK).where(LINK.c.id == row.id))
                        self._count("deal", "deleted")
                    else:
                        item = Outgoing("deal", row.local_id, row.id, row.sf_id, row.name, {}, utcnow())
                        self._failed(conn, item, "Not deleted in Salesforce: " + _message(result)[1], transient=True)
                self.publish(conn)
