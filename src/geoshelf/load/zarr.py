"""Opening a Zarr representation lazily (consolidated metadata: one read).

Dask chunks default to whole **shards** (one task per shard file; a shard larger than dask's
``array.chunk-size`` is split into the fewest pieces that fit, each a whole number of inner chunks, and
so is an array of fewer shards than dask has threads), not to the stored inner chunks that bare
``xr.open_zarr`` gives (``chunks={}`` asks for those; any other ``chunks`` is passed on).  Measured
(row 12 of ``docs/benchmarks.md``): the year mean of the medium SST store costs ~20 % less CPU in 48
tasks than in 1,656 (one per inner chunk), and a one-point time series reads no more (dask fuses the
selection into the read).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import xarray as xr

from ..catalog.model import Entry, Representation
from ..errors import GeoshelfError


def chunk_limit_bytes() -> int:
    """Largest dask chunk the default chunking makes: dask's ``array.chunk-size``."""
    # deferred: dask costs ~0.1 s at `convert --help`; only opening needs it
    import dask
    from dask.utils import parse_bytes

    return int(parse_bytes(dask.config.get("array.chunk-size", "128MiB")))


def shard_chunks(shape: tuple[int, ...], inner: tuple[int, ...], shards: tuple[int, ...] | None, itemsize: int,
                 limit: int, min_chunks: int = 1) -> tuple[int, ...]:
    """Dask chunk shape for one array: the shard (or the inner chunk without shards), halved along its
    longest axis (in whole inner chunks) until it fits ``limit`` bytes and the array has at least
    ``min_chunks`` chunks (one per thread: a one-shard array must not become one task), or is one inner chunk."""
    target = [min(s, n) for s, n in zip(shards or inner, shape, strict=True)]
    inner = tuple(min(c, n) for c, n in zip(inner, shape, strict=True))

    def n_chunks() -> int:
        return math.prod(math.ceil(n / t) for n, t in zip(shape, target, strict=True))

    while math.prod(target) * itemsize > limit or n_chunks() < min_chunks:
        counts = [math.ceil(t / c) for t, c in zip(target, inner, strict=True)]
        axis = max(range(len(counts)), key=lambda i: counts[i])
        if counts[axis] <= 1:
            break
        target[axis] = math.ceil(counts[axis] / 2) * inner[axis]
    return tuple(max(1, t) for t in target)


def _threads() -> int:
    """Threads dask computes with by default here (``num_workers`` in dask's config, else the CPU count)."""
    # deferred: dask costs ~0.1 s at `convert --help`; only opening needs it
    import dask
    from dask.system import CPU_COUNT

    return int(dask.config.get("num_workers", None) or CPU_COUNT or 1)


def _chunk_by_shards(ds: xr.Dataset, token: str) -> xr.Dataset:
    limit = chunk_limit_bytes()
    threads = _threads()
    indexes = set(ds.xindexes)
    out = {}
    for name, var in ds.variables.items():
        if name in indexes or var.ndim == 0:
            continue
        enc = var.encoding
        inner = tuple(enc.get("chunks") or var.shape)
        shards = enc.get("shards")
        if len(inner) != var.ndim or (shards and len(shards) != var.ndim) or 0 in var.shape:
            # decoded character arrays lose their stored character dimension (S1 -> S<n>); an empty
            # array (a zero-length time axis) has nothing to split: one chunk each
            out[name] = var.chunk({}, from_array_kwargs={"name": f"open_zarr-{name}-{token}"})
            continue
        chunks = shard_chunks(var.shape, inner, shards, var.dtype.itemsize, limit, threads)
        out[name] = var.chunk(dict(zip(var.dims, chunks, strict=True)),
                              from_array_kwargs={"name": f"open_zarr-{name}-{token}"})
    return ds.assign({k: v for k, v in out.items() if k in ds.data_vars}).assign_coords(
        {k: v for k, v in out.items() if k not in ds.data_vars})


def _token(path: str, rep: Representation) -> str:
    """Stable dask name of the store's arrays while it is the same conversion (else unique)."""
    made = rep.provenance.finished if rep.provenance is not None else ""
    seed = f"{path}\x00{made}" if made else uuid.uuid4().hex
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


@contextlib.contextmanager
def no_consolidated_warning() -> Iterator[None]:
    """Silence zarr's warning that consolidated metadata is not part of the Zarr v3 specification:
    geoshelf writes and reads it on purpose (one small read opens a store)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Consolidated metadata.*")
        yield


#: Attributes rioxarray gives per band, as a tuple when the bands differ (``long_name`` from the band
#: descriptions, ``units``, ``scales``, ``offsets``); a Zarr stores them as JSON lists.
BAND_ATTRS = ("long_name", "units", "scales", "offsets")


def raster_attrs(ds: xr.Dataset) -> xr.Dataset:
    """A GeoTIFF's Zarr copy with its per-band attributes as tuples again, as xarray's ``rasterio``
    engine gives them for the GeoTIFF (``long_name: ('red', 'green', 'blue')``, not a list)."""
    for var in ds.variables.values():
        for key in BAND_ATTRS:
            if isinstance(var.attrs.get(key), list):
                var.attrs[key] = tuple(var.attrs[key])
    return ds


def open_zarr_representation(entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
    """The Zarr store as a lazily chunked Dataset (rasters too: ``band_data``, decoded as xarray's
    ``rasterio`` engine decodes the GeoTIFF it came from)."""
    path = entry.resolve(rep.path)
    options = dict(rep.options)
    options.pop("raster_variable", None)  # recorded by older versions, which returned a DataArray
    consolidated = options.pop("consolidated", None)
    storage_options = entry.options_for(path) if "://" in path else None
    try:
        with no_consolidated_warning():
            if chunks is None or chunks == "shards":  # lazily indexed (nothing read), then chunked by shard
                ds = xr.open_dataset(path, engine="zarr", chunks=None, cache=False, consolidated=consolidated,
                                     storage_options=storage_options, **kwargs)
                ds = _chunk_by_shards(ds, _token(path, rep))
            else:
                ds = xr.open_zarr(path, chunks=chunks, consolidated=consolidated,
                                  storage_options=storage_options,
                                  **kwargs)
    except (FileNotFoundError, OSError, ValueError, KeyError) as exc:
        raise GeoshelfError(f"{path}: cannot open Zarr representation of {entry.name!r}: {exc}") from None
    ds.attrs.pop("geoshelf_time_length", None)
    return raster_attrs(ds) if entry.format == "geotiff" else ds
