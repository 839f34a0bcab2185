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
    convert: Callable[[dict, Context], dict]
    deletable: bool = True  # has IsDeleted, so queryAll brings soft deletes
    extra_allowed: bool = True
    owner: bool = False  # selects Owner.Name, which fills the user mirror
    multi_currency_fields: tuple[str, ...] = field(default=())

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


def account_row(r: dict, ctx: Context) -> dict:
    return {
        "name": _text(r.get("Name")) or "",
        "type": _text(r.get("Type")),
        "industry": _text(r.get("Industry")),
        "website": _text(r.get("Website")),
        "website_domain": domain_of(r.get("Website")),
        "owner_id": r.get("OwnerId"),
    }


def contact_row(r: dict, ctx: Context) -> dict:
    email = _text(r.get("Email"), 254)
    return {
        "account_id": r.get("AccountId"),
        "email": email,
        "email_normalized": normalized_email(email),
        "first_name": _text(r.get("FirstName")),
        "last_name": _text(r.get("LastName")),
        "name": _text(r.get("Name")) or "",
        "title": _text(r.get("Title")),
        "lead_source": _text(r.get("LeadSource")),
        "phone": _text(r.get("Phone"), 64),
        "owner_id": r.get("OwnerId"),
    }


def opportunity_row(r: dict, ctx: Context) -> dict:
    currency = _currency(r, ctx)
    return {
        "account_id": r.get("AccountId"),
        "name": _text(r.get("Name")) or "",
        "stage_name": _text(r.get("StageName")),
        "amount_minor": minor_units(r.get("Amount"), currency),
        "currency": currency,
        "currency_iso_code": r.get("CurrencyIsoCode") if ctx.multi_currency else None,
        "close_date": _date(r.get("CloseDate")),
        "is_closed": bool(r.get("IsClosed")),
        "is_won": bool(r.get("IsWon")),
        "owner_id": r.get("OwnerId"),
        "last_modified_date": _datetime(r.get("LastModifiedDate")),
    }


def history_row(r: dict, ctx: Context) -> dict:
    currency = _currency(r, ctx)
    probability = r.get("Probability")
    return {
        "opportunity_id": r.get("OpportunityId") or "",
        "stage_name": _text(r.get("StageName")),
        "amount_minor": minor_units(r.get("Amount"), currency),
        "currency": currency,
        "close_date": _date(r.get("CloseDate")),
        "probability": None if probability is None else int(probability),
        "created_date": _datetime(r.get("CreatedDate")),
    }


def stage_row(r: dict, ctx: Context) -> dict:
    probability = r.get("DefaultProbability")
    return {
        "api_name": _text(r.get("ApiName")) or "",
        "master_label": _text(r.get("MasterLabel")) or "",
        "is_active": bool(r.get("IsActive")),
        "is_closed": bool(r.get("IsClosed")),
        "is_won": bool(r.get("IsWon")),
        "default_probability": None if probability is None else int(probability),
        "forecast_category_name": _text(r.get("ForecastCategoryName")),
        "sort_order": r.get("SortOrder"),
    }


_COMMON = ("Id", "IsDeleted", "SystemModstamp")

STAGE = ObjectSpec(
    "OpportunityStage", SfOpportunityStage.__table__,
    ("Id", "SystemModstamp", "ApiName", "MasterLabel", "IsActive", "IsClosed", "IsWon",
     "DefaultProbability", "ForecastCategoryName", "SortOrder"),
    stage_row, deletable=False, extra_allowed=False,
)
ACCOUNT = ObjectSpec(
    "Account", SfAccount.__table__,
    _COMMON + ("Name", "Type", "Industry", "Website", "OwnerId"), account_row, owner=True,
)
CONTACT = ObjectSpec(
    "Contact", SfContact.__table__,
    _COMMON + ("AccountId", "Email", "FirstName", "LastName", "Name", "Title", "LeadSource", "Phone", "OwnerId"),
    contact_row, owner=True,
)
OPPORTUNITY = ObjectSpec(
    "Opportunity", SfOpportunity.__table__,
    _COMMON + ("AccountId", "Name", "StageName", "Amount", "CloseDate", "IsClosed", "IsWon", "OwnerId",
               "LastModifiedDate"),
    opportunity_row, owner=True, multi_currency_fields=("CurrencyIsoCode",),
)
HISTORY = ObjectSpec(
    "OpportunityHistory", SfOpportunityHistory.__table__,
    _COMMON + ("OpportunityId", "StageName", "Amount", "CloseDate", "Probability", "CreatedDate"),
    history_row, multi_currency_fields=("CurrencyIsoCode",),
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
