"""Integration cards shown in a conversation's details panel.

Each card loads lazily from its own URL, so a slow integration never delays the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for

from webapp.models import Contact


@dataclass(frozen=True)
class CardSlot:
    key: str
    title: str
    url: str


def card_slots(contact: Contact | None) -> list[CardSlot]:
    if contact is None:
        return []
    return [
        CardSlot(
            key="salesforce",
            title="Salesforce",
            url=url_for("integrations.salesforce_card", email=contact.email or ""),
        )
    ]


def init_app(app) -> None:
    from webapp.integrations.live_lookups import LiveLookups

    # Threads start on the first lookup, never here.
    app.extensions["salesforce_lookups"] = LiveLookups(
        workers=app.config["SALESFORCE_CARD_LOOKUPS"], waiters=app.config["SALESFORCE_CARD_WAITERS"]
    )

    @app.context_processor
    def _salesforce_banner():
        """Admins see a banner on every page while Salesforce needs reconnecting."""
        from flask import request
        from flask_login import current_user

        if not (current_user.is_authenticated and current_user.is_admin):
            return {}
        if (request.endpoint or "").startswith(("settings.salesforce", "sync.")):
            return {}  # the page says so itself, once
        return {"salesforce_reconnect": _Reconnect(app, current_user.workspace_id)}


class _Reconnect:
    """True while the workspace's Salesforce needs reconnecting; asked only when a template
    tests it (pages do, partials such as the card do not), from the cached connection state."""

    def __init__(self, app, workspace_id: int):
        self.app, self.workspace_id, self._value = app, workspace_id, None

    def __bool__(self) -> bool:
        if self._value is None:
            from webapp.db import get_engine
            from webapp.integrations.salesforce_connection import cached_state

            state = cached_state(get_engine(self.app), self.app.extensions["cache"], self.workspace_id)[0]
            self._value = state == "reconnect"
        return self._value
