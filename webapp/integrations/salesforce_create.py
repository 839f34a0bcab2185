"""Creating a Salesforce contact or lead from the card, when no record has the address.

A create is one POST, made on the lookup pool like every other Salesforce call of the card. The
form carries a signed, short-lived key; the create is recorded under it before it is sent, so a
double click (the same key twice) sends one POST. A create is never resent blindly: when
Salesforce gives no clear answer (``MaybeWritten``) the row says so, and the next attempt for
the address first looks the record up by email.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from webapp.addresses import InvalidAddress, domain_of, normalize_email
from webapp.addresses import FREE_MAIL
from webapp.clock import utcnow
from webapp.integrations import card_cache
from webapp.integrations.live_lookups import Late, Saturated
from webapp.integrations.salesforce_card import (
    CARD_RETRY,
    CARD_TIMEOUT,
    BadEmail,
    CardResult,
    CardServices,
    _fill,
    _org,
    lookup,
    record_url,
)
from webapp.integrations.salesforce_connection import NotConnected, client_for
from webapp.models import Contact, SalesforceConnection, SalesforceCreate
from webapp.salesforce import soql
from webapp.salesforce.fields import FieldAccess
from webapp.salesforce.errors import DuplicatesDetected, MaybeWritten, RequestFailed, SalesforceError

log = logging.getLogger(__name__)

KINDS = {"contact": "Contact", "lead": "Lead"}
KEY_MAX_AGE = 3600  # seconds a create form stays valid
PENDING_SECONDS = 120  # another create for the address within this long is taken as in progress
ACCOUNT_OPTIONS = 10
UNCLEAR = "Salesforce did not confirm; check before trying again."
# Salesforce's field names, as its errors give them, to the form's.
FORM_FIELDS = {"FirstName": "first_name", "LastName": "last_name", "Title": "title", "Company": "company",
               "AccountId": "account_id", "Email": "email"}
ACCOUNT_ID = re.compile(r"^001[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")


class CreateRefused(ValueError):
    """The request itself is wrong (expired form, bad kind or address): a 400."""


@dataclass
class CreateForm:
    kind: str  # contact | lead
    email: str
    key: str = ""
    first_name: str = ""
    last_name: str = ""
    title: str = ""
    company: str = ""
    account_id: str = ""

    @property
    def sobject(self) -> str:
        return KINDS[self.kind]

    def payload(self) -> dict:
        """What Salesforce gets: blanks left out, so its own required-field checks speak."""
        values = {"FirstName": self.first_name, "LastName": self.last_name, "Email": self.email, "Title": self.title}
        if self.kind == "lead":
            values["Company"] = self.company
        elif self.account_id:
            values["AccountId"] = self.account_id
        return {k: v.strip() for k, v in values.items() if v and v.strip()}


@dataclass
class AccountOption:
    sf_id: str
    name: str
    website: str | None


@dataclass
class AccountOptions:
    domain: str | None
    by_domain: list[AccountOption] = field(default_factory=list)
    by_name: list[AccountOption] = field(default_factory=list)
    query: str = ""
    unavailable: bool = False


@dataclass
class Outcome:
    """What a create came to: the card to show, or the form again with Salesforce's messages."""

    result: CardResult | None = None
    errors: dict[str, str] = field(default_factory=dict)  # form field ("" for the form) -> message
    message: str | None = None
    pending: bool = False  # still with Salesforce; the card asks again by itself
    unclear: bool = False
    duplicate: DuplicateMatch | None = None  # the record a duplicate rule says this would duplicate


@dataclass
class DuplicateMatch:
    sobject: str
    sf_id: str
    url: str | None
    allow_save: bool  # the rule only alerts: "Save even when a duplicate rule alerts" would pass it


# -- the form ---------------------------------------------------------------------------------

def _signer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="salesforce-card-create")


def issue_key(secret_key: str, email: str) -> str:
    return _signer(secret_key).dumps({"n": uuid.uuid4().hex, "e": email})


def check_key(secret_key: str, token: str, email: str) -> str:
    """The key's nonce; CreateRefused when the form is forged, for another address or old."""
    try:
        value = _signer(secret_key).loads(token or "", max_age=KEY_MAX_AGE)
    except SignatureExpired:
        raise CreateRefused("This form has expired; open it again from the card.") from None
    except BadSignature:
        raise CreateRefused("This form is not valid; open it again from the card.") from None
    if not isinstance(value, dict) or value.get("e") != email or not isinstance(value.get("n"), str):
        raise CreateRefused("This form is for another address; open it again from the card.")
    return value["n"]


def company_from_domain(email: str) -> str:
    """'acme-tools.co.uk' -> 'Acme Tools': a guess to edit, never for free-mail addresses."""
    domain = domain_of(email)
    if domain in FREE_MAIL:
        return ""
    labels = domain.split(".")
    name = labels[-3] if len(labels) > 2 and len(labels[-2]) <= 3 and len(labels[-1]) == 2 else labels[0]
    return " ".join(part.capitalize() for part in re.split(r"[-_]+", name) if part)


def prefill(session: Session, workspace_id: int, kind: str, email: str, secret_key: str) -> CreateForm:
    """A new form for the address, filled from the inbox contact that has it."""
    if kind not in KINDS:
        raise CreateRefused("Create a contact or a lead.")
    try:
        normalized = normalize_email(email)
    except InvalidAddress as exc:
        raise BadEmail(str(exc)) from exc
    contact = session.execute(
        select(Contact).where(Contact.workspace_id == workspace_id, Contact.email_normalized == normalized)
    ).scalar_one_or_none()
    first, _, last = ((contact.name if contact else "") or "").strip().rpartition(" ")
    if not first:  # one word: Salesforce requires the last name
        first, last = "", last
    return CreateForm(
        kind=kind,
        email=normalized,
        key=issue_key(secret_key, normalized),
        first_name=first,
        last_name=last,
        title=(contact.title if contact else None) or "",
        company=((contact.company if contact else None) or company_from_domain(normalized)) if kind == "lead" else "",
    )


def form_from(values, secret_key: str) -> CreateForm:
    kind = values.get("kind", "")
    if kind not in KINDS:
        raise CreateRefused("Create a contact or a lead.")
    try:
        email = normalize_email(values.get("email", ""))
    except InvalidAddress as exc:
        raise BadEmail(str(exc)) from exc
    form = CreateForm(kind=kind, email=email, key=values.get("key", ""),
                      **{name: (values.get(name) or "")[:1000] for name in
                         ("first_name", "last_name", "title", "company", "account_id")})
    return form


# -- accounts to choose from ------------------------------------------------------------------

def _website_host(website: str | None) -> str:
    if not website:
        return ""
    host = urlsplit(website if "//" in website else f"//{website}").hostname or ""
    return host.removeprefix("www.")


def account_queries(domain: str | None, name: str) -> tuple[str | None, str | None]:
    by_domain = (
        f"SELECT Id, Name, Website FROM Account WHERE Website LIKE {soql.contains(domain)} "
        f"ORDER BY Name LIMIT {ACCOUNT_OPTIONS * 2}"
        if domain else None
    )
    by_name = (
        f"SELECT Id, Name, Website FROM Account WHERE Name LIKE {soql.contains(name)} "
        f"ORDER BY Name LIMIT {ACCOUNT_OPTIONS}"
        if name else None
    )
    return by_domain, by_name


def accounts(services: CardServices, workspace_id: int, email: str, name: str = "") -> AccountOptions:
    """Accounts whose website is the sender's domain, then those whose name has ``name``: at
    most two calls, on the lookup pool."""
    domain = domain_of(email)
    domain = None if domain in FREE_MAIL else domain
    name = name.strip()[:80]
    options = AccountOptions(domain=domain, query=name)
    by_domain, by_name = account_queries(domain, name)

    def work() -> AccountOptions:
        client = client_for(services.engine, services.vault, workspace_id, state_cache=services.cache,
                            timeout=CARD_TIMEOUT, retry=CARD_RETRY)
        if by_domain:
            for r in client.query(by_domain):
                host = _website_host(r.get("Website"))
                if host == domain or host.endswith("." + domain):  # LIKE also matched 'notacme.com'
                    options.by_domain.append(AccountOption(r["Id"], r.get("Name") or r["Id"], r.get("Website")))
            del options.by_domain[ACCOUNT_OPTIONS:]
        if by_name:
            seen = {a.sf_id for a in options.by_domain}
            options.by_name = [AccountOption(r["Id"], r.get("Name") or r["Id"], r.get("Website"))
                               for r in client.query(by_name) if r["Id"] not in seen]
        return options

    try:
        flight = services.lookups.submit(f"sfaccounts:{workspace_id}:{domain}:{name.lower()}", work)
        return services.lookups.wait(flight, services.budget)
    except (Saturated, Late, NotConnected, SalesforceError) as exc:
        log.warning("salesforce account search failed", extra={"workspace": workspace_id, "error": repr(exc)})
        return AccountOptions(domain=domain, query=name, unavailable=True)


# -- the create -------------------------------------------------------------------------------

def _set(engine, row_id: int, **values) -> None:
    with Session(engine) as session:
        session.execute(update(SalesforceCreate).where(SalesforceCreate.id == row_id).values(updated_at=utcnow(), **values))
        session.commit()


def _local_errors(form: CreateForm) -> dict[str, str]:
    if form.kind == "contact" and form.account_id and not ACCOUNT_ID.match(form.account_id):
        return {"account_id": "Choose an account from the list."}
    return {}


def create(services: CardServices, workspace_id: int, user_id: int, form: CreateForm, secret_key: str) -> Outcome:
    nonce = check_key(secret_key, form.key, form.email)
    errors = _local_errors(form)
    if errors:
        return Outcome(errors=errors)
    org = _org(services, workspace_id)
    if org.state != "connected":
        return Outcome(errors={"": "Salesforce is not connected."})

    with Session(services.engine) as session:
        earlier = session.execute(
            select(SalesforceCreate).where(SalesforceCreate.workspace_id == workspace_id, SalesforceCreate.key == nonce)
        ).scalar_one_or_none()
        if earlier is not None:
            return _again(services, workspace_id, earlier)
        recent = session.execute(
            select(SalesforceCreate).where(
                SalesforceCreate.workspace_id == workspace_id,
                SalesforceCreate.email_normalized == form.email,
                SalesforceCreate.state.in_(("pending", "unclear")),
            )
        ).scalars().all()
    # A create still pending long after it went out never got its answer recorded: as unclear.
    fresh = [r for r in recent if r.state == "pending" and (utcnow() - r.created_at).total_seconds() < PENDING_SECONDS]
    unclear = [r.id for r in recent if r not in fresh]
    if unclear:
        found = _look_up_first(services, workspace_id, form.email, unclear)
        if found is not None:
            return found
    if fresh:
        return Outcome(message="A create for this address is already with Salesforce; the card updates in a moment.",
                       pending=True, result=CardResult(state="no-match", email=form.email, pending=True))

    with Session(services.engine) as session:
        row = SalesforceCreate(workspace_id=workspace_id, key=nonce, email_normalized=form.email,
                               sobject=form.sobject, created_by_id=user_id)
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # the same form, sent twice at once: the other request sends it
            session.rollback()
            earlier = session.execute(
                select(SalesforceCreate).where(SalesforceCreate.workspace_id == workspace_id, SalesforceCreate.key == nonce)
            ).scalar_one()
            return _again(services, workspace_id, earlier)
        row_id = row.id

    payload = form.payload()
    services.cache.delete(card_cache.card_key(workspace_id, form.email))  # the cached "no match"

    def work() -> Outcome:
        return _send(services, org, workspace_id, user_id, row_id, form, payload)

    try:
        flight = services.lookups.submit(f"sfcreate:{workspace_id}:{nonce}", work)
        return services.lookups.wait(flight, max(services.budget, 5.0))
    except Saturated:
        _set(services.engine, row_id, state="refused", message="Salesforce is busy")
        return Outcome(errors={"": "Salesforce is busy right now; nothing was created. Try again in a moment."})
    except Late:
        return Outcome(message="Salesforce is still answering; the card updates in a moment.", pending=True,
                       result=CardResult(state="no-match", email=form.email, pending=True))


def _send(services: CardServices, org, workspace_id: int, user_id: int, row_id: int, form: CreateForm,
          payload: dict) -> Outcome:
    """On the lookup pool: the one POST, then the card filled with the new record."""
    try:
        client = client_for(services.engine, services.vault, workspace_id, timeout=CARD_TIMEOUT, retry=CARD_RETRY,
                            describe_cache=services.cache)
        # Never a field field-level security keeps the user from setting (a typed title, say).
        access = FieldAccess(services.engine, client, workspace_id, user_id=getattr(org, "sf_user_id", None))
        payload, _ = access.writable(form.sobject, payload, creating=True)
        sf_id = client.create(form.sobject, payload)
    except MaybeWritten as exc:
        _set(services.engine, row_id, state="unclear", message=str(exc))
        log.warning("salesforce card create unconfirmed", extra={"workspace": workspace_id, "user": user_id})
        return Outcome(errors={"": UNCLEAR}, unclear=True)
    except DuplicatesDetected as exc:
        _set(services.engine, row_id, state="refused", message=str(exc))
        return Outcome(errors={"": f"Salesforce's duplicate rules refused it: {exc} Nothing was created."},
                       duplicate=_duplicate(services, workspace_id, exc))
    except RequestFailed as exc:
        _set(services.engine, row_id, state="refused", message=str(exc))
        fields = [FORM_FIELDS.get(f, "") for f in exc.fields] or [""]
        return Outcome(errors={name: str(exc) for name in fields})
    except (NotConnected, SalesforceError) as exc:
        _set(services.engine, row_id, state="refused", message=str(exc))
        return Outcome(errors={"": f"{exc} Nothing was created."})
    _set(services.engine, row_id, state="created", sf_id=sf_id)
    log.info("salesforce card create",
             extra={"workspace": workspace_id, "user": user_id, "sobject": form.sobject, "sf_id": sf_id})
    key = card_cache.card_key(workspace_id, form.email)
    services.cache.delete(key)
    return Outcome(result=_fill(services, org, workspace_id, form.email, key, refresh=True))


def _duplicate(services: CardServices, workspace_id: int, exc: DuplicatesDetected) -> DuplicateMatch | None:
    if not exc.matches:
        return None
    sobject, sf_id = exc.matches[0]
    with Session(services.engine) as session:
        instance = session.execute(select(SalesforceConnection.instance_url).where(
            SalesforceConnection.workspace_id == workspace_id)).scalar()
    return DuplicateMatch(sobject, sf_id, record_url(instance, sf_id, sobject), exc.allow_save)


def _again(services: CardServices, workspace_id: int, earlier: SalesforceCreate) -> Outcome:
    """The same form sent again (a double click): never a second POST."""
    if earlier.state == "created":
        return Outcome(result=lookup(services, workspace_id, earlier.email_normalized))
    if earlier.state == "unclear":
        return Outcome(errors={"": UNCLEAR}, unclear=True)
    if earlier.state == "refused":
        return Outcome(errors={"": earlier.message or "Salesforce refused this create."})
    return Outcome(message="This create is already with Salesforce; the card updates in a moment.", pending=True,
                   result=CardResult(state="no-match", email=earlier.email_normalized, pending=True))


def _look_up_first(services: CardServices, workspace_id: int, email: str, unclear_ids: list[int]) -> Outcome | None:
    """After an unconfirmed create: the record by email before another create may go out."""
    result = lookup(services, workspace_id, email, refresh=True)
    if result.state == "shown" and result.card and not result.card.from_mirror:
        for row_id in unclear_ids:
            _set(services.engine, row_id, state="created", sf_id=result.card.contact_id)
        return Outcome(result=result, message="Salesforce had made it: here it is.")
    if result.state == "no-match" and not result.pending:
        for row_id in unclear_ids:
            _set(services.engine, row_id, state="refused", message="not made: no record had the address afterwards")
        return None
    return Outcome(errors={"": "Salesforce could not be checked for the earlier create; try again in a moment."},
                   unclear=True)
