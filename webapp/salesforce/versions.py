"""Which REST API version to speak: the newest one the org offers that this project is tested
with, or the admin's choice. Salesforce serves ``GET /services/data/`` without a session."""

from __future__ import annotations

import requests

from webapp.salesforce.errors import RequestFailed, Unavailable

NEWEST_TESTED = "66.0"  # Spring '26
OLDEST_SUPPORTED = "52.0"  # Summer '21: every call the product makes exists there
TIMEOUT = (5, 15)


def _number(version: str) -> float:
    return float(str(version).lstrip("vV"))


def offered(instance_url: str, *, http: requests.Session | None = None) -> list[str]:
    """The versions the org serves, oldest first."""
    try:
        response = (http or requests).get(f"{instance_url.rstrip('/')}/services/data/", timeout=TIMEOUT,
                                          headers={"Accept": "application/json"})
        body = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError) as exc:
        raise Unavailable(f"Salesforce did not list its API versions ({exc.__class__.__name__}).") from exc
    if not isinstance(body, list):
        raise Unavailable(f"Salesforce did not list its API versions (HTTP {response.status_code}).")
    return sorted((str(v["version"]) for v in body if isinstance(v, dict) and v.get("version")), key=_number)


def choose(available: list[str], pinned: str | None = None) -> str:
    """The version to use among those the org offers."""
    if pinned:
        pinned = pinned.lstrip("vV")
        if pinned not in available:
            raise RequestFailed(f"The org does not offer API version {pinned}; it offers {available[0]} to "
                                f"{available[-1]}." if available else f"The org does not offer API version {pinned}.",
                                code="UNSUPPORTED_API_VERSION")
        return pinned
    usable = [v for v in available if _number(OLDEST_SUPPORTED) <= _number(v) <= _number(NEWEST_TESTED)]
    if not usable:
        newest = available[-1] if available else "none"
        raise RequestFailed(f"The org's newest API version is {newest}; this app needs {OLDEST_SUPPORTED} or newer.",
                            code="UNSUPPORTED_API_VERSION")
    return usable[-1]


def valid_pin(value: str) -> bool:
    try:
        number = _number(value)
    except ValueError:
        return False
    return number == int(number) and _number(OLDEST_SUPPORTED) <= number
