"""Email addresses: validation and the normal form used for matching."""

from __future__ import annotations

import re

# Deliberately simple: one @, no spaces, a dot in the domain. Real validation is delivery.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidAddress(ValueError):
    pass


def normalize_email(email: str | None) -> str:
    """The lower-cased address, or InvalidAddress. Addresses match case-insensitively."""
    email = (email or "").strip()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise InvalidAddress(f"{email!r} is not a valid email address.")
    return email.lower()


def domain_of(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()
