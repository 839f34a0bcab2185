#!/usr/bin/env bash
# Runs the whole test suite on SQLite, then again on PostgreSQL when one answers at
# TEST_POSTGRES_URL (default: the local server, database "test"). Browser tests use
# Debian's Chromium; they are skipped when it is missing, except in CI where they must run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh

PG_URL="${TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
WORKERS="${TEST_WORKERS:-2}"

echo "== SQLite =="
.venv/bin/python -m pytest -n "$WORKERS" "$@"

if .venv/bin/python - "$PG_URL" <<'PY'
import sys
import psycopg
try:
    psycopg.connect(sys.argv[1].replace("+psycopg", ""), connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL not reachable ({exc.__class__.__name__}); skipping the PostgreSQL pass.")
    sys.exit(1)
PY
then
  echo "== PostgreSQL =="
  TEST_DATABASE_URL="$PG_URL" .venv/bin/python -m pytest -n "$WORKERS" -m "not browser" --ignore=tests/emulator "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is required in CI." >&2
  exit 1
fi
