"""Threading, de-duplication, direction, contacts and the all-or-nothing rule, on real files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from tests import factories
from tests.mailimport.mail import eml, mbox, thread, zipped
from webapp.mailimport import importer
from webapp.mailimport.importer import import_messages
from webapp.mailimport.parse import NO_DATE, NO_SENDER, NOTE_SYNTHESIZED_ID
from webapp.mailimport.sources import SourceError, iter_path
from webapp.mailimport.summary import DUPLICATE_IN_SOURCE, DUPLICATE_STORED, ImportSummary
from webapp.models import Contact, Conversation, Message, Workspace, WorkspaceAddress


@pytest.fixture
def workspace(db):
    """A workspace that owns acme.test and one address at a shared mail host."""

    def make(name="Acme", values=("acme.test", "sales@partner-mail.test")) -> int:
        with db() as s:
            ws = Workspace(name=name)
            s.add(ws)
            s.flush()
            s.add_all(WorkspaceAddress(workspace_id=ws.id, value=v) for v in values)
            return ws.id

    return make


@pytest.fixture
def run(db, tmp_path):
    """run(workspace_id, data, name) writes the file and imports it in one transaction."""

    def go(workspace_id: int, data: bytes | None = None, name: str = "mail.mbox", path: Path | None = None) -> ImportSummary:
        if path is None:
            path = tmp_path / name
            path.write_bytes(data)
        with db() as s:
            return import_messages(s, workspace_id, iter_path(path), source=path.name)

    return go


def messages(db, workspace_id):
    with db() as s:
        return s.exec(
            select(Message).where(Message.workspace_id == workspace_id).order_by(Message.sent_at)
        ).all()


def conversations(db, workspace_id):
    with db() as s:
        return s.exec(select(Conversation).where(Conversation.workspace_id == workspace_id)).all()


@pytest.mark.parametrize("batch", [1000, 1])
def test_a_thread_becomes_one_conversation_with_its_contact(workspace, run, db, monkeypatch, batch):
    monkeypatch.setattr(importer, "BATCH", batch)  # batch=1 exercises every cross-batch path
    ws = workspace()
    summary = run(ws, mbox(*reversed(thread())))  # newest first: replies arrive before parents

    assert (summary.seen, summary.imported, summary.inbound, summary.outbound) == (4, 4, 2, 2)
    assert (summary.conversations_created, summary.contacts_created, summary.skipped_total) == (1, 1, 0)
    [conv] = conversations(db, ws)
    rows = messages(db, ws)
    assert [m.direction for m in rows] == ["in", "out", "in", "out"]
    assert {m.conversation_id for m in rows} == {conv.id}
    assert (conv.subject, conv.status) == ("Pricing question", "pending")
    assert conv.last_activity_at == datetime(2026, 9, 2, 9, 15, tzinfo=UTC)
    assert conv.created_at == datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    with db() as s:
        [bob] = s.exec(select(Contact)).all()
    assert (bob.email, bob.name, conv.contact_id) == ("bob@customer.test", "Bob Buyer", bob.id)
    last = rows[-1]
    assert (last.from_address, last.from_name, last.to_addresses, last.cc_addresses) == (
        "ann@acme.test", "Ann Agent", "bob@customer.test", "carla@customer.test")
    assert (last.in_reply_to, last.snippet) == ("<q2@customer.test>", "Yes, two months free.")
    assert rows[1].snippet == "It is 40 EUR a month."  # the quote is left out
    assert rows[2].sent_at == datetime(2026, 9, 2, 6, 0, tzinfo=UTC)  # +0200 stored as UTC


def test_duplicates_within_a_file_and_across_imports_are_skipped(workspace, run, db):
    ws = workspace()
    msgs = thread()
    first = run(ws, mbox(*msgs, msgs[0]))
    assert (first.imported, first.skipped) == (4, {DUPLICATE_IN_SOURCE: 1})
    again = run(ws, mbox(*msgs, msgs[0]), name="again.mbox")
    assert (again.imported, again.skipped) == (0, {DUPLICATE_STORED: 5})
    assert again.examples[DUPLICATE_STORED][0] == "again.mbox, message 1: <q1@customer.test>"
    assert len(messages(db, ws)) == 4 and len(conversations(db, ws)) == 1


def test_references_reach_back_into_an_earlier_import(workspace, run, db):
    ws = workspace()
    msgs = thread()
    run(ws, mbox(*msgs[:2]), name="one.mbox")
    [conv] = conversations(db, ws)
    assert conv.status == "pending"

    reply = run(ws, mbox(msgs[2]), name="two.mbox")
    assert (reply.conversations_created, reply.conversations_extended, reply.contacts_created) == (0, 1, 0)
    [conv] = conversations(db, ws)
    assert conv.status == "open"  # the customer wrote last
    assert conv.last_activity_at == datetime(2026, 9, 2, 6, 0, tzinfo=UTC)

    run(ws, mbox(msgs[3]), name="three.mbox")
    [conv] = conversations(db, ws)
    assert conv.status == "pending" and len(messages(db, ws)) == 4


def test_a_parent_imported_after_its_replies_joins_them(workspace, run, db):
    ws = workspace()
    msgs = thread()
    run(ws, mbox(*msgs[1:]), name="sent-and-later.mbox")  # a1 replies to q1, not stored yet
    summary = run(ws, mbox(msgs[0]), name="inbox.mbox")  # the first question, imported last
    assert (summary.conversations_created, summary.conversations_extended) == (0, 1)
    [conv] = conversations(db, ws)
    assert conv.status == "pending"
    assert conv.last_activity_at == datetime(2026, 9, 2, 9, 15, tzinfo=UTC)


def test_a_parent_finds_a_reply_stored_long_after_it_through_the_in_reply_to_index(workspace, run, db):
    ws = workspace()
    question = eml(frm="Bob <bob@customer.test>", message_id="<old-q@customer.test>",
                   date="Mon, 02 Mar 2026 09:00:00 +0000", subject="Contract")
    late_answer = eml(frm="support@acme.test", to="bob@customer.test", message_id="<late-a@acme.test>",
                      in_reply_to="<old-q@customer.test>", subject="Re: Contract",
                      date="Mon, 30 Nov 2026 09:00:00 +0000")  # nine months later
    run(ws, mbox(late_answer), name="sent.mbox")
    summary = run(ws, mbox(question), name="inbox.mbox")
    assert (summary.conversations_created, summary.conversations_extended) == (0, 1)
    assert len(conversations(db, ws)) == 1


def test_subject_threads_a_reply_without_headers_to_the_same_correspondent(workspace, run, db):
    ws = workspace()
    plain = dict(in_reply_to=None, references=None)
    run(ws, mbox(
        eml(message_id="<s1@customer.test>", subject="Invoice 42"),
        eml(frm="ann@acme.test", to="Bob <bob@customer.test>", subject="AW: Invoice  42",
            date="Thu, 03 Sep 2026 09:00:00 +0000", message_id="<s2@acme.test>", **plain),
        # the same subject from someone else is someone else's conversation
        eml(frm="dora@other.test", subject="Re: Invoice 42", date="Thu, 03 Sep 2026 10:00:00 +0000",
            message_id="<s3@other.test>", **plain),
        # too long after the thread went quiet
        eml(subject="Re: Invoice 42", date="Sun, 01 Nov 2026 10:00:00 +0000", message_id="<s4@customer.test>", **plain),
        # the same subject without Re: is a new question
        eml(subject="Invoice 42", date="Fri, 04 Sep 2026 10:00:00 +0000", message_id="<s5@customer.test>", **plain),
    ))
    by_id = {m.message_id: m.conversation_id for m in messages(db, ws)}
    assert by_id["<s1@customer.test>"] == by_id["<s2@acme.test>"]
    assert len({by_id[k] for k in ("<s1@customer.test>", "<s3@other.test>", "<s4@customer.test>", "<s5@customer.test>")}) == 4
    # A later import still finds a stored conversation by subject.
    run(ws, mbox(eml(subject="RE: Invoice 42", date="Mon, 07 Sep 2026 09:00:00 +0000", message_id="<s6@customer.test>")), name="b.mbox")
    by_id = {m.message_id: m.conversation_id for m in messages(db, ws)}
    assert by_id["<s6@customer.test>"] == by_id["<s5@customer.test>"]  # the most recent of the two


def test_direction_comes_from_the_workspace_addresses_and_domains(workspace, run, db):
    ws = workspace()
    run(ws, mbox(
        eml(frm="Sales <SALES@partner-mail.test>", to="eve@client.test", message_id="<d1@x>"),
        eml(frm="other@partner-mail.test", message_id="<d2@x>"),
        eml(frm="Ann@Acme.test", to="acme.team@acme.test, Fay <fay@client.test>", message_id="<d3@x>", subject="Hi Fay"),
        eml(frm="ann@sub.acme.test", message_id="<d4@x>"),
        eml(frm="ann@acme.test", to="bea@acme.test", message_id="<d5@x>", subject="Internal"),
    ))
    rows = {m.message_id: m for m in messages(db, ws)}
    assert {k: m.direction for k, m in rows.items()} == {
        "<d1@x>": "out", "<d2@x>": "in", "<d3@x>": "out", "<d4@x>": "in", "<d5@x>": "out"}
    with db() as s:
        contacts = dict(s.exec(select(Contact.email, Contact.name)).all())
        internal = s.get(Conversation, rows["<d5@x>"].conversation_id)
    # outbound mail belongs to its first outside recipient; mail among ourselves to nobody
    assert contacts == {"eve@client.test": "", "other@partner-mail.test": "", "fay@client.test": "Fay", "ann@sub.acme.test": ""}
    assert internal.contact_id is None


def test_existing_contacts_are_reused_and_a_missing_name_filled_in(workspace, run, db):
    ws = workspace()
    with db() as s:
        known = factories.contact(s, ws, email="Bob@Customer.test", name="")
        known_id = known.id
    summary = run(ws, mbox(thread()[0]))
    assert summary.contacts_created == 0
    with db() as s:
        [contact] = s.exec(select(Contact)).all()
        [conv] = s.exec(select(Conversation)).all()
    assert (contact.id, contact.name, conv.contact_id) == (known_id, "Bob Buyer", known_id)


def test_broken_messages_are_skipped_with_their_reason(workspace, run, db):
    ws = workspace()
    no_id = eml(message_id=None, subject="No id")
    summary = run(ws, mbox(
        eml(frm=None, subject="Who sent this?", message_id="<n1@x>"),
        no_id,
        no_id,
        eml(date="yesterday-ish", message_id="<n2@x>"),  # the mbox line's date is used
    ))
    assert summary.imported == 2
    assert summary.skipped == {NO_SENDER: 1, DUPLICATE_IN_SOURCE: 1}
    assert summary.examples[NO_SENDER] == ["mail.mbox, message 1: “Who sent this?”"]
    assert summary.notes[NOTE_SYNTHESIZED_ID] == 1
    again = run(ws, mbox(no_id), name="again.mbox")
    assert again.skipped == {DUPLICATE_STORED: 1}
    rows = messages(db, ws)
    assert len(rows) == 2
    assert {m.sent_at for m in rows if m.message_id == "<n2@x>"} == {datetime(2026, 9, 1, 9, 0, tzinfo=UTC)}


def test_a_folder_of_eml_files_and_its_problems(workspace, run, db, tmp_path):
    ws = workspace()
    folder = tmp_path / "export"
    (folder / "2026" / "09").mkdir(parents=True)
    for i, msg in enumerate(thread()):
        (folder / "2026" / "09" / f"{i}.eml").write_bytes(msg)
    (folder / "bad-date.EML").write_bytes(eml(date="garbage", message_id="<bd@x>"))
    (folder / "notes.txt").write_text("not mail")
    summary = run(ws, path=folder)
    assert (summary.seen, summary.imported, summary.skipped) == (5, 4, {NO_DATE: 1})
    assert summary.examples[NO_DATE] == ["bad-date.EML: “Pricing question”"]
    assert len(conversations(db, ws)) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="holds no .eml files"):
        run(ws, path=empty)


def test_a_truncated_mbox_keeps_the_whole_messages(workspace, run, db):
    ws = workspace()
    data = mbox(*thread()[:2]) + b"From MAILER-DAEMON Tue Sep  1 09:00:00 2026\nFrom: Bob <bob@cust"
    summary = run(ws, data)
    assert (summary.imported, summary.skipped) == (2, {NO_SENDER: 1})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not an mbox file"),
        (b"", "the file is empty"),
        (b"PK\x03\x04 not really a zip", "not a readable zip"),
        (zipped({"readme.txt": b"hello"}), "no .eml or .mbox files"),
    ],
)
def test_a_file_that_is_not_mail_fails_cleanly(workspace, run, db, data, message):
    ws = workspace()
    with pytest.raises(SourceError, match=message):
        run(ws, data, name="upload.mbox")
    assert messages(db, ws) == []


def test_a_damaged_archive_leaves_nothing_half_imported(workspace, run, db):
    ws = workspace()
    msgs = thread()
    data = bytearray(zipped({"a.eml": msgs[0], "b.eml": msgs[1], "c.eml": b"X" * 400 + msgs[2]}, stored=True))
    at = data.index(b"XXXXXXXX")
    data[at : at + 8] = b"YYYYYYYY"  # c.eml now fails its CRC after a.eml and b.eml were read
    with pytest.raises(SourceError, match="c.eml cannot be unpacked"):
        run(ws, bytes(data), name="mail.zip")
    assert messages(db, ws) == [] and conversations(db, ws) == []
    with db() as s:
        assert s.exec(select(Contact)).all() == []


def test_a_zip_may_hold_eml_files_and_mbox_files(workspace, run, db):
    ws = workspace()
    msgs = thread()
    data = zipped({"Takeout/Mail/All mail.mbox": mbox(*msgs[:2]), "more/c.eml": msgs[2], "__MACOSX/._c.eml": b"junk"})
    summary = run(ws, data, name="takeout.zip")
    assert (summary.seen, summary.imported, summary.conversations_created) == (3, 3, 1)


def test_the_same_message_in_two_workspaces_is_two_messages(workspace, run, db):
    acme, other = workspace("Acme"), workspace("Other", values=("other.test",))
    data = mbox(*thread())
    assert run(acme, data).imported == 4
    assert run(other, data, name="copy.mbox").imported == 4
    assert len(messages(db, acme)) == len(messages(db, other)) == 4
    assert [m.direction for m in messages(db, other)] == ["in", "in", "in", "in"]  # acme.test is not theirs
    with db() as s:
        workspaces = sorted(s.exec(select(Contact.workspace_id)).all())
    assert workspaces == sorted([acme, other, other])  # bob in both; ann is a stranger to Other


def _many_threads(customers: int) -> list[bytes]:
    """Each customer asks, we answer, they reply: interleaved in time, shuffled in the file."""
    import random

    out = []
    for c in range(customers):
        day = 1 + c % 20
        who, ask = f"Cust {c} <cust{c}@customer{c}.test>", f"<q{c}@customer{c}.test>"
        out += [
            eml(frm=who, subject=f"Question {c}", date=f"Tue, {day:02d} Sep 2026 09:00:00 +0000", message_id=ask),
            eml(frm="Ann Agent <ann@acme.test>", to=who, subject=f"Re: Question {c}",
                date=f"Tue, {day:02d} Sep 2026 10:00:00 +0000", message_id=f"<a{c}@acme.test>", in_reply_to=ask,
                references=ask),
            eml(frm=who, subject=f"Re: Question {c}", date=f"Tue, {day:02d} Sep 2026 11:00:00 +0000",
                message_id=f"<r{c}@customer{c}.test>", in_reply_to=f"<a{c}@acme.test>"),
        ]
    random.Random(5).shuffle(out)
    return out + out[:7]  # and some repeated at the end of the file


def _grouping(db, workspace_id):
    by_conversation: dict[int, set[str]] = {}
    for m in messages(db, workspace_id):
        by_conversation.setdefault(m.conversation_id, set()).add(m.message_id)
    return sorted(sorted(ids) for ids in by_conversation.values())


def test_memory_is_bounded_by_forgetting_earlier_batches_and_the_result_is_the_same(workspace, run, db, monkeypatch):
    data = mbox(*_many_threads(40))
    monkeypatch.setattr(importer, "BATCH", 7)  # replies and parents in different batches
    whole = workspace("Whole")
    remembered = run(whole, data)
    monkeypatch.setattr(importer, "REMEMBERED", 0)  # forget after every batch: the database answers
    forgetful = workspace("Forgetful")
    forgot = run(forgetful, data, name="again.mbox")
    assert _grouping(db, forgetful) == _grouping(db, whole)
    assert len(_grouping(db, whole)) >= 40
    assert (forgot.imported, forgot.skipped_total) == (remembered.imported, remembered.skipped_total) == (120, 7)
    with db() as s:
        emails = lambda ws: sorted(c.email_normalized for c in s.exec(select(Contact).where(Contact.workspace_id == ws)))
        assert emails(forgetful) == emails(whole) and len(emails(whole)) == 40
