from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.auth.guards import admin_required
from webapp.db import get_engine, get_session
from webapp.integrations import salesforce_card as card_service
from webapp.integrations import salesforce_connection as connection
from webapp.sync import activity

bp = Blueprint("integrations", __name__)


@bp.get("/oauth/salesforce/callback")
@admin_required
def salesforce_callback():
    """Where Salesforce sends the admin back after Connect (the redirect URI shown in setup)."""
    session = get_session()
    vault = current_app.extensions["vault"]
    try:
        spent = connection.spend_state(
            session,
            vault,
            workspace_id=current_user.workspace_id,
            user_id=current_user.id,
            secret_key=current_app.config["SECRET_KEY"],
            state=request.args.get("state", ""),
        )
        session.commit()  # the attempt is spent whatever happens next
        conn = connection.finish_connect(
            session,
            vault,
            spent,
            workspace_id=current_user.workspace_id,
            user_id=current_user.id,
            code=request.args.get("code"),
            error=request.args.get("error"),
            error_description=request.args.get("error_description"),
        )
    except connection.ConnectFailed as exc:
        session.rollback()
        flash(f"Salesforce was not connected: {exc}", "error")
        return redirect(url_for("settings.salesforce"))
    session.commit()
    card_service.forget_connection_state(current_app.extensions["cache"], current_user.workspace_id)
    flash(f"Connected to Salesforce as {conn.sf_username or conn.sf_user_id}.", "success")
    return redirect(url_for("settings.salesforce"))


def card_services() -> card_service.CardServices:
    return card_service.CardServices(
        engine=get_engine(),
        vault=current_app.extensions["vault"],
        cache=current_app.extensions["cache"],
        flights=current_app.extensions["single_flight"],
        lookups=current_app.extensions["salesforce_lookups"],
        budget=current_app.config["SALESFORCE_CARD_BUDGET"],
    )


@bp.get("/integrations/salesforce/card")
@login_required
def salesforce_card():
    """The card partial (a public contract: other inboxes may embed it)."""
    email = request.args.get("email", "")[:320]
    attempt = request.args.get("attempt", "0")
    attempt = min(int(attempt), card_service.PENDING_RETRIES) if attempt.isdigit() else 0
    refresh = request.args.get("refresh") == "1" and card_service.may_refresh(
        current_app.extensions["cache"], current_user.id
    )
    status = 200
    try:
        result = card_service.lookup(card_services(), current_user.workspace_id, email, refresh=refresh)
    except card_service.BadEmail:
        result, status = card_service.CardResult(state="no-email"), 400
    retry_in = card_service.retry_in(result, attempt)
    last_logged = activity.last_logged(get_session(), current_user.workspace_id, email) if result.state == "shown" else None
    response = make_response(
        render_template(
            "partials/integrations/_salesforce_card.html",
            result=result,
            show_reason=current_user.is_admin,
            email=email,
            retry_in=retry_in,
            next_attempt=attempt + 1,
            last_logged=last_logged,
        ),
        status,
    )
    response.headers["X-Salesforce-Card"] = result.state
    if retry_in:
        # Salesforce is still answering; the lookup goes on and fills the cache meanwhile.
        response.headers["X-Salesforce-Card-Retry-After"] = str(retry_in)
    response.headers["Cache-Control"] = "private, no-store"
    return response
