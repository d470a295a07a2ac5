#!/usr/bin/env bash
# Stop the local Slurm started by scripts/slurm-up.sh (idempotent).
set -u
for d in slurmd slurmctld munged; do pkill -x "$d" 2>/dev/null || true; done
for i in $(seq 1 20); do pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null || exit 0; sleep 0.5; done
echo "slurm-down: daemons still running" >&2; exit 1
