"""Changes an org admin makes in Setup, for tests and demos: validation rules and renamed
Opportunity stages.

A validation rule rejects a save with FIELD_CUSTOM_VALIDATION_EXCEPTION, the admin's error
message and its error-location fields, as Salesforce does. Renaming a stage renames its
picklist value: the OpportunityStage row changes (its SystemModstamp moves) and records that
held the old value hold the new one; their own stamps do not move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .store import Store, now_utc


@dataclass(frozen=True)
class ValidationRule:
    sobject: str
    message: str
    fails: Callable[[dict], bool]  # the rule's error condition, on the record as it would be saved
    fields: tuple[str, ...] = field(default=())


def add_validation_rule(store: Store, rule: ValidationRule) -> None:
    store.validation_rules.append(rule)


def rename_stage(store: Store, old: str, new: str) -> None:
    stage_table = store.tables["OpportunityStage"]
    stage = store.stages.pop(old)
    stage_table.change(stage, {"MasterLabel": new, "ApiName": new, "SystemModstamp": now_utc()})
    store.stages[new] = stage
    for table_name in ("Opportunity", "OpportunityHistory"):
        picklist = store.tables[table_name].sobject.field("StageName").picklist
        picklist[picklist.index(old)] = new
    opportunities = store.tables["Opportunity"]
    for record in opportunities.records:
        if record.get("StageName") == old:
            record["StageName"] = new
