"""Opening an entry's original files lazily.

Multi-file NetCDF collections are opened file by file (so an error names the file) with
CF time decoded per file, then combined along their coordinates: files whose ``time``
units differ (``days since <that day>``) combine into one correct time axis.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..catalog.paths import is_url
from ..catalog.remote import remote_errors
from ..errors import SourceError, one_line
from .formats import engine_for, family, sniff
from .locks import HDF5_LOCK

#: Engines that call into netCDF-C / HDF5 (not thread-safe: see :mod:`.locks`).
LOCKED_ENGINES = ("netcdf4", "h5netcdf")


def open_netcdf_file(path: str, *, chunks: Any = None, storage_options: dict[str, Any] | None = None,
                     **kwargs: Any) -> xr.Dataset:
    """Open one NetCDF file (local path or fsspec URL) lazily; an error names the file."""
    kind = sniff(path, storage_options)
    if family(kind) != "netcdf":
        raise SourceError(f"{path}: expected NetCDF, found {kind}")
    engine = kwargs.pop("engine", None) or engine_for(kind, remote=is_url(path))
    target: Any = path
    if is_url(path):
        # deferred: fsspec costs 0.1-0.4 s; only URLs need it
        import fsspec

        with remote_errors(path):
            target = fsspec.open(path, "rb", **(storage_options or {})).open()
        if engine == "netcdf4":
            engine = "h5netcdf" if kind == "netcdf4" else "scipy"
    if engine in LOCKED_ENGINES:
        kwargs.setdefault("lock", HDF5_LOCK)  # xarray's lazy reads of this file take geoshelf's lock too
    try:
        with HDF5_LOCK if engine in LOCKED_ENGINES else contextlib.nullcontext(), warnings.catch_warnings():
            warnings.simplefilter("ignore", category=xr.SerializationWarning)
            return xr.open_dataset(target, engine=engine, chunks=chunks, **kwargs)
    except Exception as exc:  # noqa: BLE001 - third-party readers raise anything on corrupt input
        why = unwritten_times(target, engine, kwargs) if "unable to decode time" in str(exc) else None
        raise SourceError(f"{path}: {why or 'cannot open as NetCDF: ' + one_line(exc, 300)}") from None


#: The netCDF default fill values of the float types (what an unwritten value reads as).
_DEFAULT_FILLS = (np.float32(9.9692099683868690e36), np.float64(9.9692099683868690e36))


def _unwritten(var: xr.Variable) -> bool:
    """True when every value of a stored (undecoded) numeric variable is its fill value, NaN, or
    netCDF's default fill: nothing was ever written to it."""
    values = np.asarray(var.values)
    default = _DEFAULT_FILLS if var.dtype.kind == "f" else (
        (np.iinfo(var.dtype).min + 1,) if var.dtype.kind == "i" else ())
    fills = [f for f in (var.attrs.get("_FillValue"), var.encoding.get("_FillValue"), *default) if f is not None]
    unwritten = np.isnan(values) if var.dtype.kind == "f" else np.zeros(values.shape, bool)
    for f in fills:
        unwritten |= values == np.asarray(f).astype(var.dtype)
    return bool(unwritten.all())


def unwritten_times(target: Any, engine: str, kwargs: dict[str, Any]) -> str | None:
    """Why a file's times cannot be decoded when the cause is that none was written (every value of a
    time variable is its fill value, or netCDF's default fill), with a way out; None otherwise."""
    given = {k: v for k, v in kwargs.items() if k not in ("decode_times", "mask_and_scale")}
    try:
        with HDF5_LOCK if engine in LOCKED_ENGINES else contextlib.nullcontext(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with xr.open_dataset(target, engine=engine, decode_times=False, mask_and_scale=False, **given) as raw:
                for name, var in raw.variables.items():
                    if (" since " in str(var.attrs.get("units", "")) and var.size and var.dtype.kind in "iuf"
                            and _unwritten(var)):
                        return (f"time variable {str(name)!r} holds only fill values "
                                f"({np.asarray(var.values).ravel()[0].item()!r}): no time was written, so no "
                                "date can be decoded; write its values first, e.g. ds = xarray.open_dataset(path, "
                                f"decode_times=False); ds[{str(name)!r}] = ...; ds.to_netcdf(new_path)")
    except Exception:  # noqa: BLE001 - a diagnosis only: the caller reports the original error
        return None
    return None


_COMBINE_KWARGS = {"combine", "concat_dim", "parallel", "data_vars", "coords", "compat", "join"}


def open_netcdf_parts(files: Sequence[str], *, chunks: Any = None, storage_options: dict[str, Any] | None = None,
                      threads: int = 8, progress: Callable[[int, int], None] | None = None,
                      **kwargs: Any) -> list[xr.Dataset]:
    """Open each NetCDF file lazily (dask-backed by default), in order; an error names the file.

    ``progress(done, total)`` is called after each file."""
    chunks = {} if chunks is None else chunks
    kwargs = {k: v for k, v in kwargs.items() if k not in _COMBINE_KWARGS}
    if kwargs.get("engine", "netcdf4") in LOCKED_ENGINES and not any(is_url(f) for f in files):
        threads = 1  # opens of local files serialize on HDF5_LOCK anyway

    def opened(parts: Iterable[xr.Dataset]) -> list[xr.Dataset]:
        out = []
        for part in parts:
            out.append(part)
            if progress is not None:
                progress(len(out), len(files))
        return out

    if len(files) == 1 or threads == 1:
        return opened(open_netcdf_file(f, chunks=chunks, storage_options=storage_options, **kwargs) for f in files)
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(files)))) as pool:
        return opened(pool.map(lambda f: open_netcdf_file(f, chunks=chunks, storage_options=storage_options,
                                                           **kwargs), files))


#: Above this many files, overlaps along several dimensions at once (tiles) are not checked pairwise.
PAIRWISE_MAX_FILES = 1000


def check_overlaps(parts: Sequence[xr.Dataset], files: Sequence[str]) -> None:
    """Refuse files that hold the same coordinate values (two versions of the same dates, say):
    combining them would silently keep one file's values.  Raises SourceError naming both files."""
    if len(parts) < 2:
        return
    shared = [d for d in parts[0].indexes if all(d in p.indexes for p in parts[1:])]
    split = [d for d in shared if not all(p.indexes[d].equals(parts[0].indexes[d]) for p in parts[1:])]
    names = [set(map(str, p.data_vars)) for p in parts]
    if not split:  # files split by variable share their grid; the same variable twice is an overlap
        seen: dict[str, int] = {}
        for i, vs in enumerate(names):
            for v in sorted(vs):
                if v in seen:
                    raise SourceError(f"{files[seen[v]]} and {files[i]}: both hold {v!r} on the same coordinates "
                                      "(two versions of the same data?); add only one of them")
                seen[v] = i
        return
    if len(split) == 1:
        dim = split[0]
        owner = np.concatenate([np.full(len(p.indexes[dim]), i) for i, p in enumerate(parts)])
        values = pd.Index(np.concatenate([np.asarray(p.indexes[dim], dtype=object) for p in parts]))
        dup = values.duplicated(keep=False)
        if dup.any():
            first = int(np.flatnonzero(dup)[0])
            same = np.flatnonzero(values == values[first])
            a, b = sorted({int(owner[i]) for i in same})[:2] if len({int(owner[i]) for i in same}) > 1 else \
                (int(owner[same[0]]), int(owner[same[0]]))
            if a != b and not names[a] & names[b]:
                return  # different variables at the same coordinates: merged, not overlapping
            where = f"{files[a]} and {files[b]}" if a != b else f"{files[a]}"
            raise SourceError(f"{where}: {dim} {values[first]} occurs more than once (two versions of the same "
                              "data?); add only one of them")
        return
    if len(parts) > PAIRWISE_MAX_FILES:
        return
    sets = [[set(np.asarray(p.indexes[d], dtype=object).tolist()) for d in split] for p in parts]
    for i in range(len(parts)):
        for j in range(i + 1, len(parts)):
            if names[i] & names[j] and all(sets[i][k] & sets[j][k] for k in range(len(split))):
                raise SourceError(f"{files[i]} and {files[j]}: both hold the same {'/'.join(map(str, split))} "
                                  "cells (two versions of the same data?); add only one of them")


def combine_netcdf_parts(parts: Sequence[xr.Dataset], files: Sequence[str]) -> xr.Dataset:
    """Combine per-file datasets along their coordinates (per-file CF time units decoded first);
    files holding the same coordinate values are refused (:func:`check_overlaps`)."""
    if len(parts) == 1:
        return parts[0]
    check_overlaps(parts, files)
    try:
        combined = xr.combine_by_coords(list(parts), data_vars="minimal", coords="minimal", compat="override",
                                        join="outer", combine_attrs="override")
    except (ValueError, TypeError) as exc:
        raise SourceError(
            f"{files[0]} (+{len(files) - 1} files): cannot combine the files along their coordinates: "
            f"{one_line(exc, 300)}"
        ) from None
    if not isinstance(combined, xr.Dataset):  # pragma: no cover - combine_by_coords of Datasets
        combined = combined.to_dataset()
    return combined


def open_netcdf(files: Sequence[str], *, chunks: Any = None, storage_options: dict[str, Any] | None = None,
                threads: int = 8, progress: Callable[[int, int], None] | None = None, **kwargs: Any) -> xr.Dataset:
    """Open one or many NetCDF files lazily (dask-backed) and combine them by coordinates."""
    parts = open_netcdf_parts(files, chunks=chunks, storage_options=storage_options, threads=threads,
                              progress=progress, **kwargs)
    return combine_netcdf_parts(parts, files)


#: cfgrib options geoshelf always uses: no ``.idx`` index file is written beside the source (a reader
#: writes nothing; the messages are indexed in memory at each open), step decoded as a timedelta.
GRIB_BACKEND_KWARGS: dict[str, Any] = {"indexpath": ""}


def open_grib_file(path: str, *, chunks: Any = None, **kwargs: Any) -> xr.Dataset:
    """Open one GRIB file lazily with cfgrib (ecCodes from wheels); an error names the file."""
    # deferred: pyproj costs ~60 ms at `convert --help`; only GRIB files need it
    import pyproj  # noqa: F401 - must be loaded before ecCodes: eckit's libraries break PROJ's database otherwise

    if is_url(path):
        raise SourceError(f"{path}: GRIB files are read from a local or shared file system only")
    backend_kwargs = {**dict(kwargs.pop("backend_kwargs", None) or {}), **GRIB_BACKEND_KWARGS}
    kwargs.pop("engine", None)
    kwargs.setdefault("decode_timedelta", True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return xr.open_dataset(path, engine="cfgrib", chunks=chunks, backend_kwargs=backend_kwargs, **kwargs)
    except Exception as exc:  # noqa: BLE001 - cfgrib/ecCodes raise anything on odd input
        text = one_line(exc)
        if "multiple values for" in text or "filter_by_keys" in text:
            raise SourceError(f"{path}: the GRIB messages do not form one hypercube ({text[:160]}); split the file "
                              "by type of level or parameter (e.g. grib_copy -w typeOfLevel=...) and add each part "
                              "as its own entry") from None
        raise SourceError(f"{path}: cannot open as GRIB: {text[:300]}") from None


def open_grib(files: Sequence[str], *, chunks: Any = None, **kwargs: Any) -> xr.Dataset:
    """Open one or many GRIB files lazily and combine them by coordinates."""
    chunks = {} if chunks is None else chunks
    kwargs = {k: v for k, v in kwargs.items() if k not in _COMBINE_KWARGS}
    parts = [open_grib_file(f, chunks=chunks, **kwargs) for f in files]
    return combine_netcdf_parts(parts, files)


def open_geotiff(files: Sequence[str], *, chunks: Any = None, storage_options: dict[str, Any] | None = None,
                 progress: Callable[[int, int], None] | None = None, **kwargs: Any) -> xr.Dataset:
    """Open GeoTIFF files lazily as xarray's ``rasterio`` engine does (what stock intake's ``rasterio``
    driver gives): a Dataset with ``band_data`` (bands along ``band``), nodata masked to NaN and the
    packing in ``encoding`` unless ``mask_and_scale=False``; adjacent tiles are mosaicked by coordinates."""
    chunks = {} if chunks is None else chunks
    parts = []
    for f in files:
        try:
            with warnings.catch_warnings():  # rioxarray passes block-shaped chunks as a tuple
                warnings.filterwarnings("ignore", message=".*dimension-order tuples.*", category=FutureWarning)
                parts.append(xr.open_dataset(f, engine="rasterio", chunks=chunks, **kwargs))
        except Exception as exc:  # noqa: BLE001 - rasterio raises many types
            raise SourceError(f"{f}: cannot open as GeoTIFF: {one_line(exc, 300)}") from None
        if progress is not None:
            progress(len(parts), len(files))
    if len(parts) == 1:
        return parts[0]
    try:  # as xr.open_mfdataset(..., combine="by_coords") does: the first tile's attributes
        combined = xr.combine_by_coords(parts, combine_attrs="override")
        return combined if isinstance(combined, xr.Dataset) else combined.to_dataset()
    except ValueError as exc:
        raise SourceError(f"{files[0]} (+{len(files) - 1} tiles): tiles do not form a regular mosaic: {exc}") from None


def open_table(files: Sequence[str], fmt: str, *, storage_options: dict[str, Any] | None = None,
               **kwargs: Any) -> Any:
    """Open CSV or Parquet files as a dask DataFrame."""
    # deferred: dask.dataframe costs ~0.5 s; only tables need it
    import dask.dataframe as dd

    try:
        if fmt == "csv":
            return dd.read_csv(list(files), storage_options=storage_options, **kwargs)
        return dd.read_parquet(list(files), storage_options=storage_options, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise SourceError(f"{files[0]}: cannot open as {fmt}: {one_line(exc, 300)}") from None


def open_original(files: Sequence[str], fmt: str, *, chunks: Any = None,
                  storage_options: dict[str, Any] | None = None, progress: Callable[[int, int], None] | None = None,
                  **kwargs: Any) -> Any:
    """Open the original files of an entry according to its format (``progress(done, total)`` per file
    opened, for NetCDF and GeoTIFF)."""
    if not files:
        raise SourceError("the entry has no source files")
    if fmt == "netcdf":
        return open_netcdf(files, chunks=chunks, storage_options=storage_options, progress=progress, **kwargs)
    if fmt == "grib":
        return open_grib(files, chunks=chunks, **kwargs)
    if fmt == "geotiff":
        return open_geotiff(files, chunks=chunks, storage_options=storage_options, progress=progress, **kwargs)
    if fmt in ("csv", "parquet"):
        return open_table(files, fmt, storage_options=storage_options, **kwargs)
    if fmt == "zarr":
        # zarr refuses storage options for a local path (even empty ones): an existing local store is an entry too
        try:
            return xr.open_zarr(files[0], chunks=chunks if chunks is not None else {},
                                storage_options=storage_options if is_url(files[0]) else None, **kwargs)
        except Exception as exc:  # noqa: BLE001 - zarr and fsspec raise many types on bad input
            raise SourceError(f"{files[0]}: cannot open as Zarr: {one_line(exc, 300)}") from None
    raise SourceError(f"{files[0]}: unsupported format {fmt!r}")
