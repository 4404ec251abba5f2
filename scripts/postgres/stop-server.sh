#!/usr/bin/env bash
# Stops the test server that start-server.sh started (its data directory stays for the next start).
set -euo pipefail
dir=${PARSL_TS_PG_DIR:-/tmp/parsl-ts-pg}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$bin" ] && [ -f "$dir/data/PG_VERSION" ] || exit 0
if [ "$(id -u)" -eq 0 ]; then
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
else
  "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
fi
