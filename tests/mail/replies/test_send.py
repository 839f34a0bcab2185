"""Replying from a conversation, against a real SMTP server (aiosmtpd) that delivers into a
real Dovecot: the reply arrives with the right headers, is filed in the Sent folder, shows in
the conversation once (also after the Sent folder is fetched), and moves it to pending."""

from __future__ import annotations

import email
from email import policy

from sqlalchemy import func, select

from tests.mail.conftest import MAILBOX_USER
from tests.mail.replies.conftest import COLLEAGUE, CUSTOMER, token_of
from webapp.models import Conversation, FactRefresh, Mailbox, Message, Reply


def _inbox_of(dovecot, user, folder="INBOX"):
    """Every message in a Dovecot folder as (flags, parsed message)."""
    with dovecot.imap(user) as imap:
        imap.select(f'"{folder}"', readonly=True)
        uids = imap.uid("SEARCH", None, "ALL")[1][0].split()
        found = []
        for uid in uids:
            data = imap.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")[1]
            flags = data[0][0].decode()
            found.append((flags, email.message_from_bytes(data[0][1], policy=policy.default)))
        return found


def _messages(db):
    with db() as session:
        return session.execute(select(Message).order_by(Message.sent_at, Message.id)).scalars().all()


def _reply(db) -> Reply:
    with db() as session:
        return session.execute(select(Reply)).scalar_one()


def test_the_box_is_prefilled_from_the_thread(agent, conversation_id, mailbox_id):
    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert 'id="reply"' in page
    assert f'name="to" type="text" value="{CUSTOMER}"' in page
    # Cc: the rest of the thread, without the mailbox's own address.
    assert f'name="cc" type="text" value="{COLLEAGUE}"' in page
    assert f'<option value="{mailbox_id}" selected>Acme Support &lt;{MAILBOX_USER}&gt;</option>' in page
    assert "Subject: Re: Pricing" in page  # "Re: Re: Pricing" never
    assert "Sending moves the conversation to <strong>Pending</strong>" in page


def test_a_reply_arrives_with_its_headers_is_filed_in_sent_and_shows_once(
        agent, db, dovecot, smtp_server, conversation_id, mailbox_id, fetch):
    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    response = agent.post(f"/inbox/{conversation_id}/reply", {
        "token": token_of(page), "mailbox_id": mailbox_id, "to": CUSTOMER, "cc": COLLEAGUE,
        "body": "Hello Casey,\n\nThe Pro plan is 49 € a month.\n\nAda",
    }, htmx=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    # At once in the conversation (out of band), with the status now pending.
    assert 'hx-swap-oob="beforeend:#messages"' in html and "The Pro plan is 49 € a month." in html
    assert 'data-status="pending"' in html and 'data-state="sent"' in html

    [accepted] = smtp_server.received
    assert accepted.login == MAILBOX_USER and accepted.mail_from == MAILBOX_USER
    assert sorted(accepted.rcpt_tos) == sorted([CUSTOMER, COLLEAGUE])
    [(flags, arrived)] = _inbox_of(dovecot, CUSTOMER)
    assert "\\Seen" not in flags
    [_, stored] = _messages(db)
    assert stored.direction == "out" and stored.conversation_id == conversation_id
    assert arrived["Message-ID"] == stored.message_id and stored.message_id.endswith("@acme.test>")
    assert arrived["In-Reply-To"] == "<q1@client.test>"
    assert arrived["References"] == "<q1@client.test>"
    assert arrived["Subject"] == "Re: Pricing"
    assert str(arrived["From"]) == f"Acme Support <{MAILBOX_USER}>"
    assert arrived["To"] == CUSTOMER and arrived["Cc"] == COLLEAGUE
    assert arrived.get_content_type() == "text/plain"
    assert arrived.get_content().strip().endswith("Ada") and "49 €" in arrived.get_content()
    assert len(_inbox_of(dovecot, COLLEAGUE)) == 1

    # Filed in the mailbox's Sent folder, already read.
    [(sent_flags, filed)] = _inbox_of(dovecot, MAILBOX_USER, "Sent")
    assert "\\Seen" in sent_flags and filed["Message-ID"] == stored.message_id
    reply = _reply(db)
    assert (reply.state, reply.filed, reply.message_row_id) == ("sent", "filed", stored.id)
    with db() as session:
        assert session.get(Conversation, conversation_id).status == "pending"
        # Analytics hear of it through a refresh request, not a recompute in the request.
        assert session.execute(select(func.count()).select_from(FactRefresh)).scalar() == 1

    # The Sent folder's copy, fetched, is the same message: not stored twice.
    result = fetch(mailbox_id)
    assert result.status == "done" and result.stored == 0
    assert len(_messages(db)) == 2
    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert page.count("The Pro plan is 49 € a month.") == 1
    assert 'data-state="draft"' in page and token_of(page) != reply.token  # a fresh, empty box


def test_a_reply_to_our_own_last_message_refers_to_the_whole_thread(
        agent, db, dovecot, smtp_server, conversation_id, mailbox_id):
    for text in ("First answer", "Second answer"):
        page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
        assert agent.post(f"/inbox/{conversation_id}/reply", {
            "token": token_of(page), "mailbox_id": mailbox_id, "to": CUSTOMER, "cc": "", "body": text}).status_code == 302
    first, second = (email.message_from_bytes(a.data, policy=policy.default) for a in smtp_server.received)
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"].split() == ["<q1@client.test>", first["Message-ID"]]
    assert second["Subject"] == "Re: Pricing"


def test_implicit_tls_and_a_pinned_self_signed_certificate(app, agent, db, dovecot, smtp_server, conversation_id,
                                                           mailbox_id):
    with db() as session:
        mailbox = session.get(Mailbox, mailbox_id)
        mailbox.smtp_port, mailbox.smtp_security = smtp_server.tls_port, "tls"
        mailbox.smtp_pinned_sha256, mailbox.imap_pinned_sha256 = smtp_server.fingerprint, dovecot.fingerprint
    app.config["MAIL_CA_FILE"] = None  # no CA vouches for either server now: only the pins do
    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    response = agent.post(f"/inbox/{conversation_id}/reply", {
        "token": token_of(page), "mailbox_id": mailbox_id, "to": CUSTOMER, "body": "Over implicit TLS."}, htmx=True)
    assert 'data-state="sent"' in response.get_data(as_text=True)
    assert len(smtp_server.received) == 1
    assert _reply(db).filed == "filed"


def test_an_unverifiable_certificate_sends_nothing(app, agent, db, smtp_server, conversation_id, mailbox_id):
    app.config["MAIL_CA_FILE"] = None
    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    html = agent.post(f"/inbox/{conversation_id}/reply", {
        "token": token_of(page), "mailbox_id": mailbox_id, "to": CUSTOMER, "body": "Hello"}, htmx=True).get_data(as_text=True)
    assert 'data-state="failed"' in html and "could not be verified" in html
    assert smtp_server.received == [] and _reply(db).error_kind == "certificate"


def test_a_server_that_files_sent_mail_itself_gets_no_imap_copy(agent, db, dovecot, smtp_server, conversation_id,
                                                               mailbox_id):
    with db() as session:
        session.get(Mailbox, mailbox_id).smtp_files_sent = True
    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    agent.post(f"/inbox/{conversation_id}/reply", {
        "token": token_of(page), "mailbox_id": mailbox_id, "to": CUSTOMER, "body": "Gmail files this one."})
    assert len(smtp_server.received) == 1
    assert _inbox_of(dovecot, MAILBOX_USER, "Sent") == []
    assert _reply(db).filed == "server"


def test_a_copy_that_cannot_be_filed_leaves_the_reply_sent_and_says_so(agent, db, smtp_server, conversation_id,
                                                                      mailbox_id):
    with db() as session:
        session.get(Mailbox, mailbox_id).sent_folder = "Nowhere"
    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    html = agent.post(f"/inbox/{conversation_id}/reply", {
        "token": token_of(page), "mailbox_id": mailbox_id, "to": CUSTOMER, "body": "Filed?"}, htmx=True).get_data(as_text=True)
    assert 'data-state="sent"' in html and "could not be filed in the Sent folder" in html
    reply = _reply(db)
    assert (reply.state, reply.filed) == ("sent", "failed") and "Nowhere" in reply.filed_error
    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert "Sent, but not filed in the Sent folder" in page


def test_the_mailbox_to_send_from_defaults_to_the_one_the_conversation_came_through(
        agent, workspace_id, make_mailbox, smtp_server, conversation_id, mailbox_id):
    # Listed first (by address), but the question did not come through it.
    other = make_mailbox(workspace_id, address="help@acme.test", imap_username="help@acme.test",
                         smtp_host=smtp_server.host, smtp_port=smtp_server.port)
    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert f'<option value="{mailbox_id}" selected>' in page
    assert f'<option value="{other}">' in page


def test_the_customers_answer_to_a_reply_joins_the_conversation_and_opens_it(
        agent, db, dovecot, smtp_server, conversation_id, mailbox_id, fetch):
    from datetime import UTC, datetime, timedelta

    from tests.mail.messages import raw

    page = agent.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    agent.post(f"/inbox/{conversation_id}/reply", {
        "token": token_of(page), "mailbox_id": mailbox_id, "to": CUSTOMER, "body": "It is 49 €."})
    sent_id = _reply(db).message_id
    with db() as session:
        assert session.get(Conversation, conversation_id).status == "pending"
    dovecot.append(MAILBOX_USER, raw(2, subject="Re: Pricing", in_reply_to=sent_id, message_id="<q2@client.test>",
                                     body="Great, we take it.", when=datetime.now(UTC) + timedelta(minutes=1)))
    assert fetch(mailbox_id).stored == 1
    answer = _messages(db)[-1]
    assert (answer.message_id, answer.conversation_id) == ("<q2@client.test>", conversation_id)
    with db() as session:
        assert session.get(Conversation, conversation_id).status == "open"
