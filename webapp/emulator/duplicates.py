"""Duplicate rules, as an org admin turns them on in Setup: Contact and Lead by Email,
Account by Name, each either blocking the save or alerting.

A save that matches a live record of the same object fails with DUPLICATES_DETECTED and the
matching records in `duplicateResult` (the REST shape of the SOAP API's DuplicateError,
DuplicateResult, MatchResult and MatchRecord). An alerting rule lets the save through when
the request says `Sforce-Duplicate-Rule-Header: allowSave=true`; a blocking one never does.
Rules run on create, update and upsert, as Salesforce's do.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ApiError

ACTIONS = ("block", "alert")
MESSAGE = "Use one of these records?"  # the standard rules' alert text


@dataclass(frozen=True)
class Rule:
    sobject: str
    field: str
    duplicate_rule: str
    matching_rule: str


RULES = {
    "Contact": Rule("Contact", "Email", "Standard_Contact_Duplicate_Rule", "Standard_Contact_Match_Rule_v1_1"),
    "Lead": Rule("Lead", "Email", "Standard_Lead_Duplicate_Rule", "Standard_Lead_Match_Rule_v1_0"),
    "Account": Rule("Account", "Name", "Standard_Account_Duplicate_Rule", "Standard_Account_Match_Rule_v1_0"),
}


@dataclass(frozen=True)
class SaveOptions:
    """What a REST save carries besides the record: the API version (for record URLs) and the
    Duplicate Rule Header's allowSave."""
    version: str
    allow_save: bool = False


def allow_save_header(value: str | None) -> bool:
    """`allowSave=true; includeRecordDetails=false` -> True."""
    for part in (value or "").split(";"):
        name, _, flag = part.partition("=")
        if name.strip().lower() == "allowsave":
            return flag.strip().lower() == "true"
    return False


def check_actions(actions: dict) -> dict[str, str]:
    """{"Contact": "block", "Lead": "alert", "Account": null}: validated; null turns one off."""
    if not isinstance(actions, dict):
        raise ValueError('send {"Contact": "block" | "alert" | null, "Lead": …, "Account": …}')
    out = {}
    for name, action in actions.items():
        if name not in RULES:
            raise ValueError(f"duplicate rules exist for {', '.join(RULES)}, not {name}")
        if action is not None and action not in ACTIONS:
            raise ValueError(f"a duplicate rule's action is block or alert, not {action!r}")
        out[name] = action
    return out


class DuplicatesDetected(ApiError):
    def __init__(self, duplicate_result: dict):
        super().__init__(400, "DUPLICATES_DETECTED", MESSAGE, [])
        self.duplicate_result = duplicate_result

    def body(self) -> list[dict]:
        return [{"message": self.message, "errorCode": self.error_code, "fields": [],
                 "duplicateResult": self.duplicate_result}]

    def item_error(self) -> dict:
        return {**super().item_error(), "duplicateResult": self.duplicate_result}


def check(table, actions: dict[str, str], record: dict, own_id: str | None, options: SaveOptions | None) -> None:
    """Raise DuplicatesDetected when `record`, as it would be saved, matches another live
    record under an active rule (and the rule blocks, or alerts without allowSave)."""
    if options is None:
        return
    name = table.sobject.name
    rule, action = RULES.get(name), actions.get(name)
    if rule is None or action is None:
        return
    value = record.get(rule.field)
    if value in (None, ""):
        return
    matches = [r for r in table.lookup(rule.field, value) if r["Id"] != own_id]
    if not matches:
        return
    allow = action == "alert"
    if allow and options.allow_save:
        return
    raise DuplicatesDetected({
        "allowSave": allow,
        "duplicateRule": rule.duplicate_rule,
        "duplicateRuleEntityType": name,
        "errorMessage": MESSAGE,
        "matchResults": [{
            "entityType": name,
            "errors": [],
            "matchEngine": "ExactMatchEngine",
            "matchRecords": [{
                "additionalInformation": [],
                "fieldDiffs": [],
                "matchConfidence": 100.0,
                "record": {"attributes": {"type": name,
                                          "url": f"/services/data/v{options.version}/sobjects/{name}/{m['Id']}"},
                           "Id": m["Id"]},
            } for m in matches],
            "rule": rule.matching_rule,
            "size": len(matches),
            "success": True,
        }],
    })
