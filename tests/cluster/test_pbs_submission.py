"""A PBS campaign whose job qsub refuses stops at once with qsub's own words (exit 7), through dask-jobqueue's
real PBSCluster and geoshelf's paced submission -- up to the qsub command line.

There is no PBS here (no Debian package; OpenPBS is built from source at a site).  A ``qsub`` on PATH
stands in for the missing component: it receives exactly what dask-jobqueue's PBSJob submits (the job
script file as its argument), keeps a copy for the test, and refuses the job the way OpenPBS's qsub refuses
an unknown queue (``qsub: Unknown queue`` on stderr, non-zero exit; the real exit status may differ, which
dask-jobqueue does not look at beyond "non-zero").  Not tested here: a real pbs_server's other refusals
(resource limits, account), qsub hanging, and jobs that are accepted but never start (the driver's
``worker-wait`` covers those, as for Slurm).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

FAKE_QSUB = """#!/bin/sh
# stands in for OpenPBS's qsub (not installed here): keep what was submitted, refuse it as an unknown queue
cp "$1" "{keep}/submitted-$$.sh"
printf '%s\\n' "$*" > "{keep}/argv-$$"
echo "qsub: Unknown queue" >&2
exit 1
"""


def test_a_queue_qsub_refuses_stops_the_campaign_with_qsubs_words(tmp_path: Path) -> None:
    from geoshelf.demo.data import make_sst

    make_sst(tmp_path / "data", days=2, ny=4, nx=8)
    keep = tmp_path / "submitted"
    keep.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    qsub = bin_dir / "qsub"
    qsub.write_text(FAKE_QSUB.format(keep=keep))
    qsub.chmod(0o755)
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump({
        "catalog": "cat.yaml", "inputs": {"files": ["data/*.nc"]}, "target": None, "retries": 0,
        "cluster": {"profile": "pbs", "queue": "no-such-queue", "account": "geo-test", "cores": 1, "memory": "1GiB",
                    "walltime": "00:30:00", "scheduler-host": "127.0.0.1", "dashboard-address": ":0",
                    "submit-interval": "0.5s"},
    }))
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "GEOSHELF_CONFIG": str(tmp_path / "none.yaml"), "PYTHONWARNINGS": "ignore"}
    r = subprocess.run([sys.executable, "-m", "geoshelf", "campaign", "run", str(spec)], capture_output=True,
                       text=True, timeout=170, env=env, cwd=tmp_path)
    assert r.returncode == 7, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last == "geoshelf: error: pbs: cannot submit worker jobs: qsub: Unknown queue"
    assert "Traceback" not in r.stderr and "Command exited" not in r.stderr
    assert not (tmp_path / "cat.yaml").exists()  # nothing was committed
    # what dask-jobqueue handed qsub: one job script file, with the site's directives and a worker that
    # connects back to this scheduler
    scripts = sorted(keep.glob("submitted-*.sh"))
    assert scripts, "qsub was never called"
    script = scripts[0].read_text()
    assert script.startswith("#!/usr/bin/env bash") or script.startswith("#!")
    assert "#PBS -q no-such-queue" in script and "#PBS -A geo-test" in script
    assert "#PBS -l walltime=00:30:00" in script
    assert "distributed.cli.dask_worker tcp://127.0.0.1:" in script or "dask-worker tcp://127.0.0.1:" in script or \
        "distributed.cli.dask_spec" in script
    argv = sorted(keep.glob("argv-*"))[0].read_text().split()
    assert len(argv) == 1 and argv[0].endswith(".sh")  # `qsub <script>`: no options beyond the script's own
