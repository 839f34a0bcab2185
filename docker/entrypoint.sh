#!/usr/bin/env bash
# Container entry point: keep secrets on the data volume, migrate, then serve.
# Also runs outside Docker (the tests do): DATA_DIR and the python on PATH are all it needs.
set -euo pipefail

DATA_DIR="${DATA_DIR:-/data}"
mkdir -p "$DATA_DIR"
export INSTANCE_PATH="${INSTANCE_PATH:-$DATA_DIR}"
export DATABASE_URL="${DATABASE_URL:-sqlite:///$DATA_DIR/inbox.sqlite3}"
export CACHE_URL="${CACHE_URL:-filesystem://$DATA_DIR/cache}"
export APP_ENV="${APP_ENV:-production}"

# First start: make a secret key and an encryption key, and keep them on the volume so
# sessions and encrypted tokens survive restarts. Values given in the environment win.
umask 077
if [ -z "${SECRET_KEY:-}" ]; then
  [ -s "$DATA_DIR/secret_key" ] || python -c "import secrets; print(secrets.token_urlsafe(48))" > "$DATA_DIR/secret_key"
  SECRET_KEY="$(cat "$DATA_DIR/secret_key")"
  export SECRET_KEY
fi
if [ -z "${ENCRYPTION_KEYS:-}" ]; then
  [ -s "$DATA_DIR/encryption_keys" ] || python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())" > "$DATA_DIR/encryption_keys"
  ENCRYPTION_KEYS="$(cat "$DATA_DIR/encryption_keys")"
  export ENCRYPTION_KEYS
fi
umask 022

cd "$(dirname "$0")/.."
python -m flask --app wsgi init-db

if [ "$#" -gt 0 ]; then
  exec "$@"
fi
exec python -m gunicorn -c gunicorn.conf.py wsgi:app
