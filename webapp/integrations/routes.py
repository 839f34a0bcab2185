from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from webapp.auth.guards import admin_required
from webapp.db import get_engine, get_session
from webapp.addresses import InvalidAddress, normalize_email
from webapp.integrations import salesforce_card as card_service
from webapp.integrations import salesforce_choices as choices
from webapp.integrations import salesforce_create as creating
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


def _refused(exc: Exception):
    """A card action refused before Salesforce was asked: the reason, in place of the form."""
    return make_response(render_template("partials/integrations/_salesforce_error.html", message=str(exc)), 400)


def _card(result, *, status: int = 200, attempt: int = 0, retry_in: float | None = None, **extra):
    """The card partial with its headers (a public contract: other inboxes may embed it)."""
    if retry_in is None:
        retry_in = card_service.retry_in(result, attempt)
    extra.setdefault("message", None)
    if "last_logged" not in extra and result.state == "shown" and result.email:
        extra["last_logged"] = activity.last_logged_cached(get_session, current_app.extensions["cache"],
                                                           current_user.workspace_id, result.email)
    response = make_response(
        render_template(
            "partials/integrations/_salesforce_card.html",
            result=result,
            show_reason=current_user.is_admin,
            email=result.email or "",
            retry_in=retry_in,
            next_attempt=attempt + 1,
            **extra,
        ),
        status,
    )
    response.headers["X-Salesforce-Card"] = result.state
    if result.state == "shown" and result.card:
        response.headers["X-Salesforce-Record"] = result.card.sobject
    if retry_in:
        # Salesforce is still answering; the lookup goes on and fills the cache meanwhile.
        response.headers["X-Salesforce-Card-Retry-After"] = str(retry_in)
    response.headers["Cache-Control"] = "private, no-store"
    return response


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
    return _card(result, status=status, attempt=attempt)


@bp.post("/integrations/salesforce/card/choose")
@login_required
def salesforce_card_choose():
    """An agent says which of several records sharing the address this person is."""
    try:
        result = card_service.choose(
            card_services(), current_user.workspace_id, current_user.id, request.form.get("email", "")[:320],
            request.form.get("sobject", ""), request.form.get("sf_id", "")[:18],
        )
    except card_service.BadEmail:
        return _card(card_service.CardResult(state="no-email"), status=400)
    except choices.ChoiceRefused as exc:
        return _refused(exc)
    return _card(result)


@bp.get("/integrations/salesforce/card/new")
@login_required
def salesforce_card_new():
    """The create form, filled from the inbox contact; a contact's lists the matching accounts."""
    services = card_services()
    try:
        form = creating.prefill(get_session(), current_user.workspace_id, request.args.get("kind", ""),
                                request.args.get("email", "")[:320], current_app.config["SECRET_KEY"])
    except (creating.CreateRefused, card_service.BadEmail) as exc:
        return _refused(exc)
    options = creating.accounts(services, current_user.workspace_id, form.email) if form.kind == "contact" else None
    return render_template("partials/integrations/_salesforce_create.html", form=form, errors={}, accounts=options)


@bp.get("/integrations/salesforce/card/accounts")
@login_required
def salesforce_card_accounts():
    try:
        email = normalize_email(request.args.get("email", "")[:320])
    except InvalidAddress as exc:
        return _refused(exc)
    options = creating.accounts(card_services(), current_user.workspace_id, email, request.args.get("q", ""))
    return render_template("partials/integrations/_salesforce_accounts.html", accounts=options, selected="")


@bp.post("/integrations/salesforce/card/create")
@login_required
def salesforce_card_create():
    secret = current_app.config["SECRET_KEY"]
    services = card_services()
    try:
        form = creating.form_from(request.form, secret)
        outcome = creating.create(services, current_user.workspace_id, current_user.id, form, secret)
    except (creating.CreateRefused, card_service.BadEmail) as exc:
        return _refused(exc)
    if outcome.result is not None:
        return _card(outcome.result, retry_in=2 if outcome.pending else None, message=outcome.message)
    form.key = creating.issue_key(secret, form.email)  # a refused form may be corrected and sent again
    options = creating.accounts(services, current_user.workspace_id, form.email) if form.kind == "contact" else None
    response = make_response(
        render_template("partials/integrations/_salesforce_create.html", form=form, errors=outcome.errors,
                        accounts=options, unclear=outcome.unclear, duplicate=outcome.duplicate),
        422,
    )
    response.headers["HX-Retarget"] = "#sf-create"
    response.headers["HX-Reswap"] = "innerHTML"
    return response
