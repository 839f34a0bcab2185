"""The container's entry point, run as it is outside Docker: secrets kept on the volume,
migrations on start, gunicorn serving with one worker and threads."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(data_dir: Path, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ENCRYPTION_KEYS", "DATABASE_URL", "CACHE_URL", "APP_ENV", "INSTANCE_PATH"}}
    env.update(
        DATA_DIR=str(data_dir),
        PORT=str(port),
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        HOME=str(data_dir),
        SCHEDULER_ENABLED="false",
    )
    return env


def _serve(data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        ["bash", str(ENTRYPOINT)], env=_env(data_dir, port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except (requests.ConnectionError, requests.Timeout):  # up but still starting
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    _stop(proc)
    raise AssertionError(proc.stdout.read().decode(errors="replace"))


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    return out.decode(errors="replace")


def test_entrypoint_migrates_keeps_secrets_and_serves(tmp_path):
    proc, base = _serve(tmp_path)
    try:
        assert requests.get(f"{base}/login", timeout=5).status_code == 200
        secret = (tmp_path / "secret_key").read_text()
        assert len(secret.strip()) >= 40
        for name in ("secret_key", "encryption_keys"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
        assert (tmp_path / "inbox.sqlite3").exists()
    finally:
        output = _stop(proc)
    assert "Database upgraded from empty" in output
    assert "gthread" in output  # one worker with threads

    proc, base = _serve(tmp_path)  # a restart keeps the keys and the data
    try:
        assert (tmp_path / "secret_key").read_text() == secret
    finally:
        output = _stop(proc)
    assert "up to date" in output


def test_entrypoint_runs_a_given_command_after_migrating(tmp_path):
    result = subprocess.run(
        ["bash", str(ENTRYPOINT), "python", "-m", "flask", "--app", "wsgi", "create-user", "a@b.test",
         "--role", "admin", "--workspace", "W", "--password", "long-enough"],
        env=_env(tmp_path, _free_port()), capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "Created admin a@b.test" in result.stdout
