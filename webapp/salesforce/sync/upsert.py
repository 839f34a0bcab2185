"""Bulk upserts for SQLite and PostgreSQL alike.

A statement is compiled once (per dialect and set of columns) and its rows go to the driver as
plain tuples: SQLAlchemy's per-row parameter handling cost more than the database's own work.
Values still pass through each column type's bind processor, so what is stored is exactly what
``conn.execute(stmt, rows)`` would store. SQLite takes the rows through ``executemany`` (one
prepared statement, stepped per row); PostgreSQL takes them as multi-row VALUES, because one
statement per row costs a server round of parse/plan/execute each.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter

from sqlalchemy import JSON, Table, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

CHUNK = 2000  # rows per executemany, and ids per IN list
PG_PARAMS = 30_000  # bound values per PostgreSQL statement (the protocol allows 65,535)
_NAMED = re.compile(r"%\((\w+)\)s")


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


@dataclass(frozen=True)
class _Plan:
    head: str  # up to and including "VALUES "
    values: str  # one row's "(?, ?, …)"
    tail: str  # " ON CONFLICT …", or ""
    keys: tuple[str, ...]  # row keys
    slots: tuple  # per parameter: ("row", index into keys, processor) or ("const", value)
    in_values: int | None  # how many parameters are in ``values`` (the rest are constants in ``tail``)

    def tuples(self, rows: list[dict]) -> list[tuple]:
        picked = list(map(itemgetter(*self.keys), rows))
        if len(self.keys) == 1:
            picked = [(v,) for v in picked]
        return self.params(picked)

    def params(self, rows: list[tuple]) -> list[tuple]:
        """Rows in ``keys`` order to driver parameters."""
        columns = list(zip(*rows)) if rows else [() for _ in self.keys]
        out = []
        for slot in self.slots:
            if slot[0] == "const":
                out.append([slot[1]] * len(rows))
            else:
                values, process = columns[slot[1]], slot[2]
                out.append(values if process is None else _processed(process, values))
        return list(zip(*out))


def _processed(process, values) -> list:
    # A page repeats values (its synced_at, flags, dates): convert each distinct one once.
    # Columns of mostly distinct values (stamps) are simply mapped.
    try:
        distinct = set(values)
    except TypeError:  # unhashable, e.g. JSON
        return list(map(process, values))
    if len(distinct) * 2 > len(values):
        return list(map(process, values))
    done = {v: process(v) for v in distinct}
    return list(map(done.__getitem__, values))


_PROBES = (datetime(2024, 2, 29, 23, 59, 58, 123000, tzinfo=UTC), datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC))


def _faster(process, dialect):
    """SQLite stores a UTC datetime as text through two Python steps per value (a page has a
    distinct stamp per row); one isoformat does the same. Used only where it gives exactly
    what the type's own processor gives."""
    if process is None or dialect.name != "sqlite":
        return process
    try:
        if any(process(p) != _sqlite_text(p) for p in _PROBES):
            return process
    except (TypeError, ValueError, AttributeError):
        return process

    def fast(value):
        if value.__class__ is datetime and value.tzinfo is UTC:
            return value.isoformat(" ", "microseconds")[:26]  # without its "+00:00"
        return process(value)

    return fast


def _sqlite_text(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


_plans: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _plan(conn: Connection, stmt, keys: tuple[str, ...]) -> _Plan | None:
    """How to send rows with these keys through this statement; None when SQLAlchemy must
    (a column default computed per row)."""
    dialect = conn.dialect
    by_stmt = _plans.setdefault(stmt, {})
    cache_key = (dialect.name, dialect.paramstyle, keys)
    if cache_key in by_stmt:
        return by_stmt[cache_key]
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    plan = None
    if not (compiled.insert_prefetch or compiled.update_prefetch or compiled.returning):
        sql = compiled.string
        if compiled.positiontup is not None:
            names = list(compiled.positiontup)
        else:
            names = _NAMED.findall(sql)
            sql = _NAMED.sub("%s", sql)
        index = {k: i for i, k in enumerate(keys)}
        slots = []
        for name in names:
            bind = compiled.binds[name]
            process = _faster(bind.type._cached_bind_processor(dialect), dialect)
            if name in index:
                slots.append(("row", index[name], process))
            else:  # a literal of the statement itself, e.g. attempts + 1
                value = bind.effective_value
                slots.append(("const", process(value) if process else value))
        start = sql.index(" VALUES (") + len(" VALUES ")
        end = sql.find(" ON CONFLICT ", start)
        end = len(sql) if end < 0 else end
        in_values = None
        if compiled.positiontup is None:
            in_values = len(_NAMED.findall(compiled.string[start:end]))
            if any(slot[0] == "row" for slot in slots[in_values:]):
                in_values = None  # a row value after VALUES: no multi-row form
        plan = _Plan(sql[:start], sql[start:end], sql[end:], keys, tuple(slots), in_values)
    by_stmt[cache_key] = plan
    return plan


def execute_many(conn: Connection, stmt, rows: list[dict]) -> None:
    """Run an INSERT (… ON CONFLICT) for every row. All rows have the keys of the first, and
    no two rows share a conflict key (PostgreSQL would refuse one statement touching a row
    twice)."""
    if rows:
        execute_tuples(conn, stmt, tuple(rows[0]), rows, dicts=True)


def execute_tuples(conn: Connection, stmt, keys: tuple[str, ...], rows: list, *, dicts: bool = False) -> None:
    """``execute_many`` for rows given as tuples in ``keys`` order."""
    if not rows:
        return
    plan = _plan(conn, stmt, keys)
    if plan is None:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            conn.execute(stmt, chunk if dicts else [dict(zip(keys, row)) for row in chunk])
        return
    convert = plan.tuples if dicts else plan.params
    if plan.in_values is None:
        sql = plan.head + plan.values + plan.tail
        for start in range(0, len(rows), CHUNK):
            conn.exec_driver_sql(sql, convert(rows[start : start + CHUNK]))
        return
    n = plan.in_values
    per_statement = max(1, PG_PARAMS // max(1, len(plan.slots)))
    for start in range(0, len(rows), per_statement):
        batch = convert(rows[start : start + per_statement])
        sql = plan.head + ", ".join([plan.values] * len(batch)) + plan.tail
        # Each row's VALUES parameters, then the statement's own constants (ON CONFLICT …) once.
        conn.exec_driver_sql(sql, tuple(v for row in batch for v in row[:n]) + batch[0][n:])


def in_list(conn: Connection, column, name: str):
    """``column IN`` the list bound as the one parameter ``name``. SQLAlchemy's expanding IN
    renders and binds a placeholder per value on every execution, which on pages of 2,000
    cost more than the query."""
    if conn.dialect.name == "sqlite":
        return column.in_(select(func.json_each(bindparam(name, type_=JSON)).table_valued("value").c.value))
    return column == any_(bindparam(name, type_=ARRAY(column.type)))


def existing(conn: Connection, table: Table, workspace_id: int, sf_ids: list[str], columns: Sequence[str]) -> dict[str, tuple]:
    """The stored values of ``columns`` for the rows with these Salesforce ids, by id."""
    if not sf_ids:
        return {}
    query = select(table.c.sf_id, *(table.c[c] for c in columns)).where(
        table.c.workspace_id == workspace_id, in_list(conn, table.c.sf_id, "ids")
    )
    found: dict[str, tuple] = {}
    for start in range(0, len(sf_ids), CHUNK):
        for row in conn.execute(query, {"ids": sf_ids[start : start + CHUNK]}):
            found[row[0]] = tuple(row[1:])
    return found
