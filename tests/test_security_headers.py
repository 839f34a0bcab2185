"""Security headers on every kind of response, and templates with nothing inline for the CSP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Client
from webapp import create_app
from webapp.config import ConfigError, load_config
from webapp.db import get_engine

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _assert_headers(response, *, csp=CSP):
    assert response.headers["Content-Security-Policy"] == csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain http


def test_headers_on_pages_partials_errors_and_static_files(admin_client):
    responses = {
        "login page": Client(admin_client.app).get("/login"),
        "inbox": admin_client.get("/inbox"),
        "htmx partial": admin_client.htmx_get("/integrations/salesforce/card?email=a@b.test"),
        "404": admin_client.get("/no-such-page"),
        "htmx 404": admin_client.htmx_get("/no-such-page"),
        "csrf 400": admin_client.post("/inbox/1/status", {"status": "closed"}, csrf=False),
        "redirect": Client(admin_client.app).get("/inbox"),
        "static css": admin_client.get("/static/css/app.css"),
        "static js": admin_client.get("/static/vendor/htmx/htmx-2.0.11.min.js"),
        "health": admin_client.get("/healthz"),
    }
    for name, response in responses.items():
        response.close()  # static files are streamed
        assert response.status_code < 500, name
        _assert_headers(response)
        assert response.headers["X-Frame-Options"] == "DENY", name


def test_headers_on_an_unexpected_error(app_config):
    app = create_app(app_config)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    _assert_headers(response)
    get_engine(app).dispose()


def test_the_card_may_be_framed_by_configured_hosts_only(app_config, make_user):
    app = create_app({**app_config, "CARD_FRAME_ANCESTORS": ["https://crm.example.com", "https://*.partner.test"]})
    make_user("ann@acme.test")
    client = Client(app)
    client.login("ann@acme.test", "correct-horse-battery")
    card = client.htmx_get("/integrations/salesforce/card?email=a@b.test")
    assert card.headers["Content-Security-Policy"].endswith(
        "frame-ancestors https://crm.example.com https://*.partner.test"
    )
    assert "X-Frame-Options" not in card.headers
    page = client.get("/inbox")
    assert page.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    assert page.headers["X-Frame-Options"] == "DENY"
    get_engine(app).dispose()


def test_bad_frame_ancestors_are_refused_at_start(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_ENV", "development")
    for value in ("https://a.test; script-src *", "'unsafe-inline'", "crm.example.com"):
        monkeypatch.setenv("CARD_FRAME_ANCESTORS", value)
        with pytest.raises(ConfigError, match="CARD_FRAME_ANCESTORS"):
            load_config(str(tmp_path))
    monkeypatch.setenv("LOGIN_MAX_FAILURES_PER_ACCOUNT", "zero")
    monkeypatch.setenv("CARD_FRAME_ANCESTORS", "")
    with pytest.raises(ConfigError, match="LOGIN_MAX_FAILURES_PER_ACCOUNT must be a whole number of attempts"):
        load_config(str(tmp_path))
    monkeypatch.setenv("LOGIN_MAX_FAILURES_PER_ACCOUNT", "0")
    with pytest.raises(ConfigError, match="at least 1"):
        load_config(str(tmp_path))


def test_hsts_only_over_https_with_secure_cookies(app_config):
    for secure_cookie, https, expected in ((True, True, True), (True, False, False), (False, True, False)):
        app = create_app({**app_config, "SESSION_COOKIE_SECURE": secure_cookie})
        base = "https://inbox.example.com" if https else "http://inbox.example.com"
        response = app.test_client().get("/login", base_url=base)
        assert ("Strict-Transport-Security" in response.headers) is expected, (secure_cookie, https)
        if expected:
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        get_engine(app).dispose()


def test_https_from_a_trusted_proxy_counts_and_from_anyone_else_does_not(app_config):
    for proxies, expected in ((0, False), (1, True)):
        app = create_app({**app_config, "SESSION_COOKIE_SECURE": True, "TRUSTED_PROXIES": proxies})
        response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
        assert ("Strict-Transport-Security" in response.headers) is expected
        get_engine(app).dispose()


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"\shx-on", re.I), "hx-on (needs eval)"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"\bjs:", re.I), "hx-vals js: (needs eval)"),
]


def test_no_template_has_inline_script_or_style():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                found.append(f"{path.relative_to(TEMPLATES)}: {what}: {match.group(0)!r}")
    assert not found, "\n".join(found)


def test_htmx_is_configured_without_eval_or_injected_styles(client):
    body = client.get("/login").get_data(as_text=True)
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', body).group(1)
    import json

    settings = json.loads(config)
    assert settings["includeIndicatorStyles"] is False
    assert settings["allowEval"] is False
    response = client.get("/static/css/app.css")
    css = response.get_data(as_text=True)
    response.close()
    assert ".htmx-request .htmx-indicator" in css
