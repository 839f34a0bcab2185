"""Mail import: messages per second for a generated mbox, on SQLite or PostgreSQL.

Writes an mbox of N messages (threads of 1 to 6 messages between a few thousand customers and
the team, plain and HTML bodies, some replies threaded only by subject), imports it into a
fresh database through the same code as `flask import-mail`, then imports it again (all
duplicates). Prints figures; asserts nothing.

    .venv/bin/python benchmarks/import_mail_benchmark.py [--messages 10000] [--postgres URL]

With --postgres, a scratch database next to the one named in URL is created and dropped.
"""

from __future__ import annotations

import argparse
import resource
from contextlib import contextmanager
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from webapp import create_app, migrations  # noqa: E402
from webapp.db import get_engine, session_scope  # noqa: E402
from webapp.mailimport.importer import import_messages  # noqa: E402
from webapp.mailimport.sources import iter_path  # noqa: E402
from webapp.models import Conversation, Message, Workspace, WorkspaceAddress  # noqa: E402

WORDS = "order invoice plan seats renewal discount thanks question team price contract trial".split()


def write_mbox(path: Path, count: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    written = thread = 0
    with path.open("wb") as out:
        while written < count:
            thread += 1
            customer = f"customer{rng.randrange(3000)}@client{rng.randrange(800)}.test"
            subject = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} #{thread}"
            sent = start + timedelta(minutes=rng.randrange(600_000))
            parent = None
            for turn in range(min(rng.randint(1, 6), count - written)):
                ours = turn % 2 == 1
                sender, recipient = ("agent@acme.test", customer) if ours else (customer, "support@acme.test")
                message_id = f"<t{thread}.{turn}@{'acme' if ours else 'client'}.test>"
                headers = [
                    f"From: {'Ann Agent' if ours else 'Customer ' + str(thread)} <{sender}>",
                    f"To: {recipient}",
                    f"Subject: {'Re: ' if turn else ''}{subject}",
                    f"Date: {format_datetime(sent)}",
                    f"Message-ID: {message_id}",
                ]
                if parent and rng.random() > 0.1:  # one reply in ten has lost its headers
                    headers += [f"In-Reply-To: {parent}", f"References: {parent}"]
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 200)))
                if rng.random() < 0.3:
                    headers.append("Content-Type: text/html; charset=utf-8")
                    text = f"<html><body><p>{text}</p></body></html>"
                else:
                    headers.append("Content-Type: text/plain; charset=utf-8")
                out.write(f"From {sender} {sent:%a %b %d %H:%M:%S %Y}\n".encode())
                out.write(("\n".join(headers) + "\n\n" + text + "\n\n").encode())
                parent, written = message_id, written + 1
                sent += timedelta(hours=rng.uniform(0.5, 30))


@contextmanager
def scratch_database(postgres_url: str, tmp: str):
    if not postgres_url:
        yield f"sqlite:///{tmp}/bench.sqlite3"
        return
    url = make_url(postgres_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "import_benchmark" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "import_benchmark"'))
    try:
        yield url.set(database="import_benchmark").render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "import_benchmark" WITH (FORCE)'))
        admin.dispose()


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> float:
    """Start measuring the peak afresh (Linux: writing 5 to clear_refs resets VmHWM); returns
    the resident memory now."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass
    return _status_mb("VmRSS")


def peak_mb() -> float:
    return _status_mb("VmHWM")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--postgres", default="", help="postgresql+psycopg://user@host:5432/db")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.postgres, tmp) as url:
        app = create_app({"TESTING": True, "ENV_NAME": "test", "DATABASE_URL": url, "CACHE_URL": "null://",
                          "SCHEDULER_ENABLED": False, "INSTANCE_PATH": tmp, "LOG_LEVEL": "WARNING"})
        engine = get_engine(app)
        migrations.upgrade(engine)
        with session_scope(engine) as session:
            workspace = Workspace(name="Import benchmark")
            session.add(workspace)
            session.flush()
            session.add(WorkspaceAddress(workspace_id=workspace.id, value="acme.test"))
            workspace_id = workspace.id
        path = Path(tmp) / "archive.mbox"
        write_mbox(path, args.messages)
        size = path.stat().st_size / 1024 / 1024
        print(f"{args.messages:,} messages, {size:.1f} MB, database {url.split(':', 1)[0]}")
        for label in ("first import", "same file again"):
            before = reset_peak()
            began = time.perf_counter()
            with session_scope(engine) as session:
                summary = import_messages(session, workspace_id, iter_path(path), source=path.name)
            took = time.perf_counter() - began
            print(f"  {label:<16} {took:6.2f} s  {summary.seen / took:8,.0f} messages/s  "
                  f"imported {summary.imported:,}, skipped {summary.skipped_total:,}, "
                  f"{summary.conversations_created:,} conversations, {summary.contacts_created:,} contacts, "
                  f"peak memory +{peak_mb() - before:.0f} MB")
        with session_scope(engine) as session:
            count = select(func.count()).where(Message.workspace_id == workspace_id)
            stored = session.execute(count.select_from(Message)).scalar()
            threads = session.execute(
                select(func.count()).select_from(Conversation).where(Conversation.workspace_id == workspace_id)
            ).scalar()
        print(f"  stored: {stored:,} messages in {threads:,} conversations")
        engine.dispose()


if __name__ == "__main__":
    main()
