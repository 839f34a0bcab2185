"""Hostile mail files, written to disk in pieces so the test process never holds them, and a
way to import one in a fresh `flask import-mail` process and read its peak memory."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

from tests.mailimport.mail import eml, thread

ROOT = Path(__file__).resolve().parents[2]
LINE = b"The quick brown fox jumps over the lazy dog, again and again and again.\n"  # 73 bytes


def big_message(size: int, *, message_id: str = "<big@customer.test>") -> list[bytes]:
    """A plain message of about ``size`` bytes, as pieces: headers, then body lines."""
    head = eml(message_id=message_id, subject="Huge log", body=b"")
    return [head] + [LINE * 1000] * (size // (len(LINE) * 1000))


def mbox_bomb_zip(path: Path, body_bytes: int) -> None:
    """A zip holding one mbox: the four messages of thread() and, between them, one giant."""
    messages = thread()
    separator = b"From MAILER-DAEMON Tue Sep  1 09:00:00 2026\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("archive.mbox", "w", force_zip64=True) as out:
            for msg in messages[:2]:
                out.write(separator + msg + b"\n")
            out.write(separator)
            for piece in big_message(body_bytes):
                out.write(piece)
            out.write(b"\n")
            for msg in messages[2:]:
                out.write(separator + msg + b"\n")


def lying_zip(path: Path, real_bytes: int, declared: int) -> None:
    """A zip whose one .eml unpacks to ``real_bytes`` while both its local and its central
    header say ``declared``."""
    data = b"".join(big_message(real_bytes))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mail/huge.eml", data)
    raw = bytearray(path.read_bytes())
    size = struct.pack("<I", len(data))
    # The uncompressed size sits at offset 22 of the local header and 24 of the central one.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.index(signature)
        assert raw[at + offset : at + offset + 4] == size
        raw[at + offset : at + offset + 4] = struct.pack("<I", declared)
    path.write_bytes(bytes(raw))


def many_cc(count: int) -> bytes:
    cc = ", ".join(f'"Person {i}" <person{i}@client{i % 97}.test>' for i in range(count))
    return eml(cc=cc, message_id="<many-cc@customer.test>")


_PEAK_RE = re.compile(r"PEAK-RSS-KB (\d+)")
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking process (a pytest worker
# that has grown), while VmHWM belongs to the new program's own memory.
_CHILD = (
    "import atexit, re, sys\n"
    "atexit.register(lambda: print('PEAK-RSS-KB', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1),"
    " file=sys.stderr))\n"
    "from flask.cli import main\n"
    "sys.argv = ['flask', '--app', 'wsgi', 'import-mail'] + sys.argv[1:]\n"
    "main()\n"
)


def import_in_child(database_url: str, instance: Path, path: Path, *, env: dict | None = None,
                    root: Path = ROOT) -> tuple[subprocess.CompletedProcess, float]:
    """Run `flask import-mail PATH --workspace Acme` in a fresh process; its output and peak MB."""
    child_env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "CACHE_URL": "null://",
        "SCHEDULER_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), "--workspace", "Acme"],
        cwd=root, env=child_env, capture_output=True, text=True, timeout=600,
    )
    peak = int(_PEAK_RE.search(done.stderr).group(1)) / 1024
    return done, peak
