"""What the settings page says about fields the integration user cannot see, and what each
one costs. Read from the access the card and the sync keep (webapp.salesforce.fields), so the
page never waits for Salesforce; "Check again" describes the objects afresh."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from webapp.crypto import Vault
from webapp.integrations.salesforce_connection import NotConnected, client_for
from webapp.models import SalesforceConnection
from webapp.salesforce import fields as access
from webapp.salesforce.client import RetryPolicy
from webapp.salesforce.errors import SalesforceError

QUICK = {"timeout": (3.0, 10.0), "retry": RetryPolicy(attempts=2, base_delay=0.2, max_delay=0.5)}


@dataclass(frozen=True)
class Use:
    sobject: str
    name: str
    label: str
    cost: str  # what the product loses while the field is hidden


# The fields the card, the sync, two-way and analytics rely on, and what losing each costs.
USES = (
    Use("Contact", "Email", "Contact email", "the card cannot find contacts by address and inbox contacts are not matched"),
    Use("Contact", "AccountId", "Contact's account", "the card shows no account or opportunities for contacts"),
    Use("Contact", "Title", "Contact title", "the card will not show it, and the sync and two-way sync leave titles alone"),
    Use("Contact", "LeadSource", "Lead source", "the card will not show it, and analytics cannot group contacts by it"),
    Use("Contact", "Phone", "Contact phone", "inbox contacts get no phone from Salesforce, and two-way sync leaves phones alone"),
    Use("Account", "Type", "Account type", "analytics cannot group or filter by account type"),
    Use("Account", "Industry", "Account industry", "analytics cannot group or filter by industry"),
    Use("Account", "Website", "Account website", "accounts are not matched to email domains"),
    Use("Opportunity", "AccountId", "Opportunity's account", "the card shows no opportunities"),
    Use("Opportunity", "Amount", "Opportunity amount",
        "the card and analytics show opportunities without amounts, and deal amounts are not synced"),
    Use("Opportunity", "IsWon", "Opportunity won", "the card's Won / Lost / Open pills are wrong"),
    Use("OpportunityHistory", "Amount", "Stage history amount", "stage history keeps no amounts"),
    Use("Lead", "Email", "Lead email", "the card cannot find leads"),
    Use("Lead", "Title", "Lead title", "the card will not show it for leads"),
    Use("Lead", "LeadSource", "Lead's lead source", "the card will not show it for leads"),
)
SOBJECTS = tuple(dict.fromkeys(u.sobject for u in USES))


@dataclass(frozen=True)
class Hidden:
    label: str
    sobject: str
    name: str
    cost: str

    @property
    def sentence(self) -> str:
        return f"{self.label} is hidden from the integration user: {self.cost}."


@dataclass
class FieldAccessView:
    checked_at: datetime | None = None
    hidden: list[Hidden] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)  # objects the user cannot see at all
    checked: bool = False  # the access of at least one object is known


def view(session: Session, workspace_id: int) -> FieldAccessView:
    known = access.stored(session.connection(), workspace_id)
    out = FieldAccessView(checked=bool(known))
    if not known:
        return out
    out.checked_at = min(a.checked_at for a in known.values() if a.checked_at)
    for sobject, a in known.items():
        if not a.available:
            out.unavailable.append(sobject)
    for use in USES:
        a = known.get(use.sobject)
        if a is not None and a.available and not a.can_read(use.name):
            out.hidden.append(Hidden(use.label, use.sobject, use.name, use.cost))
    return out


class Unreachable(Exception):
    """Salesforce could not be asked just now."""


def check_now(engine: Engine, vault: Vault, cache, workspace_id: int) -> FieldAccessView:
    """Describe every object the product reads afresh and keep what each says."""
    try:
        client = client_for(engine, vault, workspace_id, describe_cache=cache, **QUICK)
    except (NotConnected, SalesforceError) as exc:
        raise Unreachable(str(exc)) from exc
    with Session(engine) as session:
        user_id = session.execute(select(SalesforceConnection.sf_user_id)
                                  .where(SalesforceConnection.workspace_id == workspace_id)).scalar()
    checker = access.FieldAccess(engine, client, workspace_id, user_id=user_id)
    try:
        for sobject in SOBJECTS:
            checker.recheck(sobject)
    except SalesforceError as exc:
        raise Unreachable(f"Salesforce did not answer: {exc}") from exc
    with Session(engine) as session:
        return view(session, workspace_id)

