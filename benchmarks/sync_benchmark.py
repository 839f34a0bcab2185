"""Full, no-change and id-only reconciling sync of the benchmark org (100,000 contacts, 25,000 accounts, 50,000
opportunities) from the emulator, at 0 ms and 200 ms added latency per call.

    python benchmarks/sync_benchmark.py                       # SQLite in a temp folder
    python benchmarks/sync_benchmark.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

Prints API calls (and the pages they needed), records, wall time, the time spent waiting on the
emulator, local records per second (records / (wall − waiting)), and peak memory added by
the sync (resident set size sampled every 20 ms, above the level before it started), and
the CPU time this process used.

The emulator runs in a child process by default, so its CPU time (serialising pages) is not
counted as ours: in this process it would hold the GIL while the sync works and inflate the
"local" time. ``--emulator thread`` runs it in this process, as the tests do, for comparison.
On PostgreSQL the script works in a scratch database of its own on the server the URL names
(created at the start, dropped at the end); the URL's own database is not touched.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from webapp import create_app, migrations  # noqa: E402
from webapp.db import get_engine, session_scope  # noqa: E402
from webapp.emulator import EmulatorOptions  # noqa: E402
from webapp.emulator.org import BENCHMARK_ORG  # noqa: E402
from webapp.emulator.server import serve_in_thread  # noqa: E402
from webapp.integrations import card_cache  # noqa: E402
from webapp.integrations import salesforce_connection as connection  # noqa: E402
from webapp.salesforce.sync import ledger  # noqa: E402
from webapp.salesforce.sync.objects import Context  # noqa: E402
from webapp.salesforce.sync.pages import Budget  # noqa: E402
from webapp.salesforce.sync.runner import RunOptions, SyncRunner  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakMemory:
    def __init__(self):
        self.base = rss_mb()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@contextmanager
def fresh_database(url: str | None, folder: Path):
    """An empty database for one measurement: a file in ``folder``, or a scratch database
    on the server ``url`` names, dropped afterwards."""
    if not url:
        yield f"sqlite:///{folder / 'bench.sqlite3'}"
        return
    parsed = make_url(url)
    scratch = f"sync_benchmark_{os.getpid()}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{scratch}"'))
    try:
        yield parsed.set(database=scratch).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()


def _serve(sizes: dict, pipe) -> None:
    """The child process: serve the emulator until the parent says stop (or goes away)."""
    emulator = serve_in_thread(EmulatorOptions(**sizes, api_daily_limit=5_000_000))
    pipe.send(emulator.url)
    try:
        pipe.recv()
    except EOFError:
        pass
    emulator.stop()


class EmulatorProcess:
    def __init__(self, sizes: dict):
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(sizes, child), daemon=True)
        self._process.start()
        self.url = self._pipe.recv()

    def set_latency(self, ms: int) -> None:
        request = urllib.request.Request(f"{self.url}/_emulator/faults", data=json.dumps({"latency_ms": ms}).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=10).read()

    def stop(self) -> None:
        self._pipe.send("stop")
        self._process.join(timeout=10)


class EmulatorThread:
    def __init__(self, sizes: dict):
        self._running = serve_in_thread(EmulatorOptions(**sizes, api_daily_limit=5_000_000))
        self.url = self._running.url

    def set_latency(self, ms: int) -> None:
        self._running.app.emulator.set_faults(latency_ms=ms)

    def stop(self) -> None:
        self._running.stop()


def one_sync(app, trigger: str) -> dict:
    engine = get_engine(app)
    requested = ledger.request_run(engine, 1, trigger)
    assert ledger.claim(engine, requested.run_id)
    client = connection.client_for(engine, app.extensions["vault"], 1)
    options = RunOptions(context=Context("USD", False), budget=Budget(95), reconcile_only=trigger == "reconcile")
    cache = app.extensions["cache"]
    runner = SyncRunner(engine, client, 1, requested.run_id, options,
                        invalidate=lambda emails: card_cache.invalidate(cache, 1, emails))
    started, cpu = time.perf_counter(), time.process_time()
    with PeakMemory() as memory:
        outcome = runner.run()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    records = sum(c.get("fetched", 0) + c.get("reconciled", 0) for name, c in runner.counts.items() if name != "Inbox contacts")
    pages = sum(max(1, math.ceil((c.get("total") or 0) / 2000)) for name, c in runner.counts.items() if name != "Inbox contacts")
    return {"status": outcome.status, "reason": outcome.reason, "calls": client.calls, "pages": pages, "records": records,
            "wall": wall, "cpu": cpu, "waited": runner.waited,
            "changed": {k: sum(c.get(k, 0) for n, c in runner.counts.items() if n != "Inbox contacts")
                        for k in ("created", "updated", "deleted")}, "peak_mb": memory.peak - memory.base,
            "inbox": runner.counts.get("Inbox contacts", {})}


def report(label: str, r: dict) -> None:
    local = max(r["wall"] - r["waited"], 1e-9)
    print(f"{label}: {r['status']}{' (' + r['reason'] + ')' if r['reason'] else ''}")
    print(f"  API calls {r['calls']} for {r['pages']} pages needed; {r['records']:,} records; "
          f"inbox contacts {r['inbox'].get('created', 0):,} created / {r['inbox'].get('updated', 0):,} updated")
    print("  mirror rows " + ", ".join(f"{v:,} {k}" for k, v in r["changed"].items()))
    print(f"  wall {r['wall']:.2f} s, waiting on the emulator {r['waited']:.2f} s, local {local:.2f} s "
          f"= {r['records'] / local:,.0f} records/s; peak memory +{r['peak_mb']:.0f} MB")
    # CPU time of this process (sync and prefetch threads): steadier than wall time on a busy machine.
    print(f"  CPU {r['cpu']:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--latencies", default="0,200")
    parser.add_argument("--small", action="store_true", help="a tenth of the org, for a quick look")
    parser.add_argument("--emulator", choices=("process", "thread"), default="process",
                        help="run the emulator in a child process (default) or in this one")
    args = parser.parse_args()
    sizes = dict(BENCHMARK_ORG)
    if args.small:
        sizes.update(accounts=2500, contacts=10000, opportunities=5000)
    t0 = time.perf_counter()
    emulator = (EmulatorProcess if args.emulator == "process" else EmulatorThread)(sizes)
    print(f"emulator ({args.emulator}) with {sizes['contacts']:,} contacts, {sizes['accounts']:,} accounts, "
          f"{sizes['opportunities']:,} opportunities ready in {time.perf_counter() - t0:.1f} s at {emulator.url}")
    try:
        for latency in [int(v) for v in args.latencies.split(",")]:
            with tempfile.TemporaryDirectory() as folder, fresh_database(args.database_url, Path(folder)) as url:
                app = create_app({"TESTING": True, "ENV_NAME": "test", "SECRET_KEY": "bench", "DATABASE_URL": url,
                                  "CACHE_URL": f"filesystem://{folder}/cache", "SCHEDULER_ENABLED": False,
                                  "INSTANCE_PATH": folder, "LOG_LEVEL": "WARNING"})
                migrations.upgrade(get_engine(app))
                with session_scope(get_engine(app)) as session:
                    from webapp.auth.services import get_or_create_workspace

                    get_or_create_workspace(session, "Bench")
                with session_scope(get_engine(app)) as session:
                    connection.save_setup(session, app.extensions["vault"], 1, connection.SetupInput(
                        mode="client-credentials", environment="custom", url=emulator.url,
                        client_id="emulator-client-id", client_secret="emulator-client-secret"))
                emulator.set_latency(latency)
                engine_name = get_engine(app).dialect.name
                report(f"[{engine_name}, {latency} ms] full sync", one_sync(app, "cli"))
                report(f"[{engine_name}, {latency} ms] nothing changed", one_sync(app, "cli"))
                report(f"[{engine_name}, {latency} ms] reconcile (ids only)", one_sync(app, "reconcile"))
                emulator.set_latency(0)
                get_engine(app).dispose()
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
