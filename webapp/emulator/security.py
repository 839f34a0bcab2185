"""Field-level security: per user, fields an admin hid (no read access) or made read-only.

What the REST API then does, as real orgs answer (sources in tests/emulator/test_field_security.py):
a hidden field does not exist for that user. Describe leaves it out; SOQL naming it anywhere
fails the whole query with INVALID_FIELD "No such column 'Title' on entity 'Contact'"; a write
naming it fails with INVALID_FIELD "No such column 'Title' on sobject of type Contact"; a record
read without ``?fields`` simply lacks it. A read-only field is described with createable and
updateable false, and a write naming it fails with INVALID_FIELD_FOR_INSERT_UPDATE.

Salesforce does not let an admin take away access to fields every record needs: the Id, the
audit fields, name fields and required fields. Neither does the emulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .schema import SObject

ALWAYS_VISIBLE = {"Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
                  "SystemModstamp", "OwnerId"}


@dataclass
class Rules:
    hidden: set[str] = field(default_factory=set)
    read_only: set[str] = field(default_factory=set)


class FieldSecurity:
    def __init__(self, schema: dict[str, SObject]):
        self.schema = schema
        self.rules: dict[str, dict[str, Rules]] = {}  # user id -> sObject name -> rules
        self._views: dict[tuple[str, str], SObject] = {}

    def set(self, user_id: str, sobject: str, hidden: list[str], read_only: list[str]) -> Rules:
        """Replace what ``user_id`` may not see or change on ``sobject``. ValueError when an
        object or field is unknown or may not be restricted."""
        obj = self.schema.get(sobject) or next(
            (s for name, s in self.schema.items() if name.lower() == str(sobject).lower()), None)
        if obj is None:
            raise ValueError(f"unknown sObject {sobject!r}")
        rules = Rules()
        for names, into in ((hidden, rules.hidden), (read_only, rules.read_only)):
            for name in names:
                f = obj.field(str(name))
                if f is None:
                    raise ValueError(f"{obj.name} has no field {name!r}")
                if f.name in ALWAYS_VISIBLE or f.name_field or not f.nillable:
                    raise ValueError(f"{obj.name}.{f.name} is always visible: Salesforce does not let field-level "
                                     "security hide the Id, audit, name or required fields")
                into.add(f.name)
        rules.read_only -= rules.hidden
        per_user = self.rules.setdefault(user_id, {})
        if rules.hidden or rules.read_only:
            per_user[obj.name] = rules
        else:
            per_user.pop(obj.name, None)
        self._views = {k: v for k, v in self._views.items() if k != (user_id, obj.name)}
        return rules

    def clear(self) -> None:
        self.rules.clear()
        self._views.clear()

    def view(self, user_id: str | None, sobject: SObject) -> SObject:
        """``sobject`` as ``user_id`` sees it; the object itself when nothing is restricted."""
        rules = self.rules.get(user_id or "", {}).get(sobject.name)
        if rules is None:
            return sobject
        key = (user_id, sobject.name)
        view = self._views.get(key)
        if view is None:
            fields = [replace(f, createable=False, updateable=False) if f.name in rules.read_only else f
                      for f in sobject.fields if f.name not in rules.hidden]
            view = self._views[key] = SObject(sobject.name, sobject.label, sobject.label_plural, sobject.key_prefix,
                                              fields, sobject.writable, sobject.children)
        return view

    def as_dict(self) -> dict:
        return {user: {name: {"hidden": sorted(r.hidden), "read_only": sorted(r.read_only)}
                       for name, r in objects.items()}
                for user, objects in self.rules.items() if objects}
