"""The pages at a phone's width (390 px): nothing overlaps, nothing is cut off, the navigation
says what each icon is, the details sheet has a backdrop, times sit with their message."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from webapp.demo.seed import ADMIN

PHONE = {"width": 390, "height": 844}


def _box(locator):
    box = locator.bounding_box()
    assert box is not None, locator
    return box


def _overlap(a, b) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def _inside(inner, outer, slack=0.5) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


def _sign_in(page, base):
    page.goto(f"{base}/login")
    page.fill("#email", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/inbox$"))


def test_login_heading_clears_the_logo(browser, live_server, seeded, artifacts):
    for width, height in ((390, 844), (1440, 900)):
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(f"{live_server}/login")
        brand, heading = _box(page.locator(".auth-card .brand-mark")), _box(page.locator(".auth-card h1"))
        assert not _overlap(brand, heading) and brand["y"] + brand["height"] <= heading["y"]
        assert heading["y"] - (brand["y"] + brand["height"]) >= 8  # room between them, not touching
        page.screenshot(path=str(artifacts / f"phone-login-{width}.png"))
        page.close()


def test_inbox_tabs_names_and_navigation_fit_a_phone(browser, live_server, seeded, artifacts):
    page = browser.new_page(viewport=PHONE)
    _sign_in(page, live_server)
    tabs = page.locator("#conversation-list .tabs")
    bar, viewport = _box(tabs), {"x": 0, "y": 0, **PHONE}
    for label in ("Open", "Pending", "Closed", "All"):
        tab = _box(tabs.get_by_role("link", name=re.compile(rf"^{label}\b")))
        assert _inside(tab, bar) and _inside(tab, viewport), label
    assert tabs.evaluate("t => t.scrollWidth <= t.clientWidth")  # nothing to scroll to
    # Names and subjects are whole, not cut with an ellipsis.
    for selector in (".conv-name", ".conv-subject"):
        cut = page.locator(selector).evaluate_all("els => els.filter(e => e.scrollWidth > e.clientWidth + 1).length")
        assert cut == 0, selector
    # Each section of the navigation shows its name, and none overlaps another.
    links = page.locator(".nav a")
    boxes = []
    for i in range(links.count()):
        link = links.nth(i)
        label = link.locator("span:not(.ico)")
        expect(label).to_be_visible()
        assert label.inner_text().strip() in {"Inbox", "Contacts", "Deals", "Analytics", "Settings"}
        boxes.append(_box(link))
        assert _inside(boxes[-1], viewport)
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(artifacts / "phone-inbox-390.png"))
    # The last row is not hidden under the navigation bar once scrolled to the end.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    pager, nav = _box(page.locator("#conversation-list .pager")), _box(page.locator(".nav"))
    assert pager["y"] + pager["height"] <= nav["y"]
    page.close()


def test_the_details_sheet_has_a_backdrop_and_times_sit_with_their_message(browser, live_server, seeded, artifacts):
    page = browser.new_page(viewport=PHONE)
    _sign_in(page, live_server)
    page.locator(".conversation-row").first.click()
    page.wait_for_url(re.compile(r".*/inbox/\d+$"))
    # The time is in the sender's column, under the sender: not on a line of its own.
    header = page.locator(".message header").first
    name, when = _box(header.locator(".message-meta strong")), _box(header.locator("time"))
    assert abs(when["x"] - name["x"]) <= 1 and when["y"] >= name["y"] + name["height"]
    page.screenshot(path=str(artifacts / "phone-conversation-390.png"))
    backdrop = page.locator(".details-backdrop")
    expect(backdrop).to_be_hidden()
    page.click("#details-toggle")
    expect(page.locator("#details")).to_be_visible()
    expect(backdrop).to_be_visible()
    sheet, behind = _box(page.locator("#details")), _box(backdrop)
    assert behind["width"] >= PHONE["width"] - 1 and behind["x"] < sheet["x"]  # it covers the thread beside the sheet
    page.screenshot(path=str(artifacts / "phone-conversation-details-390.png"))
    page.mouse.click(behind["x"] + 10, behind["y"] + 200)  # a tap beside the sheet closes it
    expect(page.locator("#details")).to_be_hidden()
    expect(backdrop).to_be_hidden()
    page.close()


def test_wide_screens_keep_the_sidebar_and_no_backdrop(browser, live_server, seeded, artifacts):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    _sign_in(page, live_server)
    page.screenshot(path=str(artifacts / "wide-inbox-1440.png"))
    nav = _box(page.locator(".nav"))
    assert nav["x"] < 240 and nav["y"] < 200  # in the sidebar, not a bar at the bottom
    page.locator(".conversation-row").first.click()
    page.wait_for_url(re.compile(r".*/inbox/\d+$"))
    expect(page.locator("#details")).to_be_visible()
    expect(page.locator(".details-backdrop")).to_be_hidden()
    page.screenshot(path=str(artifacts / "wide-conversation-1440.png"))
    page.close()


def test_the_deal_list_fits_a_phone_without_scrolling_sideways(browser, live_server, seeded, artifacts):
    page = browser.new_page(viewport=PHONE)
    _sign_in(page, live_server)
    page.goto(f"{live_server}/deals")
    scroller = page.locator("#deal-list .table-scroll")
    assert scroller.evaluate("s => s.scrollWidth <= s.clientWidth")  # the amounts are in view
    amount = _box(page.locator("#deal-list td.num").first)
    assert amount["x"] + amount["width"] <= PHONE["width"]
    page.screenshot(path=str(artifacts / "phone-deals-390.png"))
    page.close()
