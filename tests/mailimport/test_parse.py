"""Raw bytes to ParsedMessage: encodings, broken headers and the reasons for skipping."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.mailimport.mail import eml
from webapp.mailimport.parse import (
    NO_DATE,
    NO_SENDER,
    NOT_AN_EMAIL,
    NOTE_CHARSET,
    NOTE_DATE_FALLBACK,
    NOTE_SYNTHESIZED_ID,
    ParsedMessage,
    Unparseable,
    normalize_subject,
    parse_message,
)


def parsed(raw: bytes, **kwargs) -> ParsedMessage:
    result = parse_message(raw, **kwargs)
    assert isinstance(result, ParsedMessage), result
    return result


def test_a_plain_message_is_read_field_by_field():
    msg = parsed(
        eml(
            to='support@acme.test, "Ann" <Ann@Acme.test>, not-an-address',
            cc="carla@customer.test",
            references="<x@y> <z@y>",
            in_reply_to="<z@y>",
        )
    )
    assert (msg.from_address, msg.from_name) == ("bob@customer.test", "Bob Buyer")
    assert msg.to == [("support@acme.test", ""), ("ann@acme.test", "Ann")]
    assert msg.cc == [("carla@customer.test", "")]
    assert msg.subject == "Pricing question"
    assert msg.sent_at == datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    assert (msg.message_id, msg.in_reply_to, msg.references) == ("<q1@customer.test>", "<z@y>", ["<x@y>", "<z@y>"])
    assert msg.body_text == "Hello, what does the premium plan cost?" == msg.snippet
    assert msg.notes == []


def test_rfc2047_subjects_and_names_are_decoded():
    msg = parsed(
        eml(
            frm="=?iso-8859-1?Q?J=F6rg_M=FCller?= <jorg@kunde.test>",
            subject="=?utf-8?B?QVc6IEFuZnJhZ2Ug4oCTIMOEbmRlcnVuZw==?=",
        )
    )
    assert msg.from_name == "Jörg Müller"
    assert msg.subject == "AW: Anfrage – Änderung"
    assert msg.is_reply and normalize_subject(msg.subject) == "anfrage – änderung"


def test_undeclared_8bit_headers_get_a_charset():
    raw = eml(subject="placeholder", frm="placeholder <p@kunde.test>")
    raw = raw.replace(b"Subject: placeholder", "Subject: Größe".encode("latin-1"))
    raw = raw.replace(b"From: placeholder", "From: Jörg".encode("utf-8"))
    msg = parsed(raw)
    assert msg.subject == "Größe"
    assert msg.from_name == "Jörg"


def test_latin1_and_unknown_charset_bodies_become_text():
    latin = parsed(eml(content_type="text/plain; charset=iso-8859-1", body="Grüße aus Köln".encode("latin-1")))
    assert latin.body_text == "Grüße aus Köln" and latin.notes == []
    unknown = parsed(eml(content_type="text/plain; charset=x-made-up", body="café crème".encode("latin-1")))
    assert unknown.body_text == "café crème"
    assert unknown.notes == [NOTE_CHARSET]
    lying = parsed(eml(content_type="text/plain; charset=utf-8", body="naïve".encode("cp1252")))
    assert lying.body_text == "naïve"


def test_html_only_mail_becomes_a_text_snippet():
    html = (
        "<html><head><style>p{color:red}</style><title>x</title></head><body>"
        "<p>Hello&nbsp;<b>Bob</b>,</p><p>Your order &amp; invoice.</p><script>alert(1)</script></body></html>"
    )
    msg = parsed(eml(content_type="text/html; charset=utf-8", body=html))
    assert msg.body_text == "Hello Bob,\n\nYour order & invoice."
    assert msg.snippet == "Hello Bob, Your order & invoice."


def test_multipart_alternative_prefers_plain_text_and_ignores_attachments():
    body = (
        "--b\nContent-Type: text/plain; charset=utf-8\n\nPlain words\n"
        "--b\nContent-Type: text/html; charset=utf-8\n\n<p>HTML words</p>\n"
        "--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename=log.txt\n\nlog\n--b--\n"
    )
    msg = parsed(eml(content_type='multipart/mixed; boundary="b"', body=body))
    assert msg.body_text == "Plain words"


def test_snippet_leaves_out_quoted_mail_and_stays_short():
    msg = parsed(eml(body="Short answer.\n\nOn Monday Bob wrote:\n> long quote\n> more"))
    assert msg.snippet == "Short answer. On Monday Bob wrote:"
    long = parsed(eml(body="word " * 200))
    assert len(long.snippet) <= 200 and long.snippet.endswith("…")


def test_missing_message_id_is_made_from_the_content_and_is_stable():
    raw = eml(message_id=None)
    first, again = parsed(raw), parsed(raw.replace(b"\n", b"\r\n"))
    assert first.message_id == again.message_id
    assert first.message_id.endswith("@import.invalid>") and first.notes == [NOTE_SYNTHESIZED_ID]
    assert parsed(eml(message_id=None, body="other")).message_id != first.message_id


def test_message_ids_without_brackets_or_with_junk_are_repaired():
    assert parsed(eml(message_id="abc123@host.test")).message_id == "<abc123@host.test>"
    assert parsed(eml(message_id="(comment) <id@host.test> trailing")).message_id == "<id@host.test>"
    assert parsed(eml(message_id="two words")).notes == [NOTE_SYNTHESIZED_ID]


def test_bad_dates_fall_back_to_received_then_to_the_mbox_line():
    received = "Received: from mx.test by mx.acme.test; Wed, 2 Sep 2026 11:00:00 +0200"
    msg = parsed(eml(date="not a date at all", extra=(received,)))
    assert msg.sent_at == datetime(2026, 9, 2, 9, 0, tzinfo=UTC) and msg.notes == [NOTE_DATE_FALLBACK]
    fallback = datetime(2026, 9, 3, 12, 0, tzinfo=UTC)
    assert parsed(eml(date=None), fallback_date=fallback).sent_at == fallback
    assert parsed(eml(date="Thu, 01 Jan 2099 00:00:00 +0000"), fallback_date=fallback).sent_at == fallback
    assert parsed(eml(date="Tue, 01 Sep 2026 09:00:00 -0000")).sent_at == datetime(2026, 9, 1, 9, tzinfo=UTC)
    assert parse_message(eml(date="32 Foo 20x6")) == Unparseable(NO_DATE, "Pricing question")


def test_what_cannot_be_imported_says_why():
    assert parse_message(eml(frm=None)) == Unparseable(NO_SENDER, "Pricing question")
    assert parse_message(eml(frm="Just A Name")).reason == NO_SENDER
    assert parse_message(eml(frm=None, extra=("Sender: list@lists.test",))).from_address == "list@lists.test"
    assert parse_message(b"").reason == NOT_AN_EMAIL
    assert parse_message(b"\x00\x01\xff garbage \xfe").reason == NOT_AN_EMAIL
    assert parse_message(b"From: \x00\n\n").reason == NO_SENDER


def test_nul_and_control_characters_never_reach_the_database():
    msg = parsed(eml(subject="Hi\x01 there", body=b"line\x00one\n"))
    assert msg.subject == "Hi there" and msg.body_text == "lineone"


def test_subject_normalisation_strips_reply_and_forward_prefixes():
    for subject in ("Re: Hello", "RE: re: Hello", "Fwd: Hello", "AW: WG:  hello", "SV: Hello", "Re[2]: Hello"):
        assert normalize_subject(subject) == "hello", subject
    assert normalize_subject("Reply needed") == "reply needed"


def test_plain_address_lists_read_without_the_email_package_give_what_it_gives():
    """The fast reading of plain lists agrees with the email package's, entry by entry, and
    leaves everything else (quotes, comments, groups, encoded words, 8-bit, odd dots) to it."""
    from email import policy

    from webapp.mailimport.parse import _simple_addresses

    plain = [
        "Ann Agent <ann@acme.test>", "Ann   Agent <ann@acme.test>", "J. Smith <j@x.com>", "bob@beta.io",
        "a@b.com, Bob <b@c.com>", "O'Brien <o@x.com>", "  Ann\tAgent   <a@b.com>  ", "<a@b.com>",
        "Ann Agent<a@b.com>", "ann.o'x+tag@b.com", "UPPER@B.COM", "a@b.com,", "a@b.com , c@d.com",
    ]
    for value in plain:
        expected = [(a.addr_spec, a.display_name) for a in policy.default.header_factory("to", value).addresses]
        assert _simple_addresses(value) == expected, value
    for value in ['"Agent, Ann" <ann@acme.test>', "ann@acme.test (Ann)", "undisclosed-recipients:;",
                  "=?utf-8?q?J=C3=B6rg?= <j@x.de>", "Jörg <j@x.de>", "a@b.com.", ".a@b.com", "a..b@c.com",
                  "a@b@c.com", "Ann <ann@acme.test", "ann@[127.0.0.1]"]:
        assert _simple_addresses(value) is None, value


def test_mbox_from_line_dates_by_hand_and_by_strptime_agree():
    from webapp.mailimport.sources import _from_line_date

    assert _from_line_date(b"From a@b Thu Jan  1 00:00:00 2026\n") == datetime(2026, 1, 1, tzinfo=UTC)
    assert _from_line_date(b"From a@b Tue Sep 01 09:05:07 2026\n") == datetime(2026, 9, 1, 9, 5, 7, tzinfo=UTC)
    assert _from_line_date(b"From a@b tue sep 1 09:05:07 2026\n") == datetime(2026, 9, 1, 9, 5, 7, tzinfo=UTC)  # strptime
    for bad in (b"From a@b Thu Feb 30 00:00:00 2026\n", b"From a@b Thu Jan 1 25:00:00 2026\n",
                b"From a@b Thu Jan 1 00:00 2026\n", b"From MAILER-DAEMON\n", b"From a@b Xyz Jan 1 00:00:00 2026\n"):
        assert _from_line_date(bad) is None, bad
