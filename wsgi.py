"""The production entry point: `gunicorn wsgi:app` and `flask --app wsgi …`."""

from webapp import create_app
from webapp.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # a clear message and a non-zero exit, not a traceback
    raise SystemExit(f"Configuration error: {exc}") from None
