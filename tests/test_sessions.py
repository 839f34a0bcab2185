"""Sign-in sessions end on the server: logout, a password change, 'sign out everywhere'."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event
from sqlmodel import select

from tests.conftest import Client
from webapp.auth import services
from webapp.db import get_engine
from webapp.models import UserSession

RIGHT = "correct-horse-battery"


def _replay(app, cookie: str) -> Client:
    """A fresh browser holding a copy of someone's session cookie."""
    other = Client(app)
    other.http.set_cookie("session", cookie)
    return other


def _cookie(client: Client) -> str:
    return client.http.get_cookie("session").value


def test_a_cookie_copied_before_logout_opens_nothing_after_it(admin_client, app):
    copied = _cookie(admin_client)
    assert _replay(app, copied).get("/settings/workspace").status_code == 200  # the copy works while signed in
    admin_client.post("/logout")
    replayed = _replay(app, copied)
    page = replayed.get("/settings/workspace")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    panel = replayed.htmx_get("/integrations/salesforce/card?email=a@b.test")
    assert panel.status_code == 401 and panel.headers["HX-Redirect"] == "/login"


def test_logout_ends_only_that_session(client, make_user, app):
    make_user("ann@acme.test")
    laptop, phone = Client(app), Client(app)
    laptop.login("ann@acme.test", RIGHT)
    phone.login("ann@acme.test", RIGHT)
    laptop.post("/logout")
    assert laptop.get("/inbox").status_code == 302
    assert phone.get("/inbox").status_code == 200


def test_password_change_ends_the_other_sessions_and_keeps_this_one(make_user, app, db):
    make_user("ann@acme.test")
    laptop, phone = Client(app), Client(app)
    laptop.login("ann@acme.test", RIGHT)
    phone.login("ann@acme.test", RIGHT)
    phone_cookie = _cookie(phone)
    response = laptop.post(
        "/account/password",
        {"current_password": RIGHT, "new_password": "a-new-long-password", "confirm_password": "a-new-long-password"},
    )
    assert response.status_code == 302
    assert "1 other session signed out" in laptop.get("/account").get_data(as_text=True)
    assert laptop.get("/inbox").status_code == 200
    assert phone.get("/inbox").status_code == 302
    assert _replay(app, phone_cookie).get("/inbox").status_code == 302
    fresh = Client(app)
    assert fresh.post("/login", {"email": "ann@acme.test", "password": RIGHT}).status_code == 401
    assert fresh.post("/login", {"email": "ann@acme.test", "password": "a-new-long-password"}).status_code == 302


def test_bad_password_changes_are_refused_and_change_nothing(make_user, app):
    make_user("ann@acme.test")
    laptop, phone = Client(app), Client(app)
    laptop.login("ann@acme.test", RIGHT)
    phone.login("ann@acme.test", RIGHT)
    cases = [
        ({"current_password": "not-my-password", "new_password": "long-enough-1", "confirm_password": "long-enough-1"}, "current password is not correct"),
        ({"current_password": RIGHT, "new_password": "short", "confirm_password": "short"}, "at least 8 characters"),
        ({"current_password": RIGHT, "new_password": "long-enough-1", "confirm_password": "long-enough-2"}, "do not match"),
        ({"current_password": RIGHT, "new_password": "", "confirm_password": ""}, "Fill in all three fields"),
    ]
    for data, message in cases:
        response = laptop.post("/account/password", data)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert phone.get("/inbox").status_code == 200  # nobody was signed out
    assert Client(app).post("/login", {"email": "ann@acme.test", "password": RIGHT}).status_code == 302


def test_admin_signs_a_member_out_everywhere(admin_client, make_user, app):
    member_id, _ = make_user("mo@acme.test")
    member = Client(app)
    member.login("mo@acme.test", RIGHT)
    page = admin_client.get("/settings/users").get_data(as_text=True)
    assert f'id="user-{member_id}"' in page
    response = admin_client.post(f"/settings/users/{member_id}/sign-out")
    assert response.status_code == 302
    assert "mo@acme.test was signed out on every device (1 session)" in admin_client.get("/settings/users").get_data(as_text=True)
    assert member.get("/inbox").status_code == 302
    assert admin_client.get("/inbox").status_code == 200


def test_sign_out_everywhere_stays_within_the_workspace_and_needs_an_admin(admin_client, make_user, app):
    other_id, _ = make_user("eve@other.test", workspace="Other")
    other = Client(app)
    other.login("eve@other.test", RIGHT)
    assert admin_client.post(f"/settings/users/{other_id}/sign-out").status_code == 404
    assert other.get("/inbox").status_code == 200
    assert "eve@other.test" not in admin_client.get("/settings/users").get_data(as_text=True)

    make_user("mo@acme.test")
    member = Client(app)
    member.login("mo@acme.test", RIGHT)
    assert member.post("/settings/users/1/sign-out").status_code == 403  # user 1 is the admin
    assert admin_client.get("/inbox").status_code == 200


def test_admin_signs_themselves_out_everywhere(admin_client, app):
    elsewhere = Client(app)
    elsewhere.login("admin@acme.test", RIGHT)
    response = admin_client.post("/settings/users/1/sign-out")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert admin_client.get("/inbox").status_code == 302
    assert elsewhere.get("/inbox").status_code == 302


def test_a_member_signs_out_everywhere_from_their_account_page(member_client, app):
    elsewhere = Client(app)
    elsewhere.login("member@acme.test", RIGHT)
    page = member_client.get("/account").get_data(as_text=True)
    assert "Change password" in page and "This browser" in page
    member_client.post("/account/sign-out-everywhere")
    assert member_client.get("/inbox").status_code == 302
    assert elsewhere.get("/inbox").status_code == 302


def test_each_login_records_a_session_with_its_browser(client, make_user, db):
    make_user("ann@acme.test")
    client.http.post(
        "/login",
        data={"email": "ann@acme.test", "password": RIGHT},
        headers={"X-CSRFToken": (client.get("/login") and client.token), "User-Agent": "Firefox/130 on Linux"},
    )
    with db() as session:
        rows = session.exec(select(UserSession)).all()
    assert len(rows) == 1 and rows[0].user_agent == "Firefox/130 on Linux" and rows[0].revoked_at is None
    assert len(rows[0].id) == 64 and rows[0].id not in _cookie(client)  # only the token's hash is stored


def test_loading_the_signed_in_user_is_one_query(make_user, app, db):
    make_user("member@acme.test")
    with app.app_context(), db() as session:
        user = services.authenticate(session, "member@acme.test", RIGHT)
        started = services.start_session(session, user)
    statements: list[str] = []
    engine = get_engine(app)
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        with app.app_context():
            loaded = services.load_session_user(started.session_token)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert loaded is not None and loaded.email == "member@acme.test"
    assert len(statements) == 1, statements


def test_last_seen_is_written_now_and_then_not_on_every_request(member_client, app, db):
    with db() as session:
        row = session.exec(select(UserSession)).one()
        row.last_seen_at = row.last_seen_at - services.SEEN_EVERY - timedelta(seconds=1)
        session.add(row)
        before = row.last_seen_at
    member_client.get("/inbox")
    with db() as session:
        after = session.exec(select(UserSession)).one().last_seen_at
    assert after > before
