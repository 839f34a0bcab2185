"""sObject Collections under /composite/sobjects: up to 200 records per call, results in
request order, per-item errors with `statusCode`, and allOrNone."""

from __future__ import annotations

from flask import request

from .errors import ApiError
from .query import render_record
from .rest import V, bp, emulator, json_response, read_json, save_options
from .store import normalize_id

MAX_RECORDS = 200
ROLLED_BACK = ApiError(400, "ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because "
                       "not all records were valid and the request was using AllOrNone header")


class UnresolvedId(ApiError):
    """An id that names no record: its item says so without echoing the id, as real orgs do
    (the documented update example's MALFORMED_ID item has no "id")."""


def _failure(record_id: str | None, error: ApiError, **extra) -> dict:
    item = {"id": record_id} if record_id and not isinstance(error, UnresolvedId) else {}
    item.update(success=False, errors=[error.item_error()], **extra)
    return item


def _check_size(count: int) -> None:
    if count > MAX_RECORDS:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                       f"{MAX_RECORDS} records into this call")


def _records_and_mode() -> tuple[list, bool]:
    body = read_json()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of "
                       "SObjectCollectionRequest: 'records' is required")
    _check_size(len(body["records"]))
    return body["records"], bool(body.get("allOrNone", False))


def _table_of(record) -> object:
    if not isinstance(record, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of SObject")
    name = (record.get("attributes") or {}).get("type")
    if not name:
        raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
    table = emulator().store.table(name)
    if table is None:
        raise ApiError(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
    return table


def _existing(table, value) -> dict:
    record_id = normalize_id(value) if isinstance(value, str) else None
    if record_id is None or not record_id.startswith(table.sobject.key_prefix):
        raise UnresolvedId(400, "MALFORMED_ID", f"{table.sobject.label} ID: id value of incorrect "
                           f"type: {value}", ["Id"])
    record = table.by_id.get(record_id)
    if record is None:
        raise UnresolvedId(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
    return record


def _execute(items: list, all_or_none: bool, **failed) -> list[dict]:
    """items: (record id or None, fn(dry_run) -> result dict). Runs them in request order.
    `failed`: what a failed item says besides its errors (an upsert's "created": false)."""
    if emulator().faults.take("lock_rows"):
        return [_failure(rid, ApiError(400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive "
                                       f"access to this record or 1 records: {rid or ''}".rstrip()), **failed)
                for rid, _ in items]
    if all_or_none:
        errors = {}
        for i, (_, fn) in enumerate(items):
            try:
                fn(True)
            except ApiError as exc:
                errors[i] = exc
        if errors:
            return [_failure(rid, errors.get(i, ROLLED_BACK), **failed) for i, (rid, _) in enumerate(items)]
    results = []
    for rid, fn in items:
        try:
            results.append(fn(False))
        except ApiError as exc:
            results.append(_failure(rid, exc, **failed))
    return results


def _ok(record_id: str, **extra) -> dict:
    return {"id": record_id, "success": True, "errors": [], **extra}


@bp.post(V + "/composite/sobjects/", endpoint="collections_create")
def collections_create(version: str):
    records, all_or_none = _records_and_mode()
    store = emulator().store

    def create(record, dry_run):
        table = _table_of(record)
        created = store.create(table, record, dry_run, save)
        return None if dry_run else _ok(created["Id"])
    save = save_options(version)
    return json_response(_execute([(None, lambda d, r=r: create(r, d)) for r in records],
                                  all_or_none))


@bp.patch(V + "/composite/sobjects/", endpoint="collections_update")
def collections_update(version: str):
    records, all_or_none = _records_and_mode()
    store = emulator().store

    def update(record, dry_run):
        table = _table_of(record)
        fields = {k: v for k, v in record.items() if k.lower() != "id"}
        if not record.get("id") and not record.get("Id"):
            raise ApiError(400, "MISSING_ARGUMENT", "Id not specified in an update call")
        target = _existing(table, record.get("id") or record.get("Id"))
        store.update(table, target, fields, dry_run, save)
        return None if dry_run else _ok(target["Id"])
    save = save_options(version)
    items = [((r.get("id") or r.get("Id")) if isinstance(r, dict) else None,
              lambda d, r=r: update(r, d)) for r in records]
    return json_response(_execute(items, all_or_none))


@bp.delete(V + "/composite/sobjects/", endpoint="collections_delete")
def collections_delete(version: str):
    ids = [i for i in request.args.get("ids", "").split(",") if i]
    if not ids:
        raise ApiError(400, "MISSING_ARGUMENT", "ids is not specified")
    _check_size(len(ids))
    all_or_none = request.args.get("allOrNone", "false").lower() == "true"
    store = emulator().store

    def delete(record_id, dry_run):
        normalized = normalize_id(record_id)
        table = store.table_for_id(normalized)
        if table is None:
            raise UnresolvedId(400, "MALFORMED_ID", f"malformed id {record_id}")
        target = _existing(table, record_id)
        store.delete(table, target, dry_run)
        return None if dry_run else _ok(target["Id"])
    return json_response(_execute([(i, lambda d, i=i: delete(i, d)) for i in ids], all_or_none))


MAX_RETRIEVE_POST = 2000


def _retrieve(version: str, sobject: str, ids: list, names: list, limit: int):
    table = emulator().store.table(sobject)
    if table is None:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    if not ids or not names:
        raise ApiError(400, "MISSING_ARGUMENT", "ids and fields are required")
    if len(ids) > limit:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                       f"{limit} records into this call")
    fields = []
    for name in names:
        f = table.sobject.field(name)
        if f is None:
            raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type "
                           f"{table.sobject.name}")
        fields.append(f)
    out = []
    for record_id in ids:
        record = table.by_id.get(normalize_id(record_id) or "")
        live = record is not None and not record.get("IsDeleted")
        out.append(render_record(table.sobject, record, version, fields) if live else None)
    return json_response(out)


@bp.get(V + "/composite/sobjects/<sobject>", endpoint="collections_retrieve")
def collections_retrieve(version: str, sobject: str):
    ids = [i for i in request.args.get("ids", "").split(",") if i]
    names = [n.strip() for n in request.args.get("fields", "").split(",") if n.strip()]
    return _retrieve(version, sobject, ids, names, MAX_RECORDS)


@bp.post(V + "/composite/sobjects/<sobject>", endpoint="collections_retrieve_post")
def collections_retrieve_post(version: str, sobject: str):
    """{"ids": [...], "fields": [...]} in the body: up to 2,000 records, for id lists too long
    for a URL (documented: "Get Records With a Request Body Using sObject Collections")."""
    body = read_json()
    if not isinstance(body, dict) or not isinstance(body.get("ids"), list) or not isinstance(body.get("fields"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of "
                       "SObjectCollectionRetrieveRequest: 'ids' and 'fields' are required lists")
    ids = [i for i in body["ids"] if isinstance(i, str) and i]
    names = [n.strip() for n in body["fields"] if isinstance(n, str) and n.strip()]
    return _retrieve(version, sobject, ids, names, MAX_RETRIEVE_POST)


@bp.patch(V + "/composite/sobjects/<sobject>/<field_name>", endpoint="collections_upsert")
def collections_upsert(version: str, sobject: str, field_name: str):
    table = emulator().store.table(sobject)
    if table is None:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    f = table.sobject.field(field_name)
    if f is None or not (f.external_id or f.id_lookup):
        raise ApiError(404, "NOT_FOUND", "Provided external ID field does not exist or is not "
                       f"accessible: {field_name}")
    records, all_or_none = _records_and_mode()
    store = emulator().store

    def upsert(record, dry_run):
        if _table_of(record) is not table:
            raise ApiError(400, "INVALID_TYPE", "Must send records of a single entity type.")
        value = next((v for k, v in record.items() if k.lower() == f.name.lower()), None)
        if value in (None, ""):
            raise ApiError(400, "MISSING_ARGUMENT", f"{f.name} not specified")
        matches = table.lookup(f.name, str(value))
        if len(matches) > 1:
            raise ApiError(300, "DUPLICATE_EXTERNAL_ID", f"{f.label}: more than one record "
                           f"found for external id field: {[m['Id'] for m in matches]}", [f.name])
        if matches:
            rest = {k: v for k, v in record.items() if k.lower() != f.name.lower()}
            store.update(table, matches[0], rest, dry_run, save)
            return None if dry_run else _ok(matches[0]["Id"], created=False)
        created = store.create(table, record, dry_run, save)
        return None if dry_run else _ok(created["Id"], created=True)
    save = save_options(version)
    # A failed upsert item says "created": false (the documented upsert example's failures).
    return json_response(_execute([(None, lambda d, r=r: upsert(r, d)) for r in records],
                                  all_or_none, created=False))
