"""Errors in Salesforce's wire shapes."""

from __future__ import annotations


class ApiError(Exception):
    """A REST error: HTTP status plus one `{"message", "errorCode"[, "fields"]}` entry."""

    def __init__(self, status: int, error_code: str, message: str,
                 fields: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict]:
        entry = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            entry = {"fields": self.fields, **entry}
        return [entry]

    def item_error(self) -> dict:
        """The per-record shape of sObject Collections, which says `statusCode`."""
        return {"statusCode": self.error_code, "message": self.message,
                "fields": self.fields or []}


class OAuthError(Exception):
    """An OAuth endpoint error: `{"error", "error_description"}`, HTTP 400 unless told."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> ApiError:
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
