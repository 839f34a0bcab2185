"""Where raw messages come from: an mbox file, a folder of .eml files, a single .eml, or a .zip
of either. Each source yields RawMessage items lazily; a source that cannot be read at all
raises SourceError with a message meant for the person who chose the file."""

from __future__ import annotations

import mailbox
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from werkzeug.utils import secure_filename

# A zip is checked against these before anything is unpacked (a small zip can hold a bomb).
MAX_EML_BYTES = 50 * 1024 * 1024
MAX_ZIP_ENTRIES = 200_000
MAX_ZIP_UNPACKED_BYTES = 4 * 1024**3

_HEADER_LINE_RE = re.compile(rb"^[!-9;-~]+:")  # a header name: printable ASCII, no colon
_MBOXRD_QUOTED_RE = re.compile(rb"^>(>*From )", re.MULTILINE)


class SourceError(Exception):
    """The file or folder cannot be read as mail at all."""


@dataclass
class RawMessage:
    label: str  # where it came from, for the summary: "message 12" or a file name
    data: bytes | None  # None when the item could not be read (the importer reports why)
    fallback_date: datetime | None = None
    error: str = ""


def iter_path(path: Path) -> Iterator[RawMessage]:
    """Messages from a path given on the command line or saved from an upload."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder.")
    if path.is_dir():
        yield from _iter_folder(path)
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
        yield from _iter_zip(path)
    elif kind == "mbox":
        yield from _iter_mbox(path, path.name)
    elif kind == "eml":
        yield RawMessage(path.name, _read(path))
    else:
        raise SourceError(f"{path.name}: not an mbox file, an .eml message or a .zip of them.")


@contextmanager
def saved_upload(stream: BinaryIO, filename: str) -> Iterator[Path]:
    """An uploaded file on disk for as long as the import needs it (mailbox reads paths)."""
    with tempfile.TemporaryDirectory(prefix="mail-upload-") as tmp:
        path = Path(tmp) / (secure_filename(filename) or "upload")
        with path.open("wb") as fh:
            shutil.copyfileobj(stream, fh, 1024 * 1024)
        yield path


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


def _iter_folder(folder: Path) -> Iterator[RawMessage]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".eml" and p.is_file())
    if not files:
        raise SourceError(f"{folder}: the folder holds no .eml files.")
    for file in files:
        label = str(file.relative_to(folder))
        try:
            yield RawMessage(label, file.read_bytes())
        except OSError as exc:
            yield RawMessage(label, None, error=f"unreadable file ({exc.strerror or exc})")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path.name}: cannot be read ({exc.strerror or exc}).") from exc


def _iter_mbox(path: Path, name: str) -> Iterator[RawMessage]:
    try:
        box = mailbox.mbox(path, create=False)
        keys = box.keys()  # scans the file once for "From " lines
    except (OSError, mailbox.Error) as exc:
        raise SourceError(f"{name}: cannot be read as an mbox file ({exc}).") from exc
    try:
        for number, key in enumerate(keys, start=1):
            try:
                data = box.get_bytes(key, from_=True)
            except (OSError, KeyError) as exc:
                raise SourceError(f"{name}: reading message {number} failed ({exc}).") from exc
            from_line, _, data = data.partition(b"\n")
            # mboxrd quoting: ">From " in a body was "From " before the message was stored.
            data = _MBOXRD_QUOTED_RE.sub(rb"\1", data)
            yield RawMessage(f"{name}, message {number}", data, _from_line_date(from_line))
    finally:
        box.close()


def _from_line_date(line: bytes) -> datetime | None:
    """The date on an mbox separator: ``From sender@host Thu Jan  1 00:00:00 2026``."""
    parts = line.decode("ascii", "replace").split()
    if len(parts) < 7:
        return None
    try:
        return datetime.strptime(" ".join(parts[-5:]), "%a %b %d %H:%M:%S %Y").replace(tzinfo=UTC)
    except ValueError:
        return None


def _iter_zip(path: Path) -> Iterator[RawMessage]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(f"{path.name}: not a readable zip file ({exc}).") from exc
    with archive:
        entries = [
            info
            for info in archive.infolist()
            if not info.is_dir()
            and not info.filename.startswith("__MACOSX/")
            and Path(info.filename).suffix.lower() in {".eml", ".mbox"}
        ]
        if not entries:
            raise SourceError(f"{path.name}: the zip holds no .eml or .mbox files.")
        if len(entries) > MAX_ZIP_ENTRIES or sum(i.file_size for i in entries) > MAX_ZIP_UNPACKED_BYTES:
            raise SourceError(f"{path.name}: the zip unpacks to more than this import accepts.")
        # A single message is read into memory whole: a huge one is a bomb, not mail.
        oversized = next((i for i in entries if i.filename.lower().endswith(".eml") and i.file_size > MAX_EML_BYTES), None)
        if oversized is not None:
            raise SourceError(f"{path.name}: {oversized.filename} is larger than a message may be ({MAX_EML_BYTES // 2**20} MB).")
        for info in sorted(entries, key=lambda i: i.filename):
            try:
                if info.filename.lower().endswith(".mbox"):
                    yield from _iter_zipped_mbox(archive, info)
                else:
                    yield RawMessage(info.filename, archive.read(info))
            except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:
                # RuntimeError: encrypted entry; the others: a damaged archive.
                raise SourceError(f"{path.name}: {info.filename} cannot be unpacked ({exc}).") from exc


def _iter_zipped_mbox(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[RawMessage]:
    # mailbox needs a real file; unpack this one entry next to nothing else.
    with tempfile.TemporaryDirectory(prefix="mail-import-") as tmp:
        target = Path(tmp) / "archive.mbox"
        with archive.open(info) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
        with target.open("rb") as fh:
            if sniff(target.name, fh.read(4096)) != "mbox":
                raise SourceError(f"{info.filename}: not an mbox file (no “From ” line at the start).")
        yield from _iter_mbox(target, info.filename)
