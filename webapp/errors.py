"""Error pages. htmx requests get a small fragment, never a whole page in a panel."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.htmx import is_htmx

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "Your role does not give access to this page. Ask an admin."),
    404: ("Not found", "There is nothing here, or it belongs to another workspace."),
    405: ("Not allowed", "That action is not available here."),
    429: ("Slow down", "Too many requests; try again in a moment."),
    500: ("Something went wrong", "The error has been logged. Try again in a moment."),
}


def _render(status: int, title: str, detail: str):
    template = "partials/_error.html" if is_htmx() else "errors/error.html"
    return render_template(template, status=status, title=title, detail=detail), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        log.info("csrf refused", extra={"path": request.path, "reason": exc.description})
        return _render(
            400,
            "Form expired",
            "The security token was missing or out of date. Reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        title, detail = MESSAGES.get(exc.code or 500, (exc.name, exc.description))
        return _render(exc.code or 500, title, detail)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http(exc)
        log.exception("unhandled error", extra={"path": request.path})
        title, detail = MESSAGES[500]
        return _render(InternalServerError.code, title, detail)
