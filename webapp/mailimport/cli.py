"""`flask --app wsgi import-mail PATH --workspace NAME`."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.analytics.facts import refresh_if_requested
from webapp.db import get_engine, session_scope
from webapp.mailimport.importer import import_messages
from webapp.mailimport.sources import Limits, SourceError, iter_path
from webapp.mailimport.summary import CONCURRENT_IMPORT, summary_lines
from webapp.models import Workspace


@click.command("import-mail")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--workspace", "workspace_name", required=True, help="The workspace's name.")
@click.option("--dry-run", is_flag=True, help="Read and report, but store nothing.")
@with_appcontext
def import_mail(path: Path, workspace_name: str, dry_run: bool) -> None:
    """Import an mbox file, a folder of .eml files, an .eml file or a .zip of them."""
    if not path.exists():
        raise click.ClickException(f"{path}: no such file or folder.")
    started = time.perf_counter()
    try:
        with session_scope(get_engine()) as session:
            workspace_id = session.execute(
                select(Workspace.id).where(Workspace.name == workspace_name)
            ).scalar_one_or_none()
            if workspace_id is None:
                names = session.execute(select(Workspace.name).order_by(Workspace.name)).scalars().all()
                known = ", ".join(f"“{n}”" for n in names) or "none yet"
                raise click.ClickException(f"No workspace named “{workspace_name}” (workspaces: {known}).")
            try:
                limits = Limits.from_config(current_app.config)
                summary = import_messages(
                    session, workspace_id, iter_path(path, limits), source=path.name, limits=limits
                )
            except SourceError as exc:
                raise click.ClickException(f"{exc} Nothing was imported.") from exc
            if dry_run:
                session.rollback()
    except IntegrityError as exc:
        raise click.ClickException(CONCURRENT_IMPORT) from exc
    if not dry_run and summary.imported:
        refresh_if_requested(get_engine(), workspace_id)
    for line in summary_lines(summary, dry_run=dry_run):
        click.echo(line)
    click.echo(f"Took {time.perf_counter() - started:.1f} s.")
