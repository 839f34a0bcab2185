"""Users, sessions and roles."""

from __future__ import annotations

import logging

from flask import Flask, redirect, request, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.extensions import login_manager
from webapp.htmx import client_redirect, is_htmx

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    from webapp.auth import services
    from webapp.auth.routes import bp
    from webapp.auth.throttle import Limits, LoginThrottle

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    throttle = LoginThrottle(app.extensions["cache"], Limits.from_config(app.config))
    app.extensions["login_throttle"] = throttle
    if not throttle.effective:
        log.warning("CACHE_URL is null://: sign-in attempts are not throttled")

    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # The client address (and https) as the trusted proxies in front of us report it.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    @login_manager.user_loader
    def _load_user(token: str):
        return services.load_session_user(token)

    @login_manager.unauthorized_handler
    def _unauthorized():
        login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
        if is_htmx():
            # htmx follows a 302 silently and would swap the login page into a panel.
            return client_redirect(url_for("auth.login"), status=401)
        return redirect(login_url)

    app.register_blueprint(bp)
