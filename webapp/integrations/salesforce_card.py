"""What the Salesforce card shows for an email address, and why it shows nothing.

A lookup is at most two SOQL calls, cached per workspace and email for five minutes, misses
included: the contacts with the address (and their account's name), then either the chosen
contact's account's recent opportunities or, when no contact has the address, its leads. An
unconverted lead is shown as a lead; a converted one leads to its contact, read through the
lead's ConvertedContact relationship in that same second call (so without opportunities, which
would take a third). When several records share the address, the one an agent chose for the
workspace is shown (``salesforce_choices``), else the most recently modified.
Concurrent misses for one email wait for a single lookup. When Salesforce is slow, down or
over its limit the card says so (or, once synced, shows the mirror's copy) and the page
around it is unaffected: the lookup runs on a bounded pool of its own (``live_lookups``), the
request waits for it only within a short budget, and a card answered before the lookup
finished says so and asks the browser to come back (``pending``), by when the cache is filled.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote, urlsplit

from babel.numbers import format_currency
from cachelib import BaseCache
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from webapp.addresses import InvalidAddress, normalize_email
from webapp.cache import SingleFlight
from webapp.clock import as_utc, utcnow
from webapp.crypto import Vault
from webapp.integrations import card_cache, salesforce_choices
from webapp.integrations.salesforce_choices import Chosen
from webapp.integrations.live_lookups import Late, LiveLookups, Saturated
from webapp.integrations.salesforce_connection import NotConnected, cached_state, client_for, forget_state
from webapp.models import SalesforceConnection
from webapp.money import format_money
from webapp.salesforce import soql
from webapp.sync import mirror
from webapp.salesforce.client import RetryPolicy, SalesforceClient
from webapp.salesforce.sync import inbox
from webapp.salesforce.errors import BadQuery, RateLimited, ReconnectNeeded, SalesforceError, Unavailable
from webapp.salesforce.fields import FieldAccess

log = logging.getLogger(__name__)

STATES = ("shown", "not-connected", "no-email", "no-match", "reconnect", "unavailable")
REASONS = {
    "not-connected": "not connected for this workspace.",
    "no-email": "this contact has no email address to look up.",
    "no-match": "no Salesforce contact or lead has this email address.",
    "reconnect": "the connection needs to be reconnected.",
    "unavailable": "could not be reached; try again later.",
}
MAX_OPPORTUNITIES = 5
CARD_OBJECTS = ("Contact", "Lead", "Opportunity")
MATCH_LIMIT = 50
REFRESH_COOLDOWN = 10  # seconds between forced refreshes per user
# The lookup runs off the request threads; these bound how long it holds a lookup slot.
CARD_TIMEOUT = (3.0, 6.0)
CARD_RETRY = RetryPolicy(attempts=2, base_delay=0.2, max_delay=0.5)


class BadEmail(ValueError):
    pass


@dataclass
class OpportunityLine:
    name: str
    stage: str
    amount: str
    pill: str  # won | lost | open
    close_date: str | None


@dataclass
class MatchOption:
    """One of several records sharing the address, for the agent to choose from."""

    sf_id: str
    name: str
    detail: str | None  # the account (a contact's) or company (a lead's), and title
    record_url: str | None


@dataclass
class CardData:
    contact_id: str  # the record shown: a Contact's or a Lead's Id
    contact_name: str
    title: str | None
    lead_source: str | None
    account_name: str | None
    record_url: str | None
    opportunities: list[OpportunityLine] = field(default_factory=list)
    other_matches: int = 0
    fetched_at: str = ""  # ISO time the data left Salesforce
    from_mirror: bool = False
    sobject: str = "Contact"  # Contact | Lead
    company: str | None = None  # a lead's
    status: str | None = None  # a lead's
    converted: bool = False  # the contact a converted lead became
    matches: list[MatchOption] = field(default_factory=list)  # all of them, when several
    chosen: bool = False  # an agent chose this one among several
    account_id: str | None = None
    more_opportunities: int = 0  # on the account beyond those shown, when the synced copy knows
    opportunities_url: str | None = None  # the account's opportunities in Salesforce, when there are more


@dataclass
class CardResult:
    state: str
    email: str | None = None
    card: CardData | None = None
    cached: bool = False
    pending: bool = False  # answered before the live lookup finished; it goes on filling the cache
    busy: bool = False  # every lookup slot was taken, so none started: the browser waits longer

    @property
    def reason(self) -> str:
        return REASONS.get(self.state, "")

    @property
    def fetched_at(self) -> datetime | None:
        if self.card and self.card.fetched_at:
            return datetime.fromisoformat(self.card.fetched_at)
        return None


def pill(is_won: bool | None, is_closed: bool | None) -> str:
    """Won / Lost / Open from the stage's flags; orgs rename stages, so never from the name."""
    if is_won:
        return "won"
    if is_closed:
        return "lost"
    return "open"


def money(amount, currency: str | None) -> str:
    if amount is None:
        return ""
    if not currency:
        return f"{Decimal(str(amount)):,}"
    return format_currency(Decimal(str(amount)), currency, locale="en_US")


def record_url(instance_url: str | None, record_id: str, sobject: str = "Contact", related: str | None = None) -> str | None:
    """A link into Salesforce, only ever on the saved instance over http(s); ``related``: one
    of the record's related lists ("Opportunities")."""
    if not instance_url:
        return None
    parts = urlsplit(instance_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    base = f"{parts.scheme}://{parts.netloc}/lightning/r/{sobject}/{quote(record_id, safe='')}"
    return f"{base}/related/{quote(related, safe='')}/view" if related else f"{base}/view"


# What the card selects; fields the connected user cannot read are left out (see fetch).
CONTACT_FIELDS = ("Id", "Name", "Title", "LeadSource", "AccountId", "Account.Name", "LastModifiedDate")
LEAD_FIELDS = ("Id", "Name", "Title", "Company", "Status", "LeadSource", "IsConverted", "ConvertedContactId",
               "ConvertedContact.Name", "ConvertedContact.Title", "ConvertedContact.LeadSource",
               "ConvertedContact.Account.Name", "LastModifiedDate")
OPPORTUNITY_FIELDS = ("Id", "Name", "StageName", "Amount", "CloseDate", "IsClosed", "IsWon")


def contact_query(email: str, fields=CONTACT_FIELDS) -> str:
    return (
        f"SELECT {', '.join(fields)} "
        f"FROM Contact WHERE Email = {soql.quote(email)} "
        # Ties broken by Id, so the pick is the same on every lookup and in the sync's inbox contact.
        f"ORDER BY LastModifiedDate DESC, Id ASC LIMIT {MATCH_LIMIT}"
    )


def lead_query(email: str, fields=LEAD_FIELDS) -> str:
    """Leads with the address; a converted one carries its contact, so no third call is needed."""
    return (
        f"SELECT {', '.join(fields)} "
        f"FROM Lead WHERE Email = {soql.quote(email)} "
        f"ORDER BY LastModifiedDate DESC, Id LIMIT {MATCH_LIMIT}"
    )


def _pick(records: list[dict], choice: Chosen | None, sobject: str) -> tuple[dict, bool]:
    """The record an agent chose when it is still among them, else the most recent."""
    if choice is not None and choice.sobject == sobject and len(records) > 1:
        for record in records:
            if record["Id"] == choice.sf_id:
                return record, True
    return records[0], False


def _options(records: list[dict], instance: str | None, sobject: str) -> list[MatchOption]:
    if len(records) < 2:
        return []
    options = []
    for r in records:
        where = (r.get("Account") or {}).get("Name") if sobject == "Contact" else r.get("Company")
        detail = " · ".join(x for x in (where, r.get("Title")) if x) or None
        options.append(MatchOption(r["Id"], r.get("Name") or r["Id"], detail, record_url(instance, r["Id"], sobject)))
    return options


def opportunity_query(account_id: str, multi_currency: bool, fields=OPPORTUNITY_FIELDS) -> str:
    currency = ("CurrencyIsoCode",) if multi_currency else ()
    return (
        f"SELECT {', '.join(tuple(fields) + currency)} "
        f"FROM Opportunity WHERE AccountId = {soql.quote(account_id)} "
        # One more than shown: whether there are more, within the same call.
        f"ORDER BY LastModifiedDate DESC LIMIT {MAX_OPPORTUNITIES + 1}"
    )


def _readable(fields: FieldAccess | None, sobject: str, wanted: tuple[str, ...], *, needs=("Email",)) -> tuple | None:
    """The card's SELECT list for ``sobject`` as the connected user may read it; None when the
    user cannot see the object or a field the query filters on."""
    if fields is None:
        return wanted
    if not fields.of(sobject).available or not all(fields.can_read(sobject, n) for n in needs):
        return None
    return tuple(fields.select(sobject, wanted)[0])


def fetch(client: SalesforceClient, email: str, *, multi_currency: bool, org_currency: str | None,
          choice: Chosen | None = None, fields: FieldAccess | None = None) -> CardData | None:
    """The two calls. None when no Salesforce contact or lead has the address. ``fields``: what
    the connected user may read; a hidden field is left out and its line of the card with it."""
    selected = _readable(fields, "Contact", CONTACT_FIELDS)
    matches = list(client.query(contact_query(email, selected))) if selected else []
    if not matches:
        return _lead_card(client, email, choice, fields)
    contact, chosen = _pick(matches, choice, "Contact")
    account = contact.get("Account") or {}
    lines: list[OpportunityLine] = []
    more = False
    opp_fields = _readable(fields, "Opportunity", OPPORTUNITY_FIELDS, needs=("AccountId",))
    if multi_currency and fields is not None and not fields.can_read("Opportunity", "CurrencyIsoCode"):
        multi_currency = False  # amounts then show without a currency
    if contact.get("AccountId") and opp_fields:
        for opp in client.query(opportunity_query(contact["AccountId"], multi_currency, opp_fields)):
            if len(lines) == MAX_OPPORTUNITIES:
                more = True  # how many, the synced copy says (``_count_more``)
                continue
            currency = opp.get("CurrencyIsoCode") if multi_currency else org_currency
            lines.append(
                OpportunityLine(
                    name=opp.get("Name") or "",
                    stage=opp.get("StageName") or "",
                    amount=money(opp.get("Amount"), currency),
                    pill=pill(opp.get("IsWon"), opp.get("IsClosed")),
                    close_date=opp.get("CloseDate"),
                )
            )
    instance = client.auth.token().instance_url
    return CardData(
        contact_id=contact["Id"],
        contact_name=contact.get("Name") or email,
        title=contact.get("Title") or None,
        lead_source=contact.get("LeadSource") or None,
        account_name=account.get("Name") if account else None,
        record_url=record_url(instance, contact["Id"]),
        opportunities=lines,
        other_matches=len(matches) - 1,
        fetched_at=utcnow().isoformat(),
        matches=_options(matches, instance, "Contact"),
        chosen=chosen,
        account_id=contact.get("AccountId"),
        opportunities_url=record_url(instance, contact["AccountId"], "Account", "Opportunities") if more else None,
    )


def _count_more(engine: Engine, workspace_id: int, card: CardData) -> None:
    """How many opportunities beyond those shown, from the synced copy (no third call). Left
    at 0 (the card says "More") when the copy knows no more than Salesforce showed."""
    if not card.opportunities_url or not card.account_id:
        return
    with Session(engine) as session:
        total = mirror.opportunity_count(session, workspace_id, card.account_id)
    card.more_opportunities = max(total - len(card.opportunities), 0)


def _lead_card(client: SalesforceClient, email: str, choice: Chosen | None,
               fields: FieldAccess | None = None) -> CardData | None:
    """The second call when no contact has the address: its leads."""
    selected = _readable(fields, "Lead", LEAD_FIELDS)
    leads = list(client.query(lead_query(email, selected))) if selected else []
    instance = client.auth.token().instance_url
    open_leads = [lead for lead in leads if not lead.get("IsConverted")]
    if open_leads:
        lead, chosen = _pick(open_leads, choice, "Lead")
        return CardData(
            contact_id=lead["Id"],
            contact_name=lead.get("Name") or email,
            title=lead.get("Title") or None,
            lead_source=lead.get("LeadSource") or None,
            account_name=None,
            record_url=record_url(instance, lead["Id"], "Lead"),
            other_matches=len(open_leads) - 1,
            fetched_at=utcnow().isoformat(),
            sobject="Lead",
            company=lead.get("Company") or None,
            status=lead.get("Status") or None,
            matches=_options(open_leads, instance, "Lead"),
            chosen=chosen,
        )
    for lead in leads:  # only converted ones: show the contact each became
        contact = lead.get("ConvertedContact")
        if lead.get("ConvertedContactId") and contact:
            return CardData(
                contact_id=lead["ConvertedContactId"],
                contact_name=contact.get("Name") or email,
                title=contact.get("Title") or None,
                lead_source=contact.get("LeadSource") or None,
                account_name=(contact.get("Account") or {}).get("Name"),
                record_url=record_url(instance, lead["ConvertedContactId"]),
                fetched_at=utcnow().isoformat(),
                converted=True,
            )
    return None


def _encode(result: CardResult) -> dict:
    return {"state": result.state, "card": asdict(result.card) if result.card else None}


def _decode(email: str, value: dict) -> CardResult:
    card = value.get("card")
    if card:
        card = CardData(**{
            **card,
            "opportunities": [OpportunityLine(**o) for o in card["opportunities"]],
            "matches": [MatchOption(**m) for m in card.get("matches", [])],
        })
    return CardResult(state=value["state"], email=email, card=card, cached=True)


@dataclass
class CardServices:
    """What a lookup needs from the app, passed in so this module stays request-free."""

    engine: Engine
    vault: Vault
    cache: BaseCache
    flights: SingleFlight
    lookups: LiveLookups
    budget: float = 2.0  # seconds a request waits for a live lookup


def from_mirror(engine: Engine, workspace_id: int, email: str) -> CardData | None:
    """The last synced copy, for when Salesforce cannot answer. Same shape, marked as such.
    Leads are not mirrored: for an address only a lead has, there is no copy."""
    choice = salesforce_choices.chosen(engine, workspace_id, email)
    prefer = choice.sf_id if choice and choice.sobject == "Contact" else None
    with Session(engine) as session:
        copy = mirror.card(session, workspace_id, email, limit=MAX_OPPORTUNITIES, prefer=prefer)
        if copy is None:
            return None
        instance = session.execute(
            select(SalesforceConnection.instance_url).where(SalesforceConnection.workspace_id == workspace_id)
        ).scalar()
    contact = copy.contact
    return CardData(
        contact_id=contact.sf_id,
        contact_name=contact.name or email,
        title=contact.title,
        lead_source=contact.lead_source,
        account_name=contact.account_name,
        record_url=record_url(instance, contact.sf_id),
        opportunities=[
            OpportunityLine(
                name=opp.name,
                stage=opp.stage_name or "",
                amount=format_money(opp.amount_minor, opp.currency),
                pill=pill(opp.is_won, opp.is_closed),
                close_date=opp.close_date.isoformat() if opp.close_date else None,
            )
            for opp in copy.opportunities
        ],
        other_matches=copy.other_matches,
        fetched_at=as_utc(copy.synced_at).isoformat(),
        from_mirror=True,
        account_id=contact.account_id,
        more_opportunities=max(copy.opportunity_total - len(copy.opportunities), 0),
        opportunities_url=record_url(instance, contact.account_id, "Account", "Opportunities")
        if contact.account_id and copy.opportunity_total > len(copy.opportunities) else None,
    )


@dataclass(frozen=True)
class _Org:
    state: str | None
    multi_currency: bool = False
    org_currency: str | None = None
    sf_user_id: str | None = None


def _org(services: CardServices, workspace_id: int) -> _Org:
    """The connection's state, cached briefly: a cache hit should not need the database."""
    return _Org(*cached_state(services.engine, services.cache, workspace_id))


def forget_connection_state(cache: BaseCache, workspace_id: int) -> None:
    """Called when a connection changes, so cards and the banner notice at once."""
    forget_state(cache, workspace_id)


def lookup(services: CardServices, workspace_id: int, email: str, *, refresh: bool = False) -> CardResult:
    if not (email or "").strip():
        return CardResult(state="no-email")
    try:
        normalized = normalize_email(email)
    except InvalidAddress as exc:
        raise BadEmail(str(exc)) from exc

    org = _org(services, workspace_id)
    if org.state is None or org.state == "configured":
        return CardResult(state="not-connected", email=normalized)
    if org.state == "reconnect":
        return CardResult(state="reconnect", email=normalized)

    key = card_cache.card_key(workspace_id, normalized)
    if not refresh:
        cached = services.cache.get(key)
        if cached is not None:
            return _decode(normalized, cached)
    try:
        flight = services.lookups.submit(key, lambda: _fill(services, org, workspace_id, normalized, key, refresh))
        return services.lookups.wait(flight, services.budget)
    except Saturated:
        return _meanwhile(services, workspace_id, normalized, busy=True)
    except Late:
        return _meanwhile(services, workspace_id, normalized)


def _fill(services: CardServices, org: _Org, workspace_id: int, email: str, key: str, refresh: bool) -> CardResult:
    """On the lookup pool: one live lookup per key across processes, and the cache filled."""
    with services.flights.hold(key):
        if not refresh:
            cached = services.cache.get(key)  # filled while we waited for the lookup in flight
            if cached is not None:
                return _decode(email, cached)
        result = _live(services, org, workspace_id, email)
        if result.state in ("shown", "no-match") and not (result.card and result.card.from_mirror):
            services.cache.set(key, _encode(result), timeout=card_cache.TTL_SECONDS)
        return result


def _meanwhile(services: CardServices, workspace_id: int, email: str, *, busy: bool = False) -> CardResult:
    """What the card says while Salesforce is still answering: the synced copy, or unavailable."""
    fallback = from_mirror(services.engine, workspace_id, email)
    if fallback is not None:
        return CardResult(state="shown", email=email, card=fallback, pending=True, busy=busy)
    return CardResult(state="unavailable", email=email, pending=True, busy=busy)


def _live(services: CardServices, org: _Org, workspace_id: int, email: str) -> CardResult:
    try:
        client = client_for(services.engine, services.vault, workspace_id, timeout=CARD_TIMEOUT, retry=CARD_RETRY,
                            describe_cache=services.cache)
        choice = salesforce_choices.chosen(services.engine, workspace_id, email)
        fields = FieldAccess(services.engine, client, workspace_id, user_id=org.sf_user_id)
        try:
            card = fetch(client, email, multi_currency=org.multi_currency, org_currency=org.org_currency, choice=choice,
                         fields=fields)
        except BadQuery as exc:
            if exc.code != "INVALID_FIELD":
                raise
            # A field was hidden since the describe we kept: look again, then ask without it.
            for sobject in CARD_OBJECTS:
                fields.recheck(sobject)
            card = fetch(client, email, multi_currency=org.multi_currency, org_currency=org.org_currency, choice=choice,
                         fields=fields)
    except NotConnected:
        return CardResult(state="not-connected", email=email)
    except ReconnectNeeded:
        forget_connection_state(services.cache, workspace_id)
        return CardResult(state="reconnect", email=email)
    except (Unavailable, RateLimited, SalesforceError) as exc:
        log.warning("salesforce card lookup failed", extra={"workspace": workspace_id, "error": str(exc)})
        fallback = from_mirror(services.engine, workspace_id, email)
        if fallback is not None:
            return CardResult(state="shown", email=email, card=fallback)
        return CardResult(state="unavailable", email=email)
    if card is None:
        return CardResult(state="no-match", email=email)
    _count_more(services.engine, workspace_id, card)
    return CardResult(state="shown", email=email, card=card)


PENDING_RETRIES = 3  # the browser asks again after about 3, 6 and 12 seconds, then offers Retry


def retry_in(result: CardResult, attempt: int) -> float | None:
    """Seconds until the browser should ask again for a card answered before Salesforce did.
    Jittered, so that the cards of many agents do not all come back in the same instant."""
    if not result.pending or attempt >= PENDING_RETRIES:
        return None
    # When every lookup slot was taken the server is already waiting on Salesforce for others:
    # asking again soon would only add load, so the browser waits twice as long.
    return round(3 * 2**attempt * (2 if result.busy else 1) * random.uniform(0.5, 1.5), 1)


def may_refresh(cache: BaseCache, user_id: int) -> bool:
    """A forced refresh at most every few seconds per user: it spends the org's API calls."""
    return bool(cache.add(f"sfcard-refresh:{user_id}", 1, timeout=REFRESH_COOLDOWN))


def choose(services: CardServices, workspace_id: int, user_id: int, email: str, sobject: str, sf_id: str) -> CardResult:
    """Remembers which of the records sharing the address this person is, and shows it. Only a
    record among the card's current matches may be chosen."""
    salesforce_choices.check(sobject, sf_id)
    current = lookup(services, workspace_id, email)
    card = current.card
    if card is None or card.from_mirror or current.pending:
        raise salesforce_choices.ChoiceRefused("Salesforce could not list the matches just now; try again in a moment.")
    if card.sobject != sobject or sf_id not in {m.sf_id for m in card.matches}:
        raise salesforce_choices.ChoiceRefused("That record is not one of those sharing this email address.")
    salesforce_choices.remember(services.engine, workspace_id, current.email, sobject, sf_id, user_id)
    if sobject == "Contact":
        _relink_inbox_contact(services.engine, workspace_id, current.email)
    card_cache.invalidate(services.cache, workspace_id, [current.email])
    return lookup(services, workspace_id, current.email)


def _relink_inbox_contact(engine: Engine, workspace_id: int, email: str) -> None:
    """The inbox contact follows the choice now, from the synced copy, rather than next sync."""
    with engine.begin() as conn:  # the sync's own reconcile, for this one address
        inbox.reconcile(conn, workspace_id, {email}, utcnow())
