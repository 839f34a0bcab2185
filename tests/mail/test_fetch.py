"""Fetching a mailbox from a real Dovecot: incremental by UIDVALIDITY and UID, the sent folder
as outgoing mail, the backfill window, batches committed one by one, and the faults."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.mail.conftest import MAILBOX_USER
from tests.mail.messages import NOW, raw
from webapp.models import Contact, Conversation, Mailbox, MailboxFolder, Message
from webapp.models.analytics import MessageFact


def _messages(db):
    with db() as session:
        return session.execute(select(Message).order_by(Message.sent_at)).scalars().all()


def _folder(db, mailbox_id, role="inbox") -> MailboxFolder:
    with db() as session:
        return session.execute(
            select(MailboxFolder).where(MailboxFolder.mailbox_id == mailbox_id, MailboxFolder.role == role)
        ).scalar_one()


def _count(db, model=Message) -> int:
    with db() as session:
        return session.execute(select(func.count()).select_from(model)).scalar()


def test_first_fetch_stores_inbox_and_sent_threads_them_and_leaves_mail_unread(
        db, dovecot, workspace_id, make_mailbox, fetch):
    dovecot.append(MAILBOX_USER, raw(1, subject="Pricing"))
    dovecot.append(MAILBOX_USER, raw(2, sender="support@acme.test", to="customer@client.test", subject="Re: Pricing",
                                     in_reply_to="<m1@client.test>", name="Acme Support"), "Sent")
    dovecot.append(MAILBOX_USER, raw(3, subject="Re: Pricing", in_reply_to="<m2@client.test>"))
    mailbox_id = make_mailbox(workspace_id)

    result = fetch(mailbox_id)

    assert result.status == "done", result.error
    assert result.stored == 3
    messages = _messages(db)
    assert [(m.message_id, m.direction) for m in messages] == [
        ("<m1@client.test>", "in"), ("<m2@client.test>", "out"), ("<m3@client.test>", "in")]
    assert len({m.conversation_id for m in messages}) == 1
    with db() as session:
        contact = session.execute(select(Contact)).scalar_one()
        assert contact.email == "customer@client.test"
        conversation = session.execute(select(Conversation)).scalar_one()
        assert conversation.status == "open"  # the customer wrote last
        mailbox = session.get(Mailbox, mailbox_id)
        assert mailbox.last_error is None and mailbox.last_success_at is not None
        assert mailbox.fetch_lease_until is None
    inbox, sent = _folder(db, mailbox_id), _folder(db, mailbox_id, "sent")
    assert (inbox.state, inbox.last_uid, inbox.stored) == ("current", 2, 2)
    assert (sent.state, sent.last_uid, sent.stored) == ("current", 1, 1)
    assert inbox.uidvalidity == dovecot.uidvalidity(MAILBOX_USER)
    # Read with BODY.PEEK: the messages are still unread for the people using the mailbox.
    with dovecot.imap(MAILBOX_USER) as imap:
        imap.select("INBOX", readonly=True)
        assert imap.uid("SEARCH", None, "UNSEEN")[1] == [b"1 2"]
    # Analytics follow the new mail as they follow an import.
    assert _count(db, MessageFact) == 3


def test_sent_folder_mail_is_outgoing_even_from_an_address_not_listed_as_ours(
        db, dovecot, workspace_id, make_mailbox, fetch):
    # Sent "as" an alias the workspace never listed: the folder, not the From, decides.
    dovecot.append(MAILBOX_USER, raw(1, sender="alias@elsewhere.test", to="customer@client.test"), "Sent")
    mailbox_id = make_mailbox(workspace_id)
    assert fetch(mailbox_id).stored == 1
    [message] = _messages(db)
    assert message.direction == "out"
    with db() as session:
        assert session.execute(select(Contact.email)).scalar_one() == "customer@client.test"


def test_the_mailbox_address_counts_as_ours(db, dovecot, workspace_id, make_mailbox, fetch):
    from webapp.models import WorkspaceAddress

    with db() as session:  # the admin listed only another domain: the mailbox is ours all the same
        session.add(WorkspaceAddress(workspace_id=workspace_id, value="elsewhere.test"))
    # A copy of our own reply that landed in the inbox (Bcc to self) is outgoing.
    dovecot.append(MAILBOX_USER, raw(1, sender=MAILBOX_USER, to="customer@client.test"))
    mailbox_id = make_mailbox(workspace_id)
    fetch(mailbox_id)
    [message] = _messages(db)
    assert message.direction == "out"


def test_next_fetch_reads_only_new_mail_and_nothing_twice(db, dovecot, workspace_id, make_mailbox, fetch):
    dovecot.append(MAILBOX_USER, raw(1))
    mailbox_id = make_mailbox(workspace_id)
    assert fetch(mailbox_id).stored == 1
    assert fetch(mailbox_id).summary.seen == 0  # nothing new: nothing read
    dovecot.append(MAILBOX_USER, raw(2))
    dovecot.deliver(MAILBOX_USER, raw(3))
    result = fetch(mailbox_id)
    assert (result.summary.seen, result.stored) == (2, 2)
    assert [m.message_id for m in _messages(db)] == ["<m1@client.test>", "<m2@client.test>", "<m3@client.test>"]
    assert _folder(db, mailbox_id).last_uid == 3


def test_first_fetch_backfills_only_the_window_with_progress(db, dovecot, workspace_id, make_mailbox, fetch):
    old = dovecot.deliver(MAILBOX_USER, raw(1, when=NOW - timedelta(days=40)))
    long_ago = time.time() - 40 * 86400
    os.utime(old, (long_ago, long_ago))  # a Maildir message's arrival date is its file's mtime
    for n in range(2, 7):
        dovecot.deliver(MAILBOX_USER, raw(n))
    mailbox_id = make_mailbox(workspace_id, backfill_days=30, sent_folder="")
    seen = []
    result = fetch(mailbox_id, batch_messages=2,
                   after_batch=lambda state: seen.append((state.state, state.done, state.to_read, state.last_uid)))
    assert result.stored == 5
    assert "<m1@client.test>" not in {m.message_id for m in _messages(db)}
    # Committed batch by batch, each with its progress: 2, 4, then 5 of 5.
    assert seen == [("backfill", 2, 5, 3), ("backfill", 4, 5, 5), ("backfill", 5, 5, 6)]
    folder = _folder(db, mailbox_id)
    assert (folder.state, folder.done, folder.to_read) == ("current", 5, 5)


def test_no_backfill_reads_only_mail_arriving_afterwards(db, dovecot, workspace_id, make_mailbox, fetch):
    dovecot.append(MAILBOX_USER, raw(1))
    mailbox_id = make_mailbox(workspace_id, backfill_days=0)
    assert fetch(mailbox_id).stored == 0
    dovecot.append(MAILBOX_USER, raw(2))
    assert fetch(mailbox_id).stored == 1
    assert [m.message_id for m in _messages(db)] == ["<m2@client.test>"]


def test_changed_uidvalidity_reads_the_folder_again_without_duplicates(db, dovecot, workspace_id, make_mailbox, fetch):
    dovecot.append(MAILBOX_USER, raw(1), "Sent")
    dovecot.append(MAILBOX_USER, raw(2), "Sent")
    mailbox_id = make_mailbox(workspace_id)
    assert fetch(mailbox_id).stored == 2
    before = _folder(db, mailbox_id, "sent").uidvalidity
    # The server renumbers the folder (restored from a backup): the same two and a new one.
    dovecot.recreate_folder(MAILBOX_USER, "Sent", [raw(2), raw(1), raw(3)])

    result = fetch(mailbox_id)

    assert result.status == "done"
    assert result.stored == 1
    assert result.summary.seen == 3
    assert sorted(m.message_id for m in _messages(db)) == ["<m1@client.test>", "<m2@client.test>", "<m3@client.test>"]
    sent = _folder(db, mailbox_id, "sent")
    assert sent.uidvalidity != before and sent.last_uid == 3 and sent.skipped == 0


def test_wrong_password_is_named_and_stores_nothing(db, dovecot, workspace_id, make_mailbox, fetch):
    dovecot.append(MAILBOX_USER, raw(1))
    mailbox_id = make_mailbox(workspace_id, imap_password="not-the-password")
    result = fetch(mailbox_id)
    assert (result.status, result.error.kind) == ("failed", "auth")
    assert "Authentication failed" in str(result.error)
    assert _count(db) == 0
    with db() as session:
        mailbox = session.get(Mailbox, mailbox_id)
        assert "Authentication failed" in mailbox.last_error
        assert mailbox.fetch_lease_until is None  # released: the next fetch may try again


def test_server_down_is_connection_refused_then_the_next_fetch_catches_up(
        db, dovecot, workspace_id, make_mailbox, fetch):
    dovecot.append(MAILBOX_USER, raw(1))
    mailbox_id = make_mailbox(workspace_id)
    dovecot.stop()
    result = fetch(mailbox_id)
    assert (result.status, result.error.kind) == ("failed", "refused")
    dovecot.start()
    assert fetch(mailbox_id).stored == 1
    with db() as session:
        assert session.get(Mailbox, mailbox_id).last_error is None


def test_connection_dropped_mid_fetch_resumes_with_nothing_lost_or_twice(
        db, dovecot, workspace_id, make_mailbox, fetch):
    for n in range(1, 8):
        dovecot.deliver(MAILBOX_USER, raw(n))
    mailbox_id = make_mailbox(workspace_id, sent_folder="")
    batches = []

    def kill_after_second_batch(state):
        batches.append(state.last_uid)
        if len(batches) == 2:
            dovecot.kill()  # the server dies with the connection open, before the third batch

    result = fetch(mailbox_id, batch_messages=2, after_batch=kill_after_second_batch)

    assert result.status == "failed" and result.error.kind in ("connection", "refused")
    assert _count(db) == 4  # two whole batches, committed
    folder = _folder(db, mailbox_id)
    assert (folder.state, folder.last_uid, folder.done, folder.to_read) == ("backfill", 4, 4, 7)
    dovecot.start()
    result = fetch(mailbox_id, batch_messages=2)
    assert result.status == "done" and result.stored == 3
    ids = [m.message_id for m in _messages(db)]
    assert ids == [f"<m{n}@client.test>" for n in range(1, 8)]
    folder = _folder(db, mailbox_id)
    assert (folder.state, folder.last_uid, folder.done, folder.to_read) == ("current", 7, 7, 7)


def test_a_50_mb_message_is_skipped_with_a_reason_and_the_rest_continue(db, dovecot, workspace_id, make_mailbox, fetch):
    dovecot.deliver(MAILBOX_USER, raw(1))
    big = raw(2, body="x" * 76 + "\r\n") [:-2] + b"\r\n" + (b"y" * 998 + b"\r\n") * (50 * 1024 * 1024 // 1000)
    dovecot.deliver(MAILBOX_USER, big)
    dovecot.deliver(MAILBOX_USER, raw(3))
    mailbox_id = make_mailbox(workspace_id, sent_folder="")

    result = fetch(mailbox_id)

    assert result.status == "done"
    assert [m.message_id for m in _messages(db)] == ["<m1@client.test>", "<m3@client.test>"]
    [(reason, count)] = result.summary.skipped.items()
    assert count == 1 and "larger than the 25 MB" in reason
    assert result.summary.examples[reason] == ["INBOX UID 2"]
    folder = _folder(db, mailbox_id)
    assert folder.skipped == 1 and "larger than the 25 MB" in folder.last_skip and folder.last_uid == 3


def test_malformed_messages_are_skipped_with_their_reasons_and_the_rest_continue(
        db, dovecot, workspace_id, make_mailbox, fetch):
    dovecot.deliver(MAILBOX_USER, raw(1))
    dovecot.deliver(MAILBOX_USER, b"Subject: nobody sent this\r\nMessage-ID: <x@y>\r\n\r\nno From header\r\n")
    dovecot.deliver(MAILBOX_USER, b"\x00\xff\xfe binary garbage \x00\r\n\r\n\x00")
    dovecot.deliver(MAILBOX_USER, b"From: =?utf-8?q?Bro=ken?= <weird@client.test>\r\nSubject: =?x-unknown?q?=FF?=\r\n"
                                  b"Content-Type: text/plain; charset=x-unknown\r\n\r\n\xff\xfe caf\xe9\r\n")
    dovecot.deliver(MAILBOX_USER, raw(5))
    mailbox_id = make_mailbox(workspace_id, sent_folder="")

    result = fetch(mailbox_id)

    assert result.status == "done"
    stored = {m.message_id for m in _messages(db)}
    assert {"<m1@client.test>", "<m5@client.test>"} <= stored
    assert result.summary.seen == 5
    assert result.summary.imported + result.summary.skipped_total == 5
    assert result.summary.skipped  # at least the message without a sender, with its reason
    assert any("no sender" in reason for reason in result.summary.skipped)
    assert _folder(db, mailbox_id).last_uid == 5


def test_one_fetch_at_a_time_per_mailbox(db, dovecot, workspace_id, make_mailbox, fetch):
    for n in range(1, 4):
        dovecot.deliver(MAILBOX_USER, raw(n))
    mailbox_id = make_mailbox(workspace_id, sent_folder="")
    inner = []
    result = fetch(mailbox_id, batch_messages=1, after_batch=lambda state: inner.append(fetch(mailbox_id).status))
    assert result.stored == 3
    assert inner == ["busy", "busy", "busy"]
    assert _count(db) == 3


def test_missing_folder_is_named(db, dovecot, workspace_id, make_mailbox, fetch):
    mailbox_id = make_mailbox(workspace_id, sent_folder="Sent Items")
    result = fetch(mailbox_id)
    assert (result.status, result.error.kind) == ("failed", "folder")
    assert "Sent Items" in str(result.error)


def test_a_message_already_imported_from_a_file_is_not_stored_again(
        db, app, dovecot, workspace_id, make_mailbox, fetch):
    from webapp.mailimport.importer import import_messages
    from webapp.mailimport.sources import RawMessage

    with db() as session:
        import_messages(session, workspace_id, [RawMessage("file", raw(1))])
    dovecot.append(MAILBOX_USER, raw(1))
    dovecot.append(MAILBOX_USER, raw(2))
    mailbox_id = make_mailbox(workspace_id)
    result = fetch(mailbox_id)
    assert result.stored == 1
    assert _count(db) == 2


@pytest.mark.parametrize("security", ["starttls"])
def test_starttls_mailbox_fetches(db, dovecot, workspace_id, make_mailbox, fetch, security):
    dovecot.append(MAILBOX_USER, raw(1))
    mailbox_id = make_mailbox(workspace_id, imap_security=security)
    with db() as session:
        session.get(Mailbox, mailbox_id).imap_port = dovecot.starttls_port
    assert fetch(mailbox_id).stored == 1


def test_search_is_asked_in_uid_ranges(db, dovecot, workspace_id, make_mailbox, fetch, monkeypatch):
    from webapp.mail import imap

    monkeypatch.setattr(imap, "SEARCH_RANGE", 2)  # 7 messages: four SEARCH commands, same result
    for n in range(1, 8):
        dovecot.deliver(MAILBOX_USER, raw(n))
    mailbox_id = make_mailbox(workspace_id, sent_folder="")
    assert fetch(mailbox_id).stored == 7
    dovecot.deliver(MAILBOX_USER, raw(8))
    assert fetch(mailbox_id).stored == 1
    assert _count(db) == 8


def test_a_mailbox_removed_during_its_fetch_keeps_what_was_stored(db, dovecot, workspace_id, make_mailbox, fetch):
    from webapp.mail import mailboxes

    for n in range(1, 5):
        dovecot.deliver(MAILBOX_USER, raw(n))
    mailbox_id = make_mailbox(workspace_id, sent_folder="")

    def remove(state):
        with db() as session:
            mailboxes.delete(session, workspace_id, mailbox_id)

    result = fetch(mailbox_id, batch_messages=2, after_batch=remove)
    assert result.status == "missing"
    assert _count(db) == 2  # the first batch, committed before the removal
    assert _count(db, Mailbox) == 0 and _count(db, MailboxFolder) == 0


def test_rotating_the_encryption_key_re_encrypts_mailbox_passwords(app_config, dovecot, make_user):
    from cryptography.fernet import Fernet

    from webapp import create_app
    from webapp.db import get_engine, session_scope
    from webapp.mail.mailboxes import MailboxInput, create

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = create_app({**app_config, "ENCRYPTION_KEYS": old})
    with session_scope(get_engine(before)) as session:
        from webapp.auth.services import get_or_create_workspace

        workspace, _ = get_or_create_workspace(session, "Acme")
        create(session, before.extensions["vault"], workspace.id, MailboxInput(
            address=MAILBOX_USER, imap_host=dovecot.host, imap_password="imap-pw", smtp_host=dovecot.host,
            smtp_same_as_imap=False, smtp_username="relay", smtp_password="smtp-pw"))
    get_engine(before).dispose()
    both = create_app({**app_config, "ENCRYPTION_KEYS": f"{new},{old}"})
    result = both.test_cli_runner().invoke(args=["rotate-encryption-key"])
    assert result.exit_code == 0, result.output
    get_engine(both).dispose()
    after = create_app({**app_config, "ENCRYPTION_KEYS": new})
    with session_scope(get_engine(after)) as session:
        mailbox = session.execute(select(Mailbox)).scalar_one()
        vault = after.extensions["vault"]
        assert (vault.decrypt(mailbox.imap_password_enc), vault.decrypt(mailbox.smtp_password_enc)) == ("imap-pw", "smtp-pw")
    for app in (before, both, after):
        app.extensions["salesforce_lookups"].shutdown(wait=True)
    get_engine(after).dispose()


def test_a_fetch_killed_mid_way_resumes_after_its_lease_with_nothing_lost_or_twice(
        app, app_config, db, dovecot, workspace_id, make_mailbox, fetch):
    import json
    import subprocess
    import sys
    from pathlib import Path

    for n in range(1, 10):
        dovecot.deliver(MAILBOX_USER, raw(n))
    mailbox_id = make_mailbox(workspace_id, sent_folder="")
    child = Path(__file__).with_name("child_fetch.py")
    root = Path(__file__).resolve().parents[2]
    config = {**app_config, "SECRET_KEY": app.config["SECRET_KEY"]}
    done = subprocess.run([sys.executable, str(child), json.dumps(config), str(mailbox_id), "2"], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    assert _count(db) == 4
    # Its lease is still held: no second fetch runs beside a live one.
    assert fetch(mailbox_id).status == "busy"
    with db() as session:  # ... until it runs out (as it does LEASE after the last batch)
        session.get(Mailbox, mailbox_id).fetch_lease_until = NOW - timedelta(seconds=1)
    result = fetch(mailbox_id, batch_messages=2)
    assert result.status == "done" and result.stored == 5
    assert [m.message_id for m in _messages(db)] == [f"<m{n}@client.test>" for n in range(1, 10)]


def test_a_connection_cut_in_the_middle_of_a_batch_download_loses_that_batch_only(
        db, dovecot, workspace_id, make_mailbox, fetch):
    from tests.mailservers import CuttingProxy

    body = ("All work and no play. " * 4000)  # about 90 KB per message
    for n in range(1, 8):
        dovecot.deliver(MAILBOX_USER, raw(n, body=body))
    # Batches of two messages (about 180 KB of bodies each); the network fails about 270 KB
    # into the server's answers: in the middle of the second batch's download.
    with CuttingProxy(dovecot.host, dovecot.port, cut_after=270_000) as proxy:
        mailbox_id = make_mailbox(workspace_id, sent_folder="", imap_port=proxy.port)
        result = fetch(mailbox_id, batch_messages=2)
        assert proxy.cuts == 1
        assert result.status == "failed" and result.error.kind == "connection", result.error
        assert result.stored == 2 and _count(db) == 2
        assert _folder(db, mailbox_id).last_uid == 2
        proxy.cut_after = None
        result = fetch(mailbox_id, batch_messages=2)
    assert result.status == "done" and result.stored == 5
    assert [m.message_id for m in _messages(db)] == [f"<m{n}@client.test>" for n in range(1, 8)]
