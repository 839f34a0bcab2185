"""Salesforce contacts into the inbox's contacts.

An inbox contact is an email address. For each address the sync touched it asks the mirror
how many live Salesforce contacts have it:

- one: the inbox contact is created or updated from it (name, phone, title, company from the
  account) and linked by its Salesforce Id; Salesforce's blanks never erase inbox values;
- several: the inbox contact is flagged with the count and linked to none of them (pushing
  edits to one of them would be a guess), unless an agent chose one on the card (``_chosen``),
  which then counts as the one. Otherwise it shows the one the card shows: the latest
  LastModifiedDate, then the lowest Id. Its values are taken as they are, blanks included, so
  the result is the same whichever of the records arrived first, in one run or over several;
- none any more: the link is dropped; the contact and its conversations stay.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, case, exists, func, select, update
from sqlalchemy.engine import Connection

from webapp.models import Contact, SalesforceChoice, SfAccount, SfContact, SyncLink
from webapp.salesforce.sync.upsert import CHUNK, execute_many, in_list, insert_for, upsert_statement

CONTACT = Contact.__table__
SF_CONTACT = SfContact.__table__
SF_ACCOUNT = SfAccount.__table__
LINK = SyncLink.__table__
CHOICE = SalesforceChoice.__table__
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


def _matches(conn: Connection, workspace_id: int, emails: list[str], known: dict[str, list[tuple]] | None = None) -> dict[str, list]:
    """The live Salesforce contacts of each address, with their account's name as company.

    Two index lookups joined here rather than one SQL join: on tables filled moments ago the
    planner has no statistics yet and chose whole-table joins on PostgreSQL. ``known``: the
    addresses whose live contacts the caller already has (as contacts-query rows), not asked for.
    Each address's contacts come in the card's order, its pick first.
    """
    contacts = select(
        SF_CONTACT.c.sf_id, SF_CONTACT.c.email, SF_CONTACT.c.email_normalized, SF_CONTACT.c.name,
        SF_CONTACT.c.phone, SF_CONTACT.c.title, SF_CONTACT.c.account_id,
        func.coalesce(SF_CONTACT.c.last_modified_date, SF_CONTACT.c.system_modstamp),
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
    known = known or {}
    found: dict[str, list[tuple]] = defaultdict(list)
    for chunk in _chunks([e for e in emails if e not in known] if known else emails):
        for row in conn.execute(contacts, {"emails": chunk}):
            found[row[2]].append(tuple(row))
    names: dict[str, str] = {}
    account_ids = sorted({r[6] for rows in (*found.values(), *known.values()) for r in rows if r[6]})
    for ids in _chunks(account_ids):
        names.update(conn.execute(accounts, {"ids": ids}).all())
    by_email: dict[str, list] = {}
    for email in emails:  # in address order, as the index gives them
        rows = known[email] if email in known else found.get(email)
        if rows:
            by_email[email] = [MatchedContact(sf_id, e, n, name, phone, title, names.get(account_id))
                               for sf_id, e, n, name, phone, title, account_id, _ in _card_order(rows)]
    return by_email


def _card_order(rows: list[tuple]) -> list[tuple]:
    """The card's order: the latest modified first, ties by Id (rows end with the modified time)."""
    if len(rows) == 1:
        return rows
    return sorted(sorted(rows, key=lambda r: r[0]), key=lambda r: r[-1], reverse=True)


class MatchedContact(NamedTuple):  # a tuple: a frozen dataclass costs a setattr per field, per row
    sf_id: str
    email: str | None
    email_normalized: str
    name: str
    phone: str | None
    title: str | None
    company: str | None


def reconcile(conn: Connection, workspace_id: int, emails: set[str], now: datetime,
              known: dict[str, list[tuple]] | None = None) -> InboxCounts:
    counts = InboxCounts()
    emails_list = sorted(e for e in emails if e)
    if not emails_list:
        return counts
    by_email = _chosen(conn, workspace_id, _matches(conn, workspace_id, emails_list, known))
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
            pick = rows[0]
            shared.append({
                "workspace_id": workspace_id, "email": pick.email, "email_normalized": email,
                "name": (pick.name or "")[:200], "phone": pick.phone, "title": (pick.title or None) and pick.title[:200],
                "company": (pick.company or None) and pick.company[:200], "salesforce_id": None,
                "salesforce_matches": len(rows), "created_at": now, "updated_at": now,
            })
    if single:
        execute_many(conn, _statement(conn, "single"), single)
    if shared:
        execute_many(conn, _statement(conn, "shared"), shared)
    touched = {row["email_normalized"] for row in single + shared}
    counts.created = len(touched - existing)
    counts.updated = len(touched & existing)
    return counts


# -- the card's remembered choice: it comes before any other way of picking among several ----

def _chosen(conn: Connection, workspace_id: int, by_email: dict[str, list]) -> dict[str, list]:
    """Addresses several contacts share, narrowed to the contact an agent chose on the card
    while it is still among them."""
    shared = [email for email, rows in by_email.items() if len(rows) > 1]
    query = select(CHOICE.c.email_normalized, CHOICE.c.sf_id).where(
        CHOICE.c.workspace_id == workspace_id, CHOICE.c.sobject == "Contact",
        in_list(conn, CHOICE.c.email_normalized, "emails"))
    for chunk in _chunks(shared):
        for email, sf_id in conn.execute(query, {"emails": chunk}):
            picked = [row for row in by_email[email] if row.sf_id == sf_id]
            if picked:
                by_email[email] = picked
    return by_email


_statements: dict[tuple[str, str], object] = {}


def _statement(conn: Connection, kind: str):
    """Built once per dialect: a new statement object per page would be compiled per page."""
    key = (conn.dialect.name, kind)
    if key not in _statements:
        _statements[key] = _single_upsert(conn) if kind == "single" else upsert_statement(
            conn, CONTACT, ("workspace_id", "email_normalized"),
            ("name", "phone", "title", "company", "salesforce_matches", "updated_at"))
    return _statements[key]


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
