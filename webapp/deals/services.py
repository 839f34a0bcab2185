"""Creating, editing and listing deals, scoped to one workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session

from webapp.addresses import InvalidAddress, normalize_email
from webapp.clock import utcnow
from webapp.scoping import owned
from webapp.listing import Page, contains_any, paginate
from webapp.integrations.salesforce_card import record_url
from webapp.models import DEAL_STAGES, Contact, Deal, SalesforceConnection, SfOpportunityStage, SyncLink, SyncSettings
from webapp.money import MoneyError, check_currency, to_minor
from webapp.validation import FieldError


class DealError(FieldError):
    """Invalid deal input."""


@dataclass
class DealInput:
    name: str
    amount: str | None
    currency: str
    stage: str
    close_date: date | None
    contact_email: str | None


@dataclass
class SalesforceLink:
    """How a deal stands with its Salesforce opportunity, for the deal page and list."""

    state: str  # new | pending | linked | unlinked | deleted
    sf_id: str | None
    unlinked_at: object = None
    error: str | None = None
    url: str | None = None  # the opportunity in Salesforce, while linked
    match_sobject: str | None = None  # what a duplicate rule said the deal duplicates
    match_url: str | None = None


def stages(session: Session, workspace_id: int, current: str | None = None) -> list[str]:
    """The stages a deal may take: the connected org's own (synced), else the defaults."""
    names = list(session.execute(
        select(SfOpportunityStage.api_name).where(
            SfOpportunityStage.workspace_id == workspace_id, SfOpportunityStage.is_active.is_(True),
            SfOpportunityStage.is_deleted.is_(False))
        .order_by(SfOpportunityStage.sort_order, SfOpportunityStage.api_name)).scalars()) or list(DEAL_STAGES)
    if current and current not in names:
        names.append(current)  # a stage the org renamed: the next sync maps it
    return names


def list_deals(session: Session, workspace_id: int, *, query: str, stage: str, page: int) -> Page:
    stmt = (
        select(Deal, Contact, SyncLink.state)
        .outerjoin(Contact, Contact.id == Deal.contact_id)
        .outerjoin(SyncLink, (SyncLink.workspace_id == Deal.workspace_id) & (SyncLink.kind == "deal")
                   & (SyncLink.local_id == Deal.id))
        .where(Deal.workspace_id == workspace_id)
        .order_by(Deal.updated_at.desc(), Deal.id.desc())
    )
    if stage and stage in stages(session, workspace_id):
        stmt = stmt.where(Deal.stage == stage)
    if query.strip():
        stmt = stmt.where(contains_any([Deal.name, Contact.name, Contact.email], query))
    return paginate(session, stmt, page)


def get_deal(session: Session, workspace_id: int, deal_id: int) -> Deal:
    return owned(session, Deal, workspace_id, deal_id)


def contact_email_of(session: Session, deal: Deal) -> str:
    if deal.contact_id is None:
        return ""
    return session.execute(select(Contact.email).where(Contact.id == deal.contact_id)).scalar() or ""


def _resolve_contact(session: Session, workspace_id: int, email: str | None) -> int | None:
    if not (email or "").strip():
        return None
    try:
        normalized = normalize_email(email)
    except InvalidAddress as exc:
        raise DealError("contact_email", str(exc)) from exc
    contact_id = session.execute(
        select(Contact.id).where(
            Contact.workspace_id == workspace_id, Contact.email_normalized == normalized
        )
    ).scalar()
    if contact_id is None:
        raise DealError("contact_email", f"No contact in this workspace has the email {normalized}.")
    return contact_id


def save_deal(session: Session, workspace_id: int, data: DealInput, deal: Deal | None = None) -> Deal:
    """Validate ``data`` completely before touching ``deal``, so a bad form changes nothing."""
    name = (data.name or "").strip()
    if not name:
        raise DealError("name", "A deal needs a name.")
    if data.stage not in stages(session, workspace_id, deal.stage if deal else None):
        raise DealError("stage", "Choose one of the listed stages.")
    try:
        currency = check_currency(data.currency)
        amount_minor = to_minor(data.amount, currency) if (data.amount or "").strip() else None
    except MoneyError as exc:
        raise DealError("amount", str(exc)) from exc
    if amount_minor is not None and amount_minor < 0:
        raise DealError("amount", "The amount cannot be negative.")
    contact_id = _resolve_contact(session, workspace_id, data.contact_email)

    deal = deal or Deal(workspace_id=workspace_id, name=name)
    deal.name = name[:120]
    deal.amount_minor = amount_minor
    deal.currency = currency
    deal.stage = data.stage
    deal.close_date = data.close_date
    deal.contact_id = contact_id
    deal.updated_at = utcnow()
    session.add(deal)
    session.flush()
    return deal


def pipeline_totals(session: Session, workspace_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Deal.stage, func.count()).where(Deal.workspace_id == workspace_id).group_by(Deal.stage)
    ).all()
    return {stage: n for stage, n in rows}


def salesforce_link(session: Session, workspace_id: int, deal_id: int) -> SalesforceLink | None:
    from webapp.models import SyncRecordError

    link = session.execute(select(SyncLink).where(
        SyncLink.workspace_id == workspace_id, SyncLink.kind == "deal", SyncLink.local_id == deal_id)).scalar_one_or_none()
    if link is None:
        return None
    error = session.execute(select(SyncRecordError.message, SyncRecordError.match_sobject, SyncRecordError.match_id).where(
        SyncRecordError.workspace_id == workspace_id, SyncRecordError.sobject == "Deal",
        SyncRecordError.sf_id == str(deal_id))).first()
    instance = session.execute(select(SalesforceConnection.instance_url).where(
        SalesforceConnection.workspace_id == workspace_id)).scalar()
    url = record_url(instance, link.sf_id, "Opportunity") if link.state == "linked" and link.sf_id else None
    match_url = record_url(instance, error.match_id, error.match_sobject) if error and error.match_id and error.match_sobject else None
    return SalesforceLink(link.state, link.sf_id, link.unlinked_at, error.message if error else None, url,
                          error.match_sobject if error else None, match_url)


def delete_deal(session: Session, workspace_id: int, deal_id: int) -> str:
    """Delete a deal. Its opportunity is deleted on the next sync only when the admin turned
    that on; otherwise it stays in Salesforce, unlinked. Returns the deal's name."""
    deal = get_deal(session, workspace_id, deal_id)
    name = deal.name
    delete_remote = session.execute(select(SyncSettings.delete_in_salesforce).where(
        SyncSettings.workspace_id == workspace_id)).scalar()
    link = session.execute(select(SyncLink).where(
        SyncLink.workspace_id == workspace_id, SyncLink.kind == "deal", SyncLink.local_id == deal.id)).scalar_one_or_none()
    if link is not None:
        if delete_remote and link.state in ("linked", "pending"):
            # Kept until the opportunity is deleted (or, pending, until its create is settled).
            link.state, link.name, link.updated_at = "deleted", name[:255], utcnow()
            session.add(link)
        else:
            session.delete(link)
    session.delete(deal)
    session.flush()
    return name

