#!/usr/bin/env bash
# Creates (once) and reuses the virtual environment the tests run in: .venv/ at the repository root,
# holding exactly the pinned versions of scripts/requirements-test.txt. Never installs into the system
# interpreter (Debian's python3 is "externally managed", PEP 668). Prints the venv's python on stdout.
#   PYTHON=python3 (the interpreter the venv is made from), VENV=.venv
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
python=${PYTHON:-python3}
venv=${VENV:-$root/.venv}
requirements=scripts/requirements-test.txt

command -v "$python" >/dev/null || scripts/ensure-packages.sh python3 >&2
# Debian splits venv/ensurepip out of python3.
"$python" -c 'import venv, ensurepip' 2>/dev/null || scripts/ensure-packages.sh python3-venv >&2

stamp="$venv/.requirements.sha256"
want=$( (sha256sum "$requirements"; "$python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "creating $venv from $requirements" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
