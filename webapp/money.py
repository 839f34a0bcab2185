"""Money: amounts are stored as integer minor units with an ISO 4217 currency, never floats."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, DecimalException

from babel.numbers import format_currency, get_currency_precision, is_currency

COMMON_CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY", "SEK", "INR", "BRL")


class MoneyError(ValueError):
    pass


def check_currency(code: str) -> str:
    code = (code or "").strip().upper()
    if not is_currency(code):
        raise MoneyError(f"{code or 'An empty value'} is not an ISO 4217 currency code.")
    return code


PLAIN_NUMBER = re.compile(r"^-?\d{1,17}(\.\d{1,6})?$")


def to_minor(amount: Decimal | str | int, currency: str) -> int:
    """Decimal major units to integer minor units, refusing sub-minor precision."""
    text = str(amount).strip()
    if not PLAIN_NUMBER.match(text):
        raise MoneyError(f"{amount!r} is not a number like 1250 or 1250.50.")
    try:
        value = Decimal(text)
        digits = get_currency_precision(check_currency(currency))
        scaled = value.scaleb(digits)
    except DecimalException as exc:
        raise MoneyError(f"{amount!r} is not a number.") from exc
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{currency} amounts have at most {digits} decimal places.")
    minor = int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN))
    if abs(minor) >= 10**17:
        raise MoneyError("The amount is too large.")
    return minor


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-get_currency_precision(currency))


def format_money(minor: int | None, currency: str | None, locale: str = "en_US") -> str:
    if minor is None or not currency:
        return ""
    return format_currency(from_minor(minor, currency), currency, locale=locale)
