"""Reports over ``message_fact``: group by one dimension, filter by any, within a date range."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import String, cast, func, select
from sqlmodel import Session

from webapp.models import Conversation
from webapp.models.analytics import FactValue, MessageFact

F = MessageFact
MAX_GROUPS = 50
NONE_LABEL = "(none)"


@dataclass(frozen=True)
class Dimension:
    key: str
    label: str
    column: object
    salesforce: bool


DIMENSIONS = {
    d.key: d
    for d in (
        Dimension("domain", "Sender domain", F.domain, False),
        Dimension("account", "Salesforce account", F.account_name, True),
        Dimension("account_type", "Account type", F.account_type, True),
        Dimension("industry", "Industry", F.industry, True),
        Dimension("owner", "Account owner", F.account_owner, True),
        Dimension("lead_source", "Lead source", F.lead_source, True),
        Dimension("open_stage", "Stage of open opportunity", F.open_stage, True),
        Dimension("stage_at_send", "Stage when sent", F.stage_at_send, True),
    )
}


class ReportError(ValueError):
    pass


@dataclass(frozen=True)
class Query:
    group_by: str = "domain"
    filters: tuple[tuple[str, str], ...] = ()  # (dimension, value); NONE_LABEL matches empty
    start: date | None = None
    end: date | None = None  # inclusive
    business_hours: bool = False

    def __post_init__(self):
        if self.group_by not in DIMENSIONS:
            raise ReportError(f"Unknown grouping {self.group_by!r}.")
        for key, _ in self.filters:
            if key not in DIMENSIONS:
                raise ReportError(f"Unknown filter {key!r}.")
        if self.start and self.end and self.end < self.start:
            raise ReportError("The end date is before the start date.")


@dataclass
class Row:
    value: str
    received: int = 0
    sent: int = 0
    conversations: int = 0
    waits: int = 0
    replied: int = 0
    mean: float | None = None
    median: float | None = None
    p90: float | None = None

    @property
    def reply_rate(self) -> float | None:
        return self.replied / self.waits if self.waits else None


@dataclass
class Report:
    query: Query
    rows: list[Row]
    total: Row
    weeks: list[tuple[date, int, int]] = field(default_factory=list)  # (week start, received, sent)
    truncated: bool = False


def where(query: Query, workspace_id: int, *, extra=()) -> list:
    clauses = [F.workspace_id == workspace_id, *extra]
    if query.start:
        clauses.append(F.sent_day >= query.start)
    if query.end:
        clauses.append(F.sent_day <= query.end)
    for key, value in query.filters:
        column = DIMENSIONS[key].column
        clauses.append(column.is_(None) if value == NONE_LABEL else column == value)
    return clauses


def percentile(sorted_values: list[int], share: float) -> float | None:
    """Linear interpolation between closest ranks (as percentile_cont)."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * share
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def run(session: Session, workspace_id: int, query: Query) -> Report:
    """One indexed pass over the matching facts; the figures are summed up here, which beats
    several aggregate scans (distinct conversations and percentiles per group) on both engines."""
    column = DIMENSIONS[query.group_by].column
    seconds = F.business_seconds if query.business_hours else F.response_seconds
    # Through Core, and the day as text: turning each row's day into a date (and each row into
    # an ORM row) cost more than the tally itself; days become dates once each, below.
    rows = session.connection().execute(
        select(column, F.direction, F.conversation_id, F.awaits_reply, F.replied_at.is_not(None), seconds,
               cast(F.sent_day, String))
        .where(*where(query, workspace_id))
        .execution_options(yield_per=20_000)
    )
    groups: dict[object, _Tally] = defaultdict(_Tally)
    by_day: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for value, direction, conversation, awaits, replied, secs, day in (r for part in rows.partitions() for r in part):
        inbound = direction == "in"
        groups[value].add(inbound, conversation, awaits, replied, secs)
        by_day[day][0 if inbound else 1] += 1
    total = _Tally.merged(groups.values())  # once per group, not once more per row
    days = {date.fromisoformat(day[:10]): counts for day, counts in by_day.items()}

    ordered = sorted(groups.items(), key=lambda item: (-(item[1].received + item[1].sent), str(item[0])))
    shown = [tally.row(value or NONE_LABEL) for value, tally in ordered[:MAX_GROUPS]]
    weeks: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for day, (received, sent) in days.items():
        week = weeks[day - timedelta(days=day.weekday())]
        week[0] += received
        week[1] += sent
    return Report(
        query=query,
        rows=shown,
        total=total.row("Total"),
        weeks=_every_week(weeks),
        truncated=len(ordered) > MAX_GROUPS,
    )


def _every_week(weeks: dict[date, list[int]]) -> list[tuple[date, int, int]]:
    """Weeks without mail too, so the chart's time axis is even."""
    if not weeks:
        return []
    first, last = min(weeks), max(weeks)
    span = [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
    return [(week, *weeks.get(week, (0, 0))) for week in span]


class _Tally:
    __slots__ = ("received", "sent", "conversations", "waits", "replied", "times")

    def __init__(self):
        self.received = self.sent = self.waits = self.replied = 0
        self.conversations: set[int] = set()
        self.times: list[int] = []

    def add(self, inbound: bool, conversation: int, awaits: bool, replied: bool, secs: int | None) -> None:
        if inbound:
            self.received += 1
        else:
            self.sent += 1
        self.conversations.add(conversation)
        if awaits:
            self.waits += 1
            if replied:
                self.replied += 1
                if secs is not None:
                    self.times.append(secs)

    @classmethod
    def merged(cls, tallies) -> _Tally:
        total = cls()
        for t in tallies:
            total.received += t.received
            total.sent += t.sent
            total.waits += t.waits
            total.replied += t.replied
            total.conversations |= t.conversations
            total.times += t.times
        return total

    def row(self, value: str) -> Row:
        row = Row(value, self.received, self.sent, len(self.conversations), self.waits, self.replied)
        _fill_times(row, self.times)
        return row


def _fill_times(row: Row, values: list[int]) -> None:
    if not values:
        return
    values.sort()
    row.mean = sum(values) / len(values)
    row.median = percentile(values, 0.5)
    row.p90 = percentile(values, 0.9)


def choices(session: Session, workspace_id: int, limit: int = 200) -> dict[str, list[str]]:
    """The values each filter can take, most frequent first: from the counts every facts
    refresh keeps (``fact_value``), so the menus cost no scan of the facts."""
    result = {}
    for key in DIMENSIONS:
        values = session.execute(
            select(FactValue.value)
            .where(FactValue.workspace_id == workspace_id, FactValue.dimension == key)
            .order_by(FactValue.messages.desc(), FactValue.value)
            .limit(limit)
        ).scalars()
        result[key] = list(values)
    return result


def conversations(session: Session, workspace_id: int, query: Query, group_value: str | None, measure: str, page: int, per_page: int = 25):
    """The conversations behind one number of the report (drill-down)."""
    extra = []
    if group_value is not None:
        column = DIMENSIONS[query.group_by].column
        extra.append(column.is_(None) if group_value == NONE_LABEL else column == group_value)
    if measure == "received":
        extra.append(F.direction == "in")
    elif measure == "sent":
        extra.append(F.direction == "out")
    elif measure in ("waits", "response"):
        extra.append(F.awaits_reply.is_(True))
    elif measure == "unanswered":
        extra.extend([F.awaits_reply.is_(True), F.replied_at.is_(None)])
    ids = select(F.conversation_id).where(*where(query, workspace_id, extra=extra)).distinct().subquery()
    stmt = (
        select(Conversation)
        .where(Conversation.id.in_(select(ids.c.conversation_id)))
        .order_by(Conversation.last_activity_at.desc())
    )
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    items = session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return items, total


def has_facts(session: Session, workspace_id: int) -> bool:
    return session.execute(select(F.message_id).where(F.workspace_id == workspace_id).limit(1)).first() is not None


def has_salesforce_dimensions(session: Session, workspace_id: int) -> bool:
    return (
        session.execute(
            select(F.message_id).where(F.workspace_id == workspace_id, F.account_sf_id.is_not(None)).limit(1)
        ).first()
        is not None
    )
