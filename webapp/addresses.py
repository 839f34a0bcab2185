"""Email addresses: validation and the normal form used for matching."""

from __future__ import annotations

import re

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


def own_addresses(conn, workspace_id: int) -> set[str]:
    """The workspace's own addresses and domains, lower-cased: those its admin listed and the
    address of every mailbox it reads. Mail from one of these is ours (outbound)."""
    from sqlalchemy import select, union

    from webapp.models import Mailbox, WorkspaceAddress

    query = union(
        select(WorkspaceAddress.value).where(WorkspaceAddress.workspace_id == workspace_id),
        select(Mailbox.address).where(Mailbox.workspace_id == workspace_id),
    )
    return {value.strip().lower() for value in conn.execute(query).scalars()}
