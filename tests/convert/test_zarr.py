"""Zarr target: exact round trip with CF packing kept, sharding, layouts, append, atomicity."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoshelf import convert
from geoshelf.catalog import Catalog
from geoshelf.convert import convert_entry
from geoshelf.errors import ConversionError, SourceError
from geoshelf.load import choose


def files_in(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def test_sst_round_trip_packed_and_sharded(catalog_path: Path, data_copy: dict[str, list[Path]]) -> None:
    rep = convert("sst", "zarr", catalog=catalog_path)
    cat = Catalog(catalog_path)
    assert cat.sst.representations[0].kind == "zarr" and rep.format == "zarr3"
    ds = cat.sst.to_dask()  # picks the zarr representation
    assert dask.is_dask_collection(ds.sst)
    assert choose(cat.sst).kind == "zarr"
    source = xr.open_mfdataset([str(f) for f in data_copy["sst"]], combine="by_coords")
    xr.testing.assert_identical(ds.load(), source.load())
    store = cat.sst.resolve(rep.path)
    arr = zarr.open_array(os.path.join(store, "sst"))
    assert arr.dtype == np.int16
    codec_names = [type(c).__name__ for c in arr.metadata.codecs]
    assert codec_names == ["ShardingCodec"]
    assert "ZstdCodec" in repr(arr.metadata.codecs[0].codecs)
    # few files: metadata + one shard per variable
    assert len(files_in(Path(store))) <= 10
    assert rep.provenance is not None and rep.provenance.validation == "full"
    assert rep.provenance.bytes_in == sum(f.stat().st_size for f in data_copy["sst"])


@pytest.mark.parametrize(("layout", "expected"), [("map", (1, 36, 72)), ("timeseries", (8, 32, 32))])
def test_layouts(catalog_path: Path, layout: str, expected: tuple[int, ...]) -> None:
    rep = convert("sst", "zarr", catalog=catalog_path, layout=layout)
    store = Catalog(catalog_path).sst.resolve(rep.path)
    assert zarr.open_array(os.path.join(store, "sst")).chunks == expected


def test_v2_and_4d(catalog_path: Path, data_copy: dict[str, list[Path]]) -> None:
    rep = convert("air", "zarr", catalog=catalog_path, zarr_version=2, layout="map")
    assert rep.format == "zarr2"
    ds = Catalog(catalog_path).air.to_dask()
    xr.testing.assert_identical(ds.load(), xr.open_dataset(data_copy["air"][0]).load())
    assert np.isnan(ds.air.values).any()


def test_geotiff_mosaic_to_zarr(catalog_path: Path) -> None:
    cat = Catalog(catalog_path)
    original = cat.elevation.to_dask().load()
    convert("elevation", "zarr", catalog=catalog_path)
    ds = Catalog(catalog_path).elevation.to_dask()
    assert Catalog(catalog_path).elevation.representations[0].kind == "zarr"
    assert isinstance(ds, xr.Dataset) and np.isnan(ds.band_data.values).any()
    xr.testing.assert_identical(ds.load().drop_attrs(), original.drop_attrs())
    assert ds.band_data.rio.crs == original.band_data.rio.crs


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(t=st.integers(1, 8), y=st.integers(1, 36), x=st.integers(1, 72))
def test_explicit_chunks_round_trip(tmp_path: Path, catalog_path: Path, t: int, y: int, x: int) -> None:
    out = tmp_path / f"c{t}_{y}_{x}.zarr"
    convert_entry(Catalog(catalog_path).sst, "zarr", catalog_path=None, output=out, record=False,
                  chunks={"time": t, "lat": y, "lon": x})
    assert zarr.open_array(str(out / "sst")).chunks == (t, y, x)
    got = xr.open_zarr(out).sst.load()
    xr.testing.assert_identical(got, Catalog(catalog_path).sst.to_dask().sst.load())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"chunks": {"depth": 3}}, "unknown dimension 'depth'"),
        ({"chunks": {"time": 0}}, "positive integer"),
        ({"chunks": {"time": 1000}}, "does not fit"),
        ({"layout": "diagonal"}, "unknown layout"),
        ({"variables": ["chlorophyll"]}, "no variable 'chlorophyll'"),
    ],
)
def test_bad_options_refused(catalog_path: Path, options: dict, message: str) -> None:
    before = catalog_path.read_bytes()
    with pytest.raises(ConversionError, match=message):
        convert("sst", "zarr", catalog=catalog_path, **options)
    assert catalog_path.read_bytes() == before
    assert not (catalog_path.parent / "shelf" / "sst.zarr").exists()


def test_unknown_target_and_unwritable_output(catalog_path: Path, tmp_path: Path) -> None:
    before = catalog_path.read_bytes()
    with pytest.raises(ConversionError, match="unknown target 'netcdf5'.*installed targets: .*zarr"):
        convert("sst", "netcdf5", catalog=catalog_path)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(ConversionError, match="afile"):
        convert("sst", "zarr", catalog=catalog_path, output=blocker / "x.zarr")
    assert catalog_path.read_bytes() == before


def test_changed_source_is_refused(catalog_path: Path, data_copy: dict[str, list[Path]]) -> None:
    before = catalog_path.read_bytes()
    f = data_copy["sst"][2]
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    with pytest.raises(SourceError, match="changed since they were catalogued"):
        convert("sst", "zarr", catalog=catalog_path)
    assert catalog_path.read_bytes() == before


def test_idempotent_then_stale_fallback(catalog_path: Path, data_copy: dict[str, list[Path]],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    rep = convert("sst", "zarr", catalog=catalog_path)
    store = Path(Catalog(catalog_path).sst.resolve(rep.path))
    mtimes = {p: p.stat().st_mtime_ns for p in files_in(store)}
    before = catalog_path.read_bytes()
    outcome = convert_entry(Catalog(catalog_path).sst, "zarr", catalog_path=catalog_path)
    assert outcome.action == "unchanged" and "nothing to do" in outcome.message
    assert {p: p.stat().st_mtime_ns for p in files_in(store)} == mtimes
    assert catalog_path.read_bytes() == before
    # a source changes behind the catalog's back: the loader warns and reads the original
    f = data_copy["sst"][0]
    with xr.open_dataset(f) as ds:
        changed = ds.load()
    changed["sst"][:] = changed["sst"] + 1.0
    changed.to_netcdf(f)
    from geoshelf.errors import StaleRepresentationWarning

    # rewritten in place (same directory entry): only a full check sees it, not the per-directory one
    monkeypatch.setenv("GEOSHELF_FULL_CHECK_MINUTES", "0")

    with pytest.warns(StaleRepresentationWarning, match="stale"):
        ds = Catalog(catalog_path).sst.to_dask()
    np.testing.assert_allclose(ds.sst.isel(time=0).values, changed.sst.isel(time=0).values)
    from geoshelf.catalog.lint import lint

    assert any("stale" in p.message for p in lint(catalog_path))


def test_incremental_append(tmp_path: Path, catalog_path: Path, data_copy: dict[str, list[Path]]) -> None:
    from geoshelf.demo.data import make_sst
    from geoshelf.scan import scan

    convert("sst", "zarr", catalog=catalog_path, layout="map", chunks=None)
    cat = Catalog(catalog_path)
    store = Path(cat.sst.resolve(cat.sst.representations[0].path))
    n = len(data_copy["sst"])
    extra = make_sst(tmp_path / "extra", days=n + 3, ny=36, nx=72)[n:]  # the next 3 days, same series
    for f in extra:
        shutil.copy2(f, data_copy["sst"][0].parent / f.name)
    entry = scan([str(data_copy["sst"][0].parent)], "sst", catalog_dir=str(catalog_path.parent))
    cat.update(entry.replace(representations=cat.sst.representations, tags=cat.sst.tags,
                             description=cat.sst.description))
    outcome = convert_entry(Catalog(catalog_path).sst, "zarr", catalog_path=catalog_path, layout="map")
    assert outcome.action == "appended", outcome.message
    ds = Catalog(catalog_path).sst.to_dask()
    assert ds.sizes["time"] == n + 3
    files = sorted(data_copy["sst"][0].parent.glob("*.nc"))
    source = xr.open_mfdataset([str(f) for f in files], combine="by_coords")
    xr.testing.assert_identical(ds.load(), source.load())
    assert zarr.open_group(str(store)).attrs["geoshelf_time_length"] == n + 3


KILL_SCRIPT = """
import sys, time
import geoshelf.convert.zarr as z
original = z.ZarrConverter.validate
def slow_validate(self, plan, path):
    print("WRITTEN", flush=True)
    time.sleep(60)
    return original(self, plan, path)
z.ZarrConverter.validate = slow_validate
from geoshelf import convert
convert("sst", "zarr", catalog=sys.argv[1])
"""


def test_killed_conversion_publishes_nothing_and_rerun_succeeds(catalog_path: Path) -> None:
    before = catalog_path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(catalog_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "WRITTEN" in line
    shelf = catalog_path.parent / "shelf"
    assert list(shelf.glob(".sst.zarr.partial-*"))  # written, not yet validated
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (shelf / "sst.zarr").exists()
    assert catalog_path.read_bytes() == before
    time.sleep(0.1)
    convert("sst", "zarr", catalog=catalog_path)
    assert (shelf / "sst.zarr").exists() and not list(shelf.glob(".sst.zarr.partial-*"))
    assert Catalog(catalog_path).sst.representations[0].kind == "zarr"


def test_shards_follow_the_workers_memory(catalog_path: Path, data_copy: dict[str, list[Path]]) -> None:
    """One shard is one dask task: its decoded size is bounded by the memory a worker thread has."""
    from distributed import Client, LocalCluster

    from geoshelf.convert.zarr import task_memory_budget

    with LocalCluster(n_workers=1, threads_per_worker=2, memory_limit="800MB", processes=False,
                      dashboard_address=None) as cluster, Client(cluster):
        assert task_memory_budget() == int(800e6 / 2 / 4)
    per_map = 36 * 72 * 8  # one decoded float64 field
    rep = convert("sst", "zarr", catalog=catalog_path, layout="map", max_task_bytes=2 * per_map)
    arr = zarr.open_array(os.path.join(Catalog(catalog_path).sst.resolve(rep.path), "sst"))
    assert arr.shards == (2, 36, 72) and arr.chunks == (1, 36, 72)
    xr.testing.assert_identical(Catalog(catalog_path).sst.to_dask().load(),
                                xr.open_mfdataset([str(f) for f in data_copy["sst"]], combine="by_coords").load())
