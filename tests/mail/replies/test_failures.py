"""What goes wrong sending a reply: the text is kept and the reason named; nothing is sent
twice, not on a double submit and not after a crash between the SMTP answer and our commit;
input is checked before anything is recorded; other workspaces are out of reach."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.mail.conftest import MAILBOX_USER
from tests.mail.replies.conftest import CUSTOMER, token_of
from tests.mailservers import free_port
from webapp.clock import utcnow
from webapp.db import get_engine
from webapp.inbox import replies
from webapp.mail.credentials import set_smtp_password
from webapp.mail.fetch import FetchOptions
from webapp.models import Conversation, Mailbox, Message, Reply, User

BODY = "Here is the price list you asked for.\n\nAda"


def _count(db, model) -> int:
    with db() as session:
        return session.execute(select(func.count()).select_from(model)).scalar()


def _post(agent, conversation_id, mailbox_id, *, token=None, htmx=True, **fields):
    if token is None:
        token = token_of(agent.get(f"/inbox/{conversation_id}").get_data(as_text=True))
    data = {"token": token, "mailbox_id": mailbox_id, "to": CUSTOMER, "cc": "", "body": BODY, **fields}
    return agent.post(f"/inbox/{conversation_id}/reply", data, htmx=htmx)


def _status(db, conversation_id) -> str:
    with db() as session:
        return session.get(Conversation, conversation_id).status


def _assert_failed_and_kept(db, response, conversation_id, kind, words):
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-state="failed"' in html and words in html
    assert BODY.split("\n")[0] in html  # the text is still in the box
    with db() as session:
        reply = session.execute(select(Reply)).scalar_one()
        assert (reply.state, reply.error_kind, reply.message_row_id) == ("failed", kind, None)
    assert _count(db, Message) == 1  # only the customer's question
    assert _status(db, conversation_id) == "open"


def test_wrong_password(agent, db, smtp_server, conversation_id, mailbox_id):
    with db() as session:
        mailbox = session.get(Mailbox, mailbox_id)
        mailbox.smtp_same_as_imap, mailbox.smtp_username = False, MAILBOX_USER
        set_smtp_password(mailbox, agent.app.extensions["vault"], "not-the-password")
    response = _post(agent, conversation_id, mailbox_id)
    _assert_failed_and_kept(db, response, conversation_id, "auth", "Authentication failed")
    assert smtp_server.received == []


def test_server_down(agent, db, smtp_server, conversation_id, mailbox_id):
    with db() as session:
        session.get(Mailbox, mailbox_id).smtp_port = free_port()  # nothing listens there
    response = _post(agent, conversation_id, mailbox_id)
    _assert_failed_and_kept(db, response, conversation_id, "refused", "Connection refused")


def test_server_stopped_after_the_page_was_opened(agent, db, smtp_server, conversation_id, mailbox_id):
    token = token_of(agent.get(f"/inbox/{conversation_id}").get_data(as_text=True))
    smtp_server.stop()
    response = _post(agent, conversation_id, mailbox_id, token=token)
    _assert_failed_and_kept(db, response, conversation_id, "refused", "Connection refused")


def test_every_recipient_refused(agent, db, smtp_server, conversation_id, mailbox_id):
    response = _post(agent, conversation_id, mailbox_id, to="nobody@client.test")
    _assert_failed_and_kept(db, response, conversation_id, "recipient", "refused every recipient: nobody@client.test (550")
    assert smtp_server.received == []


def test_one_recipient_refused_the_others_get_it(agent, db, dovecot, smtp_server, conversation_id, mailbox_id):
    html = _post(agent, conversation_id, mailbox_id, cc="nobody@client.test").get_data(as_text=True)
    assert 'data-state="sent"' in html and "Not delivered to nobody@client.test (550" in html
    [accepted] = smtp_server.received
    assert accepted.rcpt_tos == (CUSTOMER,)
    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert "Not delivered to nobody@client.test (550" in page


def test_a_failed_reply_is_still_in_the_box_after_a_reload_and_sends_with_a_new_token(
        agent, db, smtp_server, conversation_id, mailbox_id):
    smtp_server.refuse.add(CUSTOMER)
    first = _post(agent, conversation_id, mailbox_id)
    assert 'data-state="failed"' in first.get_data(as_text=True)
    with db() as session:
        failed_token = session.execute(select(Reply.token)).scalar_one()
    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert "Not sent: The SMTP server refused every recipient" in page and BODY.split("\n")[0] in page
    retry_token = token_of(page)
    assert retry_token != failed_token
    smtp_server.refuse.clear()
    html = _post(agent, conversation_id, mailbox_id, token=retry_token).get_data(as_text=True)
    assert 'data-state="sent"' in html
    assert len(smtp_server.received) == 1
    assert _status(db, conversation_id) == "pending"


def test_double_submit_sends_once(agent, db, smtp_server, conversation_id, mailbox_id):
    token = token_of(agent.get(f"/inbox/{conversation_id}").get_data(as_text=True))
    first = _post(agent, conversation_id, mailbox_id, token=token).get_data(as_text=True)
    second = _post(agent, conversation_id, mailbox_id, token=token).get_data(as_text=True)
    assert 'data-state="sent"' in first and 'hx-swap-oob="beforeend:#messages"' in first
    assert "was sent already; it was not sent again" in second
    assert 'hx-swap-oob="beforeend:#messages"' not in second  # nothing shown twice either
    assert len(smtp_server.received) == 1
    assert _count(db, Reply) == 1 and _count(db, Message) == 2


def test_two_submits_at_once_send_once(app, db, smtp_server, conversation_id, mailbox_id, workspace_id):
    """The second request arrives while the first is still waiting for the SMTP server."""
    engine, vault = get_engine(app), app.extensions["vault"]
    options = FetchOptions.from_config(app.config)
    with db() as session:
        user_id = session.execute(select(User.id)).scalar_one()
    data = replies.ReplyInput(token="a" * 32, mailbox_id=mailbox_id, to=CUSTOMER, body=BODY)
    outcomes = {}

    def submit(name):
        outcomes[name] = replies.send(engine, vault, options, workspace_id, user_id, conversation_id, data,
                                      timedelta(minutes=5))

    smtp_server.hold.set()
    first = threading.Thread(target=submit, args=("first",))
    first.start()
    assert smtp_server.in_data.wait(10)
    submit("second")  # the first is between DATA and the server's answer
    smtp_server.hold.clear()
    first.join(20)
    assert outcomes["second"].box.state == "sending" and outcomes["second"].message is None
    assert outcomes["first"].box.state == "sent" and outcomes["first"].message is not None
    assert len(smtp_server.received) == 1
    assert _count(db, Message) == 2


def test_a_crash_after_the_server_took_it_is_shown_as_unknown_and_never_resent(
        app, agent, db, dovecot, smtp_server, conversation_id, mailbox_id, monkeypatch, fetch):
    token = token_of(agent.get(f"/inbox/{conversation_id}").get_data(as_text=True))

    def died(*args, **kwargs):
        raise SystemExit("the process died before its commit")

    monkeypatch.setattr(replies, "_record_sent", died)
    with pytest.raises(SystemExit):
        _post(agent, conversation_id, mailbox_id, token=token)
    monkeypatch.undo()
    assert len(smtp_server.received) == 1
    with db() as session:
        reply = session.execute(select(Reply)).scalar_one()
        assert reply.state == "sending"
    # The same form again: not sent again.
    again = _post(agent, conversation_id, mailbox_id, token=token).get_data(as_text=True)
    assert "being sent already" in again
    assert len(smtp_server.received) == 1
    # Long after, the conversation says it may have gone out, with the text, and sends nothing.
    with db() as session:
        session.execute(update(Reply).values(created_at=utcnow() - timedelta(hours=2)))
    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert 'data-state="unknown"' in page and "it may have gone out" in page and BODY.split("\n")[0] in page
    assert "did not finish sending" in _post(agent, conversation_id, mailbox_id, token=token).get_data(as_text=True)
    assert len(smtp_server.received) == 1
    # Once the copy the server took turns up in the Sent folder, it is the conversation's message.
    dovecot.append(MAILBOX_USER, smtp_server.received[0].data, "Sent")
    assert fetch(mailbox_id).stored == 1
    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert 'data-state="draft"' in page and "it may have gone out" not in page
    assert page.count("Here is the price list you asked for.") == 1


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"to": ""}, "to", "at least one recipient"),
    ({"to": "not an address"}, "to", "is not an email address"),
    ({"cc": "someone@client.test\r\nBcc: spy@evil.test"}, "cc", "one line of addresses"),
    ({"body": "   \n  "}, "body", "Write a reply first"),
    ({"body": "x" * (replies.MAX_BODY + 1)}, "body", "at most 100,000 characters"),
    ({"mailbox_id": "nope"}, "mailbox_id", "Choose a mailbox"),
    ({"token": "forged"}, "token", "not valid; reload the page"),
])
def test_bad_input_is_refused_before_anything_is_recorded(agent, db, smtp_server, conversation_id, mailbox_id,
                                                          fields, field, words):
    fields = dict(fields)
    fields.setdefault("token", token_of(agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)))
    response = _post(agent, conversation_id, fields.pop("mailbox_id", mailbox_id), **fields)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#reply"
    html = response.get_data(as_text=True)
    assert words in html
    if field != "token":
        assert f'id="reply-{field}-error"' in html
        assert token_of(html) == fields["token"]  # nothing was recorded under it: it may go again
    else:
        assert token_of(html)  # a valid one again, so the next submit can go
    assert _count(db, Reply) == 0 and smtp_server.received == []


def test_bad_input_without_htmx_shows_the_page_again(agent, db, smtp_server, conversation_id, mailbox_id):
    response = _post(agent, conversation_id, mailbox_id, htmx=False, to="nobody")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "is not an email address" in html and 'id="messages"' in html and BODY.split("\n")[0] in html


def test_a_member_replies_too(client, make_user, db, smtp_server, conversation_id, mailbox_id):
    make_user("member@acme.test", role="member")
    client.login("member@acme.test", "correct-horse-battery")
    assert 'data-state="sent"' in _post(client, conversation_id, mailbox_id).get_data(as_text=True)
    assert len(smtp_server.received) == 1


def test_another_workspace_reaches_neither_the_conversation_nor_the_mailbox(
        client, app, make_user, make_mailbox, db, smtp_server, conversation_id, mailbox_id):
    from tests import factories

    _, other_ws = make_user("rival@other.test", role="admin", workspace="Other")
    client.login("rival@other.test", "correct-horse-battery")
    response = client.post(f"/inbox/{conversation_id}/reply", {"token": "b" * 32, "mailbox_id": mailbox_id,
                                                               "to": CUSTOMER, "body": BODY}, htmx=True)
    assert response.status_code == 404
    # Their own conversation, but our mailbox: refused, nothing sent.
    with db() as session:
        theirs = factories.conversation(session, other_ws).id
    make_mailbox(other_ws, address="desk@other.test", imap_username="desk@other.test",
                 smtp_host=smtp_server.host, smtp_port=smtp_server.port)
    response = client.post(f"/inbox/{theirs}/reply", {"token": "c" * 32, "mailbox_id": mailbox_id,
                                                      "to": CUSTOMER, "body": BODY}, htmx=True)
    assert response.status_code == 422 and "Choose a mailbox" in response.get_data(as_text=True)
    assert smtp_server.received == [] and _count(db, Reply) == 0


def test_signed_out_and_forged_requests_send_nothing(client, db, smtp_server, conversation_id, mailbox_id):
    response = client.post(f"/inbox/{conversation_id}/reply", {"token": "d" * 32, "mailbox_id": mailbox_id,
                                                               "to": CUSTOMER, "body": BODY})
    assert response.status_code in (302, 401)
    client.login("admin@acme.test", "correct-horse-battery")
    response = client.post(f"/inbox/{conversation_id}/reply", {"token": "d" * 32, "mailbox_id": mailbox_id,
                                                               "to": CUSTOMER, "body": BODY}, csrf=False)
    assert response.status_code == 400
    assert smtp_server.received == [] and _count(db, Reply) == 0


def test_without_a_mailbox_the_box_says_how_to_get_one(agent, db, workspace_id):
    from tests import factories

    with db() as session:
        conversation = factories.conversation(session, workspace_id).id
    page = agent.get(f"/inbox/{conversation}").get_data(as_text=True)
    assert replies.NO_MAILBOX in page and 'name="token"' not in page
