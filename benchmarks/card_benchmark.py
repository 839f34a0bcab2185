"""Salesforce card: cache-hit throughput against a trivial endpoint, and the cost of misses.

Serves the app with gunicorn as in production (one process, eight threads) on a throwaway
SQLite database, connected to the built-in emulator, and loads it from this process.
Prints figures; asserts nothing.

    .venv/bin/python benchmarks/card_benchmark.py [--seconds 5] [--clients 8] [--latency-ms 150]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(data_dir: Path, emulator_url: str) -> dict:
    env = {
        **os.environ,
        "APP_ENV": "development",
        "SECRET_KEY": "benchmark-secret",
        "DATABASE_URL": f"sqlite:///{data_dir / 'bench.sqlite3'}",
        "CACHE_URL": "simple://",
        "SCHEDULER_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "INSTANCE_PATH": str(data_dir),
    }
    os.environ.update({k: env[k] for k in ("APP_ENV", "SECRET_KEY", "DATABASE_URL", "CACHE_URL", "INSTANCE_PATH")})
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


def serve(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def session_for(base: str) -> requests.Session:
    s = requests.Session()
    page = s.get(f"{base}/login").text
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    s.post(f"{base}/login", data={"email": "bench@bench.test", "password": "bench-password", "csrf_token": token})
    return s


def load(base: str, path: str, seconds: float, clients: int) -> float:
    """Requests per second for ``path`` with ``clients`` concurrent keep-alive clients."""
    sessions = [session_for(base) for _ in range(clients)]
    counts = [0] * clients
    stop = time.perf_counter() + seconds

    def run(i):
        s = sessions[i]
        while time.perf_counter() < stop:
            r = s.get(base + path, headers={"HX-Request": "true"})
            r.raise_for_status()
            counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=150, help="added to each emulator call for the miss figures")
    args = parser.parse_args()

    emulator = serve_in_thread(EmulatorOptions())
    em = emulator.app.emulator
    contacts = [c for c in em.store.tables["Contact"].records if c.get("Email") and not c["IsDeleted"] and c.get("AccountId")]
    with tempfile.TemporaryDirectory() as tmp:
        env = prepare(Path(tmp), emulator.url)
        port = free_port()
        proc = serve(env, port)
        base = f"http://127.0.0.1:{port}"
        try:
            hit = f"/integrations/salesforce/card?email={contacts[0]['Email']}"
            warm = session_for(base)
            assert warm.get(base + hit).headers["X-Salesforce-Card"] == "shown"
            # The trivial endpoint: same server, same login and middleware, no work.
            trivial_rps = load(base, "/integrations/salesforce/card?email=", args.seconds, args.clients)
            hit_rps = load(base, hit, args.seconds, args.clients)
            print(f"trivial endpoint (no-email card): {trivial_rps:8.0f} req/s")
            print(f"card, cache hit:                  {hit_rps:8.0f} req/s")
            print(f"ratio hit / trivial:              {hit_rps / trivial_rps:8.2f}  (target >= 0.70)")

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
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
            emulator.stop()


if __name__ == "__main__":
    main()
