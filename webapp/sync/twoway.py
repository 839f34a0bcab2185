"""The two-way part of the sync settings: turning it on, the External ID field, the
ownership rules table, and the conflict log. Admins only."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from webapp.clock import utcnow
from webapp.integrations.salesforce_connection import NotConnected, client_for
from webapp.models import SyncConflict, SyncLink, SyncSettings
from webapp.salesforce.errors import SalesforceError
from webapp.salesforce.sync.ownership import BY_KEY, FIELDS, RULE_LABELS, rules_for
from webapp.sync.fields import QUICK
from webapp.sync.settings import SyncSettingsError, load_settings

FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
CONFLICTS_SHOWN = 50


@dataclass
class RuleRow:
    key: str
    label: str
    salesforce: str
    rule: str
    default: str
    choices: list[tuple[str, str]]


@dataclass
class ConflictRow:
    id: int
    kind: str
    local_id: int
    record_name: str
    field: str
    inbox_value: str | None
    salesforce_value: str | None
    rule: str
    winner: str
    created_at: object


@dataclass
class TwoWayView:
    enabled: bool
    external_id_field: str | None
    push_immediately: bool
    delete_in_salesforce: bool
    allow_duplicate_save: bool
    rules: list[RuleRow]
    conflicts: list[ConflictRow]
    conflict_count: int
    linked: dict[str, int]  # link state -> deals
    error: str | None = None  # why the admin's last submission was refused
    error_field: str | None = None  # "rules" or "external_id_field"


def view(session: Session, workspace_id: int, *, submitted: TwoWayInput | None = None,
         error: SyncSettingsError | None = None) -> TwoWayView:
    """What the panel shows; after a refused submission, the admin's choices and the reason,
    so nothing typed is lost."""
    settings = load_settings(session, workspace_id)
    if submitted is not None:
        settings.two_way, settings.external_id_field = submitted.enabled, submitted.external_id_field.strip() or None
        settings.push_immediately, settings.delete_in_salesforce = submitted.push_immediately, submitted.delete_in_salesforce
        settings.allow_duplicate_save = submitted.allow_duplicate_save
        settings.field_rules = {**settings.field_rules, **submitted.rules}
    rules = rules_for(settings.field_rules)
    rows = [RuleRow(f.key, f.label, f.salesforce, rules[f.key], f.default, [(c, RULE_LABELS[c]) for c in f.choices])
            for f in FIELDS]
    labels = {f.key: f.label for f in FIELDS}
    conflicts = session.execute(
        select(SyncConflict).where(SyncConflict.workspace_id == workspace_id)
        .order_by(SyncConflict.created_at.desc(), SyncConflict.id.desc()).limit(CONFLICTS_SHOWN)
    ).scalars().all()
    count = session.execute(select(func.count()).select_from(SyncConflict)
                            .where(SyncConflict.workspace_id == workspace_id)).scalar_one()
    linked = dict(session.execute(select(SyncLink.state, func.count()).where(
        SyncLink.workspace_id == workspace_id, SyncLink.kind == "deal").group_by(SyncLink.state)).all())
    return TwoWayView(
        settings.two_way, settings.external_id_field, settings.push_immediately, settings.delete_in_salesforce,
        settings.allow_duplicate_save, rows,
        [ConflictRow(c.id, c.kind, c.local_id, c.record_name, labels.get(c.field, c.field), c.inbox_value,
                     c.salesforce_value, RULE_LABELS.get(c.rule, c.rule), c.winner, c.created_at) for c in conflicts],
        count, linked, str(error) if error else None, error.field if error else None,
    )


@dataclass
class TwoWayInput:
    enabled: bool
    external_id_field: str
    push_immediately: bool
    delete_in_salesforce: bool
    rules: dict[str, str]
    allow_duplicate_save: bool = False


def external_id_fields(engine: Engine, vault, cache, workspace_id: int) -> set[str]:
    """Opportunity's External ID text fields, from its describe."""
    try:
        client = client_for(engine, vault, workspace_id, describe_cache=cache, **QUICK)
        described = client.describe("Opportunity")
    except (NotConnected, SalesforceError) as exc:
        raise SyncSettingsError("external_id_field", f"Salesforce could not list Opportunity's fields ({exc}).") from exc
    return {f["name"] for f in described.get("fields", [])
            if f.get("externalId") and f.get("type") in ("string", "email") and f.get("createable") and f.get("updateable")}


def save(session: Session, workspace_id: int, data: TwoWayInput, *, check_external_id) -> None:
    """``check_external_id(name)`` returns the org's External ID fields (asked only when the
    field changes)."""
    for key, rule in data.rules.items():
        field = BY_KEY.get(key)
        if field is None:
            raise SyncSettingsError("rules", f"“{key[:80]}” is not a synced field; choose rules in the table only.")
        if rule not in field.choices:
            listed = ", ".join(RULE_LABELS[c] for c in field.choices)
            raise SyncSettingsError("rules", f"{field.label}: “{rule[:40]}” is not a rule; choose one of {listed}.")
    name = (data.external_id_field or "").strip() or None
    row = session.execute(select(SyncSettings).where(SyncSettings.workspace_id == workspace_id)).scalar_one_or_none()
    row = row or SyncSettings(workspace_id=workspace_id, extra_fields={})
    if name is not None and name != row.external_id_field:
        if not FIELD_NAME.match(name):
            raise SyncSettingsError("external_id_field", "Enter the field's API name, e.g. Inbox_Deal_Id__c.")
        allowed = check_external_id(name)
        if name not in allowed:
            listed = ", ".join(sorted(allowed)) or "none"
            raise SyncSettingsError("external_id_field", f"{name} is not an External ID text field on Opportunity "
                                                         f"that the integration user can edit (the org has: {listed}).")
    row.two_way, row.external_id_field = data.enabled, name
    row.push_immediately, row.delete_in_salesforce = data.push_immediately, data.delete_in_salesforce
    row.allow_duplicate_save = data.allow_duplicate_save
    row.field_rules = {k: v for k, v in data.rules.items()}
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
