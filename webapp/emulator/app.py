"""The emulator's WSGI app, its in-memory state (`app.emulator`) and the admin endpoints."""

from __future__ import annotations

import gc
import re
import socket
import threading
import time
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from . import duplicates, org
from .cursors import Cursors
from .errors import ApiError, OAuthError, invalid_session
from .faults import EDGE_502_PAGE, CallLog, Faults
from .oauth import Tokens
from .options import LATEST_VERSION, OLDEST_VERSION, EmulatorOptions
from .rest import VersionConverter, json_response
from .schema import build_schema
from .soql import SoqlError
from .store import Store

ADMIN_PREFIX = "/_emulator"
MAX_URI_BYTES = 16_384
URI_TOO_LONG_PAGE = "<html><head><title>414 URI Too Long</title></head><body><h1>URI Too Long</h1></body></html>"
LARGE_ORG_ROWS = 50_000


def release_label(version: str) -> str:
    """'Summer '14' for 31.0: three releases a year since then."""
    k = int(float(version)) - 31
    season = ("Summer", "Winter", "Spring")[k % 3]
    year = 14 + k // 3 if season == "Summer" else 15 + k // 3
    return f"{season} '{year:02d}"


class Emulator:
    """Everything one emulated org holds; reachable in-process as `app.emulator`."""

    def __init__(self, options: EmulatorOptions):
        self.options = options
        self.lock = threading.RLock()
        self.started = datetime.now(UTC).replace(microsecond=0)
        self.org_id = org.ORG_ID
        data = org.generate_org(options.seed, options.accounts, options.contacts,
                                options.opportunities, options.multi_currency,
                                admin_username=options.username, leads=options.leads)
        self.user_id = data["User"][0]["Id"]
        self.store = Store(build_schema(options.multi_currency), data, self.user_id)
        self.store.set_enhanced_email(options.enhanced_email)
        if sum(len(rows) for rows in data.values()) > LARGE_ORG_ROWS:
            # A full collection would walk every record of a big org (100+ ms pauses in the
            # middle of query pages); move what exists now out of the collector's sight.
            gc.collect()
            gc.freeze()
        self.tokens = Tokens()
        self.cursors = Cursors(options.max_cursors)
        self.faults = Faults(latency_ms=options.latency_ms, fail_after=options.fail_after,
                             unavailable=options.unavailable, edge_502=options.edge_502,
                             lock_rows=options.lock_rows, refuse_sessions=options.refuse_sessions,
                             after_commit_502=options.after_commit_502, after_commit_503=options.after_commit_503,
                             after_commit_drop=options.after_commit_drop)
        self.calls = CallLog()
        self.api_used = 0
        self.set_max_version(options.max_version)
        self.set_duplicate_rules(options.duplicate_rules, replace=True)

    def set_duplicate_rules(self, actions: dict, *, replace: bool = False) -> dict[str, str]:
        """Turn duplicate rules on ("block" or "alert") or off (None) per object; returns
        the rules in force."""
        checked = duplicates.check_actions(actions)
        with self.lock:
            rules = {} if replace else dict(self.store.duplicate_actions)
            rules.update(checked)
            self.store.duplicate_actions = {k: v for k, v in rules.items() if v is not None}
            return dict(self.store.duplicate_actions)

    def set_max_version(self, version: str | None) -> None:
        """The newest API version the org serves (None: the latest release)."""
        newest = float(version) if version else float(LATEST_VERSION)
        if not float(OLDEST_VERSION) <= newest <= float(LATEST_VERSION):
            raise ValueError(f"max_version must be between {OLDEST_VERSION} and {LATEST_VERSION}")
        first, last = int(float(OLDEST_VERSION)), int(newest)
        self.versions = {f"{v}.0": release_label(f"{v}.0") for v in range(first, last + 1)}

    def expire_sessions(self) -> None:
        """Every access token stops working (clients must refresh)."""
        with self.lock:
            self.tokens.expire_sessions()

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token stops working (clients must reconnect)."""
        with self.lock:
            self.tokens.revoke_refresh_tokens()

    def set_faults(self, **values) -> None:
        with self.lock:
            self.faults.update(**values)

    def set_enhanced_email(self, enabled: bool) -> None:
        """Turn the org's Enhanced Email on or off (EmailMessage and EmailMessageRelation)."""
        with self.lock:
            self.store.set_enhanced_email(enabled)

    @property
    def enhanced_email(self) -> bool:
        return "EmailMessage" not in self.store.hidden

    def reset(self) -> None:
        """Clear faults, call counts and API usage, and put the switches back to the options
        (the org's data stays as it is)."""
        with self.lock:
            self.faults.reset()
            self.calls.reset()
            self.api_used = 0
            self.store.set_enhanced_email(self.options.enhanced_email)
            self.set_max_version(self.options.max_version)
            self.set_duplicate_rules(self.options.duplicate_rules, replace=True)

    def state(self) -> dict:
        opts = self.options
        return {"faults": self.faults.as_dict(), "calls": self.calls.snapshot(),
                "switches": {"enhanced_email": self.enhanced_email},
                "duplicate_rules": dict(self.store.duplicate_actions),
                "api_usage": {"used": self.api_used, "max": opts.api_daily_limit},
                "options": {"client_id": opts.client_id, "username": opts.username,
                            "redirect_uris": opts.redirect_uris, "seed": opts.seed,
                            "accounts": opts.accounts, "contacts": opts.contacts,
                            "opportunities": opts.opportunities,
                            "leads": len(self.store.tables["Lead"].records),
                            "multi_currency": opts.multi_currency,
                            "session_seconds": opts.session_seconds,
                            "rotate_refresh_tokens": opts.rotate_refresh_tokens}}


class _Serialized:
    """WSGI middleware: latency before the call (so slow calls overlap), then one call at a
    time against the in-memory org."""

    def __init__(self, wsgi_app, emulator: Emulator):
        self.wsgi_app = wsgi_app
        self.emulator = emulator

    def __call__(self, environ, start_response):
        if len(_request_uri(environ)) > MAX_URI_BYTES:
            # Salesforce refuses a URI over 16,384 bytes before any API work (Help article
            # 000386264, "Maximum number of rows returned by SOQL queries over the REST API").
            start_response("414 URI Too Long", [("Content-Type", "text/html")])
            return [URI_TOO_LONG_PAGE.encode()]
        if environ.get("PATH_INFO", "").startswith(("/services/", "/id/")):
            delay = self.emulator.faults.latency_ms
            if delay > 0:
                time.sleep(delay / 1000)
        with self.emulator.lock:
            if not _is_write(environ):
                return list(self.wsgi_app(environ, start_response))
            answered: list = []
            body = list(self.wsgi_app(environ, lambda status, headers, exc_info=None: answered.append((status, headers))))
            committed = answered and int(answered[0][0].split()[0]) < 400
            faults = self.emulator.faults
            if committed and faults.take("after_commit_drop"):
                _drop(environ)
                start_response("500 Dropped", [("Content-Length", "0")])
                return []
            if committed and faults.take("after_commit_502"):
                start_response("502 Bad Gateway", [("Content-Type", "text/html")])
                return [EDGE_502_PAGE.encode()]
            if committed and faults.take("after_commit_503"):
                start_response("503 Service Unavailable", [("Content-Type", "application/json")])
                return [b'[{"message":"Server temporarily unavailable","errorCode":"SERVER_UNAVAILABLE"}]']
            start_response(*answered[0])
            return body


def _request_uri(environ) -> bytes:
    """The request target as sent (the server's REQUEST_URI), or rebuilt from path and query."""
    query = environ.get("QUERY_STRING", "")
    rebuilt = environ.get("PATH_INFO", "") + ("?" + query if query else "")
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI") or ""
    return max(raw, rebuilt, key=len).encode("latin-1", "replace")


_RETRIEVE_BY_POST = re.compile(r"^/services/data/v[\d.]+/composite/sobjects/[^/]+/?$")


def _is_write(environ) -> bool:
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD")
    if method == "POST" and _RETRIEVE_BY_POST.match(path):
        return False  # sObject Collections retrieve: a read with a body
    return method in ("POST", "PATCH", "DELETE", "PUT") and path.startswith("/services/data/")


def _drop(environ) -> None:
    """Close the connection without an answer, as when a proxy or the network gives up."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


admin = Blueprint("admin", __name__, url_prefix=ADMIN_PREFIX)


@admin.get("/state")
def admin_state():
    return json_response(current_app.emulator.state())


@admin.post("/faults")
def admin_faults():
    try:
        current_app.emulator.set_faults(**(request.get_json(force=True, silent=True) or {}))
    except (TypeError, ValueError) as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response(current_app.emulator.faults.as_dict())


@admin.post("/enhanced-email")
def admin_enhanced_email():
    body = request.get_json(force=True, silent=True)
    enabled = body.get("enabled") if isinstance(body, dict) else None
    if not isinstance(enabled, bool):
        return json_response({"error": 'send {"enabled": true} or {"enabled": false}'}, 400)
    current_app.emulator.set_enhanced_email(enabled)
    return json_response({"enhanced_email": current_app.emulator.enhanced_email})


@admin.post("/versions")
def admin_versions():
    """{"max": "63.0"} serves API versions up to 63.0 only; {"max": null} up to the latest."""
    body = request.get_json(force=True, silent=True) or {}
    try:
        current_app.emulator.set_max_version(body.get("max"))
    except (TypeError, ValueError) as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response(sorted(current_app.emulator.versions, key=float))


@admin.post("/duplicate-rules")
def admin_duplicate_rules():
    """{"Contact": "block", "Lead": "alert", "Account": null}: rules on or off per object."""
    try:
        rules = current_app.emulator.set_duplicate_rules(request.get_json(force=True, silent=True))
    except ValueError as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response(rules)


@admin.post("/expire-sessions")
def admin_expire_sessions():
    current_app.emulator.expire_sessions()
    return Response(status=204)


@admin.post("/revoke-refresh-tokens")
def admin_revoke_refresh_tokens():
    current_app.emulator.revoke_refresh_tokens()
    return Response(status=204)


@admin.get("/calls")
def admin_calls():
    return json_response(current_app.emulator.calls.snapshot())


@admin.post("/reset")
def admin_reset():
    current_app.emulator.reset()
    return Response(status=204)


def _count_and_inject_faults():
    """Count the call, then answer it with an injected failure when one is due."""
    if not request.path.startswith(("/services/", "/id/")):
        return None
    em = current_app.emulator
    em.calls.record((request.endpoint or "unknown").rpartition(".")[2])
    if em.faults.take("edge_502"):
        return Response(EDGE_502_PAGE, 502, mimetype="text/html")
    if request.path.startswith("/services/data/") and em.faults.take("refuse_sessions"):
        # As when the session is locked to another IP or the user lost API access mid-session.
        raise invalid_session()
    if em.faults.take("unavailable"):
        # Salesforce answers 503 when the instance is down for maintenance or overloaded.
        return json_response([{"message": "Server temporarily unavailable",
                               "errorCode": "SERVER_UNAVAILABLE"}], 503)
    return None


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        headers = {"WWW-Authenticate": "Token"} if exc.error_code == "INVALID_SESSION_ID" else None
        return json_response(exc.body(), exc.status, headers)

    @app.errorhandler(SoqlError)
    def soql_error(exc: SoqlError):
        return json_response([{"message": exc.message, "errorCode": exc.error_code}], 400)

    @app.errorhandler(OAuthError)
    def oauth_error(exc: OAuthError):
        return json_response(exc.body(), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 405:
            allowed = ",".join(m for m in exc.valid_methods or [] if m not in ("HEAD", "OPTIONS"))
            return json_response([{"message": f"HTTP Method '{request.method}' not allowed. "
                                   f"Allowed are {allowed}", "errorCode": "METHOD_NOT_ALLOWED"}],
                                 405, {"Allow": allowed})
        if exc.code == 404:
            return json_response([{"message": "The requested resource does not exist",
                                   "errorCode": "NOT_FOUND"}], 404)
        return json_response([{"message": exc.description or exc.name,
                               "errorCode": exc.name.upper().replace(" ", "_")}], exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("emulator error")
        return json_response([{"message": "An unexpected error occurred. Please include this "
                               "ErrorId if you contact support: 1386112344-31044 (-1453047046)",
                               "errorCode": "UNKNOWN_EXCEPTION"}], 500)


def _no_type_without_body(response: Response) -> Response:
    # Salesforce's 204s carry no Content-Type; Flask would label the empty body text/html.
    if response.status_code == 204:
        response.headers.pop("Content-Type", None)
    return response


def create_emulator_app(options: EmulatorOptions | None = None) -> Flask:
    """A WSGI app emulating one Salesforce org; its state is `app.emulator` (an Emulator)."""
    from . import composite, oauth, rest  # noqa: F401  (composite registers on rest.bp)

    options = options or EmulatorOptions()
    app = Flask(__name__, template_folder="templates")
    app.url_map.strict_slashes = False
    app.url_map.converters["version"] = VersionConverter
    app.json.sort_keys = False
    app.emulator = Emulator(options)
    app.before_request(_count_and_inject_faults)
    app.after_request(_no_type_without_body)
    app.register_blueprint(oauth.bp)
    app.register_blueprint(rest.bp)
    app.register_blueprint(admin)
    _register_error_handlers(app)
    app.wsgi_app = _Serialized(app.wsgi_app, app.emulator)
    return app
