#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet; does nothing otherwise.
# apt's output goes to a log, shown only when the install fails.
set -euo pipefail
need=()
for package in "$@"; do
  dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "could not install: ${need[*]}" >&2
    exit 1
  fi
  rm -f "$log"
fi
