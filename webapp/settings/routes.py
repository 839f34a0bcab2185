from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, logout_user

from webapp.auth import services as auth_services
from webapp.auth.guards import admin_required
from webapp.analytics.facts import refresh_facts
from webapp.db import get_engine, get_session
from webapp.integrations import salesforce_connection as connection
from webapp.integrations.salesforce_card import forget_connection_state
from webapp.security_headers import allow_form_action
from webapp.integrations.salesforce_choices import still_ambiguous
from webapp.settings import services
from webapp.sync import services as sync_services

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.get("")
@admin_required
def index():
    return redirect(url_for("settings.integrations"))


@bp.route("/workspace", methods=["GET", "POST"])
@admin_required
def workspace():
    session = get_session()
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form
        before = services.load(session, current_user.workspace_id)
        current = services.WorkspaceSettings(
            name=form.get("name", ""),
            timezone=form.get("timezone", ""),
            locale=form.get("locale", before.locale),
            addresses=form.get("addresses", "").split(),
            # Absent fields keep their values; the form always sends them (days via a marker).
            business_start=form.get("business_start", before.business_start),
            business_end=form.get("business_end", before.business_end),
            business_days="".join(form.getlist("business_days")) if "business_days" in form else before.business_days,
        )
        try:
            current.addresses = services.parse_addresses(form.get("addresses", ""))
            services.save(session, current_user.workspace_id, current)
        except services.SettingsError as exc:
            session.rollback()
            errors[exc.field] = str(exc)
        else:
            session.commit()
            if before.analytics_key() != current.analytics_key():
                refresh_facts(get_engine(), current_user.workspace_id)
            flash("Workspace settings saved.", "success")
            return redirect(url_for("settings.workspace"))
    else:
        current = services.load(session, current_user.workspace_id)
    return (
        render_template(
            "settings/workspace.html",
            current=current,
            errors=errors,
            timezones=services.timezones(),
            locales=services.locales(),
            own_by_default=services.own_by_default(session, current_user.workspace_id),
        ),
        422 if errors else 200,
    )


@bp.get("/integrations")
@admin_required
def integrations():
    view = connection.get_view(get_session(), current_user.workspace_id)
    return render_template("settings/integrations.html", salesforce=view)


def callback_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"] + "/oauth/salesforce/callback"


def _vault():
    return current_app.extensions["vault"]


def _setup_input(form) -> connection.SetupInput:
    try:
        minutes = int(form.get("session_minutes") or 120)
    except ValueError:
        minutes = 0
    return connection.SetupInput(
        mode=form.get("mode", ""),
        environment=form.get("environment", ""),
        url=form.get("url", ""),
        client_id=form.get("client_id", ""),
        client_secret=form.get("client_secret", ""),
        session_minutes=minutes,
        refresh_token=form.get("refresh_token", ""),
        instance_url=form.get("instance_url", ""),
        api_version=form.get("api_version", ""),
    )


@bp.route("/integrations/salesforce", methods=["GET", "POST"])
@admin_required
def salesforce():
    session = get_session()
    errors: dict[str, str] = {}
    form = request.form if request.method == "POST" else None
    if form is not None:
        try:
            conn = connection.save_setup(session, _vault(), current_user.workspace_id, _setup_input(form))
        except connection.SetupError as exc:
            session.rollback()
            errors[exc.field] = str(exc)
        else:
            session.commit()
            forget_connection_state(current_app.extensions["cache"], current_user.workspace_id)
            if conn.state == "connected":
                flash(f"Connected to Salesforce as {conn.sf_username or 'the integration user'}.", "success")
            else:
                flash("Salesforce setup saved. Click Connect to approve access in Salesforce.", "success")
            return redirect(url_for("settings.salesforce"))
    return salesforce_page(form=form, errors=errors)


def salesforce_page(*, form=None, errors: dict[str, str] | None = None, two_way=None, activity=None):
    """The Salesforce settings page; 422 when a form on it was refused. ``two_way`` replaces
    the two-way panel's view (after a refused two-way submission)."""
    session = get_session()
    view = connection.get_view(session, current_user.workspace_id)
    if view is not None:
        # Connect posts here and is redirected to Salesforce's login: form-action must allow it.
        allow_form_action(view.login_url)
    sync = sync_services.page(session, current_user.workspace_id) if view is not None else None
    if sync is not None and two_way is not None:
        sync.two_way = two_way
    if sync is not None and activity is not None:
        sync.activity = activity
    return (
        render_template(
            "settings/salesforce.html",
            view=view,
            form=form,
            errors=errors or {},
            callback_url=callback_url(),
            sync=sync,
            timezones=services.timezones(),
            ambiguous=still_ambiguous(session, current_user.workspace_id) if view is not None else [],
        ),
        422 if errors or (two_way is not None and two_way.error) or (activity is not None and activity.error) else 200,
    )


@bp.post("/integrations/salesforce/connect")
@admin_required
def salesforce_connect():
    session = get_session()
    try:
        url = connection.start_connect(
            session,
            _vault(),
            workspace_id=current_user.workspace_id,
            user_id=current_user.id,
            redirect_uri=callback_url(),
            secret_key=current_app.config["SECRET_KEY"],
        )
    except connection.SetupError as exc:
        flash(str(exc), "error")
        return redirect(url_for("settings.salesforce"))
    session.commit()
    return redirect(url)


@bp.post("/integrations/salesforce/disconnect")
@admin_required
def salesforce_disconnect():
    session = get_session()
    try:
        warning = connection.disconnect(session, _vault(), current_user.workspace_id)
    except connection.NotConnected as exc:
        flash(str(exc), "error")
        return redirect(url_for("settings.salesforce"))
    session.commit()
    forget_connection_state(current_app.extensions["cache"], current_user.workspace_id)
    flash(warning or "Disconnected from Salesforce; the token was revoked.", "info" if warning is None else "error")
    return redirect(url_for("settings.salesforce"))


@bp.get("/users")
@admin_required
def users():
    members = auth_services.workspace_members(get_session(), current_user.workspace_id)
    return render_template("settings/users.html", members=members)


@bp.post("/users/<int:user_id>/sign-out")
@admin_required
def sign_out_user(user_id: int):
    session = get_session()
    try:
        email, ended = auth_services.sign_out_everywhere(session, current_user.workspace_id, user_id)
    except auth_services.AccountError:
        abort(404)
    session.commit()
    if user_id == current_user.id:
        logout_user()
        flash("You have been signed out on every device.", "info")
        return redirect(url_for("auth.login"))
    flash(f"{email} was signed out on every device ({ended} session{'s' if ended != 1 else ''}).", "success")
    return redirect(url_for("settings.users"))
