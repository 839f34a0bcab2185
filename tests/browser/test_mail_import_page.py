"""Settings → Import mail in a browser: the upload returns at once, the progress polls, the
summary replaces it."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.test_conversation_page import _sign_in
from tests.mailimport.mail import eml, mbox, thread
from webapp.clock import utcnow
from webapp.db import get_engine, session_scope
from webapp.models import MailImportJob


def test_an_upload_shows_progress_then_the_summary(browser, live_server, seeded, app, artifacts, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, live_server)
    with session_scope(get_engine(app)) as s:  # a running import, as another process reports it
        job = MailImportJob(workspace_id=1, filename="takeout.mbox", stored_path="/x", status="running",
                            seen=1200, imported=1150, skipped=50, unpacked_bytes=40 * 2**20,
                            total_bytes=100 * 2**20, heartbeat_at=utcnow())
        s.add(job)
    page.goto(f"{live_server}/settings/import-mail")
    expect(page.locator("#import-counts")).to_contain_text("1,200 messages read so far: 1,150 imported, 50 skipped (40 MB of 100 MB)")
    page.screenshot(path=str(artifacts / "mail-import-progress.png"), full_page=True)
    with session_scope(get_engine(app)) as s:
        s.get(MailImportJob, job.id).status = "done"

    path = tmp_path / "inbox.mbox"
    path.write_bytes(mbox(*thread(), eml(frm=None, message_id="<nf@x>", subject="Anonymous")))
    page.goto(f"{live_server}/settings/import-mail")
    page.set_input_files("#file", str(path))
    page.click("form.form .form-actions button[type=submit]")
    summary = page.locator("#import-summary")
    expect(summary).to_contain_text("messages from inbox.mbox", timeout=30_000)
    expect(page.locator("#skipped")).to_contain_text("no sender")
    page.screenshot(path=str(artifacts / "mail-import-summary.png"), full_page=True)
