"""Settings, read from the environment once when the app is created.

Every setting has an embedded default that runs the app on this machine alone
(SQLite in the instance folder, an in-process cache, the built-in emulator).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-not-secret"
# A CSP source expression for an origin (scheme and host, an optional port, a leading *.).
_FRAME_ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?")


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says which and how to fix it."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(value: str | None, default: int, name: str, unit: str = "bytes", minimum: int = 0) -> int:
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number of {unit}, not {value!r}.") from exc
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {number}.")
    return number


def _number(value: str | None, default: float, name: str, unit: str = "", *, minimum: float = 0) -> float:
    """A number (at least ``minimum``) from the environment; a clear error otherwise."""
    if value is None or value.strip() == "":
        return default
    what = f"a number of {unit}" if unit else "a number"
    try:
        number = float(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be {what}, not {value!r}.") from exc
    if not number >= minimum:  # also refuses NaN
        raise ConfigError(f"{name} must be {what} ≥ {minimum:g}, not {value!r}.")
    return number


def _positive(env, name: str, default: int, unit: str = "bytes") -> int:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigError(f"{name} must be a whole number of {unit} above zero, not {value!r}.")
    return number


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the config mapping: defaults, then the environment, then ``overrides``."""
    env = os.environ
    # Unsafe defaults are refused unless APP_ENV says this is a development machine.
    env_name = env.get("APP_ENV", "production")
    config = {
        "ENV_NAME": env_name,
        "SECRET_KEY": env.get("SECRET_KEY", DEV_SECRET_KEY),
        "DATABASE_URL": env.get(
            "DATABASE_URL", f"sqlite:///{Path(instance_path) / 'inbox.sqlite3'}"
        ),
        "CACHE_URL": env.get(
            "CACHE_URL", f"filesystem://{Path(instance_path) / 'cache'}"
        ),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "SCHEDULER_ENABLED": _bool(env.get("SCHEDULER_ENABLED"), True),
        # A card miss waits this long for Salesforce, then answers with what is known.
        "SALESFORCE_CARD_BUDGET": _number(env.get("SALESFORCE_CARD_BUDGET"), 2.0, "SALESFORCE_CARD_BUDGET", "seconds"),
        "SALESFORCE_CARD_LOOKUPS": int(_number(env.get("SALESFORCE_CARD_LOOKUPS"), 4, "SALESFORCE_CARD_LOOKUPS", "lookups", minimum=1)),
        "SALESFORCE_CARD_WAITERS": int(_number(env.get("SALESFORCE_CARD_WAITERS"), 4, "SALESFORCE_CARD_WAITERS", "requests")),
        "ENCRYPTION_KEYS": env.get("ENCRYPTION_KEYS", ""),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        "LOG_FORMAT": env.get("LOG_FORMAT", "json"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "MAIL_IMPORT_MAX_BYTES": _int(env.get("MAIL_IMPORT_MAX_BYTES"), 50 * 1024 * 1024, "MAIL_IMPORT_MAX_BYTES"),
        # Sign-in throttling: failures per account and per client address within the window.
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": _int(env.get("LOGIN_MAX_FAILURES_PER_ACCOUNT"), 5, "LOGIN_MAX_FAILURES_PER_ACCOUNT", "attempts", 1),
        "LOGIN_MAX_FAILURES_PER_ADDRESS": _int(env.get("LOGIN_MAX_FAILURES_PER_ADDRESS"), 20, "LOGIN_MAX_FAILURES_PER_ADDRESS", "attempts", 1),
        "LOGIN_FAILURE_WINDOW_SECONDS": _int(env.get("LOGIN_FAILURE_WINDOW_SECONDS"), 900, "LOGIN_FAILURE_WINDOW_SECONDS", "seconds", 1),
        "LOGIN_LOCKOUT_SECONDS": _int(env.get("LOGIN_LOCKOUT_SECONDS"), 900, "LOGIN_LOCKOUT_SECONDS", "seconds", 1),
        "LOGIN_MAX_LOCKOUT_SECONDS": _int(env.get("LOGIN_MAX_LOCKOUT_SECONDS"), 86400, "LOGIN_MAX_LOCKOUT_SECONDS", "seconds", 1),
        # How many proxies in front of the app set X-Forwarded-For/-Proto; 0 trusts none.
        "TRUSTED_PROXIES": _int(env.get("TRUSTED_PROXIES"), 0, "TRUSTED_PROXIES", "proxies"),
        # Space-separated origins allowed to frame the Salesforce card; empty allows none.
        "CARD_FRAME_ANCESTORS": env.get("CARD_FRAME_ANCESTORS", "").split(),
        "HSTS_MAX_AGE": _int(env.get("HSTS_MAX_AGE"), 31536000, "HSTS_MAX_AGE", "seconds"),
        # An interrupted scheduled run is retried after base × 2^(n-1) seconds (at most the
        # max), this many times; then the workspace waits for its next scheduled run.
        "SYNC_RETRY_ATTEMPTS": _number(env.get("SYNC_RETRY_ATTEMPTS"), 4, "SYNC_RETRY_ATTEMPTS", "attempts"),
        "SYNC_RETRY_BASE_SECONDS": _number(env.get("SYNC_RETRY_BASE_SECONDS"), 60, "SYNC_RETRY_BASE_SECONDS", "seconds"),
        "SYNC_RETRY_MAX_SECONDS": _number(env.get("SYNC_RETRY_MAX_SECONDS"), 900, "SYNC_RETRY_MAX_SECONDS", "seconds"),
        # What one import may read once unpacked, one message's size, and the addresses kept
        # of one header (webapp.mailimport.sources.Limits).
        "MAIL_IMPORT_MAX_UNPACKED_BYTES": _positive(env, "MAIL_IMPORT_MAX_UNPACKED_BYTES", 2 * 1024**3),
        "MAIL_IMPORT_MAX_MESSAGE_BYTES": _positive(env, "MAIL_IMPORT_MAX_MESSAGE_BYTES", 25 * 1024**2),
        "MAIL_IMPORT_MAX_ADDRESSES_PER_HEADER": _positive(env, "MAIL_IMPORT_MAX_ADDRESSES_PER_HEADER", 1000, "addresses"),
        # Mail servers' certificates are verified against the system's CAs and, when set, the
        # CAs in this PEM file (a company's own CA). A self-signed server is pinned per mailbox.
        "MAIL_CA_FILE": env.get("MAIL_CA_FILE", "") or None,
        # Seconds an IMAP or SMTP server may take to answer before it counts as down.
        "MAIL_TIMEOUT_SECONDS": _number(env.get("MAIL_TIMEOUT_SECONDS"), 30, "MAIL_TIMEOUT_SECONDS", "seconds", minimum=1),
        "TESTING": False,
    }
    if overrides:
        config.update(overrides)
    _check(config)
    return config


def _check(config: dict) -> None:
    lenient = config["ENV_NAME"] in {"development", "test"} or config.get("TESTING")
    if not lenient and config["SECRET_KEY"] in {DEV_SECRET_KEY, "", None}:
        raise ConfigError(
            "SECRET_KEY is unset or left at its development default. Set SECRET_KEY to a "
            'long random value, e.g. python -c "import secrets; print(secrets.token_urlsafe(48))".'
        )
    for origin in config["CARD_FRAME_ANCESTORS"]:
        if not _FRAME_ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"CARD_FRAME_ANCESTORS takes origins like https://crm.example.com separated by spaces, not {origin!r}."
            )
    attempts = config["SYNC_RETRY_ATTEMPTS"]
    if attempts != int(attempts):
        raise ConfigError(f"SYNC_RETRY_ATTEMPTS must be a whole number of attempts, not {attempts!r}.")
    config["SYNC_RETRY_ATTEMPTS"] = int(attempts)
    if config["SYNC_RETRY_MAX_SECONDS"] < config["SYNC_RETRY_BASE_SECONDS"]:
        raise ConfigError("SYNC_RETRY_MAX_SECONDS must be at least SYNC_RETRY_BASE_SECONDS.")
    url = config["DATABASE_URL"]
    if url.startswith("postgres://") or url.startswith("postgresql://"):
        # Be explicit about the driver: only psycopg 3 is installed.
        config["DATABASE_URL"] = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not (
        config["DATABASE_URL"].startswith("sqlite")
        or config["DATABASE_URL"].startswith("postgresql+psycopg://")
    ):
        raise ConfigError(
            f"DATABASE_URL must be sqlite:///PATH or postgresql+psycopg://…, got {url!r}."
        )
