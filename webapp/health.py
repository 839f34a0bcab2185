"""GET /healthz: 200 when the database answers, 503 when it does not."""

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from webapp.db import get_engine

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("health check failed", extra={"error": type(exc).__name__})
        return jsonify(status="error", database="unavailable"), 503
    return jsonify(status="ok", database="ok")
