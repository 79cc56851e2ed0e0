#!/usr/bin/env bash
# The whole test suite: lint, then pytest on SQLite and, when CYLCH_TEST_POSTGRES names a server
# (e.g. postgresql://postgres@127.0.0.1:5432/postgres), on PostgreSQL too.
#
# The two passes run side by side (each is mostly one Python process waiting on its database,
# its browser or its servers, so two cores serve both); the PostgreSQL pass's output is kept in
# var/test-logs/postgresql.log and printed when it ends. CYLCH_TEST_SERIAL=1 runs them one after
# the other instead. Nothing the passes share can collide: each test database, server port,
# scratch database and temporary directory is made per process (tests/conftest.py).
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

sqlite_pass() {
  (unset DATABASE_URL; $BIN/pytest -q -p no:cacheprovider "$@")
}

# The fault tests make their own PostgreSQL cluster and databases, and tests marked ``once`` (a hub
# of their own, or none) do the same whatever the settings' database: once, in the SQLite pass, is
# enough (tests/conftest.py).
postgres_pass() {
  CYLCH_TEST_PASS=postgresql-beside-sqlite DATABASE_URL="$CYLCH_TEST_POSTGRES" \
    $BIN/pytest -q -p no:cacheprovider --ignore=tests/test_faults.py "$@"
}

if [ -z "${CYLCH_TEST_POSTGRES:-}" ]; then
  echo "== pytest on SQLite"
  sqlite_pass "$@"
  echo "NOTE: CYLCH_TEST_POSTGRES is not set: the PostgreSQL run was skipped."
  exit 0
fi

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

if [ "${CYLCH_TEST_SERIAL:-}" = "1" ]; then
  echo "== pytest on SQLite"
  sqlite_pass "$@"
  echo "== pytest on PostgreSQL ($CYLCH_TEST_POSTGRES)"
  postgres_pass "$@"
  exit 0
fi

mkdir -p var/test-logs
log=var/test-logs/postgresql.log
echo "== pytest on PostgreSQL ($CYLCH_TEST_POSTGRES), beside the SQLite pass: output in $log"
postgres_pass "$@" >"$log" 2>&1 &
pg_pid=$!
trap 'kill "$pg_pid" 2>/dev/null || true' INT TERM

echo "== pytest on SQLite"
sqlite_status=0
sqlite_pass "$@" || sqlite_status=$?

pg_status=0
wait "$pg_pid" || pg_status=$?
trap - INT TERM
echo "== pytest on PostgreSQL ($CYLCH_TEST_POSTGRES): its output"
cat "$log"

[ "$sqlite_status" -eq 0 ] || echo "FAILED: the SQLite pass (exit $sqlite_status)"
[ "$pg_status" -eq 0 ] || echo "FAILED: the PostgreSQL pass (exit $pg_status)"
[ "$sqlite_status" -eq 0 ] && [ "$pg_status" -eq 0 ]
