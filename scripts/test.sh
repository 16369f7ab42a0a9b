#!/usr/bin/env bash
# Runs every test of the repository: the README's test command, and all that .ci/run calls.
# Installs what it needs first; each install step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain and system packages"
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.1 or later (see README)"; exit 1; }
swift --version 2>&1 | head -1
# libsqlite3-dev: GRDB links the system SQLite; sqlite3 and python3: tests inspect and lock databases;
# chromium and chromium-driver: the browser tests.
scripts/ensure-packages.sh libsqlite3-dev sqlite3 chromium chromium-driver
command -v python3 >/dev/null || scripts/ensure-packages.sh python3 python3-pip

step "golden vectors are what protocol/vectors/generate.py writes"
python3 protocol/vectors/generate.py --check

step "swift build (debug: products and tests)"
swift build --build-tests

step "swift test"
swift test --skip-build

step "python test dependencies"
python3 -c "import selenium, pytest, fastapi, httpx" 2>/dev/null \
  || python3 -m pip install -q --disable-pip-version-check selenium pytest fastapi httpx

step "gateway against the original FastAPI endpoint, body by body (Tests/compat)"
python3 -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning Tests/compat

step "widget in headless Chromium (clients/widget/tests)"
python3 -m pytest -q -p no:cacheprovider clients/widget/tests

step "python client: pip install ./clients/python, then its tests"
python3 -m pip install -q --disable-pip-version-check ./clients/python
python3 -m pytest -q -p no:cacheprovider clients/python/tests
