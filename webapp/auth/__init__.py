"""Users, sessions and roles."""

from __future__ import annotations

from flask import Flask, redirect, request, url_for

from webapp.extensions import login_manager
from webapp.htmx import client_redirect, is_htmx


def init_app(app: Flask) -> None:
    from webapp.auth import services
    from webapp.auth.routes import bp

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def _load_user(user_id: str):
        return services.load_session_user(user_id)

    @login_manager.unauthorized_handler
    def _unauthorized():
        login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
        if is_htmx():
            # htmx follows a 302 silently and would swap the login page into a panel.
            return client_redirect(url_for("auth.login"), status=401)
        return redirect(login_url)

    app.register_blueprint(bp)
