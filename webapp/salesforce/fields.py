"""What the connected user may read and write, from each object's describe.

Field-level security often hides fields (Title, LeadSource, Phone, Amount…) from an integration
user, and a query naming one fails as a whole with INVALID_FIELD. So the card's and the sync's
SOQL select only what the describe lists, and pushes leave out what it says cannot be written.

An object's access is kept in ``salesforce_field_access`` (for the settings page, and so a daily
sync need not describe every object each run) and checked again after ``CHECK_EVERY``, for
another user, or at once when Salesforce refuses a field (``recheck``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from webapp.clock import as_utc, utcnow
from webapp.models import SalesforceFieldAccess
from webapp.salesforce.client import SalesforceClient
from webapp.salesforce.errors import NotFound
from webapp.salesforce.sync.upsert import upsert_statement

ACCESS = SalesforceFieldAccess.__table__
CHECK_EVERY = timedelta(days=7)
# Name fields cannot be hidden by field-level security: ``Account.Name`` needs only the lookup.
ALWAYS_READABLE = {"id", "name"}


@dataclass(frozen=True)
class ObjectAccess:
    sobject: str
    available: bool = True
    readable: frozenset[str] = frozenset()  # lower-case field names
    createable: frozenset[str] = frozenset()
    updateable: frozenset[str] = frozenset()
    relationships: dict = field(default_factory=dict)  # "account" -> ("AccountId", "Account")
    checked_at: datetime | None = None

    @classmethod
    def from_describe(cls, sobject: str, doc: dict, now: datetime) -> ObjectAccess:
        fields = doc.get("fields") or []
        return cls(
            sobject, True,
            frozenset(f["name"].lower() for f in fields),
            frozenset(f["name"].lower() for f in fields if f.get("createable")),
            frozenset(f["name"].lower() for f in fields if f.get("updateable")),
            {f["relationshipName"].lower(): (f["name"], (f.get("referenceTo") or [None])[0])
             for f in fields if f.get("relationshipName")},
            now,
        )

    def can_read(self, name: str) -> bool:
        return self.available and name.lower() in self.readable

    def can_write(self, name: str, *, creating: bool) -> bool:
        return self.available and name.lower() in (self.createable if creating else self.updateable)


class FieldAccess:
    """One workspace's access, object by object; describes only what is missing or stale."""

    def __init__(self, engine: Engine, client: SalesforceClient, workspace_id: int, *, user_id: str | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.engine, self.client, self.workspace_id, self.user_id, self.clock = engine, client, workspace_id, user_id, clock
        self._known: dict[str, ObjectAccess] = {}
        self._lock = threading.Lock()

    def of(self, sobject: str) -> ObjectAccess:
        with self._lock:
            known = self._known.get(sobject)
        if known is not None:
            return known
        stored = self._load(sobject)
        if stored is not None and stored.checked_at is not None and self.clock() - stored.checked_at < CHECK_EVERY:
            with self._lock:
                self._known[sobject] = stored
            return stored
        return self.recheck(sobject, fresh=False)

    def recheck(self, sobject: str, *, fresh: bool = True) -> ObjectAccess:
        """Describe the object (afresh: past every cache) and keep what it says."""
        now = self.clock()
        try:
            access = ObjectAccess.from_describe(sobject, self.client.describe(sobject, fresh=fresh), now)
        except NotFound:  # no read access to the object itself
            access = ObjectAccess(sobject, False, checked_at=now)
        self._save(access)
        with self._lock:
            self._known[sobject] = access
        return access

    def select(self, sobject: str, paths: Iterable[str]) -> tuple[list[str], list[str]]:
        """The paths of a SELECT the user can read, and those it cannot (in order)."""
        kept, dropped = [], []
        for path in paths:
            (kept if self.can_read(sobject, path) else dropped).append(path)
        return kept, dropped

    def can_read(self, sobject: str, path: str) -> bool:
        """``Title``, or through lookups (``ConvertedContact.Account.Name``): every lookup on
        the way must be readable, and the last field on its own object."""
        parts = path.split(".")
        current = sobject
        for rel in parts[:-1]:
            access = self.of(current)
            link = access.relationships.get(rel.lower())
            if link is None or not access.can_read(link[0]):
                return False
            current = link[1]
            if current is None:
                return False
        if len(parts) > 1 and parts[-1].lower() in ALWAYS_READABLE:
            return True
        return self.of(current).can_read(parts[-1])

    def writable(self, sobject: str, values: dict, *, creating: bool) -> tuple[dict, list[str]]:
        """``values`` without the fields the user may not set, and the names left out."""
        access = self.of(sobject)
        kept = {k: v for k, v in values.items() if k == "attributes" or access.can_write(k, creating=creating)}
        return kept, [k for k in values if k not in kept]

    # -- the stored copy ----------------------------------------------------------------------

    def _load(self, sobject: str) -> ObjectAccess | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(ACCESS).where(ACCESS.c.workspace_id == self.workspace_id,
                                                    ACCESS.c.sobject == sobject)).first()
        if row is None or (self.user_id is not None and row.sf_user_id != self.user_id):
            return None
        return ObjectAccess(row.sobject, row.available, frozenset(row.readable), frozenset(row.createable),
                            frozenset(row.updateable), {k: tuple(v) for k, v in (row.relationships or {}).items()},
                            as_utc(row.checked_at))

    def _save(self, access: ObjectAccess) -> None:
        row = {"workspace_id": self.workspace_id, "sobject": access.sobject, "sf_user_id": self.user_id,
               "available": access.available, "readable": sorted(access.readable),
               "createable": sorted(access.createable), "updateable": sorted(access.updateable),
               "relationships": {k: list(v) for k, v in access.relationships.items()}, "checked_at": access.checked_at}
        with self.engine.begin() as conn:
            stmt = upsert_statement(conn, ACCESS, ("workspace_id", "sobject"),
                                    [k for k in row if k not in ("workspace_id", "sobject")])
            conn.execute(stmt, row)


def stored(conn, workspace_id: int) -> dict[str, ObjectAccess]:
    """Every object's stored access for a workspace, without asking Salesforce."""
    rows = conn.execute(select(ACCESS).where(ACCESS.c.workspace_id == workspace_id)).all()
    return {r.sobject: ObjectAccess(r.sobject, r.available, frozenset(r.readable), frozenset(r.createable),
                                    frozenset(r.updateable), {k: tuple(v) for k, v in (r.relationships or {}).items()},
                                    as_utc(r.checked_at)) for r in rows}
