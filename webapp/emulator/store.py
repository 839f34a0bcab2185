"""The in-memory org: one table per sObject, with indexes, and the write rules.

Each table keeps its records in creation order, a dict by Id, hash indexes on lookup and
external-id fields, and a list sorted by (SystemModstamp, Id) so that incremental-sync queries
slice instead of scanning. Deletes are soft (IsDeleted) so queryAll and getDeleted see them.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from datetime import UTC, date, datetime

from . import duplicates, org
from .errors import ApiError
from .schema import (ENHANCED_EMAIL_OBJECTS, ID_TYPES, NAME_OBJECT, NUMBER_TYPES, STRING_TYPES,
                     Field, SObject)

_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?$")
_AUTO_INDEX_SKIP = {"OwnerId", "CreatedById", "LastModifiedById"}
_HISTORY_FIELDS = ("StageName", "Amount", "CloseDate", "Probability")
# What a sent (not Draft) EmailMessage still lets you change.
_EMAIL_UPDATABLE_AFTER_DRAFT = {"IsExternallyVisible"}


def normalize_id(value: str) -> str | None:
    """The 18-char form of a 15- or 18-char id, or None when it is not an id at all."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    return value[:15] + org.id_suffix(value[:15])


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def parse_datetime(text: str) -> datetime | None:
    if not isinstance(text, str) or not _DATETIME_RE.match(text.strip()):
        return None
    text = text.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


class StampIndex:
    """Records sorted by (SystemModstamp, Id), for range slices without a scan."""

    def __init__(self, keys: list[tuple] | None = None, recs: list[dict] | None = None):
        self.keys = keys or []
        self.recs = recs or []

    @classmethod
    def build(cls, records: list[dict]) -> StampIndex:
        keys = [(r["SystemModstamp"], r["Id"]) for r in records]
        order = sorted(range(len(records)), key=keys.__getitem__)
        return cls([keys[i] for i in order], [records[i] for i in order])

    def live(self) -> StampIndex:
        """The same index without soft-deleted rows."""
        pairs = [(k, r) for k, r in zip(self.keys, self.recs) if not r.get("IsDeleted")]
        return StampIndex([k for k, _ in pairs], [r for _, r in pairs])

    def add(self, record: dict) -> None:
        key = (record["SystemModstamp"], record["Id"])
        pos = bisect_left(self.keys, key)
        self.keys.insert(pos, key)
        self.recs.insert(pos, record)

    def discard(self, record: dict) -> None:
        key = (record["SystemModstamp"], record["Id"])
        pos = bisect_left(self.keys, key)
        if pos < len(self.keys) and self.keys[pos] == key:
            del self.keys[pos]
            del self.recs[pos]


class Table:
    def __init__(self, sobject: SObject, records: list[dict]):
        self.sobject = sobject
        self.records: list[dict] = []
        self.by_id: dict[str, dict] = {}
        self.seq: dict[str, int] = {}
        self.index_fields = [f.name for f in sobject.fields if f.name != "Id" and (
            f.external_id or f.id_lookup or (f.type == "reference"
                                             and f.name not in _AUTO_INDEX_SKIP))]
        self.indexes: dict[str, dict] = {name: {} for name in self.index_fields}
        self.folded = {f.name for f in sobject.fields if f.type in STRING_TYPES}
        self.next_number = len(records) + 1
        for record in records:
            self._add(record)
        # Two stamp indexes: every row (queryAll) and live rows only (query), so that
        # neither has to filter IsDeleted row by row.
        self.all_by_stamp = StampIndex.build(self.records)
        self.live_by_stamp = self.all_by_stamp.live()

    def by_stamp(self, include_deleted: bool) -> StampIndex:
        return self.all_by_stamp if include_deleted else self.live_by_stamp

    def index_key(self, field_name: str, value):
        """Text matches case-insensitively, as SOQL's = does; ids match exactly."""
        if field_name in self.folded and isinstance(value, str):
            return value.lower()
        return value

    def _add(self, record: dict) -> None:
        self.seq[record["Id"]] = len(self.records)
        self.records.append(record)
        self.by_id[record["Id"]] = record
        for name in self.index_fields:
            value = record.get(name)
            if value is not None:
                self.indexes[name].setdefault(self.index_key(name, value), []).append(record)

    def insert(self, record: dict) -> None:
        self._add(record)
        self.all_by_stamp.add(record)
        if not record.get("IsDeleted"):
            self.live_by_stamp.add(record)

    def change(self, record: dict, values: dict) -> None:
        """Apply `values` to a stored record, keeping every index current."""
        for name in self.index_fields:
            if name in values and values[name] != record.get(name):
                if record.get(name) is not None:
                    key = self.index_key(name, record[name])
                    bucket = self.indexes[name][key]
                    bucket.remove(record)
                    if not bucket:
                        del self.indexes[name][key]
                if values[name] is not None:
                    key = self.index_key(name, values[name])
                    self.indexes[name].setdefault(key, []).append(record)
        self.all_by_stamp.discard(record)
        self.live_by_stamp.discard(record)
        record.update(values)
        self.all_by_stamp.add(record)
        if not record.get("IsDeleted"):
            self.live_by_stamp.add(record)

    def lookup(self, field_name: str, value) -> list[dict]:
        """Live records whose `field_name` equals `value` (case-insensitively for text)."""
        if field_name == "Id":
            record = self.by_id.get(normalize_id(value) or "")
            found = [record] if record else []
        elif field_name in self.indexes:
            found = self.indexes[field_name].get(self.index_key(field_name, value), [])
        else:
            key = self.index_key(field_name, value)
            found = [r for r in self.records if self.index_key(field_name, r.get(field_name)) == key]
        return [r for r in found if not r.get("IsDeleted")]

    def new_id(self) -> str:
        number = self.next_number
        self.next_number += 1
        return org.make_id(self.sobject.key_prefix, number)


class Store:
    def __init__(self, schema: dict[str, SObject], data: dict[str, list[dict]], user_id: str):
        self.schema = schema
        self.user_id = user_id
        self.tables = {name: Table(sobject, data.get(name, [])) for name, sobject in schema.items()}
        self._by_lower = {name.lower(): table for name, table in self.tables.items()}
        self.deleted_at: dict[str, datetime] = {}
        for table in self.tables.values():
            for record in table.records:
                if record.get("IsDeleted"):
                    self.deleted_at[record["Id"]] = record["SystemModstamp"]
        self.stages = {r["ApiName"]: r for r in self.tables["OpportunityStage"].records}
        self.validation_rules: list = []  # customize.ValidationRule, checked on every save
        self.duplicate_actions: dict[str, str | None] = {}  # "Contact" -> "block" | "alert" (duplicates.py)
        self.hidden: set[str] = set()  # objects this org does not have (Enhanced Email off)
        for record in self.tables["Account"].records:
            record["BillingAddress"] = billing_address(record)

    def table(self, name: str) -> Table | None:
        table = self._by_lower.get(name.lower())
        return None if table is None or table.sobject.name in self.hidden else table

    def set_enhanced_email(self, enabled: bool) -> None:
        """Without Enhanced Email the org has no EmailMessage outside cases, and this org has
        no cases: the objects disappear from describe, the sObject API and SOQL. Their records
        stay, as Salesforce keeps them when the setting is turned off and on again."""
        if enabled:
            self.hidden.difference_update(ENHANCED_EMAIL_OBJECTS)
        else:
            self.hidden.update(ENHANCED_EMAIL_OBJECTS)

    def visible(self) -> list[SObject]:
        return [s for name, s in self.schema.items() if name not in self.hidden]

    def table_for_id(self, record_id: str | None) -> Table | None:
        """The available table whose key prefix starts the id."""
        if not record_id:
            return None
        return next((t for t in self.tables.values() if t.sobject.name not in self.hidden
                     and record_id.startswith(t.sobject.key_prefix)), None)

    def parents(self, ref: Field):
        """What a lookup's id resolves to in SOQL: the target's records by id, or for a
        polymorphic lookup the Name view of whichever record the id points at."""
        if ref.polymorphic:
            return NameView(self, ref.reference_to)
        return self.tables[ref.reference_to[0]].by_id

    def parent_sobject(self, ref: Field) -> SObject:
        return NAME_OBJECT if ref.polymorphic else self.schema[ref.reference_to[0]]

    def get(self, sobject: str, record_id: str) -> dict | None:
        return self.tables[sobject].by_id.get(normalize_id(record_id) or "")

    # ---- writes --------------------------------------------------------------------------

    def create(self, table: Table, body: dict, dry_run: bool = False,
               save: duplicates.SaveOptions | None = None) -> dict | None:
        """Insert a record; with `dry_run`, only check that it would succeed. `save`: a REST
        save, which the org's duplicate rules see (internal writes pass none)."""
        sobject = table.sobject
        _writable(sobject, "inserted")
        values = self.coerce(sobject, body, creating=True)
        missing = [f.name for f in sobject.fields
                   if f.required_on_create and values.get(f.name) in (None, "")]
        if missing:
            raise ApiError(400, "REQUIRED_FIELD_MISSING",
                           f"Required fields are missing: [{', '.join(missing)}]", missing)
        self._check_unique(table, values, None)
        duplicates.check(table, self.duplicate_actions, values, None, save)
        if dry_run:
            return None
        now = now_utc()
        record = {f.name: None for f in sobject.fields}
        record.update(Id=table.new_id(), IsDeleted=False, OwnerId=self.user_id, CreatedDate=now,
                      CreatedById=self.user_id, LastModifiedDate=now,
                      LastModifiedById=self.user_id, SystemModstamp=now)
        if "CurrencyIsoCode" in record:
            record["CurrencyIsoCode"] = org.CORPORATE_CURRENCY
        for f in sobject.fields:
            if f.default is not None:
                record[f.name] = f.default
        record.update({k: v for k, v in values.items()
                       if v is not None or sobject.field(k).default is None})
        self._derive(sobject.name, record, values, creating=True)
        self._validate(sobject.name, record)
        table.insert(record)
        if sobject.name == "Opportunity":
            self._append_history(record, now)
        elif sobject.name == "EmailMessage":
            self._log_email_activity(record, now)
        elif sobject.name == "EmailMessageRelation":
            self._relate_email_activity(record, now)
        return record

    def update(self, table: Table, record: dict, body: dict, dry_run: bool = False,
               save: duplicates.SaveOptions | None = None) -> dict:
        sobject = table.sobject
        _writable(sobject, "updated")
        if record.get("IsDeleted"):
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        values = self.coerce(sobject, body, creating=False)
        self._check_updatable(sobject.name, record, values)
        cleared = [name for name, value in values.items()
                   if value in (None, "") and sobject.field(name).required_on_create]
        if cleared:
            raise ApiError(400, "REQUIRED_FIELD_MISSING",
                           f"Required fields are missing: [{', '.join(cleared)}]", cleared)
        self._check_unique(table, values, record["Id"])
        merged = dict(record, **values)
        self._derive(sobject.name, merged, values, creating=False)
        self._validate(sobject.name, merged)
        duplicates.check(table, self.duplicate_actions, merged, record["Id"], save)
        if dry_run:
            return record
        now = now_utc()
        changes = {k: v for k, v in merged.items() if record.get(k) != v}
        changes.update(LastModifiedDate=now, LastModifiedById=self.user_id, SystemModstamp=now)
        history_changed = any(k in changes for k in _HISTORY_FIELDS)
        table.change(record, changes)
        if sobject.name == "Opportunity" and history_changed:
            self._append_history(record, now)
        return record

    def delete(self, table: Table, record: dict, dry_run: bool = False) -> None:
        _writable(table.sobject, "deleted")
        if record.get("IsDeleted"):
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        if dry_run:
            return
        now = now_utc()
        self._soft_delete(table, record, now)
        # Deleting an account deletes its contacts and opportunities, as in Salesforce.
        if table.sobject.name == "Account":
            for child in ("Contact", "Opportunity"):
                child_table = self.tables[child]
                for row in list(child_table.indexes["AccountId"].get(record["Id"], [])):
                    if not row["IsDeleted"]:
                        self._soft_delete(child_table, row, now)
        elif table.sobject.name == "EmailMessage":
            # An email's relations go with it, and so does the task that logs it.
            relations = self.tables["EmailMessageRelation"]
            for row in list(relations.indexes["EmailMessageId"].get(record["Id"], [])):
                if not row["IsDeleted"]:
                    self._soft_delete(relations, row, now)
            task = self.tables["Task"].by_id.get(record.get("ActivityId") or "")
            if task is not None and not task["IsDeleted"]:
                self._soft_delete(self.tables["Task"], task, now)

    def _soft_delete(self, table: Table, record: dict, now: datetime) -> None:
        table.change(record, {"IsDeleted": True, "LastModifiedDate": now,
                              "LastModifiedById": self.user_id, "SystemModstamp": now})
        self.deleted_at[record["Id"]] = now

    def _validate(self, sobject: str, record: dict) -> None:
        for rule in self.validation_rules:
            if rule.sobject == sobject and rule.fails(record):
                raise ApiError(400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, list(rule.fields))

    def _check_unique(self, table: Table, values: dict, own_id: str | None) -> None:
        for f in table.sobject.fields:
            if f.unique and values.get(f.name) is not None:
                for other in table.lookup(f.name, values[f.name]):
                    if other["Id"] != own_id:
                        raise ApiError(400, "DUPLICATE_VALUE",
                                       f"duplicate value found: {f.name} duplicates value on "
                                       f"record with id: {other['Id']}", [])

    def _derive(self, sobject: str, record: dict, values: dict, creating: bool) -> None:
        if sobject == "Account":
            record["BillingAddress"] = billing_address(record)
        elif sobject in ("Contact", "Lead"):
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record["LastName"]) if p)
        elif sobject == "Task":
            record["IsClosed"] = record["Status"] in org.TASK_CLOSED_STATUSES
            record["IsHighPriority"] = record["Priority"] == "High"
            if record["IsClosed"] and not record.get("CompletedDateTime"):
                record["CompletedDateTime"] = now_utc()
            elif not record["IsClosed"]:
                record["CompletedDateTime"] = None
            record["AccountId"] = self._task_account(record)
        elif sobject == "EmailMessageRelation":
            relation = record.get("RelationId")
            target = self.table_for_id(relation)
            record["RelationObjectType"] = target.sobject.name if target else None
            if relation and not record.get("RelationAddress"):
                # Documented: filled from the related record's email when not given.
                record["RelationAddress"] = target.by_id[relation].get("Email")
        elif sobject == "Opportunity":
            stage = self.stages[record["StageName"]]
            if creating or "StageName" in values:
                record["IsClosed"], record["IsWon"] = stage["IsClosed"], stage["IsWon"]
                record["ForecastCategory"] = stage["ForecastCategory"]
                if "ForecastCategoryName" not in values:
                    record["ForecastCategoryName"] = stage["ForecastCategoryName"]
                if "Probability" not in values:  # an explicit probability wins over the stage's
                    record["Probability"] = stage["DefaultProbability"]
            amount, probability = record.get("Amount"), record.get("Probability")
            record["ExpectedRevenue"] = (None if amount is None or probability is None
                                         else amount * probability / 100)

    def _check_updatable(self, sobject: str, record: dict, values: dict) -> None:
        if sobject == "Lead" and record.get("IsConverted"):
            raise ApiError(400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead",
                           [])
        if sobject == "EmailMessage" and record.get("Status") != org.EMAIL_DRAFT:
            # Once an email leaves Draft only a few fields change, and its status only from
            # New to Read.
            locked = [name for name, value in values.items()
                      if name not in _EMAIL_UPDATABLE_AFTER_DRAFT and record.get(name) != value
                      and not (name == "Status" and record.get("Status") == "0" and value == "1")]
            if locked:
                raise ApiError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                               f"Unable to create/update fields: {', '.join(locked)}. Please check "
                               "the security settings of this field and verify that it is "
                               "read/write for your profile or permission set.", locked)

    def _task_account(self, task: dict) -> str | None:
        """Task.AccountId as documented: the What's account (an Account itself, an
        Opportunity's), else the Who's when it is a contact."""
        what = task.get("WhatId")
        if what and what.startswith("001"):
            return what
        if what and what.startswith("006"):
            return self.tables["Opportunity"].by_id[what].get("AccountId")
        who = task.get("WhoId")
        if who and who.startswith("003"):
            return self.tables["Contact"].by_id[who].get("AccountId")
        return None

    def _log_email_activity(self, email: dict, now: datetime) -> None:
        """Enhanced Email logs every email that is not a draft as a completed task of subtype
        Email, linked through ActivityId, on the email's RelatedTo record."""
        if email["Status"] == org.EMAIL_DRAFT:
            return
        table = self.tables["Task"]
        task = {f.name: f.default for f in table.sobject.fields}
        subject = f"Email: {email.get('Subject') or ''}".strip()
        when = email.get("MessageDate") or now
        task.update(Id=table.new_id(), IsDeleted=False, OwnerId=self.user_id, CreatedDate=now,
                    CreatedById=self.user_id, LastModifiedDate=now,
                    LastModifiedById=self.user_id, SystemModstamp=now, Subject=subject[:255],
                    Status="Completed", Priority="Normal", TaskSubtype="Email",
                    ActivityDate=when.date(), WhatId=email.get("RelatedToId"),
                    Description=(email.get("TextBody") or "")[:32000] or None)
        if "CurrencyIsoCode" in task:
            task["CurrencyIsoCode"] = org.CORPORATE_CURRENCY
        self._derive("Task", task, {}, creating=True)
        task["CompletedDateTime"] = now
        table.insert(task)
        self.tables["EmailMessage"].change(email, {"ActivityId": task["Id"]})

    def _relate_email_activity(self, relation: dict, now: datetime) -> None:
        """The first contact or lead an email is related to becomes its task's Who."""
        who = relation.get("RelationId")
        if not who or relation.get("RelationObjectType") not in ("Contact", "Lead"):
            return
        email = self.tables["EmailMessage"].by_id.get(relation["EmailMessageId"])
        task = self.tables["Task"].by_id.get((email or {}).get("ActivityId") or "")
        if task is None or task.get("WhoId"):
            return
        changes = {"WhoId": who, "LastModifiedDate": now, "SystemModstamp": now}
        if not task.get("AccountId") and who.startswith("003"):
            changes["AccountId"] = self.tables["Contact"].by_id[who].get("AccountId")
        self.tables["Task"].change(task, changes)

    def _append_history(self, opp: dict, now: datetime) -> None:
        table = self.tables["OpportunityHistory"]
        row = {f.name: None for f in table.sobject.fields}
        row.update(Id=table.new_id(), IsDeleted=False, OpportunityId=opp["Id"],
                   StageName=opp["StageName"], Amount=opp["Amount"],
                   ExpectedRevenue=opp["ExpectedRevenue"], CloseDate=opp["CloseDate"],
                   Probability=opp["Probability"], ForecastCategory=opp["ForecastCategory"],
                   CreatedDate=now, CreatedById=self.user_id, SystemModstamp=now)
        if "CurrencyIsoCode" in row:
            row["CurrencyIsoCode"] = opp["CurrencyIsoCode"]
        table.insert(row)

    # ---- input coercion ------------------------------------------------------------------

    def coerce(self, sobject: SObject, body: dict, creating: bool) -> dict:
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of "
                           f"{sobject.name} from {_json_kind(body)} value or request may be "
                           "missing a required field")
        values, read_only = {}, []
        for key, value in body.items():
            if key == "attributes":
                continue
            f = sobject.field(key)
            if f is None:
                raise ApiError(400, "INVALID_FIELD",
                               f"No such column '{key}' on sobject of type {sobject.name}")
            if f.name == "Id":
                if creating:
                    raise ApiError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                                   "cannot specify Id in an insert call", ["Id"])
                continue
            if not (f.createable if creating else f.updateable):
                read_only.append(f.name)
                continue
            values[f.name] = self._value(f, value)
        if read_only:
            raise ApiError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                           f"Unable to create/update fields: {', '.join(read_only)}. Please check "
                           "the security settings of this field and verify that it is read/write "
                           "for your profile or permission set.", read_only)
        return values

    def _value(self, f: Field, value):
        if value is None:
            return None
        kind = f.type
        if kind in STRING_TYPES:
            if isinstance(value, (dict, list)):
                raise _parse_error(value, "String")
            value = str(value).lower() if isinstance(value, bool) else str(value)
            if value == "":
                return None
            if len(value) > f.length:
                raise ApiError(400, "STRING_TOO_LONG", f"{f.label}: data value too large: "
                               f"{value[:50]} (max length={f.length})", [f.name])
            if kind == "email" and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
                raise ApiError(400, "INVALID_EMAIL_ADDRESS",
                               f"{f.label}: invalid email address: {value}", [f.name])
            if kind == "picklist" and f.restricted and value not in f.picklist:
                raise ApiError(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                               f"{f.label}: bad value for restricted picklist field: {value}",
                               [f.name])
            return value
        if kind == "boolean":
            if not isinstance(value, bool):
                raise _parse_error(value, "boolean")
            return value
        if kind in NUMBER_TYPES:
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise _parse_error(value, "double")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _parse_error(value, "double")
            return int(value) if kind == "int" else float(value)
        if kind == "date":
            if not isinstance(value, str):
                raise _parse_error(value, "date")
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                raise _parse_error(value, "date")
        if kind == "datetime":
            parsed = parse_datetime(value)
            if parsed is None:
                raise _parse_error(value, "datetime")
            return parsed.replace(microsecond=0)
        if kind in ID_TYPES:
            return self._reference(f, value)
        raise _parse_error(value, kind)

    def _reference(self, f: Field, value) -> str:
        record_id = normalize_id(value) if isinstance(value, str) else None
        if f.polymorphic:
            return self._polymorphic_reference(f, value, record_id)
        target = self.tables[f.reference_to[0]]
        if record_id is None or not record_id.startswith(target.sobject.key_prefix):
            raise ApiError(400, "MALFORMED_ID",
                           f"{f.label}: id value of incorrect type: {value}", [f.name])
        parent = target.by_id.get(record_id)
        if parent is None:
            raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        if parent.get("IsDeleted"):
            raise ApiError(400, "ENTITY_IS_DELETED", "entity is deleted", [f.name])
        return record_id


    def _polymorphic_reference(self, f: Field, value, record_id: str | None) -> str:
        if record_id is None:
            raise ApiError(400, "MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}",
                           [f.name])
        target = next((self.tables[name] for name in f.reference_to
                       if record_id.startswith(self.tables[name].sobject.key_prefix)), None)
        if target is None:
            # An id of an object the lookup cannot point at (an Account as a task's Who).
            raise ApiError(400, "FIELD_INTEGRITY_EXCEPTION",
                           f"{f.label}: id value of incorrect type: {value}", [f.name])
        parent = target.by_id.get(record_id)
        if parent is None:
            raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        if parent.get("IsDeleted"):
            raise ApiError(400, "ENTITY_IS_DELETED", "entity is deleted", [f.name])
        if parent.get("IsConverted"):
            raise ApiError(400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead",
                           [f.name])
        return record_id


class NameView:
    """The records a polymorphic lookup can point at, read through SOQL's Name object:
    `Who.Name`, `Who.Type`, `What.Name`. `.get(id)` answers like a dict of records."""

    def __init__(self, store: Store, targets: list[str]):
        self.tables = [store.tables[name] for name in targets]

    def get(self, record_id, default=None):
        if not record_id:
            return default
        for table in self.tables:
            if record_id.startswith(table.sobject.key_prefix):
                record = table.by_id.get(record_id)
                if record is None:
                    return default
                view = {f.name: record.get(f.name) for f in NAME_OBJECT.fields}
                view["Type"] = table.sobject.name
                return view
        return default


def billing_address(record: dict) -> dict | None:
    """The compound BillingAddress, built from its component fields."""
    parts = {k: record.get(f"Billing{k[0].upper()}{k[1:]}")
             for k in ("city", "country", "postalCode", "state", "street")}
    if not any(parts.values()):
        return None
    return {"city": parts["city"], "country": parts["country"], "geocodeAccuracy": None,
            "latitude": None, "longitude": None, "postalCode": parts["postalCode"],
            "state": parts["state"], "street": parts["street"]}


def _writable(sobject: SObject, verb: str) -> None:
    if not sobject.writable:
        raise ApiError(400, "INVALID_TYPE_FOR_OPERATION",
                       f"entity type cannot be {verb}: {sobject.label}")


def _json_kind(value) -> str:
    return {str: "VALUE_STRING", bool: "VALUE_TRUE" if value else "VALUE_FALSE", list: "START_ARRAY",
            dict: "START_OBJECT", int: "VALUE_NUMBER_INT", float: "VALUE_NUMBER_FLOAT",
            type(None): "VALUE_NULL"}.get(type(value), "VALUE_STRING")


def _parse_error(value, target: str) -> ApiError:
    shown = value if isinstance(value, (str, int, float)) else ""
    return ApiError(400, "JSON_PARSER_ERROR",
                    f"Cannot deserialize instance of {target} from {_json_kind(value)} value "
                    f"{shown} or request may be missing a required field")
