"""Workspace settings: name, time zone, business hours and the addresses that mark a message
as ours. Changing what a response time means (addresses, zone, hours) recomputes the facts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from zoneinfo import available_timezones

from sqlalchemy import delete, select
from sqlmodel import Session

from webapp.addresses import EMAIL_RE
from webapp.analytics.business_hours import BusinessHours
from webapp.models import Workspace, WorkspaceAddress
from webapp.money import DEFAULT_LOCALE, LOCALES, locale_label
from webapp.validation import FieldError

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class SettingsError(FieldError):
    """Invalid workspace settings."""


@dataclass
class WorkspaceSettings:
    name: str
    timezone: str
    addresses: list[str]
    business_start: str = "09:00"
    business_end: str = "17:00"
    business_days: str = "12345"
    locale: str = DEFAULT_LOCALE

    def analytics_key(self) -> tuple:
        return (self.timezone, tuple(sorted(self.addresses)), self.business_start, self.business_end, self.business_days)


@cache
def timezones() -> list[str]:
    return sorted(available_timezones())


def own_by_default(session: Session, workspace_id: int) -> list[str]:
    """What counts as ours while no address is listed: the users' addresses and domains."""
    from webapp.addresses import default_domains, people_addresses

    people = people_addresses(session, workspace_id)
    return sorted(default_domains(people)) + sorted(people)


def locales() -> list[tuple[str, str]]:
    return [(code, locale_label(code)) for code in LOCALES]


def load(session: Session, workspace_id: int) -> WorkspaceSettings:
    workspace = session.get(Workspace, workspace_id)
    addresses = session.execute(
        select(WorkspaceAddress.value)
        .where(WorkspaceAddress.workspace_id == workspace_id)
        .order_by(WorkspaceAddress.value)
    ).scalars()
    return WorkspaceSettings(
        workspace.name,
        workspace.timezone,
        list(addresses),
        workspace.business_start,
        workspace.business_end,
        workspace.business_days,
        workspace.locale,
    )


def parse_addresses(text: str) -> list[str]:
    """One address or domain per line (commas too); duplicates dropped, order kept."""
    values: list[str] = []
    for raw in re.split(r"[\s,;]+", text or ""):
        value = raw.strip().lower().lstrip("@")
        if not value:
            continue
        if not (EMAIL_RE.match(value) or DOMAIN_RE.match(value)):
            raise SettingsError("addresses", f"{raw!r} is neither an email address nor a domain.")
        if value not in values:
            values.append(value)
    return values


def save(session: Session, workspace_id: int, data: WorkspaceSettings) -> None:
    name = data.name.strip()
    if not name or len(name) > 120:
        raise SettingsError("name", "The workspace needs a name of at most 120 characters.")
    clash = session.execute(
        select(Workspace.id).where(Workspace.name == name, Workspace.id != workspace_id)
    ).first()
    if clash:
        raise SettingsError("name", "Another workspace already has that name.")
    if data.timezone not in timezones():
        raise SettingsError("timezone", f"{data.timezone!r} is not a known time zone.")
    try:
        BusinessHours.parse(data.timezone, data.business_start, data.business_end, data.business_days)
    except ValueError as exc:
        raise SettingsError("business_hours", f"Business hours: {exc}") from exc
    if data.locale not in LOCALES:
        raise SettingsError("locale", f"{data.locale!r} is not one of the offered locales.")
    workspace = session.get(Workspace, workspace_id)
    workspace.name = name
    workspace.locale = data.locale
    workspace.timezone = data.timezone
    workspace.business_start = data.business_start
    workspace.business_end = data.business_end
    workspace.business_days = "".join(sorted(set(data.business_days)))
    session.add(workspace)
    session.execute(delete(WorkspaceAddress).where(WorkspaceAddress.workspace_id == workspace_id))
    session.add_all(WorkspaceAddress(workspace_id=workspace_id, value=v) for v in data.addresses)
    session.flush()
