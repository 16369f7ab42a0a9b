#!/usr/bin/env bash
# Runs every test of the repository: the README's test command, and all that .ci/run calls.
# Installs what it needs first; each install step is skipped when already done. Python packages go
# only into the virtual environment .venv/ (scripts/python-env.sh), never into the system interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# The set-up steps below stop the script when they fail (nothing could be tested). Every test suite after
# them runs whatever the others did; a summary at the end names each suite that failed, and the script
# exits non-zero if any did.
passed=() failed=()
suite() {
  local name=$1
  shift
  step "$name"
  if "$@"; then passed+=("$name"); else failed+=("$name"); fi
}
summary() {
  printf '\n== summary\n'
  for name in "${passed[@]}"; do printf 'passed: %s\n' "$name"; done
  for name in "${failed[@]}"; do printf 'FAILED: %s\n' "$name"; done
  printf 'suites: %d passed, %d failed\n' "${#passed[@]}" "${#failed[@]}"
  [ ${#failed[@]} -eq 0 ]
}

step "toolchain and system packages"
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.1 or later (see README)"; exit 1; }
swift --version 2>&1 | head -1
# libsqlite3-dev: GRDB links the system SQLite; libsystemd-dev: sd_notify(3) for Type=notify units;
# sqlite3 and python3: tests inspect and lock databases;
# python3-venv: the tests' virtual environment; chromium and chromium-driver: the browser tests;
# postgresql: a throw-away cluster for the PostgreSQL store's tests; openssl: its TLS certificates;
# systemd: systemd-analyze and systemd-sysusers check the units of deploy/systemd (a stock Debian has it).
scripts/ensure-packages.sh libsqlite3-dev libsystemd-dev sqlite3 python3 python3-venv chromium chromium-driver postgresql openssl systemd

step "a throw-away PostgreSQL cluster (scripts/postgres-test-cluster.sh), removed at exit"
pgdir=$(mktemp -u "${TMPDIR:-/tmp}/fbpg.XXXXXX")
trap 'scripts/postgres-test-cluster.sh stop "$pgdir" || true' EXIT
# A Unix socket, and TLS-only TCP on 127.0.0.1 with a throw-away CA (the sslmode tests).
FEEDBACK_TEST_POSTGRES=$(scripts/postgres-test-cluster.sh start "$pgdir" tls)
FEEDBACK_TEST_POSTGRES_TLS=$(cat "$pgdir/tls-url")
FEEDBACK_TEST_POSTGRES_CA=$pgdir/ca.crt
export FEEDBACK_TEST_POSTGRES FEEDBACK_TEST_POSTGRES_TLS FEEDBACK_TEST_POSTGRES_CA
echo "$FEEDBACK_TEST_POSTGRES, $FEEDBACK_TEST_POSTGRES_TLS"

step "python test environment (.venv, scripts/requirements-test.txt)"
python=$(scripts/python-env.sh)
"$python" --version

suite "golden vectors are what protocol/vectors/generate.py writes" "$python" protocol/vectors/generate.py --check

step "swift build (scripts/build.sh: the same build as scripts/demo.sh)"
scripts/build.sh

swift_tests() {
  scripts/swift-env.sh env FEEDBACK_TEST_POSTGRES="$FEEDBACK_TEST_POSTGRES" FEEDBACK_TEST_POSTGRES_TLS="$FEEDBACK_TEST_POSTGRES_TLS" \
    FEEDBACK_TEST_POSTGRES_CA="$FEEDBACK_TEST_POSTGRES_CA" swift test --skip-build --quiet
}
pytest_suite() { "$python" -m pytest -q -p no:cacheprovider "$@"; }
python_client() {
  # setuptools' build directory: a stale copy there would hide a module missing from the wheel.
  rm -rf clients/python/build
  "$python" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps ./clients/python &&
    (cd clients/python && "$python" -m mypy && "$python" -m ruff check --no-cache .) &&  # configured in its pyproject.toml
    # The tests import feedback_rpc from the venv's site-packages, never from the source tree (test_packaging.py).
    "$python" -m pytest -q -p no:cacheprovider clients/python/tests
}

suite "swift test (the PostgreSQL cases against the cluster above)" swift_tests
suite "gateway against the original FastAPI endpoint, body by body (Tests/compat)" \
  pytest_suite -W ignore::DeprecationWarning Tests/compat
suite "hostile clients against the real gateway and feedbackd (Tests/hostile)" pytest_suite Tests/hostile
suite "feedbackd on PostgreSQL as processes: two on one database, killed, PostgreSQL restarted, least privilege, a failover to a promoted standby (Tests/postgres)" \
  pytest_suite Tests/postgres
suite "scripts/install.sh into a staging directory, the units through systemd-analyze verify, their command lines run (Tests/deploy)" \
  pytest_suite Tests/deploy
suite "metrics and logs of real processes (Tests/operations)" pytest_suite Tests/operations
suite "widget in headless Chromium (clients/widget/tests)" pytest_suite clients/widget/tests
suite "python client: pip install ./clients/python into the venv, mypy --strict and ruff over it, then its tests" python_client
summary
