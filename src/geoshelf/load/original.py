"""Opening an entry's original files lazily.

Multi-file NetCDF collections are opened file by file (so an error names the file) with
CF time decoded per file, then combined along their coordinates: files whose ``time``
units differ (``days since <that day>``) combine into one correct time axis.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import xarray as xr

from ..catalog.paths import is_url
from ..catalog.remote import remote_errors
from ..errors import SourceError
from .formats import engine_for, family, sniff


def open_netcdf_file(path: str, *, chunks: Any = None, storage_options: dict[str, Any] | None = None,
                     **kwargs: Any) -> xr.Dataset:
    """Open one NetCDF file (local path or fsspec URL) lazily; an error names the file."""
    kind = sniff(path, storage_options)
    if family(kind) != "netcdf":
        raise SourceError(f"{path}: expected NetCDF, found {kind}")
    engine = kwargs.pop("engine", None) or engine_for(kind, remote=is_url(path))
    target: Any = path
    if is_url(path):
        import fsspec

        with remote_errors(path):
            target = fsspec.open(path, "rb", **(storage_options or {})).open()
        if engine == "netcdf4":
            engine = "h5netcdf" if kind == "netcdf4" else "scipy"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=xr.SerializationWarning)
            return xr.open_dataset(target, engine=engine, chunks=chunks, **kwargs)
    except Exception as exc:  # noqa: BLE001 - third-party readers raise anything on corrupt input
        raise SourceError(f"{path}: cannot open as NetCDF: {' '.join(str(exc).split())[:300]}") from None


_COMBINE_KWARGS = {"combine", "concat_dim", "parallel", "data_vars", "coords", "compat", "join"}


def open_netcdf_parts(files: Sequence[str], *, chunks: Any = None, storage_options: dict[str, Any] | None = None,
                      threads: int = 8, progress: Callable[[int, int], None] | None = None,
                      **kwargs: Any) -> list[xr.Dataset]:
    """Open each NetCDF file lazily (dask-backed by default), in order; an error names the file.

    ``progress(done, total)`` is called after each file."""
    chunks = {} if chunks is None else chunks
    kwargs = {k: v for k, v in kwargs.items() if k not in _COMBINE_KWARGS}
    if kwargs.get("engine", "netcdf4") == "netcdf4" and not any(is_url(f) for f in files):
        threads = 1  # the netCDF4-C library is not thread-safe for opening files

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


def combine_netcdf_parts(parts: Sequence[xr.Dataset], files: Sequence[str]) -> xr.Dataset:
    """Combine per-file datasets along their coordinates (per-file CF time units decoded first)."""
    if len(parts) == 1:
        return parts[0]
    try:
        combined = xr.combine_by_coords(list(parts), data_vars="minimal", coords="minimal", compat="override",
                                        join="outer", combine_attrs="override")
    except (ValueError, TypeError) as exc:
        raise SourceError(
            f"{files[0]} (+{len(files) - 1} files): cannot combine the files along their coordinates: "
            f"{' '.join(str(exc).split())[:300]}"
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


def open_geotiff(files: Sequence[str], *, chunks: Any = None, storage_options: dict[str, Any] | None = None,
                 progress: Callable[[int, int], None] | None = None, **kwargs: Any) -> xr.DataArray:
    """Open GeoTIFF files lazily with rioxarray; adjacent tiles are mosaicked by coordinates."""
    import rioxarray

    chunks = True if chunks is None else chunks
    arrays = []
    for f in files:
        try:
            with warnings.catch_warnings():  # rioxarray passes block-shaped chunks as a tuple
                warnings.filterwarnings("ignore", message=".*dimension-order tuples.*", category=FutureWarning)
                da = rioxarray.open_rasterio(f, chunks=chunks, **kwargs)
        except Exception as exc:  # noqa: BLE001 - rasterio raises many types
            raise SourceError(f"{f}: cannot open as GeoTIFF: {' '.join(str(exc).split())[:300]}") from None
        arrays.append(da)
        if progress is not None:
            progress(len(arrays), len(files))
    if len(arrays) == 1:
        return arrays[0]
    name = arrays[0].name or "band_data"
    try:
        ds = xr.combine_by_coords([a.to_dataset(name=name) for a in arrays], combine_attrs="drop_conflicts")
    except ValueError as exc:
        raise SourceError(f"{files[0]} (+{len(files) - 1} tiles): tiles do not form a regular mosaic: {exc}") from None
    da = ds[name]
    da.attrs.update({k: v for k, v in arrays[0].attrs.items() if k not in da.attrs})
    if "spatial_ref" in ds.coords:
        da = da.assign_coords(spatial_ref=ds["spatial_ref"])
    return da


def open_table(files: Sequence[str], fmt: str, *, storage_options: dict[str, Any] | None = None,
               **kwargs: Any) -> Any:
    """Open CSV or Parquet files as a dask DataFrame."""
    import dask.dataframe as dd

    try:
        if fmt == "csv":
            return dd.read_csv(list(files), storage_options=storage_options, **kwargs)
        return dd.read_parquet(list(files), storage_options=storage_options, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise SourceError(f"{files[0]}: cannot open as {fmt}: {' '.join(str(exc).split())[:300]}") from None


def open_original(files: Sequence[str], fmt: str, *, chunks: Any = None,
                  storage_options: dict[str, Any] | None = None, progress: Callable[[int, int], None] | None = None,
                  **kwargs: Any) -> Any:
    """Open the original files of an entry according to its format (``progress(done, total)`` per file
    opened, for NetCDF and GeoTIFF)."""
    if not files:
        raise SourceError("the entry has no source files")
    if fmt == "netcdf":
        return open_netcdf(files, chunks=chunks, storage_options=storage_options, progress=progress, **kwargs)
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
            raise SourceError(f"{files[0]}: cannot open as Zarr: {' '.join(str(exc).split())[:300]}") from None
    raise SourceError(f"{files[0]}: unsupported format {fmt!r}")
