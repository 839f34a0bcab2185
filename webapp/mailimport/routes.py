"""Settings → Import mail: an admin uploads an mbox, an .eml or a .zip and sees the summary."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.auth.guards import admin_required
from webapp.analytics.facts import refresh_facts
from webapp.db import get_engine, get_session
from webapp.mailimport.importer import import_messages
from webapp.mailimport.sources import SourceError, iter_path, saved_upload
from webapp.mailimport.summary import CONCURRENT_IMPORT
from webapp.settings.services import load as load_workspace_settings

bp = Blueprint("mailimport", __name__, url_prefix="/settings/import-mail")

DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def max_upload_bytes() -> int:
    return int(current_app.config.get("MAIL_IMPORT_MAX_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


@bp.url_value_preprocessor
def _limit_upload(endpoint, values):
    # URL preprocessors run before any before_request hook, so this limit is in place before
    # the CSRF check reads the form: an oversized upload is refused without being stored.
    request.max_content_length = max_upload_bytes()


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    # The size check runs before the role check: only admins may see the import page.
    if not (current_user.is_authenticated and current_user.is_admin):
        return exc
    limit = max_upload_bytes() // (1024 * 1024)
    return _page(
        error=f"The file is larger than the {limit} MB an upload may be. "
        "Split it, or import it on the server with flask import-mail.",
        status=413,
    )


def _page(*, summary=None, error: str = "", status: int = 200):
    return (
        render_template(
            "settings/import_mail.html",
            summary=summary,
            error=error,
            max_mb=max_upload_bytes() // (1024 * 1024),
            own_addresses=load_workspace_settings(get_session(), current_user.workspace_id).addresses,
        ),
        status,
    )


@bp.get("")
@admin_required
def index():
    return _page()


@bp.post("")
@admin_required
def upload():
    file = request.files.get("file")
    if file is None or not file.filename:
        return _page(error="Choose an mbox file, an .eml message or a .zip of them.", status=422)
    session = get_session()
    try:
        with saved_upload(file.stream, file.filename) as path:
            summary = import_messages(
                session, current_user.workspace_id, iter_path(path), source=file.filename
            )
        session.commit()
    except SourceError as exc:
        session.rollback()
        return _page(error=f"{exc} Nothing was imported.", status=422)
    except IntegrityError:
        session.rollback()
        return _page(error=CONCURRENT_IMPORT, status=409)
    if summary.imported:
        refresh_facts(get_engine(), current_user.workspace_id)
    return _page(summary=summary)
