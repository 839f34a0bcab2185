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
