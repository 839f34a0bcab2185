"""Uploads from the settings page, imported in the background of the process that took them.

The request stores the file under the instance folder, records a MailImportJob and returns;
a small executor (one import at a time per process, so memory stays that of one import) runs
it. Each batch of messages is committed with the job's counts, so any process can show the
progress, and the owner's heartbeat moves while it works. A job whose heartbeat stopped (its
process died) is taken over by the next process that starts or that is asked about it: the
import skips what is already stored by Message-ID, so running it again is safe.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from flask import Flask
from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from werkzeug.utils import secure_filename

from webapp.analytics.facts import refresh_if_requested
from webapp.clock import utcnow
from webapp.db import get_engine
from webapp.mailimport.importer import import_messages
from webapp.mailimport.sources import Limits, SourceError, iter_path, measure_zip, sniff
from webapp.mailimport.summary import CONCURRENT_IMPORT, ImportSummary
from webapp.models import IMPORT_JOB_ACTIVE, MailImportJob

log = logging.getLogger(__name__)

UPLOAD_FOLDER = "mail-imports"
HEARTBEAT_SECONDS = 2.0
STALE_AFTER = timedelta(seconds=30)  # a heartbeat this old means its process is gone

ALREADY_RUNNING = "An import into this workspace is already under way; wait for it to finish."
UNEXPECTED = "The import stopped on an unexpected error."
FILE_GONE = "The server stopped during the import and the uploaded file is gone; upload it again."

_owner: tuple[int, str] | None = None


class ImportBusy(SourceError):
    """The workspace has an import under way."""


def owner() -> str:
    """This process, unique even when a restarted one gets the same pid."""
    global _owner
    if _owner is None or _owner[0] != os.getpid():
        _owner = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}")
    return _owner[1]


class ImportRunner:
    def __init__(self, app: Flask):
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail-import")
        self.futures: dict[int, Future] = {}

    def submit(self, job_id: int) -> Future:
        future = self.executor.submit(self._run, job_id)
        self.futures[job_id] = future
        return future

    def wait(self, job_id: int, timeout: float | None = None) -> None:
        future = self.futures.get(job_id)
        if future is not None:
            future.result(timeout)

    def _run(self, job_id: int) -> None:
        with self.app.app_context():
            try:
                run_job(get_engine(self.app), job_id, Limits.from_config(self.app.config))
            except Exception:
                log.exception("mail import job crashed", extra={"job": job_id})
            finally:
                self.futures.pop(job_id, None)


_runner_lock = threading.Lock()


def runner(app: Flask) -> ImportRunner:
    with _runner_lock:
        if "mail_import_runner" not in app.extensions:
            app.extensions["mail_import_runner"] = ImportRunner(app)
        return app.extensions["mail_import_runner"]


def active_job(session: Session, workspace_id: int) -> MailImportJob | None:
    return session.execute(
        select(MailImportJob)
        .where(MailImportJob.workspace_id == workspace_id, MailImportJob.status.in_(IMPORT_JOB_ACTIVE))
        .order_by(MailImportJob.id.desc())
    ).scalars().first()


def latest_job(session: Session, workspace_id: int) -> MailImportJob | None:
    return session.execute(
        select(MailImportJob).where(MailImportJob.workspace_id == workspace_id).order_by(MailImportJob.id.desc())
    ).scalars().first()


def get_job(session: Session, workspace_id: int, job_id: int) -> MailImportJob | None:
    job = session.get(MailImportJob, job_id)
    return job if job is not None and job.workspace_id == workspace_id else None


def queue_upload(app: Flask, session: Session, workspace_id: int, stream: BinaryIO, filename: str) -> MailImportJob:
    """Store the upload, record its job and hand it to this process's executor."""
    if active_job(session, workspace_id) is not None:
        raise ImportBusy(ALREADY_RUNNING)
    folder = Path(app.instance_path) / UPLOAD_FOLDER / secrets.token_hex(8)
    folder.mkdir(parents=True)
    path = folder / (secure_filename(filename) or "upload")
    with path.open("wb") as fh:
        shutil.copyfileobj(stream, fh, 1024 * 1024)
    with path.open("rb") as fh:
        head = fh.read(4096)
    # What the file is can be told at once; everything else is the job's to find out.
    problem = "the file is empty" if not head.strip() else None
    if problem is None and sniff(path.name, head) is None:
        problem = "not an mbox file, an .eml message or a .zip of them"
    if problem:
        shutil.rmtree(folder, ignore_errors=True)
        raise SourceError(f"{filename}: {problem}. Nothing was imported.")
    now = utcnow()
    job = MailImportJob(
        workspace_id=workspace_id, filename=filename[:255], stored_path=str(path),
        size_bytes=path.stat().st_size, owner=owner(), heartbeat_at=now, created_at=now,
    )
    session.add(job)
    session.commit()
    runner(app).submit(job.id)
    return job


def start(app: Flask) -> None:
    """At process start: take over the jobs of processes that died."""
    resume_stale(app)


def resume_stale(app: Flask, job_id: int | None = None) -> list[int]:
    """Claim queued or running jobs whose heartbeat stopped, and run them here again."""
    engine = get_engine(app)
    cutoff = utcnow() - STALE_AFTER
    stale = or_(MailImportJob.heartbeat_at.is_(None), MailImportJob.heartbeat_at < cutoff)
    query = select(MailImportJob.id).where(MailImportJob.status.in_(IMPORT_JOB_ACTIVE), stale)
    if job_id is not None:
        query = query.where(MailImportJob.id == job_id)
    resumed = []
    with engine.begin() as conn:
        candidates = conn.execute(query).scalars().all()
    for candidate in candidates:
        with engine.begin() as conn:
            # Compare-and-set: of two processes that both saw it stale, one wins.
            claimed = conn.execute(
                update(MailImportJob)
                .where(MailImportJob.id == candidate, MailImportJob.status.in_(IMPORT_JOB_ACTIVE), stale)
                .values(owner=owner(), heartbeat_at=utcnow())
            ).rowcount
            path = conn.execute(select(MailImportJob.stored_path).where(MailImportJob.id == candidate)).scalar()
        if not claimed:
            continue
        if not Path(path).is_file():
            _finish(engine, candidate, "interrupted", error=FILE_GONE)
            continue
        log.info("mail import resumed", extra={"job": candidate})
        runner(app).submit(candidate)
        resumed.append(candidate)
    return resumed


def run_job(engine: Engine, job_id: int, limits: Limits) -> None:
    me = owner()
    with engine.begin() as conn:
        claimed = conn.execute(
            update(MailImportJob)
            .where(MailImportJob.id == job_id, MailImportJob.owner == me, MailImportJob.status.in_(IMPORT_JOB_ACTIVE))
            .values(status="running", started_at=utcnow(), heartbeat_at=utcnow())
        ).rowcount
    if not claimed:
        return  # another process took it over
    with Session(engine, expire_on_commit=False) as session:
        job = session.get(MailImportJob, job_id)
        path, workspace_id, filename = Path(job.stored_path), job.workspace_id, job.filename
    beat = _Heartbeat(engine, job_id, me)
    summary: ImportSummary | None = None
    try:
        with path.open("rb") as fh:
            is_zip = sniff(path.name, fh.read(4096)) == "zip"
        total = measure_zip(path, limits, beat.read) if is_zip else path.stat().st_size
        beat.total, beat.unpacked, beat.importing = total, 0, True
        with Session(engine, expire_on_commit=False) as session:
            summary = import_messages(
                session, workspace_id, iter_path(path, limits, on_read=beat.read, precheck=False),
                source=filename, limits=limits, progress=lambda s, written: beat.progress(session, s, written),
            )
            session.commit()
    except SourceError as exc:
        _finish(engine, job_id, "failed", summary=beat.summary, error=_failure(f"{exc}", beat.summary))
    except IntegrityError:
        _finish(engine, job_id, "failed", summary=beat.summary, error=_failure(CONCURRENT_IMPORT, beat.summary))
    except Exception:
        log.exception("mail import failed", extra={"job": job_id})
        _finish(engine, job_id, "failed", summary=beat.summary, error=_failure(UNEXPECTED, beat.summary))
    else:
        _finish(engine, job_id, "done", summary=summary)
    # Batches committed before a failure are kept, so their facts follow too.
    refresh_if_requested(engine, workspace_id)
    shutil.rmtree(path.parent, ignore_errors=True)


def _failure(message: str, summary: ImportSummary | None) -> str:
    stored = summary.imported if summary else 0
    if stored:
        return f"{message} The {stored:,} messages stored before it stopped are kept; importing the file again skips them."
    return f"{message} Nothing was imported."


class _Heartbeat:
    """Writes the job's counts: after every committed batch, and every few seconds between."""

    def __init__(self, engine: Engine, job_id: int, me: str):
        self.engine, self.job_id, self.me = engine, job_id, me
        self.total = 0
        self.unpacked = 0
        self.last = time.monotonic()
        self.summary: ImportSummary | None = None  # as of the last commit
        self.importing = False  # then progress() writes, through the import's own session

    def read(self, count: int) -> None:
        self.unpacked += count
        if not self.importing and time.monotonic() - self.last >= HEARTBEAT_SECONDS:
            with self.engine.begin() as conn:
                self._write(conn, None)

    def progress(self, session: Session, summary: ImportSummary, written: bool) -> None:
        # Between batches the session holds nothing unflushed, so committing here commits
        # whole batches only, together with the counts that describe them.
        if not written and time.monotonic() - self.last < HEARTBEAT_SECONDS:
            return
        self._write(session, summary)
        session.commit()
        if written:
            self.summary = ImportSummary.from_json(summary.to_json())

    def _write(self, conn, summary: ImportSummary | None) -> None:
        now = utcnow()
        values = {"heartbeat_at": now, "unpacked_bytes": self.unpacked, "total_bytes": self.total}
        if summary is not None:
            values.update(seen=summary.seen, imported=summary.imported, skipped=summary.skipped_total)
        conn.execute(update(MailImportJob).where(MailImportJob.id == self.job_id).values(**values))
        # Jobs waiting behind this one in the same process are alive too.
        conn.execute(
            update(MailImportJob)
            .where(MailImportJob.owner == self.me, MailImportJob.status == "queued")
            .values(heartbeat_at=now)
        )
        self.last = time.monotonic()


def _finish(engine: Engine, job_id: int, status: str, *, summary: ImportSummary | None = None, error: str | None = None) -> None:
    values = {"status": status, "finished_at": utcnow(), "error": error, "heartbeat_at": utcnow()}
    if summary is not None:
        values.update(summary=summary.to_json(), seen=summary.seen, imported=summary.imported,
                      skipped=summary.skipped_total)
    with engine.begin() as conn:
        conn.execute(update(MailImportJob).where(MailImportJob.id == job_id).values(**values))
