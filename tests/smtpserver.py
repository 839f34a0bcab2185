"""A real SMTP submission server for tests: aiosmtpd in front of a running Dovecot
(tests.mailservers), so that mail sent from the app lands in the recipients' mailboxes.

Two listeners on free loopback ports, with a certificate from the Dovecot's ``trustme`` CA:
``port`` speaks plain SMTP and requires STARTTLS before AUTH (587 style), ``tls_port`` is
implicit TLS (465 style). Both require AUTH (PLAIN or LOGIN) with a Dovecot user's password,
refuse recipients Dovecot has no mailbox for (550 5.1.1), and deliver each message they accept
into the Maildir of every recipient. ``received`` keeps what was accepted, in order;
``refuse`` lists addresses to refuse anyway; ``hold`` keeps DATA unanswered while set.

    with Submission(dovecot) as smtp:
        ...  # smtp.host, smtp.port (STARTTLS), smtp.tls_port (implicit TLS), smtp.received
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.mailservers import HOST, Dovecot, free_port


@dataclass(frozen=True)
class Accepted:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str


class _Handler:
    def __init__(self, server: Submission):
        self.server = server

    async def handle_MAIL(self, smtp, session, envelope, address, mail_options):
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        if address.lower() in self.server.refuse or not self.server.dovecot_has(address):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        self.server.in_data.set()
        while self.server.hold.is_set():  # a test holds the answer to DATA to overlap requests
            await asyncio.sleep(0.01)
        data = envelope.original_content
        for rcpt in envelope.rcpt_tos:
            self.server.dovecot.deliver(rcpt.lower(), data)
        with self.server.lock:
            self.server.received.append(
                Accepted(envelope.mail_from, tuple(envelope.rcpt_tos), data, session.auth_data.login.decode())
            )
        return "250 2.0.0 Ok: queued"


class Submission:
    def __init__(self, dovecot: Dovecot):
        self.dovecot = dovecot
        self.host = HOST
        self.port = free_port()  # STARTTLS required before AUTH
        self.tls_port = free_port()  # implicit TLS
        self.received: list[Accepted] = []
        self.refuse: set[str] = set()  # addresses to refuse even though Dovecot knows them
        self.lock = threading.Lock()
        self.hold = threading.Event()  # set: DATA is not answered until it is cleared
        self.in_data = threading.Event()  # set once a client has sent DATA
        cert = dovecot.ca.issue_cert(HOST, "localhost")
        self._folder = Path(tempfile.mkdtemp(prefix="smtp-cert-"))
        cert.private_key_pem.write_to_path(str(self._folder / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(self._folder / "cert.pem"))
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(str(self._folder / "cert.pem"), str(self._folder / "key.pem"))
        der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
        self.fingerprint = hashlib.sha256(der).hexdigest()
        self._controllers: list[Controller] = []

    def dovecot_has(self, address: str) -> bool:
        try:
            self.dovecot.password_of(address.lower())
        except KeyError:
            return False
        return True

    def _authenticate(self, smtp, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        try:
            ok = self.dovecot.password_of(login) == password
        except KeyError:
            ok = False
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def start(self) -> Submission:
        handler = _Handler(self)
        common = dict(authenticator=self._authenticate, hostname=HOST, server_hostname="localhost")
        # aiosmtpd counts only STARTTLS as TLS, so the implicit-TLS listener lets AUTH through
        # without it (the socket is encrypted from the first byte) and MAIL checks the login.
        # Loops of our own, closed in stop(): a Controller leaves the one it makes open.
        self._loops = [asyncio.new_event_loop(), asyncio.new_event_loop()]
        self._controllers = [
            Controller(handler, port=self.port, tls_context=self.context, require_starttls=True,
                       auth_require_tls=True, loop=self._loops[0], **common),
            Controller(handler, port=self.tls_port, ssl_context=self.context, auth_require_tls=False,
                       loop=self._loops[1], **common),
        ]
        for controller in self._controllers:
            controller.start()
        return self

    def stop(self) -> None:
        for controller in self._controllers:
            controller.stop()
        for loop in getattr(self, "_loops", []):
            loop.close()
        self._controllers, self._loops = [], []

    def __enter__(self) -> Submission:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        for name in ("key.pem", "cert.pem"):
            (self._folder / name).unlink(missing_ok=True)
        self._folder.rmdir()
