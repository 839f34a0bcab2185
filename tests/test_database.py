"""Migrations, SQLite pragmas, aware UTC datetimes and workspace-scoped constraints."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import SQLModel, select

from tests import factories
from tests.conftest import POSTGRES_URL
from webapp import migrations
from webapp.db import get_engine, make_engine
from webapp.models import Contact, Message, Workspace


def test_migrations_match_the_models(app):
    """A model change without a migration fails here."""
    with get_engine(app).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [
            d for d in compare_metadata(context, SQLModel.metadata)
            if not (d[0] == "remove_table" and d[1].name == "apscheduler_jobs")
        ]
    assert diff == []


def test_init_db_creates_and_then_keeps_the_schema(app, tmp_path):
    runner = app.test_cli_runner()
    if not POSTGRES_URL:
        app.config["DATABASE_URL"] = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        get_engine(app).dispose()
        app.extensions["db_engine"] = make_engine(app.config["DATABASE_URL"])
        first = runner.invoke(args=["init-db"])
        assert first.exit_code == 0, first.output
        assert "upgraded from empty to" in first.output
    second = runner.invoke(args=["init-db"])
    assert second.exit_code == 0 and "up to date" in second.output
    assert migrations.current_revision(get_engine(app)) == migrations.head_revision()
    tables = set(inspect(get_engine(app)).get_table_names())
    assert {"workspace", "app_user", "contact", "conversation", "message", "deal"} <= tables


def test_downgrade_to_empty_and_upgrade_again(app):
    engine = get_engine(app)
    with engine.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), "base")
    assert "contact" not in inspect(engine).get_table_names()
    migrations.upgrade(engine)
    assert "contact" in inspect(engine).get_table_names()


@pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite pragmas")
def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(app):
    with get_engine(app).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_foreign_keys_are_enforced(db):
    with pytest.raises(IntegrityError), db() as s:
        s.add(Contact(workspace_id=424242, name="Orphan"))
        s.flush()


def test_datetimes_are_aware_utc_and_naive_ones_are_refused(db):
    with db() as s:
        conv = factories.conversation(s, _workspace(s), messages=1)
        conv_id = conv.id
    with db() as s:
        sent = s.exec(select(Message.sent_at).where(Message.conversation_id == conv_id)).one()
    assert sent.utcoffset().total_seconds() == 0
    with pytest.raises(StatementError), db() as s:
        ws = s.exec(select(Workspace)).one()
        ws.created_at = datetime(2026, 1, 1)  # naive
        s.add(ws)
        s.flush()


def test_one_contact_per_email_per_workspace(db):
    with db() as s:
        ws = _workspace(s)
        factories.contact(s, ws, email="dup@x.test")
    with pytest.raises(IntegrityError), db() as s:
        factories.contact(s, ws, email="DUP@x.test")


def test_money_column_is_an_integer_column(app):
    columns = {c["name"]: c for c in inspect(get_engine(app)).get_columns("deal")}
    assert "INT" in str(columns["amount_minor"]["type"]).upper()
    with get_engine(app).connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def _workspace(s) -> int:
    ws = s.exec(select(Workspace)).first()
    if ws is None:
        ws = Workspace(name="Acme")
        s.add(ws)
        s.flush()
    return ws.id
