"""The sync scheduler: APScheduler in the app process, exactly one per deployment.

Every process that enables it (each gunicorn worker, each container, ``flask demo``) runs a
small thread that tries to become the leader: an ``fcntl`` lock on a file in the instance
folder on SQLite (one host), ``pg_try_advisory_lock`` on a dedicated connection on Postgres
(any number of hosts). Only the leader starts the BackgroundScheduler. The others keep
trying, so when the leader dies (its lock goes with its file descriptor or its connection)
another one takes over within a few seconds.

Never two at once: the leader re-checks its lock every ``check_seconds`` and steps down when it
lost it (a terminated connection or a Postgres restart drops advisory locks silently; a deleted
lock file lets another process lock a new one). A process that gets the lock waits
``takeover_seconds``, longer than that check, before it starts its scheduler, so the old leader
has stopped by then. And each job is fenced by a lease: it acts only while the lock was
confirmed less than ``lease_seconds`` ago (between the two), which holds even when the check
itself hangs.

Nothing here starts at import or in the app factory: gunicorn's ``post_worker_init`` and the
``demo`` command call ``start(app)``. Jobs live in ``webapp.jobs``; their definitions are data
(``JOBS``) and they run from an in-memory store, because the schedule itself is rebuilt from
the database (sync settings and queued runs) by the leader.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

LOCK_KEY = 0x5F1C_5EED  # the advisory lock every process of this app contends for


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: str  # "module:function": a textual reference, never a bound method
    seconds: float  # an interval trigger


def job_specs(poll_seconds: float, plan_seconds: float) -> tuple[JobSpec, ...]:
    return (
        JobSpec("run-queued-syncs", "webapp.jobs:run_queued_syncs", poll_seconds),
        JobSpec("plan-scheduled-syncs", "webapp.jobs:plan_scheduled_syncs", plan_seconds),
        JobSpec("notify-admins", "webapp.jobs:notify_admins", plan_seconds),
        # Due mailboxes (each on its own interval) and "Fetch now" clicks, picked up as fast as syncs.
        JobSpec("fetch-mailboxes", "webapp.jobs:fetch_mailboxes", poll_seconds),
    )


# -- the leader lock ----------------------------------------------------------------------


class FileLock:
    """SQLite: one host, so a lock file. The kernel drops it when the process dies."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def held(self) -> bool:
        """Still ours: the path still names the file we locked. A deleted or replaced lock
        file would let another process lock a new one while we hold the old."""
        if self._fd is None:
            return False
        try:
            mine, there = os.fstat(self._fd), os.stat(self.path)
        except OSError:
            return False
        return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


class AdvisoryLock:
    """Postgres: a session-level advisory lock on a connection of its own, out of the pool."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._conn = None
        self._use = threading.Lock()  # one connection, used by the election thread and release()

    def acquire(self) -> bool:
        try:
            pooled = self.engine.raw_connection()
            driver = pooled.driver_connection
            pooled.detach()  # never handed back to the pool: the lock lives as long as it does
            driver.rollback()
            driver.autocommit = True
            got = driver.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]
        except Exception:
            log.warning("scheduler lock: database unreachable", exc_info=True)
            return False
        if not got:
            driver.close()
            return False
        self._conn = driver
        return True

    def held(self) -> bool:
        """Asks the server whether this session still holds the lock (a dropped connection
        fails at once; a Postgres restart leaves a new session without it)."""
        with self._use:
            if self._conn is None:
                return False
            try:
                return bool(self._conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid() AND classid = 0 AND objid = %s",
                    (LOCK_KEY,),
                ).fetchone()[0])
            except Exception:
                return False

    def release(self) -> None:
        with self._use:
            if self._conn is not None:
                try:
                    self._conn.close()  # closing the session releases the lock
                except Exception:
                    pass
                self._conn = None


def lock_for(engine: Engine, instance_path: str):
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    return FileLock(Path(instance_path) / "scheduler.lock")


# -- the service --------------------------------------------------------------------------


@dataclass
class SchedulerService:
    engine: Engine
    vault: object
    cache: object
    lock: object
    poll_seconds: float = 3.0
    plan_seconds: float = 30.0
    check_seconds: float = 1.0  # how often the leader re-checks its lock
    retry_seconds: float = 5.0  # how often the others try to take it
    takeover_seconds: float | None = None  # None: 2 × check_seconds + 1
    max_parallel_runs: int = 4
    backoff: object = None  # webapp.salesforce.sync.ledger.RetryBackoff for interrupted runs
    base_url: str = ""  # PUBLIC_BASE_URL, for the links in admins' notices
    mail_options: object = None  # webapp.mail.fetch.FetchOptions for mailbox fetches
    scheduler: BackgroundScheduler | None = None
    runs: ThreadPoolExecutor | None = None
    in_flight: set = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _guard: threading.Lock = field(default_factory=threading.Lock)
    _confirmed: float = float("-inf")  # monotonic time a check that found the lock ours began

    def __post_init__(self) -> None:
        if self.takeover_seconds is None:
            self.takeover_seconds = 2 * self.check_seconds + 1
        if self.check_seconds <= 0 or self.takeover_seconds <= self.check_seconds:
            raise ValueError("The scheduler's takeover delay must be longer than its lock check interval.")

    @property
    def leading(self) -> bool:
        return self.scheduler is not None

    @property
    def lease_seconds(self) -> float:
        return (self.check_seconds + self.takeover_seconds) / 2

    def may_act(self) -> bool:
        """The fence every job passes first: leading, and the lock confirmed within the lease.
        A successor starts only ``takeover_seconds`` after it got the lock, later than that."""
        return self.leading and time.monotonic() - self._confirmed < self.lease_seconds

    def _confirm(self) -> bool:
        began = time.monotonic()
        if not self.lock.held():
            return False
        self._confirmed = began
        return True

    def start(self) -> SchedulerService:
        import webapp.jobs  # noqa: F401  -- loaded before any job thread needs it (import-lock deadlock)

        self._thread = threading.Thread(target=self._contend, name="scheduler-election", daemon=True)
        self._thread.start()
        atexit.register(self.stop)
        return self

    def _contend(self) -> None:
        while not self._stop.is_set():
            if self.leading:
                if not self._confirm():
                    self.step_down()
                self._stop.wait(self.check_seconds)
                continue
            if self.lock.acquire():
                # The previous leader may not have noticed its loss yet: outwait its check.
                if self._stop.wait(self.takeover_seconds):
                    self.lock.release()
                    return
                if self._confirm():
                    self._lead()
                    continue
                self.lock.release()
            self._stop.wait(self.retry_seconds)

    def _lead(self) -> None:
        # Logged before the scheduler starts and after it stops: the log never understates a term.
        log.info("scheduler leader", extra={"pid": os.getpid()})
        with self._guard:
            self.runs = ThreadPoolExecutor(self.max_parallel_runs, thread_name_prefix="sync-run")
            scheduler = BackgroundScheduler(
                executors={"default": JobExecutor(4)},
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
                timezone="UTC",
            )
            for spec in job_specs(self.poll_seconds, self.plan_seconds):
                scheduler.add_job(spec.func, "interval", seconds=spec.seconds, id=spec.id, kwargs={"service": self},
                                  next_run_time=_now())
            self.scheduler = scheduler
            scheduler.start()

    def step_down(self) -> None:
        """Lost the lock: stop scheduling (runs under way finish; their rows guard them)."""
        with self._guard:
            scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
            log.warning("scheduler stepped down", extra={"pid": os.getpid()})
        self.lock.release()

    def stop(self) -> None:
        self._stop.set()
        self.step_down()
        if self.runs is not None:
            self.runs.shutdown(wait=False, cancel_futures=True)


def _now():
    from webapp.clock import utcnow

    return utcnow()


def start(app, **options) -> SchedulerService | None:
    """Start contending for leadership in this process, if SCHEDULER_ENABLED."""
    if not app.config.get("SCHEDULER_ENABLED"):
        return None
    if "scheduler" in app.extensions:
        return app.extensions["scheduler"]
    from webapp.db import get_engine
    from webapp.mail.fetch import FetchOptions
    from webapp.salesforce.sync.ledger import RetryBackoff

    engine = get_engine(app)
    backoff = RetryBackoff(app.config["SYNC_RETRY_ATTEMPTS"], app.config["SYNC_RETRY_BASE_SECONDS"],
                           app.config["SYNC_RETRY_MAX_SECONDS"])
    service = SchedulerService(
        engine=engine, vault=app.extensions["vault"], cache=app.extensions["cache"],
        lock=lock_for(engine, app.instance_path),
        **{"backoff": backoff, "base_url": app.config["PUBLIC_BASE_URL"],
           "mail_options": FetchOptions.from_config(app.config), **options},
    )
    app.extensions["scheduler"] = service.start()
    return service

