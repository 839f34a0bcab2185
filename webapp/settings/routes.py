from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.auth.guards import admin_required
from webapp.db import get_session
from webapp.settings import services

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
        try:
            data = services.WorkspaceSettings(
                name=form.get("name", ""),
                timezone=form.get("timezone", ""),
                addresses=services.parse_addresses(form.get("addresses", "")),
            )
            services.save(session, current_user.workspace_id, data)
        except services.SettingsError as exc:
            session.rollback()
            errors[exc.field] = str(exc)
            current = services.WorkspaceSettings(
                form.get("name", ""), form.get("timezone", ""), form.get("addresses", "").split()
            )
        else:
            session.commit()
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
        ),
        422 if errors else 200,
    )


@bp.get("/integrations")
@admin_required
def integrations():
    return render_template("settings/integrations.html")


@bp.get("/integrations/salesforce")
@admin_required
def salesforce():
    callback = current_app.config["PUBLIC_BASE_URL"] + "/oauth/salesforce/callback"
    return render_template("settings/salesforce.html", callback_url=callback)
