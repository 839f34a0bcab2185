"""Analytics at two sizes (100,000 and 1,000,000 messages by default), on SQLite or PostgreSQL.

For each size: a workspace of conversations, messages and a Salesforce mirror (accounts,
contacts, opportunities, stage history), its facts rebuilt; then, on the project's gunicorn,
the analytics page as a signed-in user gets it over HTTP (grouped by account, filtered by the
open opportunity's stage, filter menus included), first load after the server starts and
warm; then the facts refresh after 10 accounts changed (renamed and retyped, as a sync would
record them). Prints figures; asserts nothing.

Generated databases are kept in /tmp (SQLite files; PostgreSQL template databases) and
reused by later runs of the same schema; each run works on a copy.

    .venv/bin/python benchmarks/analytics_benchmark.py                          # SQLite
    .venv/bin/python benchmarks/analytics_benchmark.py --database postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/analytics_benchmark.py --sizes 100000           # one size
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, select, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session  # noqa: E402

from tests.served import gunicorn, server_env, signed_in  # noqa: E402
from webapp import migrations  # noqa: E402
from webapp.analytics import freshness, report  # noqa: E402
from webapp.analytics.report import Query  # noqa: E402
from webapp.analytics.facts import rebuild, refresh_changes  # noqa: E402
from webapp.auth.services import create_user  # noqa: E402
from webapp.db import make_engine  # noqa: E402
from webapp.models import Contact, Conversation, Message, Workspace, WorkspaceAddress  # noqa: E402
from webapp.models.mirror import SfAccount, SfContact, SfOpportunity, SfOpportunityHistory, SfUser  # noqa: E402

STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
          "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"]
TYPES = ["Enterprise", "Mid-Market", "SMB", "Partner"]
BATCH = 10_000
GENERATOR = "v2"  # part of the cache key: change it when the generated data changes
EMAIL, PASSWORD = "analyst@us.example", "benchmark-pass"
PAGE = {"group": "account", "f_open_stage": "Negotiation/Review"}
CHANGED_ACCOUNTS = 10


def _bulk(conn, table, rows: list[dict]) -> None:
    """COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        columns = list(rows[0])
        cursor = conn.connection.driver_connection.cursor()
        try:
            with cursor.copy(f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        finally:
            cursor.close()
        return
    for i in range(0, len(rows), BATCH):
        conn.execute(insert(table), rows[i : i + BATCH])


def generate(engine, messages: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    contacts = max(messages // 10, 100)
    accounts = contacts // 4
    now = datetime(2026, 11, 1, tzinfo=UTC)
    stamp = now
    with Session(engine) as session:
        workspace = Workspace(name="Analytics benchmark", timezone="UTC")
        session.add(workspace)
        session.flush()
        ws = workspace.id
        create_user(session, email=EMAIL, password=PASSWORD, role="admin", workspace=workspace)
        session.add(WorkspaceAddress(workspace_id=ws, value="us.example"))
        session.commit()
    with engine.begin() as conn:
        _bulk(conn, SfUser.__table__, [{"workspace_id": ws, "sf_id": f"005{i:015d}", "name": f"Owner {i}",
                                        "synced_at": stamp} for i in range(20)])
        _bulk(conn, SfAccount.__table__, [
            {"workspace_id": ws, "sf_id": f"001{i:015d}", "name": f"Account {i}", "type": rng.choice(TYPES),
             "industry": rng.choice(["Energy", "Retail", "Banking", "Media"]), "website": f"https://a{i}.example",
             "website_domain": f"a{i}.example", "owner_id": f"005{rng.randrange(20):015d}", "system_modstamp": stamp,
             "is_deleted": False, "synced_at": stamp}
            for i in range(accounts)
        ])
        opp_rows, history = [], []
        for i in range(accounts * 2):
            account = i % accounts
            stage = rng.choice(STAGES)
            opp_rows.append({"workspace_id": ws, "sf_id": f"006{i:015d}", "account_id": f"001{account:015d}",
                             "name": f"Opp {i}", "stage_name": stage, "is_closed": stage.startswith("Closed"),
                             "is_won": stage == "Closed Won", "system_modstamp": stamp, "is_deleted": False,
                             "synced_at": stamp})
            for h, step in enumerate(STAGES[: rng.randint(1, 4)]):
                history.append({"workspace_id": ws, "sf_id": f"008{i:012d}{h:03d}", "opportunity_id": f"006{i:015d}",
                                "stage_name": step, "created_date": now - timedelta(days=300 - 60 * h),
                                "system_modstamp": stamp, "is_deleted": False, "synced_at": stamp})
        _bulk(conn, SfOpportunity.__table__, opp_rows)
        _bulk(conn, SfOpportunityHistory.__table__, history)
        _bulk(conn, SfContact.__table__, [
            {"workspace_id": ws, "sf_id": f"003{i:015d}", "account_id": f"001{i % accounts:015d}",
             "email": f"p{i}@a{i % accounts}.example", "email_normalized": f"p{i}@a{i % accounts}.example",
             "name": f"Person {i}", "lead_source": rng.choice(["Web", "Partner Referral", None]),
             "system_modstamp": stamp, "is_deleted": False, "synced_at": stamp}
            for i in range(contacts)
        ])
        _bulk(conn, Contact.__table__, [
            {"workspace_id": ws, "name": f"Person {i}", "email": f"p{i}@a{i % accounts}.example",
             "email_normalized": f"p{i}@a{i % accounts}.example", "created_at": stamp, "updated_at": stamp,
             "salesforce_matches": 0}
            for i in range(contacts)
        ])
        first_contact = conn.execute(text("SELECT min(id) FROM contact WHERE workspace_id = :w"), {"w": ws}).scalar_one()
        per_thread = 4
        threads = messages // per_thread
        _bulk(conn, Conversation.__table__, [
            {"workspace_id": ws, "contact_id": first_contact + (i % contacts), "subject": f"Thread {i}",
             "status": "closed", "last_activity_at": now, "created_at": now}
            for i in range(threads)
        ])
        first_conv = conn.execute(text("SELECT min(id) FROM conversation WHERE workspace_id = :w"), {"w": ws}).scalar_one()
        rows = []
        for t in range(threads):
            contact = t % contacts
            email = f"p{contact}@a{contact % accounts}.example"
            at = now - timedelta(days=rng.uniform(0, 360))
            for m in range(per_thread):
                inbound = m % 2 == 0
                rows.append({"workspace_id": ws, "conversation_id": first_conv + t, "direction": "in" if inbound else "out",
                             "from_address": email if inbound else "agent@us.example", "from_name": "",
                             "to_addresses": "help@us.example" if inbound else email, "cc_addresses": "", "subject": "s",
                             "sent_at": at, "message_id": f"<{t}.{m}@bench>", "snippet": "", "body_text": ""})
                at += timedelta(minutes=rng.uniform(5, 3000))
            if len(rows) >= BATCH * 5:
                _bulk(conn, Message.__table__, rows)
                rows = []
        _bulk(conn, Message.__table__, rows)
    return ws


class Store:
    """Where generated databases are kept, and the working copy a run gets."""

    def __init__(self, database: str, tmp: str):
        self.database, self.tmp = database, tmp
        self.admin = create_engine(database, isolation_level="AUTOCOMMIT") if database else None

    def key(self, messages: int) -> str:
        return f"analytics_bench_{GENERATOR}_{migrations.head_revision()}_{messages}"

    def cached(self, messages: int) -> bool:
        if self.admin is None:
            return Path(f"/tmp/{self.key(messages)}.sqlite3").exists()
        with self.admin.connect() as conn:
            return conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": self.key(messages)}).first() is not None

    def url(self, name: str) -> str:
        if self.admin is None:
            return f"sqlite:///{name}"
        return make_url(self.database).set(database=name).render_as_string(hide_password=False)

    def build(self, messages: int) -> None:
        """Generate the data and rebuild its facts, timed, into the cache."""
        if self.admin is None:
            target = f"/tmp/{self.key(messages)}.sqlite3"
            building = f"{target}.building"
            Path(building).unlink(missing_ok=True)
            url = self.url(building)
        else:
            building = f"{self.key(messages)}_building"
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{building}"'))
            url = self.url(building)
        engine = make_engine(url)
        try:
            migrations.upgrade(engine)
            started = time.perf_counter()
            ws = generate(engine, messages)
            print(f"  generate inbox and Salesforce mirror            {time.perf_counter() - started:8.1f} s")
            started = time.perf_counter()
            rows = rebuild(engine, ws)
            print(f"  rebuild all facts ({rows:,} rows)              {time.perf_counter() - started:8.1f} s")
            if engine.dialect.name == "sqlite":
                with engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                with engine.connect() as conn:
                    conn.execute(text("ANALYZE"))
                    conn.commit()
        finally:
            engine.dispose()
        if self.admin is None:
            Path(building).rename(target)
            for suffix in ("-wal", "-shm"):
                Path(building + suffix).unlink(missing_ok=True)
        else:
            with self.admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{self.key(messages)}"'))

    def working_copy(self, messages: int) -> str:
        if self.admin is None:
            path = Path(self.tmp) / f"work-{messages}.sqlite3"
            shutil.copyfile(f"/tmp/{self.key(messages)}.sqlite3", path)
            return self.url(str(path))
        name = f"analytics_bench_work_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.key(messages)}"'))
        self.work = name
        return self.url(name)

    def drop_working_copy(self) -> None:
        if self.admin is not None and getattr(self, "work", None):
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.work}" WITH (FORCE)'))
            self.work = None


def page_times(url: str, tmp: str, warm_runs: int = 5) -> tuple[float, list[float], int]:
    env = server_env(database_url=url, secret_key="benchmark-" + uuid.uuid4().hex, instance_path=Path(tmp) / "instance")
    address = f"/analytics?{urlencode(PAGE)}"
    with gunicorn(env) as base:
        http = signed_in(base, EMAIL, PASSWORD)
        try:
            started = time.perf_counter()
            answer = http.get(base + address, timeout=120)
            first = time.perf_counter() - started
            assert answer.status_code == 200, answer.status_code
            size = len(answer.content)
            warm = []
            for _ in range(warm_runs):
                started = time.perf_counter()
                http.get(base + address, timeout=120).raise_for_status()
                warm.append(time.perf_counter() - started)
        finally:
            http.close()
    return first, warm, size


def report_times(engine, ws: int, runs: int = 3) -> tuple[float, float]:
    """The page's report and filter menus run here: median wall and CPU seconds."""
    query = Query(group_by=PAGE["group"], filters=(("open_stage", PAGE["f_open_stage"]),))
    wall, cpu = [], []
    with Session(engine) as session:
        for _ in range(runs):
            started, spent = time.perf_counter(), time.process_time()
            report.run(session, ws, query)
            report.choices(session, ws)
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - spent)
    return statistics.median(wall), statistics.median(cpu)


def change_accounts(engine, ws: int, count: int, round_: int) -> None:
    """What a sync page that changed ``count`` accounts writes: the rows and their requests."""
    with engine.begin() as conn:
        ids = conn.execute(select(SfAccount.sf_id).where(SfAccount.workspace_id == ws)
                           .order_by(SfAccount.id).limit(count).offset(round_ * count * 7)).scalars().all()
        for i, sf_id in enumerate(ids):
            conn.execute(update(SfAccount).where(SfAccount.workspace_id == ws, SfAccount.sf_id == sf_id)
                         .values(name=f"Renamed {round_}.{i}", type=TYPES[(i + round_) % len(TYPES)]))
        freshness.request_records(conn, ws, "Account", ids)


def measure(store: Store, messages: int, tmp: str) -> None:
    print(f"{messages:,} messages")
    if not store.cached(messages):
        store.build(messages)
    else:
        print("  (generated data and facts from the cache)")
    url = store.working_copy(messages)
    try:
        first, warm, size = page_times(url, tmp)
        print(f"  page, first load after server start               {first * 1000:8.0f} ms  ({size / 1024:.0f} KB)")
        print(f"  page, warm (median of {len(warm)}, best)                 "
              f"{statistics.median(warm) * 1000:8.0f} ms  {min(warm) * 1000:6.0f} ms")
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                ws = conn.execute(select(Workspace.id).where(Workspace.name == "Analytics benchmark")).scalar_one()
            wall, cpu = report_times(engine, ws)
            print(f"  report + menus in this process, wall / CPU        {wall * 1000:8.0f} ms  {cpu * 1000:6.0f} ms  "
                  "(CPU: this process only; the figure least moved by other load)")
            took = []
            for round_ in range(3):
                change_accounts(engine, ws, CHANGED_ACCOUNTS, round_)
                started = time.perf_counter()
                done = refresh_changes(engine, ws)
                took.append(time.perf_counter() - started)
            print(f"  refresh after {CHANGED_ACCOUNTS} changed accounts ({done.mode}, {done.facts:,} facts) "
                  f"{statistics.median(took) * 1000:8.0f} ms  (median of 3; best {min(took) * 1000:.0f} ms)")
        finally:
            engine.dispose()
        first, warm, _ = page_times(url, tmp)
        print(f"  page after the refreshes, first / warm median     {first * 1000:8.0f} ms  "
              f"{statistics.median(warm) * 1000:6.0f} ms")
    finally:
        store.drop_working_copy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="", help="a postgresql+psycopg:// URL; SQLite by default")
    parser.add_argument("--sizes", default="100000,1000000", help="message counts, comma-separated")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.database, tmp)
        print(f"database: {'postgresql' if args.database else 'sqlite'}; page {PAGE}")
        try:
            for messages in sizes:
                measure(store, messages, tmp)
        finally:
            if store.admin is not None:
                store.admin.dispose()


if __name__ == "__main__":
    main()
