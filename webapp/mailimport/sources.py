"""Where raw messages come from: an mbox file, a folder of .eml files, a single .eml, or a .zip
of either. Each source yields RawMessage items lazily; a source that cannot be read at all
raises SourceError with a message meant for the person who chose the file.

Nothing here trusts a size a file declares about itself. Bytes are counted as they are read
(after decompression), an mbox is split line by line rather than indexed and read whole, and
a message over the size limit is dropped as it streams past: memory stays bounded by one
message, whatever the input.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

MAX_ZIP_ENTRIES = 200_000
DEFAULT_MAX_UNPACKED_BYTES = 2 * 1024**3
DEFAULT_MAX_MESSAGE_BYTES = 25 * 1024**2
DEFAULT_MAX_ADDRESSES_PER_HEADER = 1000

_CHUNK = 64 * 1024  # the longest piece of a line read at once
_COUNT_EVERY = 1024 * 1024  # bytes read within one message between two checks of the budget
_HEADER_LINE_RE = re.compile(rb"^[!-9;-~]+:")  # a header name: printable ASCII, no colon
_MBOXRD_QUOTED_RE = re.compile(rb"^>(>*From )", re.MULTILINE)


class SourceError(Exception):
    """The file or folder cannot be read as mail at all."""


@dataclass(frozen=True)
class Limits:
    """What one import may read; each has a setting of the same name (webapp.config)."""

    unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES  # MAIL_IMPORT_MAX_UNPACKED_BYTES
    message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # MAIL_IMPORT_MAX_MESSAGE_BYTES
    addresses_per_header: int = DEFAULT_MAX_ADDRESSES_PER_HEADER  # MAIL_IMPORT_MAX_ADDRESSES_PER_HEADER

    @classmethod
    def from_config(cls, config) -> Limits:
        return cls(
            unpacked_bytes=int(config.get("MAIL_IMPORT_MAX_UNPACKED_BYTES", DEFAULT_MAX_UNPACKED_BYTES)),
            message_bytes=int(config.get("MAIL_IMPORT_MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES)),
            addresses_per_header=int(
                config.get("MAIL_IMPORT_MAX_ADDRESSES_PER_HEADER", DEFAULT_MAX_ADDRESSES_PER_HEADER)
            ),
        )

    @property
    def too_large(self) -> str:
        """The skip reason of a message over the size limit (one wording, so they group)."""
        return f"larger than the {human_bytes(self.message_bytes)} a message may be (MAIL_IMPORT_MAX_MESSAGE_BYTES)"


def human_bytes(count: int) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if count >= size:
            value = count / size
            return f"{value:.0f} {unit}" if value == int(value) or value >= 100 else f"{value:.1f} {unit}"
    return f"{count} bytes"


@dataclass
class RawMessage:
    label: str  # where it came from, for the summary: "message 12" or a file name
    data: bytes | None  # None when the item could not be read (the importer reports why)
    fallback_date: datetime | None = None
    error: str = ""


class _Budget:
    """The bytes one import has read so far, decompressed, against the total limit."""

    def __init__(self, name: str, limits: Limits, on_read: Callable[[int], None] | None = None):
        self.name = name
        self.limit = limits.unpacked_bytes
        self.used = 0
        self.on_read = on_read

    def take(self, count: int) -> None:
        self.used += count
        if self.used > self.limit:
            raise SourceError(
                f"{self.name}: holds more than the {human_bytes(self.limit)} of mail one import "
                "may read (MAIL_IMPORT_MAX_UNPACKED_BYTES)."
            )
        if self.on_read is not None:
            self.on_read(count)


def iter_path(
    path: Path,
    limits: Limits | None = None,
    *,
    on_read: Callable[[int], None] | None = None,
    precheck: bool = True,
) -> Iterator[RawMessage]:
    """Messages from a path given on the command line or saved from an upload.

    A zip is first unpacked once without keeping anything (measure_zip), to count what it
    really holds: a zip over the limit is refused before anything is stored. ``precheck=False``
    when the caller has just done that itself; ``on_read`` hears of every byte read."""
    limits = limits or Limits()
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder.")
    if path.is_dir():
        yield from _iter_folder(path, limits)
        return
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise SourceError(f"{path.name}: cannot be read ({exc.strerror or exc}).") from exc
    if not head.strip():
        raise SourceError(f"{path.name}: the file is empty.")
    kind = sniff(path.name, head)
    if kind == "zip":
        if precheck:
            measure_zip(path, limits)
        yield from _iter_zip(path, limits, _Budget(path.name, limits, on_read))
    elif kind in {"mbox", "eml"}:
        budget = _Budget(path.name, limits, on_read)
        try:
            with path.open("rb") as fh:
                if kind == "mbox":
                    yield from iter_mbox_stream(fh, path.name, limits, budget)
                else:
                    yield _read_message(fh, path.name, limits, budget)
        except OSError as exc:
            raise SourceError(f"{path.name}: cannot be read ({exc.strerror or exc}).") from exc
    else:
        raise SourceError(f"{path.name}: not an mbox file, an .eml message or a .zip of them.")


def sniff(name: str, head: bytes) -> str | None:
    """What the file is, from its first bytes rather than its name: "mbox", "eml", "zip"."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    text = head.lstrip(b"\xef\xbb\xbf\r\n")
    if text.startswith(b"From "):
        return "mbox"
    if _HEADER_LINE_RE.match(text):
        return "eml"
    return None


def _iter_folder(folder: Path, limits: Limits) -> Iterator[RawMessage]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".eml" and p.is_file())
    if not files:
        raise SourceError(f"{folder}: the folder holds no .eml files.")
    budget = _Budget(folder.name, limits)
    for file in files:
        label = str(file.relative_to(folder))
        try:
            with file.open("rb") as fh:
                item = _read_message(fh, label, limits, budget)
        except OSError as exc:
            item = RawMessage(label, None, error=f"unreadable file ({exc.strerror or exc})")
        yield item


def _read_message(fh: BinaryIO, label: str, limits: Limits, budget: _Budget) -> RawMessage:
    """One .eml, read up to the message limit and no further."""
    buffer = bytearray()
    while True:
        chunk = fh.read(min(_CHUNK, limits.message_bytes + 1 - len(buffer)))
        if not chunk:
            return RawMessage(label, bytes(buffer))
        budget.take(len(chunk))
        buffer += chunk
        if len(buffer) > limits.message_bytes:
            return RawMessage(label, None, error=limits.too_large)


def iter_mbox_stream(fh: BinaryIO, name: str, limits: Limits, budget: _Budget) -> Iterator[RawMessage]:
    """Split an mbox as it streams: every line starting "From " begins a message (as
    Python's mailbox module reads it), and the blank line before it belongs to no message.

    Bytes are counted against the budget before each message is handed on (and every
    megabyte within one), not line by line: per line, the counting cost a third of the split."""
    number = 0
    buffer: bytearray | None = None  # None before the first separator
    oversized = False
    from_line = b""
    at_line_start = True
    uncounted = 0
    max_bytes = limits.message_bytes
    readline = fh.readline

    def finish() -> RawMessage:
        label = f"{name}, message {number}"
        if oversized:
            return RawMessage(label, None, _from_line_date(from_line), error=limits.too_large)
        data = bytes(buffer)
        if data.endswith(b"\n\n"):
            data = data[:-1]
        if b">From " in data:
            # mboxrd quoting: ">From " in a body was "From " before the message was stored.
            data = _MBOXRD_QUOTED_RE.sub(rb"\1", data)
        return RawMessage(label, data, _from_line_date(from_line))

    while True:
        line = readline(_CHUNK)
        if not line:
            break
        uncounted += len(line)
        starts_line, at_line_start = at_line_start, line[-1:] == b"\n"
        if starts_line and line[:5] == b"From ":
            budget.take(uncounted)
            uncounted = 0
            if buffer is not None:
                yield finish()
            number += 1
            buffer, oversized, from_line = bytearray(), False, line
            while not at_line_start:  # a separator longer than a chunk: skip the rest of it
                rest = readline(_CHUNK)
                if not rest:
                    break
                budget.take(len(rest))
                at_line_start = rest.endswith(b"\n")
            continue
        if uncounted >= _COUNT_EVERY:
            budget.take(uncounted)
            uncounted = 0
        if buffer is None or oversized:
            continue
        if len(buffer) + len(line) > max_bytes:
            oversized = True
            buffer = bytearray()  # let the bytes go at once; the rest of it streams past
            continue
        buffer += line
    budget.take(uncounted)
    if buffer is not None:
        yield finish()


_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_WEEKDAYS = frozenset("Mon Tue Wed Thu Fri Sat Sun".split())


def _from_line_date(line: bytes) -> datetime | None:
    """The date on an mbox separator: ``From sender@host Thu Jan  1 00:00:00 2026``."""
    parts = line.decode("ascii", "replace").split()
    if len(parts) < 7:
        return None
    weekday, month, day, clock, year = parts[-5:]
    # The usual form by hand (strptime costs as much as the rest of the split); others by strptime.
    hms = clock.split(":")
    if (weekday in _WEEKDAYS and month in _MONTHS and len(hms) == 3 and len(year) == 4
            and all(p.isdigit() and len(p) <= 2 for p in (day, *hms)) and year.isdigit()):
        try:
            return datetime(int(year), _MONTHS[month], int(day), int(hms[0]), int(hms[1]), int(hms[2]), tzinfo=UTC)
        except ValueError:
            return None
    try:
        return datetime.strptime(" ".join(parts[-5:]), "%a %b %d %H:%M:%S %Y").replace(tzinfo=UTC)
    except ValueError:
        return None


def measure_zip(path: Path, limits: Limits, on_read: Callable[[int], None] | None = None) -> int:
    """Unpack every mail entry of a zip without keeping it; the real total, or SourceError."""
    budget = _Budget(path.name, limits, on_read)
    with _open_zip(path) as archive:
        for info in _mail_entries(path, archive):
            with _unpacking(path, info), archive.open(info) as src:
                first = True
                while chunk := src.read(1024 * 1024):
                    if first and info.filename.lower().endswith(".mbox") and sniff(info.filename, chunk[:4096]) != "mbox":
                        raise SourceError(f"{info.filename}: not an mbox file (no “From ” line at the start).")
                    first = False
                    budget.take(len(chunk))
    return budget.used


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(f"{path.name}: not a readable zip file ({exc}).") from exc


def _mail_entries(path: Path, archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    entries = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX/")
        and Path(info.filename).suffix.lower() in {".eml", ".mbox"}
    ]
    if not entries:
        raise SourceError(f"{path.name}: the zip holds no .eml or .mbox files.")
    if len(entries) > MAX_ZIP_ENTRIES:
        raise SourceError(f"{path.name}: the zip holds more than {MAX_ZIP_ENTRIES:,} mail files.")
    return sorted(entries, key=lambda i: i.filename)


class _unpacking:
    """Turns the ways an entry fails to unpack into SourceError."""

    def __init__(self, path: Path, info: zipfile.ZipInfo):
        self.path, self.info = path, info

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        # RuntimeError: an encrypted entry; the others: a damaged or lying archive (zipfile
        # stops at the declared size and then the checksum fails).
        if isinstance(exc, (zipfile.BadZipFile, OSError, RuntimeError, EOFError, ValueError)) and not isinstance(exc, SourceError):
            raise SourceError(f"{self.path.name}: {self.info.filename} cannot be unpacked ({exc}).") from exc
        return False


def _iter_zip(path: Path, limits: Limits, budget: _Budget) -> Iterator[RawMessage]:
    # Counted again while importing: the file may have changed since it was measured.
    with _open_zip(path) as archive:
        for info in _mail_entries(path, archive):
            with _unpacking(path, info), archive.open(info) as entry:
                # zipfile's own readline is slow Python; a buffered reader does lines in C.
                src = io.BufferedReader(entry, 1024 * 1024)
                if info.filename.lower().endswith(".mbox"):
                    if sniff(info.filename, src.peek(4096)[:4096]) != "mbox":
                        raise SourceError(f"{info.filename}: not an mbox file (no “From ” line at the start).")
                    yield from iter_mbox_stream(src, info.filename, limits, budget)
                else:
                    yield _read_message(src, info.filename, limits, budget)
