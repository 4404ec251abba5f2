#!/usr/bin/env bash
# Starts PgBouncer in front of the test server of start-server.sh, as docs/POSTGRES.md recommends
# for a shared server (transaction pooling, `ignore_startup_parameters = options`), and prints the
# admin URL through it on stdout; everything else goes to stderr.
#
#   export PARSL_TS_TEST_PGBOUNCER=$(bash scripts/postgres/start-pgbouncer.sh "$PARSL_TS_TEST_PG")
#
# Idempotent: reuses a running PgBouncer in the same directory. Uses Debian's `pgbouncer` package
# (installed when missing and run as root). Every database of the server is reachable through it
# (`* =`), and every role: PgBouncer looks a role's SCRAM secret up on the server (auth_query, as
# the admin) and logs in to the server with the client's own SCRAM proof. Listens on
# 127.0.0.1:$PARSL_TS_PGBOUNCER_PORT (default 64329) only; lives in $PARSL_TS_PGBOUNCER_DIR
# (default /tmp/parsl-ts-pgbouncer). As root it runs as the `postgres` user (PgBouncer refuses
# root). Stop it with stop-pgbouncer.sh.
set -euo pipefail

admin_url=${1:?usage: start-pgbouncer.sh ADMIN_URL, the admin URL start-server.sh printed}
dir=${PARSL_TS_PGBOUNCER_DIR:-/tmp/parsl-ts-pgbouncer}
port=${PARSL_TS_PGBOUNCER_PORT:-64329}

if ! command -v pgbouncer >/dev/null 2>&1; then
  # shellcheck source=../debian-packages.sh
  source "$(dirname "$0")/../debian-packages.sh"
  install_debian_packages pgbouncer pgbouncer
  # Debian's package starts its own instance on port 6432; ours is separate.
  if command -v systemctl >/dev/null 2>&1; then systemctl stop pgbouncer >/dev/null 2>&1 || true; fi
fi

# The server's address and admin login, from its URL (postgresql://user:password@host:port/db),
# and the same URL with PgBouncer's address instead.
read -r user password host server_port url < <(node -e '
  const [admin, port] = process.argv.slice(1);
  const u = new URL(admin);
  const through = new URL(admin);
  through.host = `127.0.0.1:${port}`;
  console.log(decodeURIComponent(u.username), decodeURIComponent(u.password), u.hostname, u.port || "5432", through.href);
' "$admin_url" "$port")

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$dir"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
chmod 700 "$dir"
(
  umask 077
  printf '"%s" "%s"\n' "$user" "$password" >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<EOF
; parsl-ts test PgBouncer (scripts/postgres/start-pgbouncer.sh)
[databases]
* = host=$host port=$server_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
pool_mode = transaction
ignore_startup_parameters = options
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
auth_user = $user
auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename = \$1
max_client_conn = 1000
default_pool_size = 40
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
)
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir/userlist.txt" "$dir/pgbouncer.ini"

running() { [ -f "$dir/pgbouncer.pid" ] && kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null; }
if ! running; then
  echo "pgbouncer: starting on 127.0.0.1:$port in front of $host:$server_port" >&2
  as_owner pgbouncer -d -q "$dir/pgbouncer.ini"
fi

# Wait for a login through it to work.
psql=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)/psql
[ -x "$psql" ] || psql=psql
for _ in $(seq 1 50); do
  if "$psql" "$url" -Atqc 'SELECT 1' >/dev/null 2>&1; then
    echo "$url"
    exit 0
  fi
  sleep 0.2
done
echo "start-pgbouncer.sh: PgBouncer in $dir does not accept logins; see $dir/pgbouncer.log" >&2
exit 1
