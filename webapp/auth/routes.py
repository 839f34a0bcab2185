from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp.auth import services
from webapp.auth.forms import LoginForm
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
    error = None
    if form.validate_on_submit():
        session = get_session()
        user = services.authenticate(session, form.email.data, form.password.data)
        if user is not None:
            session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        error = "Email or password is incorrect."
    elif request.method == "POST":
        error = "Enter your email and password."
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))
