"""The sync as the app runs it (the pull, then the analytics facts refresh), from the emulator,
at two org sizes, each measurement in a fresh process.

    python benchmarks/sync_benchmark.py                       # SQLite in a temp folder
    python benchmarks/sync_benchmark.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
    python benchmarks/sync_benchmark.py --sizes 100000,400000 --repeat 1 --latency 0   # memory at 4x the org

Sizes are contacts; each org has a quarter as many accounts and half as many opportunities
(100,000 / 25,000 / 50,000 is the org of the quality bars). For each size it prints, as the
median (and range) of ``--repeat`` runs:

- local processing: records / (wall − time waiting on the emulator), at 0 ms latency, and the
  same per record in µs, with and without the facts refresh the app runs after a sync;
- peak memory the sync added (resident set size sampled every 10 ms above the level before it
  started, in a process that did nothing else before), and that of the facts refresh;
- at ``--latency`` ms added per call: the sync's wall time against a pure fetch of the same
  pages (every query paged through, nothing written), measured in the same process;
- a second sync with nothing changed: its API calls and wall time.

The emulator runs in a process of its own, so its CPU time (serialising pages) is not counted
as ours. On PostgreSQL each measurement works in a scratch database of its own on the server
the URL names (created, then dropped); the URL's own database is not touched.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
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
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())

    @property
    def added(self) -> float:
        return self.peak - self.base


@contextmanager
def fresh_database(url: str | None, folder: Path):
    """An empty database for one measurement: a file in ``folder``, or a scratch database
    on the server ``url`` names, dropped afterwards."""
    if not url:
        yield f"sqlite:///{folder / 'bench.sqlite3'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

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


# -- the emulator, in a process of its own ----------------------------------------------------

def _serve(sizes: dict, pipe) -> None:
    from webapp.emulator import EmulatorOptions
    from webapp.emulator.server import serve_in_thread

    emulator = serve_in_thread(EmulatorOptions(**sizes, api_daily_limit=50_000_000))
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
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def stop(self) -> None:
        self._pipe.send("stop")
        self._process.join(timeout=30)


# -- one measurement, in a fresh process ------------------------------------------------------

def _measure(emulator_url: str, database_url: str | None, fetch_first: bool, pipe) -> None:
    try:
        pipe.send(_measure_here(emulator_url, database_url, fetch_first))
    except BaseException as exc:  # the parent prints it
        pipe.send({"error": f"{exc.__class__.__name__}: {exc}"})
        raise


def _measure_here(emulator_url: str, database_url: str | None, fetch_first: bool) -> dict:
    from webapp import create_app, migrations
    from webapp.analytics.facts import refresh_if_requested
    from webapp.auth.services import get_or_create_workspace
    from webapp.db import get_engine, session_scope
    from webapp.integrations import card_cache
    from webapp.integrations import salesforce_connection as connection
    from webapp.salesforce.sync import ledger
    from webapp.salesforce.sync.objects import OBJECTS, Context
    from webapp.salesforce.sync.pages import Budget
    from webapp.salesforce.sync.runner import RunOptions, SyncRunner

    with tempfile.TemporaryDirectory() as folder, fresh_database(database_url, Path(folder)) as url:
        app = create_app({"TESTING": True, "ENV_NAME": "test", "SECRET_KEY": "bench", "DATABASE_URL": url,
                          "CACHE_URL": f"filesystem://{folder}/cache", "SCHEDULER_ENABLED": False,
                          "INSTANCE_PATH": folder, "LOG_LEVEL": "WARNING"})
        engine = get_engine(app)
        migrations.upgrade(engine)
        with session_scope(engine) as session:
            get_or_create_workspace(session, "Bench")
        with session_scope(engine) as session:
            connection.save_setup(session, app.extensions["vault"], 1, connection.SetupInput(
                mode="client-credentials", environment="custom", url=emulator_url,
                client_id="emulator-client-id", client_secret="emulator-client-secret"))
        cache = app.extensions["cache"]
        context = Context("USD", False)
        out: dict = {"dialect": engine.dialect.name}

        if fetch_first:  # the same queries, paged through, nothing written
            client = connection.client_for(engine, app.extensions["vault"], 1)
            started = time.perf_counter()
            for spec in OBJECTS:
                query = f"SELECT {', '.join(spec.select(context))} FROM {spec.name} ORDER BY SystemModstamp ASC"
                for _page in client.query_pages(query, include_deleted=spec.deletable):
                    pass
            out["fetch"] = time.perf_counter() - started
            out["fetch_calls"] = client.calls

        def sync(key: str) -> None:
            requested = ledger.request_run(engine, 1, "cli")
            assert ledger.claim(engine, requested.run_id)
            client = connection.client_for(engine, app.extensions["vault"], 1)
            runner = SyncRunner(engine, client, 1, requested.run_id, RunOptions(context=context, budget=Budget(95)),
                                invalidate=lambda emails: card_cache.invalidate(cache, 1, emails))
            started = time.perf_counter()
            with PeakMemory() as memory:
                outcome = runner.run()
            wall = time.perf_counter() - started
            started = time.perf_counter()
            with PeakMemory() as facts_memory:
                refresh_if_requested(engine, 1)  # what the app runs after every sync
            records = sum(c.get("fetched", 0) for name, c in runner.counts.items() if name != "Inbox contacts")
            out[key] = {"status": outcome.status, "reason": outcome.reason, "calls": client.calls, "records": records,
                        "wall": wall, "waited": runner.waited, "facts": time.perf_counter() - started,
                        "peak_mb": memory.added, "facts_mb": facts_memory.added,
                        "inbox": runner.counts.get("Inbox contacts", {}).get("created", 0)}

        sync("full")
        sync("again")
        engine.dispose()
        return out


def measure(emulator_url: str, database_url: str | None, *, fetch_first: bool = False) -> dict:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_measure, args=(emulator_url, database_url, fetch_first, child))
    process.start()
    result = parent.recv()
    process.join(60)
    if "error" in result:
        raise SystemExit(f"measurement failed: {result['error']}")
    return result


# -- reporting ----------------------------------------------------------------------------------

def _spread(values: list[float], fmt: str) -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return format(med, fmt)
    return f"{format(med, fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sizes", default="10000,100000", help="contacts per org, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per size at 0 ms")
    parser.add_argument("--latency", type=int, default=200, help="ms per call for the wall / fetch figure (0: skip it)")
    parser.add_argument("--latency-repeat", type=int, default=1, help="measurements per size at --latency")
    args = parser.parse_args()

    summary = []
    for contacts in [int(v) for v in args.sizes.split(",")]:
        sizes = dict(seed=42, contacts=contacts, accounts=contacts // 4, opportunities=contacts // 2)
        started = time.perf_counter()
        emulator = EmulatorProcess(sizes)
        print(f"org of {contacts:,} contacts, {sizes['accounts']:,} accounts, {sizes['opportunities']:,} opportunities "
              f"(emulator ready in {time.perf_counter() - started:.0f} s)", flush=True)
        try:
            runs = []
            for _ in range(args.repeat):
                r = measure(emulator.url, args.database_url)
                runs.append(r)
                f, a = r["full"], r["again"]
                local = f["wall"] - f["waited"]
                print(f"  [{r['dialect']}, 0 ms] {f['status']}: {f['records']:,} records in {f['calls']} calls, "
                      f"wall {f['wall']:.1f} s, waiting {f['waited']:.1f} s, local {local:.1f} s = "
                      f"{f['records'] / local:,.0f} records/s; facts refresh {f['facts']:.1f} s; "
                      f"peak +{f['peak_mb']:.0f} MB (refresh +{f['facts_mb']:.0f} MB); "
                      f"nothing changed: {a['calls']} calls, {a['wall'] + a['facts']:.2f} s", flush=True)
            timed = []
            if args.latency:
                emulator.set_latency(args.latency)
                for _ in range(args.latency_repeat):
                    r = measure(emulator.url, args.database_url, fetch_first=True)
                    timed.append(r)
                    print(f"  [{r['dialect']}, {args.latency} ms] pure fetch {r['fetch']:.1f} s ({r['fetch_calls']} calls), "
                          f"sync {r['full']['wall']:.1f} s ({r['full']['calls']} calls): "
                          f"ratio {r['full']['wall'] / r['fetch']:.3f}", flush=True)
                emulator.set_latency(0)
            summary.append((contacts, runs, timed))
        finally:
            emulator.stop()

    print("\nsummary (median and range of the runs)")
    for contacts, runs, timed in summary:
        full = [r["full"] for r in runs]
        local = [f["wall"] - f["waited"] for f in full]
        rate = [f["records"] / t for f, t in zip(full, local)]
        per = [t / f["records"] * 1e6 for f, t in zip(full, local)]
        per_facts = [(t + f["facts"]) / f["records"] * 1e6 for f, t in zip(full, local)]
        print(f"  {contacts:>7,} contacts, {full[0]['records']:,} records: {_spread(rate, ',.0f')} records/s; "
              f"{_spread(per, '.1f')} µs/record, {_spread(per_facts, '.1f')} µs/record with the facts refresh; "
              f"peak +{_spread([f['peak_mb'] for f in full], '.0f')} MB, refresh +{_spread([f['facts_mb'] for f in full], '.0f')} MB")
        if timed:
            ratios = [r["full"]["wall"] / r["fetch"] for r in timed]
            print(f"  {'':>7} wall / pure fetch at the latency: {_spread(ratios, '.3f')}")


if __name__ == "__main__":
    main()
