#!/usr/bin/env bash
# Runs the app on its embedded defaults: SQLite and a file cache in ./instance, the built-in
# Salesforce emulator, and the demo workspace. Prints the URLs and the logins.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
export APP_ENV="${APP_ENV:-development}"
exec .venv/bin/flask --app wsgi demo "$@"
