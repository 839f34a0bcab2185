"""Reading the mirror: the Salesforce contacts behind an address, and the last synced copy of
a contact's card (the card's fallback when Salesforce is slow, down or over its limit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlmodel import Session

from webapp.models import SfAccount, SfContact, SfOpportunity, SfUser


@dataclass
class MirrorContact:
    sf_id: str
    name: str
    title: str | None
    lead_source: str | None
    account_id: str | None
    account_name: str | None
    owner_name: str | None
    synced_at: datetime


@dataclass
class MirrorOpportunity:
    sf_id: str
    name: str
    stage_name: str | None
    amount_minor: int | None
    currency: str | None
    close_date: date | None
    is_closed: bool
    is_won: bool


@dataclass
class MirrorCard:
    """What the card shows, as of ``synced_at``; ``other_matches`` counts further contacts."""

    contact: MirrorContact
    opportunities: list[MirrorOpportunity] = field(default_factory=list)
    other_matches: int = 0
    opportunity_total: int = 0  # on the account, shown or not

    @property
    def synced_at(self) -> datetime:
        return self.contact.synced_at


def contacts_for_email(session: Session, workspace_id: int, email_normalized: str) -> list[MirrorContact]:
    account, owner = SfAccount.__table__.alias("a"), SfUser.__table__.alias("u")
    c = SfContact.__table__
    rows = session.execute(
        select(c.c.sf_id, c.c.name, c.c.title, c.c.lead_source, c.c.account_id, account.c.name, owner.c.name, c.c.synced_at)
        .select_from(
            c.outerjoin(account, and_(account.c.workspace_id == c.c.workspace_id, account.c.sf_id == c.c.account_id,
                                      account.c.is_deleted.is_(False)))
            .outerjoin(owner, and_(owner.c.workspace_id == c.c.workspace_id, owner.c.sf_id == c.c.owner_id))
        )
        .where(c.c.workspace_id == workspace_id, c.c.email_normalized == email_normalized, c.c.is_deleted.is_(False))
        # The card's order: the latest LastModifiedDate first, then the lowest Id.
        .order_by(func.coalesce(c.c.last_modified_date, c.c.system_modstamp).desc(), c.c.sf_id)
    ).all()
    return [MirrorContact(*row) for row in rows]


def card(session: Session, workspace_id: int, email_normalized: str, *, limit: int = 5,
         prefer: str | None = None) -> MirrorCard | None:
    """The matching contact an agent chose (``prefer``), else the most recently modified, and
    its account's latest opportunities."""
    matches = contacts_for_email(session, workspace_id, email_normalized)
    if not matches:
        return None
    first = next((m for m in matches if m.sf_id == prefer), matches[0])
    opportunities: list[MirrorOpportunity] = []
    if first.account_id:
        o = SfOpportunity.__table__
        rows = session.execute(
            select(o.c.sf_id, o.c.name, o.c.stage_name, o.c.amount_minor, o.c.currency, o.c.close_date, o.c.is_closed, o.c.is_won)
            .where(o.c.workspace_id == workspace_id, o.c.account_id == first.account_id, o.c.is_deleted.is_(False))
            .order_by(func.coalesce(o.c.last_modified_date, o.c.system_modstamp).desc(), o.c.sf_id)
            .limit(limit)
        ).all()
        opportunities = [MirrorOpportunity(*row) for row in rows]
    total = opportunity_count(session, workspace_id, first.account_id) if first.account_id else 0
    return MirrorCard(first, opportunities, other_matches=len(matches) - 1, opportunity_total=total)


def opportunity_count(session: Session, workspace_id: int, account_id: str) -> int:
    o = SfOpportunity.__table__
    return session.execute(select(func.count()).select_from(o).where(
        o.c.workspace_id == workspace_id, o.c.account_id == account_id, o.c.is_deleted.is_(False))).scalar_one()
