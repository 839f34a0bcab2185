"""Jinja filters and globals. Formatting only: templates never query."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask
from flask_login import current_user

from webapp.clock import as_utc, utcnow
from webapp.money import DEFAULT_LOCALE, format_money


def _zone() -> ZoneInfo:
    name = getattr(current_user, "timezone", None) or "UTC"
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return ZoneInfo("UTC")


def _locale() -> str:
    return getattr(current_user, "locale", None) or DEFAULT_LOCALE


def money(minor: int | None, currency: str | None) -> str:
    """An amount in the workspace's locale: "$12,500.50", or "12.500,50 $" in de_DE."""
    return format_money(minor, currency, _locale())


def short_date(value: date | str | None) -> str:
    """"12 Mar 2027" from a date or an ISO date string (the card keeps them as text)."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return ""
    return value.strftime("%d %b %Y").lstrip("0")


def local_datetime(value: datetime | None, fmt: str = "%d %b %Y, %H:%M") -> str:
    if value is None:
        return ""
    return as_utc(value).astimezone(_zone()).strftime(fmt)


def short_when(value: datetime | None) -> str:
    """Inbox-style stamp: time today, day and month this year, full date otherwise."""
    if value is None:
        return ""
    local = as_utc(value).astimezone(_zone())
    now = utcnow().astimezone(_zone())
    if local.date() == now.date():
        return local.strftime("%H:%M")
    if local.year == now.year:
        return local.strftime("%d %b").lstrip("0")
    return local.strftime("%d %b %Y").lstrip("0")


def ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = int((utcnow() - as_utc(value)).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def iso(value: datetime | date | None) -> str:
    return value.isoformat() if value is not None else ""


def initials(name: str | None) -> str:
    parts = [p for p in (name or "").replace("@", " ").replace(".", " ").split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        money=money,
        short_date=short_date,
        local_datetime=local_datetime,
        short_when=short_when,
        ago=ago,
        iso=iso,
        initials=initials,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
