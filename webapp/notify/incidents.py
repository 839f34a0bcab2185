"""Incidents from the state the sync and the connection leave, and telling admins once each.

Run by the scheduler's leader every tick (``check``): it reads each workspace's connection
and latest finished run, opens an incident when the connection needs reconnecting or the
latest run failed, closes it after a reconnect or a successful run, and sends each open
incident's notice once (tried again on later ticks, up to ``MAX_ATTEMPTS``, while a channel
fails). The partial unique index keeps one open incident per workspace and kind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from webapp.clock import utcnow
from webapp.crypto import Vault
from webapp.models import NotificationIncident, SalesforceConnection, SyncRun, User, Workspace
from webapp.notify import settings as notify_settings
from webapp.notify.notifier import ChannelFailed, Notice, notifier_for

log = logging.getLogger(__name__)
INCIDENT = NotificationIncident.__table__
FINISHED = ("succeeded", "failed", "paused", "interrupted")
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Sent:
    workspace_id: int
    kind: str


def _latest_finished(session: Session, workspace_id: int):
    return session.execute(
        select(SyncRun.id, SyncRun.status, SyncRun.reason).where(
            SyncRun.workspace_id == workspace_id, SyncRun.status.in_(FINISHED)).order_by(SyncRun.id.desc()).limit(1)
    ).first()


def _open(session: Session, workspace_id: int, kind: str, detail: str, run_id: int | None = None) -> None:
    exists = session.execute(select(INCIDENT.c.id).where(
        INCIDENT.c.workspace_id == workspace_id, INCIDENT.c.kind == kind, INCIDENT.c.closed_at.is_(None))).first()
    if exists:
        return
    try:
        with session.begin_nested():
            session.execute(INCIDENT.insert().values(workspace_id=workspace_id, kind=kind, detail=detail[:2000],
                                                     run_id=run_id, opened_at=utcnow(), attempts=0))
    except IntegrityError:
        pass  # opened meanwhile by another leader's last tick: still one incident


def _close(session: Session, workspace_id: int, kind: str) -> None:
    session.execute(update(INCIDENT).where(INCIDENT.c.workspace_id == workspace_id, INCIDENT.c.kind == kind,
                                           INCIDENT.c.closed_at.is_(None)).values(closed_at=utcnow()))


def track(session: Session) -> None:
    """Open and close incidents from what the connection and the latest run say."""
    for workspace_id, state, error in session.execute(
            select(SalesforceConnection.workspace_id, SalesforceConnection.state, SalesforceConnection.last_error)).all():
        if state == "reconnect":
            _open(session, workspace_id, "reconnect", error or "Salesforce no longer accepts the connection.")
        else:  # connected again, or disconnected on purpose
            _close(session, workspace_id, "reconnect")
        run = _latest_finished(session, workspace_id)
        if run is None:
            continue
        if run.status == "succeeded":
            _close(session, workspace_id, "sync")
        elif run.status == "failed" and state == "connected":
            # A run failing for want of a connection is the reconnect incident's, not a second one.
            _open(session, workspace_id, "sync", run.reason or "The sync failed.", run.id)


def _notice(session: Session, incident, base_url: str) -> Notice:
    workspace = session.get(Workspace, incident.workspace_id)
    admins = tuple(session.execute(select(User.email).where(
        User.workspace_id == incident.workspace_id, User.role == "admin").order_by(User.email)).scalars())
    link = f"{base_url.rstrip('/')}/settings/integrations/salesforce"
    if incident.kind == "reconnect":
        subject = f"Salesforce needs to be reconnected for {workspace.name}"
        text = (f"{subject}: the Salesforce card and the sync are paused until an admin reconnects. "
                f"Salesforce said: {incident.detail}\nReconnect: {link}")
    else:
        run = f" (run #{incident.run_id})" if incident.run_id else ""
        subject = f"Salesforce sync failed for {workspace.name}"
        text = (f"{subject}{run}: {incident.detail}\nYou will not hear of further failures until a sync succeeds. "
                f"Details: {link}")
    return Notice(incident.workspace_id, subject, text, admins)


def check(engine: Engine, vault: Vault, base_url: str, mail_options=None) -> list[Sent]:
    """One tick: track incidents, then send the notices not sent yet. Network calls are
    made with no transaction open. ``mail_options``: webapp.mail.fetch.FetchOptions for the
    email channel (the trusted CAs and timeout)."""
    from webapp.mail.notices import sender_for  # the mail package reaches far; only this tick needs it

    with Session(engine) as session:
        track(session)
        session.commit()
        pending = session.execute(select(INCIDENT).where(
            INCIDENT.c.closed_at.is_(None), INCIDENT.c.notified_at.is_(None),
            INCIDENT.c.attempts < MAX_ATTEMPTS).order_by(INCIDENT.c.id)).all()
        work = [(row, _notice(session, row, base_url), notify_settings.webhook_url(session, vault, row.workspace_id),
                 sender_for(session, vault, row.workspace_id, mail_options))
                for row in pending]
    sent: list[Sent] = []
    for row, notice, webhook, email in work:
        notifier = notifier_for(webhook, email)
        if not notifier.channels:
            continue  # told once a channel is set up, if the incident is still open then
        error = None
        try:
            notifier.send(notice)
        except ChannelFailed as exc:
            error = str(exc)
        with engine.begin() as conn:
            values = {"attempts": INCIDENT.c.attempts + 1, "last_error": error}
            if error is None:
                values["notified_at"] = utcnow()
            conn.execute(update(INCIDENT).where(INCIDENT.c.id == row.id).values(**values))
        if error is None:
            sent.append(Sent(row.workspace_id, row.kind))
            log.info("admins notified", extra={"workspace": row.workspace_id, "incident": row.kind})
    return sent

