#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests: `start DIR` creates one in DIR (initdb as an
# unprivileged user: `postgres` when run as root), listening only on a Unix socket in DIR, and prints
# the URL the tests connect with; `stop DIR` stops it and removes DIR. Needs Debian's postgresql.
set -euo pipefail
command=${1:?usage: postgres-test-cluster.sh start|stop DIR}
dir=${2:?usage: postgres-test-cluster.sh start|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL's server binaries are missing (apt-get install postgresql)" >&2; exit 1; }
port=5433

as_owner() {  # initdb and the server refuse to run as root
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $command in
start)
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # Only a Unix socket (no TCP port is taken); fsync stays on, as synchronous_commit does.
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-k $dir -c listen_addresses='' -p $port -c max_connections=200" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "postgres://postgres@localhost:$port/postgres?host=$dir"
  ;;
stop)
  [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
restart)  # for tests: the server goes away and comes back, the data kept
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-k $dir -c listen_addresses='' -p $port -c max_connections=200" start >/dev/null
  ;;
*)
  echo "usage: postgres-test-cluster.sh start|stop|restart DIR" >&2
  exit 64
  ;;
esac
