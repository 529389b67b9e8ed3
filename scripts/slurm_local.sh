#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the cluster tests (tests/cli/cluster_test.ts) and for
# trying `deno task cluster-study` without a cluster:
#   bash scripts/slurm_local.sh start [DIR]   installs slurmctld, slurmd and munge where missing (apt),
#                                              writes DIR/slurm.conf (DIR: a new temporary folder by
#                                              default), starts munged, slurmctld and slurmd, waits until
#                                              the node is idle, and prints SLURM_CONF=DIR/slurm.conf last
#   bash scripts/slurm_local.sh stop DIR      stops those three daemons by the pids they wrote, removes DIR
#   bash scripts/slurm_local.sh install       only installs what is missing (CI, before the tests)
# Configuration, state, sockets and logs all live in DIR: nothing in /etc, no system service touched.
# Every Slurm command needs SLURM_CONF=DIR/slurm.conf in its environment to find this cluster.
set -euo pipefail
fail() { echo "slurm_local: $*" >&2; exit 2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# The daemons' pid files, in the order they are stopped.
DAEMONS=(slurmd slurmctld munged)

stop() {
  local dir=$1 name pid
  [ -f "$dir/slurm.conf" ] || fail "$dir holds no cluster started by this script (no slurm.conf)"
  for name in "${DAEMONS[@]}"; do
    [ -s "$dir/$name.pid" ] || continue
    pid=$(cat "$dir/$name.pid")
    kill "$pid" 2>/dev/null || continue
    # Up to 10 s to exit cleanly (slurmctld saves its state), then no more waiting.
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}

install() {
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null ||
    ! command -v munged >/dev/null; then
    echo "slurm_local: installing slurmctld, slurmd, slurm-client and munge with apt" >&2
    as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
  fi
}

start() {
  local dir=${1:-}
  install
  [ "$(id -u)" = 0 ] || fail "the daemons run as root here (slurmd starts jobs as their user): run as root"
  if [ -z "$dir" ]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/slurm-local-XXXXXX"); else mkdir -p "$dir"; fi
  dir=$(cd "$dir" && pwd)
  local host cpus
  host=$(hostname -s)
  cpus=$(nproc)
  mkdir -p "$dir/state" "$dir/spool"
  chmod 700 "$dir"
  # munged refuses a key others can read, and wants --force to run as root with its files in /tmp.
  head -c 1024 /dev/urandom >"$dir/munge.key"
  chmod 400 "$dir/munge.key"
  munged --force --key-file="$dir/munge.key" --socket="$dir/munge.socket" --pid-file="$dir/munged.pid" \
    --log-file="$dir/munged.log" --seed-file="$dir/munge.seed" || fail "munged did not start (see $dir/munged.log)"
  cat >"$dir/slurm.conf" <<EOF
# One node, this machine ($host, $cpus CPUs), written by scripts/slurm_local.sh; everything in $dir.
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${SLURM_LOCAL_PORT:-6817}
SlurmdPort=$((${SLURM_LOCAL_PORT:-6817} + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge.socket
CredType=cred/munge
# No cgroups in a container: track a job's processes by their parent, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Trust the CPU count below rather than what slurmd detects (sockets and cores differ between machines).
SlurmdParameters=config_overrides
ReturnToService=2
# A requeued or cancelled job gets 5 s between SIGTERM and SIGKILL (default 30).
KillWait=5
# Finished jobs stay visible to scontrol for 10 minutes (there is no accounting database).
MinJobAge=600
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
PlugStackConfig=$dir/plugstack.conf
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  : >"$dir/plugstack.conf"
  export SLURM_CONF=$dir/slurm.conf
  # -c: a fresh state; -i: ignore state files from a cluster that used this folder before.
  slurmctld -c -i || { stop "$dir"; fail "slurmctld did not start"; }
  slurmd -c || { stop "$dir"; fail "slurmd did not start"; }
  local state=""
  for _ in $(seq 300); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.1
  done
  if [ "$state" != idle ]; then
    local logs
    logs=$(tail -n 3 "$dir/slurmctld.log" "$dir/slurmd.log" 2>/dev/null | tr '\n' ' ')
    stop "$dir"
    fail "the node did not become idle within 30 s (state: ${state:-none}); logs: $logs"
  fi
  echo "slurm_local: one-node cluster up ($host, $cpus CPUs); stop it with: bash $0 stop $dir" >&2
  echo "SLURM_CONF=$dir/slurm.conf"
}

case "${1:-}" in
install) install ;;
start) start "${2:-}" ;;
stop)
  [ -n "${2:-}" ] || fail "usage: bash $0 stop DIR (the folder start printed)"
  stop "$2"
  ;;
*) fail "usage: bash $0 install | start [DIR] | stop DIR" ;;
esac
