"""The short form of scripts/campaign_lock_proof.py: consecutive entries-mode campaigns NetCDF4 ->
Zarr on a local cluster with two threads per worker (HDF5 calls on threads; the driver crashed
with exit 139 before geoshelf.load.locks.HDF5_LOCK) exit 0, every unit done on its first attempt,
values equal.  The long form (20 runs, 4 entries x 50 files) is the script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_consecutive_entries_campaigns_are_crash_free(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "campaign_lock_proof.py"), "--runs", "2",
                          "--entries", "3", "--files", "8", "--dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=1200, check=False)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("proof: run ")]
    assert len(lines) == 2 and all(": ok: exit 0" in ln and "values equal" in ln for ln in lines), res.stdout
    assert "2 consecutive campaigns crash-free" in res.stdout
