"""Static files as a browser gets them: compressed, and cached so well that a second page
load fetches nothing but the page. Requests are counted where they arrive, at the server."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.browser.test_conversation_page import _sign_in


class Counted:
    """WSGI middleware: every request the server receives, with the encoding it sent back."""

    def __init__(self, app):
        self.app, self.seen, self.lock = app, [], threading.Lock()

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            encoding = dict((k.lower(), v) for k, v in headers).get("content-encoding", "")
            with self.lock:
                self.seen.append((environ["PATH_INFO"], status.split()[0], encoding))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


@pytest.fixture
def counted_server(app):
    counted = Counted(app.wsgi_app)
    app.wsgi_app = counted
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", counted
    server.shutdown()
    thread.join(5)


def test_a_second_page_load_fetches_nothing_but_the_page(browser, counted_server, seeded, artifacts):
    base, counted = counted_server
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{base}/login")
    first = list(counted.seen)
    statics = [s for s in first if s[0].startswith("/static/")]
    assert len(statics) == 3, first
    assert all(status == "200" and encoding == "gzip" for _, status, encoding in statics), statics
    # The stylesheet really applied (it came compressed and the browser took it).
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"

    for url in ("/login", "/login"):
        counted.seen.clear()
        page.goto(f"{base}{url}")
        assert counted.seen == [("/login", "200", "")], counted.seen

    _sign_in(page, base)
    counted.seen.clear()
    page.goto(f"{base}/contacts")
    page.wait_for_load_state("networkidle")
    assert counted.seen == [("/contacts", "200", "")], counted.seen
    page.screenshot(path=str(artifacts / "static-cached-contacts.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts / "static-cached-contacts-390.png"))
    page.close()
