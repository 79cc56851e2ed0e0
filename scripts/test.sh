#!/usr/bin/env bash
# The whole test suite: lint, then pytest on SQLite, then on PostgreSQL when
# CYLCH_TEST_POSTGRES names a server (e.g. postgresql://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export CYLCH_TESTING=1 CYLCH_DEMO=1

echo "== ruff"
$BIN/ruff check .

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  echo "NOTE: Chromium is not installed, so the browser tests (sign in, search, person page, axe-core)"
  echo "      will be SKIPPED. Install it with 'apt-get install chromium' to run them."
fi

echo "== pytest on SQLite"
unset DATABASE_URL
$BIN/pytest -q -p no:cacheprovider "$@"

if [ -n "${CYLCH_TEST_POSTGRES:-}" ]; then
  echo "== pytest on PostgreSQL ($CYLCH_TEST_POSTGRES)"
  if ! $BIN/python - "$CYLCH_TEST_POSTGRES" <<'PY'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=5).close()
except Exception as exc:
    print(f"ERROR: CYLCH_TEST_POSTGRES is set but PostgreSQL is unreachable: {exc}", file=sys.stderr)
    sys.exit(1)
PY
  then
    exit 1
  fi
  # The fault tests make their own PostgreSQL cluster and databases: once is enough.
  DATABASE_URL="$CYLCH_TEST_POSTGRES" $BIN/pytest -q -p no:cacheprovider --ignore=tests/test_faults.py "$@"
else
  echo "NOTE: CYLCH_TEST_POSTGRES is not set: the PostgreSQL run was skipped."
fi
