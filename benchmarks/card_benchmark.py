"""Salesforce card: cache-hit throughput against ``/healthz``, the cost of misses, and what a
hanging Salesforce does to the rest of the server.

Serves the app with the project's gunicorn.conf.py (one process, eight threads) on a throwaway
SQLite database with the default cache (files under the instance folder) and the default log
level (INFO: every request is logged), connected to the built-in emulator. The throughput
figures come from a load generator in a process of its own (keep-alive connections, one per
client thread), as browsers would be; ``/healthz`` and the card hit take turns for
``--rounds`` rounds so noise from the machine falls on both alike. Prints figures; asserts
nothing.

    .venv/bin/python benchmarks/card_benchmark.py [--seconds 5] [--clients 8] [--latency-ms 150]
        [--hanging 64] [--hang-ms 10000] [--conversations 1] [--probes 200] [--rounds 3]

The last figure is the p99 of ``GET /login`` while ``--hanging`` browsers open conversations
whose cards all miss on a Salesforce that answers in ``--hang-ms``, as a ratio to its p99 when
idle. Each of those browsers does what the card's htmx does: when the card answers before
Salesforce (``X-Salesforce-Card-Retry-After``) it asks again after that many seconds. By default
each browser opens one conversation (64 simultaneous misses); ``--conversations 0`` keeps them
opening the next one as soon as a card gives up, a sustained load.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp import create_app, migrations  # noqa: E402
from webapp.auth.services import create_user, get_or_create_workspace  # noqa: E402
from webapp.db import get_engine, session_scope  # noqa: E402
from webapp.emulator import EmulatorOptions  # noqa: E402
from webapp.emulator.server import serve_in_thread  # noqa: E402
from webapp.integrations import salesforce_connection as connection  # noqa: E402
from tests.served import gunicorn, signed_in  # noqa: E402


def prepare(data_dir: Path, emulator_url: str) -> dict:
    # CACHE_URL and LOG_LEVEL are left to their defaults: what a self-hoster runs.
    env = {k: v for k, v in os.environ.items() if k not in {"CACHE_URL", "LOG_LEVEL", "ENCRYPTION_KEYS"}}
    env.update({
        "APP_ENV": "development",
        "SECRET_KEY": "benchmark-secret",
        "DATABASE_URL": f"sqlite:///{data_dir / 'bench.sqlite3'}",
        "SCHEDULER_ENABLED": "false",
        "INSTANCE_PATH": str(data_dir),
    })
    for key in ("CACHE_URL", "LOG_LEVEL", "ENCRYPTION_KEYS"):
        os.environ.pop(key, None)
    os.environ.update({k: env[k] for k in ("APP_ENV", "SECRET_KEY", "DATABASE_URL", "INSTANCE_PATH")})
    app = create_app({"LOG_LEVEL": "WARNING"})
    migrations.upgrade(get_engine(app))
    with session_scope(get_engine(app)) as session:
        workspace, _ = get_or_create_workspace(session, "Bench")
        create_user(session, email="bench@bench.test", password="bench-password", role="admin", workspace=workspace)
        connection.save_setup(
            session, app.extensions["vault"], workspace.id,
            connection.SetupInput(mode="client-credentials", environment="custom", url=emulator_url,
                                  client_id="emulator-client-id", client_secret="emulator-client-secret"),
        )
    get_engine(app).dispose()
    return env


def session_for(base: str) -> requests.Session:
    return signed_in(base, "bench@bench.test", "bench-password")


def _hammer(base: str, path: str, cookies: list[str], seconds: float, results) -> None:
    """In a process of its own: one keep-alive connection per cookie, requests back to back."""
    host, port = base.removeprefix("http://").split(":")
    counts = [0] * len(cookies)
    stop = time.perf_counter() + seconds

    def run(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {"Cookie": cookies[i], "HX-Request": "true"}
        try:
            while time.perf_counter() < stop:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status}")
                counts[i] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(cookies))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(sum(counts) / (time.perf_counter() - started))


def load(base: str, path: str, seconds: float, cookies: list[str]) -> float:
    """Requests per second for ``path`` from ``len(cookies)`` concurrent clients in another process."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_hammer, args=(base, path, cookies, seconds, results))
    process.start()
    rps = results.get(timeout=seconds + 120)
    process.join(30)
    return rps


def cookie_of(session: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def login_latencies(base: str, probes: int) -> list[float]:
    s = requests.Session()
    out = []
    for _ in range(probes):
        started = time.perf_counter()
        s.get(f"{base}/login", timeout=120).raise_for_status()
        out.append((time.perf_counter() - started) * 1000)
    return out


def hanging_browsers(base: str, count: int, conversations: int, started, stop, counts) -> None:
    """In a process of its own: ``count`` signed-in browsers opening conversations whose cards
    miss, as htmx would, until ``stop`` is set; what they saw goes into ``counts``."""
    sessions = [session_for(base) for _ in range(count)]
    seen = {"cards": 0, "pending": 0, "errors": 0}
    ready = threading.Barrier(count)

    def browse(i: int, s: requests.Session) -> None:
        ready.wait()
        conversation = 0
        while not stop.is_set() and (conversations == 0 or conversation < conversations):
            conversation += 1
            attempt = 0
            while not stop.is_set():
                try:
                    r = s.get(f"{base}/integrations/salesforce/card",
                              params={"email": f"hang-{i}-{conversation}@slow.test", "attempt": attempt},
                              headers={"HX-Request": "true"}, timeout=120)
                except requests.RequestException:
                    seen["errors"] += 1
                    break
                seen["cards"] += 1
                wait = r.headers.get("X-Salesforce-Card-Retry-After")
                if not wait:
                    break
                seen["pending"] += 1
                attempt += 1
                stop.wait(float(wait))

    threads = [threading.Thread(target=browse, args=(i, s)) for i, s in enumerate(sessions)]
    for t in threads:
        t.start()
    started.set()
    for t in threads:
        t.join()
    counts.update(seen)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=150, help="added to each emulator call for the miss figures")
    parser.add_argument("--hanging", type=int, default=64, help="browsers whose cards hang on Salesforce")
    parser.add_argument("--hang-ms", type=int, default=10_000, help="how long Salesforce takes to answer them")
    parser.add_argument("--conversations", type=int, default=1,
                        help="conversations each hanging browser opens, one after another (0: until the phase ends)")
    parser.add_argument("--probes", type=int, default=200, help="GET /login samples per phase")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each alternated measurement")
    parser.add_argument("--hit-only", action="store_true", help="only the cache-hit throughput")
    args = parser.parse_args()

    emulator = serve_in_thread(EmulatorOptions())
    em = emulator.app.emulator
    contacts = [c for c in em.store.tables["Contact"].records if c.get("Email") and not c["IsDeleted"] and c.get("AccountId")]
    with tempfile.TemporaryDirectory() as tmp:
        env = prepare(Path(tmp), emulator.url)
        with gunicorn(env) as base:
            hit = f"/integrations/salesforce/card?email={contacts[0]['Email']}"
            warm = session_for(base)
            assert warm.get(base + hit).headers["X-Salesforce-Card"] == "shown"
            cookies = [cookie_of(session_for(base)) for _ in range(args.clients)]
            load(base, hit, 1, cookies)  # warm-up: threads, connections, the cache file
            health, hits = [], []
            for _ in range(args.rounds):
                health.append(load(base, "/healthz", args.seconds, cookies))
                hits.append(load(base, hit, args.seconds, cookies))
            ratios = [h / t for h, t in zip(hits, health)]
            print(f"GET /healthz:                     {statistics.median(health):8.0f} req/s (median of {args.rounds})")
            print(f"card, cache hit:                  {statistics.median(hits):8.0f} req/s")
            print(f"ratio hit / healthz per round:    {', '.join(f'{r:.2f}' for r in ratios)}; "
                  f"median {statistics.median(ratios):.2f}  (target >= 0.70)")
            if args.hit_only:
                emulator.stop()
                return

            em.set_faults(latency_ms=args.latency_ms)
            latencies, calls = [], []
            for contact in contacts[1:21]:
                before = em.calls["query"]
                started = time.perf_counter()
                warm.get(f"{base}/integrations/salesforce/card?email={contact['Email']}")
                latencies.append((time.perf_counter() - started) * 1000)
                calls.append(em.calls["query"] - before)
            print(f"miss latency at {args.latency_ms} ms per Salesforce call: median {statistics.median(latencies):.0f} ms, "
                  f"max {max(latencies):.0f} ms; calls per miss: max {max(calls)}")

            target = contacts[30]["Email"]
            sessions = [session_for(base) for _ in range(50)]
            before = em.calls["query"]
            barrier = threading.Barrier(50)

            def miss(s):
                barrier.wait()
                s.get(f"{base}/integrations/salesforce/card?email={target}")

            threads = [threading.Thread(target=miss, args=(s,)) for s in sessions]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            print(f"50 simultaneous misses for one email: {em.calls['query'] - before} Salesforce calls (target 2)")

            # Idle and hanging phases alternate, so noise from the machine falls on both alike.
            idle, loaded, seen = [], [], {"cards": 0, "pending": 0, "errors": 0}
            for _ in range(args.rounds):
                em.set_faults(latency_ms=0)
                idle += login_latencies(base, args.probes)
                em.set_faults(latency_ms=args.hang_ms)
                # The browsers load the server from a process of their own, as real ones would.
                with multiprocessing.Manager() as manager:
                    started, stop, counts = manager.Event(), manager.Event(), manager.dict()
                    browsers = multiprocessing.Process(target=hanging_browsers,
                                                       args=(base, args.hanging, args.conversations, started, stop, counts))
                    browsers.start()
                    started.wait(300)
                    time.sleep(1)  # every browser has its card request in the server
                    loaded += login_latencies(base, args.probes)
                    stop.set()
                    browsers.join(60)
                    seen = {k: seen[k] + counts.get(k, 0) for k in seen}
            em.set_faults(latency_ms=0)
            opened = "one conversation each" if args.conversations == 1 else (
                "a new conversation as soon as a card gives up" if args.conversations == 0 else f"{args.conversations} conversations each")
            print(f"GET /login idle: median {statistics.median(idle):.1f} ms, p99 {p99(idle):.1f} ms; with "
                  f"{args.hanging} browsers ({opened}) whose cards hang on a {args.hang_ms / 1000:g} s Salesforce: median "
                  f"{statistics.median(loaded):.1f} ms, p99 {p99(loaded):.1f} ms (max {max(loaded):.0f} ms); "
                  f"p99 ratio {p99(loaded) / p99(idle):.2f} (target <= 2)")
            print(f"  meanwhile: {seen['cards']} card answers, {seen['pending']} of them before Salesforce "
                  f"answered, {seen['errors']} errors")
    emulator.stop()


if __name__ == "__main__":
    main()
