"""The reply as the stdlib email package writes it: subject, threading headers, plain text."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from webapp.mail.send import MAX_REFERENCES, Outgoing, compose, new_message_id, references, reply_subject


@pytest.mark.parametrize(("subject", "expected"), [
    ("Pricing", "Re: Pricing"),
    ("Re: Pricing", "Re: Pricing"),
    ("RE: re: Pricing", "Re: Pricing"),
    ("Re[2]: Pricing", "Re: Pricing"),
    ("AW: Angebot", "Re: Angebot"),
    ("Fwd: Pricing", "Re: Fwd: Pricing"),
    ("  ", "Re:"),
    ("Refund request", "Re: Refund request"),  # "Re" inside a word is no prefix
])
def test_reply_subject_is_never_re_re(subject, expected):
    assert reply_subject(subject) == expected


def test_a_long_thread_keeps_its_first_and_latest_references():
    chain = [f"<m{n}@client.test>" for n in range(50)]
    kept = references(chain)
    assert len(kept) == MAX_REFERENCES and kept[0] == chain[0] and kept[-1] == chain[-1]
    assert references(chain[:3]) == chain[:3]


def test_composed_with_crlf_utf8_and_every_header():
    outgoing = Outgoing(
        from_address="support@acme.test", from_name="Acme Support, EU", to=["customer@client.test"],
        cc=["colleague@client.test"], subject="Re: Prix en €", body="Bonjour,\n\nC'est 49 €.\n",
        message_id=new_message_id("support@acme.test"), date=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        in_reply_to="<q1@client.test>", references=["<q0@client.test>", "<q1@client.test>"],
    )
    data = compose(outgoing).as_bytes()
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    parsed = message_from_bytes(data, policy=policy.default)
    assert parsed["From"].addresses[0].display_name == "Acme Support, EU"
    assert parsed["Message-ID"] == outgoing.message_id and outgoing.message_id.endswith("@acme.test>")
    assert parsed["In-Reply-To"] == "<q1@client.test>"
    assert parsed["References"].split() == ["<q0@client.test>", "<q1@client.test>"]
    assert parsed["Subject"] == "Re: Prix en €"
    assert parsed["Date"].datetime == outgoing.date
    assert parsed.get_content_type() == "text/plain" and parsed.get_content_charset() == "utf-8"
    assert parsed.get_content().replace("\r\n", "\n") == "Bonjour,\n\nC'est 49 €.\n"
