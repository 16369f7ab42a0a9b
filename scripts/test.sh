#!/usr/bin/env bash
# Runs every test of the repository: the README's test command, and all that .ci/run calls.
# Installs what it needs first; each install step is skipped when already done. Python packages go
# only into the virtual environment .venv/ (scripts/python-env.sh), never into the system interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain and system packages"
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.1 or later (see README)"; exit 1; }
swift --version 2>&1 | head -1
# libsqlite3-dev: GRDB links the system SQLite; sqlite3 and python3: tests inspect and lock databases;
# python3-venv: the tests' virtual environment; chromium and chromium-driver: the browser tests;
# postgresql: a throw-away cluster for the PostgreSQL store's tests; openssl: its TLS certificates;
# systemd: systemd-analyze and systemd-sysusers check the units of deploy/systemd (a stock Debian has it).
scripts/ensure-packages.sh libsqlite3-dev sqlite3 python3 python3-venv chromium chromium-driver postgresql openssl systemd

step "a throw-away PostgreSQL cluster (scripts/postgres-test-cluster.sh), removed at exit"
pgdir=$(mktemp -u "${TMPDIR:-/tmp}/fbpg.XXXXXX")
trap 'scripts/postgres-test-cluster.sh stop "$pgdir"' EXIT
# A Unix socket, and TLS-only TCP on 127.0.0.1 with a throw-away CA (the sslmode tests).
FEEDBACK_TEST_POSTGRES=$(scripts/postgres-test-cluster.sh start "$pgdir" tls)
FEEDBACK_TEST_POSTGRES_TLS=$(cat "$pgdir/tls-url")
FEEDBACK_TEST_POSTGRES_CA=$pgdir/ca.crt
export FEEDBACK_TEST_POSTGRES FEEDBACK_TEST_POSTGRES_TLS FEEDBACK_TEST_POSTGRES_CA
echo "$FEEDBACK_TEST_POSTGRES, $FEEDBACK_TEST_POSTGRES_TLS"

step "python test environment (.venv, scripts/requirements-test.txt)"
python=$(scripts/python-env.sh)
"$python" --version

step "golden vectors are what protocol/vectors/generate.py writes"
"$python" protocol/vectors/generate.py --check

step "swift build (scripts/build.sh: the same build as scripts/demo.sh)"
scripts/build.sh

step "swift test (the PostgreSQL cases against the cluster above)"
scripts/swift-env.sh env FEEDBACK_TEST_POSTGRES="$FEEDBACK_TEST_POSTGRES" FEEDBACK_TEST_POSTGRES_TLS="$FEEDBACK_TEST_POSTGRES_TLS" \
  FEEDBACK_TEST_POSTGRES_CA="$FEEDBACK_TEST_POSTGRES_CA" swift test --skip-build --quiet

step "gateway against the original FastAPI endpoint, body by body (Tests/compat)"
"$python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning Tests/compat

step "hostile clients against the real gateway and feedbackd (Tests/hostile)"
"$python" -m pytest -q -p no:cacheprovider Tests/hostile

step "feedbackd on PostgreSQL as processes: two on one database, killed, PostgreSQL restarted (Tests/postgres)"
"$python" -m pytest -q -p no:cacheprovider Tests/postgres

step "scripts/install.sh into a staging directory, the units through systemd-analyze verify, their command lines run (Tests/deploy)"
"$python" -m pytest -q -p no:cacheprovider Tests/deploy

step "metrics and logs of real processes (Tests/operations)"
"$python" -m pytest -q -p no:cacheprovider Tests/operations

step "widget in headless Chromium (clients/widget/tests)"
"$python" -m pytest -q -p no:cacheprovider clients/widget/tests

step "python client: pip install ./clients/python into the venv, mypy --strict and ruff over it, then its tests"
# setuptools' build directory: a stale copy there would hide a module missing from the wheel.
rm -rf clients/python/build
"$python" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps ./clients/python
(cd clients/python && "$python" -m mypy && "$python" -m ruff check --no-cache .)  # configured in its pyproject.toml
# The tests import feedback_rpc from the venv's site-packages, never from the source tree (test_packaging.py).
"$python" -m pytest -q -p no:cacheprovider clients/python/tests
