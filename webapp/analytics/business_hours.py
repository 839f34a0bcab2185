"""Time elapsed counting only business hours (per-workspace hours, days and time zone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class BusinessHours:
    zone: ZoneInfo
    start: time
    end: time
    days: frozenset[int]  # ISO weekdays, 1 = Monday

    @classmethod
    def parse(cls, timezone: str, start: str, end: str, days: str) -> BusinessHours:
        begin, finish = time.fromisoformat(start), time.fromisoformat(end)
        if finish <= begin:
            raise ValueError("Business hours must end after they start.")
        weekdays = frozenset(int(d) for d in days if d in "1234567")
        if not weekdays:
            raise ValueError("Choose at least one business day.")
        return cls(ZoneInfo(timezone), begin, finish, weekdays)

    def seconds_between(self, start: datetime, end: datetime) -> int:
        """Business seconds in [start, end), walking day by day in local time."""
        if end <= start:
            return 0
        local_start, local_end = start.astimezone(self.zone), end.astimezone(self.zone)
        total = 0.0
        day = local_start.date()
        # A reply weeks later still costs one step per day; cap the walk at a year.
        for _ in range(366):
            if day > local_end.date():
                break
            if day.isoweekday() in self.days:
                open_at = datetime.combine(day, self.start, self.zone)
                close_at = datetime.combine(day, self.end, self.zone)
                lo, hi = max(open_at, local_start), min(close_at, local_end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return int(total)
