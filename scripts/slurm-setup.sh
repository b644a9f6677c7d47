#!/usr/bin/env bash
# Starts a real single-node Slurm (Debian slurm-wlm + munge) on this machine for the hpc-slurm tests: packages, munge key, slurm.conf, munged, slurmctld, slurmd; waits until the node is idle.
#
# Usage (as root): bash scripts/slurm-setup.sh [--stop]
#   --stop   stop the daemons this script started (by their pid files) and exit.
# Idempotent: a second run finds the daemons answering and changes nothing. No systemd is needed: the
# daemons are started directly, as on a container or VM without an init system.
#
# The cluster is the smallest Slurm that runs jobs as the submitting user: one node named after this
# host, one partition, no accounting database, and no cgroups — ProctrackType=proctrack/linuxproc
# follows a job's processes by parentage and TaskPlugin=task/none binds nothing (slurm.conf(5)), so it
# works where the host does not delegate cgroups to slurmd, and lodger's own cgroup handling is untouched.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/host.sh
. "$repo/scripts/lib/host.sh"

[ "$(id -u)" = 0 ] || host_die "slurm-setup.sh starts system daemons and must run as root"

conf_dir=/etc/slurm
state=/var/lib/slurm
logs=/var/log/slurm
ctld_pid=/run/slurmctld.pid
slurmd_pid=/run/slurmd.pid
munge_pid=/run/munge/munged.pid

stop_pidfile() {
  local f="$1" pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then kill "$pid"; host_log "stopped $(basename "$f" .pid) ($pid)"; fi
  rm -f "$f"
}

if [ "${1:-}" = "--stop" ]; then
  stop_pidfile "$slurmd_pid"
  stop_pidfile "$ctld_pid"
  stop_pidfile "$munge_pid"
  exit 0
fi
[ $# -eq 0 ] || host_die "unknown argument: $1 (usage: slurm-setup.sh [--stop])"

list=$(mktemp)
trap 'rm -f "$list"' EXIT
printf '%s\n' slurm-wlm munge >"$list"
host_install_packages "$list"

node=$(hostname -s)
getent hosts "$node" >/dev/null || host_die "this host's name $node does not resolve (add it to /etc/hosts): slurmd and slurmctld find each other by it"
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)

# munge: the key Debian's postinst made, or a new one; munged must run as the munge user.
install -d -m 0700 -o munge -g munge /etc/munge
install -d -m 0711 -o munge -g munge /var/lib/munge /var/log/munge
install -d -m 0755 -o munge -g munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  runuser -u munge -- mungekey --create --keyfile /etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged --pid-file="$munge_pid"
  for _ in $(seq 50); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n </dev/null | unmunge >/dev/null || host_die "munged did not start (see /var/log/munge/munged.log)"
  host_log "munged started"
fi

install -d -m 0755 "$conf_dir" "$logs"
install -d -m 0755 -o slurm -g slurm "$state" "$state/slurmctld"
install -d -m 0755 "$state/slurmd"
chown slurm:slurm "$logs"
cat >"$conf_dir/slurm.conf.new" <<EOF
# Written by lodger's scripts/slurm-setup.sh: a one-node cluster for tests (slurm.conf(5)).
ClusterName=lodger
SlurmctldHost=$node
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$state/slurmctld
SlurmdSpoolDir=$state/slurmd
SlurmctldPidFile=$ctld_pid
SlurmdPidFile=$slurmd_pid
SlurmctldLogFile=$logs/slurmctld.log
SlurmdLogFile=$logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
# scancel: SIGTERM first, SIGKILL this many seconds later (Slurm's default; lodger kills a container 10 s after SIGTERM).
KillWait=30
SlurmdTimeout=60
NodeName=$node CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
changed=false
if ! cmp -s "$conf_dir/slurm.conf.new" "$conf_dir/slurm.conf"; then
  mv "$conf_dir/slurm.conf.new" "$conf_dir/slurm.conf"
  changed=true
else
  rm -f "$conf_dir/slurm.conf.new"
fi
chmod 0644 "$conf_dir/slurm.conf"

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if $changed; then stop_pidfile "$slurmd_pid"; stop_pidfile "$ctld_pid"; fi
if ! running "$ctld_pid"; then
  # -c: a fresh state (no jobs from an earlier run); -i: ignore state files that do not match.
  /usr/sbin/slurmctld -c -i
  host_log "slurmctld started"
fi
if ! running "$slurmd_pid"; then
  /usr/sbin/slurmd
  host_log "slurmd started"
fi

# The node is usable once slurmctld reports it idle (or mixed/allocated when jobs already run).
for _ in $(seq 120); do
  st=$(sinfo -h -n "$node" -o '%T' 2>/dev/null || true)
  case "$st" in
    idle|mixed|allocated) host_log "slurm: node $node is $st"; sinfo; exit 0 ;;
  esac
  sleep 0.5
done
host_log "--- slurmctld.log"; tail -n 30 "$logs/slurmctld.log" >&2 || true
host_log "--- slurmd.log"; tail -n 30 "$logs/slurmd.log" >&2 || true
host_die "slurm: node $node did not become idle within 60 s (state: ${st:-none})"
