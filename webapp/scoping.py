"""Rows are reached only through their workspace: another workspace's id is simply not found."""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import Session

T = TypeVar("T")


class NotFound(LookupError):
    """No such row in this workspace (whether it exists elsewhere is not said)."""


def owned(session: Session, model: type[T], workspace_id: int, row_id: int) -> T:
    row = session.get(model, row_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound(row_id)
    return row
