"""Faults on demand and the per-endpoint call counts that tests assert on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields

EDGE_502_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>502 Bad Gateway</title></head>
<body><h1>Bad Gateway</h1>
<p>Salesforce Edge wasn't able to communicate successfully with the Salesforce instance.</p>
<hr><address>sfdcedge</address></body></html>
"""


@dataclass
class Faults:
    """Counters count down as they fire; `fail_after` compares with the org's API usage."""
    latency_ms: int = 0  # added before every call under /services/
    fail_after: int | None = None  # REQUEST_LIMIT_EXCEEDED once this many API calls were made
    unavailable: int = 0  # the next N calls answer 503
    edge_502: int = 0  # the next N calls answer the edge's HTML 502 page
    lock_rows: int = 0  # the next N write calls fail with UNABLE_TO_LOCK_ROW
    refuse_sessions: int = 0  # the next N data API calls answer 401 INVALID_SESSION_ID, fresh token or not
    # The next N writes (POST, PATCH, DELETE) are committed, then answered with the edge's 502
    # page, a 503, or not at all (the connection drops), as a real org can.
    after_commit_502: int = 0
    after_commit_503: int = 0
    after_commit_drop: int = 0

    def update(self, **values) -> None:
        names = {f.name for f in fields(self)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown fault: {', '.join(sorted(unknown))}")
        for name, value in values.items():
            if name == "fail_after" and value is None:
                pass
            elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        for name, value in values.items():
            setattr(self, name, value)

    def reset(self) -> None:
        self.update(latency_ms=0, fail_after=None, unavailable=0, edge_502=0, lock_rows=0, refuse_sessions=0,
                    after_commit_502=0, after_commit_503=0, after_commit_drop=0)

    def take(self, name: str) -> bool:
        """Use up one firing of a countdown fault; True when it fires now."""
        remaining = getattr(self, name)
        if remaining > 0:
            setattr(self, name, remaining - 1)
            return True
        return False

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class CallLog:
    """Calls per endpoint name (e.g. "query", "query_more", "token", "sobject_upsert")."""

    def __init__(self):
        self.counts: Counter[str] = Counter()

    def record(self, name: str) -> None:
        self.counts[name] += 1

    def __getitem__(self, name: str) -> int:
        return self.counts[name]

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))

    def reset(self) -> None:
        self.counts.clear()
