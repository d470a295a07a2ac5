"""Rows 4 and 6: converting the SST year to Zarr (throughput, files per GB) against a naive to_zarr.

The stores written here are read by rows 1-3 (:func:`stores` writes them when rows 4 and 6
were not asked for).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from .context import Context
from .report import Row, bytes_under, files_under


def stores(ctx: Context) -> dict[str, Path]:
    """The map- and timeseries-layout stores, the naive store and the references of the year (written once)."""
    if "stores" in ctx.shared:
        return ctx.shared["stores"]
    import xarray as xr
    import zarr

    from ..catalog import Catalog
    from ..convert import convert_entry

    cat_path, shelf = ctx.catalog, ctx.shelf
    shutil.rmtree(shelf, ignore_errors=True)
    entry = Catalog(cat_path).sst
    t0 = time.perf_counter()
    convert_entry(entry, "zarr", catalog_path=cat_path, output=shelf / "sst.map.zarr", layout="map", record=False)
    t_map = time.perf_counter() - t0
    t0 = time.perf_counter()
    convert_entry(entry, "zarr", catalog_path=cat_path, output=shelf / "sst.ts.zarr", layout="timeseries")
    t_ts = time.perf_counter() - t0
    ts_store = shelf / "sst.ts.zarr"
    inner = zarr.open_array(str(ts_store / "sst")).chunks
    naive_store = shelf / "naive.zarr"
    files = ctx.files

    t0 = time.perf_counter()
    ds = xr.open_mfdataset(files, combine="by_coords").chunk(dict(zip(("time", "lat", "lon"), inner, strict=True)))
    enc = {"sst": {"chunks": inner, "compressors": [zarr.codecs.ZstdCodec(level=3)]}}
    ds.to_zarr(naive_store, mode="w", zarr_format=3, encoding=enc, consolidated=True)
    t_naive = time.perf_counter() - t0
    ctx.log(f"zarr conversion: map {t_map:.1f} s, timeseries {t_ts:.1f} s, naive {t_naive:.1f} s")
    convert_entry(Catalog(cat_path).sst, "references", catalog_path=cat_path)  # for the open rows
    ctx.shared["times"] = {"map": t_map, "timeseries": t_ts, "naive": t_naive}
    ctx.shared["stores"] = {"map": shelf / "sst.map.zarr", "timeseries": ts_store, "naive": naive_store}
    return ctx.shared["stores"]


def conversion(ctx: Context) -> list[Row]:
    """Row 4 (conversion time incl. validation vs naive to_zarr) and row 6 (files per GB, sharded vs not)."""
    s = stores(ctx)
    t = ctx.shared["times"]
    sharded_files = len(files_under(s["timeseries"]))
    unsharded_files = len(files_under(s["naive"]))
    gb = max(bytes_under(s["timeseries"]), 1) / 1e9
    return [
        Row(measurement="4. convert year to Zarr (timeseries layout, incl. full validation) vs "
            "open_mfdataset().to_zarr (no validation), same chunks+codec",
            geoshelf=round(t["timeseries"], 3), baseline=round(t["naive"], 3), unit="s", target=">= 1.5x"),
        Row(measurement="6. files per GB of Zarr output: sharded (geoshelf) vs unsharded, same inner chunks",
            geoshelf=round(sharded_files / gb, 1), baseline=round(unsharded_files / gb, 1), unit="files/GB",
            target="<= 10 files/GB", note=f"{sharded_files} vs {unsharded_files} files, {gb * 1e3:.1f} MB"),
    ]


__all__ = ["conversion", "stores"]
