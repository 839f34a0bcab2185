"""The two ways in: `flask import-mail` and Settings → Import mail."""

from __future__ import annotations

import io
import re

import pytest
from sqlmodel import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.mailimport.mail import eml, mbox, thread, zipped
from webapp.mailimport.background import runner
from webapp.models import Message, Workspace, WorkspaceAddress


@pytest.fixture
def acme(db):
    """The workspace of the admin_client and member_client fixtures, owning acme.test."""
    from webapp.auth.services import get_or_create_workspace

    with db() as s:
        ws, _ = get_or_create_workspace(s, "Acme")
        s.add(WorkspaceAddress(workspace_id=ws.id, value="acme.test"))
        return ws.id


def count_messages(db) -> int:
    with db() as s:
        return len(s.exec(select(Message.id)).all())


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["import-mail", *map(str, args)])


def test_cli_imports_and_prints_the_summary(app, db, acme, tmp_path):
    path = tmp_path / "inbox.mbox"
    path.write_bytes(mbox(*thread(), thread()[0], eml(frm=None, message_id="<nf@x>", subject="Anonymous")))
    result = invoke(app, path, "--workspace", "Acme")
    assert result.exit_code == 0, result.output
    assert "Imported 4 of 6 messages from inbox.mbox (2 received, 2 sent)." in result.output
    assert "Conversations: 1 new, 0 existing continued. Contacts: 1 new." in result.output
    assert "1  duplicate (appears twice in this file)" in result.output
    assert "1  no sender (From missing or not an address)  (e.g. inbox.mbox, message 6: “Anonymous”)" in result.output
    assert count_messages(db) == 4


def test_cli_dry_run_stores_nothing(app, db, acme, tmp_path):
    path = tmp_path / "inbox.mbox"
    path.write_bytes(mbox(*thread()))
    result = invoke(app, path, "--workspace", "Acme", "--dry-run")
    assert result.exit_code == 0 and "Would import 4 of 4" in result.output
    assert count_messages(db) == 0


def test_cli_refuses_bad_input_with_a_non_zero_exit(app, db, acme, tmp_path):
    garbage = tmp_path / "garbage.mbox"
    garbage.write_bytes(b"\x00\x01\x02 this is no mail file")
    good = tmp_path / "good.mbox"
    good.write_bytes(mbox(*thread()))
    cases = [
        ((tmp_path / "missing.mbox", "--workspace", "Acme"), "no such file or folder"),
        ((good, "--workspace", "Nope"), "No workspace named “Nope” (workspaces: “Acme”)"),
        ((garbage, "--workspace", "Acme"), "garbage.mbox: not an mbox file"),
        ((good,), "Missing option '--workspace'"),
    ]
    for args, message in cases:
        result = invoke(app, *args)
        assert result.exit_code != 0, args
        assert message in result.output, result.output
    assert "Nothing was imported" in invoke(app, garbage, "--workspace", "Acme").output
    assert count_messages(db) == 0


def upload(client, data: bytes, filename: str, *, token=True):
    headers = {"X-CSRFToken": client.token} if token else {}
    return client.http.post(
        "/settings/import-mail",
        data={"file": (io.BytesIO(data), filename)},
        headers=headers,
        content_type="multipart/form-data",
    )


JOB_RE = re.compile(r'hx-get="/settings/import-mail/jobs/(\d+)"')


def imported(client, data: bytes, filename: str) -> str:
    """Upload, let the background job finish, and return what the page then shows."""
    response = upload(client, data, filename)
    page = response.get_data(as_text=True)
    assert response.status_code == 202, page[:800]
    assert "Importing " + filename in page
    job_id = int(JOB_RE.search(page).group(1))
    runner(client.app).wait(job_id, timeout=60)
    fragment = client.htmx_get(f"/settings/import-mail/jobs/{job_id}")
    assert fragment.status_code == 200
    return fragment.get_data(as_text=True)


def test_the_import_page_is_linked_from_settings(admin_client, acme):
    page = admin_client.get("/settings/integrations").get_data(as_text=True)
    assert 'href="/settings/import-mail"' in page
    page = admin_client.get("/settings/import-mail").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'name="csrf_token"' in page
    assert "Mail from acme.test counts as sent by the team" in page


def test_an_admin_uploads_an_mbox_and_sees_the_summary(admin_client, db, acme):
    page = imported(admin_client, mbox(*thread(), eml(frm=None, message_id="<nf@x>")), "inbox.mbox")
    assert "hx-trigger" not in page  # finished: the fragment stops polling
    assert "Imported 4 of 5 messages from inbox.mbox" in page
    assert "<dt>Received</dt><dd>2</dd>" in page and "<dt>New conversations</dt><dd>1</dd>" in page
    assert "no sender (From missing or not an address)" in page
    assert count_messages(db) == 4
    again = imported(admin_client, mbox(*thread()), "inbox.mbox")
    assert "Imported 0 of 4 messages" in again and "duplicate (already imported)" in again
    assert count_messages(db) == 4


def test_an_admin_uploads_a_single_eml_and_a_zip(admin_client, db, acme):
    msgs = thread()
    page = imported(admin_client, msgs[0], "question.eml")
    assert "Imported 1 of 1 messages from question.eml" in page
    page = imported(admin_client, zipped({"a/1.eml": msgs[1], "a/2.eml": msgs[2], "a/3.eml": msgs[3]}), "rest.zip")
    assert "Imported 3 of 3 messages from rest.zip" in page
    assert "<dt>Conversations continued</dt><dd>1</dd>" in page
    assert count_messages(db) == 4


def test_a_bad_upload_says_why_and_imports_nothing(admin_client, db, acme):
    response = upload(admin_client, b"\x89PNG\r\n\x1a\n binary", "photo.png")
    assert response.status_code == 422
    assert "photo.png: not an mbox file" in response.get_data(as_text=True)
    assert "Nothing was imported" in response.get_data(as_text=True)
    missing = admin_client.http.post(
        "/settings/import-mail", data={}, headers={"X-CSRFToken": admin_client.token},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422 and "Choose an mbox file" in missing.get_data(as_text=True)
    assert count_messages(db) == 0


def test_an_oversized_upload_is_refused_with_a_clear_error(app, admin_client, db, acme):
    app.config["MAIL_IMPORT_MAX_BYTES"] = 1024 * 1024
    # Encoded here: the test client would spool a body this size to a file it never closes.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(mbox(*thread()) + b"x" * 1024 * 1024), "huge.mbox")})
    response = admin_client.http.post(
        "/settings/import-mail", data=body, headers={"X-CSRFToken": admin_client.token},
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "larger than the 1 MB an upload may be" in page and "flask import-mail" in page
    assert count_messages(db) == 0


def test_the_upload_needs_the_csrf_token(admin_client, db, acme):
    response = upload(admin_client, mbox(*thread()), "inbox.mbox", token=False)
    assert response.status_code == 400
    assert count_messages(db) == 0


def test_members_and_strangers_cannot_import(member_client, client, db):
    assert member_client.get("/settings/import-mail").status_code == 403
    assert upload(member_client, mbox(*thread()), "inbox.mbox").status_code == 403
    assert count_messages(db) == 0
    with db() as s:
        assert s.exec(select(Workspace.name)).all() == ["Acme"]


def test_strangers_are_sent_to_the_login_page(app):
    response = app.test_client().get("/settings/import-mail")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _oversized(client):
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(b"x" * (1024 * 1024 + 10)), "huge.mbox")})
    return client.http.post(
        "/settings/import-mail", data=body, headers={"X-CSRFToken": client.token or ""},
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_an_oversized_upload_from_a_member_or_a_stranger_shows_no_import_page(app, member_client, db):
    app.config["MAIL_IMPORT_MAX_BYTES"] = 1024 * 1024
    for who in (member_client, type(member_client)(app)):
        response = _oversized(who)
        assert response.status_code == 413
        assert "counts as sent by the team" not in response.get_data(as_text=True)
        assert "team addresses" not in response.get_data(as_text=True)
    assert count_messages(db) == 0


def test_a_zip_with_a_giant_message_is_refused(admin_client, db, acme):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.eml", b"\0" * (26 * 1024 * 1024))  # compresses to ~25 KB
        archive.writestr("fine.eml", thread()[0])
    page = imported(admin_client, buffer.getvalue(), "mail.zip")
    assert "Imported 1 of 2 messages from mail.zip" in page
    assert "larger than the 25 MB a message may be (MAIL_IMPORT_MAX_MESSAGE_BYTES)" in page
    assert "bomb.eml" in page
    assert count_messages(db) == 1
