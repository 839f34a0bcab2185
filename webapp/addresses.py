"""Email addresses: validation, the normal form used for matching, and the one answer to
"is this address ours?" (a message from one of ours is sent by the team; anything else is
received)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

# Deliberately simple: one @, no spaces, a dot in the domain. Real validation is delivery.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidAddress(ValueError):
    pass


def normalize_email(email: str | None) -> str:
    """The lower-cased address, or InvalidAddress. Addresses match case-insensitively."""
    email = (email or "").strip()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise InvalidAddress(f"{email!r} is not a valid email address.")
    return email.lower()


def domain_of(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


# Addresses at these providers say nothing about the company: a user at gmail.com does not
# make gmail.com ours, and no account is guessed from them.
FREE_MAIL = frozenset(
    """gmail.com googlemail.com outlook.com hotmail.com live.com msn.com yahoo.com ymail.com
    icloud.com me.com mac.com aol.com proton.me protonmail.com gmx.com gmx.de gmx.net web.de
    mail.com yandex.com yandex.ru zoho.com fastmail.com hey.com qq.com 163.com""".split()
)


@dataclass(frozen=True)
class OwnAddresses:
    """The workspace's own addresses and domains. ``from_settings``: the admin listed them;
    otherwise they are the defaults (its people's addresses and their domains)."""

    addresses: frozenset[str]
    domains: frozenset[str]
    from_settings: bool = False

    def is_ours(self, email: str | None) -> bool:
        email = (email or "").strip().lower()
        return bool(email) and (email in self.addresses or domain_of(email) in self.domains)

    __contains__ = is_ours  # "address in own"

    @property
    def entries(self) -> tuple[str, ...]:
        """Addresses and domains in one list, as the workspace settings write them."""
        return tuple(sorted(self.addresses | self.domains))


def people_addresses(session: Session, workspace_id: int) -> set[str]:
    """The addresses the workspace's people send from: its users' and its mailboxes'."""
    from webapp.models import Mailbox, User

    users = select(User.email).where(User.workspace_id == workspace_id)
    mailboxes = select(Mailbox.address).where(Mailbox.workspace_id == workspace_id)
    return {e.strip().lower() for e in session.execute(users.union(mailboxes)).scalars() if e}


def own_addresses(session: Session, workspace_id: int) -> OwnAddresses:
    """What counts as ours. The addresses and domains listed in the workspace settings, when
    there are any; else its people's addresses and their domains (free-mail ones excepted).
    A user's own address is always ours."""
    from webapp.models import WorkspaceAddress

    listed = {v.strip().lower() for v in session.execute(
        select(WorkspaceAddress.value).where(WorkspaceAddress.workspace_id == workspace_id)).scalars()}
    people = people_addresses(session, workspace_id)
    if listed:
        return OwnAddresses(frozenset(people | {v for v in listed if "@" in v}),
                            frozenset(v for v in listed if "@" not in v), from_settings=True)
    return OwnAddresses(frozenset(people), frozenset(default_domains(people)))


def default_domains(people: set[str]) -> set[str]:
    return {domain_of(e) for e in people if "@" in e} - FREE_MAIL
