"""Rows 4 and 6: converting the SST year to Zarr (throughput, files per GB) against a naive to_zarr.

The stores written here are read by rows 1-3 (:func:`stores` writes them when rows 4 and 6
were not asked for).
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path

import h5py
import xarray as xr
import zarr
from numcodecs import Zstd
from zarr.codecs import ZstdCodec

from ..catalog import Catalog
from ..convert import convert_entry
from .context import Context
from .report import Row, bytes_under, files_under


def stores(ctx: Context) -> dict[str, Path]:
    """The map- and timeseries-layout stores, the naive store and the references of the year (written once)."""
    if "stores" in ctx.shared:
        return ctx.shared["stores"]

    cat_path, shelf = ctx.catalog, ctx.shelf
    shutil.rmtree(shelf, ignore_errors=True)
    entry = Catalog(cat_path).sst
    t0 = time.perf_counter()
    convert_entry(entry, "zarr", catalog_path=cat_path, output=shelf / "sst.map.zarr", layout="map", record=False)
    t_map = time.perf_counter() - t0
    ts_store = shelf / "sst.ts.zarr"
    naive_store = shelf / "naive.zarr"
    files = ctx.files

    def geoshelf_ts() -> None:
        shutil.rmtree(ts_store, ignore_errors=True)
        convert_entry(entry, "zarr", catalog_path=cat_path, output=ts_store, layout="timeseries")  # recorded

    def naive() -> None:
        shutil.rmtree(naive_store, ignore_errors=True)
        ds = xr.open_mfdataset(files, combine="by_coords").chunk(dict(zip(("time", "lat", "lon"), inner, strict=True)))
        enc = {"sst": {"chunks": inner, "compressors": [ZstdCodec(level=3)]}}
        ds.to_zarr(naive_store, mode="w", zarr_format=3, encoding=enc, consolidated=True)

    geoshelf_ts()  # first run: learn the chunks the naive baseline must use
    inner = zarr.open_array(str(ts_store / "sst")).chunks
    times_ts: list[float] = []
    times_naive: list[float] = []
    for _ in range(max(1, ctx.repeat)):  # interleaved, median of each
        for fn, out in ((geoshelf_ts, times_ts), (naive, times_naive)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    t_ts, t_naive = statistics.median(times_ts), statistics.median(times_naive)
    ctx.log(f"zarr conversion: map {t_map:.1f} s, timeseries {t_ts:.1f} s, naive {t_naive:.1f} s")
    convert_entry(Catalog(cat_path).sst, "references", catalog_path=cat_path)  # for the open rows
    ctx.shared["times"] = {"map": t_map, "timeseries": t_ts, "naive": t_naive}
    ctx.shared["stores"] = {"map": shelf / "sst.map.zarr", "timeseries": ts_store, "naive": naive_store}
    return ctx.shared["stores"]


def machine_limit(ctx: Context, sample: int = 48) -> dict[str, float]:
    """This machine's limits for converting the year, measured now: raw sequential read of the input
    files (bytes as stored), zstd level 3 compression of the same data (the stored int16 maps) per
    core times the cores, and the deflate decoding of the inputs per core times the cores (MB/s of
    stored data)."""
    files = ctx.files
    drop = ctx.drop
    if drop:
        drop()
    t0 = time.perf_counter()
    on_disk = 0
    for f in files:
        with open(f, "rb") as fh:
            while chunk := fh.read(16 * 2**20):
                on_disk += len(chunk)
    t_read = time.perf_counter() - t0
    step = max(1, len(files) // sample)
    picked = files[::step]
    t0 = time.perf_counter()
    maps = []
    for f in picked:
        with h5py.File(f, "r") as h:
            maps.append(h["sst"][...])
    t_decode = time.perf_counter() - t0
    sampled = sum(m.nbytes for m in maps)
    codec = Zstd(level=3)
    t0 = time.perf_counter()
    for m in maps:
        codec.encode(m)
    t_zstd = time.perf_counter() - t0
    cores = os.cpu_count() or 1
    data = sampled / len(picked) * len(files)
    return {"data_mb": data / 1e6, "on_disk_mb": on_disk / 1e6, "cores": cores,
            "read_mbs": data / 1e6 / t_read,  # stored data per second, reading the files' bytes
            "zstd_mbs": sampled / 1e6 / t_zstd * cores, "decode_mbs": sampled / 1e6 / t_decode * cores}


def conversion(ctx: Context) -> list[Row]:
    """Row 4 (conversion time incl. validation vs naive to_zarr) and row 6 (files per GB, sharded vs not)."""
    s = stores(ctx)
    t = ctx.shared["times"]
    lim = machine_limit(ctx)
    sharded_files = len(files_under(s["timeseries"]))
    unsharded_files = len(files_under(s["naive"]))
    gb = max(bytes_under(s["timeseries"]), 1) / 1e9
    return [
        Row(measurement="4. convert year to Zarr (timeseries layout, incl. full validation) vs "
            "open_mfdataset().to_zarr (no validation), same chunks+codec",
            geoshelf=round(t["timeseries"], 3), baseline=round(t["naive"], 3), unit="s", target=">= 2x",
            note=f"map layout {t['map']:.1f} s"),
        Row(measurement="4b. conversion throughput (timeseries layout, incl. validation) vs this machine's "
            "decode-bound limit: min(raw sequential read of the inputs, decoding the deflated inputs then zstd-3 "
            "compression, per core x cores), MB/s of stored data",
            # 3 significant digits: at the tiny size under load a 1-decimal MB/s rounds to 0
            geoshelf=float(f"{lim['data_mb'] / t['timeseries']:.3g}"),
            baseline=float(f"{min(lim['read_mbs'], 1 / (1 / lim['decode_mbs'] + 1 / lim['zstd_mbs'])):.3g}"),
            unit="MB/s",
            target=">= 0.5x",
            note=f"read {lim['read_mbs']:.0f} MB/s, zstd {lim['zstd_mbs']:.0f} MB/s on {lim['cores']} cores; decoding "
                 f"the deflated inputs alone {lim['decode_mbs']:.0f} MB/s on {lim['cores']} cores; with it the "
                 f"limit is {1 / (1 / lim['decode_mbs'] + 1 / lim['zstd_mbs']):.0f} MB/s; map layout "
                 f"{lim['data_mb'] / t['map']:.0f} MB/s"),
        Row(measurement="6. files per GB of Zarr output: sharded (geoshelf) vs unsharded, same inner chunks",
            geoshelf=round(sharded_files / gb, 1), baseline=round(unsharded_files / gb, 1), unit="files/GB",
            target="<= 10 files/GB", note=f"{sharded_files} vs {unsharded_files} files, {gb * 1e3:.1f} MB"),
    ]


__all__ = ["conversion", "stores"]
