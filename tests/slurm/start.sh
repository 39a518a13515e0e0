#!/usr/bin/env bash
# Starts the one-node Slurm cluster of tests/slurm/slurm.conf on this machine: munged,
# slurmctld and slurmd, then waits until the node is idle. Idempotent: what runs already is
# left alone, so CI and developers can call it before every test run.
#
#   sudo tests/slurm/start.sh            # needs root: the daemons run as root (SlurmUser=root)
#   export SLURM_CONF=$PWD/tests/slurm/slurm.conf   # for sinfo / squeue / sbatch by hand
#
# Needs Debian's slurm-wlm and munge (.ci/apt-packages.txt). No systemd: the daemons are
# started directly. tests/slurm/stop.sh stops them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export SLURM_CONF="$here/slurm.conf"

fail() { echo "tests/slurm/start.sh: $*" >&2; exit 1; }
for cmd in munged munge unmunge slurmctld slurmd sinfo scontrol; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || fail "$cmd not found; install Debian's slurm-wlm and munge (apt-get install slurm-wlm munge)"
done
[ "$(id -u)" = 0 ] || fail "run as root (the test cluster's daemons run as root)"
PATH="$PATH:/usr/sbin"

# --- munge: a key, its run directory, the daemon --------------------------------------------
if ! id munge >/dev/null 2>&1; then fail "the munge user is missing (is the munge package installed?)"; fi
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
  if command -v mungekey >/dev/null 2>&1; then mungekey --create --keyfile=/etc/munge/munge.key
  else dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; fi
fi
chown munge:munge /etc/munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
chmod 700 /etc/munge; chmod 400 /etc/munge/munge.key; chmod 755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- munged
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || fail "munged did not start"
fi

# --- the folders slurm.conf names -----------------------------------------------------------
mkdir -p /run/medicosam-slurm /var/lib/medicosam-slurm/slurmctld /var/lib/medicosam-slurm/slurmd /var/log/medicosam-slurm

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# --- slurmctld, then slurmd -----------------------------------------------------------------
if ! running /run/medicosam-slurm/slurmctld.pid; then slurmctld; fi
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q "is UP" && break; sleep 0.2; done
scontrol ping | grep -q "is UP" || fail "slurmctld does not answer; see /var/log/medicosam-slurm/slurmctld.log"
if ! running /run/medicosam-slurm/slurmd.pid; then slurmd -N localhost; fi

# --- the node: idle (resumed if an earlier run left it down or drained) ---------------------
state=""
for i in $(seq 150); do
  state="$(sinfo -h -n localhost -o %T 2>/dev/null | head -1 | tr -d '*~#')"
  case "$state" in
    idle|mixed|allocated|completing) break ;;
    down|drained|draining|fail*) [ $((i % 10)) = 1 ] && scontrol update nodename=localhost state=resume 2>/dev/null || true ;;
  esac
  sleep 0.2
done
case "$state" in
  idle|mixed|allocated|completing) ;;
  *) fail "the node is '${state:-unknown}', not idle; see /var/log/medicosam-slurm/slurmd.log" ;;
esac
echo "Slurm test cluster up: node localhost $state (SLURM_CONF=$SLURM_CONF)"
