"""Mail files for the import tests, written byte by byte so each oddity is deliberate."""

from __future__ import annotations

import io
import zipfile

def eml(
    *,
    frm: str | None = "Bob Buyer <bob@customer.test>",
    to: str | None = "support@acme.test",
    cc: str | None = None,
    subject: str | None = "Pricing question",
    date: str | None = "Tue, 01 Sep 2026 09:00:00 +0000",
    message_id: str | None = "<q1@customer.test>",
    in_reply_to: str | None = None,
    references: str | None = None,
    content_type: str = "text/plain; charset=utf-8",
    body: bytes | str = "Hello, what does the premium plan cost?",
    extra: tuple[str, ...] = (),
) -> bytes:
    headers = [
        ("From", frm),
        ("To", to),
        ("Cc", cc),
        ("Subject", subject),
        ("Date", date),
        ("Message-ID", message_id),
        ("In-Reply-To", in_reply_to),
        ("References", references),
        ("MIME-Version", "1.0"),
        ("Content-Type", content_type),
    ]
    lines = [f"{name}: {value}" for name, value in headers if value is not None] + list(extra)
    head = "\n".join(lines).encode("utf-8")
    if isinstance(body, str):
        body = body.encode("utf-8")
    return head + b"\n\n" + body + b"\n"


def mbox(*messages: bytes) -> bytes:
    out = bytearray()
    for msg in messages:
        out += b"From MAILER-DAEMON Tue Sep  1 09:00:00 2026\n" + msg + b"\n"
    return bytes(out)


def zipped(files: dict[str, bytes], *, stored: bool = False) -> bytes:
    buffer = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def thread() -> list[bytes]:
    """A customer asks, we answer, they reply, we answer again: four messages, one thread."""
    return [
        eml(),
        eml(
            frm="Ann Agent <ann@acme.test>",
            to="Bob Buyer <bob@customer.test>",
            subject="Re: Pricing question",
            date="Tue, 01 Sep 2026 10:30:00 +0000",
            message_id="<a1@acme.test>",
            in_reply_to="<q1@customer.test>",
            references="<q1@customer.test>",
            body="It is 40 EUR a month.\n\n> Hello, what does the premium plan cost?",
        ),
        eml(
            subject="Re: Re: Pricing question",
            date="Wed, 02 Sep 2026 08:00:00 +0200",
            message_id="<q2@customer.test>",
            in_reply_to="<a1@acme.test>",
            references="<q1@customer.test> <a1@acme.test>",
            body="Thanks! Is there a discount for a year?",
        ),
        eml(
            frm="Ann Agent <ann@acme.test>",
            to="bob@customer.test",
            cc="Carla Chief <carla@customer.test>",
            subject="Re: Pricing question",
            date="Wed, 02 Sep 2026 09:15:00 +0000",
            message_id="<a2@acme.test>",
            in_reply_to="<q2@customer.test>",
            references="<q1@customer.test> <a1@acme.test> <q2@customer.test>",
            body="Yes, two months free.",
        ),
    ]
