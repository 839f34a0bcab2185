"""What the two-way sync keeps in step, who wins a conflict, and the stage mapping.

Values are compared in the inbox's terms (amount as ``[minor units, currency]``, dates as ISO
text, stages as the org's stage names), so a value we wrote that comes back unchanged equals
what we remember and is not a change: that is the echo suppression.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

RULES = ("salesforce", "inbox", "recent", "off")
RULE_LABELS = {"salesforce": "Salesforce wins", "inbox": "Inbox wins", "recent": "Most recent change wins",
               "off": "Not synced"}


@dataclass(frozen=True)
class SyncedField:
    key: str  # "deal.amount"
    kind: str  # deal | contact
    name: str  # the key in value dicts
    label: str
    salesforce: str  # the Salesforce side, as shown to admins
    default: str
    inbound: bool = True  # Salesforce's changes come back; False: the inbox's side only

    @property
    def choices(self) -> tuple[str, ...]:
        return RULES if self.inbound else ("inbox", "off")


FIELDS: tuple[SyncedField, ...] = (
    SyncedField("deal.name", "deal", "name", "Deal name", "Opportunity Name", "recent"),
    SyncedField("deal.stage", "deal", "stage", "Stage", "Stage (mapped to the org's stages)", "recent"),
    SyncedField("deal.amount", "deal", "amount", "Amount and currency", "Amount (and Currency in multi-currency orgs)", "salesforce"),
    SyncedField("deal.close_date", "deal", "close_date", "Close date", "Close Date", "recent"),
    SyncedField("deal.account", "deal", "account", "Contact's account", "Account", "inbox", inbound=False),
    SyncedField("contact.name", "contact", "name", "Contact name", "First Name + Last Name", "salesforce"),
    SyncedField("contact.title", "contact", "title", "Title", "Title", "recent"),
    SyncedField("contact.phone", "contact", "phone", "Phone", "Phone", "recent"),
)
BY_KEY = {f.key: f for f in FIELDS}
# The Salesforce field each one reads and writes: when field-level security hides it from the
# connected user, the field is not synced either way (an unreadable value is no change).
SALESFORCE_FIELDS = {
    "deal.name": ("Opportunity", "Name"), "deal.stage": ("Opportunity", "StageName"),
    "deal.amount": ("Opportunity", "Amount"), "deal.close_date": ("Opportunity", "CloseDate"),
    "deal.account": ("Opportunity", "AccountId"), "contact.name": ("Contact", "Name"),
    "contact.title": ("Contact", "Title"), "contact.phone": ("Contact", "Phone"),
}


def rules_for(saved: dict | None) -> dict[str, str]:
    """The rule of every field: the admin's where valid, else the default."""
    saved = saved or {}
    return {f.key: saved.get(f.key) if saved.get(f.key) in f.choices else f.default for f in FIELDS}


def winner(rule: str, local_at: datetime | None, sf_at: datetime | None) -> str:
    """Who wins when both sides changed a field: 'inbox' or 'salesforce'."""
    if rule == "inbox":
        return "inbox"
    if rule == "recent" and local_at is not None and (sf_at is None or local_at > sf_at):
        return "inbox"
    return "salesforce"


def shown(value) -> str | None:
    """A value as the conflict log shows it."""
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 2:
        from webapp.money import from_minor

        return f"{from_minor(value[0], value[1])} {value[1]}"
    return str(value)


# -- stages ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    name: str
    is_closed: bool
    is_won: bool
    probability: int | None
    sort_order: int | None


# What the inbox's built-in stages mean (a new org's defaults): used when the org has no
# stage of that name, so a deal maps by meaning, never by reading "Won" in a name.
BUILT_IN = {
    "Prospecting": (False, False, 10), "Qualification": (False, False, 10), "Needs Analysis": (False, False, 20),
    "Value Proposition": (False, False, 50), "Id. Decision Makers": (False, False, 60),
    "Perception Analysis": (False, False, 70), "Proposal/Price Quote": (False, False, 75),
    "Negotiation/Review": (False, False, 90), "Closed Won": (True, True, 100), "Closed Lost": (True, False, 0),
}


def map_stage(name: str, org: list[Stage], remembered: tuple | None = None) -> str | None:
    """The org stage for an inbox stage: the same name, else the active stage with the same
    IsClosed/IsWon nearest in probability (then in sort order). ``remembered`` is what the
    stage meant when last synced (closed, won, probability), for stages renamed since."""
    active = [s for s in org if s.name]
    for s in active:
        if s.name == name:
            return s.name
    meaning = remembered or BUILT_IN.get(name)
    if meaning is None or not active:
        return None
    closed, won, probability = meaning
    same = [s for s in active if s.is_closed == bool(closed) and s.is_won == bool(won)]
    if not same:
        return None
    target = probability if probability is not None else 0
    return min(same, key=lambda s: (abs((s.probability if s.probability is not None else target) - target),
                                    s.sort_order if s.sort_order is not None else 999, s.name)).name


def meaning_of(name: str | None, org: list[Stage]) -> list | None:
    for s in org:
        if s.name == name:
            return [s.is_closed, s.is_won, s.probability]
    return None
