#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet; does nothing otherwise.
# apt's output goes to a log, shown only when the install fails.
set -euo pipefail
need=()
for package in "$@"; do
  # "install ok installed" only: a removed package whose configuration files remain is not installed.
  [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" = "install ok installed" ] || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "these Debian packages are missing: ${need[*]}; install them as root (sudo apt-get install ${need[*]}) or run this as root" >&2
    exit 1
  fi
  log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "could not install: ${need[*]}" >&2
    exit 1
  fi
  rm -f "$log"
fi
