"""TLS for mail servers: verified against the system's CAs (plus MAIL_CA_FILE, when set), or,
for a mailbox whose admin accepted a self-signed certificate, pinned to that certificate's
SHA-256. A pinned connection is checked right after the handshake, before any password is sent.
"""

from __future__ import annotations

import hashlib
import re
import ssl

FINGERPRINT_RE = re.compile(r"^[0-9a-f]{64}$")


class CertificateMismatch(ssl.SSLError):
    """The server's certificate is not the one pinned for this mailbox."""


def normalize_fingerprint(value: str | None) -> str | None:
    """A SHA-256 fingerprint as 64 lower-case hex digits (colons and spaces allowed in input)."""
    if value is None or not value.strip():
        return None
    hexed = re.sub(r"[\s:]", "", value).lower()
    if not FINGERPRINT_RE.match(hexed):
        raise ValueError("A certificate fingerprint is 64 hexadecimal digits (SHA-256).")
    return hexed


def display_fingerprint(value: str) -> str:
    return ":".join(value[i : i + 2] for i in range(0, len(value), 2)).upper()


def client_context(pin: str | None = None, ca_file: str | None = None) -> ssl.SSLContext:
    """Verifying by default; with a pin, the chain is not judged here and check_pin decides."""
    if pin:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def peer_fingerprint(sock) -> str | None:
    der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
    return hashlib.sha256(der).hexdigest() if der else None


def check_pin(sock, pin: str | None) -> None:
    if not pin:
        return
    seen = peer_fingerprint(sock)
    if seen != pin:
        raise CertificateMismatch(
            "The server's certificate changed: it is not the one accepted for this mailbox "
            f"(SHA-256 {display_fingerprint(seen) if seen else 'unknown'})."
        )
