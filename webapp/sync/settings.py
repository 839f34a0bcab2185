"""Sync settings of a workspace: when it runs, the API budget it may spend, and the extra
fields the admin picked from describe. No row means the defaults."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlmodel import Session

from webapp.clock import utcnow
from webapp.models import SyncSettings, Workspace
from webapp.salesforce.sync.objects import BY_NAME, EXTRA_OBJECTS, clean_extra_fields
from webapp.salesforce.sync.runner import request_full_pass
from webapp.validation import FieldError

TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
SKIPPED_TYPES = {"address", "location", "base64", "complexvalue"}
MAX_EXTRA_FIELDS = 50


class SyncSettingsError(FieldError):
    """Invalid sync settings."""


@dataclass
class EffectiveSettings:
    frequency: str = "daily"
    daily_time: str = "03:00"
    timezone: str = "UTC"
    timezone_is_workspace: bool = True
    interval_hours: int = 4
    budget_percent: int = 80
    extra_fields: dict = field(default_factory=dict)
    two_way: bool = False
    external_id_field: str | None = None
    push_immediately: bool = False
    delete_in_salesforce: bool = False
    allow_duplicate_save: bool = False
    field_rules: dict = field(default_factory=dict)
    email_logging: str = "off"  # off | request | auto
    email_exclusions: list = field(default_factory=list)
    email_subject_only: bool = False

    @property
    def daily(self) -> time:
        hours, minutes = self.daily_time.split(":")
        return time(int(hours), int(minutes))

    def describe(self) -> str:
        if self.frequency == "off":
            return "Only when someone presses Sync Now"
        if self.frequency == "hours":
            return "Every hour" if self.interval_hours == 1 else f"Every {self.interval_hours} hours"
        return f"Daily at {self.daily_time} ({self.timezone})"


def _row(session: Session, workspace_id: int) -> SyncSettings | None:
    return session.execute(select(SyncSettings).where(SyncSettings.workspace_id == workspace_id)).scalar_one_or_none()


def load_settings(session: Session, workspace_id: int) -> EffectiveSettings:
    workspace_tz = session.execute(select(Workspace.timezone).where(Workspace.id == workspace_id)).scalar() or "UTC"
    row = _row(session, workspace_id)
    if row is None:
        return EffectiveSettings(timezone=workspace_tz)
    return EffectiveSettings(
        frequency=row.frequency, daily_time=row.daily_time, timezone=row.timezone or workspace_tz,
        timezone_is_workspace=row.timezone is None, interval_hours=row.interval_hours,
        budget_percent=row.budget_percent, extra_fields=dict(row.extra_fields or {}),
        two_way=bool(row.two_way), external_id_field=row.external_id_field, push_immediately=bool(row.push_immediately),
        delete_in_salesforce=bool(row.delete_in_salesforce), allow_duplicate_save=bool(row.allow_duplicate_save),
        field_rules=dict(row.field_rules or {}),
        email_logging=row.email_logging or "off", email_exclusions=list(row.email_exclusions or []),
        email_subject_only=bool(row.email_subject_only),
    )


@dataclass
class ScheduleInput:
    frequency: str
    daily_time: str
    timezone: str  # "" follows the workspace
    interval_hours: str
    budget_percent: str


def save_schedule(session: Session, workspace_id: int, data: ScheduleInput) -> None:
    if data.frequency not in ("daily", "hours", "off"):
        raise SyncSettingsError("frequency", "Choose daily, every few hours, or only on demand.")
    if not TIME_RE.match(data.daily_time or ""):
        raise SyncSettingsError("daily_time", "Enter the time as HH:MM, e.g. 03:00.")
    tz = (data.timezone or "").strip() or None
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise SyncSettingsError("timezone", f"{tz!r} is not a known time zone.") from None
    try:
        hours = int(data.interval_hours)
    except (TypeError, ValueError):
        hours = 0
    if not 1 <= hours <= 24:
        raise SyncSettingsError("interval_hours", "Every 1 to 24 hours.")
    try:
        budget = int(data.budget_percent)
    except (TypeError, ValueError):
        budget = 0
    if not 5 <= budget <= 95:
        raise SyncSettingsError("budget_percent", "The budget is between 5% and 95% of the org's daily API calls.")
    row = _row(session, workspace_id) or SyncSettings(workspace_id=workspace_id, extra_fields={})
    row.frequency, row.daily_time, row.timezone = data.frequency, data.daily_time, tz
    row.interval_hours, row.budget_percent, row.updated_at = hours, budget, utcnow()
    session.add(row)
    session.flush()


def field_choices(describe: dict, sobject: str) -> list[tuple[str, str]]:
    """(name, label) of the fields an admin may add for ``sobject``, from its describe."""
    spec = BY_NAME[sobject]
    allowed = []
    for f in describe.get("fields", []):
        name = f.get("name", "")
        if f.get("type") in SKIPPED_TYPES or not clean_extra_fields(spec, [name]):
            continue
        allowed.append((name, f.get("label") or name))
    return sorted(allowed, key=lambda item: item[1].lower())


def save_extra_fields(session: Session, workspace_id: int, chosen: dict[str, list[str]], allowed: dict[str, set[str]]) -> list[str]:
    """Keep the chosen fields that describe lists; objects that gained fields are re-read in
    full on the next run so existing rows get them. Returns the objects re-read."""
    cleaned: dict[str, list[str]] = {}
    for sobject in EXTRA_OBJECTS:
        names = [n for n in chosen.get(sobject, []) if n in allowed.get(sobject, set())]
        names = list(clean_extra_fields(BY_NAME[sobject], names))
        if len(names) > MAX_EXTRA_FIELDS:
            raise SyncSettingsError("extra_fields", f"At most {MAX_EXTRA_FIELDS} extra fields per object.")
        if names:
            cleaned[sobject] = names
    row = _row(session, workspace_id) or SyncSettings(workspace_id=workspace_id, extra_fields={})
    before = dict(row.extra_fields or {})
    grown = [o for o, names in cleaned.items() if set(names) - set(before.get(o, []))]
    row.extra_fields, row.updated_at = cleaned, utcnow()
    session.add(row)
    session.flush()
    if grown:
        request_full_pass(session.connection(), workspace_id, grown)
    return grown


def next_daily(settings: EffectiveSettings, now: datetime) -> datetime:
    """The next daily run after ``now``, in UTC; follows DST in the chosen time zone."""
    from datetime import timedelta

    zone = ZoneInfo(settings.timezone)
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), settings.daily, zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), settings.daily, zone)
    return candidate.astimezone(now.tzinfo)
