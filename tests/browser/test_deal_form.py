"""The deal form as a person uses it: the contact picked from a search with the keyboard,
every problem shown at once, an amount written the way the app shows it."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.test_conversation_page import _sign_in
from webapp.db import get_engine, session_scope
from webapp.models import Contact, Deal


def test_pick_the_contact_by_searching_with_the_keyboard(browser, live_server, seeded, app, artifacts):
    with session_scope(get_engine(app)) as session:
        contact = session.execute(select(Contact).where(Contact.name.is_not(None)).order_by(Contact.name)).scalars().first()
        name, email, contact_id = contact.name, contact.email, contact.id
    for viewport, label in (({"width": 1440, "height": 900}, "1440"), ({"width": 390, "height": 844}, "390")):
        page = browser.new_page(viewport=viewport)
        _sign_in(page, live_server)
        page.goto(f"{live_server}/deals/new")
        page.fill("#name", f"Keyboard deal {label}")
        page.fill("#amount", "12,500.50")
        box = page.locator("#contact")
        box.press_sequentially(name.split()[0][:4], delay=20)
        options = page.locator("#contact-options [role=option][data-value]")
        expect(options.first).to_be_visible()
        expect(box).to_have_attribute("aria-expanded", "true")
        wanted = page.locator(f"#contact-option-{contact_id}")
        expect(wanted).to_be_visible()
        index = options.evaluate_all(f"os => os.findIndex(o => o.dataset.value === '{contact_id}')")
        for _ in range(index):
            box.press("ArrowDown")
        expect(wanted).to_have_attribute("aria-selected", "true")
        expect(box).to_have_attribute("aria-activedescendant", f"contact-option-{contact_id}")
        page.screenshot(path=str(artifacts / f"deal-contact-search-{label}.png"), full_page=True)
        box.press("Enter")  # picks; does not submit
        expect(page.locator("#contact-options")).to_be_hidden()
        expect(box).to_have_value(re.compile(re.escape(name)))
        assert page.url.endswith("/deals/new")
        expect(page.locator("#contact_id")).to_have_value(str(contact_id))
        page.click("#deal-save")
        page.wait_for_url(re.compile(r".*/deals$"))
        expect(page.locator("#deal-list")).to_contain_text(f"Keyboard deal {label}")
        page.close()
    with session_scope(get_engine(app)) as session:
        deals = session.execute(select(Deal).where(Deal.name.like("Keyboard deal%"))).scalars().all()
        assert {(d.contact_id, d.amount_minor) for d in deals} == {(contact_id, 1_250_050)}
    assert email  # the search found the contact by the start of its name


def test_every_problem_is_shown_at_once(browser, live_server, seeded, artifacts):
    for viewport, label in (({"width": 1440, "height": 900}, "1440"), ({"width": 390, "height": 844}, "390")):
        page = browser.new_page(viewport=viewport)
        _sign_in(page, live_server)
        page.goto(f"{live_server}/deals/new")
        page.fill("#amount", "12,50")
        page.fill("#contact", "nobody in particular")
        page.click("#deal-save")
        errors = page.locator(".field .error")
        expect(errors).to_have_count(3)
        expect(page.locator("#name-error")).to_contain_text("required")
        expect(page.locator("#amount-error")).to_contain_text("is not a number like 12,500.50")
        expect(page.locator("#contact-error")).to_contain_text("Choose a contact from the list")
        page.screenshot(path=str(artifacts / f"deal-errors-{label}.png"), full_page=True)
        page.close()
