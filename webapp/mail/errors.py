"""What went wrong talking to a mail server, named the way an admin can act on it."""

from __future__ import annotations

import socket
import ssl

from webapp.mail.tls import CertificateMismatch

# kind: what failed. The settings page and the CLI show the message; tests check the kind.
KINDS = ("lookup", "refused", "timeout", "tls", "certificate", "auth", "folder", "protocol", "connection", "secret",
         "recipient", "sender", "message")  # the last three: a message the SMTP server would not take


class MailServerError(Exception):
    def __init__(self, kind: str, message: str, *, fingerprint: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        # For an unverifiable certificate: the one the server showed, for "accept it".
        self.fingerprint = fingerprint

    def __str__(self) -> str:
        return self.message


def describe(exc: BaseException, service: str, host: str, port: int) -> MailServerError:
    """The MailServerError for a failure to reach or talk to ``host:port``."""
    where = f"{service} server {host}:{port}"
    if isinstance(exc, MailServerError):
        return exc
    if isinstance(exc, socket.gaierror):
        return MailServerError("lookup", f"Name lookup failed: no address found for {host!r}.")
    if isinstance(exc, ConnectionRefusedError):
        return MailServerError("refused", f"Connection refused by the {where}: nothing listens there.")
    if isinstance(exc, TimeoutError | socket.timeout):
        return MailServerError("timeout", f"The {where} did not answer in time.")
    if isinstance(exc, CertificateMismatch):
        return MailServerError("certificate", f"TLS certificate of the {where}: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc.reason or "not trusted"
        return MailServerError("certificate", f"TLS certificate of the {where} could not be verified: {reason}.")
    if isinstance(exc, ssl.SSLError):
        return MailServerError("tls", f"TLS with the {where} failed: {exc.reason or exc}.")
    if isinstance(exc, OSError):
        return MailServerError("connection", f"The connection to the {where} failed: {exc.strerror or exc}.")
    return MailServerError("protocol", f"The {where} answered unexpectedly: {exc}")
