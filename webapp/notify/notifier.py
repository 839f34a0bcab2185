"""The channels a notice goes out on. Sending happens in the scheduler's job thread only,
never in a request: a slow webhook must not hold a page.

Two channels: a webhook (Slack-compatible JSON ``{"text": ...}``) and email to the workspace's
admins, sent from its first mailbox (webapp.mail.notices): a callable
``(workspace_id, recipients, subject, body) -> None`` that raises on failure.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT = (3, 5)  # connect, read: a notice is small and the job has other work
WEBHOOK_URL_MAX = 2000

EmailSender = Callable[[int, Sequence[str], str, str], None]


class ChannelFailed(RuntimeError):
    """A channel did not take the notice; the incident is tried again on a later tick."""


class InvalidWebhook(ValueError):
    pass


@dataclass(frozen=True)
class Notice:
    workspace_id: int
    subject: str  # one line
    text: str  # the full message, plain text with the settings link
    admins: tuple[str, ...] = ()  # the workspace's admins' addresses, for email


def check_webhook_url(url: str) -> str:
    """An http(s) URL with a host, as Slack, Teams or Mattermost give; https outside this
    machine, since the URL carries its own secret."""
    url = (url or "").strip()
    if len(url) > WEBHOOK_URL_MAX:
        raise InvalidWebhook(f"The webhook URL is longer than {WEBHOOK_URL_MAX:,} characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError as exc:
        raise InvalidWebhook("Enter the webhook URL your chat tool gave you, starting with https://.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhook("Enter the webhook URL your chat tool gave you, starting with https://.")
    if parts.scheme == "http" and not _is_local(parts.hostname):
        raise InvalidWebhook("Use an https:// webhook URL: the address is a secret and must not travel in clear text.")
    return url


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str):
        self.url = url

    def send(self, notice: Notice) -> None:
        try:
            answer = requests.post(self.url, json={"text": notice.text}, timeout=WEBHOOK_TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            raise ChannelFailed(f"the webhook did not answer ({exc.__class__.__name__})") from exc
        with answer:
            if not 200 <= answer.status_code < 300:
                raise ChannelFailed(f"the webhook answered HTTP {answer.status_code}")


class EmailChannel:
    name = "email"

    def __init__(self, sender: EmailSender):
        self.sender = sender

    def send(self, notice: Notice) -> None:
        if not notice.admins:
            return
        try:
            self.sender(notice.workspace_id, notice.admins, notice.subject, notice.text)
        except Exception as exc:  # the mail code's own errors; the incident is tried again
            raise ChannelFailed(f"the email was not sent ({exc})") from exc


class Notifier:
    """Sends one notice on every channel set up; raises ChannelFailed naming the ones that
    failed, after trying them all."""

    def __init__(self, channels: Sequence):
        self.channels = list(channels)

    def send(self, notice: Notice) -> None:
        failures = []
        for channel in self.channels:
            try:
                channel.send(notice)
            except ChannelFailed as exc:
                log.warning("admin notice not delivered", extra={"channel": channel.name, "error": str(exc),
                                                                 "workspace": notice.workspace_id})
                failures.append(f"{channel.name}: {exc}")
        if failures:
            raise ChannelFailed("; ".join(failures))


def notifier_for(webhook_url: str | None, email_sender: EmailSender | None = None) -> Notifier:
    channels: list = []
    if webhook_url:
        channels.append(WebhookChannel(webhook_url))
    if email_sender is not None:
        channels.append(EmailChannel(email_sender))
    return Notifier(channels)
