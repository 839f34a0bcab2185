"""What a person sees replying: type, send, the reply is in the conversation at once and the
conversation is pending; a failed send keeps the text and says why. Real Dovecot and SMTP."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.mail.conftest import MAILBOX_USER, dovecot, fetch, make_mailbox  # noqa: F401  (fixtures)
from tests.mail.messages import raw
from tests.mail.replies.conftest import COLLEAGUE, CUSTOMER, smtp_server  # noqa: F401  (fixture)
from webapp.models import Conversation

ADMIN = ("admin@acme.test", "correct-horse-battery")


@pytest.fixture
def app_config(app_config, dovecot):  # noqa: F811
    return {**app_config, "MAIL_CA_FILE": str(dovecot.ca_file), "MAIL_TIMEOUT_SECONDS": 10}


@pytest.fixture
def conversation_url(live_server, db, make_user, dovecot, make_mailbox, smtp_server, fetch):  # noqa: F811
    _, workspace_id = make_user(ADMIN[0], role="admin", name="Ada Admin")
    mailbox_id = make_mailbox(workspace_id, smtp_host=smtp_server.host, smtp_port=smtp_server.port)
    dovecot.append(MAILBOX_USER, raw(1, subject="Pricing for the Pro plan", to=f"{MAILBOX_USER}, {COLLEAGUE}",
                                     body="Hi, what does the Pro plan cost for a team of twelve?\n\nCasey"))
    assert fetch(mailbox_id).stored == 1
    with db() as session:
        conversation_id = session.execute(select(Conversation.id)).scalar_one()
    return f"{live_server}/inbox/{conversation_id}"


def _sign_in(page, url):
    page.goto(url)
    page.fill("#email", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/inbox/\d+$"))


def test_type_a_reply_send_it_and_see_it_in_the_conversation(browser, conversation_url, smtp_server, artifacts):  # noqa: F811
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    _sign_in(page, conversation_url)
    expect(page.locator("#reply-to")).to_have_value(CUSTOMER)
    expect(page.locator("#reply-cc")).to_have_value(COLLEAGUE)
    expect(page.locator("#reply-mailbox_id")).to_contain_text(MAILBOX_USER)
    page.fill("#reply-body", "Hello Casey,\n\nFor twelve people the Pro plan is 588 € a month.\n\nAda")
    page.screenshot(path=str(artifacts / "reply-typed-1440.png"), full_page=True)
    page.click("#reply-send")

    sent = page.locator("#messages .message-out")
    expect(sent).to_have_count(1)
    expect(sent).to_contain_text("588 € a month")
    expect(page.locator("#reply-message")).to_contain_text("Sent. The conversation is now Pending")
    expect(page.locator("#conversation-status [data-status]")).to_have_attribute("data-status", "pending")
    expect(page.locator("#thread-summary")).to_contain_text("2 messages")
    expect(page.locator("#reply-body")).to_have_value("")
    assert len(smtp_server.received) == 1
    page.screenshot(path=str(artifacts / "reply-sent-1440.png"), full_page=True)

    page.reload()  # the same after a reload: the sent message once, a fresh box
    expect(page.locator("#messages .message-out")).to_have_count(1)
    page.close()


def test_a_failed_send_keeps_the_text_and_says_why_on_a_phone(browser, conversation_url, smtp_server, artifacts):  # noqa: F811
    page = browser.new_page(viewport={"width": 390, "height": 844})
    _sign_in(page, conversation_url)
    smtp_server.refuse.add(CUSTOMER)
    page.fill("#reply-cc", "")
    page.fill("#reply-body", "Thanks, Casey. The price list is attached to our site.")
    page.click("#reply-send")
    expect(page.locator("#reply-message")).to_contain_text("Not sent: The SMTP server refused every recipient")
    expect(page.locator("#reply-body")).to_have_value("Thanks, Casey. The price list is attached to our site.")
    expect(page.locator("#messages .message-out")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("#reply").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "reply-failed-390.png"))

    smtp_server.refuse.clear()
    page.click("#reply-send")
    expect(page.locator("#messages .message-out")).to_have_count(1)
    expect(page.locator("#conversation-status [data-status]")).to_have_attribute("data-status", "pending")
    page.locator("#messages .message-out").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "reply-sent-390.png"))
    page.close()
