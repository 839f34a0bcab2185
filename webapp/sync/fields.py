"""Choosing the extra fields to mirror, from each object's describe (cached by the client)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session

from webapp.integrations.live_lookups import Late, LiveLookups, Saturated
from webapp.integrations.salesforce_connection import NotConnected, client_for
from webapp.salesforce.client import RetryPolicy
from webapp.salesforce.errors import SalesforceError
from webapp.salesforce.sync.objects import EXTRA_OBJECTS
from webapp.sync.settings import field_choices, load_settings, save_extra_fields

QUICK = {"timeout": (3.0, 10.0), "retry": RetryPolicy(attempts=2, base_delay=0.2, max_delay=0.5)}


class Unreachable(RuntimeError):
    """Salesforce could not list the fields just now."""


@dataclass
class ObjectFields:
    sobject: str
    choices: list[tuple[str, str]]
    chosen: list[str]


@dataclass
class FieldsForm:
    objects: list[ObjectFields]
    error: str | None = None
    retry: bool = False


def _choices(engine: Engine, vault, cache, workspace_id: int) -> dict[str, list[tuple[str, str]]]:
    try:
        client = client_for(engine, vault, workspace_id, describe_cache=cache, **QUICK)
        return {name: field_choices(client.describe(name), name) for name in EXTRA_OBJECTS}
    except (NotConnected, SalesforceError) as exc:
        raise Unreachable(f"Salesforce could not list the fields ({exc}).") from exc


def form_view(session: Session, engine: Engine, vault, cache, workspace_id: int, *,
              lookups: LiveLookups, budget: float) -> FieldsForm:
    """The describes run on the lookup pool and are awaited only within the budget, so a slow
    Salesforce costs this page a short wait, never a request thread for its whole timeout."""
    chosen = load_settings(session, workspace_id).extra_fields
    try:
        flight = lookups.submit(f"describe-fields:{workspace_id}", lambda: _choices(engine, vault, cache, workspace_id))
        choices = lookups.wait(flight, budget)
    except (Saturated, Late):
        return FieldsForm([ObjectFields(o, [], chosen.get(o, [])) for o in EXTRA_OBJECTS],
                          "Salesforce is slow to answer; try again in a moment.", retry=True)
    except Unreachable as exc:
        return FieldsForm([ObjectFields(o, [], chosen.get(o, [])) for o in EXTRA_OBJECTS], str(exc))
    return FieldsForm([ObjectFields(o, choices[o], chosen.get(o, [])) for o in EXTRA_OBJECTS])


def save(session: Session, engine: Engine, vault, cache, workspace_id: int, chosen: dict[str, list[str]]) -> list[str]:
    choices = _choices(engine, vault, cache, workspace_id)
    allowed = {o: {name for name, _ in items} for o, items in choices.items()}
    return save_extra_fields(session, workspace_id, chosen, allowed)
