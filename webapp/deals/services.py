"""Creating, editing and listing deals, scoped to one workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import String, cast, func, select
from sqlmodel import Session

from webapp.addresses import InvalidAddress, normalize_email
from webapp.clock import utcnow
from webapp.scoping import NotFound, owned
from webapp.listing import Page, contains_any, paginate
from webapp.integrations.salesforce_card import record_url
from webapp.models import DEAL_STAGES, Contact, Deal, SalesforceConnection, SfOpportunityStage, SyncLink, SyncSettings
from webapp.money import DEFAULT_LOCALE, MoneyError, check_currency, parse_amount
from webapp.salesforce.errors import record_action
from webapp.validation import FieldError

CONTACT_OPTIONS = 8  # contacts a search offers at once


class DealError(FieldError):
    """Invalid deal input: ``errors`` holds a message per field, all of them at once."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(field, message)
        self.errors = errors


@dataclass
class DealInput:
    name: str
    amount: str | None
    currency: str
    stage: str
    close_date: date | None
    contact_id: int | None = None  # the contact picked from the search
    contact: str = ""  # the search box's text: an exact email still finds its contact
    locale: str = DEFAULT_LOCALE  # the workspace's, in which the amount is written


@dataclass
class ContactOption:
    id: int
    name: str
    email: str | None

    @property
    def label(self) -> str:
        return f"{self.name} <{self.email}>" if self.email and self.name != self.email else (self.name or self.email or "")


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

    @property
    def error_code(self) -> str | None:
        return record_action(self.error)[0]

    @property
    def error_action(self) -> str:
        return record_action(self.error)[1]

    @property
    def error_detail(self) -> str:
        return record_action(self.error)[2]

    @property
    def in_step(self) -> bool:
        """Linked and its last change taken: only then is it "synced"."""
        return self.state == "linked" and not self.error


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
    """Rows of (deal, contact, Salesforce link state, whether Salesforce refused its last push)."""
    from webapp.models import SyncRecordError

    stmt = (
        select(Deal, Contact, SyncLink.state, SyncRecordError.id.is_not(None))
        .outerjoin(Contact, Contact.id == Deal.contact_id)
        .outerjoin(SyncLink, (SyncLink.workspace_id == Deal.workspace_id) & (SyncLink.kind == "deal")
                   & (SyncLink.local_id == Deal.id))
        .outerjoin(SyncRecordError, (SyncRecordError.workspace_id == Deal.workspace_id)
                   & (SyncRecordError.sobject == "Deal") & (SyncRecordError.sf_id == cast(Deal.id, String)))
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


def contact_option(session: Session, workspace_id: int, contact_id: int | None) -> ContactOption | None:
    if contact_id is None:
        return None
    try:
        contact = owned(session, Contact, workspace_id, contact_id)
    except NotFound:
        return None
    return ContactOption(contact.id, contact.display_name, contact.email)


def contact_by_email(session: Session, workspace_id: int, email: str | None) -> ContactOption | None:
    """The contact with exactly this address (links such as "New deal" from a contact's page)."""
    try:
        normalized = normalize_email(email)
    except InvalidAddress:
        return None
    contact = session.execute(select(Contact).where(
        Contact.workspace_id == workspace_id, Contact.email_normalized == normalized)).scalar()
    return ContactOption(contact.id, contact.display_name, contact.email) if contact else None


def search_contacts(session: Session, workspace_id: int, query: str) -> list[ContactOption]:
    """Contacts whose name, email or company contains the words typed, best first: names
    that start with the text, then the rest by name."""
    query = (query or "").strip()[:100]
    if not query:
        return []
    starts = func.lower(Contact.name).startswith(query.lower(), autoescape=True)
    rows = session.execute(
        select(Contact.id, Contact.name, Contact.email)
        .where(Contact.workspace_id == workspace_id, contains_any([Contact.name, Contact.email, Contact.company], query))
        .order_by(starts.desc(), func.lower(Contact.name), Contact.id)
        .limit(CONTACT_OPTIONS)
    ).all()
    return [ContactOption(id_, name or email or "", email) for id_, name, email in rows]


PICK_A_CONTACT = "Choose a contact from the list: type part of a name or an email, then pick one."


def _resolve_contact(session: Session, workspace_id: int, data: DealInput) -> int | None:
    if data.contact_id is not None:
        if contact_option(session, workspace_id, data.contact_id) is None:
            raise ValueError(PICK_A_CONTACT)  # another workspace's, or deleted meanwhile
        return data.contact_id
    text = (data.contact or "").strip()
    if not text:
        return None
    found = contact_by_email(session, workspace_id, text)
    if found is None:
        raise ValueError(PICK_A_CONTACT)
    return found.id


def check_deal(session: Session, workspace_id: int, data: DealInput, deal: Deal | None = None) -> dict:
    """Every field checked, so the form shows all its problems at once; raises DealError with
    them, or returns the values to save."""
    errors: dict[str, str] = {}
    name = (data.name or "").strip()
    if not name:
        errors["name"] = "A deal needs a name."
    if data.stage not in stages(session, workspace_id, deal.stage if deal else None):
        errors["stage"] = "Choose one of the listed stages."
    currency, amount_minor = None, None
    try:
        currency = check_currency(data.currency)
    except MoneyError as exc:
        errors["currency"] = str(exc)
    if currency and (data.amount or "").strip():
        try:
            amount_minor = parse_amount(data.amount, currency, data.locale)
        except MoneyError as exc:
            errors["amount"] = str(exc)
        else:
            if amount_minor < 0:
                errors["amount"] = "The amount cannot be negative."
    contact_id = None
    try:
        contact_id = _resolve_contact(session, workspace_id, data)
    except ValueError as exc:
        errors["contact"] = str(exc)
    if errors:
        raise DealError(errors)
    return {"name": name, "currency": currency, "amount_minor": amount_minor, "contact_id": contact_id}


def save_deal(session: Session, workspace_id: int, data: DealInput, deal: Deal | None = None) -> Deal:
    """Validate ``data`` completely before touching ``deal``, so a bad form changes nothing."""
    checked = check_deal(session, workspace_id, data, deal)
    name, currency, amount_minor, contact_id = (checked[k] for k in ("name", "currency", "amount_minor", "contact_id"))

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

