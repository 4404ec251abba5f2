#!/usr/bin/env bash
# Starts a private PostgreSQL server for parsl-ts's tests and benchmarks, and prints its admin URL
# (a superuser on loopback) on stdout; everything else goes to stderr.
#
#   export PARSL_TS_TEST_PG=$(bash scripts/postgres/start-server.sh)
#
# Idempotent: reuses a running server in the same directory. Uses Debian's `postgresql` package
# (installed when missing and run as root). The cluster lives in $PARSL_TS_PG_DIR
# (default /tmp/parsl-ts-pg), listens on 127.0.0.1:$PARSL_TS_PG_PORT (default 54329) only, and
# accepts password (SCRAM) logins over TCP; the superuser's password is random, kept in the
# directory. As root the server runs as the `postgres` user (PostgreSQL refuses to run as root).
# Stop it with stop-server.sh.
set -euo pipefail

dir=${PARSL_TS_PG_DIR:-/tmp/parsl-ts-pg}
port=${PARSL_TS_PG_PORT:-54329}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ]; then
  # shellcheck source=../debian-packages.sh
  source "$(dirname "$0")/../debian-packages.sh"
  install_debian_packages postgres postgresql
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$dir"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
chmod 700 "$dir"
data="$dir/data"
pwfile="$dir/admin-password"

if [ ! -f "$data/PG_VERSION" ]; then
  echo "postgres: creating a cluster in $data" >&2
  as_owner bash -c "umask 077; head -c 18 /dev/urandom | base64 | tr '+/' 'xy' > '$pwfile'"
  as_owner "$bin/initdb" -D "$data" -U parsl_admin --pwfile="$pwfile" --auth-local=scram-sha-256 \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$data/postgresql.conf" <<EOF
# parsl-ts test server
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 256MB
log_min_messages = warning
EOF
fi

if ! as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  echo "postgres: starting on 127.0.0.1:$port" >&2
  as_owner "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >/dev/null
fi

password=$(cat "$pwfile")
# Wait for logins to work, not just for the postmaster (pg_ctl -w covers start-up; this covers auth).
for _ in $(seq 1 50); do
  if PGPASSWORD=$password "$bin/psql" -h 127.0.0.1 -p "$port" -U parsl_admin -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
    echo "postgresql://parsl_admin:$password@127.0.0.1:$port/postgres"
    exit 0
  fi
  sleep 0.2
done
echo "start-server.sh: the server in $data does not accept logins; see $dir/server.log" >&2
exit 1
