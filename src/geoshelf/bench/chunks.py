"""Row 12: a reduction over the whole entry (the year mean of the SST map) through the catalog with dask
chunks of whole shards (the catalog's default), against bare ``xr.open_zarr`` of the same store with its defaults
(one dask chunk per inner chunk), in the same run."""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path

import xarray as xr
import zarr

from ..catalog import Catalog, add_entry
from ..convert import convert_entry
from ..scan import scan
from .context import Context
from .report import Row


def _converted(ctx: Context) -> tuple[Path, Path]:
    """A catalog of the year with its default Zarr conversion (written once per work directory)."""
    root = ctx.root / "chunks"
    cat = root / "catalog.yaml"
    store = root / "shelf" / "sst.zarr"
    if cat.exists() and store.exists() and Catalog(cat).sst.representation("zarr") is not None:
        return cat, store
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    add_entry(cat, scan([str(Path(ctx.files[0]).parent)], "sst", catalog_dir=str(root)))
    t0 = time.perf_counter()
    convert_entry(Catalog(cat).sst, "zarr", catalog_path=cat, output=store)
    ctx.log(f"row 12: default zarr conversion {time.perf_counter() - t0:.1f} s")
    return cat, store


def reduction(ctx: Context) -> list[Row]:
    """Row 12."""
    cat, store = _converted(ctx)

    def via_catalog() -> None:
        Catalog(cat).sst.to_dask(representation="zarr").sst.mean("time").compute()

    def bare() -> None:
        xr.open_zarr(store).sst.mean("time").compute()

    ours = Catalog(cat).sst.to_dask(representation="zarr").sst.data
    theirs = xr.open_zarr(store).sst.data
    arr = zarr.open_array(str(store / "sst"))
    via_catalog()
    bare()
    wall: dict[str, list[float]] = {"ours": [], "bare": []}
    cpu: dict[str, list[float]] = {"ours": [], "bare": []}
    for _ in range(max(1, ctx.repeat)):  # interleaved, so a change of load falls on both alike
        for key, fn in (("ours", via_catalog), ("bare", bare)):
            w0, c0 = time.perf_counter(), time.process_time()  # process_time: CPU of every thread
            fn()
            wall[key].append(time.perf_counter() - w0)
            cpu[key].append(time.process_time() - c0)
    t_ours, t_bare = statistics.median(wall["ours"]), statistics.median(wall["bare"])
    c_ours, c_bare = statistics.median(cpu["ours"]), statistics.median(cpu["bare"])
    return [Row(measurement="12. year mean of the SST (reduction over the whole entry) via the catalog (default "
                            "chunks: whole shards) vs bare xr.open_zarr of the same store with its default chunks",
                geoshelf=round(t_ours, 3), baseline=round(t_bare, 3), unit="s", target=">= 1.0x",
                note=f"CPU {c_ours:.2f} s vs {c_bare:.2f} s ({c_bare / c_ours:.2f}x), load average "
                     f"{os.getloadavg()[0]:.1f}; {ours.npartitions} dask chunks of {ours.chunksize} vs "
                     f"{theirs.npartitions} of {theirs.chunksize}; "
                     f"store shards {arr.shards}, inner chunks {arr.chunks}, shape {arr.shape}")]


__all__ = ["reduction"]
