"""The admin's notification settings: the webhook URL, kept encrypted and never shown back."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlmodel import Session

from webapp.clock import utcnow
from webapp.crypto import SecretUnreadable, Vault
from webapp.mail.notices import can_send
from webapp.models import NotificationIncident, SyncSettings
from webapp.notify import notifier
from webapp.sync.settings import SyncSettingsError


@dataclass
class IncidentView:
    kind: str
    detail: str
    opened_at: object
    notified_at: object
    last_error: str | None

    @property
    def label(self) -> str:
        return "Sync failing" if self.kind == "sync" else "Reconnect needed"


@dataclass
class NotificationView:
    webhook_set: bool  # the URL itself is a secret and is never shown back
    email_ready: bool  # the app can send mail to admins
    open_incidents: list[IncidentView]
    error: str | None = None


def view(session: Session, workspace_id: int, *, error: str | None = None) -> NotificationView:
    enc = session.execute(select(SyncSettings.notify_webhook_enc).where(SyncSettings.workspace_id == workspace_id)).scalar()
    incidents = session.execute(
        select(NotificationIncident).where(NotificationIncident.workspace_id == workspace_id,
                                           NotificationIncident.closed_at.is_(None)).order_by(NotificationIncident.id)
    ).scalars().all()
    return NotificationView(
        webhook_set=bool(enc), email_ready=can_send(session, workspace_id),
        open_incidents=[IncidentView(i.kind, i.detail, i.opened_at, i.notified_at, i.last_error) for i in incidents],
        error=error,
    )


def webhook_url(session: Session, vault: Vault, workspace_id: int) -> str | None:
    enc = session.execute(select(SyncSettings.notify_webhook_enc).where(SyncSettings.workspace_id == workspace_id)).scalar()
    try:
        return vault.decrypt(enc) if enc else None
    except SecretUnreadable:
        return None


def save_webhook(session: Session, vault: Vault, workspace_id: int, url: str, *, remove: bool = False) -> str | None:
    """Save (or remove) the webhook URL; returns its host. Raises SyncSettingsError."""
    row = session.execute(select(SyncSettings).where(SyncSettings.workspace_id == workspace_id)).scalar_one_or_none()
    row = row or SyncSettings(workspace_id=workspace_id, extra_fields={})
    if remove:
        row.notify_webhook_enc = None
        host = None
    else:
        try:
            url = notifier.check_webhook_url(url)
        except notifier.InvalidWebhook as exc:
            raise SyncSettingsError("webhook_url", str(exc)) from exc
        row.notify_webhook_enc = vault.encrypt(url)
        host = urlsplit(url).hostname
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return host
