"""Security headers on every response: pages, partials, errors and static files."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request

# No inline script or style anywhere: htmx runs with allowEval off and its indicator
# styles in app.css (see the htmx-config meta tag in base.html).
POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "object-src 'none'",
)
# The Salesforce card is a public contract other inboxes may frame.
FRAMEABLE_ENDPOINTS = {"integrations.salesforce_card"}


def allow_form_action(url: str) -> None:
    """Lets this page's forms end up at ``url``'s origin (Chromium applies form-action to the
    redirects after a submission, e.g. Connect's redirect to the Salesforce login)."""
    parts = urlsplit(url or "")
    if parts.scheme in {"http", "https"} and parts.netloc and not set(parts.netloc) & set(" ;,'"):
        g.setdefault("csp_form_action", []).append(f"{parts.scheme}://{parts.netloc}")


def content_security_policy(frame_ancestors: list[str], form_targets: list[str] = ()) -> str:
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    form_action = " ".join(("'self'", *form_targets))
    return "; ".join((*POLICY, f"form-action {form_action}", f"frame-ancestors {ancestors}"))


def init_app(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        config = current_app.config
        frameable = request.endpoint in FRAMEABLE_ENDPOINTS and config["CARD_FRAME_ANCESTORS"]
        ancestors = config["CARD_FRAME_ANCESTORS"] if frameable else []
        response.headers["Content-Security-Policy"] = content_security_policy(ancestors, g.get("csp_form_action", []))
        if not frameable:
            response.headers["X-Frame-Options"] = "DENY"  # for browsers without frame-ancestors
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        # Only over HTTPS: a browser ignores HSTS on http, and a plain-http setup must stay reachable.
        if request.is_secure and config["SESSION_COOKIE_SECURE"] and config["HSTS_MAX_AGE"]:
            response.headers["Strict-Transport-Security"] = f"max-age={config['HSTS_MAX_AGE']}; includeSubDomains"
        return response
