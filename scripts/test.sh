#!/usr/bin/env bash
# Runs every test of the repository: the README's test command, and all that .ci/run calls.
# Installs what it needs first; each install step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.1 or later (see README)"; exit 1; }
swift --version 2>&1 | head -1
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3; }

step "golden vectors are what protocol/vectors/generate.py writes"
python3 protocol/vectors/generate.py --check

step "swift build (debug, with tests)"
swift build --build-tests

step "swift test"
swift test --skip-build
