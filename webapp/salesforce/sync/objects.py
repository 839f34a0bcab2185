"""What is pulled from Salesforce and how a record becomes a mirror row.

Each object names its SOQL fields and a converter. Converters are plain functions on one
record: they raise RecordError for a record the mirror cannot take as it is (so it is logged
with its Id and retried later) and never guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from urllib.parse import urlsplit

from babel.numbers import get_currency_precision, is_currency
from sqlalchemy import Table

from webapp.models import SfAccount, SfContact, SfOpportunity, SfOpportunityHistory, SfOpportunityStage

FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RecordError(ValueError):
    """This record cannot be mirrored as it is; the message says why."""


@dataclass(frozen=True)
class Context:
    org_currency: str
    multi_currency: bool


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    table: Table
    fields: tuple[str, ...]
    columns: tuple[str, ...]  # what ``convert`` returns, in order
    convert: Callable[[dict, Context], tuple]
    deletable: bool = True  # has IsDeleted, so queryAll brings soft deletes
    extra_allowed: bool = True
    owner: bool = False  # selects Owner.Name, which fills the user mirror
    multi_currency_fields: tuple[str, ...] = field(default=())
    field_security: bool = True  # False: a setup object, whose fields every user reads

    def select(self, ctx: Context, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
        names = list(self.fields)
        if ctx.multi_currency:
            names += self.multi_currency_fields
        if self.owner:
            names.append("Owner.Name")
        names += [f for f in extra if f not in names]
        return tuple(names)


def stamp(value: str | None) -> datetime:
    if not value:
        raise RecordError("The record has no SystemModstamp.")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is UTC:  # what Salesforce sends: skip the offset arithmetic
        return parsed
    return parsed if parsed.utcoffset().total_seconds() == 0 else parsed.astimezone(UTC)


def _datetime(value: str | None) -> datetime | None:
    return stamp(value) if value else None


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise RecordError(f"{value!r} is not a date.") from exc


def _text(value, limit: int = 255) -> str | None:
    if value is None or value == "":
        return None
    if type(value) is str:
        return value if len(value) <= limit else value[:limit]
    return str(value)[:limit]


@lru_cache(maxsize=64)
def _precision(currency: str) -> int:
    if not is_currency(currency):
        raise RecordError(f"{currency!r} is not an ISO 4217 currency code.")
    return get_currency_precision(currency)


def minor_units(amount, currency: str | None) -> int | None:
    """A JSON number to integer minor units, exactly: never through float arithmetic."""
    if amount is None:
        return None
    if not currency:
        raise RecordError("The amount has no currency (the org currency is unknown).")
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise RecordError(f"{amount!r} is not an amount.") from exc
    scaled = value.scaleb(_precision(currency))
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise RecordError(f"{amount} {currency} has more decimals than {currency} allows.")
    minor = int(scaled)
    if abs(minor) >= 10**17:
        raise RecordError(f"{amount} {currency} is too large.")
    return minor


def normalized_email(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value or len(value) > 254 or not EMAIL.match(value):
        return None
    return value.lower()


def domain_of(website: str | None) -> str | None:
    """``https://www.Acme.com/about`` → ``acme.com``: what analytics groups mail domains by."""
    if not website:
        return None
    text = website.strip()
    host = urlsplit(text if "//" in text else "//" + text).hostname or ""
    host = host.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host[:255] or None


def _currency(record: dict, ctx: Context) -> str | None:
    if ctx.multi_currency:
        return record.get("CurrencyIsoCode") or ctx.org_currency
    return ctx.org_currency


# Converters return tuples in their object's ``columns`` order: a page is 2,000 records and a
# dict per record (built, updated, then taken apart again for the driver) cost more than the
# conversion itself.

ACCOUNT_COLUMNS = ("name", "type", "industry", "website", "website_domain", "owner_id")


def account_row(r: dict, ctx: Context) -> tuple:
    get = r.get
    website = get("Website")
    return (_text(get("Name")) or "", _text(get("Type")), _text(get("Industry")), _text(website),
            domain_of(website), get("OwnerId"))


CONTACT_COLUMNS = ("account_id", "email", "email_normalized", "first_name", "last_name", "name", "title",
                   "lead_source", "phone", "owner_id", "last_modified_date")


def contact_row(r: dict, ctx: Context) -> tuple:
    get = r.get
    email = _text(get("Email"), 254)
    return (get("AccountId"), email, normalized_email(email), _text(get("FirstName")), _text(get("LastName")),
            _text(get("Name")) or "", _text(get("Title")), _text(get("LeadSource")), _text(get("Phone"), 64),
            get("OwnerId"), _datetime(get("LastModifiedDate")))


OPPORTUNITY_COLUMNS = ("account_id", "name", "stage_name", "amount_minor", "currency", "currency_iso_code",
                       "close_date", "is_closed", "is_won", "owner_id", "last_modified_date")


def opportunity_row(r: dict, ctx: Context) -> tuple:
    get = r.get
    currency = _currency(r, ctx)
    return (get("AccountId"), _text(get("Name")) or "", _text(get("StageName")),
            minor_units(get("Amount"), currency), currency, get("CurrencyIsoCode") if ctx.multi_currency else None,
            _date(get("CloseDate")), bool(get("IsClosed")), bool(get("IsWon")), get("OwnerId"),
            _datetime(get("LastModifiedDate")))


HISTORY_COLUMNS = ("opportunity_id", "stage_name", "amount_minor", "currency", "close_date", "probability",
                   "created_date")


def history_row(r: dict, ctx: Context) -> tuple:
    get = r.get
    currency = _currency(r, ctx)
    probability = get("Probability")
    return (get("OpportunityId") or "", _text(get("StageName")), minor_units(get("Amount"), currency), currency,
            _date(get("CloseDate")), None if probability is None else int(probability),
            _datetime(get("CreatedDate")))


STAGE_COLUMNS = ("api_name", "master_label", "is_active", "is_closed", "is_won", "default_probability",
                 "forecast_category_name", "sort_order")


def stage_row(r: dict, ctx: Context) -> tuple:
    get = r.get
    probability = get("DefaultProbability")
    return (_text(get("ApiName")) or "", _text(get("MasterLabel")) or "", bool(get("IsActive")),
            bool(get("IsClosed")), bool(get("IsWon")), None if probability is None else int(probability),
            _text(get("ForecastCategoryName")), get("SortOrder"))


_COMMON = ("Id", "IsDeleted", "SystemModstamp")

STAGE = ObjectSpec(
    "OpportunityStage", SfOpportunityStage.__table__,
    ("Id", "SystemModstamp", "ApiName", "MasterLabel", "IsActive", "IsClosed", "IsWon",
     "DefaultProbability", "ForecastCategoryName", "SortOrder"),
    STAGE_COLUMNS, stage_row, deletable=False, extra_allowed=False, field_security=False,
)
ACCOUNT = ObjectSpec(
    "Account", SfAccount.__table__,
    _COMMON + ("Name", "Type", "Industry", "Website", "OwnerId"), ACCOUNT_COLUMNS, account_row, owner=True,
)
CONTACT = ObjectSpec(
    "Contact", SfContact.__table__,
    _COMMON + ("AccountId", "Email", "FirstName", "LastName", "Name", "Title", "LeadSource", "Phone", "OwnerId",
               "LastModifiedDate"),
    CONTACT_COLUMNS, contact_row, owner=True,
)
OPPORTUNITY = ObjectSpec(
    "Opportunity", SfOpportunity.__table__,
    _COMMON + ("AccountId", "Name", "StageName", "Amount", "CloseDate", "IsClosed", "IsWon", "OwnerId",
               "LastModifiedDate"),
    OPPORTUNITY_COLUMNS, opportunity_row, owner=True, multi_currency_fields=("CurrencyIsoCode",),
)
HISTORY = ObjectSpec(
    "OpportunityHistory", SfOpportunityHistory.__table__,
    _COMMON + ("OpportunityId", "StageName", "Amount", "CloseDate", "Probability", "CreatedDate"),
    HISTORY_COLUMNS, history_row, multi_currency_fields=("CurrencyIsoCode",),
)

# Parents before children: contacts find their account's name, so the inbox gets the company.
OBJECTS: tuple[ObjectSpec, ...] = (STAGE, ACCOUNT, CONTACT, OPPORTUNITY, HISTORY)
BY_NAME = {spec.name: spec for spec in OBJECTS}
EXTRA_OBJECTS = tuple(spec.name for spec in OBJECTS if spec.extra_allowed)


def clean_extra_fields(spec: ObjectSpec, names) -> tuple[str, ...]:
    """The admin's extra fields that are safe to put in SOQL and not already typed columns."""
    base = {f.lower() for f in spec.fields} | {"currencyisocode", "owner.name"}
    seen: list[str] = []
    for name in names or ():
        if isinstance(name, str) and FIELD_NAME.match(name) and name.lower() not in base and name not in seen:
            seen.append(name)
    return tuple(seen)
