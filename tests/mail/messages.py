"""Raw RFC 5322 messages for the live-mail tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

NOW = datetime.now(UTC).replace(microsecond=0)


def raw(n: int, *, sender="customer@client.test", to="support@acme.test", subject=None, when=None,
        message_id=None, in_reply_to=None, body=None, name="Casey Customer") -> bytes:
    when = when or NOW - timedelta(hours=100 - n)
    headers = [
        f"From: {name} <{sender}>",
        f"To: {to}",
        f"Subject: {subject or f'Question {n}'}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: {message_id or f'<m{n}@client.test>'}",
    ]
    if in_reply_to:
        headers += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    text = body or f"Hello, this is message {n}."
    return ("\r\n".join(headers) + "\r\n\r\n" + text + "\r\n").encode()
