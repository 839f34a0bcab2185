"""Analytics over 1,000,000 messages and 100,000 contacts, on SQLite or PostgreSQL.

Generates a workspace (conversations, messages, a Salesforce mirror of accounts, contacts,
opportunities and stage history), precomputes the per-message facts, then times reports.
Prints figures; asserts nothing.

    .venv/bin/python benchmarks/analytics_benchmark.py                       # SQLite in a temp dir
    .venv/bin/python benchmarks/analytics_benchmark.py --database postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/analytics_benchmark.py --messages 100000     # smaller, quicker
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session  # noqa: E402

from webapp import migrations  # noqa: E402
from webapp.analytics.facts import refresh_facts  # noqa: E402
from webapp.analytics.report import Query, run  # noqa: E402
from webapp.db import make_engine  # noqa: E402
from webapp.models import Contact, Conversation, Message, Workspace, WorkspaceAddress  # noqa: E402
from webapp.models.mirror import SfAccount, SfContact, SfOpportunity, SfOpportunityHistory, SfUser  # noqa: E402

STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
          "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"]
TYPES = ["Enterprise", "Mid-Market", "SMB", "Partner"]
BATCH = 10_000


def batched(conn, table, rows):
    for i in range(0, len(rows), BATCH):
        conn.execute(insert(table), rows[i : i + BATCH])


def generate(engine, messages: int, contacts: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    accounts = contacts // 4
    now = datetime(2026, 11, 1, tzinfo=UTC)
    stamp = now
    with engine.begin() as conn:
        ws = conn.execute(insert(Workspace).values(name=f"bench-{uuid.uuid4().hex[:6]}", timezone="UTC").returning(Workspace.id)).scalar_one()
        conn.execute(insert(WorkspaceAddress).values(workspace_id=ws, value="us.example"))
        batched(conn, SfUser.__table__, [{"workspace_id": ws, "sf_id": f"005{i:015d}", "name": f"Owner {i}", "synced_at": stamp} for i in range(20)])
        batched(conn, SfAccount.__table__, [
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
            opp_rows.append({"workspace_id": ws, "sf_id": f"006{i:015d}", "account_id": f"001{account:015d}", "name": f"Opp {i}",
                             "stage_name": stage, "is_closed": stage.startswith("Closed"), "is_won": stage == "Closed Won",
                             "system_modstamp": stamp, "is_deleted": False, "synced_at": stamp})
            for h, step in enumerate(STAGES[: rng.randint(1, 4)]):
                history.append({"workspace_id": ws, "sf_id": f"008{i:012d}{h:03d}", "opportunity_id": f"006{i:015d}",
                                "stage_name": step, "created_date": now - timedelta(days=300 - 60 * h),
                                "system_modstamp": stamp, "is_deleted": False, "synced_at": stamp})
        batched(conn, SfOpportunity.__table__, opp_rows)
        batched(conn, SfOpportunityHistory.__table__, history)
        batched(conn, SfContact.__table__, [
            {"workspace_id": ws, "sf_id": f"003{i:015d}", "account_id": f"001{i % accounts:015d}", "email": f"p{i}@a{i % accounts}.example",
             "email_normalized": f"p{i}@a{i % accounts}.example", "name": f"Person {i}", "lead_source": rng.choice(["Web", "Partner Referral", None]),
             "system_modstamp": stamp, "is_deleted": False, "synced_at": stamp}
            for i in range(contacts)
        ])
        batched(conn, Contact.__table__, [
            {"workspace_id": ws, "name": f"Person {i}", "email": f"p{i}@a{i % accounts}.example",
             "email_normalized": f"p{i}@a{i % accounts}.example", "created_at": stamp, "updated_at": stamp}
            for i in range(contacts)
        ])
        first_contact = conn.execute(text("SELECT min(id) FROM contact WHERE workspace_id = :w"), {"w": ws}).scalar_one()
        per_thread = 4
        threads = messages // per_thread
        batched(conn, Conversation.__table__, [
            {"workspace_id": ws, "contact_id": first_contact + (i % contacts), "subject": f"Thread {i}", "status": "closed",
             "last_activity_at": now, "created_at": now}
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
                batched(conn, Message.__table__, rows)
                rows = []
        batched(conn, Message.__table__, rows)
    return ws


def timed(label, fn, repeat=3):
    best = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    print(f"{label:<58} {best * 1000:8.0f} ms (best of {repeat})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="", help="a postgresql+psycopg:// URL; SQLite in a temp dir by default")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.database:
            admin = create_engine(args.database, isolation_level="AUTOCOMMIT")
            name = f"analytics_bench_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(args.database).set(database=name).render_as_string(hide_password=False)
        else:
            url = f"sqlite:///{Path(tmp) / 'analytics.sqlite3'}"
        engine = make_engine(url)
        try:
            migrations.upgrade(engine)
            print(f"database: {engine.dialect.name}; {args.messages:,} messages over {args.contacts:,} contacts")
            started = time.perf_counter()
            ws = generate(engine, args.messages, args.contacts)
            print(f"{'generate inbox and Salesforce mirror':<58} {time.perf_counter() - started:8.1f} s")
            started = time.perf_counter()
            facts = refresh_facts(engine, ws)
            print(f"{f'precompute facts ({facts:,} rows)':<58} {time.perf_counter() - started:8.1f} s")
            if engine.dialect.name == "postgresql":
                with engine.connect() as conn:
                    conn.execute(text("ANALYZE"))
            with Session(engine) as session:
                report = timed("grouped by account, filtered by stage (Negotiation/Review)",
                               lambda: run(session, ws, Query(group_by="account", filters=(("open_stage", "Negotiation/Review"),))))
                print(f"  -> {len(report.rows)} groups shown, {report.total.received:,} received, median {report.total.median}")
                timed("grouped by account type, stage when sent = Qualification",
                      lambda: run(session, ws, Query(group_by="account_type", filters=(("stage_at_send", "Qualification"),))))
                timed("grouped by sender domain, no filter (whole table)",
                      lambda: run(session, ws, Query(group_by="domain")))
        finally:
            engine.dispose()
            if args.database:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
