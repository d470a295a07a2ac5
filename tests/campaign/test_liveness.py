"""`campaign status` tells a dead driver from a running one: host, pid and a heartbeat in the state."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from filelock import FileLock

from geoshelf.campaign.liveness import Heartbeat, driver_liveness
from geoshelf.campaign.state import State
from geoshelf.cli import main
from geoshelf.testing.faults import run_child


def _spec(tmp_path: Path, sst_archive: list[Path], write_spec, local_cluster) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for f in sst_archive[:4]:
        (data / f.name).write_bytes(f.read_bytes())
    return write_spec(tmp_path / "sst.yaml", catalog="cat.yaml", inputs={"files": ["data/*.nc"], "name": "d_{stem}"},
                      target="zarr", batch_size=1, cluster=local_cluster)


def test_status_says_a_killed_driver_died_and_how_to_resume(tmp_path: Path, sst_archive: list[Path], write_spec,
                                                            local_cluster, capsys) -> None:
    spec = _spec(tmp_path, sst_archive, write_spec, local_cluster)
    killed = run_child(["campaign", "run", str(spec)], fault="campaign:recorded-unit")
    assert killed.killed, killed.stderr
    assert main(["campaign", "status", str(spec)]) == 0
    out = capsys.readouterr().out
    st = State(tmp_path / "sst.state" / "state.sqlite")
    run = st.runs()[-1]
    st.close()
    assert run["status"] == "running" and run["host"] == socket.gethostname()  # as the dead driver left it
    assert f"driver: driver died (pid {run['pid']} on {run['host']} gone); run `geoshelf campaign run {spec}` " \
           "to resume" in out
    # the rerun resumes and finishes; status then says the driver is not running
    assert main(["campaign", "run", str(spec)]) == 0
    capsys.readouterr()
    main(["campaign", "status", str(spec)])
    assert "driver: not running (last run finished)" in capsys.readouterr().out


def test_status_of_a_live_driver_and_of_a_silent_one(tmp_path: Path) -> None:
    state_dir = tmp_path / "camp.state"
    st = State(state_dir / "state.sqlite")
    run_id = st.start_run(profile="local", max_jobs=1, workers=1)
    last = st.runs()[-1]
    with FileLock(str(state_dir / "driver.lock")):  # this process plays the driver
        live = driver_liveness(last, "camp.yaml", lock_held=True)
        assert live.state == "running"
        assert live.text.startswith(f"running (pid {os.getpid()} on {socket.gethostname()}, heartbeat ")
        assert live.text.endswith(" s ago)")
    # the pid exists but nothing beat for 15 minutes (a hung or reused pid)
    st.update_run(run_id, heartbeat=time.time() - 900)
    silent = driver_liveness(st.runs()[-1], "camp.yaml", lock_held=True)
    assert silent.state == "died" and "no heartbeat for 15 min" in silent.text
    assert silent.text.endswith("run `geoshelf campaign run camp.yaml` to resume")
    # a driver on another node: only its heartbeat tells
    other = {**st.runs()[-1], "host": "node-17", "pid": 1, "heartbeat": time.time() - 2}
    assert driver_liveness(other, "camp.yaml", lock_held=None).state == "running"
    other["heartbeat"] = time.time() - 3600
    assert driver_liveness(other, "camp.yaml", lock_held=None).text == \
        "driver died (pid 1 on node-17: no heartbeat for 60 min); run `geoshelf campaign run camp.yaml` to resume"
    st.close()


def test_heartbeat_thread_refreshes_the_run(tmp_path: Path) -> None:
    st = State(tmp_path / "state.sqlite")
    run_id = st.start_run(profile="local", max_jobs=1, workers=1)
    st.update_run(run_id, heartbeat=1.0)
    with Heartbeat(st.path, run_id, interval=0.05):
        deadline = time.monotonic() + 30
        while st.runs()[-1]["heartbeat"] == 1.0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert st.runs()[-1]["heartbeat"] > time.time() - 60
    st.close()


def test_old_state_files_gain_the_heartbeat_column(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "state.sqlite"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('schema', '1');"
                     "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL, finished REAL, "
                     "status TEXT, profile TEXT, max_jobs INTEGER, workers INTEGER, jobs TEXT DEFAULT '[]', "
                     "dashboard TEXT, pid INTEGER, host TEXT, done INTEGER DEFAULT 0, failed INTEGER DEFAULT 0, "
                     "retried INTEGER DEFAULT 0);")
    db.close()
    st = State(path)
    st.start_run(profile="local", max_jobs=1, workers=1)
    assert st.runs()[-1]["heartbeat"] is not None
    st.close()
