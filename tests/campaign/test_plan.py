"""Planning: deterministic unit ids, packing files into tasks, the jobs cap, the dry run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geoshelf.campaign import build_plan, load_spec
from geoshelf.campaign.plan import Unit, jobs_needed, pack
from geoshelf.campaign.run import plan_campaign, resolve_profile
from geoshelf.cli import main


def _units(n: int, files: int = 1) -> list[Unit]:
    return [Unit(id=str(i), seq=i, kind="files", name=f"u{i}", files=tuple(f"f{i}_{k}" for k in range(files)))
            for i in range(n)]


def test_pack_never_exceeds_batch_size_and_keeps_order() -> None:
    batches = pack(_units(10_000), 50)
    assert len(batches) == 200
    assert all(len(b) == 50 for b in batches)
    assert [u.seq for b in batches for u in b] == list(range(10_000))
    mixed = pack(_units(3, files=4) + _units(2, files=30), 10)  # a unit bigger than a batch is alone
    assert [sum(u.n_files for u in b) for b in mixed] == [8, 4, 30, 30]


def test_jobs_needed_is_capped() -> None:
    from geoshelf.cluster import get_profile

    slurm = get_profile("slurm", {"max-jobs": 4, "cores": 4, "processes": 2})
    assert jobs_needed(200, slurm) == 4
    assert jobs_needed(3, slurm) == 1  # 4 worker slots per job
    assert jobs_needed(0, slurm) == 0
    assert jobs_needed(0, slurm, client_units=1) == 4
    assert jobs_needed(200, get_profile("local")) == 0


@pytest.fixture
def ten_thousand(tmp_path: Path) -> Path:
    """10,000 (empty) synthetic files of a daily archive."""
    d = tmp_path / "archive"
    d.mkdir()
    for i in range(10_000):
        (d / f"obs_{i:05d}.nc").touch()
    return d


def test_dry_run_of_10000_files_on_slurm_packs_files_and_caps_jobs(tmp_path: Path, ten_thousand: Path,
                                                                   write_spec, capsys) -> None:
    spec = write_spec(tmp_path / "big.yaml", catalog="cat.yaml", inputs={"files": ["archive/*.nc"]}, target=None,
                      batch_size=50, max_jobs=4,
                      cluster={"profile": "slurm", "queue": "debug", "scheduler-host": "127.0.0.1",
                               "dashboard-address": ":0"})
    plan = build_plan(load_spec(spec))
    assert len(plan.units) == 10_000 and len(plan.batches) == 200
    assert max(sum(u.n_files for u in b) for b in plan.batches) == 50
    text = plan_campaign(spec)
    assert text == capsys.readouterr().out
    assert "10000 files -> 10000 units" in text
    assert "10000 units in 200 Dask tasks (batch_size 50: 50-50 files per task)" in text
    assert "slurm: 4 jobs would be submitted (cap 4 concurrent jobs, adaptive 0..4)" in text
    assert "#SBATCH -p debug" in text and "#SBATCH -t 01:00:00" in text and "--lifetime 2880s" in text
    assert not (tmp_path / "big.state").exists()  # a dry run writes nothing
    assert not (tmp_path / "cat.yaml").exists()
    # --cluster overrides the spec's profile (and its profile-specific settings)
    assert main(["campaign", "run", str(spec), "--dry-run", "--cluster", "pbs"]) == 0
    out = capsys.readouterr().out
    assert "pbs: 4 jobs would be submitted" in out and "#PBS -l select=1:ncpus=1:mem=" in out


def test_unit_ids_are_deterministic_and_follow_inputs_and_parameters(tmp_path: Path, write_spec) -> None:
    d = tmp_path / "d"
    d.mkdir()
    for i in range(3):
        (d / f"a{i}.tif").write_bytes(b"x" * (i + 1))
    spec = write_spec(tmp_path / "s.yaml", catalog="cat.yaml", inputs={"files": ["d/*.tif"], "name": "t_{stem}"},
                      target="zarr", options={"layout": "map"})
    ids = [u.id for u in build_plan(load_spec(spec)).units]
    assert ids == [u.id for u in build_plan(load_spec(spec)).units]
    assert [u.name for u in build_plan(load_spec(spec)).units] == ["t_a0", "t_a1", "t_a2"]
    st = os.stat(d / "a1.tif")
    os.utime(d / "a1.tif", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a changed file is new work
    changed = [u.id for u in build_plan(load_spec(spec)).units]
    assert changed[0] == ids[0] and changed[2] == ids[2] and changed[1] != ids[1]
    write_spec(spec, catalog="cat.yaml", inputs={"files": ["d/*.tif"], "name": "t_{stem}"}, target="zarr",
               options={"layout": "timeseries"})
    assert not set(ids) & {u.id for u in build_plan(load_spec(spec)).units}  # other options: all new work


def test_grouping_files_into_entries_by_pattern(tmp_path: Path, write_spec) -> None:
    d = tmp_path / "d"
    d.mkdir()
    for day in ("20200101", "20200102", "20210101"):
        (d / f"sst_{day}.nc").touch()
    spec = write_spec(tmp_path / "s.yaml", catalog="cat.yaml", target=None,
                      inputs={"files": ["d/*.nc"], "pattern": r"sst_(?P<year>\d{4})", "name": "sst_{year}"})
    plan = build_plan(load_spec(spec))
    assert [(u.name, len(u.files)) for u in plan.units] == [("sst_2020", 2), ("sst_2021", 1)]
    write_spec(spec, catalog="cat.yaml", target=None, inputs={"files": ["d/*.nc"], "pattern": r"sst_(?P<y>19\d\d)",
                                                              "name": "sst_{y}"})
    with pytest.raises(Exception, match="does not match inputs.pattern"):
        build_plan(load_spec(spec))


def test_entries_plan_checks_the_catalog(tmp_path: Path, catalog_path: Path, write_spec) -> None:
    spec = write_spec(tmp_path / "e.yaml", catalog=str(catalog_path), inputs={"entries": ["sst", "nope"]},
                      target="zarr")
    with pytest.raises(Exception, match="no entry named 'nope'"):
        build_plan(load_spec(spec))
    write_spec(spec, catalog=str(catalog_path), inputs={"entries": ["stations"]}, target="zarr")
    with pytest.raises(Exception, match="entry 'stations' is csv; target 'zarr' accepts"):
        build_plan(load_spec(spec))
    write_spec(spec, catalog=str(catalog_path), inputs={"entries": ["sst", "air"]}, target="zarr", max_jobs=3,
               cluster={"profile": "pbs"})
    s = load_spec(spec)
    plan = build_plan(s)
    assert [u.name for u in plan.client_units] == ["sst", "air"] and not plan.batches
    assert resolve_profile(s).max_jobs == 3
    assert resolve_profile(s, "local").kind == "local"
