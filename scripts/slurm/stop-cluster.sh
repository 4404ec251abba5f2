#!/usr/bin/env bash
# Stops the one-node Slurm cluster started by start-cluster.sh: jobs first, then the daemons.
set -uo pipefail
if command -v scancel >/dev/null 2>&1 && pgrep -x slurmctld >/dev/null; then
  scancel --user=root --full 2>/dev/null || true
  for _ in $(seq 1 50); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
fi
for d in slurmd slurmctld; do pkill -x "$d" 2>/dev/null || true; done
for _ in $(seq 1 50); do { pgrep -x slurmctld || pgrep -x slurmd; } >/dev/null || break; sleep 0.1; done
pkill -x munged 2>/dev/null || true
for _ in $(seq 1 50); do pgrep -x munged >/dev/null || break; sleep 0.1; done
echo "slurm: stopped"
