"""Admins' notices by email: sent from the workspace's first mailbox over its SMTP server,
the same way a reply goes out. No Flask; called from the scheduler's job thread."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from webapp.clock import utcnow
from webapp.crypto import SecretUnreadable
from webapp.mail import credentials
from webapp.mail.fetch import FetchOptions
from webapp.mail.mailboxes import smtp_endpoint
from webapp.mail.send import Outgoing, compose, new_message_id, submit
from webapp.models import Mailbox


@dataclass(frozen=True)
class _Sender:
    mailbox_id: int
    address: str
    display_name: str
    endpoint: object
    username: str
    password: str

    def __call__(self, workspace_id: int, recipients: Sequence[str], subject: str, body: str) -> None:
        outgoing = Outgoing(from_address=self.address, from_name=self.display_name or "Inbox", to=list(recipients),
                            cc=[], subject=subject, body=body, message_id=new_message_id(self.address), date=utcnow())
        submit(self.endpoint, self.username, self.password, outgoing, compose(outgoing))


def sender_for(session: Session, vault, workspace_id: int,
               options: FetchOptions | None = None) -> Callable[[int, Sequence[str], str, str], None] | None:
    """What sends a notice by email for this workspace, or None when it has no mailbox that can
    send (none set up, or its password can no longer be read)."""
    mailbox = session.execute(select(Mailbox).where(Mailbox.workspace_id == workspace_id, Mailbox.enabled.is_(True),
                                                    Mailbox.smtp_host != "").order_by(Mailbox.id)).scalars().first()
    if mailbox is None:
        return None
    try:
        login = credentials.smtp_login(mailbox, vault)
    except SecretUnreadable:
        return None
    return _Sender(mailbox.id, mailbox.address, mailbox.display_name or "", smtp_endpoint(mailbox, options or FetchOptions()),
                   login.username, login.password)


def can_send(session: Session, workspace_id: int) -> bool:
    return session.execute(select(Mailbox.id).where(Mailbox.workspace_id == workspace_id, Mailbox.enabled.is_(True),
                                                    Mailbox.smtp_host != "").limit(1)).first() is not None
