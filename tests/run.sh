#!/usr/bin/env bash
# The whole test run (`make test`): lint, type-check, unit tests, then the integration tests against
# a real Kafka broker and ClickHouse server started here and stopped on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export ANFANG_DATA_DIR="${ANFANG_DATA_DIR:-$PWD/data}"
VENV="$PWD/.venv"

echo "[test] ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "[test] mypy (strict)"
"$VENV/bin/mypy"

started_here=0
cleanup() {
  if [ "$started_here" = 1 ]; then
    echo "[test] stopping the servers"
    deploy/local/stop || true
  fi
}
trap cleanup EXIT
if ! deploy/local/status >/dev/null 2>&1; then
  echo "[test] starting Kafka and ClickHouse (deploy/local/start)"
  deploy/local/start
  started_here=1
fi

echo "[test] pytest"
"$VENV/bin/pytest" tests "$@"
