"""Typed Salesforce failures, each with a message a person can act on."""

from __future__ import annotations


class SalesforceError(Exception):
    """Any failure talking to Salesforce. ``code`` is Salesforce's errorCode when there is one."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class ReconnectNeeded(SalesforceError):
    """The refresh token was revoked or expired: an admin has to connect again."""


class AuthenticationFailed(SalesforceError):
    """The consumer key or secret, or the login URL, is wrong (the setup, not the user)."""


class RateLimited(SalesforceError):
    """The org's API allowance is used up (REQUEST_LIMIT_EXCEEDED). Never retried."""


class BadQuery(SalesforceError):
    """MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE and the like: our request is wrong."""


class NotFound(SalesforceError):
    """The record or resource does not exist (or is not shared with the connected user)."""


class Unavailable(SalesforceError):
    """Salesforce could not be reached or kept failing (5xx, edge pages, timeouts)."""


class MaybeWritten(Unavailable):
    """A create got no clear answer (5xx, an edge page, a dropped connection): Salesforce may
    have made it. Never sent again blindly; the outbox looks it up first."""


class RequestFailed(SalesforceError):
    """Salesforce refused the request for another reason (validation, permissions, …)."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, fields=None):
        super().__init__(message, code=code, status=status)
        self.fields = list(fields or [])


class DuplicatesDetected(RequestFailed):
    """An org's duplicate rule refused the save (DUPLICATES_DETECTED). ``matches`` are the
    (sObject, Id) pairs Salesforce says it duplicates; ``allow_save`` is true when the rule
    only alerts, so the Duplicate Rule Header's allowSave would have saved it."""

    def __init__(self, message: str, *, matches=(), allow_save: bool = False, status: int | None = None):
        super().__init__(message, code="DUPLICATES_DETECTED", status=status)
        self.matches = list(matches)
        self.allow_save = allow_save


def duplicate_matches(error: dict) -> list[tuple[str, str]]:
    """The (sObject, Id) pairs of one error's ``duplicateResult``, in Salesforce's order."""
    result = error.get("duplicateResult") if isinstance(error, dict) else None
    pairs: list[tuple[str, str]] = []
    for match in (result or {}).get("matchResults") or []:
        for item in match.get("matchRecords") or []:
            record = item.get("record") or {}
            sobject = (record.get("attributes") or {}).get("type") or match.get("entityType")
            if record.get("Id") and sobject:
                pairs.append((sobject, record["Id"]))
    return pairs


OAUTH_MESSAGES = {
    "invalid_client_id": "Salesforce does not know this consumer key. Check the consumer key.",
    "invalid_client": "Salesforce refused the consumer key and secret. Check the consumer secret.",
    "redirect_uri_mismatch": "The callback URL does not match the one in Salesforce. Copy the callback URL shown here into the app's settings in Salesforce.",
    "access_denied": "Access was not granted in Salesforce.",
    "unsupported_grant_type": "This Salesforce app does not allow this kind of connection. Check its OAuth settings.",
    "inactive_user": "The Salesforce user is inactive.",
    "inactive_org": "The Salesforce org is inactive or locked.",
    "rate_limit_exceeded": "Salesforce is limiting logins right now; try again in a few minutes.",
}


def oauth_error(error: str | None, description: str | None, *, during: str) -> SalesforceError:
    """Map an OAuth error pair to a typed error with a plain-words message."""
    error = error or "unknown_error"
    detail = f"{error}: {description}" if description else error
    if error == "invalid_grant" and during == "refresh":
        return ReconnectNeeded(
            f"Salesforce no longer accepts the saved refresh token ({detail}). Reconnect Salesforce.",
            code=error,
        )
    if error == "invalid_grant":
        return AuthenticationFailed(f"Salesforce refused the authorization ({detail}). Try connecting again.", code=error)
    message = OAUTH_MESSAGES.get(error, "Salesforce refused the request.")
    return AuthenticationFailed(f"{message} ({detail})", code=error)
