"""The sync section of Settings → Integrations → Salesforce: Sync Now, live progress, the
schedule, extra fields, and retrying failed records. Admins only."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.auth.guards import admin_required
from webapp.db import get_engine, get_session
from webapp.htmx import is_htmx
from webapp.settings.routes import salesforce_page
from webapp.sync import fields as extra_fields
from webapp.sync import activity, services, twoway
from webapp.sync.settings import ScheduleInput, SyncSettingsError, save_schedule
from webapp.sync.twoway import TwoWayInput

bp = Blueprint("sync", __name__, url_prefix="/settings/integrations/salesforce/sync")
BACK = "settings.salesforce"


def _status(run_id: int, *, joined: bool = False, status: int = 200):
    view = services.run_view(get_session(), current_user.workspace_id, run_id)
    response = current_app.make_response((render_template("partials/sync/_status.html", run=view, joined=joined), status))
    if not view.active:
        response.headers["HX-Trigger"] = "sync-finished"
    elif status == 202:
        response.headers["HX-Trigger"] = "sync-started"
    return response


@bp.post("/now")
@admin_required
def now():
    requested = services.sync_now(get_engine(), current_user.workspace_id, current_user.id)
    if is_htmx():
        return _status(requested.run_id, joined=requested.joined, status=202)
    flash("The sync was already running; you joined it." if requested.joined else "Sync queued.", "info")
    return redirect(url_for(BACK))


@bp.get("/runs/<int:run_id>")
@admin_required
def run_status(run_id: int):
    try:
        return _status(run_id)
    except services.NotFound:
        abort(404)


@bp.get("/history")
@admin_required
def history():
    view = services.page(get_session(), current_user.workspace_id)
    return render_template("partials/sync/_history.html", sync=view)


@bp.post("/schedule")
@admin_required
def schedule():
    session = get_session()
    form = request.form
    try:
        save_schedule(session, current_user.workspace_id, ScheduleInput(
            frequency=form.get("frequency", ""), daily_time=form.get("daily_time", ""),
            timezone=form.get("timezone", ""), interval_hours=form.get("interval_hours", ""),
            budget_percent=form.get("budget_percent", ""),
        ))
    except SyncSettingsError as exc:
        session.rollback()
        flash(f"Schedule not saved: {exc}", "error")
    else:
        session.commit()
        flash("Sync schedule saved.", "success")
    return redirect(url_for(BACK) + "#sync-schedule")


@bp.get("/fields")
@admin_required
def fields():
    form = extra_fields.form_view(get_session(), get_engine(), current_app.extensions["vault"],
                                  current_app.extensions["cache"], current_user.workspace_id,
                                  lookups=current_app.extensions["salesforce_lookups"],
                                  budget=current_app.config["SALESFORCE_CARD_BUDGET"])
    return render_template("partials/sync/_fields.html", form=form)


@bp.post("/fields")
@admin_required
def save_fields():
    session = get_session()
    chosen = {key: request.form.getlist(key) for key in request.form if key != "csrf_token"}
    try:
        grown = extra_fields.save(session, get_engine(), current_app.extensions["vault"], current_app.extensions["cache"],
                                  current_user.workspace_id, chosen)
    except (SyncSettingsError, extra_fields.Unreachable) as exc:
        session.rollback()
        flash(f"Fields not saved: {exc}", "error")
    else:
        session.commit()
        note = f" {', '.join(grown)} will be read in full on the next sync." if grown else ""
        flash("Extra fields saved." + note, "success")
    return redirect(url_for(BACK) + "#sync-fields")


@bp.post("/errors/retry")
@bp.post("/errors/<int:error_id>/retry")
@admin_required
def retry(error_id: int | None = None):
    try:
        requested = services.retry(get_session(), get_engine(), current_user.workspace_id, current_user.id, error_id)
    except services.NotFound as exc:
        flash(str(exc), "info")
        return redirect(url_for(BACK) + "#sync-errors")
    if requested.joined:
        flash("A sync is already under way; retry once it has finished.", "info")
    else:
        flash("Retry queued." if error_id is None else "Retry of that record queued.", "success")
    return redirect(url_for(BACK) + "#sync-status")


@bp.get("/two-way")
@admin_required
def two_way_page():
    return redirect(url_for(BACK) + "#sync-two-way")


@bp.post("/two-way")
@admin_required
def two_way():
    session = get_session()
    form = request.form
    data = TwoWayInput(
        enabled=form.get("two_way") == "on", external_id_field=form.get("external_id_field", "")[:80],
        push_immediately=form.get("push_immediately") == "on", delete_in_salesforce=form.get("delete_in_salesforce") == "on",
        rules={key[len("rule:"):]: value for key, value in form.items() if key.startswith("rule:")},
        allow_duplicate_save=form.get("allow_duplicate_save") == "on",
    )

    def check(name):
        return twoway.external_id_fields(get_engine(), current_app.extensions["vault"], current_app.extensions["cache"],
                                         current_user.workspace_id)
    try:
        twoway.save(session, current_user.workspace_id, data, check_external_id=check)
    except SyncSettingsError as exc:
        session.rollback()
        return salesforce_page(two_way=twoway.view(session, current_user.workspace_id, submitted=data, error=exc))
    session.commit()
    flash("Two-way settings saved." + (" Deals go to Salesforce on the next sync." if data.enabled else ""), "success")
    return redirect(url_for(BACK) + "#sync-two-way")


@bp.post("/activity")
@admin_required
def activity_settings():
    session = get_session()
    form = request.form
    data = activity.ActivityInput(mode=form.get("email_logging", ""), exclusions=form.get("email_exclusions", "")[:50_000],
                                  subject_only=form.get("email_subject_only") == "on")
    try:
        activity.save(session, current_user.workspace_id, data)
    except SyncSettingsError as exc:
        session.rollback()
        return salesforce_page(activity=activity.view(session, current_user.workspace_id, submitted=data, error=exc))
    session.commit()
    flash(f"Activity settings saved: email logging {activity.MODE_LABELS[data.mode].lower()}.", "success")
    return redirect(url_for(BACK) + "#sync-activity")
