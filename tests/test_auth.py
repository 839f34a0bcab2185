"""Sign-in, sign-out, roles, CSRF and expired sessions."""

from __future__ import annotations


def test_login_with_correct_password_lands_in_the_inbox(client, make_user):
    make_user("ann@acme.test", name="Ann")
    response = client.post("/login", {"email": "ANN@acme.test ", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/inbox")
    page = client.get("/inbox")
    assert page.status_code == 200
    assert "Ann" in page.get_data(as_text=True)


def test_wrong_password_and_unknown_email_get_the_same_generic_error(client, make_user):
    make_user("ann@acme.test")
    wrong_password = client.post("/login", {"email": "ann@acme.test", "password": "nope-nope-nope"})
    unknown_email = client.post("/login", {"email": "nobody@acme.test", "password": "nope-nope-nope"})
    assert wrong_password.status_code == unknown_email.status_code == 401
    for response in (wrong_password, unknown_email):
        body = response.get_data(as_text=True)
        assert "Email or password is incorrect." in body
        assert "no such user" not in body.lower()
    assert client.get("/inbox").status_code == 302  # still signed out


def test_login_without_csrf_token_is_refused(client, make_user):
    make_user("ann@acme.test")
    response = client.post(
        "/login", {"email": "ann@acme.test", "password": "correct-horse-battery"}, csrf=False
    )
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert client.get("/inbox").status_code == 302


def test_post_without_csrf_token_is_refused_when_signed_in(admin_client, db):
    from tests import factories

    with db() as session:
        conv = factories.conversation(session, 1)
        conv_id = conv.id
    response = admin_client.post(f"/inbox/{conv_id}/status", {"status": "closed"}, csrf=False)
    assert response.status_code == 400
    with db() as session:
        from webapp.models import Conversation

        assert session.get(Conversation, conv_id).status == "open"


def test_htmx_post_with_header_token_is_accepted(admin_client, db):
    from tests import factories

    with db() as session:
        conv_id = factories.conversation(session, 1).id
    response = admin_client.post(f"/inbox/{conv_id}/status", {"status": "closed"}, htmx=True)
    assert response.status_code == 200
    assert 'data-status="closed"' in response.get_data(as_text=True)


def test_expired_session_on_htmx_request_gets_401_with_hx_redirect(client):
    response = client.htmx_get("/integrations/salesforce/card?email=a@b.test")
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"
    assert "<form" not in response.get_data(as_text=True)


def test_expired_session_on_page_redirects_to_login_and_back(client, make_user):
    response = client.get("/inbox?status=closed")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]
    make_user("ann@acme.test")
    client.get(response.headers["Location"])
    signed_in = client.http.post(
        response.headers["Location"],
        data={"email": "ann@acme.test", "password": "correct-horse-battery"},
        headers={"X-CSRFToken": client.token},
    )
    assert signed_in.headers["Location"] == "/inbox?status=closed"


def test_login_next_parameter_cannot_redirect_off_site(client, make_user):
    make_user("ann@acme.test")
    client.get("/login")
    for target in ("https://evil.test/", "//evil.test/x", "javascript:alert(1)"):
        response = client.http.post(
            "/login",
            query_string={"next": target},
            data={"email": "ann@acme.test", "password": "correct-horse-battery"},
            headers={"X-CSRFToken": client.token},
        )
        assert response.headers["Location"] == "/inbox"
        client.post("/logout")


def test_logout_needs_post_and_ends_the_session(member_client):
    assert member_client.get("/logout").status_code == 405
    assert member_client.post("/logout").status_code == 302
    assert member_client.get("/inbox").status_code == 302


def test_member_gets_403_on_settings_and_admin_gets_the_page(member_client, make_user, app):
    for url in ("/settings/integrations", "/settings/integrations/salesforce", "/settings/workspace"):
        assert member_client.get(url).status_code == 403
    body = member_client.get("/inbox").get_data(as_text=True)
    assert "/settings/integrations" not in body  # no link to what they may not open

    make_user("boss@acme.test", role="admin")
    admin = type(member_client)(app)
    admin.login("boss@acme.test", "correct-horse-battery")
    page = admin.get("/settings/integrations")
    assert page.status_code == 200
    assert 'id="tile-salesforce"' in page.get_data(as_text=True)


def test_passwords_are_stored_hashed(make_user, db):
    from sqlmodel import select

    from webapp.models import User

    make_user("ann@acme.test", password="correct-horse-battery")
    with db() as session:
        user = session.exec(select(User)).one()
    assert "correct-horse-battery" not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))
