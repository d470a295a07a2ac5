"""Rows 1-3: opening the year through the catalog, a time series at one point, one day's field, a full read."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

import dask
import xarray as xr

from .. import open_catalog
from ..catalog import Catalog
from ..load.references import open_references
from .context import Context
from .convert import stores
from .report import Row, median_time


def reads(ctx: Context) -> list[Row]:
    """Rows 1a-1d, 2, 3a, 3b, each against its baseline in this run.

    The objects the run made so far are frozen out of the garbage collector first (``gc.freeze``):
    otherwise every full collection during a millisecond open walks the whole benchmark's heap,
    which a fresh analyst process does not have (both sides are measured the same way)."""
    gc.collect()
    gc.freeze()
    try:
        return _reads(ctx)
    finally:
        gc.unfreeze()


def _reads(ctx: Context) -> list[Row]:
    st = stores(ctx)
    files, cat_path, repeat, drop = ctx.files, ctx.catalog, ctx.repeat, ctx.drop
    fast = max(repeat, 15)  # millisecond timings: more repeats for a stable median
    ts_store, map_store = st["timeseries"], st["map"]

    def open_mf() -> None:
        xr.open_mfdataset(files, combine="by_coords")

    t_mf = median_time(open_mf, repeat, drop)
    t_cat_zarr = median_time(lambda: open_catalog(cat_path).sst.to_dask(representation="zarr"), fast, drop)
    t_cat_refs = median_time(lambda: open_catalog(cat_path).sst.to_dask(representation="references"), fast, drop)
    t_bare_zarr = median_time(lambda: xr.open_zarr(ts_store, chunks={}), fast, drop)
    rep = Catalog(cat_path).sst.representation("references")
    refs_path = Catalog(cat_path).sst.resolve(rep.path) if rep else ""
    store = rep.options.get("store", "json") if rep else "json"
    t_bare_refs = median_time(lambda: open_references(refs_path, store), fast, drop)
    rows = [
        Row(measurement=f"1a. open year via catalog -> Zarr vs xr.open_mfdataset of {len(files)} files ({ctx.temp})",
            geoshelf=round(t_cat_zarr, 4), baseline=round(t_mf, 4), unit="s", target=">= 200x"),
        Row(measurement="1b. open year via catalog -> references vs xr.open_mfdataset",
            geoshelf=round(t_cat_refs, 4), baseline=round(t_mf, 4), unit="s", target=">= 100x"),
        Row(measurement="1c. catalog layer cost: catalog -> Zarr vs bare xr.open_zarr of the same store",
            geoshelf=round(t_cat_zarr, 4), baseline=round(t_bare_zarr, 4), unit="s",
            target="<= 2x cost (ratio >= 0.5)"),
        Row(measurement="1d. catalog layer cost: catalog -> references vs bare reference open",
            geoshelf=round(t_cat_refs, 4), baseline=round(t_bare_refs, 4), unit="s",
            target="<= 2x cost (ratio >= 0.5)"),
    ]

    s = ctx.demo
    y, x = s.ny // 3, s.nx // 2

    def point_files() -> None:
        xr.open_mfdataset(files, combine="by_coords").sst.isel(lat=y, lon=x).compute()

    def point_ts() -> None:
        open_catalog(cat_path).sst.to_dask(representation="zarr").sst.isel(lat=y, lon=x).compute()

    with dask.config.set(scheduler="threads"):
        t_pf = median_time(point_files, max(1, repeat // 2), drop)
        t_pt = median_time(point_ts, fast, drop)
    rows.append(Row(measurement="2. one grid point over the year: timeseries-layout Zarr vs the original files",
                    geoshelf=round(t_pt, 4), baseline=round(t_pf, 4), unit="s", target=">= 300x"))

    day = len(files) // 2

    def map_file() -> None:
        with xr.open_dataset(files[day]) as ds:
            ds.sst.values  # noqa: B018

    def map_zarr() -> None:
        xr.open_zarr(map_store, chunks=None).sst.isel(time=day).values  # noqa: B018

    t_mapf = median_time(map_file, fast, drop)
    t_mapz = median_time(map_zarr, fast, drop)
    rows.append(Row(measurement="3a. one day's full field: map-layout Zarr vs the original file",
                    geoshelf=round(t_mapz, 4), baseline=round(t_mapf, 4), unit="s", target=">= 1.0x"))

    def full(store: Path) -> Callable[[], None]:
        return lambda: xr.open_zarr(store, chunks={}).sst.sum().compute()

    t_full_sh = median_time(full(ts_store), repeat, drop)
    t_full_un = median_time(full(st["naive"]), repeat, drop)
    rows.append(Row(measurement="3b. full read: sharded vs unsharded store, same inner chunks",
                    geoshelf=round(t_full_sh, 4), baseline=round(t_full_un, 4), unit="s", target=">= 0.8x"))
    return rows


__all__ = ["reads"]
