"""Fetching a mailbox over IMAP: messages per second and peak memory of a first fetch.

For each size (2,000 and 10,000 by default) a fresh process starts a real Dovecot (as the tests
do), writes the messages straight into its Maildir (threads between a few thousand customers
and the team; one in five in the Sent folder), makes a fresh database and runs the first fetch
through the same code as the scheduler's job (backfill window wide enough for all of them,
analytics facts refreshed after it). Each size runs in its own process, so its peak (VmHWM)
is its own; the resident memory before the fetch is printed too, so the growth shows.
Prints figures; asserts nothing.

    .venv/bin/python benchmarks/fetch_mail_benchmark.py [--sizes 2000,10000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = "order invoice plan seats renewal discount thanks question team price contract trial".split()
USER = "support@acme.test"
PASSWORD = "bench-secret"


def messages(count: int, seed: int = 1):
    """(folder, raw bytes, arrival time) for ``count`` messages in threads."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    start = now - timedelta(days=80)
    written = thread = 0
    while written < count:
        thread += 1
        customer = f"customer{rng.randrange(3000)}@client{rng.randrange(800)}.test"
        subject = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} #{thread}"
        sent = start + timedelta(minutes=rng.randrange(80 * 24 * 60 - 6000))
        parent = None
        for turn in range(min(rng.randint(1, 6), count - written)):
            ours = turn % 2 == 1
            sender, recipient = (USER, customer) if ours else (customer, USER)
            message_id = f"<t{thread}.{turn}@{'acme' if ours else 'client'}.test>"
            headers = [
                f"From: {'Acme Support' if ours else 'Customer ' + str(thread)} <{sender}>",
                f"To: {recipient}",
                f"Subject: {'Re: ' if turn else ''}{subject}",
                f"Date: {format_datetime(sent)}",
                f"Message-ID: {message_id}",
            ]
            if parent:
                headers += [f"In-Reply-To: {parent}", f"References: {parent}"]
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 200)))
            if rng.random() < 0.3:
                headers.append("Content-Type: text/html; charset=utf-8")
                text = f"<html><body><p>{text}</p></body></html>"
            else:
                headers.append("Content-Type: text/plain; charset=utf-8")
            raw = ("\r\n".join(headers) + "\r\n\r\n" + text + "\r\n").encode()
            yield ("Sent" if ours else "INBOX"), raw, min(sent, now)
            parent, written = message_id, written + 1
            sent += timedelta(hours=rng.uniform(0.5, 30))


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(count: int, postgres: str) -> None:
    import os

    from sqlalchemy import create_engine, func, select, text
    from sqlalchemy.engine import make_url

    from tests.mailservers import Dovecot
    from webapp import create_app, migrations
    from webapp.db import get_engine, session_scope
    from webapp.mail.fetch import FetchOptions, fetch_mailbox
    from webapp.mail.mailboxes import MailboxInput, create
    from webapp.analytics.facts import refresh_facts
    from webapp.mailimport.importer import import_messages
    from webapp.mailimport.sources import RawMessage
    from webapp.models import Conversation, Message, Workspace

    with tempfile.TemporaryDirectory() as tmp, Dovecot(Path(tmp)) as dovecot:
        dovecot.add_user(USER, PASSWORD)
        began = time.perf_counter()
        for folder, raw, when in messages(count):
            path = dovecot.deliver(USER, raw, folder, seen=True)
            stamp = when.timestamp()
            os.utime(path, (stamp, stamp))  # its arrival date (INTERNALDATE)
        written = time.perf_counter() - began
        if postgres:
            admin = create_engine(make_url(postgres), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text('DROP DATABASE IF EXISTS "fetch_benchmark" WITH (FORCE)'))
                conn.execute(text('CREATE DATABASE "fetch_benchmark"'))
            url = make_url(postgres).set(database="fetch_benchmark").render_as_string(hide_password=False)
        else:
            url = f"sqlite:///{tmp}/bench.sqlite3"
        app = create_app({"TESTING": True, "ENV_NAME": "test", "DATABASE_URL": url, "CACHE_URL": "null://",
                          "SCHEDULER_ENABLED": False, "INSTANCE_PATH": tmp, "LOG_LEVEL": "WARNING",
                          "MAIL_CA_FILE": str(dovecot.ca_file)})
        engine = get_engine(app)
        migrations.upgrade(engine)
        with session_scope(engine) as session:
            workspace = Workspace(name="Fetch benchmark")
            session.add(workspace)
            session.flush()
            mailbox = create(session, app.extensions["vault"], workspace.id, MailboxInput(
                address=USER, imap_host=dovecot.host, imap_port=dovecot.port, imap_password=PASSWORD,
                smtp_host=dovecot.host, backfill_days=90))
            mailbox_id, workspace_id = mailbox.id, workspace.id
        with dovecot.imap(USER) as imap:  # Dovecot indexes the new Maildir files once, outside the timing
            imap.select("INBOX", readonly=True)
            imap.select("Sent", readonly=True)
        before = _status_mb("VmRSS")
        began = time.perf_counter()
        result = fetch_mailbox(engine, app.extensions["vault"], mailbox_id, FetchOptions.from_config(app.config))
        took = time.perf_counter() - began
        peak = _status_mb("VmHWM")
        with session_scope(engine) as session:
            stored = session.execute(select(func.count()).select_from(Message).where(Message.workspace_id == workspace_id)).scalar()
            threads = session.execute(select(func.count()).select_from(Conversation)
                                      .where(Conversation.workspace_id == workspace_id)).scalar()
        # The same messages imported from a file into another workspace: the importer alone,
        # so the cost of IMAP itself shows as the ratio of the two.
        with session_scope(engine) as session:
            other = Workspace(name="Import comparison")
            session.add(other)
            session.flush()
            other_id = other.id
        raws = [RawMessage(f"message {n}", raw) for n, (_, raw, _) in enumerate(messages(count))]
        began = time.perf_counter()
        with session_scope(engine) as session:
            imported = import_messages(session, other_id, raws)
        refresh_facts(engine, other_id)
        import_took = time.perf_counter() - began
        engine.dispose()
        if postgres:
            with admin.connect() as conn:
                conn.execute(text('DROP DATABASE IF EXISTS "fetch_benchmark" WITH (FORCE)'))
            admin.dispose()
    print(f"  {count:>6,} messages  ({url.split(':', 1)[0]}; Maildir written in {written:.1f} s)")
    print(f"    first fetch {took:6.2f} s  {result.summary.seen / took:7,.0f} messages/s  status {result.status}, "
          f"stored {stored:,} in {threads:,} conversations, skipped {result.summary.skipped_total:,}")
    print(f"    the same messages imported from memory (the importer alone): {import_took:.2f} s, "
          f"{imported.seen / import_took:,.0f} messages/s; fetch/import time ratio {took / import_took:.2f}")
    print(f"    memory: {before:.0f} MB resident before, peak {peak:.0f} MB (VmHWM), growth {peak - before:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--postgres", default="", help="postgresql+psycopg://user@host:5432/db")
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.postgres)
        return
    print("First fetch of a mailbox over IMAP (Dovecot on loopback, TLS), each size in a fresh process:")
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        command = [sys.executable, __file__, "--child", str(size)]
        if args.postgres:
            command += ["--postgres", args.postgres]
        subprocess.run(command, check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
