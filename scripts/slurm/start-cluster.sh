#!/usr/bin/env bash
# Starts a one-node Slurm cluster on this machine for parsl-ts's Slurm tests (Debian/Ubuntu, as root).
# Idempotent: installs slurm-wlm and munge if missing, (re)writes slurm.conf, starts munged,
# slurmctld and slurmd unless already running, and waits until the node is idle.
# No systemd or cgroups needed (proctrack/linuxproc, task/none). Stop with stop-cluster.sh.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "start-cluster.sh: must run as root (it installs packages and starts daemons)" >&2
  exit 1
fi

# shellcheck source=../debian-packages.sh
source "$(dirname "$0")/../debian-packages.sh"
install_debian_packages slurm slurm-wlm munge

host="$(hostname -s)"
cpus="$(nproc)"
mem_mb="$(awk '/MemTotal/ {print int($2/1024*0.9)}' /proc/meminfo)"
conf_dir=/etc/slurm
state_dir=/var/spool/slurmctld
spool_dir=/var/spool/slurmd
log_dir=/var/log/slurm
mkdir -p "$conf_dir" "$state_dir" "$spool_dir" "$log_dir" /run/munge /var/lib/munge /var/log/munge

conf="$conf_dir/slurm.conf"
new_conf="$(mktemp)"
cat >"$new_conf" <<CONF
# Written by parsl-ts scripts/slurm/start-cluster.sh: one node, no accounting, no cgroups.
ClusterName=parslts
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=${state_dir}
SlurmdSpoolDir=${spool_dir}
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=${log_dir}/slurmctld.log
SlurmdLogFile=${log_dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
conf_changed=0
if ! cmp -s "$new_conf" "$conf"; then
  mv "$new_conf" "$conf"
  conf_changed=1
else
  rm -f "$new_conf"
fi
chmod 644 "$conf"

# munge: a key, and the daemon running as the munge user.
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 400 /etc/munge/munge.key
chmod 700 /etc/munge
# Start munged unless a working one answers (a stopping one may still be in the process list).
if ! munge -n >/dev/null 2>&1; then
  pkill -x munged 2>/dev/null || true
  for _ in $(seq 1 50); do pgrep -x munged >/dev/null || break; sleep 0.1; done
  su -s /bin/sh munge -c "/usr/sbin/munged --force"
fi
for _ in $(seq 1 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
if ! munge -n | unmunge >/dev/null; then
  echo "slurm: munged does not work; see /var/log/munge/munged.log" >&2
  exit 1
fi

if [ "$conf_changed" -eq 1 ]; then
  pkill -x slurmd 2>/dev/null || true
  pkill -x slurmctld 2>/dev/null || true
  for _ in $(seq 1 50); do { pgrep -x slurmctld || pgrep -x slurmd; } >/dev/null || break; sleep 0.1; done
fi
pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd -N "$host"

# Idle means the controller answers and slurmd has registered (sinfo can say idle too early
# after a restart, so also ask scontrol for the node's state).
for i in $(seq 1 120); do
  state="$(scontrol show node "$host" 2>/dev/null | sed -n 's/.*State=\([A-Z+_]*\).*/\1/p' | head -1)"
  if [ "$state" = "IDLE" ] || [ "$state" = "MIXED" ]; then
    echo "slurm: node $host is ${state,,} (partition debug, $cpus CPUs)"
    exit 0
  fi
  if [ "$state" = "DOWN" ] || [ "$state" = "DOWN+NOT_RESPONDING" ] || [ "$state" = "UNKNOWN" ] && [ "$i" -gt 20 ]; then
    scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true
  fi
  sleep 0.5
done
echo "slurm: node $host did not become idle; see $log_dir/slurmctld.log and slurmd.log" >&2
scontrol show node "$host" >&2 || true
exit 1
