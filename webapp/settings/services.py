"""Workspace settings: name, timezone and the addresses that mark a message as ours."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from zoneinfo import available_timezones

from sqlalchemy import delete, select
from sqlmodel import Session

from webapp.addresses import EMAIL_RE
from webapp.models import Workspace, WorkspaceAddress

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class SettingsError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass
class WorkspaceSettings:
    name: str
    timezone: str
    addresses: list[str]


@cache
def timezones() -> list[str]:
    return sorted(available_timezones())


def load(session: Session, workspace_id: int) -> WorkspaceSettings:
    workspace = session.get(Workspace, workspace_id)
    addresses = session.execute(
        select(WorkspaceAddress.value)
        .where(WorkspaceAddress.workspace_id == workspace_id)
        .order_by(WorkspaceAddress.value)
    ).scalars()
    return WorkspaceSettings(workspace.name, workspace.timezone, list(addresses))


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
    workspace = session.get(Workspace, workspace_id)
    workspace.name = name
    workspace.timezone = data.timezone
    session.add(workspace)
    session.execute(delete(WorkspaceAddress).where(WorkspaceAddress.workspace_id == workspace_id))
    session.add_all(WorkspaceAddress(workspace_id=workspace_id, value=v) for v in data.addresses)
    session.flush()
