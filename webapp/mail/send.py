"""Sending one message: composed with the stdlib email package (EmailMessage, policy=SMTP),
handed to the mailbox's SMTP server, and filed in its IMAP sent folder. No Flask and no
database here: webapp.inbox.replies decides what to send and records what happened."""

from __future__ import annotations

import re
import smtplib
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from webapp.mail.errors import MailServerError
from webapp.mail.imap import Endpoint, ImapSession
from webapp.mail.smtp import _close, _fail, open_smtp

# Reply prefixes only: "Re: Fwd: x" stays a reply to a forward, as mail clients write it.
_REPLY_PREFIX_RE = re.compile(r"^\s*(?:(?:re|aw|sv|vs|antw|odp|rif|res)\s*(?:\[\d+\])?\s*[:：]\s*)+", re.IGNORECASE)
MAX_REFERENCES = 20  # the first and the latest ones; RFC 5322 lets a long chain lose its middle


def reply_subject(subject: str) -> str:
    """"Re: " and the subject without its own reply prefixes: never "Re: Re:"."""
    rest = _REPLY_PREFIX_RE.sub("", subject or "").strip()
    return f"Re: {rest}" if rest else "Re:"


def references(chain: list[str]) -> list[str]:
    if len(chain) <= MAX_REFERENCES:
        return chain
    return chain[:1] + chain[-(MAX_REFERENCES - 1):]


def new_message_id(address: str) -> str:
    return make_msgid(domain=address.rsplit("@", 1)[-1])


@dataclass(frozen=True)
class Outgoing:
    from_address: str
    from_name: str
    to: list[str]
    cc: list[str]
    subject: str
    body: str
    message_id: str
    date: datetime
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)

    @property
    def recipients(self) -> list[str]:
        return list(dict.fromkeys(self.to + self.cc))


def compose(outgoing: Outgoing) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(outgoing.from_name, addr_spec=outgoing.from_address)
    message["To"] = ", ".join(outgoing.to)
    if outgoing.cc:
        message["Cc"] = ", ".join(outgoing.cc)
    message["Subject"] = outgoing.subject
    message["Date"] = format_datetime(outgoing.date)
    message["Message-ID"] = outgoing.message_id
    if outgoing.in_reply_to:
        message["In-Reply-To"] = outgoing.in_reply_to
    if outgoing.references:
        message["References"] = " ".join(outgoing.references)
    message.set_content(outgoing.body)
    return message


def _detail(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def submit(endpoint: Endpoint, username: str, password: str, outgoing: Outgoing, message: EmailMessage) -> dict[str, str]:
    """Hand the message to the SMTP server. Returns the recipients it refused while taking the
    others ({address: its answer}); raises MailServerError when it took none."""
    client = open_smtp(endpoint, username, password)
    where = f"{endpoint.host}:{endpoint.port}"
    try:
        refused = client.send_message(message, from_addr=outgoing.from_address, to_addrs=outgoing.recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        named = "; ".join(f"{rcpt} ({code} {_detail(text)})" for rcpt, (code, text) in exc.recipients.items())
        raise MailServerError("recipient", f"The SMTP server refused every recipient: {named}. Nothing was sent.") from exc
    except smtplib.SMTPSenderRefused as exc:
        raise MailServerError(
            "sender", f"The SMTP server refused to send as {outgoing.from_address} ({exc.smtp_code} {_detail(exc.smtp_error)}). Nothing was sent."
        ) from exc
    except smtplib.SMTPDataError as exc:
        raise MailServerError(
            "message", f"The SMTP server refused the message ({exc.smtp_code} {_detail(exc.smtp_error)}). Nothing was sent."
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise MailServerError("message", f"The SMTP server {where} cannot take this message: {exc}. Nothing was sent.") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise _fail(exc, endpoint) from exc
    finally:
        _close(client)
    return {rcpt: f"{code} {_detail(text)}" for rcpt, (code, text) in refused.items()}


def file_in_sent(endpoint: Endpoint, username: str, password: str, folder: str, data: bytes, when: datetime) -> None:
    """A copy in the IMAP sent folder, marked read, as a mail client keeps one."""
    with ImapSession(endpoint, username, password) as imap:
        imap.append(folder, data, when=when)
