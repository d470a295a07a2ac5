"""A real campaign through dask-jobqueue's SLURMCluster on the local Slurm (scripts/slurm-up.sh).

Accounting is off on the test Slurm (``accounting_storage/none``: no ``sacct``), so jobs
are counted with ``scripts/slurm-jobs.sh``: finished jobs from the jobcomp/filetxt log
plus those still in ``squeue``.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from geoshelf.campaign import run_campaign
from geoshelf.catalog import Catalog

REPO = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(shutil.which("sinfo") is None, reason="no Slurm here: `sinfo` not found "
                       "(start one with scripts/slurm-up.sh, as root)"),
]


def _jobs_recorded() -> int:
    out = subprocess.run(["bash", str(REPO / "scripts" / "slurm-jobs.sh")], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip())


def _our_jobs_now() -> int:
    out = subprocess.run(["squeue", "-h", "-n", "geoshelf", "-o", "%i"], capture_output=True, text=True, check=False)
    return len(out.stdout.split())


def test_campaign_on_real_slurm_respects_the_jobs_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from geoshelf.demo.data import make_sst

    monkeypatch.setenv("GEOSHELF_CONFIG", str(tmp_path / "no-user-config.yaml"))
    monkeypatch.delenv("GEOSHELF_SHELF_ROOT", raising=False)
    subprocess.run(["sinfo"], check=True, capture_output=True)  # Slurm must answer
    files = make_sst(tmp_path / "data", days=16, ny=18, nx=36)
    spec = tmp_path / "slurm.yaml"
    spec.write_text(yaml.safe_dump({
        "catalog": "cat.yaml", "inputs": {"files": ["data/*.nc"]}, "target": "zarr", "batch_size": 2,
        "max_jobs": 2, "retries": 1, "retry_backoff": 1,
        "cluster": {"profile": "slurm", "cores": 1, "memory": "1GiB", "walltime": "00:20:00",
                    "scheduler-host": "127.0.0.1", "dashboard-address": ":0", "submit-interval": "0.5s",
                    "log-directory": str(tmp_path / "logs")},
    }))
    before = _jobs_recorded()
    peak = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _our_jobs_now())
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        summary = run_campaign(spec)
    finally:
        stop.set()
        watcher.join()
    time.sleep(1)  # cancelled jobs reach the jobcomp log
    used = _jobs_recorded() - before
    assert summary.exit_code == 0, summary.report
    assert summary.report["units"]["done"] == len(files)
    assert 1 <= used <= 2, f"{used} Slurm jobs were submitted for a cap of 2"
    assert summary.report["scheduler_jobs"] == used
    assert peak[0] <= 2
    cat = Catalog(tmp_path / "cat.yaml")
    assert len(cat) == len(files)
    for f in files:
        out = cat[f.stem].to_dask(representation="zarr").compute()
        with xr.open_dataset(f) as src:
            np.testing.assert_array_equal(src.sst.values, out.sst.values)


def test_a_partition_that_does_not_exist_stops_the_campaign_at_once(tmp_path: Path) -> None:
    """sbatch refuses the job: the campaign stops with sbatch's own words on one line (exit 7), no hang
    (the subprocess timeout bounds it).
    (PBS: the same path through qsub, with a qsub standing in for PBS: test_pbs_submission.py.)"""
    import sys

    from geoshelf.demo.data import make_sst

    make_sst(tmp_path / "data", days=2, ny=4, nx=8)
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump({
        "catalog": "cat.yaml", "inputs": {"files": ["data/*.nc"]}, "target": None, "retries": 0,
        "cluster": {"profile": "slurm", "queue": "no-such-partition", "cores": 1, "memory": "1GiB",
                    "walltime": "00:30:00", "scheduler-host": "127.0.0.1", "dashboard-address": ":0",
                    "submit-interval": "0.5s"},
    }))
    r = subprocess.run([sys.executable, "-m", "geoshelf", "campaign", "run", str(spec)], capture_output=True,
                       text=True, timeout=170, env={**__import__("os").environ,
                                                    "GEOSHELF_CONFIG": str(tmp_path / "none.yaml")})
    assert r.returncode == 7, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("geoshelf: error: slurm: cannot submit worker jobs: sbatch: error: invalid partition")
    assert "Command exited" not in last
    assert "Traceback" not in r.stderr  # tornado's traceback of the failed submission is not shown: one line
    assert not (tmp_path / "cat.yaml").exists()  # nothing was committed
