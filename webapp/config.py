"""Settings, read from the environment once when the app is created.

Every setting has an embedded default that runs the app on this machine alone
(SQLite in the instance folder, an in-process cache, the built-in emulator).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-not-secret"


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says which and how to fix it."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(value: str | None, default: int, name: str) -> int:
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number of bytes, not {value!r}.") from exc


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
        "ENCRYPTION_KEYS": env.get("ENCRYPTION_KEYS", ""),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        "LOG_FORMAT": env.get("LOG_FORMAT", "json"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "MAIL_IMPORT_MAX_BYTES": _int(env.get("MAIL_IMPORT_MAX_BYTES"), 50 * 1024 * 1024, "MAIL_IMPORT_MAX_BYTES"),
        # What one import may read once unpacked, one message's size, and the addresses kept
        # of one header (webapp.mailimport.sources.Limits).
        "MAIL_IMPORT_MAX_UNPACKED_BYTES": _positive(env, "MAIL_IMPORT_MAX_UNPACKED_BYTES", 2 * 1024**3),
        "MAIL_IMPORT_MAX_MESSAGE_BYTES": _positive(env, "MAIL_IMPORT_MAX_MESSAGE_BYTES", 25 * 1024**2),
        "MAIL_IMPORT_MAX_ADDRESSES_PER_HEADER": _positive(env, "MAIL_IMPORT_MAX_ADDRESSES_PER_HEADER", 1000, "addresses"),
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
