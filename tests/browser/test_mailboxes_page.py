"""Settings → Mailboxes in a browser: add a mailbox on a real Dovecot, Test it, Fetch now and
watch the state follow, accept a self-signed certificate; screenshots at 1440 and 390 px."""

from __future__ import annotations

import pytest
import trustme
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.test_conversation_page import _sign_in
from tests.mail.conftest import MAILBOX_PASSWORD, MAILBOX_USER, dovecot, smtp_server  # noqa: F401
from tests.mail.messages import raw
from tests.mailservers import Dovecot
from webapp.db import get_engine, session_scope
from webapp.mail.fetch import FetchOptions, fetch_mailbox
from webapp.models import Mailbox, MailboxFolder


@pytest.fixture
def app_config(app_config, dovecot):  # noqa: F811
    return {**app_config, "MAIL_CA_FILE": str(dovecot.ca_file), "MAIL_TIMEOUT_SECONDS": 10}


def _fill(page, dovecot, smtp_port, address=MAILBOX_USER, imap_port=None):  # noqa: F811
    page.fill("#address", address)
    page.fill("#display_name", "Northwind Support")
    page.fill("#imap_host", dovecot.host)
    page.fill("#imap_port", str(imap_port or dovecot.port))
    page.fill("#imap_username", MAILBOX_USER)
    page.fill("#imap_password", MAILBOX_PASSWORD)
    page.fill("#smtp_host", dovecot.host)
    page.fill("#smtp_port", str(smtp_port))
    page.click(".mailbox-form .form-actions button[type=submit]")


def test_add_test_fetch_and_accept_a_self_signed_certificate(
        browser, live_server, seeded, app, artifacts, dovecot, smtp_server, tmp_path):  # noqa: F811
    engine = get_engine(app)
    dovecot.append(MAILBOX_USER, raw(1, subject="Where is my order?"))
    dovecot.append(MAILBOX_USER, raw(2, sender=MAILBOX_USER, to="customer@client.test", subject="Re: Where is my order?",
                                     in_reply_to="<m1@client.test>"), "Sent")
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    _sign_in(page, live_server)
    page.goto(f"{live_server}/settings/mailboxes")
    expect(page.locator("#no-mailboxes")).to_be_visible()
    expect(page.locator("nav.tabs a[aria-current=page]")).to_have_text("Mailboxes")

    page.click("#add-mailbox")
    page.screenshot(path=str(artifacts / "mailbox-form-1440.png"), full_page=True)
    _fill(page, dovecot, smtp_server.port)
    card = page.locator("article.mailbox").first
    expect(card).to_contain_text("Not fetched yet")
    expect(page.locator(".flash-success")).to_contain_text("saved")

    card.get_by_role("button", name="Test").click()
    results = card.locator(".test-results")
    expect(results.locator("[data-service=imap]")).to_contain_text("IMAP: OK")
    expect(results.locator("[data-service=smtp]")).to_contain_text("SMTP: OK")

    card.get_by_role("button", name="Fetch now").click()
    expect(card.locator(".mailbox-state")).to_contain_text("Fetch requested")
    with session_scope(engine) as session:
        mailbox_id = session.execute(select(Mailbox.id)).scalar_one()
    # The scheduler's leader is not running in this test: fetch as its job does.
    assert fetch_mailbox(engine, app.extensions["vault"], mailbox_id, FetchOptions.from_config(app.config)).stored == 2
    expect(card.locator(".mailbox-state")).to_contain_text("Receiving", timeout=15_000)  # the poll picked it up
    expect(card.locator(".mailbox-folders")).to_contain_text("INBOX")
    expect(card.locator(".mailbox-folders")).to_contain_text("1 stored")

    # A second mailbox on a self-signed server: Test offers its certificate, accepting pins it.
    with Dovecot(tmp_path / "self-signed", ca=trustme.CA()) as other:
        other.add_user(MAILBOX_USER, MAILBOX_PASSWORD)
        page.click("#add-mailbox")
        _fill(page, other, smtp_server.port, address="sales@northwind.example", imap_port=other.port)
        second = page.locator("article.mailbox", has_text="sales@northwind.example")
        second.get_by_role("button", name="Test").click()
        failed = second.locator("[data-service=imap]")
        expect(failed).to_contain_text("could not be verified")
        page.once("dialog", lambda dialog: dialog.accept())
        failed.get_by_role("button", name="Accept this self-signed certificate").click()
        second = page.locator("article.mailbox", has_text="sales@northwind.example")
        expect(second.locator(".pin-warning")).to_contain_text("Self-signed IMAP certificate accepted")
        second.get_by_role("button", name="Test").click()
        expect(second.locator("[data-service=imap]")).to_contain_text("IMAP: OK")
        with session_scope(engine) as session:
            pinned = session.execute(select(Mailbox).where(Mailbox.address == "sales@northwind.example")).scalar_one()
            assert pinned.imap_pinned_sha256 == other.fingerprint
            # A backfill under way, as the leader reports it, for the screenshots.
            session.add(MailboxFolder(mailbox_id=pinned.id, workspace_id=pinned.workspace_id, role="inbox",
                                      name="INBOX", uidvalidity=1, last_uid=1800, state="backfill",
                                      to_read=6400, done=1800, stored=1790, skipped=10,
                                      last_skip="larger than the 25 MB a message may be (INBOX UID 977)"))
            pinned.fetch_lease_until = pinned.updated_at.replace(year=2100)
    page.goto(f"{live_server}/settings/mailboxes")
    expect(page.locator(".mailbox-folders progress")).to_have_attribute("value", "28")
    page.screenshot(path=str(artifacts / "mailboxes-1440.png"), full_page=True)
    narrow = browser.new_page(viewport={"width": 390, "height": 844})
    _sign_in(narrow, live_server)
    narrow.goto(f"{live_server}/settings/mailboxes")
    expect(narrow.locator("article.mailbox")).to_have_count(2)
    narrow.screenshot(path=str(artifacts / "mailboxes-390.png"), full_page=True)
    narrow.goto(f"{live_server}/settings/mailboxes/{mailbox_id}")
    narrow.screenshot(path=str(artifacts / "mailbox-form-390.png"), full_page=True)
    # The password is never sent back to the browser.
    assert MAILBOX_PASSWORD not in narrow.content()
    narrow.close()
    page.close()
