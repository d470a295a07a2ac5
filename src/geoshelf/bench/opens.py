"""Rows 11a-11c: opening a converted entry of 1,000 / 10,000 / 100,000 source files, time and metadata
operations, against the per-file staleness check every open made before (``stat`` of every source file,
the code path of the loader until the sidecar manifest), measured in the same run."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..catalog import Catalog, Entry, Provenance, Representation, add_entry, freshness
from ..catalog.paths import fingerprint, stat_files
from ..load import open_representation
from .context import Context
from .metaops import counting, total
from .report import Row, median_time

SIZES = {"11a": 1_000, "11b": 10_000, "11c": 100_000}
#: The tiny run (CI's smoke test) keeps the rows but not the 100,000 files.
TINY = {"11a": 100, "11b": 1_000, "11c": 3_000}


def _store(path: Path) -> None:
    """A small real Zarr store (a year of a 4x8 field) standing for the entry's converted copy."""
    if (path / "zarr.json").exists():
        return
    time_ = pd.date_range("2020-01-01", periods=365, freq="D")
    ds = xr.Dataset({"sst": (("time", "lat", "lon"), np.random.default_rng(0).random((365, 4, 8), dtype="float32"))},
                    coords={"time": time_, "lat": np.linspace(-60, 60, 4), "lon": np.linspace(0, 315, 8)})
    ds.to_zarr(path, mode="w", consolidated=True, zarr_format=3)


def _entry(root: Path, n: int) -> Path:
    """A catalog with one entry of ``n`` (empty) source files in one directory and a Zarr representation."""
    data = root / "data"
    if not data.is_dir() or sum(1 for _ in os.scandir(data)) != n:
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        for i in range(n):
            os.close(os.open(data / f"obs_{i:06d}.nc", os.O_CREAT | os.O_WRONLY, 0o644))
    time.sleep(max(0.0, data.stat().st_mtime + 2.1 - time.time()))  # an archive, not a directory being written
    store = root / "shelf" / "obs.zarr"
    _store(store)
    files = sorted(str(p) for p in data.glob("*.nc"))
    stats = stat_files(files)
    fp = fingerprint(stats)
    cat = root / "catalog.yaml"
    cat.unlink(missing_ok=True)
    shutil.rmtree(root / "catalog.yaml.d", ignore_errors=True)
    rep = Representation(kind="zarr", path=str(store), format="zarr3", options={"consolidated": True},
                         provenance=Provenance(source_fingerprint=fp, source_files=n))
    add_entry(cat, Entry(name="obs", urlpath=str(data / "*.nc"), format="netcdf", files=n, fingerprint=fp,
                         representations=[rep]))
    return cat


def _before(cat: Path) -> Any:
    """The loader's code path before the manifest: list and stat every source file, then open."""
    e = Catalog(cat)["obs"]
    current = fingerprint(stat_files(e.source_files(), e.storage_options))
    rep = e.representations[0]
    assert rep.provenance is not None and rep.provenance.source_fingerprint == current
    return open_representation(e, rep)


def _now(cat: Path) -> Any:
    return Catalog(cat)["obs"].to_dask()


def opens(ctx: Context) -> list[Row]:
    """Rows 11a-11c."""
    rows = []
    os.environ.pop(freshness.ENV_FULL_CHECK, None)
    for rid, n in (TINY if ctx.size == "tiny" else SIZES).items():
        root = ctx.root / "opens" / f"{n}"
        cat = _entry(root, n)
        _now(cat)  # warm the page cache and imports alike for both sides
        _before(cat)
        with counting() as c_now:
            _now(cat)
        with counting() as c_before:
            _before(cat)
        method = freshness.check(Catalog(cat)["obs"]).method
        reps = max(ctx.repeat, 15)
        t_now = median_time(lambda: _now(cat), reps)  # noqa: B023
        t_before = median_time(lambda: _before(cat), max(3, ctx.repeat))  # noqa: B023
        t0 = time.perf_counter()
        full = freshness.check(Catalog(cat)["obs"], full=True)
        t_full = time.perf_counter() - t0
        assert not full.file_set_changed
        rows.append(Row(
            measurement=f"{rid}. open a converted entry of {n:,} source files (catalog -> to_dask, Zarr): "
                        "per-directory freshness check vs the per-file check of every open before",
            geoshelf=round(t_now, 4), baseline=round(t_before, 4), unit="s",
            target="< 50 ms and O(1) metadata operations", met=t_now < 0.05 and total(c_now) < 100,
            note=f"metadata operations per open {total(c_now)} ({dict(sorted(c_now.items()))}, check: {method}) vs "
                 f"{total(c_before)} ({dict(sorted(c_before.items()))}); the full check (every file, in lint/"
                 f"refresh/convert and at most every full-check-minutes per user) {t_full:.3f} s"))
    return rows


__all__ = ["opens"]
