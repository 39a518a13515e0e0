#!/usr/bin/env bash
# Stops what tests/slurm/start.sh started: slurmd and slurmctld of tests/slurm/slurm.conf
# (by their pid files), and munged when no other Slurm on the machine needs it (--munge).
set -euo pipefail
for name in slurmd slurmctld; do
  pidfile="/run/medicosam-slurm/$name.pid"
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "stopped $name"
  fi
done
if [ "${1:-}" = "--munge" ] && [ -s /run/munge/munged.pid ]; then
  kill "$(cat /run/munge/munged.pid)" && echo "stopped munged"
fi
