"""Building SOQL safely: every literal goes through ``quote``."""

from __future__ import annotations

from datetime import UTC, date, datetime

# The documented escapes for quoted strings; backslash first so nothing is escaped twice.
_ESCAPES = (
    ("\\", "\\\\"),
    ("'", "\\'"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\b", "\\b"),
    ("\f", "\\f"),
)


def quote(value: str) -> str:
    """A SOQL string literal for ``value``, quotes and backslashes escaped."""
    for raw, escaped in _ESCAPES:
        value = value.replace(raw, escaped)
    return f"'{value}'"


def contains(value: str) -> str:
    """A LIKE pattern literal matching ``value`` anywhere: its own ``%`` and ``_`` match only
    themselves (escaped after the quoting, so their backslash is not doubled)."""
    literal = quote(value)[1:-1].replace("%", "\\%").replace("_", "\\_")
    return f"'%{literal}%'"


def datetime_literal(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def date_literal(value: date) -> str:
    return value.isoformat()


def parse_datetime(value: str | None) -> datetime | None:
    """Salesforce's ``2026-05-01T07:25:37.000+0000`` as an aware datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(UTC)
