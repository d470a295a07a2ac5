"""Campaign inputs from a listing file (path, size, mtime per line): planning without a stat."""

from __future__ import annotations

import io
import os
import random
import shutil
from pathlib import Path

import pytest
import xarray as xr

from geoshelf.campaign import plan_campaign, run_campaign
from geoshelf.campaign.listing import mtime_ns
from geoshelf.campaign.plan import build_plan
from geoshelf.campaign.spec import load_spec
from geoshelf.catalog import Catalog
from geoshelf.errors import CampaignError


def _listing(path: Path, n: int, *, per_dir: int = 10, shuffle: bool = False, bump: int | None = None) -> Path:
    lines = [f"/gpfs/archive/obs/d{i // per_dir:04d}/obs_{i:06d}.nc\t{1000 + i}\t1700000000.{i:010d}"
             + ("1" if i == bump else "") for i in range(n)]
    if shuffle:
        random.Random(4).shuffle(lines)
    path.write_text("# find /gpfs/archive -type f -printf '%p\\t%s\\t%T@\\n'\n" + "\n".join(lines) + "\n")
    return path


def test_plan_from_a_listing_of_files_that_do_not_exist(tmp_path: Path, write_spec) -> None:
    _listing(tmp_path / "files.tsv", 95)
    spec = write_spec(tmp_path / "c.yaml", catalog="cat.yaml", inputs={"listing": "files.tsv", "name": "obs_{parent}"},
                      target="references", batch_size=25)
    plan = build_plan(load_spec(spec), keep_files=False)
    assert [u.name for u in plan.units][:2] == ["obs_d0000", "obs_d0001"] and len(plan.units) == 10
    assert plan.n_files == 95 and plan.units[-1].n_files == 5 and plan.units[0].files == ()
    assert plan.bytes_in == sum(1000 + i for i in range(95))
    kept = build_plan(load_spec(spec))
    assert kept.units[0].files[:2] == ("/gpfs/archive/obs/d0000/obs_000000.nc", "/gpfs/archive/obs/d0000/obs_000001.nc")
    assert [u.id for u in kept.units] == [u.id for u in plan.units]  # a dry run plans the same units
    _listing(tmp_path / "files.tsv", 95, shuffle=True)  # another order: the same units
    assert {u.name: u.id for u in build_plan(load_spec(spec)).units} == {u.name: u.id for u in plan.units}
    _listing(tmp_path / "files.tsv", 95, bump=42)  # one file's mtime changed: its unit alone is new work
    changed = [a.id != b.id for a, b in zip(build_plan(load_spec(spec)).units, plan.units, strict=True)]
    assert changed == [i == 4 for i in range(10)]


def test_dry_run_reports_tasks_jobs_memory_and_state_size(tmp_path: Path, write_spec) -> None:
    _listing(tmp_path / "files.tsv", 400, per_dir=100)
    spec = write_spec(tmp_path / "c.yaml", catalog="cat.yaml", inputs={"listing": "files.tsv", "name": "obs_{parent}"},
                      target="references", batch_size=50, max_jobs=3,
                      cluster={"profile": "slurm", "scheduler-host": "127.0.0.1", "dashboard-address": ":0"})
    text = plan_campaign(spec, out=io.StringIO())
    assert "400 files -> 4 units" in text and "4 units in 4 Dask tasks" in text
    assert "slurm: 3 jobs would be submitted (cap 3" in text
    assert "driver peak memory" in text and "the state database would be" in text
    assert not (tmp_path / "c.state").exists()  # nothing written


@pytest.mark.parametrize(("line", "error"), [
    ("/a/b.nc\t12", "line 2: expected 3 tab-separated columns"),
    ("/a/b.nc\ttwelve\t1700000000", "line 2: invalid literal"),
    ("/a/b.nc\t12\tyesterday", "line 2: could not convert"),
])
def test_a_bad_line_is_named(tmp_path: Path, write_spec, line: str, error: str) -> None:
    (tmp_path / "files.tsv").write_text(f"/a/a.nc\t1\t1700000000.5\n{line}\n")
    spec = write_spec(tmp_path / "c.yaml", catalog="cat.yaml", inputs={"listing": "files.tsv"}, target=None)
    with pytest.raises(CampaignError, match=f"files.tsv: {error}"):
        build_plan(load_spec(spec))


def test_listing_spec_errors(tmp_path: Path, write_spec) -> None:
    spec = write_spec(tmp_path / "c.yaml", inputs={"listing": "nope.tsv"}, target=None)
    with pytest.raises(CampaignError, match="inputs.listing .*nope.tsv: no such file"):
        load_spec(spec)
    (tmp_path / "l.tsv").write_text("")
    spec = write_spec(tmp_path / "c.yaml", inputs={"listing": "l.tsv", "files": ["*.nc"]}, target=None)
    with pytest.raises(CampaignError, match="exactly one of 'entries'"):
        load_spec(spec)
    spec = write_spec(tmp_path / "c.yaml", catalog="cat.yaml", inputs={"listing": "l.tsv"}, target=None)
    with pytest.raises(CampaignError, match="names no files"):
        build_plan(load_spec(spec))


def test_mtime_is_exact() -> None:
    assert mtime_ns("1700000000.1234567890") == 1_700_000_000_123_456_789
    assert mtime_ns("1700000000") == 1_700_000_000_000_000_000


def test_a_campaign_runs_from_a_find_listing(tmp_path: Path, sst_archive: list[Path], write_spec,
                                             local_cluster) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for f in sst_archive[:4]:
        shutil.copy2(f, data / f.name)
    lines = []
    for f in sorted(data.iterdir()):  # what find -printf '%p\t%s\t%T@\n' writes
        st = os.stat(f)
        lines.append(f"data/{f.name}\t{st.st_size}\t{st.st_mtime_ns // 10**9}.{st.st_mtime_ns % 10**9:09d}0")
    (tmp_path / "files.tsv").write_text("\n".join(lines) + "\n")
    spec = write_spec(tmp_path / "c.yaml", catalog="cat.yaml", inputs={"listing": "files.tsv", "name": "sst_all",
                                                                        "pattern": r"sst_(?P<day>\d+)\.nc"},
                      target="zarr", options={"layout": "map"}, cluster=local_cluster)
    summary = run_campaign(spec)
    assert summary.exit_code == 0
    entry = Catalog(tmp_path / "cat.yaml").sst_all
    assert entry.files == 4
    expected = xr.open_mfdataset([str(data / f.name) for f in sst_archive[:4]], combine="by_coords")
    xr.testing.assert_allclose(entry.to_dask(representation="zarr").sst.compute(), expected.sst.compute())
