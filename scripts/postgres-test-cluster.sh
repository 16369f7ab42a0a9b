#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests: `start DIR [tls]` creates one in DIR (initdb as an
# unprivileged user: `postgres` when run as root), listening on a Unix socket in DIR, and prints the
# URL the tests connect with. With `tls` it also listens on 127.0.0.1 (a free port) for TLS
# connections only (plain TCP is refused), with a certificate for localhost signed by a throw-away CA:
# DIR/tls-url holds that URL and DIR/ca.crt the CA. `stop DIR` stops it and removes DIR; `restart DIR`
# stops and starts it, keeping the data; `pause DIR` stops it (keeping the data) and `resume DIR` starts
# it again. For failover tests: `standby PRIMARY DIR [sync|async]` makes DIR a streaming standby of the
# cluster in PRIMARY (pg_basebackup -R; with sync, the primary then waits for it at every commit:
# synchronous_standby_names = '*', synchronous_commit on) and prints its URL once it streams;
# `kill DIR` kills its postmaster with SIGKILL (a crashed primary); `promote DIR` promotes a standby.
# Needs Debian's postgresql (and openssl for `tls`).
set -euo pipefail
usage="usage: postgres-test-cluster.sh start|stop|restart|pause|resume|kill|promote DIR [tls] | standby PRIMARY DIR [sync|async]"
command=${1:?$usage}
dir=${2:?$usage}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL's server binaries are missing (apt-get install postgresql)" >&2; exit 1; }

as_owner() {  # initdb and the server refuse to run as root
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

server_start() {  # the options are kept in DIR/options for restart
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "$(cat "$dir/options")" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
}

case $command in
start)
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  port=5433
  # Without tls: only a Unix socket (no TCP port is taken). fsync stays on, as synchronous_commit does.
  options="-k $dir -c listen_addresses='' -p $port -c max_connections=200"
  if [ "${3:-}" = tls ]; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    (
      cd "$dir"
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=feedback-rpc test CA" \
        -keyout ca.key -out ca.crt 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout data/server.key -out server.csr 2>/dev/null
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext \
        -out data/server.crt 2>/dev/null
      chmod 600 data/server.key
      [ "$(id -u)" -eq 0 ] && chown postgres: data/server.key data/server.crt ca.crt
      # The Unix socket as before; TLS or nothing over TCP.
      printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 reject\n' > data/pg_hba.conf
    )
    options="-k $dir -c listen_addresses=127.0.0.1 -p $port -c max_connections=200 -c ssl=on"
    echo "postgres://postgres@localhost:$port/postgres" > "$dir/tls-url"
  fi
  echo "$options" > "$dir/options"
  server_start
  echo "postgres://postgres@localhost:$port/postgres?host=$dir"
  ;;
stop)
  [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
restart)  # for tests: the server goes away and comes back, the data kept
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  server_start
  ;;
pause)  # for tests: the server goes away until `resume`
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  ;;
resume)
  server_start
  ;;
standby)
  primary=$dir
  dir=${3:?$usage}
  mode=${4:-sync}
  port=5433
  psql_primary() { psql -h "$primary" -p "$port" -U postgres -d postgres -Atqc "$1"; }
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  as_owner "$bin/pg_basebackup" -h "$primary" -p "$port" -U postgres -D "$dir/data" -R -X stream -c fast --no-sync \
    >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; exit 1; }
  echo "-k $dir -c listen_addresses='' -p $port -c max_connections=200" > "$dir/options"
  server_start
  if [ "$mode" = sync ]; then
    psql_primary "ALTER SYSTEM SET synchronous_standby_names = '*'" >/dev/null
  else
    psql_primary "ALTER SYSTEM SET synchronous_standby_names = ''" >/dev/null
  fi
  psql_primary "SELECT pg_reload_conf()" >/dev/null
  # Until the standby streams (sync: and the primary counts it as synchronous); a hang guard only.
  want=$([ "$mode" = sync ] && echo sync || echo async)
  for _ in $(seq 1 1200); do
    [ "$(psql_primary "SELECT sync_state FROM pg_stat_replication LIMIT 1")" = "$want" ] && break
    sleep 0.05
  done
  [ "$(psql_primary "SELECT sync_state FROM pg_stat_replication LIMIT 1")" = "$want" ] \
    || { echo "the standby in $dir does not stream ($want)" >&2; cat "$dir/server.log" >&2; exit 1; }
  echo "postgres://postgres@localhost:$port/postgres?host=$dir"
  ;;
kill)  # a crash: SIGKILL to the postmaster; its backends end when they notice
  kill -9 "$(head -1 "$dir/data/postmaster.pid")"
  ;;
promote)
  as_owner "$bin/pg_ctl" -D "$dir/data" -w -t 60 promote >/dev/null
  ;;
*)
  echo "$usage" >&2
  exit 64
  ;;
esac
