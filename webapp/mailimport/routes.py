"""Settings → Import mail: an admin uploads an mbox, an .eml or a .zip; it is imported in the
background (webapp.mailimport.background) and the page follows its progress."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.auth.guards import admin_required
from webapp.db import get_session
from webapp.mailimport import background
from webapp.mailimport.sources import Limits, SourceError, human_bytes
from webapp.mailimport.summary import ImportSummary
from webapp.models import IMPORT_JOB_ACTIVE
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
    return _page(
        error=f"The file is larger than the {human_bytes(max_upload_bytes())} an upload may be. "
        "Split it, or import it on the server with flask import-mail.",
        status=413,
    )


def _page(*, job=None, error: str = "", status: int = 200):
    session = get_session()
    if job is None and not error:
        job = background.latest_job(session, current_user.workspace_id)
    return (
        render_template(
            "settings/import_mail.html",
            job=job,
            **_job_context(job),
            error=error,
            max_upload=human_bytes(max_upload_bytes()),
            own_addresses=load_workspace_settings(session, current_user.workspace_id).addresses,
        ),
        status,
    )


def _job_context(job) -> dict:
    limits = Limits.from_config(current_app.config)
    context = {
        "summary": None,
        "active": False,
        "max_unpacked": human_bytes(limits.unpacked_bytes),
        "max_message": human_bytes(limits.message_bytes),
        "max_addresses": limits.addresses_per_header,
    }
    if job is not None:
        context["summary"] = ImportSummary.from_json(job.summary) if job.summary else None
        context["active"] = job.status in IMPORT_JOB_ACTIVE
        context["percent"] = min(99, job.unpacked_bytes * 100 // job.total_bytes) if job.total_bytes else 0
        context["read"] = human_bytes(job.unpacked_bytes)
        context["total"] = human_bytes(job.total_bytes)
    return context


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
    try:
        job = background.queue_upload(
            current_app._get_current_object(), get_session(), current_user.workspace_id, file.stream, file.filename
        )
    except background.ImportBusy as exc:
        return _page(error=str(exc), status=409)
    except SourceError as exc:
        return _page(error=str(exc), status=422)
    return _page(job=job, status=202)


@bp.get("/jobs/<int:job_id>")
@admin_required
def job_status(job_id: int):
    session = get_session()
    job = background.get_job(session, current_user.workspace_id, job_id)
    if job is None:
        abort(404)
    if job.status in IMPORT_JOB_ACTIVE:
        # Its process may have died: then this one takes it over, or says why it cannot.
        background.resume_stale(current_app._get_current_object(), job.id)
        session.refresh(job)
    return render_template("partials/mailimport/_job.html", job=job, **_job_context(job))
