"""`flask --app wsgi mailbox …`: add, list, test, fetch and remove mailboxes without a browser.
Passwords come from an environment variable or a prompt, never from a command-line flag alone
(a flag lands in the shell's history and in `ps`)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from webapp.db import get_engine, session_scope
from webapp.mail import mailboxes as services
from webapp.mail.fetch import FetchOptions, fetch_mailbox
from webapp.mail.tls import display_fingerprint
from webapp.mailimport.summary import summary_lines
from webapp.models import Workspace
from webapp.scoping import NotFound

mailbox = AppGroup("mailbox", help="Add, list, test, fetch and remove the mailboxes a workspace reads.")


def _workspace_id(session, name: str) -> int:
    workspace_id = session.execute(select(Workspace.id).where(Workspace.name == name)).scalar()
    if workspace_id is None:
        names = session.execute(select(Workspace.name).order_by(Workspace.name)).scalars().all()
        known = ", ".join(f"“{n}”" for n in names) or "none yet"
        raise click.ClickException(f"No workspace named “{name}” (workspaces: {known}).")
    return workspace_id


def _find(session, workspace: str, address: str):
    workspace_id = _workspace_id(session, workspace)
    try:
        return workspace_id, services.find(session, workspace_id, address)
    except NotFound:
        raise click.ClickException(f"“{workspace}” has no mailbox {address}.") from None


_workspace_option = click.option("--workspace", required=True, envvar="MAILBOX_WORKSPACE", help="The workspace's name.")


@mailbox.command("add")
@_workspace_option
@click.option("--address", required=True)
@click.option("--display-name", default="")
@click.option("--imap-host", required=True)
@click.option("--imap-port", type=int, default=None, help="Default: 993 for tls, 143 for starttls.")
@click.option("--imap-security", type=click.Choice(["tls", "starttls"]), default="tls", show_default=True)
@click.option("--imap-username", default="", help="Default: the address.")
@click.option("--imap-password", envvar="MAILBOX_IMAP_PASSWORD", prompt="IMAP password", hide_input=True,
              help="Or MAILBOX_IMAP_PASSWORD; asked for when neither is given.")
@click.option("--inbox-folder", default="INBOX", show_default=True)
@click.option("--sent-folder", default="Sent", show_default=True, help="Empty: the sent folder is not read.")
@click.option("--smtp-host", required=True)
@click.option("--smtp-port", type=int, default=None, help="Default: 587 for starttls, 465 for tls.")
@click.option("--smtp-security", type=click.Choice(["tls", "starttls"]), default="starttls", show_default=True)
@click.option("--smtp-username", default="", help="Only when SMTP has its own login (else the IMAP login is used).")
@click.option("--smtp-password", envvar="MAILBOX_SMTP_PASSWORD", default="", help="Or MAILBOX_SMTP_PASSWORD.")
@click.option("--smtp-files-sent", is_flag=True,
              help="The SMTP server files sent mail itself (Gmail, Microsoft 365): replies are not appended over IMAP.")
@click.option("--fetch-interval", "fetch_interval", type=int, default=2, show_default=True, help="Minutes.")
@click.option("--backfill-days", type=int, default=90, show_default=True, help="0: only mail arriving from now on.")
@click.option("--paused", is_flag=True, help="Fetch only when asked (flask mailbox fetch, or Fetch now).")
@click.option("--accept-imap-certificate", default=None, metavar="SHA256",
              help="Trust this self-signed IMAP certificate (its SHA-256, as `mailbox test` prints it).")
@click.option("--accept-smtp-certificate", default=None, metavar="SHA256")
def add(workspace, address, display_name, imap_host, imap_port, imap_security, imap_username, imap_password,
        inbox_folder, sent_folder, smtp_host, smtp_port, smtp_security, smtp_username, smtp_password, smtp_files_sent,
        fetch_interval, backfill_days, paused, accept_imap_certificate, accept_smtp_certificate):
    """Add a mailbox (or change the one with this address)."""
    data = services.MailboxInput(
        address=address, display_name=display_name, imap_host=imap_host, imap_port=imap_port,
        imap_security=imap_security, imap_username=imap_username, imap_password=imap_password,
        inbox_folder=inbox_folder, sent_folder=sent_folder, smtp_host=smtp_host, smtp_port=smtp_port,
        smtp_security=smtp_security, smtp_same_as_imap=not smtp_username, smtp_username=smtp_username,
        smtp_password=smtp_password or None, smtp_files_sent=smtp_files_sent, fetch_interval_minutes=fetch_interval,
        backfill_days=backfill_days, enabled=not paused,
    )
    vault = current_app.extensions["vault"]
    try:
        with session_scope(get_engine()) as session:
            workspace_id = _workspace_id(session, workspace)
            try:
                existing = services.find(session, workspace_id, address)
            except NotFound:
                row = services.create(session, vault, workspace_id, data)
                verb = "Added"
            else:
                row = services.update(session, vault, workspace_id, existing.id, data)
                verb = "Updated"
            for service, fingerprint in (("imap", accept_imap_certificate), ("smtp", accept_smtp_certificate)):
                if fingerprint:
                    services.pin(session, workspace_id, row.id, service, fingerprint)
            saved = row.address
    except services.MailboxError as exc:
        raise click.ClickException(f"{exc.field.replace('_', '-')}: {exc} Nothing was saved.") from exc
    click.echo(f"{verb} mailbox {saved} in “{workspace}”. Check it with: flask mailbox test --workspace "
               f"'{workspace}' {saved}")


@mailbox.command("list")
@_workspace_option
def list_command(workspace):
    """The workspace's mailboxes and how their fetching goes."""
    with session_scope(get_engine()) as session:
        views = services.views(session, _workspace_id(session, workspace))
    if not views:
        click.echo(f"“{workspace}” has no mailboxes.")
        return
    for view in views:
        m = view.mailbox
        state = "fetching" if view.fetching else ("paused" if not m.enabled else ("failing" if m.last_error else "ok"))
        click.echo(f"{m.address}  [{state}]  IMAP {m.imap_host}:{m.imap_port} ({m.imap_security})  "
                   f"SMTP {m.smtp_host}:{m.smtp_port} ({m.smtp_security})  every {m.fetch_interval_minutes} min")
        for folder in view.folders:
            progress = f"  backfill {folder.done}/{folder.to_read}" if folder.state == "backfill" else ""
            click.echo(f"    {folder.name}: {folder.stored} stored, {folder.skipped} skipped ({folder.state}){progress}")
        if m.last_error:
            click.echo(f"    last error: {m.last_error}")


@mailbox.command("test")
@_workspace_option
@click.argument("address")
def test(workspace, address):
    """Log in over IMAP and SMTP; exits 1 and says what failed unless both work."""
    with session_scope(get_engine()) as session:
        _, row = _find(session, workspace, address)
        report = services.test(row, current_app.extensions["vault"], FetchOptions.from_config(current_app.config))
    for check in report.checks:
        click.echo(f"{check.service}: {'OK' if check.ok else 'FAILED'}  {check.message}")
        if check.fingerprint:
            click.echo(f"    The server's certificate: SHA-256 {display_fingerprint(check.fingerprint)}")
            click.echo(f"    To trust it: flask mailbox add … --accept-{check.service.lower()}-certificate {check.fingerprint}")
    if not report.ok:
        raise SystemExit(1)


@mailbox.command("fetch")
@_workspace_option
@click.argument("address")
def fetch(workspace, address):
    """Fetch now, in the foreground; exits 1 when the fetch failed (what was stored stays)."""
    with session_scope(get_engine()) as session:
        _, row = _find(session, workspace, address)
        mailbox_id = row.id
    result = fetch_mailbox(get_engine(), current_app.extensions["vault"], mailbox_id,
                           FetchOptions.from_config(current_app.config))
    if result.status == "busy":
        raise click.ClickException(f"{address} is being fetched right now (by the scheduler); try again shortly.")
    if result.status == "missing":
        raise click.ClickException(f"{address} was removed during the fetch; {result.stored} messages were stored.")
    if result.error is not None:
        click.echo(f"Stored {result.stored:,} messages before it stopped; the next fetch goes on from there.")
        raise click.ClickException(str(result.error))
    for line in summary_lines(result.summary):
        click.echo(line)


@mailbox.command("remove")
@_workspace_option
@click.argument("address")
def remove(workspace, address):
    """Remove the mailbox; the mail it brought in stays in the inbox."""
    with session_scope(get_engine()) as session:
        workspace_id, row = _find(session, workspace, address)
        services.delete(session, workspace_id, row.id)
    click.echo(f"Removed mailbox {address} from “{workspace}”.")
