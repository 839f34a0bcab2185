"""Structured logging: one JSON object per line on stderr, with the request id when there is one."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid

from flask import Flask, g, has_request_context, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


JsonFormatter.converter = time.gmtime


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of the record, not at set-up."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure_logging(app: Flask) -> None:
    handler = StderrHandler()
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("webapp")
    root.handlers[:] = [handler]
    root.setLevel(app.config["LOG_LEVEL"])
    root.propagate = False

    access = logging.getLogger("webapp.access")

    @app.before_request
    def _start_request():
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16]
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        started = g.get("request_started")
        if started is not None and request.endpoint != "static":
            access.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response


class AccessLoggedRequestHandler(WSGIRequestHandler):
    """The app logs every request itself (one JSON line, with its id); Werkzeug's own line
    would say it a second time. Its error lines stay."""

    def log_request(self, code="-", size="-") -> None:
        pass


def make_app_server(app: Flask, host: str, port: int) -> BaseWSGIServer:
    """The development server the demo runs: threaded, one log line per request."""
    return make_server(host, port, app, threaded=True, request_handler=AccessLoggedRequestHandler)
