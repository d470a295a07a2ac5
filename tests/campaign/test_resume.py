"""Resume after SIGKILL: a real ``python -m geoshelf campaign run`` is killed mid-campaign and
run again; every output is valid, none is duplicated or half-published, done work is not
redone, and the catalog equals that of a run that never crashed."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import xarray as xr
import yaml

from geoshelf.campaign import run_campaign

VOLATILE = ("started", "finished", "host", "versions")


def _normalised_catalog(path: Path) -> dict[str, Any]:
    """The catalog as data, without what differs between two runs (timestamps, host, versions)."""
    data = yaml.safe_load(path.read_text())
    for src in data["sources"].values():
        for rep in src["metadata"]["geoshelf"].get("representations", []):
            for key in VOLATILE:
                rep["provenance"].pop(key, None)
    return data


def _setup(root: Path, files: list[Path], write_spec: Any, cluster: dict[str, Any]) -> Path:
    (root / "data").mkdir(parents=True)
    for f in files:
        shutil.copy2(f, root / "data" / f.name)  # same sizes and mtimes: same fingerprints
    return write_spec(root / "sst.yaml", catalog="cat.yaml", inputs={"files": ["data/*.nc"]}, target="zarr",
                      options={"layout": "map"}, batch_size=2, retries=1, retry_backoff=0.1, cluster=cluster)


def _done(state: Path) -> int:
    try:
        with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM units WHERE status = 'done'").fetchone()[0])
    except sqlite3.Error:
        return 0


def _cli(spec: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "geoshelf", "campaign", "run", str(spec)], cwd=spec.parent,
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def test_resume_after_sigkill_of_the_driver(tmp_path: Path, sst_archive: list[Path], write_spec,
                                            local_cluster) -> None:
    files = sst_archive[:16]
    # "clean" and "crash": names of one length, as bytes_out counts the output's manifest of absolute source paths
    reference = _setup(tmp_path / "clean", files, write_spec, local_cluster)
    assert run_campaign(reference).exit_code == 0  # a run that never crashed

    spec = _setup(tmp_path / "crash", files, write_spec, local_cluster)
    state = tmp_path / "crash" / "sst.state" / "state.sqlite"
    log = tmp_path / "crash" / "driver.log"
    proc = _cli(spec, log)
    deadline = time.monotonic() + 60
    while _done(state) < 4:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "campaign made no progress"
        time.sleep(0.05)
    workers = psutil.Process(proc.pid).children(recursive=True)
    os.kill(proc.pid, signal.SIGKILL)  # mid-campaign: units running, outputs being written
    proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=20)  # workers notice their parent died and exit
    for p in alive:  # pragma: no cover - only if they did not
        p.kill()
    assert not alive, f"worker processes outlived the killed driver: {alive}"

    with sqlite3.connect(state) as db:
        before = dict(db.execute("SELECT id, status FROM units"))
    done_before = {i for i, s in before.items() if s == "done"}
    assert 4 <= len(done_before) < len(files), "the driver was not killed mid-campaign"
    assert "running" in before.values()
    assert not (tmp_path / "crash" / "cat.yaml").exists()  # the catalog is committed once, at the end

    rerun = _cli(spec, log)
    assert rerun.wait(timeout=120) == 0, log.read_text()
    text = log.read_text()
    assert "interrupted units recovered" in text or len(done_before) + sum(
        s == "pending" for s in before.values()) == len(files)

    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT id, status, attempts FROM units").fetchall()
        runs = db.execute("SELECT status FROM runs ORDER BY id").fetchall()
    assert all(status == "done" for _, status, _ in rows) and len(rows) == len(files)
    assert all(att == 1 for uid, _, att in rows if uid in done_before)  # done work was not redone
    assert [r[0] for r in runs] == ["running", "finished"]  # the killed run never got to finish

    shelf = tmp_path / "crash" / "shelf"
    names = sorted(p.name for p in shelf.iterdir() if not p.name.endswith(".lock"))
    assert names == sorted(f"{f.stem}.zarr" for f in files)  # no partial, old or duplicate outputs
    for f in files:
        with xr.open_dataset(f) as src, xr.open_zarr(shelf / f"{f.stem}.zarr") as out:
            np.testing.assert_array_equal(src.sst.values, out.sst.values)
            np.testing.assert_array_equal(src.time.values, out.time.values)
    crash_cat = _normalised_catalog(tmp_path / "crash" / "cat.yaml")
    assert crash_cat == _normalised_catalog(tmp_path / "clean" / "cat.yaml")
    assert len(crash_cat["sources"]) == len(files)


def test_a_worker_lost_mid_task_is_redone_elsewhere(tmp_path: Path, sst_archive: list[Path], write_spec,
                                                   local_cluster) -> None:
    """A worker (as with a job killed by the batch system) dies mid-batch: Dask recomputes the
    batch on another worker; its writes are idempotent, so every output is whole and single."""
    import threading

    files = sst_archive[:8]
    spec = _setup(tmp_path / "lost", files, write_spec, local_cluster)
    state = tmp_path / "lost" / "sst.state" / "state.sqlite"
    killed: list[tuple[int, tuple[str, ...]]] = []

    def kill_a_busy_worker() -> None:
        from distributed import default_client

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _done(state) >= 2:
                client = default_client()  # the campaign's client
                busy = {w: ts for w, ts in client.processing().items() if ts}
                if busy:
                    addr, tasks = next(iter(busy.items()))
                    pid = client.run(os.getpid, workers=[addr])[addr]
                    os.kill(pid, signal.SIGKILL)
                    killed.append((pid, tuple(tasks)))
                    return
            time.sleep(0.01)

    t = threading.Thread(target=kill_a_busy_worker)
    t.start()
    summary = run_campaign(spec)
    t.join()
    assert killed, "no busy worker was found to kill"
    assert summary.exit_code == 0 and summary.report["units"]["done"] == len(files)
    shelf = tmp_path / "lost" / "shelf"
    assert sorted(p.name for p in shelf.iterdir() if not p.name.endswith(".lock")) == \
        sorted(f"{f.stem}.zarr" for f in files)
    for f in files:
        with xr.open_dataset(f) as src, xr.open_zarr(shelf / f"{f.stem}.zarr") as out:
            np.testing.assert_array_equal(src.sst.values, out.sst.values)
