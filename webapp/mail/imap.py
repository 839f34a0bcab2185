"""A thin layer over imaplib for reading a mailbox: connect (implicit TLS or STARTTLS, verified
or pinned), log in, examine a folder read-only, search and fetch by UID. Every failure becomes
a MailServerError that names what failed."""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, date, datetime

from webapp.mail.errors import MailServerError, describe
from webapp.mail.tls import check_pin, client_context, peer_fingerprint

# imaplib refuses a response line longer than this (its default, 10,000, is one SEARCH answer of
# about 1,500 UIDs). Messages come as literals, read by length, not as lines; SEARCH is asked in
# ranges of SEARCH_RANGE UIDs, whose answer stays well under this.
imaplib._MAXLINE = 1_000_000
SEARCH_RANGE = 20_000

_UIDVALIDITY_RE = re.compile(rb"UIDVALIDITY (\d+)")
_FETCH_RE = re.compile(rb"UID (\d+)")
_SIZE_RE = re.compile(rb"RFC822\.SIZE (\d+)")
_DATE_RE = re.compile(rb'INTERNALDATE "([^"]+)"')


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    security: str  # "tls" | "starttls"
    pin: str | None = None
    ca_file: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class Envelope:
    uid: int
    size: int
    internal_date: datetime | None


def _fingerprint_of(endpoint: Endpoint) -> str | None:
    """The certificate an unverifiable server shows, read without trusting it."""
    context = client_context(pin="any")
    try:
        if endpoint.security == "tls":
            with socket.create_connection((endpoint.host, endpoint.port), timeout=endpoint.timeout) as raw:
                with context.wrap_socket(raw, server_hostname=endpoint.host) as sock:
                    return peer_fingerprint(sock)
        client = imaplib.IMAP4(endpoint.host, endpoint.port, timeout=endpoint.timeout)
        try:
            client.starttls(ssl_context=context)
            return peer_fingerprint(client.sock)
        finally:
            with contextlib.suppress(Exception):
                client.shutdown()
    except Exception:
        return None


class ImapSession:
    """One logged-in connection. Use as a context manager; it always closes its socket."""

    def __init__(self, endpoint: Endpoint, username: str, password: str):
        self.endpoint = endpoint
        self.client: imaplib.IMAP4 | None = None
        self._connect()
        self._login(username, password)

    def _fail(self, exc: BaseException) -> MailServerError:
        error = describe(exc, "IMAP", self.endpoint.host, self.endpoint.port)
        if error.kind == "certificate" and not self.endpoint.pin:
            error.fingerprint = _fingerprint_of(self.endpoint)
        return error

    def _connect(self) -> None:
        e = self.endpoint
        context = client_context(e.pin, e.ca_file)
        try:
            if e.security == "tls":
                self.client = imaplib.IMAP4_SSL(e.host, e.port, ssl_context=context, timeout=e.timeout)
            else:
                self.client = imaplib.IMAP4(e.host, e.port, timeout=e.timeout)
                if "STARTTLS" not in self.client.capabilities:
                    raise MailServerError("tls", f"The IMAP server {e.host}:{e.port} does not offer STARTTLS.")
                self.client.starttls(ssl_context=context)
            check_pin(self.client.sock, e.pin)
        except (imaplib.IMAP4.error, OSError, MailServerError) as exc:
            self.close()
            if isinstance(exc, imaplib.IMAP4.error) and not isinstance(exc, imaplib.IMAP4.abort):
                raise MailServerError("tls", f"STARTTLS with the IMAP server {e.host}:{e.port} failed: {exc}") from exc
            raise self._fail(exc) from exc

    def _login(self, username: str, password: str) -> None:
        try:
            self.client.login(username, password)
        except imaplib.IMAP4.abort as exc:
            self.close()
            raise self._fail(exc) from exc
        except imaplib.IMAP4.error as exc:
            self.close()
            detail = _text(exc)
            raise MailServerError(
                "auth", f"Authentication failed: the IMAP server refused {username!r} ({detail})."
            ) from exc
        except OSError as exc:
            self.close()
            raise self._fail(exc) from exc

    def __enter__(self) -> ImapSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        with contextlib.suppress(Exception):
            client.logout()
        with contextlib.suppress(Exception):
            client.shutdown()

    def _call(self, what, *args):
        """One command; a dropped connection or a NO/BAD answer becomes a MailServerError."""
        if self.client is None:
            raise MailServerError("connection", "The IMAP connection is closed.")
        try:
            typ, data = getattr(self.client, what)(*args)
        except imaplib.IMAP4.abort as exc:
            raise MailServerError("connection", f"The IMAP server dropped the connection: {_text(exc)}") from exc
        except imaplib.IMAP4.error as exc:
            raise MailServerError("protocol", f"The IMAP server refused {what.upper()}: {_text(exc)}") from exc
        except OSError as exc:
            raise self._fail(exc) from exc
        return typ, data

    def examine(self, folder: str) -> tuple[int, int | None]:
        """Open ``folder`` read-only (nothing is marked read); returns its UIDVALIDITY and
        UIDNEXT (None when the server does not say)."""
        typ, data = self._call("select", _quote(folder), True)
        if typ != "OK":
            raise MailServerError("folder", f"Folder missing: the IMAP server has no folder {folder!r} ({_text(data)}).")
        uidvalidity = _first_int(self.client.response("UIDVALIDITY")[1])
        if uidvalidity is None:
            raise MailServerError("protocol", f"The IMAP server sent no UIDVALIDITY for {folder!r}.")
        return uidvalidity, _first_int(self.client.response("UIDNEXT")[1])

    def folders(self) -> list[str]:
        typ, data = self._call("list")
        names = []
        for line in data or []:
            if isinstance(line, bytes):
                match = re.match(rb'\(.*?\) (?:"[^"]*"|NIL) (.*)$', line)
                if match:
                    names.append(match.group(1).strip().strip(b'"').decode(errors="replace"))
        return names

    def search_uids(self, after_uid: int, since: date | None = None, *, uidnext: int | None = None) -> list[int]:
        """UIDs above ``after_uid`` (and, given ``since``, of mail that arrived on or after it).
        Asked in UID ranges (up to UIDNEXT, then the rest), so no answer is one huge line."""
        ranges = []
        low = after_uid + 1
        if uidnext is not None:
            while low < uidnext:
                high = min(low + SEARCH_RANGE - 1, uidnext - 1)
                ranges.append(f"{low}:{high}")
                low = high + 1
        ranges.append(f"{low}:*")
        uids: set[int] = set()
        for uid_range in ranges:
            criteria = [f"UID {uid_range}"]
            if since is not None:
                criteria.append("SINCE " + since.strftime("%d-%b-%Y"))
            typ, data = self._call("uid", "SEARCH", *criteria)
            if typ != "OK":
                raise MailServerError("protocol", f"The IMAP server refused SEARCH: {_text(data)}")
            uids.update(int(n) for n in b" ".join(d for d in data if d).split())
        # "n:*" always includes the newest message, even when its UID is below n.
        return sorted(uid for uid in uids if uid > after_uid)

    def envelopes(self, uids: list[int]) -> list[Envelope]:
        """Size and arrival date of each, so big messages are skipped before download."""
        if not uids:
            return []
        typ, data = self._call("uid", "FETCH", _uid_set(uids), "(UID RFC822.SIZE INTERNALDATE)")
        found = {}
        for line in data or []:
            raw = line[0] if isinstance(line, tuple) else line
            if not isinstance(raw, bytes):
                continue
            uid, size, when = _FETCH_RE.search(raw), _SIZE_RE.search(raw), _DATE_RE.search(raw)
            if uid and size:
                found[int(uid.group(1))] = Envelope(int(uid.group(1)), int(size.group(1)), _internal_date(when))
        return [found[uid] for uid in uids if uid in found]

    def bodies(self, uids: list[int]) -> dict[int, bytes]:
        """The raw messages (BODY.PEEK: the server does not mark them read)."""
        if not uids:
            return {}
        typ, data = self._call("uid", "FETCH", _uid_set(uids), "(UID BODY.PEEK[])")
        if typ != "OK":
            raise MailServerError("protocol", f"The IMAP server refused FETCH: {_text(data)}")
        found: dict[int, bytes] = {}
        for part in data or []:
            if isinstance(part, tuple) and len(part) == 2:
                uid = _FETCH_RE.search(part[0])
                if uid:
                    found[int(uid.group(1))] = part[1]
        # Some servers send the UID after the literal: fall back to the order asked.
        if not found:
            literals = [part[1] for part in data or [] if isinstance(part, tuple)]
            found = dict(zip(uids, literals))
        return found

    def append(self, folder: str, data: bytes, *, flags: str = r"(\Seen)", when: datetime | None = None) -> None:
        """Store one message in ``folder`` (a reply filed in the sent folder, already read)."""
        stamp = imaplib.Time2Internaldate(when or datetime.now(UTC))
        typ, answer = self._call("append", _quote(folder), flags, stamp, data)
        if typ != "OK":
            raise MailServerError("folder", f"The IMAP server did not store the message in {folder!r}: {_text(answer)}")


def _first_int(values) -> int | None:
    for value in values or []:
        if value:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _internal_date(match) -> datetime | None:
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1).decode(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
    except ValueError:
        return None


def _uid_set(uids: list[int]) -> str:
    """1,2,3,7 -> "1:3,7": short commands even for long runs of UIDs."""
    ranges, start, prev = [], None, None
    for uid in sorted(uids):
        if start is None:
            start = prev = uid
        elif uid == prev + 1:
            prev = uid
        else:
            ranges.append(f"{start}:{prev}" if start != prev else str(start))
            start = prev = uid
    if start is not None:
        ranges.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(ranges)


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(value) -> str:
    if isinstance(value, BaseException):
        value = value.args[0] if value.args else str(value)
    if isinstance(value, list):
        value = b" ".join(v for v in value if isinstance(v, bytes))
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return str(value).strip()


def check(endpoint: Endpoint, username: str, password: str, folders: list[str]) -> None:
    """Connect, log in and open each folder; raise the first MailServerError."""
    with ImapSession(endpoint, username, password) as session:
        for folder in folders:
            session.examine(folder)
