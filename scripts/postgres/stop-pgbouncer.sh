#!/usr/bin/env bash
# Stops the PgBouncer that start-pgbouncer.sh started (its directory stays).
set -euo pipefail
dir=${PARSL_TS_PGBOUNCER_DIR:-/tmp/parsl-ts-pgbouncer}
[ -f "$dir/pgbouncer.pid" ] || exit 0
pid=$(cat "$dir/pgbouncer.pid")
kill "$pid" 2>/dev/null || exit 0
for _ in $(seq 1 50); do
  kill -0 "$pid" 2>/dev/null || exit 0
  sleep 0.1
done
kill -9 "$pid" 2>/dev/null || true
