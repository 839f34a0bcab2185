"""Money: amounts are stored as integer minor units with an ISO 4217 currency, never floats."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, DecimalException

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    NumberFormatError,
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    is_currency,
    parse_decimal,
)

COMMON_CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY", "SEK", "INR", "BRL")
# The locales a workspace may write amounts in; the label shows how.
LOCALES = ("en_US", "en_GB", "en_IN", "de_DE", "de_CH", "fr_FR", "es_ES", "it_IT", "nl_NL", "sv_SE",
           "pt_BR", "ja_JP")
DEFAULT_LOCALE = "en_US"
SPACES = re.compile(r"[\s\u00a0\u202f]")


class MoneyError(ValueError):
    pass


def check_currency(code: str) -> str:
    code = (code or "").strip().upper()
    if not is_currency(code):
        raise MoneyError(f"{code or 'An empty value'} is not an ISO 4217 currency code.")
    return code


PLAIN_NUMBER = re.compile(r"^-?\d{1,17}(\.\d{1,6})?$")


def check_locale(code: str) -> str:
    if code not in LOCALES:
        raise MoneyError(f"{code or 'An empty value'} is not one of the offered locales.")
    return code


def locale_label(code: str) -> str:
    """"English (United States) · 12,500.50": the language and how an amount is written."""
    return f"{Locale.parse(code).get_display_name('en')} · {format_decimal(Decimal('12500.50'), '#,##0.00', locale=code)}"


def example(locale: str) -> str:
    return format_decimal(Decimal("12500.50"), "#,##0.00", locale=locale)


def parse_amount(text: str, currency: str, locale: str = DEFAULT_LOCALE) -> int:
    """An amount as people type it in the workspace's locale ("12,500.50", "$12,500.50",
    "1250") to integer minor units. Strict: "12,50" in en_US is refused, not read as 1250."""
    try:
        currency = check_currency(currency)
        locale = Locale.parse(locale)
    except (UnknownLocaleError, ValueError) as exc:
        raise MoneyError(str(exc)) from exc
    raw = (text or "").strip()
    # The currency may be written with it, as the app shows amounts: "$12,500.50", "12.500,50 €".
    for mark in {get_currency_symbol(currency, locale=locale), currency}:
        raw = raw.replace(mark, "")
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    raw = raw.strip()
    if SPACES.fullmatch(group):  # a space groups digits here: any space the person typed does
        raw = SPACES.sub(group, raw)
    elif group == "\u2019":  # Swiss grouping: people type an apostrophe
        raw = raw.replace("'", group)
    allowed = re.escape(group) + re.escape(decimal)
    if not re.fullmatch(rf"-?\d[\d{allowed}]{{0,30}}", raw):
        raise MoneyError(f"{text!r} is not a number like {example(str(locale))} or 1250.")
    try:
        value = parse_decimal(raw, locale=locale, strict=True)
    except NumberFormatError as exc:
        raise MoneyError(f"{text!r} is not a number like {example(str(locale))} or 1250.") from exc
    return _minor(value, currency, text)


def amount_input(minor: int | None, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """What the amount field shows for a stored amount: what parse_amount reads back."""
    if minor is None:
        return ""
    digits = get_currency_precision(currency)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(from_minor(minor, currency), pattern, locale=locale)


def to_minor(amount: Decimal | str | int, currency: str) -> int:
    """Decimal major units to integer minor units, refusing sub-minor precision."""
    text = str(amount).strip()
    if not PLAIN_NUMBER.match(text):
        raise MoneyError(f"{amount!r} is not a number like 1250 or 1250.50.")
    try:
        value = Decimal(text)
    except DecimalException as exc:
        raise MoneyError(f"{amount!r} is not a number.") from exc
    return _minor(value, check_currency(currency), amount)


def _minor(value: Decimal, currency: str, shown) -> int:
    try:
        digits = get_currency_precision(check_currency(currency))
        scaled = value.scaleb(digits)
    except DecimalException as exc:
        raise MoneyError(f"{shown!r} is not a number.") from exc
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
