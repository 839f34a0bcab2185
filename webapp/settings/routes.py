from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, logout_user

from webapp.auth import services as auth_services
from webapp.auth.guards import admin_required
from webapp.analytics.facts import refresh_facts
from webapp.db import get_engine, get_session
from webapp.integrations import field_access
from webapp.htmx import is_htmx
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
    return salesforce_page(form=form, errors=errors, tab="connection" if form is not None else request.args.get("tab"))


TABS = (("connection", "Connection"), ("sync", "Sync"), ("two-way", "Two-way"), ("fields", "Fields"), ("activity", "Activity"))


def salesforce_url(tab: str, anchor: str = "") -> str:
    """A tab of the Salesforce settings page (``?tab=``), optionally at a section."""
    return url_for("settings.salesforce", tab=tab) + (f"#{anchor}" if anchor else "")


def salesforce_page(*, form=None, errors: dict[str, str] | None = None, two_way=None, activity=None,
                    notifications=None, tab: str | None = None):
    """The Salesforce settings page, one tab of it; 422 when a form on it was refused.
    ``two_way``, ``activity`` and ``notifications`` replace a panel's view (after a refused
    submission). Not connected, it opens on the setup; connected, on the sync."""
    session = get_session()
    view = connection.get_view(session, current_user.workspace_id)
    default = "sync" if view is not None and view.state == "connected" else "connection"
    tab = tab if view is not None and tab in dict(TABS) else default
    if view is not None:
        # Connect posts here and is redirected to Salesforce's login: form-action must allow it.
        allow_form_action(view.login_url)
    sync = sync_services.page(session, current_user.workspace_id) if view is not None else None
    if sync is not None and two_way is not None:
        sync.two_way = two_way
    if sync is not None and activity is not None:
        sync.activity = activity
    if sync is not None and notifications is not None:
        sync.notifications = notifications
    refused = errors or any(part is not None and part.error for part in (two_way, activity, notifications))
    return (
        render_template(
            "settings/salesforce.html",
            view=view,
            form=form,
            errors=errors or {},
            callback_url=callback_url(),
            callback_warning=connection.callback_warning(callback_url()),
            cc_login_warning=connection.CLIENT_CREDENTIALS_LOGIN,
            sync=sync,
            tab=tab,
            tabs=TABS,
            timezones=services.timezones(),
            ambiguous=still_ambiguous(session, current_user.workspace_id) if view is not None and tab == "activity" else [],
            field_access=field_access.view(session, current_user.workspace_id) if view is not None and tab == "fields" else None,
        ),
        422 if refused else 200,
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


@bp.post("/integrations/salesforce/field-access")
@admin_required
def salesforce_field_access():
    try:
        checked = field_access.check_now(get_engine(), _vault(), current_app.extensions["cache"], current_user.workspace_id)
    except field_access.Unreachable as exc:
        flash(f"Field access not checked: {exc}", "error")
    else:
        hidden = len(checked.hidden)
        flash(f"Field access checked: {hidden} field{'s' if hidden != 1 else ''} hidden from the integration user."
              if hidden else "Field access checked: every field this inbox uses is visible.", "info" if hidden else "success")
    return redirect(url_for("settings.salesforce", tab="fields") + "#salesforce-field-access")


@bp.get("/integrations/salesforce/disconnect")
@admin_required
def salesforce_disconnect_confirm():
    """The product's own confirmation: a panel loaded into the page (htmx) or a page of its own."""
    view = connection.get_view(get_session(), current_user.workspace_id)
    if view is None or view.state not in ("connected", "reconnect"):
        flash("Salesforce is not connected; there is nothing to disconnect.", "info")
        return redirect(url_for("settings.salesforce"))
    if is_htmx():
        return render_template("partials/settings/_disconnect_confirm.html", view=view)
    return render_template("settings/salesforce_disconnect.html", view=view)


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
