"""The README's run command on free ports: `flask demo` in its own instance directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.served import free_port

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def demo_server(tmp_path: Path) -> Iterator[tuple[str, str, list[str]]]:
    """Yields the app's URL, the emulator's and a list that holds the demo's output once it ended."""
    port, emulator_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CACHE_URL", "SECRET_KEY", "ENCRYPTION_KEYS"))}
    env.update(APP_ENV="development", INSTANCE_PATH=str(tmp_path), PUBLIC_BASE_URL=base, HOME=str(tmp_path))
    log = tmp_path / "demo.log"
    output: list[str] = []
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "demo", "--port", str(port), "--emulator-port", str(emulator_port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with requests.get(f"{base}/healthz", timeout=1) as answer:
                    if answer.status_code == 200:
                        break
            except requests.RequestException:
                time.sleep(0.3)
            assert proc.poll() is None, log.read_text(errors="replace")
        yield base, f"http://127.0.0.1:{emulator_port}", output
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        output.append(log.read_text(errors="replace"))
