"""A thin REST client for Salesforce: query streams, sObjects, Collections, describe, limits.

Every call: a live token from the Authenticator; on 401 INVALID_SESSION_ID one refresh and one
retry; bounded retries with backoff and jitter on 5xx, edge HTML pages, UNABLE_TO_LOCK_ROW and
network errors; never on REQUEST_LIMIT_EXCEEDED; ``Sforce-Limit-Info`` read every time.
A create (POST) is never sent twice blindly: Salesforce may have committed it before a 5xx, an
edge page or a dropped connection, so those raise MaybeWritten and the caller looks it up.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import requests

from webapp.salesforce.auth import Authenticator
from webapp.salesforce.errors import (
    BadQuery,
    DuplicatesDetected,
    MaybeWritten,
    NotFound,
    RateLimited,
    ReconnectNeeded,
    RequestFailed,
    Unavailable,
    duplicate_matches,
)

API_VERSION = "66.0"  # when no version was negotiated with the org (see versions.py)
COLLECTION_SIZE = 200
USAGE_RE = re.compile(r"api-usage=(\d+)/(\d+)")
BAD_QUERY_CODES = {"MALFORMED_QUERY", "INVALID_FIELD", "INVALID_TYPE", "INVALID_QUERY_FILTER_OPERATOR", "INVALID_QUERY_LOCATOR"}
RETRYABLE_CODES = {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"}
TOO_LONG = {414: "URI", 431: "request headers"}  # over 16,384 bytes: never worth resending
DUPLICATE_RULE_HEADER = "Sforce-Duplicate-Rule-Header"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        # Full jitter: spread retries of many clients over the whole window.
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


@dataclass(frozen=True)
class ApiUsage:
    used: int
    limit: int


def _errors(response: requests.Response) -> list[dict]:
    try:
        body = response.json()
    except ValueError:
        return []
    if isinstance(body, list):
        return [e for e in body if isinstance(e, dict)]
    if isinstance(body, dict) and "errorCode" in body:
        return [body]
    return []


def _refused(response: requests.Response) -> bool:
    """Salesforce's own error saying the write was not made (a row lock rolls it back), so
    even a create may be sent again. A 5xx or an edge page proves nothing of the kind."""
    return any(e.get("errorCode") == "UNABLE_TO_LOCK_ROW" for e in _errors(response))


def _is_html(response: requests.Response) -> bool:
    """An HTML page where JSON was due: what Salesforce's edge serves when it cannot route."""
    if response.status_code == 204 or not response.content:
        return False
    return "html" in response.headers.get("Content-Type", "").lower() or response.content.lstrip()[:1] == b"<"


class SalesforceClient:
    def __init__(
        self,
        auth: Authenticator,
        *,
        api_version: str = API_VERSION,
        http: requests.Session | None = None,
        timeout: tuple[float, float] = (5, 60),
        retry: RetryPolicy = RetryPolicy(),
        on_usage: Callable[[ApiUsage], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        describe_cache=None,
        allow_duplicate_save: bool = False,
    ):
        self.auth = auth
        self.api_version = api_version
        self.http = http or requests.Session()
        self.timeout = timeout
        self.retry = retry
        self.on_usage = on_usage
        self.sleep = sleep
        self.describe_cache = describe_cache  # a cachelib cache, shared by processes if wanted
        # Writes tell Salesforce to save past duplicate rules that only alert (blocking rules
        # still refuse).
        self.allow_duplicate_save = allow_duplicate_save
        self._describes: dict[str, dict] = {}
        self._describe_lock = threading.Lock()
        self.calls = 0
        self.usage: ApiUsage | None = None

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def base_path(self) -> str:
        return f"/services/data/v{self.api_version}"

    def request(self, method: str, path: str, *, params=None, json=None, headers=None, retry_writes: bool = True) -> requests.Response:
        """One API call with refresh, retries and typed errors. ``path`` may be a full
        ``/services/…`` path (as in ``nextRecordsUrl``) or relative to the API version."""
        if not path.startswith("/services/"):
            path = f"{self.base_path}/{path.lstrip('/')}"
        token = self.auth.token()
        refreshed = False
        attempt = 0
        resendable = method == "GET" or retry_writes  # a read, or a write that is safe twice
        if self.allow_duplicate_save and method in ("POST", "PATCH"):
            headers = {DUPLICATE_RULE_HEADER: "allowSave=true", **(headers or {})}
        while True:
            try:
                response = self.http.request(
                    method,
                    token.instance_url + path,
                    params=params,
                    json=json,
                    headers={"Authorization": f"Bearer {token.access_token}", "Accept": "application/json", **(headers or {})},
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                # A write that timed out may have happened; only retry reads and idempotent writes.
                if attempt + 1 < self.retry.attempts and resendable:
                    self.sleep(self.retry.delay(attempt))
                    attempt += 1
                    continue
                if not resendable:
                    raise MaybeWritten(f"Salesforce did not answer ({exc.__class__.__name__}); the write may have "
                                       "been made, so it is looked up before it is sent again.") from exc
                raise Unavailable(f"Salesforce did not answer ({exc.__class__.__name__}).") from exc
            self.calls += 1
            self._read_usage(response)
            if response.status_code == 401 and not refreshed:
                token = self.auth.renew(token)
                refreshed = True
                continue
            if response.status_code in TOO_LONG:
                raise RequestFailed(f"The request is too long for Salesforce (HTTP {response.status_code}: the "
                                    f"{TOO_LONG[response.status_code]} must stay under 16,384 bytes).",
                                    code="URI_TOO_LONG" if response.status_code == 414 else "HEADERS_TOO_LARGE",
                                    status=response.status_code)
            if self._retryable(response) and attempt + 1 < self.retry.attempts and (resendable or _refused(response)):
                self.sleep(self.retry.delay(attempt))
                attempt += 1
                continue
            if response.status_code >= 400 or _is_html(response):
                self._raise(response, may_have_written=not (resendable or _refused(response)))
            return response

    def _retryable(self, response: requests.Response) -> bool:
        if response.status_code >= 500 or response.status_code == 420:
            return True
        if _is_html(response):
            return True
        return any(e.get("errorCode") in RETRYABLE_CODES for e in _errors(response))

    def _read_usage(self, response: requests.Response) -> None:
        match = USAGE_RE.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.usage = ApiUsage(int(match.group(1)), int(match.group(2)))
            if self.on_usage:
                self.on_usage(self.usage)

    def _raise(self, response: requests.Response, *, may_have_written: bool = False):
        status = response.status_code
        errors = _errors(response)
        first = errors[0] if errors else {}
        code = first.get("errorCode")
        message = (first.get("message") or "").strip()
        if may_have_written and (status >= 500 or status == 420 or _is_html(response)):
            raise MaybeWritten(
                f"Salesforce did not confirm the write (HTTP {status}{', ' + code if code else ''}); it may have "
                "been made, so it is looked up before it is sent again.",
                code=code,
                status=status,
            )
        if status >= 500 or status == 420 or _is_html(response) or code in RETRYABLE_CODES:
            raise Unavailable(
                f"Salesforce is unavailable (HTTP {status}{', ' + code if code else ''}); try again later.",
                code=code,
                status=status,
            )
        if status == 401:
            reason = f"Salesforce rejected the session even after a refresh: {message}"
            # A fresh token refused: the user lost API access or the app was blocked. Say so
            # everywhere the connection's state shows, not only to this caller.
            self.auth.store.reconnect_needed(reason)
            raise ReconnectNeeded(reason, code=code, status=status)
        if code == "REQUEST_LIMIT_EXCEEDED":
            raise RateLimited(f"The org's Salesforce API limit is reached: {message}", code=code, status=status)
        if code in BAD_QUERY_CODES:
            raise BadQuery(message or "Salesforce rejected the query.", code=code, status=status)
        if code == "DUPLICATES_DETECTED":
            result = first.get("duplicateResult") or {}
            raise DuplicatesDetected(message or "Salesforce's duplicate rules refused the record.",
                                     matches=duplicate_matches(first), allow_save=bool(result.get("allowSave")),
                                     status=status)
        if status == 404:
            raise NotFound(message or "The requested resource does not exist", code=code or "NOT_FOUND", status=status)
        raise RequestFailed(
            message or f"Salesforce refused the request (HTTP {status}).",
            code=code,
            status=status,
            fields=first.get("fields"),
        )

    # -- queries ------------------------------------------------------------------------------

    def query_pages(self, soql: str, *, include_deleted: bool = False, batch_size: int | None = None) -> Iterator[dict]:
        """Each page of a query as Salesforce returns it, following ``nextRecordsUrl``."""
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else None
        page = self.request(
            "GET", "queryAll" if include_deleted else "query", params={"q": soql}, headers=headers
        ).json()
        yield page
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = self.request("GET", page["nextRecordsUrl"], headers=headers).json()
            yield page

    def query(self, soql: str, **kwargs) -> Iterator[dict]:
        """Records one by one, pages fetched as they are needed."""
        for page in self.query_pages(soql, **kwargs):
            yield from page.get("records", [])

    def query_all(self, soql: str, **kwargs) -> Iterator[dict]:
        """Like ``query`` but soft-deleted and archived records too (``IsDeleted``)."""
        return self.query(soql, include_deleted=True, **kwargs)

    def count(self, soql: str) -> int:
        return int(self.request("GET", "query", params={"q": soql}).json()["totalSize"])

    # -- sObjects -----------------------------------------------------------------------------

    def get(self, sobject: str, record_id: str, fields: Iterable[str] | None = None) -> dict:
        params = {"fields": ",".join(fields)} if fields else None
        return self.request("GET", f"sobjects/{sobject}/{quote(record_id, safe='')}", params=params).json()

    def create(self, sobject: str, data: dict) -> str:
        return self.request("POST", f"sobjects/{sobject}/", json=data, retry_writes=False).json()["id"]

    def update(self, sobject: str, record_id: str, data: dict) -> None:
        self.request("PATCH", f"sobjects/{sobject}/{quote(record_id, safe='')}", json=data)

    def upsert(self, sobject: str, field: str, value: str, data: dict) -> tuple[str, bool]:
        """Create or update by an external id; returns (id, created)."""
        response = self.request("PATCH", f"sobjects/{sobject}/{field}/{quote(str(value), safe='')}", json=data)
        if response.status_code == 300:
            raise RequestFailed(f"Several {sobject} records have {field} = {value}.", code="MULTIPLE_CHOICES", status=300)
        body = response.json() if response.content else {}
        return body.get("id", ""), bool(body.get("created", response.status_code == 201))

    def delete(self, sobject: str, record_id: str) -> None:
        self.request("DELETE", f"sobjects/{sobject}/{quote(record_id, safe='')}")

    def collection(self, method: str, records: list[dict], *, all_or_none: bool = False, external_id: str | None = None, sobject: str | None = None) -> list[dict]:
        """sObject Collections in batches of 200; one result per record, in order."""
        results: list[dict] = []
        path = "composite/sobjects" + (f"/{sobject}/{external_id}" if external_id else "")
        for start in range(0, len(records), COLLECTION_SIZE):
            batch = records[start : start + COLLECTION_SIZE]
            body = {"allOrNone": all_or_none, "records": batch}
            results.extend(self.request(method, path, json=body, retry_writes=method != "POST").json())
        return results

    def delete_many(self, ids: list[str], *, all_or_none: bool = False) -> list[dict]:
        results: list[dict] = []
        for start in range(0, len(ids), COLLECTION_SIZE):
            batch = ids[start : start + COLLECTION_SIZE]
            params = {"ids": ",".join(batch), "allOrNone": str(all_or_none).lower()}
            results.extend(self.request("DELETE", "composite/sobjects", params=params).json())
        return results

    # -- metadata -----------------------------------------------------------------------------

    def describe(self, sobject: str) -> dict:
        """The object's describe, cached in the process and in ``describe_cache`` for an hour."""
        key = f"describe:{self.auth.token().instance_url}:{sobject}"
        with self._describe_lock:
            if sobject in self._describes:
                return self._describes[sobject]
        cached = self.describe_cache.get(key) if self.describe_cache is not None else None
        if cached is None:
            cached = self.request("GET", f"sobjects/{sobject}/describe").json()
            if self.describe_cache is not None:
                self.describe_cache.set(key, cached, timeout=3600)
        with self._describe_lock:
            self._describes[sobject] = cached
        return cached

    def limits(self) -> dict:
        return self.request("GET", "limits").json()

    def userinfo(self) -> dict:
        return self.request("GET", "/services/oauth2/userinfo").json()
