"""The main pages under the Content-Security-Policy in Chromium: no violation, htmx still swaps."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.test_conversation_page import _sign_in
from webapp.db import get_engine, session_scope
from webapp.models import Conversation, Deal

# Reported from the page itself, so a violation in any frame or script is seen.
WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


def test_main_pages_break_no_policy_and_htmx_still_swaps(browser, live_server, seeded, app, artifacts):
    with session_scope(get_engine(app)) as session:
        conversation_id = session.execute(
            select(Conversation.id).where(Conversation.status == "open").order_by(Conversation.id)
        ).scalars().first()
        deal_id = session.execute(select(Deal.id).order_by(Deal.id)).scalars().first()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.add_init_script(WATCH)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Refused to" in m.text or "Content Security Policy" in m.text else None)

    def check(name: str) -> None:
        page.wait_for_load_state("networkidle")
        violations = page.evaluate("window.__cspViolations")
        assert not violations and not refused, (name, violations, refused)
        page.screenshot(path=str(artifacts / f"csp-{name}.png"), full_page=False)

    page.goto(f"{live_server}/login")
    check("login")
    _sign_in(page, live_server)
    check("inbox")

    page.goto(f"{live_server}/inbox/{conversation_id}")
    # The Salesforce card arrives through an htmx swap after the page.
    expect(page.locator("#card-salesforce[data-state='not-connected']")).to_be_visible()
    check("conversation")
    # An htmx post swaps the status control in place (with the CSRF header from hx-headers).
    page.click("#conversation-status button[value=closed]")
    expect(page.locator("#conversation-status [data-status='closed']")).to_be_visible()
    assert page.url.endswith(f"/inbox/{conversation_id}")
    check("conversation-closed")

    for url, name in (
        ("/account", "account"),
        ("/settings/integrations", "settings"),
        ("/settings/integrations/salesforce", "salesforce-settings"),
        ("/settings/users", "users"),
        ("/analytics", "analytics"),
        ("/deals", "deals"),
        (f"/deals/{deal_id}/edit", "deal"),
    ):
        response = page.goto(live_server + url)
        assert response.status == 200, url
        check(name)

    # The delete confirmation moved from an inline handler to app.js: dismissing it keeps the deal.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#deal-delete")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/deals/{deal_id}/edit")
    with session_scope(get_engine(app)) as session:
        assert session.get(Deal, deal_id) is not None
    check("deal-kept")
    page.close()
