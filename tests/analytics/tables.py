"""The facts and the filter-menu counts, whole, to compare a refresh with a rebuild."""

from __future__ import annotations

from sqlalchemy import text

from webapp.analytics.facts import rebuild


def facts_table(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM message_fact ORDER BY message_id"))]


def menu_counts(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT workspace_id, dimension, value, messages FROM fact_value ORDER BY workspace_id, dimension, value"))]


def as_rebuilt(engine, workspace_id=1) -> tuple[tuple, tuple]:
    """(facts, menu counts) as they are, then as a full rebuild makes them."""
    before = facts_table(engine), menu_counts(engine)
    rebuild(engine, workspace_id)
    return before, (facts_table(engine), menu_counts(engine))
