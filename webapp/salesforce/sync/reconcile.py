"""Two-way reconciliation after a pull, without any Salesforce call.

For each linked deal or contact it compares three values per field: the inbox's, the mirror's
(what Salesforce has) and the base (what both agreed at the last sync). Only Salesforce moved:
the inbox takes it. Only the inbox moved: it goes out. Both moved to different values: a
conflict, settled by the field's rule and logged. Our own write coming back equals the base,
so it is no change (echo suppression). Returns what has to go to Salesforce.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection

from webapp.clock import utcnow
from webapp.models import Contact, Deal, SfContact, SfOpportunity, SfOpportunityStage, SyncConflict, SyncLink
from webapp.salesforce.sync.ownership import FIELDS, Stage, map_stage, meaning_of, shown, winner

DEAL, CONTACT, LINK = Deal.__table__, Contact.__table__, SyncLink.__table__
OPP, SF_CONTACT, STAGE = SfOpportunity.__table__, SfContact.__table__, SfOpportunityStage.__table__
CONFLICT = SyncConflict.__table__


@dataclass
class Outgoing:
    kind: str
    local_id: int
    link_id: int
    sf_id: str | None
    name: str
    values: dict  # field -> value to write, in the inbox's terms
    read_at: datetime  # the record's updated_at the values were read at
    base: dict = field(default_factory=dict)
    create: bool = False


@dataclass
class Plan:
    outgoing: list[Outgoing] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)


def org_stages(conn: Connection, workspace_id: int) -> list[Stage]:
    rows = conn.execute(select(STAGE.c.api_name, STAGE.c.is_closed, STAGE.c.is_won, STAGE.c.default_probability,
                               STAGE.c.sort_order)
                        .where(STAGE.c.workspace_id == workspace_id, STAGE.c.is_active.is_(True), STAGE.c.is_deleted.is_(False))
                        .order_by(STAGE.c.sort_order, STAGE.c.api_name)).all()
    return [Stage(*row) for row in rows]


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _amount(minor, currency):
    return None if minor is None else [int(minor), currency]


class Reconciler:
    def __init__(self, conn: Connection, workspace_id: int, run_id: int, rules: dict[str, str], counts: dict[str, dict], *,
                 retry_ids: dict[str, set[int]] | None = None, unreadable: set[str] = frozenset(),
                 new_since: datetime | None = None):
        self.conn, self.workspace_id, self.run_id, self.rules, self.counts = conn, workspace_id, run_id, rules, counts
        self.unreadable = unreadable  # field keys whose Salesforce field the connected user cannot read
        self.new_since = new_since  # deals created before it are not created in Salesforce
        self.retry_ids = retry_ids  # None: normal run; {"deal": {ids}, …}: retry these failed records
        self.now = utcnow()
        self.stages = org_stages(conn, workspace_id)

    # -- deals --------------------------------------------------------------------------------

    def deals(self) -> list[Outgoing]:
        ws = self.workspace_id
        query = (
            select(DEAL.c.id, DEAL.c.name, DEAL.c.amount_minor, DEAL.c.currency, DEAL.c.stage, DEAL.c.close_date,
                   DEAL.c.updated_at, SF_CONTACT.c.account_id.label("account"),
                   LINK.c.id.label("link_id"), LINK.c.state, LINK.c.sf_id, LINK.c.base, LINK.c.sf_stamp,
                   LINK.c.local_seen, LINK.c.failed_at,
                   OPP.c.name.label("o_name"), OPP.c.stage_name.label("o_stage"), OPP.c.amount_minor.label("o_amount"),
                   OPP.c.currency.label("o_currency"), OPP.c.close_date.label("o_close"),
                   OPP.c.account_id.label("o_account"), OPP.c.system_modstamp.label("o_stamp"),
                   OPP.c.last_modified_date.label("o_modified"), OPP.c.is_deleted.label("o_deleted"))
            .select_from(
                DEAL.outerjoin(LINK, and_(LINK.c.workspace_id == DEAL.c.workspace_id, LINK.c.kind == "deal",
                                          LINK.c.local_id == DEAL.c.id))
                .outerjoin(OPP, and_(OPP.c.workspace_id == DEAL.c.workspace_id, OPP.c.sf_id == LINK.c.sf_id))
                .outerjoin(CONTACT, CONTACT.c.id == DEAL.c.contact_id)
                .outerjoin(SF_CONTACT, and_(SF_CONTACT.c.workspace_id == DEAL.c.workspace_id,
                                            SF_CONTACT.c.sf_id == CONTACT.c.salesforce_id, SF_CONTACT.c.is_deleted.is_(False)))
            )
            .where(DEAL.c.workspace_id == ws, or_(
                LINK.c.id.is_(None) if self.new_since is None else and_(LINK.c.id.is_(None), DEAL.c.created_at >= self.new_since),
                LINK.c.state == "new",
                and_(LINK.c.state == "linked", or_(
                    LINK.c.local_seen.is_(None), LINK.c.local_seen != DEAL.c.updated_at,
                    OPP.c.system_modstamp != LINK.c.sf_stamp, and_(OPP.c.id.is_not(None), LINK.c.sf_stamp.is_(None)),
                    # an edit within the second of our own write keeps the stamp; the mirror row moves
                    OPP.c.synced_at > LINK.c.updated_at,
                    LINK.c.failed_at.is_not(None))),
            ))
            .order_by(DEAL.c.id)
        )
        out: list[Outgoing] = []
        for row in self.conn.execute(query).all():
            local = {"name": row.name, "stage": row.stage, "amount": _amount(row.amount_minor, row.currency),
                     "close_date": _iso(row.close_date), "account": row.account}
            if row.link_id is None or row.state == "new":
                item = self._new_deal(row, local)
            else:
                item = self._linked(row, "deal", local)
            if item is not None:
                out.append(item)
        return out

    def _stage_for(self, local: dict, base: dict) -> str:
        """The deal's stage in the org's terms (stages renamed or missing map by meaning)."""
        remembered = base.get("stage_meaning") if local["stage"] == base.get("stage") else None
        return map_stage(local["stage"], self.stages, tuple(remembered) if remembered else None) or local["stage"]

    def _new_deal(self, row, local: dict) -> Outgoing | None:
        if not self._may_push("deal", row.id, row.failed_at, row.updated_at):
            return None
        link_id = row.link_id
        if link_id is None:
            link_id = self.conn.execute(LINK.insert().values(
                workspace_id=self.workspace_id, kind="deal", local_id=row.id, state="new", key=uuid.uuid4().hex,
                name=row.name[:255], updated_at=self.now).returning(LINK.c.id)).scalar_one()
        mapped = self._stage_for(local, {})
        read_at = row.updated_at
        if mapped != local["stage"]:
            read_at = self._update_local("deal", row.id, row.updated_at, {"stage": mapped}) or read_at
            local["stage"] = mapped
        values = {k: v for k, v in local.items() if self._rule(f"deal.{k}") != "off" or k in ("name", "stage", "close_date")}
        return Outgoing("deal", row.id, link_id, None, row.name, values, read_at, create=True)

    def _may_push(self, kind: str, local_id: int, failed_at, updated_at) -> bool:
        """A record whose push failed waits until it changes, or until an admin retries it."""
        if failed_at is None or failed_at != updated_at:
            return True
        return self.retry_ids is not None and local_id in self.retry_ids.get(kind, set())

    def _rule(self, key: str) -> str:
        if key in self.unreadable:
            return "off"
        return self.rules.get(key, "off")

    # -- one linked record --------------------------------------------------------------------

    def _linked(self, row, kind: str, local: dict) -> Outgoing | None:
        base = dict(row.base or {})
        stamp = row.o_stamp
        if row.o_deleted:
            self._unlink(row.link_id, kind)
            return None
        if stamp is None:  # not mirrored yet (created by us a moment ago): Salesforce is the base
            sf = dict(base)
        elif kind == "deal":
            sf = {"name": row.o_name, "stage": row.o_stage, "amount": _amount(row.o_amount, row.o_currency),
                  "close_date": _iso(row.o_close), "account": row.o_account}
        else:
            sf = {"name": row.o_name, "title": row.o_title, "phone": row.o_phone}
        if kind == "deal":
            local["stage"] = self._stage_for(local, base)
        sf_at = row.o_modified or stamp
        updates: dict = {}
        outgoing: dict = {}
        for f in FIELDS:
            if f.kind != kind or self._rule(f.key) == "off":
                continue
            name, rule = f.name, self._rule(f.key)
            mine, theirs, agreed = local.get(name), sf.get(name), base.get(name)
            local_moved = mine != agreed
            sf_moved = f.inbound and theirs != agreed and name in sf
            if not local_moved and not sf_moved:
                continue
            if sf_moved and not local_moved:
                updates[name], base[name] = theirs, theirs
            elif local_moved and not sf_moved:
                outgoing[name] = mine
            elif mine == theirs:
                base[name] = theirs
            else:
                won = winner(rule, row.updated_at, sf_at)
                self._conflict(kind, row, f.key, mine, theirs, rule, won)
                if won == "salesforce":
                    updates[name] = theirs
                else:
                    outgoing[name] = mine
                base[name] = theirs  # seen and settled: not a conflict again next run
        if kind == "deal" and local["stage"] != row.stage and "stage" not in updates:
            updates["stage"] = local["stage"]  # the org renamed or dropped the deal's stage
        if kind == "deal" and "stage" in base:
            base["stage_meaning"] = meaning_of(base["stage"], self.stages) or base.get("stage_meaning")
        read_at = row.updated_at
        if updates:
            changed = self._update_local(kind, row.id, row.updated_at, updates)
            if changed is None:
                return None  # edited in the inbox meanwhile: the next run takes both
            read_at = changed
            self._count(kind, "from_salesforce")
        values = {"base": base, "sf_stamp": stamp, "updated_at": self.now}
        push = bool(outgoing) and self._may_push(kind, row.id, row.failed_at, row.updated_at)
        if not push:
            values["local_seen"] = read_at
        self.conn.execute(update(LINK).where(LINK.c.id == row.link_id).values(**values))
        if not push:
            return None
        return Outgoing(kind, row.id, row.link_id, row.sf_id, local.get("name") or "", outgoing, read_at, base)

    def _update_local(self, kind: str, local_id: int, read_at: datetime, values: dict) -> datetime | None:
        """Write Salesforce's values into the inbox record unless someone edited it since we
        read it; returns its new updated_at, or None when it moved."""
        now = utcnow()
        if kind == "deal":
            table = DEAL
            columns = {}
            for name, value in values.items():
                if name == "amount":
                    columns["amount_minor"], columns["currency"] = (value[0], value[1]) if value else (None, None)
                    if value is None:
                        columns.pop("currency")
                elif name == "close_date":
                    columns["close_date"] = datetime.fromisoformat(value).date() if value else None
                elif name == "stage":
                    columns["stage"] = (value or "")[:120]
                elif name == "name":
                    columns["name"] = (value or "")[:120]
        else:
            table = CONTACT
            columns = {"name" if n == "name" else n: (v or ("" if n == "name" else None)) for n, v in values.items()}
            if "title" in columns and columns["title"]:
                columns["title"] = columns["title"][:200]
        if not columns:
            return read_at
        result = self.conn.execute(update(table).where(table.c.id == local_id, table.c.updated_at == read_at)
                                   .values(**columns, updated_at=now))
        return now if result.rowcount == 1 else None

    def _unlink(self, link_id: int, kind: str) -> None:
        self.conn.execute(update(LINK).where(LINK.c.id == link_id).values(
            state="unlinked", unlinked_at=self.now, updated_at=self.now))
        self._count(kind, "unlinked")

    def _conflict(self, kind, row, key, mine, theirs, rule, won) -> None:
        self.conn.execute(CONFLICT.insert().values(
            workspace_id=self.workspace_id, kind=kind, local_id=row.id, sf_id=row.sf_id,
            record_name=(row.name or "")[:255], field=key, inbox_value=shown(mine), salesforce_value=shown(theirs),
            rule=rule, winner=won, run_id=self.run_id, created_at=self.now))
        self._count(kind, "conflicts")

    def _count(self, kind: str, key: str) -> None:
        bucket = self.counts.setdefault(kind, {})
        bucket[key] = bucket.get(key, 0) + 1

    # -- contacts -----------------------------------------------------------------------------

    def contacts(self) -> list[Outgoing]:
        """Inbox contacts the pull linked to one Salesforce contact. Inbox contacts are never
        created in Salesforce; their edits go out, and Salesforce's come in."""
        ws = self.workspace_id
        self._link_contacts()
        query = (
            select(CONTACT.c.id, CONTACT.c.name, CONTACT.c.title, CONTACT.c.phone, CONTACT.c.updated_at,
                   LINK.c.id.label("link_id"), LINK.c.state, LINK.c.sf_id, LINK.c.base, LINK.c.sf_stamp,
                   LINK.c.local_seen, LINK.c.failed_at,
                   SF_CONTACT.c.name.label("o_name"), SF_CONTACT.c.title.label("o_title"),
                   SF_CONTACT.c.phone.label("o_phone"), SF_CONTACT.c.system_modstamp.label("o_stamp"),
                   SF_CONTACT.c.system_modstamp.label("o_modified"), SF_CONTACT.c.is_deleted.label("o_deleted"))
            .select_from(
                LINK.join(CONTACT, CONTACT.c.id == LINK.c.local_id)
                .outerjoin(SF_CONTACT, and_(SF_CONTACT.c.workspace_id == LINK.c.workspace_id, SF_CONTACT.c.sf_id == LINK.c.sf_id))
            )
            .where(LINK.c.workspace_id == ws, LINK.c.kind == "contact", LINK.c.state == "linked", or_(
                LINK.c.local_seen != CONTACT.c.updated_at, SF_CONTACT.c.system_modstamp != LINK.c.sf_stamp,
                SF_CONTACT.c.synced_at > LINK.c.updated_at,
                LINK.c.failed_at.is_not(None)))
            .order_by(CONTACT.c.id)
        )
        out = []
        for row in self.conn.execute(query).all():
            item = self._linked(row, "contact", {"name": row.name, "title": row.title, "phone": row.phone})
            if item is not None:
                out.append(item)
        return out

    def _link_contacts(self) -> None:
        """Start (or restart) the link of every inbox contact the pull matched to a Salesforce
        contact; the pull wrote Salesforce's values into it, so they are the base."""
        ws = self.workspace_id
        # Contacts the pull unlinked (their address now matches none or several): stop.
        unlinked = select(CONTACT.c.id).where(CONTACT.c.workspace_id == ws, CONTACT.c.salesforce_id.is_(None))
        self.conn.execute(LINK.delete().where(LINK.c.workspace_id == ws, LINK.c.kind == "contact",
                                              LINK.c.local_id.in_(unlinked)))
        rows = self.conn.execute(
            select(CONTACT.c.id, CONTACT.c.salesforce_id, CONTACT.c.updated_at, LINK.c.id.label("link_id"), LINK.c.sf_id,
                   SF_CONTACT.c.name, SF_CONTACT.c.title, SF_CONTACT.c.phone, SF_CONTACT.c.system_modstamp)
            .select_from(CONTACT.outerjoin(LINK, and_(LINK.c.workspace_id == CONTACT.c.workspace_id, LINK.c.kind == "contact",
                                                      LINK.c.local_id == CONTACT.c.id))
                         .join(SF_CONTACT, and_(SF_CONTACT.c.workspace_id == CONTACT.c.workspace_id,
                                                SF_CONTACT.c.sf_id == CONTACT.c.salesforce_id)))
            .where(CONTACT.c.workspace_id == ws, CONTACT.c.salesforce_id.is_not(None),
                   or_(LINK.c.id.is_(None), LINK.c.sf_id != CONTACT.c.salesforce_id))
        ).all()
        for r in rows:
            self.conn.execute(LINK.delete().where(LINK.c.workspace_id == ws, LINK.c.kind == "contact",
                                                  LINK.c.sf_id == r.salesforce_id, LINK.c.local_id != r.id))
            values = dict(sf_id=r.salesforce_id, state="linked", base={"name": r.name, "title": r.title, "phone": r.phone},
                          sf_stamp=r.system_modstamp, local_seen=r.updated_at, failed_at=None, updated_at=self.now)
            if r.link_id is None:
                self.conn.execute(LINK.insert().values(workspace_id=ws, kind="contact", local_id=r.id,
                                                       key=uuid.uuid4().hex, **values))
            else:
                self.conn.execute(update(LINK).where(LINK.c.id == r.link_id).values(**values))
