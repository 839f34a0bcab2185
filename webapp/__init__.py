"""The application factory. It wires things together and does nothing else: no threads,
no network calls, no migrations (those are `flask --app wsgi init-db`)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask

from webapp.config import ROOT, load_config


def create_app(config: Mapping | None = None) -> Flask:
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get(
        "INSTANCE_PATH", str(ROOT / "instance")
    )
    app = Flask(
        __name__,
        instance_path=instance_path,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(load_config(instance_path, dict(config or {})))

    from webapp import assets, cache, db, errors, security_headers, templating
    from webapp import htmx as htmx_helpers
    from webapp.extensions import csrf, htmx
    from webapp.logs import configure_logging

    from webapp.crypto import vault_from_config

    configure_logging(app)
    app.extensions["vault"] = vault_from_config(app.config)
    db.init_app(app)
    cache.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    htmx_helpers.init_app(app)
    templating.init_app(app)
    assets.init_app(app)
    errors.init_app(app)
    security_headers.init_app(app)

    from webapp.analytics.routes import bp as analytics_bp
    from webapp.auth import init_app as init_auth
    from webapp.contacts.routes import bp as contacts_bp
    from webapp.deals.routes import bp as deals_bp
    from webapp.health import bp as health_bp
    from webapp.inbox.routes import bp as inbox_bp
    from webapp.integrations.routes import bp as integrations_bp
    from webapp.mail.routes import bp as mailboxes_bp
    from webapp.mailimport.routes import bp as mailimport_bp
    from webapp.settings.routes import bp as settings_bp
    from webapp.sync.routes import bp as sync_bp

    from webapp.integrations import init_app as init_integrations

    init_auth(app)
    init_integrations(app)
    app.register_blueprint(health_bp)
    app.register_blueprint(inbox_bp)
    app.register_blueprint(contacts_bp)
    app.register_blueprint(deals_bp)
    app.register_blueprint(analytics_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(integrations_bp)
    app.register_blueprint(sync_bp)
    app.register_blueprint(mailimport_bp)
    app.register_blueprint(mailboxes_bp)

    from webapp.cli import register_commands

    register_commands(app)
    return app
