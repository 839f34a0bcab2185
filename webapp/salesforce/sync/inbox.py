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

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.engine import Connection

from webapp.models import Contact, SfAccount, SfContact
from webapp.salesforce.sync.upsert import CHUNK, execute_many, upsert_statement

CONTACT = Contact.__table__
SF_CONTACT = SfContact.__table__
SF_ACCOUNT = SfAccount.__table__


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
        SF_CONTACT.c.account_id.in_(bindparam("ids", expanding=True)),
        SF_CONTACT.c.is_deleted.is_(False),
        SF_CONTACT.c.email_normalized.is_not(None),
    )
    found: set[str] = set()
    for chunk in _chunks(account_ids):
        found.update(conn.execute(query, {"ids": chunk}).scalars())
    return found


def _matches(conn: Connection, workspace_id: int, emails: list[str]) -> dict[str, list]:
    account = SF_ACCOUNT.alias("account")
    query = (
        select(
            SF_CONTACT.c.sf_id, SF_CONTACT.c.email, SF_CONTACT.c.email_normalized, SF_CONTACT.c.name,
            SF_CONTACT.c.phone, SF_CONTACT.c.title, account.c.name.label("company"),
        )
        .select_from(
            SF_CONTACT.outerjoin(
                account,
                and_(
                    account.c.workspace_id == SF_CONTACT.c.workspace_id,
                    account.c.sf_id == SF_CONTACT.c.account_id,
                    account.c.is_deleted.is_(False),
                ),
            )
        )
        .where(
            SF_CONTACT.c.workspace_id == workspace_id,
            SF_CONTACT.c.is_deleted.is_(False),
            SF_CONTACT.c.email_normalized.in_(bindparam("emails", expanding=True)),
        )
    )
    by_email: dict[str, list] = defaultdict(list)
    for chunk in _chunks(emails):
        for row in conn.execute(query, {"emails": chunk}):
            by_email[row.email_normalized].append(row)
    return by_email


def reconcile(conn: Connection, workspace_id: int, emails: set[str], now: datetime) -> InboxCounts:
    counts = InboxCounts()
    emails_list = sorted(e for e in emails if e)
    if not emails_list:
        return counts
    by_email = _matches(conn, workspace_id, emails_list)
    linked_ids = [rows[0].sf_id for rows in by_email.values() if len(rows) == 1]

    existing: set[str] = set()
    stale_links = select(CONTACT.c.email_normalized).where(CONTACT.c.workspace_id == workspace_id)
    for chunk in _chunks(emails_list):
        existing.update(
            conn.execute(stale_links.where(CONTACT.c.email_normalized.in_(chunk))).scalars()
        )
    # Drop every link these addresses and ids had, then set the ones that hold now: a contact
    # whose email moved must not keep its old address's link (the link is unique).
    unlink = update(CONTACT).where(CONTACT.c.workspace_id == workspace_id).values(salesforce_id=None, salesforce_matches=0)
    for chunk in _chunks(emails_list):
        conn.execute(unlink.where(CONTACT.c.email_normalized.in_(chunk), CONTACT.c.salesforce_matches != 0))
    for chunk in _chunks(linked_ids):
        conn.execute(unlink.where(CONTACT.c.salesforce_id.in_(chunk)))

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
        stmt = upsert_statement(
            conn, CONTACT, keys,
            ("name", "phone", "title", "company", "salesforce_id", "salesforce_matches", "updated_at"),
            coalesce=("phone", "title", "company"),
        )
        execute_many(conn, stmt, single)
    if shared:
        execute_many(conn, upsert_statement(conn, CONTACT, keys, ("salesforce_matches", "updated_at")), shared)
    touched = {row["email_normalized"] for row in single + shared}
    counts.created = len(touched - existing)
    counts.updated = len(touched & existing)
    return counts
