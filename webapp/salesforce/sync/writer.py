"""Writing one page of records: mirror rows, the user mirror, record errors, inbox contacts
and the object's cursor, all on the caller's connection (one transaction per page).

Rows are compared with what is stored first, so counts say what really changed, unchanged
rows are not rewritten, and the inbox and the card are only touched for real changes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Engine

from webapp.clock import utcnow
from webapp.models import SfUser, SyncCursor, SyncRecordError
from webapp.salesforce.sync import inbox
from webapp.salesforce.sync.objects import ACCOUNT, CONTACT, OPPORTUNITY, Context, ObjectSpec, RecordError, stamp
from webapp.salesforce.sync.upsert import CHUNK, execute_many, existing, in_list, insert_for, upsert_statement

USER = SfUser.__table__
CURSOR = SyncCursor.__table__
ERROR = SyncRecordError.__table__
# What is read back before a page is written, per object: enough to classify a row and to
# know which inbox contacts and cards it touches.
COMPARE = {"Contact": ("email_normalized",), "Account": ("name",), "Opportunity": ("account_id",)}
# For SQLite while a sync writes: a page cache that holds the mirror's indexes (the default
# 2 MB makes every page re-read them), and checkpoints every 40 MB of WAL instead of 4 MB, so
# pages that change on every commit are copied back to the database once, not each time.
SQLITE_PRAGMAS = ("PRAGMA cache_size=-65536", "PRAGMA wal_autocheckpoint=10000")


class PageWriter:
    def __init__(self, engine: Engine, workspace_id: int, run_id: int, context: Context, runner):
        self.engine, self.workspace_id, self.run_id, self.context = engine, workspace_id, run_id, context
        self.runner = runner
        self._statements: dict = {}
        self._pending_emails: set[str] = set()
        self.stamps: dict[int, datetime | None] = {}  # cursor id -> the stamp committed so far
        with engine.connect() as conn:
            self._errors = {
                (o, i) for o, i in conn.execute(select(ERROR.c.sobject, ERROR.c.sf_id).where(ERROR.c.workspace_id == workspace_id))
            }

    def _upsert(self, conn: Connection, spec: ObjectSpec, columns: tuple[str, ...]):
        key = (spec.name, columns)
        if key not in self._statements:
            table = spec.table
            update_cols = [c for c in columns if c not in ("workspace_id", "sf_id")]
            self._statements[key] = upsert_statement(
                conn, table, ("workspace_id", "sf_id"), update_cols,
                where=table.c.system_modstamp <= insert_for(conn, table).excluded.system_modstamp,
            )
        return self._statements[key]

    # -- a page -------------------------------------------------------------------------------

    def write(self, conn: Connection, spec: ObjectSpec, records: list[dict], extra: tuple[str, ...],
              pass_id: int | None, counts: dict, *, cursor_id: int | None) -> None:
        now = utcnow()
        if conn.dialect.name == "sqlite":
            for pragma in SQLITE_PRAGMAS:
                conn.exec_driver_sql(pragma)
        ws, ctx = self.workspace_id, self.context
        counts["fetched"] += len(records)
        latest: dict[str, dict] = {}
        failures: dict[str, str] = {}
        top_stamp: datetime | None = None
        for record in records:
            sf_id = record.get("Id")
            if not sf_id:
                continue
            try:
                record_stamp = stamp(record.get("SystemModstamp"))
            except (RecordError, TypeError, ValueError):
                record_stamp = None
            if record_stamp is not None and (top_stamp is None or record_stamp > top_stamp):
                top_stamp = record_stamp
            try:
                if record_stamp is None:
                    raise RecordError("The record has no valid SystemModstamp.")
                row = spec.convert(record, ctx)
                row["system_modstamp"] = record_stamp
            except (RecordError, TypeError, ValueError) as exc:
                failures[sf_id] = str(exc) or exc.__class__.__name__
                latest.pop(sf_id, None)
                continue
            previous = latest.get(sf_id)
            if previous is not None and previous["system_modstamp"] > row["system_modstamp"]:
                continue  # the same record twice in one page: keep its newest version
            row.update(workspace_id=ws, sf_id=sf_id, is_deleted=bool(record.get("IsDeleted")), synced_at=now)
            # Only what applies is written: fewer bound values per row is most of the speed.
            if pass_id is not None:
                row["seen_pass"] = pass_id
            if extra:
                row["extra"] = {f: record.get(f) for f in extra}
            if spec.owner:
                owner = record.get("Owner") or {}
                row["_owner_name"] = owner.get("Name") if isinstance(owner, dict) else None
            latest[sf_id] = row

        compare = COMPARE.get(spec.name, ())
        stored = existing(conn, spec.table, ws, list(latest) + list(failures), ("system_modstamp", "is_deleted", *compare))
        writes: list[dict] = []
        unchanged: list[str] = []
        for sf_id, row in latest.items():
            old = stored.get(sf_id)
            if old is None:
                if row["is_deleted"]:
                    continue  # deleted before we ever saw it
                counts["created"] += 1
                writes.append(row)
            elif row["system_modstamp"] > old[0] or (row["system_modstamp"] == old[0] and row["is_deleted"] != old[1]):
                if row["is_deleted"] and not old[1]:
                    counts["deleted"] += 1
                else:
                    counts["updated"] += 1
                writes.append(row)
            else:
                unchanged.append(sf_id)
        if pass_id is not None:
            # Failed and unchanged rows are still in Salesforce: the sweep must not drop them.
            unchanged += [i for i in failures if i in stored]

        owners = {}
        for row in writes:
            name = row.pop("_owner_name", None)
            if row.get("owner_id") and name:
                owners[row["owner_id"]] = name
        if writes:
            execute_many(conn, self._upsert(conn, spec, tuple(writes[0])), writes)
        if unchanged and pass_id is not None:
            table = spec.table
            mark = update(table).where(table.c.workspace_id == ws, in_list(conn, table.c.sf_id, "ids")).values(seen_pass=pass_id)
            for start in range(0, len(unchanged), CHUNK):
                conn.execute(mark, {"ids": unchanged[start : start + CHUNK]})
        if owners:
            self._users(conn, owners, now)
        self._record_errors(conn, spec, failures, [r["sf_id"] for r in writes] + unchanged, counts, now)
        self._follow(conn, spec, writes, stored, now, full=pass_id is not None)
        if cursor_id is not None and top_stamp is not None:
            current = self.stamps.get(cursor_id)
            if current is None or top_stamp > current:
                self.stamps[cursor_id] = top_stamp
                conn.execute(update(CURSOR).where(CURSOR.c.id == cursor_id).values(stamp=top_stamp))

    def _users(self, conn: Connection, owners: dict[str, str], now) -> None:
        rows = [{"workspace_id": self.workspace_id, "sf_id": i, "name": n[:255], "synced_at": now} for i, n in owners.items()]
        stmt = upsert_statement(conn, USER, ("workspace_id", "sf_id"), ("name", "synced_at"))
        execute_many(conn, stmt, rows)

    def _record_errors(self, conn, spec, failures: dict[str, str], succeeded: list[str], counts: dict, now) -> None:
        if failures:
            counts["failed"] += len(failures)
            rows = [{"workspace_id": self.workspace_id, "sobject": spec.name, "sf_id": i, "message": m[:2000],
                     "attempts": 1, "last_run_id": self.run_id, "created_at": now, "updated_at": now}
                    for i, m in failures.items()]
            stmt = insert_for(conn, ERROR)
            stmt = stmt.on_conflict_do_update(
                index_elements=[ERROR.c.workspace_id, ERROR.c.sobject, ERROR.c.sf_id],
                set_={"message": stmt.excluded.message, "last_run_id": stmt.excluded.last_run_id,
                      "updated_at": stmt.excluded.updated_at, "attempts": ERROR.c.attempts + 1},
            )
            execute_many(conn, stmt, rows)
            self._errors.update((spec.name, i) for i in failures)
        resolved = [i for i in succeeded if (spec.name, i) in self._errors]
        if resolved:
            conn.execute(delete(ERROR).where(ERROR.c.workspace_id == self.workspace_id, ERROR.c.sobject == spec.name,
                                             ERROR.c.sf_id.in_(resolved)))
            self._errors.difference_update((spec.name, i) for i in resolved)

    def _follow(self, conn: Connection, spec: ObjectSpec, writes: list[dict], stored: dict, now, *, full: bool = False) -> None:
        """The inbox contacts and cached cards a page's changes reach. In a full pass, rows new
        to the mirror are mostly old ones: their cards expire on their own (5 minutes)."""
        if not writes:
            return
        ws = self.workspace_id
        if spec is CONTACT:
            emails = {r["email_normalized"] for r in writes} | {stored[r["sf_id"]][2] for r in writes if r["sf_id"] in stored}
            emails.discard(None)
            self._reconcile(conn, emails, now)
        elif spec is ACCOUNT:
            renamed = [r["sf_id"] for r in writes if r["sf_id"] in stored
                       and (stored[r["sf_id"]][2] != r["name"] or stored[r["sf_id"]][1] != r["is_deleted"])]
            if renamed:
                self._reconcile(conn, inbox.emails_of_accounts(conn, ws, renamed), now)
            changed = [r["sf_id"] for r in writes if r["sf_id"] in stored]
            self._pending_emails |= inbox.emails_of_accounts(conn, ws, changed) if changed else set()
        elif spec is OPPORTUNITY:
            moved = [r for r in writes if r["sf_id"] in stored] if full else writes
            accounts = {r["account_id"] for r in moved} | {stored[r["sf_id"]][2] for r in moved if r["sf_id"] in stored}
            accounts.discard(None)
            self._pending_emails |= inbox.emails_of_accounts(conn, ws, sorted(accounts)) if accounts else set()

    def _reconcile(self, conn: Connection, emails: set[str], now) -> None:
        if not emails:
            return
        found = inbox.reconcile(conn, self.workspace_id, emails, now)
        counts = self.runner.counts.setdefault("Inbox contacts", {"created": 0, "updated": 0})
        counts["created"] += found.created
        counts["updated"] += found.updated
        self._pending_emails |= emails

    def flush_invalidations(self, invalidate) -> None:
        """Drop the cached cards of what changed; called after the page committed."""
        if self._pending_emails:
            emails, self._pending_emails = self._pending_emails, set()
            invalidate(emails)

    # -- after a full pass ----------------------------------------------------------------

    def sweep(self, conn: Connection, spec: ObjectSpec, pass_id: int) -> int:
        """Rows a full pass did not see are gone from Salesforce (purged): mark them deleted."""
        table = spec.table
        gone = list(conn.execute(select(table.c.sf_id).where(
            table.c.workspace_id == self.workspace_id, table.c.is_deleted.is_(False),
            (table.c.seen_pass.is_(None)) | (table.c.seen_pass != pass_id))).scalars())
        return self.mark_gone(conn, spec, gone)

    def mark_gone(self, conn: Connection, spec: ObjectSpec, sf_ids: list[str]) -> int:
        if not sf_ids:
            return 0
        table, ws, now = spec.table, self.workspace_id, utcnow()
        compare = COMPARE.get(spec.name, ())
        stored = existing(conn, table, ws, sf_ids, ("system_modstamp", "is_deleted", *compare))
        live = [i for i, v in stored.items() if not v[1]]
        for start in range(0, len(live), CHUNK):
            conn.execute(update(table).where(table.c.workspace_id == ws, table.c.sf_id.in_(live[start : start + CHUNK]))
                         .values(is_deleted=True, synced_at=now))
        conn.execute(delete(ERROR).where(ERROR.c.workspace_id == ws, ERROR.c.sobject == spec.name, ERROR.c.sf_id.in_(sf_ids)))
        self._follow(conn, spec, [{"sf_id": i, "is_deleted": True, "email_normalized": None, "name": stored[i][2] if compare else None,
                                   "account_id": None} for i in live], stored, now)
        return len(live)
