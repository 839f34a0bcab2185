"""Writing one page of records: mirror rows, the user mirror, record errors, inbox contacts
and the object's cursor, all on the caller's connection (one transaction per page).

Rows are compared with what is stored first, so counts say what really changed, unchanged
rows are not rewritten, and the inbox and the card are only touched for real changes.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Engine

from webapp.analytics import freshness
from webapp.clock import utcnow
from webapp.models import SfUser, SyncCursor, SyncRecordError
from webapp.salesforce.sync import inbox
from webapp.salesforce.sync.objects import ACCOUNT, CONTACT, HISTORY, OPPORTUNITY, Context, ObjectSpec, RecordError, stamp
from webapp.salesforce.sync.upsert import CHUNK, execute_many, execute_tuples, existing, in_list, insert_for, upsert_statement

USER = SfUser.__table__
CONTACT_AT = {c: i for i, c in enumerate(CONTACT.columns)}
CURSOR = SyncCursor.__table__
ERROR = SyncRecordError.__table__
# What is read back before a page is written, per object: enough to classify a row and to
# know which inbox contacts and cards it touches.
COMPARE = {"Contact": ("email_normalized",), "Account": ("name",), "Opportunity": ("account_id",)}
# What the analytics facts are built from: a page that changes these asks for a refresh.
FACT_SOURCES = (ACCOUNT, CONTACT, OPPORTUNITY, HISTORY)
# For SQLite while a sync writes: a page cache that holds the mirror's indexes (the default
# 2 MB makes every page re-read them), and checkpoints every 40 MB of WAL instead of 4 MB, so
# pages that change on every commit are copied back to the database once, not each time.
# A row's columns after the converter's, in this order (then seen_pass and extra when written).
BASE_KEYS = ("system_modstamp", "is_deleted", "workspace_id", "sf_id", "synced_at")
SQLITE_PRAGMAS = ("PRAGMA cache_size=-65536", "PRAGMA wal_autocheckpoint=10000")


@contextmanager
def _collector_paused():
    """A page allocates some 10,000 short-lived containers that hold no cycles; collecting
    while they live promotes them and sets off full collections of the whole process (a
    fifth of a first sync's time). Reference counting frees them; the collector runs after."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


class Seen:
    """Which values a pass has written, in a fixed amount of memory whatever the org's size:
    a bit per hash. It may say yes for a value it never got (about 1 in 80 at 400,000 values),
    never no for one it got, so callers use a yes only to go and ask the database."""

    BITS = 1 << 25  # 4 MB

    def __init__(self):
        self._bits = bytearray(self.BITS >> 3)

    def add(self, value) -> None:
        h = hash(value) & (self.BITS - 1)
        self._bits[h >> 3] |= 1 << (h & 7)

    def update(self, values) -> None:
        bits, mask = self._bits, self.BITS - 1
        for value in values:
            h = hash(value) & mask
            bits[h >> 3] |= 1 << (h & 7)

    def __contains__(self, value) -> bool:
        h = hash(value) & (self.BITS - 1)
        return bool(self._bits[h >> 3] & (1 << (h & 7)))


class PageWriter:
    def __init__(self, engine: Engine, workspace_id: int, run_id: int, context: Context, runner):
        self.engine, self.workspace_id, self.run_id, self.context = engine, workspace_id, run_id, context
        self.runner = runner
        self._statements: dict = {}
        self._pending_emails: set[str] = set()
        self._fresh: tuple[int, Seen | None] | None = None  # see _fresh_ids
        self._fresh_emails: Seen | None = None  # see _known_matches
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

    def _fresh_ids(self, conn: Connection, spec: ObjectSpec, cursor_id: int | None) -> Seen | None:
        """The ids this run wrote into the object's table when it had no rows for the
        workspace before (a first sync); None otherwise. Ids not in it need no read-back."""
        if cursor_id is None:
            return None
        if self._fresh is None or self._fresh[0] != cursor_id:
            table = spec.table
            empty = conn.execute(select(table.c.id).where(table.c.workspace_id == self.workspace_id).limit(1)).first() is None
            self._fresh = (cursor_id, Seen() if empty else None)
            self._fresh_emails = Seen() if empty else None
        return self._fresh[1]

    # -- a page -------------------------------------------------------------------------------

    def write(self, conn: Connection, spec: ObjectSpec, records: list[dict], extra: tuple[str, ...],
              pass_id: int | None, counts: dict, *, cursor_id: int | None) -> None:
        with _collector_paused():
            self._write(conn, spec, records, extra, pass_id, counts, cursor_id=cursor_id)

    def _write(self, conn: Connection, spec: ObjectSpec, records: list[dict], extra: tuple[str, ...],
               pass_id: int | None, counts: dict, *, cursor_id: int | None) -> None:
        now = utcnow()
        if conn.dialect.name == "sqlite":
            for pragma in SQLITE_PRAGMAS:
                conn.exec_driver_sql(pragma)
        ws, ctx, convert = self.workspace_id, self.context, spec.convert
        counts["fetched"] += len(records)
        # A row: the converter's columns, then BASE_KEYS, then seen_pass and extra when written.
        width = len(spec.columns)
        keys = spec.columns + BASE_KEYS + (("seen_pass",) if pass_id is not None else ()) + (("extra",) if extra else ())
        tail = ((pass_id,) if pass_id is not None else ())
        latest: dict[str, tuple] = {}
        owner_names: dict[str, str | None] = {}
        failures: dict[str, str] = {}
        top_stamp: datetime | None = None
        for record in records:
            get = record.get
            sf_id = get("Id")
            if not sf_id:
                continue
            try:
                record_stamp = stamp(get("SystemModstamp"))
            except (RecordError, TypeError, ValueError):
                record_stamp = None
            if record_stamp is not None and (top_stamp is None or record_stamp > top_stamp):
                top_stamp = record_stamp
            try:
                if record_stamp is None:
                    raise RecordError("The record has no valid SystemModstamp.")
                values = convert(record, ctx)
            except (RecordError, TypeError, ValueError) as exc:
                failures[sf_id] = str(exc) or exc.__class__.__name__
                latest.pop(sf_id, None)
                continue
            previous = latest.get(sf_id)
            if previous is not None and previous[width] > record_stamp:
                continue  # the same record twice in one page: keep its newest version
            # Only what applies is written: fewer bound values per row is most of the speed.
            row = values + (record_stamp, bool(get("IsDeleted")), ws, sf_id, now) + tail
            if extra:
                row += ({f: get(f) for f in extra},)
            latest[sf_id] = row
            if spec.owner:
                owner = get("Owner") or {}
                owner_names[sf_id] = owner.get("Name") if isinstance(owner, dict) else None

        compare = COMPARE.get(spec.name, ())
        fresh = self._fresh_ids(conn, spec, cursor_id)
        ids = list(latest) + list(failures)
        if fresh is not None:  # the table held nothing before this run: only our own rows can be there
            ids = [i for i in ids if i in fresh]
        stored = existing(conn, spec.table, ws, ids, ("system_modstamp", "is_deleted", *compare))
        writes: list[tuple] = []
        unchanged: list[str] = []
        same_stamp: list[str] = []
        for sf_id, row in latest.items():
            old = stored.get(sf_id)
            if old is None:
                if row[width + 1]:
                    continue  # deleted before we ever saw it
                counts["created"] += 1
                writes.append(row)
            elif row[width] > old[0] or (row[width] == old[0] and row[width + 1] != old[1]):
                if row[width + 1] and not old[1]:
                    counts["deleted"] += 1
                else:
                    counts["updated"] += 1
                writes.append(row)
            elif row[width] == old[0]:
                same_stamp.append(sf_id)
            else:
                unchanged.append(sf_id)
        if same_stamp:
            # Stamps have whole seconds: an edit in the second of an earlier read (e.g. the
            # read-back after a push) keeps the stamp. Compare the content then.
            content = spec.columns + (("extra",) if extra else ())
            now_stored = existing(conn, spec.table, ws, same_stamp, content)
            for sf_id in same_stamp:
                row = latest[sf_id]
                if now_stored.get(sf_id) != row[:width] + ((row[-1],) if extra else ()):
                    counts["updated"] += 1
                    writes.append(row)
                else:
                    unchanged.append(sf_id)
        if pass_id is not None:
            # Failed and unchanged rows are still in Salesforce: the sweep must not drop them.
            unchanged += [i for i in failures if i in stored]

        owners = {}
        if spec.owner:
            owner_at = spec.columns.index("owner_id")
            for row in writes:
                name = owner_names.get(row[width + 3])
                if row[owner_at] and name:
                    owners[row[owner_at]] = name
        if writes:
            execute_tuples(conn, self._upsert(conn, spec, keys), keys, writes)
            if fresh is not None:
                fresh.update(row[width + 3] for row in writes)
            if spec in FACT_SOURCES:  # with the rows, so a crash before the refresh cannot lose it
                freshness.request_records(conn, ws, spec.name, [row[width + 3] for row in writes])
                if spec is OPPORTUNITY:  # the account an opportunity left loses its stage too
                    freshness.request_records(conn, ws, ACCOUNT.name, [stored[row[width + 3]][2] for row in writes
                                                                       if row[width + 3] in stored])
        if unchanged and pass_id is not None:
            table = spec.table
            mark = update(table).where(table.c.workspace_id == ws, in_list(conn, table.c.sf_id, "ids")).values(seen_pass=pass_id)
            for start in range(0, len(unchanged), CHUNK):
                conn.execute(mark, {"ids": unchanged[start : start + CHUNK]})
        if owners:
            self._users(conn, owners, now)
        self._record_errors(conn, spec, failures, [r[width + 3] for r in writes] + unchanged, counts, now)
        if compare:
            at = spec.columns.index(compare[0])
            changed = [(r[width + 3], r[width + 1], r[at]) for r in writes]
            known = self._known_matches(spec, writes, width) if fresh is not None and spec is CONTACT else None
            self._follow(conn, spec, changed, stored, now, full=pass_id is not None, known=known)
        if cursor_id is not None and top_stamp is not None:
            current = self.stamps.get(cursor_id)
            if current is None or top_stamp > current:
                self.stamps[cursor_id] = top_stamp
                conn.execute(update(CURSOR).where(CURSOR.c.id == cursor_id).values(stamp=top_stamp))

    def _users(self, conn: Connection, owners: dict[str, str], now) -> None:
        rows = [{"workspace_id": self.workspace_id, "sf_id": i, "name": n[:255], "synced_at": now} for i, n in owners.items()]
        if "users" not in self._statements:
            self._statements["users"] = upsert_statement(conn, USER, ("workspace_id", "sf_id"), ("name", "synced_at"))
        execute_many(conn, self._statements["users"], rows)

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

    def _known_matches(self, spec: ObjectSpec, writes: list[tuple], width: int) -> dict[str, list[tuple]]:
        """In a first pass of contacts, an address no earlier page wrote has as live contacts
        exactly this page's live rows with it: the inbox need not read them back."""
        earlier = self._fresh_emails
        if earlier is None:
            earlier = self._fresh_emails = Seen()
        at = CONTACT_AT
        known: dict[str, list[tuple]] = {}
        for r in writes:
            email = r[at["email_normalized"]]
            if email is None or email in earlier:
                continue
            rows = known.setdefault(email, [])
            if not r[width + 1]:
                rows.append((r[width + 3], r[at["email"]], email, r[at["name"]], r[at["phone"]], r[at["title"]],
                             r[at["account_id"]], r[at["last_modified_date"]] or r[width]))
        earlier.update(r[at["email_normalized"]] for r in writes)
        return known

    def _follow(self, conn: Connection, spec: ObjectSpec, changed: list[tuple], stored: dict, now, *, full: bool = False,
                known: dict | None = None) -> None:
        """The inbox contacts and cached cards a page's changes reach. ``changed``: written rows
        as (sf_id, is_deleted, the object's COMPARE value). In a full pass, rows new to the
        mirror are mostly old ones: their cards expire on their own (5 minutes)."""
        if not changed:
            return
        ws = self.workspace_id
        if spec is CONTACT:
            emails = {r[2] for r in changed} | {stored[r[0]][2] for r in changed if r[0] in stored}
            emails.discard(None)
            self._reconcile(conn, emails, now, known)
        elif spec is ACCOUNT:
            renamed = [r[0] for r in changed if r[0] in stored
                       and (stored[r[0]][2] != r[2] or stored[r[0]][1] != r[1])]
            if renamed:
                self._reconcile(conn, inbox.emails_of_accounts(conn, ws, renamed), now)
            moved = [r[0] for r in changed if r[0] in stored]
            self._pending_emails |= inbox.emails_of_accounts(conn, ws, moved) if moved else set()
        elif spec is OPPORTUNITY:
            moved = [r for r in changed if r[0] in stored] if full else changed
            accounts = {r[2] for r in moved} | {stored[r[0]][2] for r in moved if r[0] in stored}
            accounts.discard(None)
            self._pending_emails |= inbox.emails_of_accounts(conn, ws, sorted(accounts)) if accounts else set()

    def _reconcile(self, conn: Connection, emails: set[str], now, known: dict | None = None) -> None:
        if not emails:
            return
        found = inbox.reconcile(conn, self.workspace_id, emails, now, known)
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
        self._fresh, self._fresh_emails = None, None  # the pass is over
        table = spec.table
        unseen = select(table.c.sf_id).where(
            table.c.workspace_id == self.workspace_id, table.c.is_deleted.is_(False),
            (table.c.seen_pass.is_(None)) | (table.c.seen_pass != pass_id)).order_by(table.c.sf_id).limit(CHUNK)
        # A chunk at a time, by id: a mass purge must not bring every id into memory at once.
        marked, after = 0, None
        while True:
            query = unseen if after is None else unseen.where(table.c.sf_id > after)
            gone = list(conn.execute(query).scalars())
            if not gone:
                return marked
            marked += self.mark_gone(conn, spec, gone)
            after = gone[-1]

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
        if live and spec in FACT_SOURCES:
            freshness.request_records(conn, ws, spec.name, live)
        conn.execute(delete(ERROR).where(ERROR.c.workspace_id == ws, ERROR.c.sobject == spec.name, ERROR.c.sf_id.in_(sf_ids)))
        if compare:  # gone: no address or account any more; an account keeps its name
            self._follow(conn, spec, [(i, True, stored[i][2] if spec is ACCOUNT else None) for i in live], stored, now)
        return len(live)
