"""Alembic environment: the app's own engine and SQLModel's metadata."""

from alembic import context
from sqlmodel import SQLModel

import webapp.models  # noqa: F401  (registers the tables on SQLModel.metadata)

# Tables owned by libraries, not by our models.
FOREIGN_TABLES = {"apscheduler_jobs"}


def _include_name(name, type_, parent_names):
    return not (type_ == "table" and name in FOREIGN_TABLES)


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        include_name=_include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported; run `flask --app wsgi init-db`.")
run_migrations_online()
