"""Dask chunks of a sharded Zarr representation: whole shards by default (split only to fit dask's
array.chunk-size and the threads, as ``chunks="shards"``), the stored inner chunks with ``chunks={}``."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from geoshelf.catalog import Catalog, Entry, Provenance, Representation, add_entry
from geoshelf.load.zarr import shard_chunks


def _store(tmp_path: Path, *, shards: tuple[int, int, int] | None) -> tuple[Path, xr.Dataset]:
    rng = np.random.default_rng(3)
    sst = rng.normal(15, 8, (96, 24, 48)).astype("float32")
    sst[:, :3, :5] = np.nan
    ds = xr.Dataset({"sst": (("time", "lat", "lon"), sst, {"units": "degC"})},
                    coords={"time": pd.date_range("2021-01-01", periods=96, freq="D"),
                            "lat": np.linspace(-57.5, 57.5, 24), "lon": np.linspace(0, 352.5, 48)})
    path = tmp_path / "sst.zarr"
    enc: dict = {"chunks": (8, 8, 8)}
    if shards:
        enc["shards"] = shards
    ds.to_zarr(path, mode="w", zarr_format=3, consolidated=True, encoding={"sst": enc})
    cat = tmp_path / "catalog.yaml"
    rep = Representation(kind="zarr", path=str(path), format="zarr3", options={"consolidated": True},
                         provenance=Provenance(source_fingerprint="sha256:00", finished="2026-11-25T00:00:00+00:00"))
    add_entry(cat, Entry(name="sst", urlpath=str(tmp_path / "none" / "*.nc"), representations=[rep]))
    return cat, ds


def test_shard_chunks_are_whole_shards(tmp_path: Path) -> None:
    cat, expected = _store(tmp_path, shards=(48, 24, 48))
    assert Catalog(cat).sst.to_dask(chunks={}).sst.data.chunks == xr.open_zarr(tmp_path / "sst.zarr").sst.data.chunks
    with dask.config.set(num_workers=2):
        ds = Catalog(cat).sst.to_dask(chunks="shards")
        assert Catalog(cat).sst.to_dask().sst.data.chunks == ds.sst.data.chunks  # the default
    assert ds.sst.data.chunks == ((48, 48), (24,), (48,))
    bare = xr.open_zarr(tmp_path / "sst.zarr")
    assert bare.sst.data.npartitions == 12 * 3 * 6  # one task per inner chunk
    assert ds.sst.data.npartitions == 2
    # rtol: the order of the sums differs
    xr.testing.assert_allclose(ds.sst.mean("time").compute(), bare.sst.mean("time").compute(), rtol=1e-6)
    xr.testing.assert_identical(ds.sst.compute(), expected.sst)
    assert Catalog(cat).sst.to_dask(chunks={"time": 8}).sst.data.chunks[0] == (8,) * 12  # asked for: given


def test_a_shard_too_big_for_a_chunk_is_split_along_inner_chunks(tmp_path: Path) -> None:
    cat, expected = _store(tmp_path, shards=(96, 24, 48))  # one 442 KB shard
    with dask.config.set({"array.chunk-size": "100KB", "num_workers": 1}):
        ds = Catalog(cat).sst.to_dask(chunks="shards")
    chunks = ds.sst.data.chunks
    assert all(c % 8 == 0 for axis in chunks for c in axis[:-1])  # whole inner chunks
    assert max(np.prod([axis[0] for axis in chunks]) * 4, 0) <= 100_000
    xr.testing.assert_identical(ds.sst.compute(), expected.sst)


def test_unsharded_store_keeps_its_chunks(tmp_path: Path) -> None:
    cat, _ = _store(tmp_path, shards=None)
    assert Catalog(cat).sst.to_dask(chunks="shards").sst.data.chunks == \
        xr.open_zarr(tmp_path / "sst.zarr").sst.data.chunks


@pytest.mark.parametrize(("shape", "inner", "shards", "limit", "expected"), [
    ((365, 720, 1440), (64, 64, 64), (365, 720, 1440), 128 * 2**20, (192, 384, 384)),
    ((365, 720, 1440), (365, 32, 32), (365, 96, 192), 128 * 2**20, (365, 96, 192)),
    ((10, 10), (3, 3), None, 10**9, (3, 3)),
    ((5,), (8,), (16,), 4, (5,)),  # never below one inner chunk
])
def test_shard_chunks(shape: tuple[int, ...], inner: tuple[int, ...], shards: tuple[int, ...] | None, limit: int,
                      expected: tuple[int, ...]) -> None:
    assert shard_chunks(shape, inner, shards, 4, limit) == expected


def test_a_one_shard_array_is_split_for_every_thread(tmp_path: Path) -> None:
    cat, expected = _store(tmp_path, shards=(96, 24, 48))
    with dask.config.set(num_workers=4):
        ds = Catalog(cat).sst.to_dask(chunks="shards")
    assert ds.sst.data.npartitions >= 4 and ds.sst.data.chunks[0][0] % 8 == 0
    assert shard_chunks((365, 90, 180), (64, 64, 64), (384, 128, 192), 4, 128 * 2**20, 2) == (192, 90, 180)
    xr.testing.assert_identical(ds.sst.compute(), expected.sst)
