#!/usr/bin/env bash
# The one build both README commands use: every product and test target, debug. demo.sh and test.sh
# build with exactly these settings, so neither evicts the other's products and a run with nothing
# changed compiles nothing (scripts/swift-env.sh). The first build takes about 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/swift-env.sh swift build --build-tests "$@"
