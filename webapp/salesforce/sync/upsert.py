"""Bulk upserts in the executemany form (SQLAlchemy batches it into multi-row statements),
for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

CHUNK = 2000  # rows per executemany; SQLite and psycopg both take this many parameters in one go


def insert_for(conn: Connection, table: Table):
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    return dialect.insert(table)


def upsert_statement(conn: Connection, table: Table, keys: Sequence[str], update: Iterable[str], where=None, *, coalesce: Iterable[str] = ()):
    """INSERT … ON CONFLICT (keys) DO UPDATE SET col = excluded.col for ``update``; the
    ``coalesce`` columns keep their value when the new one is NULL."""
    stmt = insert_for(conn, table)
    keep = set(coalesce)
    set_ = {
        c: (func.coalesce(stmt.excluded[c], table.c[c]) if c in keep else stmt.excluded[c]) for c in update
    }
    return stmt.on_conflict_do_update(index_elements=[table.c[k] for k in keys], set_=set_, where=where)


def execute_many(conn: Connection, stmt, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(stmt, rows[start : start + CHUNK])


def existing(conn: Connection, table: Table, workspace_id: int, sf_ids: list[str], columns: Sequence[str]) -> dict[str, tuple]:
    """The stored values of ``columns`` for the rows with these Salesforce ids, by id."""
    if not sf_ids:
        return {}
    query = select(table.c.sf_id, *(table.c[c] for c in columns)).where(
        table.c.workspace_id == workspace_id, table.c.sf_id.in_(bindparam("ids", expanding=True))
    )
    found: dict[str, tuple] = {}
    for start in range(0, len(sf_ids), CHUNK):
        for row in conn.execute(query, {"ids": sf_ids[start : start + CHUNK]}):
            found[row[0]] = tuple(row[1:])
    return found
