"""`flask --app wsgi analytics rebuild --workspace NAME` (and `refresh`)."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from webapp.analytics.facts import rebuild, refresh_changes
from webapp.db import get_engine
from webapp.models import Workspace


@click.group("analytics")
def analytics() -> None:
    """The analytics facts: rebuild them, or follow what changed."""


def _workspace_id(name: str) -> int:
    with get_engine().connect() as conn:
        found = conn.execute(select(Workspace.id).where(Workspace.name == name)).scalar_one_or_none()
        if found is None:
            names = conn.execute(select(Workspace.name).order_by(Workspace.name)).scalars().all()
            known = ", ".join(f"“{n}”" for n in names) or "none yet"
            raise click.ClickException(f"No workspace named “{name}” (workspaces: {known}).")
    return found


@analytics.command("rebuild")
@click.option("--workspace", "workspace_name", required=True, help="The workspace's name.")
@with_appcontext
def rebuild_command(workspace_name: str) -> None:
    """Recompute every analytics fact of a workspace from its mail and Salesforce mirror."""
    workspace_id = _workspace_id(workspace_name)
    started = time.perf_counter()
    rows = rebuild(get_engine(), workspace_id)
    click.echo(f"Rebuilt {rows:,} facts of “{workspace_name}” in {time.perf_counter() - started:.1f} s.")


@analytics.command("refresh")
@click.option("--workspace", "workspace_name", required=True, help="The workspace's name.")
@with_appcontext
def refresh_command(workspace_name: str) -> None:
    """Bring a workspace's facts up to date with what changed since the last refresh."""
    workspace_id = _workspace_id(workspace_name)
    started = time.perf_counter()
    done = refresh_changes(get_engine(), workspace_id)
    took = time.perf_counter() - started
    if done.mode == "none":
        click.echo(f"The facts of “{workspace_name}” are up to date.")
    elif done.mode == "rebuild":
        click.echo(f"Rebuilt {done.facts:,} facts of “{workspace_name}” in {took:.1f} s.")
    else:
        click.echo(f"Refreshed {done.facts:,} facts of “{workspace_name}” in {took:.1f} s.")
