from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp.auth import services
from webapp.auth.forms import ChangePasswordForm, LoginForm
from webapp.auth.throttle import Throttled
from webapp.db import get_session

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so the login form cannot be used as an open redirect."""
    if not target:
        return url_for("inbox.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("inbox.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    form = LoginForm()
    error, status, headers = None, 200, {}
    if form.validate_on_submit():
        session = get_session()
        try:
            user = services.sign_in(
                session,
                current_app.extensions["login_throttle"],
                form.email.data,
                form.password.data,
                address=request.remote_addr or "unknown",
                user_agent=request.user_agent.string,
            )
        except Throttled as exc:
            error, status = exc.message, 429
            headers["Retry-After"] = str(exc.retry_after)
        else:
            if user is not None:
                session.commit()
                login_user(user)
                return redirect(_safe_next(request.args.get("next")))
            error, status = "Email or password is incorrect.", 401
    elif request.method == "POST":
        error, status = "Enter your email and password.", 401
    return render_template("auth/login.html", form=form, error=error), status, headers


@bp.post("/logout")
@login_required
def logout():
    session = get_session()
    services.end_session(session, current_user.session_token)
    session.commit()
    logout_user()
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))


def _account_page(form: ChangePasswordForm, errors: dict[str, str], status: int = 200):
    sessions = services.live_sessions(get_session(), current_user.id)
    return (
        render_template(
            "auth/account.html",
            form=form,
            errors=errors,
            sessions=sessions,
            current=[s for s in sessions if services.is_current(s, current_user.session_token)],
        ),
        status,
    )


@bp.get("/account")
@login_required
def account():
    return _account_page(ChangePasswordForm(), {})


@bp.post("/account/password")
@login_required
def change_password():
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _account_page(form, {"current_password": "Fill in all three fields."}, 422)
    session = get_session()
    try:
        ended = services.change_password(
            session,
            current_user,
            current=form.current_password.data,
            new=form.new_password.data,
            confirm=form.confirm_password.data,
        )
    except services.AccountError as exc:
        session.rollback()
        return _account_page(form, {exc.field: str(exc)}, 422)
    session.commit()
    others = f" {ended} other session{'s' if ended != 1 else ''} signed out." if ended else ""
    flash(f"Password changed.{others}", "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    session = get_session()
    services.end_user_sessions(session, current_user.id)
    session.commit()
    logout_user()
    flash("You have been signed out on every device.", "info")
    return redirect(url_for("auth.login"))
