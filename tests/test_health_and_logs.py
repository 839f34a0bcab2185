"""/healthz and structured request logs."""

from __future__ import annotations

import json
import logging

from webapp import create_app
from webapp.db import get_engine


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_is_503_when_the_database_is_unreachable(app_config, tmp_path):
    app = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unavailable"
    get_engine(app).dispose()


def test_requests_are_logged_as_json_lines_with_a_request_id(app, client, capsys):
    logging.getLogger("webapp").setLevel("INFO")
    response = client.get("/healthz", headers={"X-Request-Id": "abc123"})
    assert response.headers["X-Request-Id"] == "abc123"
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    entry = next(line for line in lines if line.get("path") == "/healthz")
    assert entry["request_id"] == "abc123"
    assert entry["status"] == 200 and entry["method"] == "GET" and entry["level"] == "info"
    assert isinstance(entry["ms"], float)


def test_unexpected_errors_are_logged_and_shown_as_a_plain_500(app, client, capsys):
    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    response = client.get("/boom")
    assert response.status_code == 500
    assert "kaboom" not in response.get_data(as_text=True)
    err = capsys.readouterr().err
    assert "unhandled error" in err and "kaboom" in err


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def test_the_demo_server_logs_each_request_once(app):
    """The demo's server: the app's JSON line per request, and no second line from Werkzeug."""
    import threading

    import requests

    from webapp.logs import make_app_server

    logging.getLogger("webapp").setLevel("INFO")
    seen = _Records()
    loggers = [logging.getLogger("werkzeug"), logging.getLogger("webapp.access")]
    for logger in loggers:
        logger.addHandler(seen)
    server = make_app_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with requests.Session() as http:
            assert http.get(f"http://127.0.0.1:{server.server_port}/healthz", timeout=10).status_code == 200
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        for logger in loggers:
            logger.removeHandler(seen)
    lines = [r for r in seen.records if "/healthz" in r.getMessage() or getattr(r, "path", None) == "/healthz"]
    assert [(r.name, r.getMessage()) for r in lines] == [("webapp.access", "request")]
