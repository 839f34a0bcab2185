"""Mail import: speed, peak memory and the cost of a re-import, on SQLite or PostgreSQL.

Writes mboxes (threads of 1 to 6 messages between a few thousand customers and the team,
plain and HTML bodies, some replies threaded only by subject) of two sizes, 10,000 and
50,000 messages by default. Each is imported into an empty workspace, then imported again
(every message a duplicate), each time in a fresh process running the same code as
`flask import-mail`, so the peak memory printed is that import's alone. Memory bounded by the
batch shows as the same peak at both sizes; a duplicate check that uses its index, as the same
cost per message. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/import_mail_benchmark.py [--messages 50000] [--small 10000] [--postgres URL]

With --postgres, a scratch database next to the one named in URL is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

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
                message_id = f"<t{seed}.{thread}.{turn}@{'acme' if ours else 'client'}.test>"
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
def scratch_database(postgres_url: str, tmp: str, name: str):
    if not postgres_url:
        yield f"sqlite:///{tmp}/{name}.sqlite3"
        return
    url = make_url(postgres_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _app(url: str, tmp: str):
    from webapp import create_app

    return create_app({"TESTING": True, "ENV_NAME": "test", "DATABASE_URL": url, "CACHE_URL": "null://",
                       "SCHEDULER_ENABLED": False, "INSTANCE_PATH": tmp, "LOG_LEVEL": "ERROR"})


def child(url: str, path: str, workspace_id: int, tmp: str) -> None:
    """One import in this (fresh) process, as `flask import-mail` runs it; prints JSON."""
    from webapp.analytics.facts import refresh_changes
    from webapp.db import get_engine, session_scope
    from webapp.mailimport.importer import import_messages
    from webapp.mailimport.sources import iter_path

    engine = get_engine(_app(url, tmp))
    with engine.connect() as conn:  # the pool's connection is open before the baseline
        conn.execute(text("SELECT 1"))
    before = _status_mb("VmRSS")
    began = time.perf_counter()
    with session_scope(engine) as session:
        summary = import_messages(session, workspace_id, iter_path(Path(path)), source=Path(path).name)
    took = time.perf_counter() - began
    peak = _status_mb("VmHWM")
    began = time.perf_counter()
    refreshed = refresh_changes(engine, workspace_id)
    facts = time.perf_counter() - began
    engine.dispose()
    print(json.dumps({"seconds": took, "seen": summary.seen, "imported": summary.imported,
                      "skipped": summary.skipped_total, "before_mb": before, "peak_mb": peak,
                      "facts_seconds": facts, "facts_mode": refreshed.mode, "facts": refreshed.facts}))


def _run_child(url: str, path: Path, workspace_id: int, tmp: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", url, str(path), str(workspace_id), tmp],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(url: str, path: Path, tmp: str) -> tuple[dict, dict, int]:
    from webapp import migrations
    from webapp.db import get_engine, session_scope
    from webapp.models import Message, Workspace, WorkspaceAddress

    app = _app(url, tmp)
    engine = get_engine(app)
    migrations.upgrade(engine)
    with session_scope(engine) as session:
        workspace = Workspace(name="Import benchmark")
        session.add(workspace)
        session.flush()
        session.add(WorkspaceAddress(workspace_id=workspace.id, value="acme.test"))
        workspace_id = workspace.id
    first = _run_child(url, path, workspace_id, tmp)
    again = _run_child(url, path, workspace_id, tmp)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(Message).where(Message.workspace_id == workspace_id)).scalar()
    engine.dispose()
    return first, again, stored


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--postgres", default="", help="postgresql+psycopg://user@host:5432/db")
    parser.add_argument("--child", nargs=4, metavar=("URL", "PATH", "WORKSPACE", "TMP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, path, workspace, tmp = args.child
        child(url, path, int(workspace), tmp)
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(f"database {'postgresql' if args.postgres else 'sqlite'}; each import in a fresh process")
        rows = []
        for count in (args.small, args.messages):
            path = Path(tmp) / f"archive-{count}.mbox"
            write_mbox(path, count)
            size = path.stat().st_size / 1024 / 1024
            with scratch_database(args.postgres, tmp, f"import_benchmark_{count}") as url:
                first, again, stored = measure(url, path, tmp)
            rows.append((count, first, again))
            print(f"{count:,} messages ({size:.1f} MB), {stored:,} stored")
            print(f"  first import     {first['seconds']:7.2f} s  {first['seen'] / first['seconds']:7,.0f} messages/s  "
                  f"peak memory +{first['peak_mb'] - first['before_mb']:.0f} MB (process peak {first['peak_mb']:.0f} MB)")
            print(f"  facts refresh    {first['facts_seconds']:7.2f} s  ({first['facts_mode']}, {first['facts']:,} facts)")
            print(f"  same file again  {again['seconds']:7.2f} s  {again['seconds'] / again['seen'] * 1000:7.3f} ms per message  "
                  f"skipped {again['skipped']:,}, peak memory +{again['peak_mb'] - again['before_mb']:.0f} MB")
        (small, s1, s2), (large, l1, l2) = rows
        print(f"growth {small:,} -> {large:,}: import peak memory x{(l1['peak_mb'] - l1['before_mb']) / max(s1['peak_mb'] - s1['before_mb'], 1):.2f}, "
              f"re-import cost per message x{(l2['seconds'] / l2['seen']) / (s2['seconds'] / s2['seen']):.2f}, "
              f"import speed x{(l1['seen'] / l1['seconds']) / (s1['seen'] / s1['seconds']):.2f}")


if __name__ == "__main__":
    main()
