"""The REST API under /services/data/: versions, query and queryMore, sObjects, limits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from flask import Blueprint, Response, current_app, g, request
from werkzeug.http import http_date, parse_date
from werkzeug.routing import BaseConverter

from . import query as soql_query
from .duplicates import SaveOptions, allow_save_header
from .errors import ApiError, invalid_session, not_found
from .query import format_datetime, render_record
from .store import Table, normalize_id, now_utc, parse_datetime

bp = Blueprint("rest", __name__, url_prefix="/services/data")
V = "/<version:version>"


class VersionConverter(BaseConverter):
    """`v59.0` in a path, handed to views as `59.0`."""
    regex = r"v\d+\.\d"

    def to_python(self, value: str) -> str:
        return value[1:]

    def to_url(self, value: str) -> str:
        return "v" + value


def emulator():
    return current_app.emulator


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return Response(text, status, headers, content_type="application/json;charset=UTF-8")


def read_json():
    raw = request.get_data(as_text=True)
    if not raw.strip():
        raise ApiError(400, "JSON_PARSER_ERROR", "No content to map due to end-of-input")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "JSON_PARSER_ERROR",
                       f"Unexpected character ('{raw[exc.pos:exc.pos + 1]}'): {exc.msg} at "
                       f"[line:{exc.lineno}, column:{exc.colno}]")


@bp.before_request
def authenticate():
    """Bearer session, then the org's API allowance; every data call counts against it."""
    if request.endpoint == "rest.versions":
        return None
    em = emulator()
    version = (request.view_args or {}).get("version")
    if version is not None and version not in em.versions:
        raise not_found()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    grant = em.tokens.session(token.strip()) if scheme.lower() in ("bearer", "oauth") else None
    if grant is None:
        raise invalid_session()
    g.grant = grant
    g.limit_info = True
    used = em.api_used
    fail_after = em.faults.fail_after
    if used >= em.options.api_daily_limit or (fail_after is not None and used >= fail_after):
        raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    em.api_used += 1
    return None


@bp.after_request
def limit_info(response: Response) -> Response:
    if g.get("limit_info"):
        em = emulator()
        response.headers["Sforce-Limit-Info"] = f"api-usage={em.api_used}/{em.options.api_daily_limit}"
    return response


def save_options(version: str) -> SaveOptions:
    """The request's Duplicate Rule Header (API 52.0 and later), for the org's duplicate rules."""
    header = request.headers.get("Sforce-Duplicate-Rule-Header") if float(version) >= 52 else None
    return SaveOptions(version, allow_save_header(header))


def lock_fault(record_id: str | None = None) -> None:
    if emulator().faults.take("lock_rows"):
        raise ApiError(400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this "
                       f"record or 1 records: {record_id or ''}".rstrip(), [])


# ---- discovery -----------------------------------------------------------------------------

@bp.get("/", endpoint="versions")
def versions():
    return json_response([{"label": label, "url": f"/services/data/v{v}", "version": v}
                          for v, label in emulator().versions.items()])


@bp.get(V + "/", endpoint="resources")
def resources(version: str):
    base = f"/services/data/v{version}"
    names = ["tooling", "metadata", "eclair", "folders", "prechatForms", "chatter", "tabs",
             "appMenu", "quickActions", "queryAll", "commerce", "wave", "iot", "analytics",
             "search", "identity", "composite", "parameterizedSearch", "fingerprint", "theme",
             "nouns", "recent", "licensing", "limits", "process", "async-queries", "query",
             "match", "emailConnect", "compactLayouts", "knowledgeManagement", "sobjects",
             "actions", "support"]
    body = {n: f"{base}/{n}" for n in names}
    body["identity"] = f"{request.url_root.rstrip('/')}/id/{emulator().org_id}/{g.grant.user_id}"
    return json_response(body)


@bp.get(V + "/limits/", endpoint="limits")
def limits(version: str):
    em = emulator()
    limit = em.options.api_daily_limit
    body = {
        "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        "ConcurrentSyncReportRuns": {"Max": 20, "Remaining": 20},
        "DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - em.api_used)},
        "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
        "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
        "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
        "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
        "DailyGenericStreamingApiEvents": {"Max": 10000, "Remaining": 10000},
        "DailyStreamingApiEvents": {"Max": 10000, "Remaining": 10000},
        "DataStorageMB": {"Max": 5, "Remaining": 5},
        "FileStorageMB": {"Max": 20, "Remaining": 20},
        "HourlyTimeBasedWorkflow": {"Max": 50, "Remaining": 50},
        "SingleEmail": {"Max": 15, "Remaining": 15},
    }
    return json_response(body)


# ---- query ---------------------------------------------------------------------------------

def page_size(long_text: bool) -> int:
    """`Sforce-Query-Options: batchSize=N` (200..2000); long text columns halve the page."""
    size = 2000
    for option in request.headers.get("Sforce-Query-Options", "").split(","):
        name, _, value = option.partition("=")
        if name.strip().lower() == "batchsize" and value.strip().isdigit():
            size = min(2000, max(200, int(value.strip())))
    return min(size, 1000) if long_text else size


def run_query(version: str, include_deleted: bool):
    text = request.args.get("q", "")
    if not text.strip():
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    em = emulator()
    bound = soql_query.compile_query(text, em.store)
    rows = soql_query.run(bound, include_deleted)
    rows = rows[bound.offset:] if bound.offset else rows
    if bound.limit is not None:
        rows = rows[:bound.limit]
    if bound.count_only:
        return json_response({"totalSize": len(rows), "done": True, "records": []})
    resource = "queryAll" if include_deleted else "query"
    body = em.cursors.first_page(rows, bound.root, version, resource, page_size(bound.long_text))
    return json_response(body)


@bp.get(V + "/query/", endpoint="query")
def query(version: str):
    return run_query(version, include_deleted=False)


@bp.get(V + "/queryAll/", endpoint="query_all")
def query_all(version: str):
    return run_query(version, include_deleted=True)


@bp.get(V + "/query/<locator>", endpoint="query_more")
@bp.get(V + "/queryAll/<locator>", endpoint="query_more")
def query_more(version: str, locator: str):
    return json_response(emulator().cursors.next_page(locator, version))


# ---- sObjects ------------------------------------------------------------------------------

def table_for(name: str) -> Table:
    table = emulator().store.table(name)
    if table is None:
        raise not_found()
    return table


def record_for(table: Table, record_id: str, include_deleted: bool = False) -> dict:
    normalized = normalize_id(record_id)
    if normalized is None:
        raise ApiError(404, "NOT_FOUND", "Provided external ID field does not exist or is not "
                       f"accessible: {record_id}")
    record = table.by_id.get(normalized)
    if record is None or (record.get("IsDeleted") and not include_deleted):
        raise not_found()
    return record


def location(version: str, sobject: str, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{sobject}/{record_id}"


@bp.get(V + "/sobjects/", endpoint="describe_global")
def describe_global(version: str):
    em = emulator()
    return json_response({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
        s.summary(version) for s in em.store.visible()]})


@bp.get(V + "/sobjects/<sobject>/", endpoint="sobject_info")
def sobject_info(version: str, sobject: str):
    table = table_for(sobject)
    recent = [{"attributes": {"type": table.sobject.name,
                              "url": location(version, table.sobject.name, r["Id"])},
               "Id": r["Id"], "Name": r.get("Name")}
              for r in table.records[-3:][::-1] if not r.get("IsDeleted")]
    return json_response({"objectDescribe": table.sobject.summary(version), "recentItems": recent})


@bp.get(V + "/sobjects/<sobject>/describe/", endpoint="sobject_describe")
def sobject_describe(version: str, sobject: str):
    table = table_for(sobject)
    started = emulator().started
    since = parse_date(request.headers.get("If-Modified-Since"))
    headers = {"Last-Modified": http_date(started), "ETag": f'"{emulator().org_id[-8:]}{version}"'}
    if since is not None and since >= started:
        return Response(status=304, headers=headers)
    return json_response(table.sobject.describe(version), headers=headers)


@bp.post(V + "/sobjects/<sobject>/", endpoint="sobject_create")
def sobject_create(version: str, sobject: str):
    table = table_for(sobject)
    body = read_json()
    lock_fault()
    record = emulator().store.create(table, body, save=save_options(version))
    url = location(version, table.sobject.name, record["Id"])
    return json_response({"id": record["Id"], "success": True, "errors": []}, 201,
                         {"Location": url})


@bp.get(V + "/sobjects/<sobject>/<record_id>", endpoint="sobject_get")
def sobject_get(version: str, sobject: str, record_id: str):
    table = table_for(sobject)
    record = record_for(table, record_id)
    fields = table.sobject.fields
    if request.args.get("fields"):
        fields = []
        for name in request.args["fields"].split(","):
            f = table.sobject.field(name.strip())
            if f is None:
                raise ApiError(400, "INVALID_FIELD", f"No such column '{name.strip()}' on "
                               f"sobject of type {table.sobject.name}")
            fields.append(f)
    stamp = record["SystemModstamp"]
    headers = {"Last-Modified": http_date(stamp), "ETag": f'"{int(stamp.timestamp())}{record["Id"][-6:]}"'}
    return json_response(render_record(table.sobject, record, version, fields), headers=headers)


@bp.patch(V + "/sobjects/<sobject>/<record_id>", endpoint="sobject_update")
def sobject_update(version: str, sobject: str, record_id: str):
    table = table_for(sobject)
    record = record_for(table, record_id, include_deleted=True)
    body = read_json()
    lock_fault(record["Id"])
    emulator().store.update(table, record, body, save=save_options(version))
    return Response(status=204)


@bp.delete(V + "/sobjects/<sobject>/<record_id>", endpoint="sobject_delete")
def sobject_delete(version: str, sobject: str, record_id: str):
    table = table_for(sobject)
    record = record_for(table, record_id, include_deleted=True)
    lock_fault(record["Id"])
    emulator().store.delete(table, record)
    return Response(status=204)


def external_field(table: Table, name: str):
    f = table.sobject.field(name)
    if f is None or not (f.external_id or f.id_lookup):
        raise ApiError(404, "NOT_FOUND", "Provided external ID field does not exist or is not "
                       f"accessible: {name}")
    return f


@bp.get(V + "/sobjects/<sobject>/<field_name>/<path:value>", endpoint="sobject_get_by_external_id")
def sobject_get_by_external_id(version: str, sobject: str, field_name: str, value: str):
    table = table_for(sobject)
    f = external_field(table, field_name)
    matches = table.lookup(f.name, value)
    if not matches:
        raise not_found()
    if len(matches) > 1:
        return json_response([location(version, table.sobject.name, r["Id"]) for r in matches], 300)
    return json_response(render_record(table.sobject, matches[0], version, table.sobject.fields))


@bp.patch(V + "/sobjects/<sobject>/<field_name>/<path:value>", endpoint="sobject_upsert")
def sobject_upsert(version: str, sobject: str, field_name: str, value: str):
    table = table_for(sobject)
    f = external_field(table, field_name)
    body = read_json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k.lower() != f.name.lower()}
    matches = table.lookup(f.name, value)
    if len(matches) > 1:
        return json_response([location(version, table.sobject.name, r["Id"]) for r in matches], 300)
    store = emulator().store
    if matches:
        lock_fault(matches[0]["Id"])
        store.update(table, matches[0], body, save=save_options(version))
        # Real orgs send Location on an update too (recorded answer of an upsert that updated).
        headers = {"Location": location(version, table.sobject.name, matches[0]["Id"])}
        if float(version) < 46:
            return Response(status=204, headers=headers)
        return json_response({"id": matches[0]["Id"], "success": True, "errors": [],
                              "created": False}, 200, headers)
    if f.name == "Id" or request.args.get("updateOnly", "").lower() == "true":
        raise not_found()
    lock_fault()
    record = store.create(table, dict(body, **{f.name: value}) if isinstance(body, dict) else body,
                          save=save_options(version))
    result = {"id": record["Id"], "success": True, "errors": []}
    if float(version) >= 46:
        result["created"] = True
    return json_response(result, 201, {"Location": location(version, table.sobject.name,
                                                              record["Id"])})


# ---- replication: getUpdated / getDeleted ------------------------------------------------------

def replication_window(max_days: int) -> tuple[datetime, datetime]:
    values = []
    for name in ("start", "end"):
        raw = request.args.get(name)
        if not raw:
            raise ApiError(400, "MISSING_ARGUMENT", f"{name} is not specified")
        parsed = parse_datetime(raw)
        if parsed is None:
            raise ApiError(400, "INVALID_REPLICATION_DATE", f"{name} is not a valid dateTime: {raw}")
        values.append(parsed.replace(second=0))  # Salesforce truncates the seconds
    start, end = values
    now = now_utc()
    if end < start:
        raise ApiError(400, "INVALID_REPLICATION_DATE", "EndDate can not be before StartDate")
    if start < now - timedelta(days=max_days):
        raise ApiError(400, "INVALID_REPLICATION_DATE",
                       f"startDate cannot be more than {max_days} days ago")
    return start, min(end, now.replace(second=0))


@bp.get(V + "/sobjects/<sobject>/updated/", endpoint="sobject_updated")
def sobject_updated(version: str, sobject: str):
    table = table_for(sobject)
    start, end = replication_window(30)
    ids = [r["Id"] for r in table.records
           if start <= r["SystemModstamp"] < end and not r.get("IsDeleted")]
    return json_response({"ids": ids, "latestDateCovered": format_datetime(end)})


@bp.get(V + "/sobjects/<sobject>/deleted/", endpoint="sobject_deleted")
def sobject_deleted(version: str, sobject: str):
    table = table_for(sobject)
    start, end = replication_window(15)
    deleted_at = emulator().store.deleted_at
    rows = sorted((deleted_at[r["Id"]], r["Id"]) for r in table.records if r.get("IsDeleted")
                  and r["Id"] in deleted_at and start <= deleted_at[r["Id"]] < end)
    earliest = now_utc().replace(second=0) - timedelta(days=15)
    return json_response({
        "deletedRecords": [{"id": rid, "deletedDate": format_datetime(when)} for when, rid in rows],
        "earliestDateAvailable": format_datetime(earliest),
        "latestDateCovered": format_datetime(end)})
