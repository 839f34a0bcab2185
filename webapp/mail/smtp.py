"""SMTP connections for a mailbox: implicit TLS (465) or STARTTLS (587), verified or pinned,
then AUTH. ``open_smtp`` hands back a logged-in smtplib.SMTP; ``check`` only proves it can."""

from __future__ import annotations

import contextlib
import smtplib
import socket

from webapp.mail.errors import MailServerError, describe
from webapp.mail.imap import Endpoint
from webapp.mail.tls import check_pin, client_context, peer_fingerprint


def _fingerprint_of(endpoint: Endpoint) -> str | None:
    context = client_context(pin="any")
    try:
        if endpoint.security == "tls":
            with socket.create_connection((endpoint.host, endpoint.port), timeout=endpoint.timeout) as raw:
                with context.wrap_socket(raw, server_hostname=endpoint.host) as sock:
                    return peer_fingerprint(sock)
        with smtplib.SMTP(endpoint.host, endpoint.port, timeout=endpoint.timeout) as client:
            client.starttls(context=context)
            return peer_fingerprint(client.sock)
    except Exception:
        return None


def _fail(exc: BaseException, endpoint: Endpoint) -> MailServerError:
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailServerError("connection", f"The SMTP server {endpoint.host}:{endpoint.port} closed the connection.")
    if isinstance(exc, smtplib.SMTPException):  # (an OSError too, so asked before describe)
        return MailServerError("protocol", f"The SMTP server {endpoint.host}:{endpoint.port} answered unexpectedly: {exc}")
    error = describe(exc, "SMTP", endpoint.host, endpoint.port)
    if error.kind == "certificate" and not endpoint.pin:
        error.fingerprint = _fingerprint_of(endpoint)
    return error


def open_smtp(endpoint: Endpoint, username: str, password: str) -> smtplib.SMTP:
    """A connected, encrypted, authenticated client; the caller quits it."""
    context = client_context(endpoint.pin, endpoint.ca_file)
    client: smtplib.SMTP | None = None
    try:
        if endpoint.security == "tls":
            client = smtplib.SMTP_SSL(endpoint.host, endpoint.port, timeout=endpoint.timeout, context=context)
        else:
            client = smtplib.SMTP(endpoint.host, endpoint.port, timeout=endpoint.timeout)
            client.ehlo()
            if not client.has_extn("starttls"):
                raise MailServerError("tls", f"The SMTP server {endpoint.host}:{endpoint.port} does not offer STARTTLS.")
            client.starttls(context=context)
            client.ehlo()
        check_pin(client.sock, endpoint.pin)
        try:
            client.login(username, password)
        except smtplib.SMTPAuthenticationError as exc:
            detail = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise MailServerError(
                "auth", f"Authentication failed: the SMTP server refused {username!r} ({exc.smtp_code} {detail})."
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise MailServerError("auth", f"The SMTP server {endpoint.host}:{endpoint.port} offers no login (AUTH).") from exc
        return client
    except MailServerError:
        _close(client)
        raise
    except (OSError, smtplib.SMTPException) as exc:
        _close(client)
        raise _fail(exc, endpoint) from exc


def _close(client: smtplib.SMTP | None) -> None:
    if client is None:
        return
    with contextlib.suppress(Exception):
        client.quit()
    with contextlib.suppress(Exception):
        client.close()


def check(endpoint: Endpoint, username: str, password: str) -> None:
    _close(open_smtp(endpoint, username, password))
