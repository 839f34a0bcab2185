"""Paging and text search for list pages."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import Session

PER_PAGE = 25


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)


def parse_page(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 100_000))
    except ValueError:
        return 1


def paginate(session: Session, stmt: Select, page: int, per_page: int = PER_PAGE) -> Page:
    total = session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    total = total.scalar_one()
    page = min(page, max(1, math.ceil(total / per_page)))
    rows = session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=list(rows), page=page, per_page=per_page, total=total)


def contains_any(columns: list[ColumnElement], text: str) -> ColumnElement:
    """Case-insensitive substring match on any of ``columns``, with LIKE wildcards escaped."""
    needle = text.strip().lower()
    needle = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{needle}%"
    return or_(*(func.lower(c).like(pattern, escape="\\") for c in columns))
