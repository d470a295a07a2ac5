"""Names of the cluster profiles: a leaf, so the command line lists them without importing dask."""

from __future__ import annotations

from typing import Literal, get_args

#: The kinds of cluster a profile describes.
ProfileKind = Literal["local", "slurm", "pbs", "gateway"]
PROFILES: tuple[ProfileKind, ...] = get_args(ProfileKind)
#: Profiles that submit jobs to a batch scheduler through dask-jobqueue.
BATCH_PROFILES: frozenset[str] = frozenset({"slurm", "pbs"})

__all__ = ["BATCH_PROFILES", "PROFILES", "ProfileKind"]
