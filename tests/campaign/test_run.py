"""Campaigns run for real on a local Dask cluster: shelving, converting, retries, reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from geoshelf.campaign import campaign_report, run_campaign
from geoshelf.campaign.state import State
from geoshelf.catalog import Catalog
from geoshelf.cli import main


def _same_values(a: xr.Dataset, b: xr.Dataset, var: str) -> None:
    np.testing.assert_array_equal(a[var].values, b[var].values)  # NaN == NaN here


def test_files_campaign_with_a_corrupt_file(tmp_path: Path, sst_archive: list[Path], write_spec, local_cluster,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for f in sst_archive[:6]:
        shutil.copy2(f, data / f.name)
    (data / "sst_20991231.nc").write_bytes(b"CDF\x01" + b"\x00garbage" * 100)  # one bad file among good ones
    spec = write_spec(tmp_path / "sst.yaml", catalog="cat.yaml", inputs={"files": ["data/*.nc"], "name": "day_{stem}"},
                      target="zarr", options={"layout": "map"}, batch_size=3, retries=2, retry_backoff=0.05,
                      cluster=local_cluster)
    summary = run_campaign(spec)
    assert summary.exit_code == 1
    r = summary.report
    assert r["units"] == {"total": 7, "done": 6, "skipped": 0, "failed": 1, "pending": 0, "running": 0}
    assert r["retried_attempts"] == 2 and r["scheduler_jobs"] == 0
    assert r["bytes_in"] == sum(f.stat().st_size for f in sst_archive[:6]) and r["bytes_out"] > 0
    (bad,) = r["failures"]
    assert bad["name"] == "day_sst_20991231" and bad["attempts"] == 3
    assert "sst_20991231.nc" in bad["error"]
    md = summary.markdown.read_text()
    assert "| failed | 1 |" in md and "| day_sst_20991231 | 3 |" in md
    assert json.loads(summary.json.read_text())["failures"][0]["error"] == bad["error"]
    out = capsys.readouterr().out
    assert "failed: day_sst_20991231: " in out

    cat = Catalog(tmp_path / "cat.yaml")
    assert sorted(cat) == sorted(f"day_{f.stem}" for f in sst_archive[:6])  # the bad file is not catalogued
    for f in sst_archive[:6]:
        entry = cat[f"day_{f.stem}"]
        rep = entry.representation("zarr")
        assert rep is not None and rep.provenance.validation == "full"
        with xr.open_dataset(f) as src:
            _same_values(src, entry.to_dask(representation="zarr").compute(), "sst")
    assert sorted(p.name for p in (tmp_path / "shelf").iterdir() if not p.name.endswith(".lock")) == \
        sorted(f"day_{f.stem}.zarr" for f in sst_archive[:6])

    # a dry run shows what the state holds, and changes nothing
    state_file = tmp_path / "sst.state" / "state.sqlite"
    before = state_file.stat().st_mtime_ns
    assert main(["campaign", "run", str(spec), "--dry-run"]) == 0
    assert "units by state: 0 new, 0 pending, 0 running, 6 done, 1 failed" in capsys.readouterr().out
    assert state_file.stat().st_mtime_ns == before

    # status and report from the state alone
    assert main(["campaign", "status", str(spec)]) == 0
    status = capsys.readouterr().out
    assert "7 units: 6 done, 1 failed, 0 running, 0 pending" in status
    assert "failed: day_sst_20991231 after 3 attempt(s): " in status
    assert main(["campaign", "report", str(spec)]) == 0
    assert "| day_sst_20991231 | 3 |" in capsys.readouterr().out

    # `retry` gives the failed unit fresh attempts; the good ones are not redone
    catalog_text = (tmp_path / "cat.yaml").read_text()
    assert main(["campaign", "retry", str(spec)]) == 1
    st = State(tmp_path / "sst.state" / "state.sqlite")
    assert st.counts() == {"pending": 0, "running": 0, "done": 6, "failed": 1}
    assert all(u["attempts"] == 1 for u in st.units("done"))
    assert st.units("failed")[0]["attempts"] == 3
    st.close()
    assert (tmp_path / "cat.yaml").read_text() == catalog_text

    # the file is repaired: it is new work (a new unit id), done on the next run
    shutil.copy2(sst_archive[6], data / "sst_20991231.nc")
    summary = run_campaign(spec)
    assert summary.exit_code == 0
    assert summary.report["units"]["done"] == 7 and summary.report["units"]["failed"] == 0
    assert "day_sst_20991231" in Catalog(tmp_path / "cat.yaml")


def test_entries_campaign_drives_zarr_from_the_client(tmp_path: Path, catalog_path: Path, write_spec,
                                                      local_cluster) -> None:
    spec = write_spec(tmp_path / "entries.yaml", catalog=str(catalog_path), inputs={"entries": ["sst", "air"]},
                      target="zarr", output="out", cluster=local_cluster)
    summary = run_campaign(spec)
    assert summary.exit_code == 0 and summary.report["units"]["done"] == 2
    cat = Catalog(catalog_path)
    for name in ("sst", "air"):
        rep = cat[name].representation("zarr")
        assert rep is not None and cat[name].resolve(rep.path) == str(tmp_path / "out" / f"{name}.zarr")
        orig = cat[name].to_dask(representation="original").compute()
        _same_values(orig, cat[name].to_dask(representation="zarr").compute(), name)
    text = catalog_path.read_text()
    assert run_campaign(spec).report["units"]["done"] == 2  # nothing to do: nothing touched
    assert catalog_path.read_text() == text
    # without the state, the conversions find their outputs up to date: skipped, not redone
    shutil.rmtree(tmp_path / "entries.state")
    summary = run_campaign(spec)
    assert summary.report["units"]["skipped"] == 2 and summary.report["units"]["done"] == 0
    assert catalog_path.read_text() == text
    report, md = campaign_report(spec)
    assert "| skipped (already up to date) | 2 |" in md


def test_a_batch_system_that_refuses_jobs_is_one_clear_error(tmp_path: Path, sst_archive: list[Path], write_spec,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """PBS is not installed here: `qsub` cannot run, and the campaign says so instead of waiting forever."""
    if shutil.which("qsub"):
        pytest.skip("a real qsub is installed here")
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy2(sst_archive[0], data / sst_archive[0].name)
    spec = write_spec(tmp_path / "pbs.yaml", catalog="cat.yaml", inputs={"files": ["data/*.nc"]}, target=None,
                      cluster={"profile": "pbs", "dashboard-address": ":0", "submit-interval": 0})
    assert main(["campaign", "run", str(spec)]) == 7  # ClusterError
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("geoshelf: error: pbs: cannot submit worker jobs: ") and "qsub" in err
    st = State(tmp_path / "pbs.state" / "state.sqlite")
    assert st.counts() == {"pending": 1, "running": 0, "done": 0, "failed": 0}  # nothing lost: rerun to resume
    assert [r["status"] for r in st.runs()] == ["interrupted"]
    st.close()
