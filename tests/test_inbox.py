"""The conversation list and the conversation view with its details panel."""

from __future__ import annotations

from sqlmodel import select

from tests import factories
from webapp.models import Conversation


def _two_workspaces(db, make_user):
    _, mine = make_user("admin@acme.test", role="admin", workspace="Acme")
    _, theirs = make_user("admin@other.test", role="admin", workspace="Other")
    return mine, theirs


def test_list_shows_only_this_workspaces_conversations_newest_first(client, db, make_user):
    mine, theirs = _two_workspaces(db, make_user)
    with db() as s:
        factories.conversation(s, mine, subject="Older question")
        factories.conversation(s, mine, subject="Newer question")
        factories.conversation(s, theirs, subject="Secret of another workspace")
    client.login("admin@acme.test", "correct-horse-battery")
    body = client.get("/inbox").get_data(as_text=True)
    assert "Secret of another workspace" not in body
    assert body.index("Newer question") < body.index("Older question")


def test_search_matches_subject_name_and_email_case_insensitively(admin_client, db):
    with db() as s:
        alice = factories.contact(s, 1, name="Alice Zephyr", email="alice@zephyr.test")
        factories.conversation(s, 1, alice, subject="Billing problem")
        factories.conversation(s, 1, subject="Unrelated thing")
    for query in ("billing", "ZEPHYR", "alice@zeph"):
        body = admin_client.get(f"/inbox?q={query}").get_data(as_text=True)
        assert "Billing problem" in body, query
        assert "Unrelated thing" not in body, query


def test_search_treats_like_wildcards_literally(admin_client, db):
    with db() as s:
        factories.conversation(s, 1, subject="100% refund")
        factories.conversation(s, 1, subject="Plain subject")
    body = admin_client.get("/inbox?q=%25").get_data(as_text=True)
    assert "100% refund" in body
    assert "Plain subject" not in body


def test_status_filter_and_counts(admin_client, db):
    with db() as s:
        factories.conversation(s, 1, subject="Open one", status="open")
        factories.conversation(s, 1, subject="Closed one", status="closed")
        factories.conversation(s, 1, subject="Pending one", status="pending")
    closed = admin_client.get("/inbox?status=closed").get_data(as_text=True)
    assert "Closed one" in closed and "Open one" not in closed
    every = admin_client.get("/inbox?status=all").get_data(as_text=True)
    assert all(s in every for s in ("Open one", "Closed one", "Pending one"))
    assert 'All <span class="count">3</span>' in every
    default = admin_client.get("/inbox").get_data(as_text=True)
    assert "Open one" in default and "Closed one" not in default


def test_htmx_request_gets_the_list_partial_with_vary(admin_client, db):
    with db() as s:
        factories.conversation(s, 1, subject="Partial me")
    response = admin_client.htmx_get("/inbox?q=partial")
    body = response.get_data(as_text=True)
    assert "<html" not in body
    assert 'id="conversation-list"' in body and "Partial me" in body
    assert "HX-Request" in response.headers["Vary"]
    full = admin_client.get("/inbox")
    assert "<html" in full.get_data(as_text=True)
    assert "HX-Request" in full.headers["Vary"]


def test_paging_splits_long_lists(admin_client, db):
    with db() as s:
        for i in range(30):
            factories.conversation(s, 1, subject=f"Thread {i:02d}", messages=1)
    first = admin_client.get("/inbox").get_data(as_text=True)
    second = admin_client.get("/inbox?page=2").get_data(as_text=True)
    assert "1–25 of 30" in first and "Thread 29" in first and "Thread 00" not in first
    assert "Thread 00" in second and "Thread 29" not in second
    assert admin_client.get("/inbox?page=banana").status_code == 200


def test_conversation_view_shows_messages_panel_contact_card_and_lazy_card_slot(admin_client, db):
    with db() as s:
        c = factories.contact(
            s, 1, name="Bea Buyer", email="bea@buyer.test", title="CFO", company="Buyer Ltd"
        )
        conv = factories.conversation(s, 1, c, subject="Quote please", messages=3)
        factories.deal(s, 1, contact_id=c.id, stage="Negotiation/Review")
        conv_id = conv.id
    body = admin_client.get(f"/inbox/{conv_id}").get_data(as_text=True)
    assert "Quote please" in body
    assert body.count('class="message message-') == 3
    assert 'id="details-toggle"' in body and 'aria-controls="details"' in body
    assert 'id="contact-card"' in body and "Bea Buyer" in body and "CFO · Buyer Ltd" in body
    assert "<dt>Open deals</dt><dd>1</dd>" in body
    # The integration card is not rendered inline: it loads lazily after the page.
    assert 'hx-get="/integrations/salesforce/card?email=bea@buyer.test"' in body
    assert 'hx-trigger="load"' in body
    assert body.index('id="contact-card"') < body.index('id="card-salesforce"')


def test_another_workspaces_conversation_is_404(client, db, make_user):
    mine, theirs = _two_workspaces(db, make_user)
    with db() as s:
        foreign = factories.conversation(s, theirs, subject="Not yours").id
    client.login("admin@acme.test", "correct-horse-battery")
    assert client.get(f"/inbox/{foreign}").status_code == 404
    assert client.get("/inbox/999999").status_code == 404
    assert client.post(f"/inbox/{foreign}/status", {"status": "closed"}).status_code == 404
    with db() as s:
        assert s.get(Conversation, foreign).status == "open"


def test_status_change_and_bad_status(admin_client, db):
    with db() as s:
        conv_id = factories.conversation(s, 1).id
    response = admin_client.post(f"/inbox/{conv_id}/status", {"status": "closed"})
    assert response.status_code == 302
    assert admin_client.post(f"/inbox/{conv_id}/status", {"status": "deleted"}).status_code == 400
    with db() as s:
        assert s.exec(select(Conversation.status)).one() == "closed"


def test_subject_and_bodies_are_escaped(admin_client, db):
    with db() as s:
        c = factories.contact(s, 1, name="<script>alert(1)</script>")
        conv_id = factories.conversation(s, 1, c, subject="<img src=x onerror=alert(1)>").id
    for url in ("/inbox", f"/inbox/{conv_id}"):
        body = admin_client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in body
        assert "<img src=x" not in body
        assert "&lt;img src=x onerror=alert(1)&gt;" in body
