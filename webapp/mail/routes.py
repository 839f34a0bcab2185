"""Settings → Mailboxes (admins): add, edit, delete, Test, accept a self-signed certificate,
Fetch now, and each mailbox's fetch progress (polled while it runs)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.auth.guards import admin_required
from webapp.db import get_session
from webapp.mail import mailboxes as services
from webapp.mail.fetch import FetchOptions
from webapp.mail.tls import display_fingerprint
from webapp.mailimport.sources import Limits, human_bytes
from webapp.scoping import NotFound

bp = Blueprint("mailboxes", __name__, url_prefix="/settings/mailboxes")


def _vault():
    return current_app.extensions["vault"]


def _options() -> FetchOptions:
    return FetchOptions.from_config(current_app.config)


def _owned(mailbox_id: int):
    try:
        return services.get(get_session(), current_user.workspace_id, mailbox_id)
    except NotFound:
        abort(404)


def _input(form) -> services.MailboxInput:
    return services.MailboxInput(
        address=form.get("address", ""),
        display_name=form.get("display_name", ""),
        imap_host=form.get("imap_host", ""),
        imap_port=form.get("imap_port", ""),
        imap_security=form.get("imap_security", "tls"),
        imap_username=form.get("imap_username", ""),
        imap_password=form.get("imap_password") or None,
        inbox_folder=form.get("inbox_folder", ""),
        sent_folder=form.get("sent_folder", ""),
        smtp_host=form.get("smtp_host", ""),
        smtp_port=form.get("smtp_port", ""),
        smtp_security=form.get("smtp_security", "starttls"),
        smtp_same_as_imap="1" in form.getlist("smtp_same_as_imap"),
        smtp_username=form.get("smtp_username", ""),
        smtp_password=form.get("smtp_password") or None,
        smtp_files_sent="1" in form.getlist("smtp_files_sent"),
        fetch_interval_minutes=form.get("fetch_interval_minutes", ""),
        backfill_days=form.get("backfill_days", ""),
        enabled="1" in form.getlist("enabled"),
    )


def _status(view, *, test=None):
    return render_template("partials/mail/_mailbox.html", view=view, test=test, fingerprint=display_fingerprint)


def _view(mailbox_id: int):
    for view in services.views(get_session(), current_user.workspace_id):
        if view.mailbox.id == mailbox_id:
            return view
    abort(404)


@bp.get("")
@admin_required
def index():
    views = services.views(get_session(), current_user.workspace_id)
    limit = human_bytes(Limits.from_config(current_app.config).message_bytes)
    return render_template("settings/mailboxes.html", views=views, fingerprint=display_fingerprint, max_message=limit)


def _form(mailbox=None):
    session = get_session()
    errors: dict[str, str] = {}
    if request.method == "POST":
        data = _input(request.form)
        try:
            if mailbox is None:
                mailbox = services.create(session, _vault(), current_user.workspace_id, data)
            else:
                services.update(session, _vault(), current_user.workspace_id, mailbox.id, data)
        except services.MailboxError as exc:
            session.rollback()
            errors[exc.field] = str(exc)
        else:
            session.commit()
            flash(f"Mailbox {mailbox.address} saved. Press Test to check that it connects.", "success")
            return redirect(url_for("mailboxes.index") + f"#mailbox-{mailbox.id}")
    else:
        data = services.MailboxInput.from_mailbox(mailbox) if mailbox else services.MailboxInput()
    return (
        render_template("settings/mailbox_form.html", current=data, mailbox=mailbox, errors=errors),
        422 if errors else 200,
    )


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():
    return _form()


@bp.route("/<int:mailbox_id>", methods=["GET", "POST"])
@admin_required
def edit(mailbox_id: int):
    # Scoped first: another workspace's id is 404 before any input is looked at.
    return _form(_owned(mailbox_id))


@bp.post("/<int:mailbox_id>/delete")
@admin_required
def delete(mailbox_id: int):
    mailbox = _owned(mailbox_id)
    services.delete(get_session(), current_user.workspace_id, mailbox.id)
    get_session().commit()
    flash(f"Mailbox {mailbox.address} removed. The mail it brought in stays in the inbox.", "success")
    return redirect(url_for("mailboxes.index"))


@bp.get("/<int:mailbox_id>/status")
@admin_required
def status(mailbox_id: int):
    return _status(_view(mailbox_id))


@bp.post("/<int:mailbox_id>/test")
@admin_required
def test(mailbox_id: int):
    mailbox = _owned(mailbox_id)
    report = services.test(mailbox, _vault(), _options())
    return _status(_view(mailbox_id), test=report)


@bp.post("/<int:mailbox_id>/fetch")
@admin_required
def fetch_now(mailbox_id: int):
    _owned(mailbox_id)
    services.request_fetch(get_session(), current_user.workspace_id, mailbox_id)
    get_session().commit()
    if request.headers.get("HX-Request"):
        return _status(_view(mailbox_id))
    flash("Fetching: new mail appears in the inbox in a moment.", "success")
    return redirect(url_for("mailboxes.index") + f"#mailbox-{mailbox_id}")


@bp.post("/<int:mailbox_id>/pin")
@admin_required
def pin(mailbox_id: int):
    _owned(mailbox_id)
    service = request.form.get("service", "")
    try:
        services.pin(get_session(), current_user.workspace_id, mailbox_id, service, request.form.get("fingerprint", ""))
    except services.MailboxError as exc:
        get_session().rollback()
        flash(str(exc), "error")
        return redirect(url_for("mailboxes.index") + f"#mailbox-{mailbox_id}"), 303
    get_session().commit()
    flash(f"The {service.upper()} server's self-signed certificate is accepted for this mailbox.", "success")
    return redirect(url_for("mailboxes.index") + f"#mailbox-{mailbox_id}")


@bp.post("/<int:mailbox_id>/unpin")
@admin_required
def unpin(mailbox_id: int):
    _owned(mailbox_id)
    service = request.form.get("service", "")
    try:
        services.unpin(get_session(), current_user.workspace_id, mailbox_id, service)
    except services.MailboxError as exc:
        get_session().rollback()
        flash(str(exc), "error")
        return redirect(url_for("mailboxes.index")), 303
    get_session().commit()
    flash(f"The {service.upper()} certificate is verified again as usual.", "success")
    return redirect(url_for("mailboxes.index") + f"#mailbox-{mailbox_id}")
