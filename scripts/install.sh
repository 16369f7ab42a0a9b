#!/usr/bin/env bash
# Installs feedbackd, feedback-gateway and feedbackctl as systemd services (README.md, "Production"):
# release builds (the Swift runtime linked in, so the binaries do not need the toolchain), the units of
# deploy/systemd with ExecStart in PREFIX/bin, the user and group feedback (sysusers.d), and
# /etc/feedback-rpc/feedback-rpc.env from the example when there is none yet. Starts nothing; prints
# the steps left. Running it again replaces binaries, units and the example, and nothing else.
#   scripts/install.sh [--bin-dir DIR] [--keep-symbols] [PREFIX]     PREFIX: /usr/local by default (binaries
#     in PREFIX/bin); PREFIX, UNIT_DIR and SYSUSERS_DIR must be absolute, without a '..' component
#   --bin-dir DIR (or BIN_DIR=DIR): install the binaries already in DIR instead of building
#   --keep-symbols: install the binaries unstripped (symbol names in crash backtraces and perf; ~2.5x larger)
#   DESTDIR=DIR: stage everything under DIR (for packages and tests); creates no user
#   UNIT_DIR=/etc/systemd/system, SYSUSERS_DIR=/etc/sysusers.d: where units and the sysusers file go
set -euo pipefail
invoked_from=$(pwd)
absolute() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$invoked_from" "$1" ;; esac; }

bin_dir=${BIN_DIR:-}
prefix=""
strip=(-s)
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) [ $# -ge 2 ] || { echo "--bin-dir needs a directory, e.g. .build/release" >&2; exit 2; }
               bin_dir=$2; shift 2 ;;
    --bin-dir=*) bin_dir=${1#*=}; shift ;;
    --keep-symbols) strip=(); shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    *) [ -z "$prefix" ] || { echo "one PREFIX only (see --help)" >&2; exit 2; }
       prefix=$1; shift ;;
  esac
done
prefix=${prefix:-/usr/local}
prefix=${prefix%/}
# PREFIX/bin is written into ExecStart=, where spaces split arguments and % starts a specifier.
[[ "$prefix" =~ ^(/[A-Za-z0-9._+-]+)+$ ]] || {
  echo "PREFIX must be an absolute path of letters, digits and . _ + - (got '$prefix')" >&2; exit 2; }
unit_dir=${UNIT_DIR:-/etc/systemd/system}
sysusers_dir=${SYSUSERS_DIR:-/etc/sysusers.d}
# These paths go under DESTDIR: a ".." component would climb out of it (DESTDIR=/stage PREFIX=/opt/../../etc
# writes /etc), and in ExecStart= it names a directory other than the one it seems to.
for named in "PREFIX=$prefix" "UNIT_DIR=$unit_dir" "SYSUSERS_DIR=$sysusers_dir"; do
  path=${named#*=}
  [[ "$path" == /* && "$path/" != */../* ]] || {
    echo "${named%%=*} must be an absolute path without a '..' component (got '$path')" >&2; exit 2; }
done
destdir=""
if [ -n "${DESTDIR:-}" ]; then destdir=$(absolute "${DESTDIR%/}"); fi
[ -z "$bin_dir" ] || bin_dir=$(absolute "$bin_dir")
config_dir=/etc/feedback-rpc
products=(feedbackd feedback-gateway feedbackctl)

cd "$(dirname "$0")/.."
if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
  echo "installing into / needs root (sudo scripts/install.sh $prefix), or set DESTDIR to stage" >&2
  exit 1
fi

if [ -z "$bin_dir" ]; then
  command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6.1 or later, or give --bin-dir" >&2; exit 1; }
  scripts/ensure-packages.sh libsqlite3-dev libsystemd-dev
  echo "== building release binaries (swift build -c release --static-swift-stdlib)"
  for product in "${products[@]}"; do
    scripts/swift-env.sh swift build -c release --static-swift-stdlib --product "$product"
  done
  bin_dir=$(pwd)/.build/release
fi
# `install -s` runs binutils' strip.
[ ${#strip[@]} -eq 0 ] || command -v strip >/dev/null || scripts/ensure-packages.sh binutils
for product in "${products[@]}"; do
  [ -x "$bin_dir/$product" ] || { echo "$bin_dir/$product is missing or not executable" >&2; exit 1; }
done

echo "== installing into ${destdir:-/} (PREFIX $prefix)"
install -d -m 0755 "$destdir$prefix/bin" "$destdir$prefix/share/doc/feedback-rpc" "$destdir$unit_dir" "$destdir$sysusers_dir"
for product in "${products[@]}"; do
  install -m 0755 ${strip[@]+"${strip[@]}"} "$bin_dir/$product" "$destdir$prefix/bin/$product"
  echo "$prefix/bin/$product"
done
install -m 0644 README.md "$destdir$prefix/share/doc/feedback-rpc/README.md"
install -m 0644 protocol/SPEC.md "$destdir$prefix/share/doc/feedback-rpc/SPEC.md"

# The units name /usr/local in ExecStart= and Documentation=; nothing else in them depends on PREFIX.
staged=$(mktemp -d)
trap 'rm -rf "$staged"' EXIT
for unit in feedbackd.service feedback-gateway.service; do
  sed -E "s#^(ExecStart|Documentation)=(file://)?/usr/local/#\\1=\\2$prefix/#" "deploy/systemd/$unit" > "$staged/$unit"
  grep -qF "ExecStart=$prefix/bin/" "$staged/$unit" || { echo "deploy/systemd/$unit: no ExecStart=/usr/local/bin/ to rewrite" >&2; exit 1; }
  install -m 0644 "$staged/$unit" "$destdir$unit_dir/$unit"
  echo "$unit_dir/$unit"
done
sed -E "s#^Documentation=file:///usr/local/#Documentation=file://$prefix/#" deploy/systemd/feedbackd.socket > "$staged/feedbackd.socket"
install -m 0644 "$staged/feedbackd.socket" "$destdir$unit_dir/feedbackd.socket"
echo "$unit_dir/feedbackd.socket"
install -m 0644 deploy/systemd/feedback-rpc.conf "$destdir$sysusers_dir/feedback-rpc.conf"
echo "$sysusers_dir/feedback-rpc.conf"

# /etc/feedback-rpc is root's: systemd reads the settings and the secret before dropping privileges.
install -d -m 0750 "$destdir$config_dir"
install -m 0640 deploy/systemd/feedback-rpc.env.example "$destdir$config_dir/feedback-rpc.env.example"
echo "$config_dir/feedback-rpc.env.example"
if [ -e "$destdir$config_dir/feedback-rpc.env" ]; then
  echo "$config_dir/feedback-rpc.env kept as it is (compare it with the .example)"
else
  install -m 0640 deploy/systemd/feedback-rpc.env.example "$destdir$config_dir/feedback-rpc.env"
  echo "$config_dir/feedback-rpc.env (from the example: edit it)"
fi

# Binaries linked against the toolchain's Swift runtime (a --bin-dir of debug builds) only run while
# that toolchain stays where it is.
if command -v ldd >/dev/null; then
  for product in "${products[@]}"; do
    libraries=$(ldd "$destdir$prefix/bin/$product" 2>/dev/null || true)
    outside=$(awk '$2 == "=>" && $3 ~ /^\// && $3 !~ /^\/(usr\/)?lib(64)?\// && !seen++ { print $3 }' <<<"$libraries")
    if [ -n "$outside" ]; then
      echo "warning: $prefix/bin/$product loads $outside (and maybe more) from outside the system's libraries:" \
        "it stops working when they move (release builds of this script link the Swift runtime in)" >&2
    fi
  done
fi

if [ -z "$destdir" ]; then
  if command -v systemd-sysusers >/dev/null; then
    systemd-sysusers "$sysusers_dir/feedback-rpc.conf"
  elif ! getent passwd feedback >/dev/null; then
    group_option=(--user-group)
    if getent group feedback >/dev/null; then group_option=(--gid feedback); fi
    useradd --system "${group_option[@]}" --no-create-home --home-dir / --shell /usr/sbin/nologin \
      --comment "feedback-rpc (feedbackd, feedback-gateway)" feedback
  fi
  id feedback
fi

secret=$destdir$config_dir/jwt-secret
if [ ! -e "$secret" ]; then
  secret_step="The HS256 secret your token issuer signs with, root's, mode 0600 (public keys instead: README.md):
     (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n' > $config_dir/jwt-secret)"
elif [ "$(stat -c %a "$secret")" != 600 ] && [ "$(stat -c %a "$secret")" != 400 ]; then
  secret_step="$config_dir/jwt-secret is mode $(stat -c %a "$secret"): chmod 0600 $config_dir/jwt-secret"
else
  secret_step="$config_dir/jwt-secret is in place"
fi
cat <<EOF

== next steps (README.md, "Production")
1. $secret_step
2. Edit $config_dir/feedback-rpc.env (the database, origins); for SQLite give feedbackd the
   database's directory: systemctl edit feedbackd  ->  [Service] ReadWritePaths=/var/lib/chat
3. Let the chat backend reach the socket: usermod -aG feedback CHAT-USER (then restart it)
4. systemctl daemon-reload && systemctl enable --now feedbackd feedback-gateway
5. $prefix/bin/feedbackctl health --socket /run/feedback/feedback.sock; journalctl -u feedbackd -u feedback-gateway
After an upgrade: systemctl restart feedbackd feedback-gateway (SIGTERM: calls in flight are answered first).
EOF
