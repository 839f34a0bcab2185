"""The sync scheduler: APScheduler in the app process, exactly one per deployment.

Every process that enables it (each gunicorn worker, each container, ``flask demo``) runs a
small thread that tries to become the leader: an ``fcntl`` lock on a file in the instance
folder on SQLite (one host), ``pg_try_advisory_lock`` on a dedicated connection on Postgres
(any number of hosts). Only the leader starts the BackgroundScheduler. The others keep
trying, so when the leader dies (its lock goes with its file descriptor or its connection)
another one takes over within a few seconds. The leader re-checks its lock and steps down
when it lost it (a Postgres restart drops advisory locks silently).

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


def job_specs(poll_seconds: float, plan_seconds: float, check_seconds: float) -> tuple[JobSpec, ...]:
    return (
        JobSpec("run-queued-syncs", "webapp.jobs:run_queued_syncs", poll_seconds),
        JobSpec("plan-scheduled-syncs", "webapp.jobs:plan_scheduled_syncs", plan_seconds),
        JobSpec("check-leadership", "webapp.jobs:check_leadership", check_seconds),
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
        return self._fd is not None

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
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1").fetchone()
            return True
        except Exception:
            self.release()
            return False

    def release(self) -> None:
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
    check_seconds: float = 10.0
    retry_seconds: float = 5.0
    max_parallel_runs: int = 4
    scheduler: BackgroundScheduler | None = None
    runs: ThreadPoolExecutor | None = None
    in_flight: set = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _guard: threading.Lock = field(default_factory=threading.Lock)

    @property
    def leading(self) -> bool:
        return self.scheduler is not None

    def start(self) -> SchedulerService:
        import webapp.jobs  # noqa: F401  -- loaded before any job thread needs it (import-lock deadlock)

        self._thread = threading.Thread(target=self._contend, name="scheduler-election", daemon=True)
        self._thread.start()
        atexit.register(self.stop)
        return self

    def _contend(self) -> None:
        while not self._stop.is_set():
            if not self.leading and self.lock.acquire():
                self._lead()
            self._stop.wait(self.retry_seconds)

    def _lead(self) -> None:
        with self._guard:
            self.runs = ThreadPoolExecutor(self.max_parallel_runs, thread_name_prefix="sync-run")
            scheduler = BackgroundScheduler(
                executors={"default": JobExecutor(4)},
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
                timezone="UTC",
            )
            for spec in job_specs(self.poll_seconds, self.plan_seconds, self.check_seconds):
                scheduler.add_job(spec.func, "interval", seconds=spec.seconds, id=spec.id, kwargs={"service": self},
                                  next_run_time=_now())
            scheduler.start()
            self.scheduler = scheduler
        log.info("scheduler leader", extra={"pid": os.getpid()})

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

    engine = get_engine(app)
    service = SchedulerService(
        engine=engine, vault=app.extensions["vault"], cache=app.extensions["cache"],
        lock=lock_for(engine, app.instance_path), **options,
    )
    app.extensions["scheduler"] = service.start()
    return service

