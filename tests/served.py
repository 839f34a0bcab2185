"""The app served by gunicorn as in production (one process, threads), for tests and benchmarks
that need a real server: thread starvation and throughput only show there."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(*, database_url: str, secret_key: str, instance_path: Path, **settings: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"ENCRYPTION_KEYS", "CACHE_URL"}}
    env.update(
        APP_ENV="development",
        SECRET_KEY=secret_key,
        DATABASE_URL=database_url,
        CACHE_URL="simple://",
        SCHEDULER_ENABLED="false",
        LOG_LEVEL="WARNING",
        INSTANCE_PATH=str(instance_path),
    )
    env.update(settings)
    return env


@contextmanager
def gunicorn(env: dict) -> Iterator[str]:
    """Serve ``wsgi:app`` with the project's gunicorn.conf.py; yields the base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still starting
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def signed_in(base: str, email: str, password: str) -> requests.Session:
    """A browser-like session, signed in through the login form."""
    s = requests.Session()
    page = s.get(f"{base}/login", timeout=30).text
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    answer = s.post(f"{base}/login", data={"email": email, "password": password, "csrf_token": token},
                    allow_redirects=False, timeout=30)
    if answer.status_code != 302:
        raise RuntimeError(f"login failed: HTTP {answer.status_code}")
    return s
