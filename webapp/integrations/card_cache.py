"""Cache keys of the Salesforce card, shared by the card (which fills them) and the sync
(which drops them when it changes a contact). Keys carry the workspace id, so one
workspace's card can never be served to another."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from cachelib import BaseCache

TTL_SECONDS = 300


def card_key(workspace_id: int, email_normalized: str) -> str:
    digest = hashlib.sha256(email_normalized.encode()).hexdigest()
    return f"sfcard:v1:{workspace_id}:{digest}"


def invalidate(cache: BaseCache, workspace_id: int, emails: Iterable[str]) -> None:
    keys = [card_key(workspace_id, e.strip().lower()) for e in emails if e]
    if keys:
        cache.delete_many(*keys)
