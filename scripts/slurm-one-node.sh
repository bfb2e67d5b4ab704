#!/usr/bin/env bash
# Start a real one-node Slurm cluster on this machine from Debian's packages (Slurm 22.05), the way
# docs/cluster.md and the stack notes describe: munge for authentication, one controller and one
# compute daemon, no systemd and no accounting (so no sacct). Sieve's Slurm tests and bench use it.
#
# Needs root. Idempotent: a second run finds the daemons up and the node idle and changes nothing.
# Exit status: 0 when `sinfo` shows the node idle; 1 with one line on stderr saying why otherwise.
#   SIEVE_SLURM_NO_INSTALL=1  do not apt-get install (fail when the packages are missing)
#   SIEVE_SLURM_WAIT=SECONDS  how long to wait for the node to become idle (default 60)
set -uo pipefail

fail() { echo "slurm-one-node: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (apt-get, /etc/slurm, daemons as root)"

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
   || ! command -v munged >/dev/null; then
  [ "${SIEVE_SLURM_NO_INSTALL:-}" = 1 ] && fail "Slurm packages are missing and SIEVE_SLURM_NO_INSTALL=1"
  export DEBIAN_FRONTEND=noninteractive
  # postinst scripts must not try to start services (no init system here; we start them below)
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  installed=0
  { apt-get update -qq && apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null; } && installed=1
  rm -f /usr/sbin/policy-rc.d
  [ "$installed" = 1 ] || fail "apt-get install slurmctld slurmd slurm-client munge failed"
fi

host="$(hostname -s)"
cpus="$(nproc)"
# Slurm refuses a node that reports less memory than configured: announce 90% of what is there.
mem_mb="$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)"

# --- munge: a key shared by every node (here, one), readable by the munge user only
install -d -o munge -g munge -m 700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- munged --force || fail "munged did not start (see /var/log/munge/munged.log)"
  for _ in $(seq 50); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n </dev/null | unmunge >/dev/null 2>&1 || fail "munge does not answer after starting munged"
fi

# --- slurm.conf: rewritten only when it changes, so a second run leaves running daemons alone
install -d -m 755 /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
conf="$(cat <<EOF
# Written by Sieve's scripts/slurm-one-node.sh: a one-node cluster for tests and benchmarks.
ClusterName=sieve
# the loopback address: one node needs no name resolution (CI machines often cannot resolve their own name)
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# schedule as soon as a job is submitted or ends (a dependent stage starts right after its inputs)
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=120
MaxArraySize=100001
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=main Nodes=${host} Default=YES MaxTime=INFINITE State=UP
EOF
)"
changed=0
if [ "$(cat /etc/slurm/slurm.conf 2>/dev/null)" != "$conf" ]; then
  printf '%s\n' "$conf" >/etc/slurm/slurm.conf.tmp && mv /etc/slurm/slurm.conf.tmp /etc/slurm/slurm.conf
  changed=1
fi

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if [ "$changed" = 1 ]; then
  # a new configuration: restart whatever runs with the old one
  for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
    if running "$pidfile"; then kill "$(cat "$pidfile")"; for _ in $(seq 50); do running "$pidfile" || break; sleep 0.1; done; fi
  done
fi
running /run/slurmctld.pid || slurmctld || fail "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
running /run/slurmd.pid || slurmd || fail "slurmd did not start (see /var/log/slurm/slurmd.log)"

# --- wait until the node is idle (a node that came back DOWN after a restart is resumed)
deadline=$(( $(date +%s) + ${SIEVE_SLURM_WAIT:-60} ))
while :; do
  state="$(sinfo -h -n "$host" -o '%T' 2>/dev/null | head -n1)"
  case "$state" in
    idle|mixed|allocated) break ;;
    down*|drain*) scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  [ "$(date +%s)" -ge "$deadline" ] && fail "node ${host} is '${state:-absent}' after ${SIEVE_SLURM_WAIT:-60}s (see /var/log/slurm/)"
  sleep 0.5
done
echo "slurm-one-node: node ${host} (${cpus} CPUs, ${mem_mb} MB) is ${state}; partition main"
