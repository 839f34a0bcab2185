"""A real Dovecot IMAP server for tests and benchmarks: a throwaway configuration, users
(passwd-file) and Maildirs in a folder of its own, TLS from a ``trustme`` CA, on free loopback
ports, run as ``dovecot -F`` in the foreground by this process.

Dovecot never runs mail or login processes as root. Run by a normal user it uses that user for
everything; run by root (CI), it uses Dovecot's own unprivileged accounts, and the folder lives
under /tmp where those can reach it (pytest's tmp folders are private to root).

    with Dovecot(tmp_path) as server:
        server.add_user("support@acme.test", "secret")
        server.deliver("support@acme.test", raw_bytes)            # straight into the Maildir
        with server.imap("support@acme.test") as imap: ...       # a verified IMAP4_SSL client
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import trustme

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class DovecotError(RuntimeError):
    pass


class Dovecot:
    def __init__(self, folder: Path, *, ca: trustme.CA | None = None):
        self.root_mode = os.geteuid() == 0
        if self.root_mode:
            self.folder = Path(tempfile.mkdtemp(prefix="dovecot-"))
            self._own_folder = True
        else:
            self.folder = Path(folder) / "dovecot"
            self.folder.mkdir(parents=True, exist_ok=True)
            self._own_folder = False
        me = pwd.getpwuid(os.geteuid())
        if self.root_mode:
            mail_user = pwd.getpwnam("dovecot")
            self.uid, self.gid = mail_user.pw_uid, mail_user.pw_gid
            self.internal_user, self.login_user = "dovecot", "dovenull"
            os.chmod(self.folder, 0o755)
        else:
            self.uid, self.gid = me.pw_uid, me.pw_gid
            self.internal_user = self.login_user = me.pw_name
        self.ca = ca or trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = self.folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.cert.private_key_pem.write_to_path(str(self.folder / "key.pem"))
        self.cert.cert_chain_pems[0].write_to_path(str(self.folder / "cert.pem"))
        der = ssl.PEM_cert_to_DER_cert(self.cert.cert_chain_pems[0].bytes().decode())
        self.fingerprint = hashlib.sha256(der).hexdigest()  # what a pin of this server holds
        self.users_file = self.folder / "users"
        self.users_file.write_text("")
        self.mail = self.folder / "mail"
        self.mail.mkdir()
        (self.folder / "home").mkdir()
        self._chown(self.mail)
        self._chown(self.folder / "home")
        self.host = HOST
        self.port = free_port()  # implicit TLS (imaps)
        self.starttls_port = free_port()  # plain IMAP that requires STARTTLS before login
        self.process: subprocess.Popen | None = None
        self.conf = self.folder / "dovecot.conf"
        self._write_conf()
        self._count = 0

    # -- configuration ------------------------------------------------------------------

    def _write_conf(self) -> None:
        f = self.folder
        self.conf.write_text(f"""
base_dir = {f}/run
state_dir = {f}/state
log_path = {f}/dovecot.log
protocols = imap
listen = {HOST}
default_internal_user = {self.internal_user}
default_login_user = {self.login_user}
first_valid_uid = 1
ssl = required
ssl_cert = <{f}/cert.pem
ssl_key = <{f}/key.pem
auth_mechanisms = plain login
disable_plaintext_auth = yes
mail_location = maildir:{self.mail}/%u
mail_max_userip_connections = 100
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_file}
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={f}/home/%u
}}
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {self.starttls_port}
  }}
  inet_listener imaps {{
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")

    def _chown(self, path: Path) -> None:
        if self.root_mode:
            os.chown(path, self.uid, self.gid)

    # -- life cycle ---------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> Dovecot:
        if self.process is not None:
            return self
        (self.folder / "run").mkdir(exist_ok=True)
        (self.folder / "state").mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.conf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so kill() takes every child
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise DovecotError(f"dovecot exited at start:\n{self.log()}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise DovecotError(f"dovecot did not answer within {timeout} s:\n{self.log()}")

    def _answers(self) -> bool:
        for port in (self.port, self.starttls_port):
            try:
                with socket.create_connection((HOST, port), timeout=1):
                    pass
            except OSError:
                return False
        return True

    def stop(self) -> None:
        """Shut down (SIGTERM); connections open now are dropped. Dovecot's master can take
        seconds to wind its helpers down, so whatever is left after a second is killed."""
        if self.process is None:
            return
        pid = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # the master stops its children itself
        if not self._reap_group(pid, 1.0):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.process.wait(10)
        self._reap_group(pid)
        self.process = None
        with contextlib.suppress(FileNotFoundError):
            (self.folder / "run" / "master.pid").unlink()

    def kill(self) -> None:
        """The server dies at once (SIGKILL to it and all its children)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._reap_group(self.process.pid)
        self.process = None
        # A killed master leaves its pid file; the next start must not take it for a live one.
        with contextlib.suppress(FileNotFoundError):
            (self.folder / "run" / "master.pid").unlink()

    def _reap_group(self, pid: int, seconds: float = 10.0) -> bool:
        """Wait until no process of the server's group is left; False if some still are."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is not None:
                self.process.poll()  # reap the master, or it stays in the group as a zombie
            if not _group_alive(pid):
                return True
            time.sleep(0.02)
        return False

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- users and mail -----------------------------------------------------------------

    def add_user(self, user: str, password: str) -> None:
        """Add (or change the password of) a user; Dovecot re-reads the file when it changes."""
        lines = [line for line in self.users_file.read_text().splitlines() if not line.startswith(f"{user}:")]
        lines.append(f"{user}:{{PLAIN}}{password}")
        tmp = self.users_file.with_suffix(".new")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, self.users_file)
        # Dovecot notices a changed passwd-file by its mtime; make sure it moves.
        later = time.time() + self._count
        self._count += 1
        os.utime(self.users_file, (later, later))

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        """The Maildir of one folder (Maildir++: INBOX at the top, others as ".Name")."""
        path = self.mail / user
        if folder.upper() != "INBOX":
            path = path / f".{folder}"
        for part in ("", "cur", "new", "tmp"):
            sub = path / part
            if not sub.exists():
                sub.mkdir(parents=True, exist_ok=True)
                self._chown(sub)
        self._chown(self.mail / user)
        return path

    def deliver(self, user: str, data: bytes, folder: str = "INBOX", *, seen: bool = False) -> Path:
        """Write one message straight into the Maildir, as a delivery agent would (fast: no
        IMAP round trip). Dovecot gives it the next UID when it next looks at the folder."""
        box = self.maildir(user, folder)
        self._count += 1
        name = f"{int(time.time())}.M{self._count}P{os.getpid()}.test,S={len(data)}"
        tmp = box / "tmp" / name
        tmp.write_bytes(data)
        self._chown(tmp)
        if seen:
            target = box / "cur" / f"{name}:2,S"
        else:
            target = box / "new" / name
        os.rename(tmp, target)
        return target

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return context

    @contextlib.contextmanager
    def imap(self, user: str, password: str | None = None):
        """A logged-in IMAP4_SSL client that verifies the server against the test CA."""
        client = imaplib.IMAP4_SSL(HOST, self.port, ssl_context=self.client_context(), timeout=30)
        try:
            client.login(user, password if password is not None else self.password_of(user))
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()
            with contextlib.suppress(Exception):
                client.shutdown()

    def password_of(self, user: str) -> str:
        for line in self.users_file.read_text().splitlines():
            name, _, rest = line.partition(":")
            if name == user:
                return rest.removeprefix("{PLAIN}")
        raise KeyError(user)

    def append(self, user: str, data: bytes, folder: str = "INBOX") -> int:
        """Store one message over IMAP; returns its UID."""
        with self.imap(user) as client:
            typ, resp = client.append(folder, None, None, data)
            if typ != "OK":
                raise DovecotError(f"APPEND failed: {resp}")
            code = client.response("APPENDUID")[1]
            text = (code[0] if code and code[0] else resp[0]).decode()
            return int(text.rstrip("]").split()[-1])

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        with self.imap(user) as client:
            typ, data = client.status(_quote(folder), "(UIDVALIDITY)")
            return int(data[0].decode().rsplit("UIDVALIDITY", 1)[1].strip(" )"))

    def recreate_folder(self, user: str, folder: str, messages: list[bytes] = ()) -> None:
        """Delete the folder and create it again with the given messages: a new UIDVALIDITY.
        (INBOX cannot be deleted in IMAP; test a UIDVALIDITY change on another folder.)"""
        if folder.upper() == "INBOX":
            raise ValueError("INBOX cannot be deleted; recreate another folder.")
        with self.imap(user) as client:
            client.delete(_quote(folder))
            client.create(_quote(folder))
        for data in messages:
            self.append(user, data, folder)


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs. Zombies do not count: a dead helper whose
    master died is reparented to PID 1, which may take seconds to reap it."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a free loopback port: STARTTLS (or implicit TLS) with a
    certificate from the same CA as Dovecot, AUTH PLAIN/LOGIN against Dovecot's users. What it
    receives is kept in ``received`` and, for a recipient that is a Dovecot user, delivered
    into that user's INBOX."""

    def __init__(self, dovecot: Dovecot, *, implicit_tls: bool = False):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.dovecot = dovecot
        self.host = HOST
        self.port = free_port()
        self.received: list[tuple[str, list[str], bytes]] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        dovecot.cert.configure_cert(context)
        server = self

        class Handler:
            async def handle_DATA(self, smtp_server, session, envelope):
                data = envelope.original_content or envelope.content
                server.received.append((envelope.mail_from, list(envelope.rcpt_tos), data))
                for rcpt in envelope.rcpt_tos:
                    try:
                        dovecot.password_of(rcpt)
                    except KeyError:
                        continue
                    dovecot.deliver(rcpt, data)
                return "250 OK"

        def authenticator(smtp_server, session, envelope, mechanism, auth_data):
            login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
            password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
            try:
                return AuthResult(success=dovecot.password_of(login) == password, handled=False)
            except KeyError:
                return AuthResult(success=False, handled=False)

        kwargs = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": True}
        # Its own loop, closed in stop(): the Controller would leave the one it makes open.
        self.loop = asyncio.new_event_loop()
        if implicit_tls:
            # aiosmtpd counts only STARTTLS as TLS, so on an implicit-TLS port it would never offer
            # AUTH; there it is offered (and checked) without being demanded.
            kwargs.update(auth_require_tls=False, auth_required=False)
            self.controller = Controller(Handler(), hostname=HOST, port=self.port, ssl_context=context,
                                         loop=self.loop, **kwargs)
        else:
            self.controller = Controller(Handler(), hostname=HOST, port=self.port, loop=self.loop,
                                         tls_context=context, require_starttls=True, **kwargs)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
        self.loop.close()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class CuttingProxy:
    """A TCP relay in front of a server that drops the connection once the server has sent
    ``cut_after`` bytes through it: a network that fails in the middle of a response, at a
    chosen byte. TLS runs end to end through it (it only relays bytes)."""

    def __init__(self, host: str, port: int, cut_after: int | None = None):
        import threading

        self.upstream = (host, port)
        self.cut_after = cut_after
        self.cuts = 0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, 0))
        self.listener.listen()
        self.host, self.port = HOST, self.listener.getsockname()[1]
        self._threads: list = []
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        import threading

        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._open += [client, server]
            budget = [self.cut_after]
            for source, target, counted in ((client, server, False), (server, client, True)):
                thread = threading.Thread(target=self._pipe, args=(source, target, counted, budget, client, server),
                                          daemon=True)
                thread.start()
                self._threads.append(thread)

    def _pipe(self, source, target, counted, budget, client, server) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if counted and budget[0] is not None:
                    if len(data) >= budget[0]:
                        target.sendall(data[: budget[0]])
                        self.cuts += 1
                        break
                    budget[0] -= len(data)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)
        for sock in self._open:
            sock.close()
        self._accepting.join(5)

    def __enter__(self) -> CuttingProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
