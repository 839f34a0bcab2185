"""One raw message (bytes) to a plain ParsedMessage, or the reason it cannot be imported.

Real archives are full of mail that breaks the rules: 8-bit headers, charsets nobody knows,
dates in the future, no Message-ID. Nothing here raises on bad input; what can be recovered is
recovered (and noted), what cannot becomes a skip reason.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import UTC, datetime, timedelta
from email import policy
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from webapp.addresses import InvalidAddress, normalize_email
from webapp.clock import utcnow

# Skip reasons, worded for the summary people read.
NOT_AN_EMAIL = "not an email message"
NO_SENDER = "no sender (From missing or not an address)"
NO_DATE = "no usable date"

# Recoveries, counted in the summary so nobody is surprised by them later.
NOTE_SYNTHESIZED_ID = "Message-ID missing; one was made from the message's content"
NOTE_DATE_FALLBACK = "Date missing or unreadable; taken from the Received header or mbox line"
NOTE_CHARSET = "body in an unknown or wrong charset; decoded as best we could"


def note_addresses_dropped(limit: int) -> str:
    return (f"an address header with more than {limit:,} addresses: the first {limit:,} kept "
            "(MAIL_IMPORT_MAX_ADDRESSES_PER_HEADER)")

SNIPPET_CHARS = 200
BODY_CHARS = 200_000  # a pasted log or a mislabelled attachment should not bloat the table
HTML_CHARS = 5 * BODY_CHARS  # HTML beyond this would only be cut off after converting it
HEADER_CHARS = 16_000  # a longer Subject is cut before parsing (998 characters are kept)
DEFAULT_MAX_ADDRESSES = 1000
LONG_HEADER_BYTES = 64 * 1024  # a header section or field longer than this is trimmed first
_ADDRESS_HEADERS = {b"from", b"sender", b"to", b"cc", b"bcc", b"reply-to"}
_FIELD_SPLIT_RE = re.compile(rb"\r?\n(?![ \t])")  # between header fields, not folded lines
EARLIEST = datetime(1980, 1, 1, tzinfo=UTC)
SYNTHETIC_DOMAIN = "import.invalid"

log = logging.getLogger(__name__)


class _StructureHeaderCache(HeaderRegistry):
    """policy.default parses a header again on every read, and the email package reads
    Content-Type half a dozen times per part; these few values repeat across a whole archive,
    so their parsed (immutable) form is shared. This halves the time an import takes."""

    CACHED = frozenset({"content-type", "content-disposition", "content-transfer-encoding", "mime-version"})

    def __call__(self, name, value):
        if name.lower() in self.CACHED:
            return self._cached(name, value)
        return super().__call__(name, value)

    @lru_cache(maxsize=2048)
    def _cached(self, name, value):
        return super().__call__(name, value)


POLICY = policy.default.clone(header_factory=_StructureHeaderCache())
_PARSER = BytesParser(policy=POLICY)
_MSG_ID_RE = re.compile(r"<[^<>\s]+>")
_SURROGATES_RE = re.compile("[\udc80-\udcff]+")
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FOLD_RE = re.compile(r"\r?\n[ \t]*")
_SPACE_RE = re.compile(r"\s+")
# One piece of an address list: a quoted string, a comment, an <addr-spec>, a comma, or a run
# of anything else. Cheap to scan, so a list is cut to size before the email package (whose
# address parser is far slower than linear on long lists) ever sees it.
_ADDRESS_TOKEN_RE = re.compile(r'"(?:[^"\\]|\\.)*"?|\((?:[^()\\]|\\.)*\)?|<[^<>]*>?|,|[^",(<]+|[(<]')
# An address list of atoms, dots and <angle addresses> only, and one entry of it.
_SIMPLE_LIST_RE = re.compile(r"[A-Za-z0-9 \t.,_+\-@<>!#$%&'*/=?^`{|}~]*\Z")
_DOT_ATOM = r"[A-Za-z0-9!#$%&'*/=?^_`{|}~+\-]+(?:\.[A-Za-z0-9!#$%&'*/=?^_`{|}~+\-]+)*"
_SIMPLE_ENTRY_RE = re.compile(
    rf"\s*(?:([^<>@]*?)\s*<({_DOT_ATOM}@{_DOT_ATOM})>|({_DOT_ATOM}@{_DOT_ATOM}))\s*")
# Reply and forward prefixes in the languages mail clients actually send.
_PREFIX_RE = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|sv|vs|wg|antw|tr|rv|ref|rif|odp|res|enc)\s*(?:\[\d+\])?\s*[:：]\s*)+",
    re.IGNORECASE,
)


@dataclass
class ParsedMessage:
    message_id: str
    from_address: str
    from_name: str
    to: list[tuple[str, str]]  # (normalized address, display name)
    cc: list[tuple[str, str]]
    subject: str
    sent_at: datetime
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    body_text: str = ""
    snippet: str = ""
    notes: list[str] = field(default_factory=list)
    addresses_dropped: int = 0  # beyond the per-header limit, over all address headers

    @property
    def is_reply(self) -> bool:
        return bool(_PREFIX_RE.match(self.subject))


@dataclass
class Unparseable:
    reason: str
    subject: str = ""


def parse_message(
    raw: bytes, fallback_date: datetime | None = None, max_addresses: int = DEFAULT_MAX_ADDRESSES
) -> ParsedMessage | Unparseable:
    """Parse one message. ``fallback_date`` is the mbox ``From `` line's date, when there is one;
    an address header keeps its first ``max_addresses`` addresses."""
    try:
        return _parse(raw, fallback_date, max_addresses)
    except Exception:  # the email package has corners that still raise; none may stop an import
        log.debug("message not parseable", exc_info=True)
        return Unparseable(NOT_AN_EMAIL)


def normalize_subject(subject: str) -> str:
    """The subject without Re:/Fwd:/AW:/SV: prefixes, lower-cased, spaces collapsed."""
    return _SPACE_RE.sub(" ", _PREFIX_RE.sub("", subject)).strip().lower()


def strip_prefixes(subject: str) -> str:
    return _PREFIX_RE.sub("", subject).strip()


def synthesize_message_id(raw: bytes) -> str:
    # Line endings differ between an mbox and the same message saved as .eml; the id must not.
    canonical = raw.replace(b"\r\n", b"\n").strip()
    return f"<{hashlib.sha256(canonical).hexdigest()[:40]}@{SYNTHETIC_DOMAIN}>"


def _trim_headers(raw: bytes, limit: int) -> tuple[bytes, int]:
    """The message with over-long header fields cut down before the email package reads
    them (it holds many copies of a header while parsing it): an address list keeps its first
    ``limit`` entries, anything else its first HEADER_CHARS. Also returns the entries left out."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if i >= 0]
    end = min(ends) if ends else len(raw)
    if end <= LONG_HEADER_BYTES:
        return raw, 0
    fields = _FIELD_SPLIT_RE.split(raw[:end])
    dropped = 0
    for index, field in enumerate(fields):
        if len(field) <= LONG_HEADER_BYTES:
            continue
        name, _, value = field.partition(b":")
        if name.strip().lower() in _ADDRESS_HEADERS:
            kept, over = _first_addresses(value.decode("latin-1"), limit)  # one char per byte
            dropped += over
            fields[index] = name + b":" + kept.encode("latin-1")
        else:
            fields[index] = field[:HEADER_CHARS]
    return b"\n".join(fields) + raw[end:], dropped


def _parse(raw: bytes, fallback_date: datetime | None, max_addresses: int) -> ParsedMessage | Unparseable:
    raw, trimmed = _trim_headers(raw, max_addresses)
    msg = _PARSER.parsebytes(raw)
    headers = {name.lower(): value for name, value in reversed(list(msg.raw_items()))}  # first wins
    if not headers:
        return Unparseable(NOT_AN_EMAIL)
    notes: list[str] = []
    subject = _clean(_SPACE_RE.sub(" ", str(_header(headers, "subject", HEADER_CHARS) or ""))).strip()[:998]

    dropped = [trimmed]

    def addresses(name: str) -> list[tuple[str, str]]:
        found, over = _addresses(headers, name, max_addresses)
        dropped[0] += over
        return found

    senders = addresses("from") or addresses("sender")
    if not senders:
        return Unparseable(NO_SENDER, subject)
    from_address, from_name = senders[0]

    sent_at = _date(headers.get("date"))
    if sent_at is None:
        sent_at = _received_date(msg) or _plausible(fallback_date)
        if sent_at is None:
            return Unparseable(NO_DATE, subject)
        notes.append(NOTE_DATE_FALLBACK)

    message_id = _first_id(headers.get("message-id"))
    if message_id is None:
        message_id = synthesize_message_id(raw)
        notes.append(NOTE_SYNTHESIZED_ID)
    in_reply_to = _first_id(headers.get("in-reply-to"))
    references = _MSG_ID_RE.findall(_clean(headers.get("references", "")))[-50:]
    references = [ref for ref in references if len(ref) <= 998 and ref != message_id]

    body, charset_trouble = _body(msg)
    if charset_trouble:
        notes.append(NOTE_CHARSET)
    to, cc = addresses("to"), addresses("cc")
    if dropped[0]:
        notes.append(note_addresses_dropped(max_addresses))
    return ParsedMessage(
        message_id=message_id,
        from_address=from_address,
        from_name=from_name,
        to=to,
        cc=cc,
        subject=subject,
        sent_at=sent_at,
        in_reply_to=in_reply_to if in_reply_to != message_id else None,
        references=references,
        body_text=body[:BODY_CHARS],
        snippet=snippet_of(body),
        notes=notes,
        addresses_dropped=dropped[0],
    )


def _header(headers: dict[str, str], name: str, max_chars: int | None = None, raw: str | None = None):
    """The header parsed by the email package, after 8-bit bytes are given a charset."""
    raw = headers.get(name) if raw is None else raw
    if raw is None:
        return None
    value = _FOLD_RE.sub(" ", _redecode(raw[:max_chars] if max_chars else raw))
    if name == "subject" and value.isascii() and "=?" not in value:
        return value  # nothing to decode: the email package would hand back the same text
    try:
        return _HEADERS(name, value)
    except Exception:
        return value


class _Headers(HeaderRegistry):
    """policy.default's header factory makes a new class for every header it parses; one per
    header name is enough (the classes hold no state)."""

    @lru_cache(maxsize=64)
    def __getitem__(self, name):
        return super().__getitem__(name)


_HEADERS = _Headers()


def _simple_addresses(value: str) -> list[tuple[str, str]] | None:
    """(address, display name) pairs of a plain list (``Ann Agent <ann@x.com>, bob@y.com``)
    read without the email package's full parser, which costs most of an import's time; None
    when anything in it (quotes, comments, groups, encoded words, 8-bit text) needs that parser."""
    if not _SIMPLE_LIST_RE.match(value) or "=?" in value:
        return None
    pairs = []
    for entry in value.split(","):
        if not entry.strip():
            continue
        found = _SIMPLE_ENTRY_RE.fullmatch(entry)
        if found is None:
            return None
        name, addr, bare = found.groups()
        pairs.append((addr or bare, " ".join(name.split()) if name else ""))
    return pairs


def _first_addresses(value: str, limit: int) -> tuple[str, int]:
    """The first ``limit`` entries of an address list, and how many entries followed them."""
    if value.count(",") < limit:
        return value, 0
    kept_end = None
    entries = 0
    pending = False  # the current entry has content
    for match in _ADDRESS_TOKEN_RE.finditer(value):
        if match.group(0) == ",":
            if pending:
                entries += 1
                pending = False
                if entries == limit:
                    kept_end = match.start()
        elif match.group(0).strip():
            pending = True
    entries += pending
    if kept_end is None:
        return value, 0
    return value[:kept_end], entries - limit


def _addresses(headers: dict[str, str], name: str, limit: int = DEFAULT_MAX_ADDRESSES) -> tuple[list[tuple[str, str]], int]:
    """Valid addresses of an address header, normalized, in order, without repeats; and how
    many entries beyond ``limit`` were left out."""
    raw = headers.get(name)
    if raw is None:
        return [], 0
    raw, dropped = _first_addresses(raw, limit)
    pairs = _simple_addresses(_FOLD_RE.sub(" ", raw))
    if pairs is None:
        parsed = _header(headers, name, raw=raw)
        if parsed is None:
            return [], dropped
        try:
            pairs = [(a.addr_spec, a.display_name) for a in parsed.addresses]
        except Exception:  # a header the strict parser gave up on; the lenient one still helps
            pairs = [(addr, name_) for name_, addr in getaddresses([str(parsed)])]
    result: list[tuple[str, str]] = []
    seen: set[str] = set()
    for addr, display in pairs:
        try:
            email = normalize_email(_clean(addr))
        except InvalidAddress:
            continue
        if email not in seen:
            seen.add(email)
            result.append((email, _clean(display or "").strip().strip("'\"")[:200]))
    return result, dropped


def _date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(_redecode(raw).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return _plausible(value)


def _plausible(value: datetime | None) -> datetime | None:
    """Aware UTC, or None for a date no real message was sent on."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST <= value <= utcnow() + timedelta(days=2):
        return None
    return value


def _received_date(msg: EmailMessage) -> datetime | None:
    # The topmost Received header is when the message reached its last hop: close enough.
    for name, value in msg.raw_items():
        if name.lower() == "received" and ";" in value:
            found = _date(_FOLD_RE.sub(" ", value).rsplit(";", 1)[1])
            if found is not None:
                return found
    return None


def _first_id(raw: str | None) -> str | None:
    if not raw:
        return None
    value = _clean(_FOLD_RE.sub(" ", raw)).strip()
    found = _MSG_ID_RE.search(value)
    if found:
        return found.group(0)[:998]
    # Some mailers drop the angle brackets; a single token is still an id.
    if value and not _SPACE_RE.search(value) and len(value) <= 996:
        return f"<{value}>"
    return None


def _body(msg: EmailMessage) -> tuple[str, bool]:
    """The message's text, preferring text/plain; HTML-only mail is turned into text."""
    plain = html = None
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = part
        elif kind == "text/html" and html is None:
            html = part
    if plain is None and html is None:
        return "", False
    text, trouble = _part_text(plain if plain is not None else html)
    if plain is None:
        text = html_to_text(text[:HTML_CHARS])
    return _clean(text).replace("\r\n", "\n").strip(), trouble


def _part_text(part: EmailMessage) -> tuple[str, bool]:
    try:
        text = part.get_content()
        # U+FFFD means the bytes were not in the declared charset (often cp1252 sent as utf-8).
        if "\ufffd" not in text:
            return text, False
    except Exception:  # an unknown charset, or a broken transfer encoding
        pass
    try:
        data = part.get_payload(decode=True) or b""
    except Exception:
        return "", True
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return _decode_bytes(data), True


def _decode_bytes(data: bytes) -> str:
    for charset in ("utf-8", "cp1252"):
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _redecode(value: str) -> str:
    """Undeclared 8-bit bytes arrive as surrogates; give each run of them a real charset."""
    return _SURROGATES_RE.sub(
        lambda m: _decode_bytes(m.group(0).encode("utf-8", "surrogateescape")), value
    )


def _clean(value: str) -> str:
    # PostgreSQL refuses NUL in text, and stray control characters only ever cause trouble.
    return _CONTROL_RE.sub("", _redecode(value).replace("\ufffd", ""))


def snippet_of(body: str) -> str:
    """The first words of what was written, leaving out quoted earlier mail."""
    lines = [line for line in body.splitlines() if not line.lstrip().startswith(">")]
    text = _SPACE_RE.sub(" ", " ".join(lines)).strip()
    if len(text) <= SNIPPET_CHARS:
        return text
    return text[: SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "…"


class _TextExtractor(HTMLParser):
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"}
    HIDDEN = {"script", "style", "head", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except Exception:
        return _SPACE_RE.sub(" ", re.sub(r"<[^>]*>", " ", html)).strip()
    lines = (_SPACE_RE.sub(" ", line).strip() for line in "".join(extractor.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
