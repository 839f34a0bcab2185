"""One sync run: every object in order, page by page, each page one transaction.

A page's mirror rows, its inbox contacts, its record errors, the object's cursor and the run's
counts commit together, so a run killed at any instant leaves a consistent state and the next
run resumes from the last committed page; re-reading a page is harmless (rows are upserted and
unchanged ones skipped by SystemModstamp).

First run of an object (or when asked for): a full pass. It marks the rows it sees
(``seen_pass``); at its end, rows it did not see were purged in Salesforce and are marked
deleted. Otherwise: incremental on SystemModstamp with a lookback window, through queryAll so
soft deletes arrive as IsDeleted.

A record deleted and then purged from the Recycle Bin before the next run never reaches
queryAll, so an id-only reconciliation (``SELECT Id … ORDER BY Id``, 2,000 per page) finds what
the mirror still holds and Salesforce does not: weekly in a ``reconcile`` run, and after the
pull of an object whose last success is older than the Recycle Bin keeps records. It marks the
ids it sees in a temporary table, page by page, and only at the end removes the rest, so a
reconciliation cut off half-way removes nothing.

Fields the connected user cannot read (field-level security) are left out of every SELECT.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import column, delete, exists, select, text, update
from sqlalchemy import table as sql_table
from sqlalchemy.engine import Engine

from webapp.clock import utcnow
from webapp.models import SyncCursor, SyncRecordError
from webapp.salesforce import soql
from webapp.salesforce.client import SalesforceClient
from webapp.salesforce.errors import BadQuery, RateLimited, ReconnectNeeded, SalesforceError, Unavailable
from webapp.salesforce.fields import FieldAccess
from webapp.salesforce.sync import activity, ledger, outbox
from webapp.salesforce.sync.objects import BY_NAME, CONTACT, HISTORY, OBJECTS, OPPORTUNITY, Context, ObjectSpec, clean_extra_fields
from webapp.salesforce.sync.pages import Budget, BudgetSpent, Prefetch
from webapp.salesforce.sync.push import ERROR_OBJECT, Pusher, PushOptions
from webapp.salesforce.sync.ownership import SALESFORCE_FIELDS
from webapp.salesforce.sync.reconcile import Plan, Reconciler
from webapp.plurals import plural
from webapp.salesforce.sync.writer import PageWriter

log = logging.getLogger(__name__)

CURSOR = SyncCursor.__table__
ERROR = SyncRecordError.__table__
LOOKBACK = timedelta(minutes=10)
# Salesforce keeps deleted records in the Recycle Bin for 15 days (less when an admin empties
# it): a run whose last success is older reconciles ids, with a day of margin.
RECYCLE_BIN = timedelta(days=15)
RECONCILE_AFTER = RECYCLE_BIN - timedelta(days=1)
RETRY_BATCH = 200  # ids per retry query: well inside the 16 KB URL limit
SCRATCH = "reconcile_ids"  # a temporary table: per connection, gone with it


@dataclass
class Outcome:
    status: str  # succeeded | paused | failed
    reason: str | None = None


@dataclass
class RunOptions:
    context: Context
    budget: Budget
    extra_fields: dict = field(default_factory=dict)
    lookback: timedelta = LOOKBACK
    reconcile_after: timedelta = RECONCILE_AFTER
    reconcile_only: bool = False  # a ``reconcile`` run: the id-only check of every object, no pull
    batch_size: int | None = None
    retry_error_id: int | None = None
    retry: bool = False
    two_way: PushOptions | None = None  # None: pull only
    rules: dict = field(default_factory=dict)  # field key -> ownership rule
    sf_user_id: str | None = None  # the connected user: the outbox finds what it created
    emails: activity.EmailOptions | None = None  # None: email logging is off
    fields: FieldAccess | None = None  # what the connected user may read and write; None: everything


class SyncRunner:
    def __init__(self, engine: Engine, client: SalesforceClient, workspace_id: int, run_id: int, options: RunOptions,
                 *, invalidate: Callable[[set[str]], None] | None = None, on_page: Callable[[dict], None] | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.engine, self.client, self.workspace_id, self.run_id = engine, client, workspace_id, run_id
        self.options, self.clock = options, clock
        self.invalidate = invalidate or (lambda emails: None)
        self.on_page = on_page or (lambda counts: None)
        self.counts: dict[str, dict] = {}
        self.waited = 0.0  # seconds spent waiting on Salesforce
        self.writer = PageWriter(engine, workspace_id, run_id, options.context, self)

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> Outcome:
        outcome = self._run()
        ledger.finish(self.engine, self.run_id, outcome.status, outcome.reason, counts=self.counts,
                      api_calls=self.client.calls, usage=self.client.usage)
        return outcome

    def _run(self) -> Outcome:
        try:
            if self.options.retry:
                self._retry()
            elif self.options.reconcile_only:
                for spec in OBJECTS:
                    if spec.deletable:
                        self._reconcile(spec, self.counts.setdefault(spec.name, _blank("reconcile")))
            else:
                self._objects(OBJECTS)
                if self.options.two_way is not None:
                    self._two_way()
                if self.options.emails is not None:
                    self._emails()
        except BudgetSpent as exc:
            return Outcome("paused", str(exc))
        except RateLimited:
            return Outcome("paused", "Salesforce API limit reached (REQUEST_LIMIT_EXCEEDED). The next run resumes from here.")
        except ReconnectNeeded as exc:
            return Outcome("failed", f"Reconnect needed: {exc}")
        except Unavailable as exc:
            return Outcome("failed", f"Salesforce unavailable: {exc} The next run resumes from here.")
        except SalesforceError as exc:
            return Outcome("failed", f"Salesforce refused the sync: {exc}")
        except Exception as exc:  # recorded for the admin, then re-raised for the logs
            ledger.finish(self.engine, self.run_id, "failed", f"Internal error: {exc.__class__.__name__}: {exc}",
                          counts=self.counts, api_calls=self.client.calls, usage=self.client.usage)
            raise
        failed = sum(c.get("failed", 0) for c in self.counts.values() if isinstance(c, dict))
        if not failed:
            return Outcome("succeeded", None)
        return Outcome("succeeded", f"{plural(failed, 'record')} could not be synced; see the records that failed below.")

    def publish(self, conn, current: str | None) -> None:
        """Write the live counts in the page's transaction."""
        ledger.progress(conn, self.run_id, counts=self.counts, api_calls=self.client.calls, current=current)
        self.on_page(self.counts)

    # -- one object -------------------------------------------------------------------------

    def _cursor(self, spec: ObjectSpec):
        with self.engine.begin() as conn:
            row = conn.execute(
                select(CURSOR).where(CURSOR.c.workspace_id == self.workspace_id, CURSOR.c.sobject == spec.name)
            ).first()
            if row is None:
                conn.execute(CURSOR.insert().values(workspace_id=self.workspace_id, sobject=spec.name, full_requested=False))
                row = conn.execute(
                    select(CURSOR).where(CURSOR.c.workspace_id == self.workspace_id, CURSOR.c.sobject == spec.name)
                ).first()
        return row

    def _objects(self, specs) -> None:
        """Pull these objects in turn; each one's query is sent as soon as the previous one's
        last page has arrived, while that page is still being written."""
        passes = [self._plan(spec) for spec in specs]
        fetches: list[Prefetch] = []
        for p in reversed(passes):
            fetches.insert(0, self._prefetch(p, p.extra, then=fetches[0] if fetches else None))
        try:
            for p, fetch in zip(passes, fetches):
                self._sync_object(p, fetch)
        finally:
            for fetch in fetches:
                fetch.close()

    def _plan(self, spec: ObjectSpec, counts: dict | None = None) -> _Pass:
        cursor = self._cursor(spec)
        now = self.clock()
        pass_id = cursor.pass_id
        start = cursor.stamp
        stale = cursor.last_success_at is not None and now - cursor.last_success_at > self.options.reconcile_after
        if pass_id is None and (not spec.deletable or cursor.full_requested or cursor.last_success_at is None):
            pass_id, start = self.run_id, None
            with self.engine.begin() as conn:
                conn.execute(update(CURSOR).where(CURSOR.c.id == cursor.id).values(
                    pass_id=pass_id, pass_started_at=now, stamp=None, full_requested=False))
        strictly_after = False
        if pass_id is None and start is not None:
            queried = cursor.last_success_at
            if start < queried - self.options.lookback:
                # Quiet since: everything stamped up to the cursor had committed when the last
                # run queried, so nothing at or before it can still arrive late.
                strictly_after = True
            else:
                # Changes near the last query: a transaction open then may commit late with an
                # older stamp, so read again from a lookback before that query (dedup by Id).
                start = queried - self.options.lookback
        self.writer.stamps[cursor.id] = None if start is None and pass_id is not None and cursor.pass_id is None else cursor.stamp
        if counts is None:
            counts = self.counts.setdefault(spec.name, _blank("full" if pass_id else "incremental"))
        extra = clean_extra_fields(spec, self.options.extra_fields.get(spec.name, ())) if spec.extra_allowed else ()
        where = f" WHERE SystemModstamp {'>' if strictly_after else '>='} {soql.datetime_literal(start)}" if start else ""
        return _Pass(spec, cursor, now, pass_id, extra, where, counts, stale)

    def _prefetch(self, p: _Pass, extra, *, then: Prefetch | None = None) -> Prefetch:
        def query() -> str:  # built when it goes out: what the user may read is known by then
            fields = self._readable(p.spec, p.spec.select(self.options.context, extra), p.counts)
            return f"SELECT {', '.join(fields)} FROM {p.spec.name}{p.where} ORDER BY SystemModstamp ASC"

        return Prefetch(self.client, query, include_deleted=p.spec.deletable, budget=self.options.budget,
                        batch_size=self.options.batch_size, then=then)

    def _sync_object(self, p: _Pass | ObjectSpec, fetch: Prefetch | None = None, counts: dict | None = None) -> None:
        if isinstance(p, ObjectSpec):
            p = self._plan(p, counts)
        spec, cursor, counts = p.spec, p.cursor, p.counts
        fetch = fetch or self._prefetch(p, p.extra)
        try:
            try:
                self._pull(spec, p.extra, p.pass_id, fetch, cursor_id=cursor.id, counts=counts)
            except BadQuery as exc:
                if exc.code != "INVALID_FIELD" or self.options.fields is None or not spec.field_security:
                    raise
                # A field was hidden since the describe we kept: look again, then pull without it.
                log.warning("field refused; describing again", extra={"object": spec.name, "error": str(exc)})
                self.options.fields.recheck(spec.name)
                fetch = self._prefetch(p, p.extra, then=fetch.then)
                self._pull(spec, p.extra, p.pass_id, fetch, cursor_id=cursor.id, counts=counts)
        except BadQuery as exc:
            if not p.extra:
                raise
            # A selected field was deleted or hidden in Salesforce: sync without the extras.
            log.warning("extra fields refused", extra={"object": spec.name, "error": str(exc)})
            counts["note"] = f"Extra fields skipped: {exc}"
            self._pull(spec, (), p.pass_id, self._prefetch(p, (), then=fetch.then), cursor_id=cursor.id, counts=counts)
        with self.engine.begin() as conn:
            values = {"last_success_at": p.now}
            if p.pass_id is not None:
                counts["deleted"] += self.writer.sweep(conn, spec, p.pass_id)
                values.update(pass_id=None, pass_started_at=None, last_full_at=p.now, last_reconciled_at=p.now)
                values["last_success_at"] = cursor.pass_started_at or p.now
            conn.execute(update(CURSOR).where(CURSOR.c.id == cursor.id).values(**values))
            self.publish(conn, spec.name)
        self.writer.flush_invalidations(self.invalidate)
        if p.stale and p.pass_id is None and spec.deletable:
            # Records deleted since the last success may have left the Recycle Bin already.
            self._reconcile(spec, counts)

    # -- the id-only reconciliation ---------------------------------------------------------

    def _reconcile(self, spec: ObjectSpec, counts: dict) -> None:
        """Mark the mirror rows Salesforce no longer has as deleted. Salesforce's ids go page
        by page into a temporary table of this connection (memory bounded by a page; the
        mirror rows are not rewritten), then one anti-join finds the rest; nothing is removed
        before every id has been seen."""
        cursor = self._cursor(spec)
        started = self.clock()
        table = spec.table
        counts["reconciled"] = 0
        with self.engine.connect() as scratch:
            scratch.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {SCRATCH} (sf_id VARCHAR(18) PRIMARY KEY)")
            scratch.exec_driver_sql(f"DELETE FROM {SCRATCH}")
            scratch.commit()
            add = text(f"INSERT INTO {SCRATCH} (sf_id) VALUES (:i) ON CONFLICT DO NOTHING")
            try:
                pages = Prefetch(self.client, f"SELECT Id FROM {spec.name} ORDER BY Id", include_deleted=False,
                                 budget=self.options.budget, batch_size=self.options.batch_size)
                try:
                    for page in pages:
                        ids = [{"i": r["Id"]} for r in page.get("records", []) if r.get("Id")]
                        counts["reconciled"] += len(ids)
                        if counts.get("mode") == "reconcile":
                            counts["total"] = page.get("totalSize")
                        if ids:
                            scratch.execute(add, ids)
                        scratch.commit()
                        with self.engine.begin() as conn:
                            self.publish(conn, spec.name)
                finally:
                    self.waited += pages.waited
                listed = sql_table(SCRATCH, column("sf_id"))
                gone = list(scratch.execute(select(table.c.sf_id).where(
                    table.c.workspace_id == self.workspace_id, table.c.is_deleted.is_(False),
                    ~exists().where(listed.c.sf_id == table.c.sf_id))).scalars())
                removed = self.writer.mark_gone(scratch, spec, gone)
                counts["deleted"] += removed
                counts["purged"] = counts.get("purged", 0) + removed
                note = f"Ids checked: {counts['reconciled']:,}; purged in Salesforce: {removed:,}."
                counts["note"] = f"{counts['note']} {note}" if counts.get("note") else note
                scratch.execute(update(CURSOR).where(CURSOR.c.id == cursor.id).values(last_reconciled_at=started))
                self.publish(scratch, spec.name)
                scratch.commit()
            finally:
                scratch.rollback()
                scratch.exec_driver_sql(f"DROP TABLE IF EXISTS {SCRATCH}")
                scratch.commit()
        self.writer.flush_invalidations(self.invalidate)

    def _readable(self, spec: ObjectSpec, fields: tuple[str, ...], counts: dict) -> tuple[str, ...]:
        """The SELECT list without what field-level security hides from the connected user."""
        if self.options.fields is None or not spec.field_security:
            return fields
        self.options.budget.check(self.client)  # the select may describe the object: a call
        kept, hidden = self.options.fields.select(spec.name, fields)
        if hidden:
            counts["note"] = f"Hidden from the integration user: {', '.join(hidden)}."
        return tuple(kept)

    def _pull(self, spec, extra, pass_id, pages: Prefetch, *, cursor_id, counts) -> None:
        try:
            for page in pages:
                counts["total"] = max(counts.get("total") or 0, page.get("totalSize") or 0)
                with self.engine.begin() as conn:
                    self.writer.write(conn, spec, page.get("records", []), extra, pass_id, counts,
                                      cursor_id=cursor_id)
                    self.publish(conn, spec.name)
                self.writer.flush_invalidations(self.invalidate)
        finally:
            self.waited += pages.waited

    # -- two-way: after the pull ------------------------------------------------------------

    def _two_way(self, retry_ids: dict[str, set[int]] | None = None) -> None:
        """Settle the outbox, reconcile, push. What was pushed is read back at once (its
        echo lands in the mirror now and equals what we sent), so the next run finds nothing."""
        push = self.options.two_way
        counts = {"deal": self.counts.setdefault("Deals", _push_blank()),
                  "contact": self.counts.setdefault("Contacts (inbox edits)", _push_blank())}
        outbox.resolve(self.engine, self.client, self.workspace_id, self.options.budget, user_id=self.options.sf_user_id,
                       grace=push.pending_grace, counts=counts["deal"], now=self.clock())
        plan = Plan()
        with self.engine.begin() as conn:
            reconciler = Reconciler(conn, self.workspace_id, self.run_id, self.options.rules, counts, retry_ids=retry_ids,
                                    unreadable=self._unreadable(),
                                    new_since=push.new_deals_since)
            plan.stages = reconciler.stages
            items = reconciler.deals() + reconciler.contacts()
            self.publish(conn, "Deals")
        if items:
            self.options.budget.check(self.client)
        pusher = Pusher(self.engine, self.client, self.workspace_id, self.run_id, push, counts, plan,
                        lambda conn: self.publish(conn, "Deals"), fields=self.options.fields)
        pushed = pusher.push(items)
        pusher.delete_deleted()
        if pushed:
            echo: dict = _blank("echo")
            for spec in (OPPORTUNITY, HISTORY) + ((CONTACT,) if any(i.kind == "contact" for i in items) else ()):
                self._sync_object(spec, counts=echo)
            with self.engine.begin() as conn:
                reconciler = Reconciler(conn, self.workspace_id, self.run_id, self.options.rules, counts,
                                        unreadable=self._unreadable(),
                                        new_since=push.new_deals_since)
                reconciler.deals()
                reconciler.contacts()  # anything new from here goes out on the next run
                self.publish(conn, None)

    def _unreadable(self) -> set[str]:
        """Two-way fields whose Salesforce field the connected user cannot read: not synced."""
        if self.options.fields is None:
            return set()
        return {key for key, (sobject, name) in SALESFORCE_FIELDS.items()
                if not self.options.fields.can_read(sobject, name)}

    # -- email logging: after the pull and the push ------------------------------------------

    def _emails(self, retry_ids: set[int] | None = None) -> None:
        counts = self.counts.setdefault("Emails", {"mode": "push", "created": 0, "failed": 0, "excluded": 0, "skipped": 0})
        logger = activity.EmailLogger(self.engine, self.client, self.workspace_id, self.run_id, self.options.emails,
                                      self.options.budget, counts, lambda conn: self.publish(conn, "Emails"), clock=self.clock)
        try:
            logger.run(retry_ids=retry_ids)
        finally:
            notes = [f"{counts[k]:,} {label}" for k, label in (
                ("excluded", "excluded"), ("skipped", "without a Salesforce contact or lead"),
                ("recovered", "found in Salesforce after an interruption"), ("waiting", "still on their way")) if counts.get(k)]
            if notes:
                counts["note"] = ", ".join(notes) + "."

    # -- retrying failed records ------------------------------------------------------------

    def _retry(self) -> None:
        query = select(ERROR.c.sobject, ERROR.c.sf_id).where(ERROR.c.workspace_id == self.workspace_id)
        if self.options.retry_error_id is not None:
            query = query.where(ERROR.c.id == self.options.retry_error_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        by_object: dict[str, list[str]] = {}
        pushes: dict[str, set[int]] = {}
        emails: set[int] = set()
        kinds = {v: k for k, v in ERROR_OBJECT.items()}
        for sobject, sf_id in rows:
            if sobject in BY_NAME:
                by_object.setdefault(sobject, []).append(sf_id)
            elif sobject in kinds and sf_id.isdigit():
                pushes.setdefault(kinds[sobject], set()).add(int(sf_id))
            elif sobject == activity.ERROR_OBJECT and sf_id.isdigit():
                emails.add(int(sf_id))
        if pushes and self.options.two_way is not None:
            self._two_way(retry_ids=pushes)
        if emails and self.options.emails is not None:
            self._emails(retry_ids=emails)
        for spec in OBJECTS:
            ids = by_object.get(spec.name)
            if not ids:
                continue
            counts = self.counts.setdefault(spec.name, _blank("retry"))
            extra = clean_extra_fields(spec, self.options.extra_fields.get(spec.name, ())) if spec.extra_allowed else ()
            for start in range(0, len(ids), RETRY_BATCH):
                batch = ids[start : start + RETRY_BATCH]
                listed = ", ".join(soql.quote(i) for i in batch)
                fields = self._readable(spec, spec.select(self.options.context, extra), counts)
                query = f"SELECT {', '.join(fields)} FROM {spec.name} WHERE Id IN ({listed})"
                seen: set[str] = set()
                for page in Prefetch(self.client, query, include_deleted=spec.deletable, budget=self.options.budget):
                    records = page.get("records", [])
                    seen.update(r.get("Id") for r in records)
                    with self.engine.begin() as conn:
                        self.writer.write(conn, spec, records, extra, None, counts, cursor_id=None)
                        self.publish(conn, spec.name)
                    self.writer.flush_invalidations(self.invalidate)
                gone = [i for i in batch if i not in seen]
                if gone:  # purged in Salesforce: nothing left to retry
                    with self.engine.begin() as conn:
                        counts["deleted"] += self.writer.mark_gone(conn, spec, gone)
                        self.publish(conn, spec.name)
                    self.writer.flush_invalidations(self.invalidate)


@dataclass
class _Pass:
    """One object's part of a run, decided before its query is sent."""

    spec: ObjectSpec
    cursor: object  # its sync_cursor row as it was
    now: datetime
    pass_id: int | None  # a full pass: the run that started it
    extra: tuple[str, ...]
    where: str
    counts: dict
    stale: bool = False  # its last success is older than the Recycle Bin keeps deleted rows


def _push_blank() -> dict:
    return {"mode": "push", "created": 0, "updated": 0, "deleted": 0, "failed": 0, "conflicts": 0,
            "from_salesforce": 0, "unlinked": 0}


def _blank(mode: str) -> dict:
    return {"mode": mode, "total": None, "fetched": 0, "created": 0, "updated": 0, "deleted": 0, "failed": 0}


def request_full_pass(conn, workspace_id: int, sobjects) -> None:
    """The next run re-reads these objects in full (e.g. after extra fields were added)."""
    conn.execute(update(CURSOR).where(CURSOR.c.workspace_id == workspace_id, CURSOR.c.sobject.in_(list(sobjects)))
                 .values(full_requested=True))


def forget_errors(conn, workspace_id: int) -> None:
    conn.execute(delete(ERROR).where(ERROR.c.workspace_id == workspace_id))
