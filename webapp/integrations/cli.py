"""`flask --app wsgi salesforce …`: set up, check and remove a connection without a browser."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from webapp.db import get_engine, session_scope
from webapp.integrations import salesforce_connection as connection
from webapp.models import Workspace
from webapp.plurals import plural

salesforce = AppGroup("salesforce", help="Configure, check and remove the Salesforce connection.")


def _workspace_id(session, name: str) -> int:
    workspace_id = session.execute(select(Workspace.id).where(Workspace.name == name)).scalar()
    if workspace_id is None:
        raise click.ClickException(f"No workspace is named “{name}”.")
    return workspace_id


@salesforce.command("configure")
@click.option("--workspace", required=True, envvar="SALESFORCE_WORKSPACE")
@click.option("--mode", type=click.Choice(["oauth", "refresh-token", "client-credentials"]), required=True, envvar="SALESFORCE_MODE")
@click.option("--login-url", required=True, envvar="SALESFORCE_LOGIN_URL",
              help="https://login.salesforce.com, https://test.salesforce.com, a My Domain URL or any base URL.")
@click.option("--client-id", required=True, envvar="SALESFORCE_CLIENT_ID")
@click.option("--client-secret", required=True, envvar="SALESFORCE_CLIENT_SECRET")
@click.option("--refresh-token", default="", envvar="SALESFORCE_REFRESH_TOKEN")
@click.option("--instance-url", default="", envvar="SALESFORCE_INSTANCE_URL")
@click.option("--session-minutes", default=120, show_default=True, type=int, envvar="SALESFORCE_SESSION_MINUTES")
@click.option("--api-version", default="", envvar="SALESFORCE_API_VERSION",
              help="Pin the REST API version (e.g. 66.0); by default the newest the org offers that this app is tested with.")
def configure(workspace, mode, login_url, client_id, client_secret, refresh_token, instance_url, session_minutes, api_version):
    """Save the connection; refresh-token and client-credentials modes are proven at once."""
    environment = {v: k for k, v in connection.LOGIN_URLS.items()}.get(login_url.rstrip("/"))
    if environment is None:
        environment = "mydomain" if login_url.rstrip("/").endswith(".my.salesforce.com") else "custom"
    data = connection.SetupInput(
        mode=mode, environment=environment, url=login_url, client_id=client_id, client_secret=client_secret,
        session_minutes=session_minutes, refresh_token=refresh_token, instance_url=instance_url, api_version=api_version,
    )
    try:
        with session_scope(get_engine()) as session:
            conn = connection.save_setup(session, current_app.extensions["vault"], _workspace_id(session, workspace), data)
            state, user = conn.state, conn.sf_username
    except connection.SetupError as exc:
        raise click.ClickException(f"{exc.field}: {exc}") from exc
    if state == "connected":
        click.echo(f"Connected “{workspace}” to Salesforce as {user}.")
    else:
        click.echo(f"Saved the OAuth setup of “{workspace}”; an admin clicks Connect in Settings → Integrations → Salesforce.")


@salesforce.command("status")
@click.option("--workspace", required=True, envvar="SALESFORCE_WORKSPACE")
def status(workspace):
    """Print the connection's state; exits 1 unless it is connected."""
    with session_scope(get_engine()) as session:
        view = connection.get_view(session, _workspace_id(session, workspace))
    if view is None:
        click.echo("Salesforce: not set up.")
        raise SystemExit(1)
    rows = [
        ("state", view.state),
        ("mode", view.mode),
        ("login URL", view.login_url),
        ("instance", view.instance_url or "—"),
        ("user", view.user_label or "—"),
        ("org", view.org_label or "—"),
        ("connected at", view.connected_at.isoformat() if view.connected_at else "—"),
        ("last refresh", view.last_refresh_at.isoformat() if view.last_refresh_at else "—"),
        ("API usage", f"{view.api_used}/{view.api_limit}" if view.api_limit else "—"),
        ("last error", view.last_error or "—"),
    ]
    for label, value in rows:
        click.echo(f"{label:>13}: {value}")
    if view.state != "connected":
        raise SystemExit(1)


@salesforce.command("disconnect")
@click.option("--workspace", required=True, envvar="SALESFORCE_WORKSPACE")
def disconnect(workspace):
    """Revoke the token at Salesforce and delete it here."""
    try:
        with session_scope(get_engine()) as session:
            warning = connection.disconnect(session, current_app.extensions["vault"], _workspace_id(session, workspace))
    except connection.NotConnected as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(warning or f"Disconnected “{workspace}” from Salesforce; the token was revoked.")


@salesforce.command("sync")
@click.option("--workspace", required=True, envvar="SALESFORCE_WORKSPACE")
@click.option("--retry-errors", is_flag=True, help="Only retry the records that failed before.")
def sync(workspace, retry_errors):
    """Run a sync now, in the foreground, with a progress bar; exits 1 unless it succeeds."""
    from webapp.salesforce.sync import ledger
    from webapp.sync.execution import run_queued

    engine = get_engine()
    with session_scope(engine) as session:
        workspace_id = _workspace_id(session, workspace)
    requested = ledger.request_run(engine, workspace_id, "cli_errors" if retry_errors else "cli")
    if requested.joined and requested.status == "running":
        raise click.ClickException(f"Sync run #{requested.run_id} is already running for “{workspace}”; wait for it to end.")
    if requested.joined:
        click.echo(f"Taking over queued run #{requested.run_id}.")
    with click.progressbar(length=1, label="Syncing", show_pos=True, item_show_func=lambda s: s) as bar:
        def on_page(counts: dict) -> None:
            total = sum((c.get("total") or 0) for name, c in counts.items() if name != "Inbox contacts")
            done = sum(c.get("fetched", 0) for name, c in counts.items() if name != "Inbox contacts")
            bar.length = max(total, done, 1)
            bar.update(done - bar.pos, f"{done:,} records")

        outcome = run_queued(engine, current_app.extensions["vault"], current_app.extensions["cache"], requested.run_id, on_page=on_page)
    if outcome is None:
        raise click.ClickException(f"Run #{requested.run_id} was picked up by another process.")
    with session_scope(engine) as session:
        from webapp.sync.services import run_view

        view = run_view(session, workspace_id, requested.run_id)
    for row in view.rows:
        click.echo(f"{row.label:>16}: {row.fetched:>7,} fetched  {row.created:>7,} created  {row.updated:>7,} updated  "
                   f"{row.deleted:>6,} deleted  {row.failed:>5,} failed")
    click.echo(f"Run #{view.id}: {view.status_label}{' (' + view.reason + ')' if view.reason else ''}; {view.api_calls} API calls.")
    if outcome.status != "succeeded":
        raise SystemExit(1)


@click.command("rotate-encryption-key")
@with_appcontext
def rotate_encryption_key():
    """Re-encrypt every stored secret under the newest key in ENCRYPTION_KEYS."""
    from webapp.crypto import SecretUnreadable
    from webapp.mail.credentials import rotate_secrets as rotate_mailbox_secrets

    try:
        with session_scope(get_engine()) as session:
            rows = connection.rotate_secrets(session, current_app.extensions["vault"])
            rows += rotate_mailbox_secrets(session, current_app.extensions["vault"])
    except SecretUnreadable as exc:
        raise click.ClickException(f"{exc} Add the old key after the new one in ENCRYPTION_KEYS.") from exc
    click.echo(f"Re-encrypted the secrets of {plural(rows, 'row')} under the newest key.")
