"""What the Salesforce card shows for an email address.

Until a workspace connects to Salesforce, every lookup ends as ``not-connected``;
the connection and the lookup itself come with the Salesforce client.
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.addresses import InvalidAddress, normalize_email

STATES = ("shown", "not-connected", "no-email", "no-match", "reconnect", "unavailable")
REASONS = {
    "not-connected": "not connected for this workspace.",
    "no-email": "this contact has no email address to look up.",
    "no-match": "no Salesforce contact has this email address.",
    "reconnect": "the connection needs to be reconnected.",
    "unavailable": "could not be reached; try again later.",
}


@dataclass(frozen=True)
class CardResult:
    state: str
    email: str | None = None

    @property
    def reason(self) -> str:
        return REASONS.get(self.state, "")


def lookup(workspace_id: int, email: str) -> CardResult:
    if not (email or "").strip():
        return CardResult(state="no-email")
    try:
        normalized = normalize_email(email)
    except InvalidAddress:
        return CardResult(state="no-email")
    return CardResult(state="not-connected", email=normalized)
