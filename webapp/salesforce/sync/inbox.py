"""Salesforce contacts into the inbox's contacts.

An inbox contact is an email address. For each address the sync touched it asks the mirror
how many live Salesforce contacts have it:

- one: the inbox contact is created or updated from it (name, phone, title, company from the
  account) and linked by its Salesforce Id; Salesforce's blanks never erase inbox values;
- several: the inbox contact is flagged with the count and linked to none of them, because
  picking one would be a guess;
- none any more: the link is dropped; the contact and its conversations stay.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists, func, select, update
from sqlalchemy.engine import Connection

from webapp.models import Contact, SfAccount, SfContact, SyncLink
from webapp.salesforce.sync.upsert import CHUNK, execute_many, in_list, insert_for, upsert_statement

CONTACT = Contact.__table__
SF_CONTACT = SfContact.__table__
SF_ACCOUNT = SfAccount.__table__
LINK = SyncLink.__table__
TWO_WAY = ("name", "phone", "title", "updated_at")  # the fields the two-way sync owns once linked


@dataclass
class InboxCounts:
    created: int = 0
    updated: int = 0


def _chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def emails_of_accounts(conn: Connection, workspace_id: int, account_ids: list[str]) -> set[str]:
    """Addresses of the live Salesforce contacts of these accounts."""
    query = select(SF_CONTACT.c.email_normalized).where(
        SF_CONTACT.c.workspace_id == workspace_id,
        in_list(conn, SF_CONTACT.c.account_id, "ids"),
        SF_CONTACT.c.is_deleted.is_(False),
        SF_CONTACT.c.email_normalized.is_not(None),
    )
    found: set[str] = set()
    for chunk in _chunks(account_ids):
        found.update(conn.execute(query, {"ids": chunk}).scalars())
    return found


def _matches(conn: Connection, workspace_id: int, emails: list[str]) -> dict[str, list]:
    """The live Salesforce contacts of each address, with their account's name as company.

    Two index lookups joined here rather than one SQL join: on tables filled moments ago the
    planner has no statistics yet and chose whole-table joins on PostgreSQL.
    """
    contacts = select(
        SF_CONTACT.c.sf_id, SF_CONTACT.c.email, SF_CONTACT.c.email_normalized, SF_CONTACT.c.name,
        SF_CONTACT.c.phone, SF_CONTACT.c.title, SF_CONTACT.c.account_id,
    ).where(
        SF_CONTACT.c.workspace_id == workspace_id,
        SF_CONTACT.c.is_deleted.is_(False),
        in_list(conn, SF_CONTACT.c.email_normalized, "emails"),
    )
    accounts = select(SF_ACCOUNT.c.sf_id, SF_ACCOUNT.c.name).where(
        SF_ACCOUNT.c.workspace_id == workspace_id,
        SF_ACCOUNT.c.is_deleted.is_(False),
        in_list(conn, SF_ACCOUNT.c.sf_id, "ids"),
    )
    by_email: dict[str, list] = defaultdict(list)
    for chunk in _chunks(emails):
        rows = conn.execute(contacts, {"emails": chunk}).all()
        account_ids = sorted({r.account_id for r in rows if r.account_id})
        names: dict[str, str] = {}
        for ids in _chunks(account_ids):
            names.update((sf_id, name) for sf_id, name in conn.execute(accounts, {"ids": ids}))
        for r in rows:
            by_email[r.email_normalized].append(
                MatchedContact(r.sf_id, r.email, r.email_normalized, r.name, r.phone, r.title, names.get(r.account_id))
            )
    return by_email


@dataclass(frozen=True)
class MatchedContact:
    sf_id: str
    email: str | None
    email_normalized: str
    name: str
    phone: str | None
    title: str | None
    company: str | None


def reconcile(conn: Connection, workspace_id: int, emails: set[str], now: datetime) -> InboxCounts:
    counts = InboxCounts()
    emails_list = sorted(e for e in emails if e)
    if not emails_list:
        return counts
    by_email = _matches(conn, workspace_id, emails_list)
    linked_ids = [rows[0].sf_id for rows in by_email.values() if len(rows) == 1]

    existing: set[str] = set()
    stale_links = select(CONTACT.c.email_normalized).where(
        CONTACT.c.workspace_id == workspace_id, in_list(conn, CONTACT.c.email_normalized, "emails"))
    for chunk in _chunks(emails_list):
        existing.update(conn.execute(stale_links, {"emails": chunk}).scalars())
    # Drop every link these addresses and ids had, then set the ones that hold now: a contact
    # whose email moved must not keep its old address's link (the link is unique). Only the
    # addresses that have an inbox contact can hold one.
    unlink = update(CONTACT).where(CONTACT.c.workspace_id == workspace_id).values(salesforce_id=None, salesforce_matches=0)
    by_address = unlink.where(in_list(conn, CONTACT.c.email_normalized, "emails"), CONTACT.c.salesforce_matches != 0)
    for chunk in _chunks(sorted(existing)):
        conn.execute(by_address, {"emails": chunk})
    by_link = unlink.where(in_list(conn, CONTACT.c.salesforce_id, "ids"))
    for chunk in _chunks(linked_ids):
        conn.execute(by_link, {"ids": chunk})

    single, shared = [], []
    for email, rows in by_email.items():
        if len(rows) == 1:
            r = rows[0]
            single.append({
                "workspace_id": workspace_id, "email": r.email, "email_normalized": email,
                "name": (r.name or "")[:200], "phone": r.phone, "title": (r.title or None) and r.title[:200],
                "company": (r.company or None) and r.company[:200], "salesforce_id": r.sf_id,
                "salesforce_matches": 1, "created_at": now, "updated_at": now,
            })
        else:
            shared.append({
                "workspace_id": workspace_id, "email": rows[0].email, "email_normalized": email,
                "name": "", "phone": None, "title": None, "company": None, "salesforce_id": None,
                "salesforce_matches": len(rows), "created_at": now, "updated_at": now,
            })
    keys = ("workspace_id", "email_normalized")
    if single:
        execute_many(conn, _single_upsert(conn), single)
    if shared:
        execute_many(conn, upsert_statement(conn, CONTACT, keys, ("salesforce_matches", "updated_at")), shared)
    touched = {row["email_normalized"] for row in single + shared}
    counts.created = len(touched - existing)
    counts.updated = len(touched & existing)
    return counts


def _single_upsert(conn: Connection):
    """Upsert of singly matched contacts. A contact the two-way sync manages for this same
    Salesforce contact keeps its name, phone and title: the two-way reconciliation decides
    those by the ownership rules, so inbox edits not yet pushed are not overwritten here."""
    stmt = insert_for(conn, CONTACT)
    managed = exists().where(LINK.c.workspace_id == CONTACT.c.workspace_id, LINK.c.kind == "contact",
                             LINK.c.local_id == CONTACT.c.id, LINK.c.state == "linked",
                             LINK.c.sf_id == stmt.excluded.salesforce_id)
    coalesced = {"phone", "title", "company"}
    set_ = {}
    for column in ("name", "phone", "title", "company", "salesforce_id", "salesforce_matches", "updated_at"):
        value = func.coalesce(stmt.excluded[column], CONTACT.c[column]) if column in coalesced else stmt.excluded[column]
        set_[column] = case((managed, CONTACT.c[column]), else_=value) if column in TWO_WAY else value
    return stmt.on_conflict_do_update(index_elements=[CONTACT.c.workspace_id, CONTACT.c.email_normalized], set_=set_)
