"""Region-by-region Zarr writing (convert/shards.py): planning is exact for any layout, packed
integers are copied without decoding, mixed packing and gaps are handled, errors name the file,
and a dask.distributed client runs the tasks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoshelf import convert
from geoshelf.catalog import Catalog, add_entry
from geoshelf.convert.shards import plan_variable, region_tasks
from geoshelf.errors import SourceError
from geoshelf.scan import scan


def _day_file(path: Path, day: str, ny: int, nx: int, *, seed: int, scale: float = 0.01, fill: bool = True,
              lat0: float = -45.0, steps: int = 1) -> None:
    """One CF file: ``steps`` days from ``day``, time units relative to that day, packed int16 with NaNs."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(day)
    data = (15 + 10 * rng.random((steps, ny, nx))).astype("float64")
    data[:, 0, : nx // 3] = np.nan  # land
    ds = xr.Dataset(
        {"sst": (("time", "lat", "lon"), data, {"units": "degC", "standard_name": "sea_surface_temperature"})},
        coords={"time": pd.date_range(t0, periods=steps, freq="D"),
                "lat": lat0 + np.arange(ny, dtype="f4"), "lon": np.arange(nx, dtype="f4") * 2.0},
    )
    ds["time"].encoding.update(units=f"days since {t0:%Y-%m-%d}", calendar="proleptic_gregorian")
    enc: dict = {"dtype": "int16", "scale_factor": scale, "add_offset": 20.0}
    enc["_FillValue"] = np.int16(-32768) if fill else None
    ds["sst"].encoding.update(enc, zlib=True, chunksizes=(1, ny, nx))
    ds.to_netcdf(path, engine="netcdf4")


def _days(tmp_path: Path, start: str, n: int, ny: int, nx: int, prefix: str = "sst_") -> list[Path]:
    """``n`` daily files from ``start``, each with its own time units."""
    files = []
    for i, day in enumerate(pd.date_range(start, periods=n, freq="D")):
        files.append(tmp_path / f"{prefix}{i}.nc")
        _day_file(files[-1], str(day.date()), ny, nx, seed=i)
    return files


def _catalog(tmp_path: Path, files: list[Path], name: str = "sst") -> Path:
    cat = tmp_path / "catalog.yaml"
    add_entry(cat, scan([str(f) for f in files], name, catalog_dir=str(tmp_path)))
    return cat


def _source(files: list[Path]) -> xr.Dataset:
    return xr.open_mfdataset([str(f) for f in files], combine="by_coords", join="outer").load()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lengths=st.lists(st.integers(1, 4), min_size=1, max_size=6), ny=st.integers(1, 7), nx=st.integers(1, 5),
       block=st.tuples(st.integers(1, 9), st.integers(1, 7), st.integers(1, 5)), shuffle=st.randoms())
def test_regions_reassemble_the_combined_array(lengths: list[int], ny: int, nx: int,
                                               block: tuple[int, int, int], shuffle: object) -> None:
    """Model check: filling every region's buffer from its pieces reproduces the combined array."""
    parts, start = [], 0
    for i, n in enumerate(lengths):
        values = np.arange(n * ny * nx, dtype="i4").reshape(n, ny, nx) + 1000 * i
        parts.append(xr.Dataset({"v": (("time", "y", "x"), values)},
                                coords={"time": np.arange(start, start + n), "y": np.arange(ny)}))
        start += n + (i % 2)  # time gaps in the coordinate are not holes in the data
    order = list(range(len(parts)))
    shuffle.shuffle(order)  # type: ignore[attr-defined]
    files = [f"file{i}.nc" for i in order]
    shuffled = [parts[i] for i in order]
    combined = xr.combine_by_coords(shuffled)
    vplan = plan_variable("v", combined, shuffled, files)
    assert vplan.raw
    got = np.full(combined["v"].shape, -1, dtype="i4")
    by_name = dict(zip(files, shuffled, strict=True))
    for task in region_tasks("store", vplan, combined["v"].shape, block):
        buf = np.full(tuple(s.stop - s.start for s in task.region), -1, dtype="i4")
        for p in task.pieces:
            assert (buf[p.target] == -1).all()  # pieces never overlap
            buf[p.target] = by_name[p.file]["v"].values[p.source]
        got[task.region] = buf
    np.testing.assert_array_equal(got, combined["v"].values)


@pytest.mark.parametrize("layout", ["map", "timeseries", "balanced"])
def test_packed_integers_copied_exactly(tmp_path: Path, layout: str) -> None:
    files = _days(tmp_path, "2021-03-01", 9, 20, 30)
    cat = _catalog(tmp_path, files)
    rep = convert("sst", "zarr", catalog=cat, layout=layout, max_task_bytes=6 * 20 * 30 * 3)
    store = Catalog(cat).sst.resolve(rep.path)
    stored = zarr.open_array(store, path="sst")[:]
    raw = np.concatenate([xr.open_dataset(f, mask_and_scale=False)["sst"].values for f in files])
    assert stored.dtype == np.int16
    np.testing.assert_array_equal(stored, raw)  # the very integers of the files, not re-encoded ones
    xr.testing.assert_identical(Catalog(cat).sst.to_dask().load(), _source(files))


def test_mixed_packing_is_stored_unpacked(tmp_path: Path) -> None:
    files = [tmp_path / "a.nc", tmp_path / "b.nc"]
    _day_file(files[0], "2020-01-01", 6, 8, seed=1, scale=0.01)
    _day_file(files[1], "2020-01-02", 6, 8, seed=2, scale=0.002)  # a finer packing from another processor
    cat = _catalog(tmp_path, files)
    rep = convert("sst", "zarr", catalog=cat)
    arr = zarr.open_array(Catalog(cat).sst.resolve(rep.path), path="sst")
    assert arr.dtype.kind == "f"
    src = _source(files)
    out = Catalog(cat).sst.to_dask().load()
    np.testing.assert_array_equal(out.sst.values, src.sst.values)
    assert np.isnan(out.sst.values[:, 0, 0]).all()


def test_outer_join_gaps_become_missing_values(tmp_path: Path) -> None:
    files = [tmp_path / "a.nc", tmp_path / "b.nc"]
    _day_file(files[0], "2020-01-01", 5, 4, seed=1)
    _day_file(files[1], "2020-01-02", 7, 4, seed=2)  # two more latitude rows than the first day
    cat = _catalog(tmp_path, files)
    rep = convert("sst", "zarr", catalog=cat, layout="timeseries")
    out = Catalog(cat).sst.to_dask().load()
    src = _source(files)
    xr.testing.assert_identical(out, src)
    assert np.isnan(out.sst.values[0, 5:]).all() and not np.isnan(out.sst.values[1, 5:]).all()
    assert zarr.open_array(Catalog(cat).sst.resolve(rep.path), path="sst").dtype == np.int16


def test_corrupt_data_chunk_names_the_file(tmp_path: Path) -> None:
    files = _days(tmp_path, "2020-05-01", 4, 40, 60, prefix="d")
    cat = _catalog(tmp_path, files)
    before = cat.read_bytes()
    import h5py

    with h5py.File(files[2], "r") as h:  # where the deflated sst chunk of the third day lies
        info = h["sst"].id.get_chunk_info(0)
    stat = files[2].stat()
    raw = bytearray(files[2].read_bytes())
    raw[info.byte_offset + 8:info.byte_offset + info.size - 8] = bytes(info.size - 16)
    files[2].write_bytes(bytes(raw))
    os.utime(files[2], ns=(stat.st_atime_ns, stat.st_mtime_ns))  # silent damage: same size and time
    with pytest.raises(SourceError, match=r"d2\.nc: cannot read sst"):
        convert("sst", "zarr", catalog=cat)
    assert cat.read_bytes() == before
    assert not (tmp_path / "shelf" / "sst.zarr").exists()
    assert not list((tmp_path / "shelf").glob(".sst.zarr.partial-*"))


def test_tasks_run_on_the_active_dask_cluster(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    files = _days(tmp_path, "2022-01-30", 6, 12, 16)
    cat = _catalog(tmp_path, files)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        convert("sst", "zarr", catalog=cat, layout="map", max_task_bytes=2 * 12 * 16 * 6)
        prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert "geoshelf-region" in prefixes
    xr.testing.assert_identical(Catalog(cat).sst.to_dask().load(), _source(files))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), ndim=st.integers(1, 4))
def test_region_shape_is_whole_shards_within_budget(data: st.DataObject, ndim: int) -> None:
    from geoshelf.convert.shards import region_shape

    shape = data.draw(st.tuples(*[st.integers(1, 50)] * ndim))
    shard = tuple(data.draw(st.integers(1, n)) for n in shape)
    budget = data.draw(st.integers(1, 5000))
    workers = data.draw(st.integers(1, 8))
    region = region_shape(shape, shard, max_elements=budget, min_regions=workers)
    for r, s, n in zip(region, shard, shape, strict=True):
        assert r == n or r % s == 0  # whole shards: no two regions share one
    count = int(np.prod([-(-n // r) for n, r in zip(shape, region, strict=True)]))
    if region != shard:  # grown: within the budget and still enough regions for the workers
        assert int(np.prod(region)) <= budget and count >= workers


def test_regions_are_balanced() -> None:
    """Two workers get two regions of about equal size, not one large and one small."""
    from geoshelf.convert.shards import region_shape

    assert region_shape((365, 720, 1440), (365, 32, 1440), max_elements=10**9, min_regions=2) == (365, 384, 1440)
    assert region_shape((365, 720, 1440), (30, 720, 1440), max_elements=10**9, min_regions=2,
                        order=(2, 1, 0)) == (210, 720, 1440)


def test_netcdf3_collection(tmp_path: Path) -> None:
    """NetCDF3 files (no HDF5) are read through xarray's scipy engine: same values, packing kept."""
    files = []
    for i, day in enumerate(pd.date_range("2019-12-30", periods=4, freq="D")):
        nc4 = tmp_path / f"tmp{i}.nc"
        _day_file(nc4, str(day.date()), 9, 11, seed=i)
        ds = xr.open_dataset(nc4, mask_and_scale=False, decode_times=False).load()
        for v in ds.variables.values():
            v.encoding = {}
        files.append(tmp_path / f"sst3_{i}.nc")
        ds.to_netcdf(files[-1], format="NETCDF3_64BIT", engine="scipy")
        nc4.unlink()
    assert files[0].read_bytes()[:3] == b"CDF"
    cat = _catalog(tmp_path, files)
    rep = convert("sst", "zarr", catalog=cat, layout="timeseries")
    xr.testing.assert_identical(Catalog(cat).sst.to_dask().load(), _source(files))
    assert zarr.open_array(Catalog(cat).sst.resolve(rep.path), path="sst").dtype == np.int16


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)")
def test_disk_full_leaves_nothing_and_says_so(tmp_path: Path) -> None:
    import subprocess

    files = _days(tmp_path, "2020-08-01", 6, 120, 240)
    cat = _catalog(tmp_path, files)
    before = cat.read_bytes()
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], check=True)
    try:
        from geoshelf.errors import ConversionError

        with pytest.raises(ConversionError, match="disk full while writing the output; nothing was published"):
            convert("sst", "zarr", catalog=cat, output=str(small / "sst.zarr"))
        assert [p.name for p in small.iterdir()] in ([], [".sst.zarr.lock"])
        assert cat.read_bytes() == before
    finally:
        subprocess.run(["umount", str(small)], check=True)
