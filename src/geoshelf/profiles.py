"""Names of the cluster profiles: a leaf, so the command line lists them without importing dask."""

from __future__ import annotations

PROFILES: tuple[str, ...] = ("local", "slurm", "pbs", "gateway")
BATCH_PROFILES: frozenset[str] = frozenset({"slurm", "pbs"})

__all__ = ["BATCH_PROFILES", "PROFILES"]
