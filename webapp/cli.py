"""Commands under `flask --app wsgi …`. Each prints a clear error and exits non-zero on bad input."""

from __future__ import annotations

import click
from flask import Flask, current_app
from sqlalchemy import select
from flask.cli import with_appcontext

from webapp import migrations
from webapp.db import get_engine, session_scope


def register_commands(app: Flask) -> None:
    from webapp.emulator.cli import salesforce_emulator
    from webapp.integrations.cli import rotate_encryption_key, salesforce
    from webapp.mail.cli import mailbox
    from webapp.mailimport.cli import import_mail

    for command in (
        init_db,
        create_user_command,
        seed_demo_command,
        demo,
        salesforce_emulator,
        salesforce,
        rotate_encryption_key,
        import_mail,
        mailbox,
    ):
        app.cli.add_command(command)


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create the database or bring an older one to the latest schema."""
    engine = get_engine()
    before = migrations.current_revision(engine)
    migrations.upgrade(engine)
    after = migrations.current_revision(engine)
    if before == after:
        click.echo(f"Database is up to date (revision {after}).")
    else:
        click.echo(f"Database upgraded from {before or 'empty'} to {after}.")


@click.command("create-user")
@with_appcontext
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "member"]), required=True)
@click.option("--workspace", "workspace_name", required=True, help="Created when it does not exist.")
@click.option("--name", default="", help="Display name.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when not given.",
)
def create_user_command(email: str, role: str, workspace_name: str, name: str, password: str) -> None:
    """Create a user in a workspace."""
    from webapp.auth.services import AccountError, create_user, get_or_create_workspace

    try:
        with session_scope(get_engine()) as session:
            workspace, created = get_or_create_workspace(session, workspace_name)
            user = create_user(
                session, email=email, password=password, role=role, workspace=workspace, name=name
            )
            email = user.email
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    note = " (new workspace)" if created else ""
    click.echo(f"Created {role} {email} in workspace “{workspace_name}”{note}.")


@click.command("seed-demo")
@with_appcontext
@click.option("--seed", default=7, show_default=True, help="Random seed; same seed, same data.")
def seed_demo_command(seed: int) -> None:
    """Seed the demo workspace (idempotent) and print its logins."""
    _seed_and_report(seed)


def _seed_and_report(seed: int) -> None:
    from webapp.demo.seed import seed_demo

    from webapp.analytics.facts import refresh_facts

    with session_scope(get_engine()) as session:
        report = seed_demo(session, seed=seed)
    if report.created:
        refresh_facts(get_engine(), report.workspace_id)
    state = "Seeded" if report.created else "Already seeded"
    click.echo(
        f"{state} workspace “{report.workspace}”: {report.contacts} contacts, "
        f"{report.conversations} conversations, {report.messages} messages, {report.deals} deals."
    )
    for role, email, password in report.logins:
        click.echo(f"  {role:<7} {email}  password: {password}")


@click.command("demo")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--emulator-port", default=5001, show_default=True, type=int)
def demo(host: str, port: int, emulator_port: int) -> None:
    """Migrate, seed the demo, start the Salesforce emulator and serve the app."""
    from webapp.emulator import EmulatorOptions
    from webapp.emulator.server import serve_in_thread
    from webapp.logs import make_app_server
    from webapp.mailimport.background import start as start_mail_imports
    from webapp.scheduler import start as start_scheduler

    app = current_app._get_current_object()
    migrations.upgrade(get_engine())
    _seed_and_report(seed=7)
    options = EmulatorOptions(
        redirect_uris=[f"{app.config['PUBLIC_BASE_URL']}/oauth/salesforce/callback",
                       f"http://{host}:{port}/oauth/salesforce/callback"]
    )
    emulator = serve_in_thread(options, host=host, port=emulator_port)
    _configure_demo_connection(emulator.url, options)
    start_scheduler(app)  # the demo's sync scheduler (SCHEDULER_ENABLED), never in the factory
    start_mail_imports(app)  # mail imports a previous run left unfinished
    click.echo(f"Salesforce emulator: {emulator.url}")
    click.echo(f"Inbox:               http://{host}:{port}/  (Ctrl+C stops both)")
    server = make_app_server(app, host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        emulator.stop()


def _configure_demo_connection(emulator_url: str, options) -> None:
    """Leave the demo workspace set up against the emulator, one click from connected."""
    from webapp.demo.seed import WORKSPACE
    from webapp.integrations import salesforce_connection as connection
    from webapp.models import Workspace

    with session_scope(get_engine()) as session:
        workspace = session.execute(select(Workspace).where(Workspace.name == WORKSPACE)).scalar_one()
        view = connection.get_view(session, workspace.id)
        if view is not None and (view.client_id != options.client_id or view.login_url == emulator_url):
            return  # set up by hand, or already pointing at this emulator
        connection.save_setup(
            session,
            current_app.extensions["vault"],
            workspace.id,
            connection.SetupInput(
                mode="oauth", environment="custom", url=emulator_url,
                client_id=options.client_id, client_secret=options.client_secret,
            ),
        )
