#!/usr/bin/env bash
# Print the number of jobs the local Slurm has recorded as finished (jobcomp/filetxt),
# plus those still queued or running: the job count tests compare before and after.
set -euo pipefail
JOBLOG=${GEOSHELF_SLURM_JOBLOG:-/var/log/slurm/jobcomp.log}
done_jobs=$(grep -c "JobId=" "$JOBLOG" 2>/dev/null || true)
live=$(squeue -h -o %i 2>/dev/null | wc -l)
echo $(( ${done_jobs:-0} + live ))
