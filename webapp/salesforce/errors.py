"""Typed Salesforce failures, each with a message a person can act on."""

from __future__ import annotations

import re


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


# What a person can do about a record Salesforce refused, by its statusCode. The code itself
# stays visible beside the sentence: it is what a Salesforce admin searches for.
RECORD_ACTIONS = {
    "REQUIRED_FIELD_MISSING": "Fill in the fields Salesforce requires and save again.",
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": "A validation rule of your Salesforce org refused it: change the values it names and save again, or ask your Salesforce admin about the rule.",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": "Choose a value Salesforce offers (for a deal, one of the org's stages) and save again.",
    "BAD_VALUE_FOR_RESTRICTED_PICKLIST": "Choose a value Salesforce offers (for a deal, one of the org's stages) and save again.",
    "STRING_TOO_LONG": "Shorten the value it names and save again.",
    "NUMBER_OUTSIDE_VALID_RANGE": "Check the amount: Salesforce takes it only within the field's range.",
    "INVALID_TYPE_ON_FIELD_IN_RECORD": "Check the amount and the close date, then save again.",
    "INSUFFICIENT_ACCESS_OR_READONLY": "The Salesforce integration user may not edit this record: ask your Salesforce admin for edit access to Opportunities, then retry.",
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": "The Salesforce integration user may not use the account or owner it points at: ask your Salesforce admin for access, then retry.",
    "INVALID_FIELD_FOR_INSERT_UPDATE": "The Salesforce integration user may not write one of the fields: ask your Salesforce admin for edit access, or set that field to Not synced.",
    "INVALID_CROSS_REFERENCE_KEY": "The account or contact it points at is no longer in Salesforce: pick another contact, or run a sync, then save again.",
    "ENTITY_IS_DELETED": "The record was deleted in Salesforce: pick another contact, or run a sync, then save again.",
    "DUPLICATE_VALUE": "Salesforce already has a record with this unique value: check for a duplicate opportunity before retrying.",
    "DUPLICATES_DETECTED": "A duplicate rule of your Salesforce org flagged it: check for an existing opportunity, or ask your Salesforce admin.",
    "UNABLE_TO_LOCK_ROW": "Salesforce was busy with this record: retry in a minute.",
    "CANNOT_UPDATE_CONVERTED_LEAD": "The lead was converted in Salesforce: use the contact it became.",
}
DEFAULT_RECORD_ACTION = "Fix the record and save it again, or retry from the Salesforce settings."


_CODE = re.compile(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+): ")


def record_action(message: str | None) -> tuple[str | None, str, str]:
    """(code, what to do, Salesforce's own words) for a refused record's message, which holds
    its code ("Pilot: REQUIRED_FIELD_MISSING: Required fields are missing: [CloseDate]")."""
    found = _CODE.search(message or "")
    if found is None:
        return None, DEFAULT_RECORD_ACTION, (message or "").strip()
    code = found.group(1)
    return code, RECORD_ACTIONS.get(code, DEFAULT_RECORD_ACTION), message[found.end():].strip()
