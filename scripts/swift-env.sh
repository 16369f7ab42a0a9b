#!/usr/bin/env bash
# Runs a command (swift build, swift test) in the one fixed environment every script gives SwiftPM.
# SwiftPM plans the build again (15-20 s on 2 cores) whenever its environment differs from the last
# run's, and orders package traits' -D flags by hash, recompiling SwiftProtobuf and Hummingbird when the
# order changes: with the same variables and a fixed hash seed, a run with nothing changed builds nothing.
keep=(PATH="$PATH" HOME="${HOME:-/root}" TMPDIR="${TMPDIR:-/tmp}" SWIFT_DETERMINISTIC_HASHING=1)
# A proxy or certificate setting is needed to fetch packages where one is configured; pass it through.
for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY SSL_CERT_FILE SSL_CERT_DIR; do
  [ -n "${!name:-}" ] && keep+=("$name=${!name}")
done
exec env -i "${keep[@]}" "$@"
