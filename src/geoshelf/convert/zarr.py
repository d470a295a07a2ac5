"""Zarr target: Zarr v3 with sharding (few large files), zstd, consolidated metadata.

* Layouts pick the inner chunks: ``map`` (whole fields per time step), ``timeseries``
  (long time, small space), ``balanced`` (~2 MB roughly cubic chunks) or explicit ``chunks``.
* Shards group inner chunks into files of up to 512 MiB uncompressed (bounded by the array and by the
  memory of a worker), so the shared file system sees a few large files.  Dask chunks are aligned
  with shards: every task writes whole shards (idempotent, no two tasks touch one shard).
* CF encodings of the source are kept: packed ``int16`` with ``scale_factor``/``add_offset``,
  ``_FillValue``, units, calendar; the result decodes to exactly the source's values.  Values
  packed with a ``float32`` scale factor or offset are stored decoded (``float32``): from Zarr's JSON
  attributes every reader would unpack them in float64, to other values
  (:func:`.packing.json_exact_packing`).
* Memory is bounded: NetCDF collections are written region by region (one shard per task)
  straight from the files, packed integers copied without decoding (:mod:`.shards`);
  other sources (GeoTIFF mosaics, Zarr) go through a dask graph whose chunks are the shards.
* Incremental: new time steps (a growing daily archive) are appended in place; the
  store's ``geoshelf_time_length`` attribute marks the last complete state, so an
  interrupted append is rolled back before it is redone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..catalog.model import Entry, Representation
from ..contract import Appended, Converter, Option, Plan, Validation
from ..errors import ConversionError, ValidationError
from ..load.original import combine_netcdf_parts, open_netcdf_parts, open_original
from ..load.zarr import no_consolidated_warning, open_zarr_representation, raster_attrs
from .base import dask_client
from .packing import json_exact_packing
from .shards import (
    VariablePlan,
    packing,
    parallelism,
    plan_variable,
    region_shape,
    region_tasks,
    run_tasks,
)
from .validate import compare_datasets, compare_file_samples

LAYOUTS = ("map", "timeseries", "balanced")
SHARD_BYTES = 512 * 2**20
BALANCED_CHUNK_BYTES = 2 * 2**20
TIMESERIES_SPACE = 32
TIME_ATTR = "geoshelf_time_length"
_KEEP = ("dtype", "scale_factor", "add_offset", "_FillValue", "units", "calendar", "missing_value")


def _time_dim(ds: xr.Dataset) -> str | None:
    for name in ds.dims:
        if name == "time" or (name in ds.coords and ds[name].attrs.get("axis") == "T"):
            return str(name)
    return None


def _conflicting_fills(enc: Mapping[str, Any]) -> bool:
    """True when an encoding has a ``_FillValue`` and a different ``missing_value`` (scipy's example files)."""
    if "_FillValue" not in enc or "missing_value" not in enc or enc["_FillValue"] is None:
        return False
    a, b = np.atleast_1d(enc["_FillValue"]), np.atleast_1d(enc["missing_value"])
    same = a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f" and b.dtype.kind == "f")
    return not same


def _masked_without_nodata(files: list[str]) -> bool:
    """True when a GeoTIFF masks pixels with a mask band (per-dataset or alpha) and has no nodata value:
    its stored values under the mask are not data, and no _FillValue can say so (the rasterstats
    corpus file dataset_mask.tif stored 0 there); such rasters are stored decoded, NaN where masked."""
    # deferred: rasterio costs ~0.35 s at `convert --help`; only GeoTIFF sources need it
    import rasterio
    from rasterio.enums import MaskFlags

    for f in files:
        if "://" in f:
            continue
        with rasterio.open(f) as r:
            flags = r.mask_flag_enums[0] if r.count else ()
            if r.nodata is None and (MaskFlags.per_dataset in flags or MaskFlags.alpha in flags):
                return True
    return False


def _refuse_masked_chars(ds: xr.Dataset, where: str) -> None:
    """Character variables with a ``_FillValue`` decode to bytes mixed with NaN, which Zarr cannot store."""
    for name, var in ds.data_vars.items():
        if np.dtype(var.encoding.get("dtype", var.dtype)).kind in "SU" and "_FillValue" in var.encoding:
            others = [str(v) for v in ds.data_vars if v != name]
            way_out = (f"convert the others with --option variables={','.join(others)}" if others
                       else "remove its _FillValue first")
            raise ConversionError(f"{where}: character variable {name!r} has a _FillValue "
                                  f"({var.encoding['_FillValue']!r}); Zarr cannot store masked characters: "
                                  f"{way_out}")


def _one_char_dims(ds: xr.Dataset) -> xr.Dataset:
    """Character variables whose character dimension has length 1 (CESM's ``moc_components(moc_comp,
    nchar, string1)``) decode to ``S1`` arrays without it.  Stored so, xarray would read their last
    remaining dimension as the characters (``(moc_comp,)`` of ``S256``): they get it back."""
    out = ds
    for name, var in ds.variables.items():
        if var.dtype == np.dtype("S1") and var.ndim > 0:
            dim = str(var.encoding.get("char_dim_name") or "string1")
            if dim in ds.dims and ds.sizes[dim] != 1:
                dim = f"{name}_string1"
            out = out.assign({name: xr.Variable((*var.dims, dim), np.asarray(var.values)[..., None], var.attrs,
                                                var.encoding)})
    return out


def inner_chunks(var: xr.Variable, layout: str, explicit: dict[str, int] | None,
                 time_dim: str | None) -> tuple[int, ...]:
    """Inner chunk shape of one variable for a layout."""
    shape = {str(d): n for d, n in zip(var.dims, var.shape, strict=True)}
    itemsize = var.dtype.itemsize
    out: dict[str, int] = {}
    if explicit:
        out = {d: min(int(explicit.get(d, n)), n) for d, n in shape.items()}
    elif layout == "map":
        out = {d: (1 if d == time_dim else n) for d, n in shape.items()}
        other = [d for d in shape if d != time_dim and len(shape) > 3 and d != list(shape)[-1] and d != list(shape)[-2]]
        for d in other:  # e.g. levels of a 4-D field: one level per chunk
            out[d] = 1
    elif layout == "timeseries":
        out = {d: (n if d == time_dim else min(n, TIMESERIES_SPACE)) for d, n in shape.items()}
        if time_dim is None:
            out = dict(shape)
    else:  # balanced: roughly cubic chunks of ~2 MB
        n_el = max(1, BALANCED_CHUNK_BYTES // itemsize)
        side = max(1, int(round(n_el ** (1 / max(1, len(shape))))))
        out = {d: max(1, min(n, side)) for d, n in shape.items()}  # a zero-length dim still has chunks of 1
        # give leftover budget to the spatial dims when time is short
        budget = n_el / max(1, math.prod(out.values()))
        for d in reversed(list(shape)):
            if budget <= 1:
                break
            grow = min(max(1, shape[d]) / out[d], budget)
            out[d] = max(1, min(shape[d], int(out[d] * grow)))
            budget /= max(1.0, grow)
    return tuple(max(1, out[str(d)]) for d in var.dims)


def task_memory_budget() -> int:
    """Bytes one write task may hold decoded: a quarter of a worker thread's share of memory.

    Uses the active dask.distributed client's smallest worker memory limit when there is one,
    else this machine's memory per core; write regions and shards are sized from it
    (docs/benchmarks.md, row 5).
    """
    client = dask_client(on_worker=True)
    if client is not None:
        try:
            workers = client.scheduler_info(n_workers=-1)["workers"].values()
            limits = [w["memory_limit"] / max(1, w.get("nthreads", 1)) for w in workers if w.get("memory_limit")]
            if limits:
                return int(min(limits) / 4)
        except (KeyError, TypeError, ValueError):
            pass
    try:
        # deferred: psutil costs ~12 ms at `convert --help`; only the memory budget needs it
        import psutil

        return int(psutil.virtual_memory().total / max(1, os.cpu_count() or 1) / 4)
    except ImportError:  # pragma: no cover
        return SHARD_BYTES


def shard_shape(dims: tuple[str, ...], shape: tuple[int, ...], itemsize: int, inner: tuple[int, ...],
                time_dim: str | None, decoded_itemsize: int | None = None,
                budget: int | None = None) -> tuple[int, ...]:
    """Shard shape: a multiple of the inner chunks, grown along time first, of at most ~SHARD_BYTES
    stored and at most ``budget`` bytes once decoded (one shard is one dask task's data); then
    evened out: as many shards along each dimension, each as equal as whole chunks allow (two
    shards of 12 and 11 chunks, not 15 and 8: a shard is one task, the largest sets the wall time)."""
    max_elements = SHARD_BYTES // max(itemsize, 1)
    if decoded_itemsize and budget:
        max_elements = min(max_elements, budget // decoded_itemsize)
    shard = list(inner)
    order = ([dims.index(time_dim)] if time_dim in dims else []) + \
        [i for i in reversed(range(len(dims))) if dims[i] != time_dim]
    for i in order:
        room = max(1, max_elements // max(math.prod(shard), 1))
        need = math.ceil(shape[i] / shard[i])
        shard[i] *= max(1, min(room, need))
    for i, c in enumerate(inner):
        chunks = math.ceil(shape[i] / c)
        shards = math.ceil(chunks / max(1, shard[i] // c))
        shard[i] = c * max(1, math.ceil(chunks / max(1, shards)))
    return tuple(shard)


def _budget(plan: Plan[ZarrState]) -> int:
    """Bytes one write task may hold: ``max_task_bytes`` if given, else :func:`task_memory_budget`."""
    return int(plan.options.get("max_task_bytes") or task_memory_budget())


def _limit_open_file_cache(n: int = 8) -> None:
    """Keep few source files open per worker: xarray caches up to 128 open files per process,
    each holding HDF5/netCDF chunk caches, which is most of a small worker's memory."""

    def limit() -> None:
        xr.set_options(file_cache_maxsize=n)

    limit()
    client = dask_client(on_worker=True)
    if client is not None:
        client.run(limit)


@dataclass
class ZarrState:
    """The zarr target's state during one conversion (shared by write and validate)."""

    #: The source opened once: the dataset and, for rasters, the name given to the raster variable.
    source: tuple[xr.Dataset, str | None] | None = None
    #: NetCDF sources: each file opened lazily, in file order (written region by region).
    parts: list[xr.Dataset] | None = None
    #: Region plans of the variables written region by region (validation reads them).
    regions: dict[str, VariablePlan] | None = None


class ZarrConverter(Converter[ZarrState]):
    """NetCDF / GRIB / GeoTIFF / Zarr -> sharded Zarr v3 (or Zarr v2 on request)."""

    description = "Zarr v3, sharded, zstd, consolidated metadata; chunk layout for the access pattern"
    formats = ("netcdf", "grib", "geotiff", "zarr")
    suffix = ".zarr"
    options = (
        Option(name="layout", choices=LAYOUTS, default="balanced",
               help="chunk layout: map (whole fields), timeseries (long time, small space), balanced (~2 MB)"),
        Option(name="chunks", type=dict, metavar="DIM=SIZE[,DIM=SIZE...]",
               help="explicit inner chunks, e.g. time=30,lat=90,lon=180 (instead of a layout)"),
        Option(name="zarr_version", type=int, choices=(2, 3), default=3, help="Zarr format (default 3)"),
        Option(name="level", type=int, default=3, help="zstd compression level, 1-22 (default 3)"),
        Option(name="max_task_bytes", type=int, metavar="BYTES",
               help="bytes one write task may hold (default: a quarter of a worker thread's memory)"),
        Option(name="variables", type=list, metavar="NAME[,NAME...]", help="variables to convert (default: all)"),
    )

    def plan(self, entry: Entry, options: Mapping[str, Any]) -> dict[str, Any]:
        given = dict(options)
        if given.get("layout") == "explicit" and given.get("chunks"):
            given.pop("layout")  # options planned already (explicit chunks)
        out = super().plan(entry, given)
        if not 1 <= out["level"] <= 22:
            raise ConversionError(f"{entry.name}: zstd level must be between 1 and 22, not {out['level']}")
        chunks = out.get("chunks")
        if chunks is not None:
            if not chunks:
                raise ConversionError(f"{entry.name}: chunks must be a mapping of dimension to size")
            dims = entry.dims or {}
            for dim, size in chunks.items():
                if dims and dim not in dims:
                    raise ConversionError(f"{entry.name}: chunks name unknown dimension {dim!r} "
                                          f"(dimensions: {', '.join(dims)})")
                if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
                    raise ConversionError(f"{entry.name}: chunk size for {dim!r} must be a positive integer, not "
                                          f"{size!r}")
                if dims and size > dims[dim]:
                    raise ConversionError(f"{entry.name}: chunk size {size} for {dim!r} does not fit its length "
                                          f"{dims[dim]}")
            out["layout"] = "explicit"
        budget = out.get("max_task_bytes")
        if budget is not None and budget <= 0:
            raise ConversionError(f"{entry.name}: max_task_bytes must be a positive integer, not {budget!r}")
        variables = out.get("variables")
        if variables is not None:
            missing = [v for v in variables if entry.variables and v not in entry.variables]
            if missing:
                raise ConversionError(f"{entry.name}: no variable {missing[0]!r} (variables: "
                                      f"{', '.join(entry.variables)})")
            if not variables:
                out.pop("variables")
        return out

    def new_state(self) -> ZarrState:
        return ZarrState()

    def open(self, entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
        return open_zarr_representation(entry, rep, chunks=chunks, **kwargs)

    # -- writing ---------------------------------------------------------------------------
    def _source(self, plan: Plan[ZarrState], files: list[str] | None = None) -> tuple[xr.Dataset, str | None]:
        if files is None and plan.state.source is not None:  # opened once for write and validate
            return plan.state.source
        result = self._open_source(plan, files)
        if files is None:
            plan.state.source = result
        return result

    def _open_source(self, plan: Plan[ZarrState], files: list[str] | None = None) -> tuple[xr.Dataset, str | None]:
        entry = plan.entry
        if entry.format == "netcdf":
            paths = files or plan.files
            parts = open_netcdf_parts(paths, chunks={}, storage_options=entry.storage_options)
            ds, raster_name = combine_netcdf_parts(parts, paths), None
            if files is None:
                plan.state.parts = parts
        else:
            # rasters are stored as read (nodata a value, with its _FillValue attribute); opening
            # the store decodes them as xarray's rasterio engine decodes the GeoTIFF
            paths = files or plan.files
            raw = entry.format == "geotiff" and not _masked_without_nodata(paths)
            how: dict[str, Any] = ({"mask_and_scale": False} if raw else {} if entry.format == "geotiff"
                                   else {"chunks": {}})
            ds = open_original(paths, entry.format, storage_options=entry.storage_options, **how)
            raster_name = str(next(iter(ds.data_vars))) if entry.format == "geotiff" else None
        if plan.options.get("variables"):
            ds = ds[plan.options["variables"]]
        _refuse_masked_chars(ds, plan.files[0])
        return ds, raster_name

    def _encode(self, ds: xr.Dataset, plan: Plan[ZarrState], budget: int, regions: dict[str, VariablePlan] | None = None
                ) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int, ...]]]:
        """Zarr encoding of every variable, and the write block (= shard in v3) of each data variable.

        With ``regions`` (variables written region by region), a variable whose packing is kept
        stores the source's integers; one that cannot be kept is stored unpacked.
        """
        # deferred: zarr costs ~0.3 s at `convert --help`; only writing needs it
        from zarr.codecs import ZstdCodec

        opts = plan.options
        time_dim = _time_dim(ds)
        version = opts["zarr_version"]
        encoding: dict[str, dict[str, Any]] = {}
        blocks: dict[str, tuple[int, ...]] = {}
        for name, var in ds.variables.items():
            enc = {k: var.encoding[k] for k in _KEEP if k in var.encoding}
            if (name == time_dim and var.dtype.kind in "MO") or np.issubdtype(var.dtype, np.datetime64):
                # one consistent encoding (the sources differ per file): xarray picks exact int64 units
                enc = {k: v for k, v in enc.items() if k == "calendar"}
                enc["dtype"] = "int64"
            elif var.dtype.kind == "f" and "_FillValue" not in var.encoding and "_FillValue" not in var.attrs:
                # stored without a fill value in the source: stays so (xarray would add NaN)
                enc["_FillValue"] = None
            vplan = (regions or {}).get(str(name))
            if _conflicting_fills(enc):
                # xarray encodes only one of the two mask values: decoded data store their NaN as _FillValue;
                # raw copies keep missing_value as a plain attribute (_write_regions)
                enc.pop("missing_value")
            if vplan is not None and not vplan.raw:  # packing differs between files (or float32): store unpacked
                enc = {k: v for k, v in enc.items() if k not in ("scale_factor", "add_offset", "missing_value")}
                enc["dtype"] = vplan.dtype
                enc["_FillValue"] = vplan.fill
            elif vplan is None and var.dtype.kind == "f" and not json_exact_packing(enc.get("dtype"), enc):
                # float32 packing would decode in float64 from Zarr's JSON attributes: store the decoded values
                masked = enc.get("_FillValue") is not None or "missing_value" in enc
                enc = {k: v for k, v in enc.items() if k not in ("scale_factor", "add_offset", "missing_value")}
                enc["dtype"] = var.dtype
                enc["_FillValue"] = np.nan if masked else None
            if name in ds.data_vars and var.ndim > 0:
                explicit = opts.get("chunks")
                inner = inner_chunks(var, opts["layout"] if opts["layout"] != "explicit" else "balanced",
                                     explicit, time_dim)
                stored = np.dtype(enc.get("dtype", var.dtype))
                # a region task holds its buffer, the read-back and zarr's encoding copies
                per_element = 3 * stored.itemsize if vplan is not None else var.dtype.itemsize
                block = shard_shape(tuple(map(str, var.dims)), var.shape, stored.itemsize, inner, time_dim,
                                    decoded_itemsize=per_element, budget=budget)
                enc["chunks"] = inner
                if version == 3:
                    enc["shards"] = block
                    enc["compressors"] = [ZstdCodec(level=opts["level"])]
                else:
                    # deferred: numcodecs costs ~0.17 s at `convert --help`; only writing needs it
                    from numcodecs import Zstd

                    enc["compressors"] = [Zstd(level=opts["level"])]
                blocks[str(name)] = block
            encoding[str(name)] = enc
        return encoding, blocks

    def write(self, plan: Plan[ZarrState], path: Path) -> None:
        ds, _raster = self._source(plan)
        ds = _one_char_dims(ds)
        time_dim = _time_dim(ds)
        attrs = {**ds.attrs, TIME_ATTR: int(ds.sizes[time_dim]) if time_dim else -1}
        if plan.state.parts is not None:
            self._write_regions(plan, ds, path, attrs)
        else:
            self._write_dask(plan, ds, path, attrs)

    def _write_regions(self, plan: Plan[ZarrState], ds: xr.Dataset, path: Path, attrs: dict[str, Any]) -> None:
        """NetCDF: metadata and small variables through xarray, the data region by region (:mod:`.shards`)."""
        # deferred: dask.array costs ~0.2 s at `convert --help`; only writing needs it
        import dask.array as da

        parts = plan.state.parts
        assert parts is not None
        names = [str(n) for n, v in ds.data_vars.items() if v.ndim > 0 and v.dtype.kind in "iufb"]
        vplans = {n: plan_variable(n, ds, parts, plan.files) for n in names}
        budget = _budget(plan)
        encoding, blocks = self._encode(ds, plan, budget, vplans)
        template = ds.copy()
        for name, var in ds.variables.items():
            if name in vplans:
                dtype = var.dtype if vplans[name].raw else np.dtype(vplans[name].dtype)
                var_attrs = dict(var.attrs)
                if vplans[name].raw and _conflicting_fills(var.encoding):
                    var_attrs["missing_value"] = var.encoding["missing_value"]  # stored values keep both mask values
                template[name] = xr.Variable(var.dims, da.zeros(var.shape, dtype=dtype, chunks=blocks[name]),
                                             var_attrs)
            else:
                template[name] = var.load()
        template.attrs = attrs
        for v in template.variables.values():
            v.encoding = {}
        with no_consolidated_warning():
            template.to_zarr(path, mode="w", zarr_format=plan.options["zarr_version"], consolidated=True,
                             encoding=encoding, compute=False)
        workers = parallelism()
        tdim = _time_dim(ds)
        tasks = []
        for n, vp in vplans.items():
            arr = ds[n]
            # grow regions across space first (time-major files are read once per region), then time
            order = [i for i in reversed(range(arr.ndim)) if arr.dims[i] != tdim] + \
                [i for i in range(arr.ndim) if arr.dims[i] == tdim]
            region = region_shape(arr.shape, blocks[n], max_elements=budget // (3 * np.dtype(vp.dtype).itemsize),
                                  min_regions=workers, order=order)
            tasks += region_tasks(str(path), vp, arr.shape, region, plan.entry.storage_options)
        run_tasks(tasks, label=plan.entry.name)
        plan.state.regions = vplans

    def _write_dask(self, plan: Plan[ZarrState], ds: xr.Dataset, path: Path, attrs: dict[str, Any]) -> None:
        """Other sources: one dask graph whose chunks are the shards (each task writes whole shards)."""
        _limit_open_file_cache()
        encoding, blocks = self._encode(ds, plan, _budget(plan))
        target: dict[str, int] = {}
        for name, block in blocks.items():
            for d, n in zip(ds[name].dims, block, strict=True):
                target[str(d)] = max(target.get(str(d), 0), n)
        out = ds.chunk(target) if target else ds
        for coord in list(out.coords):
            if coord not in out.indexes and out[coord].dtype.kind in "mM":
                # small coordinates of times (cfgrib's valid_time): in memory, so xarray picks exact units
                out[name] = out[name].load()
        for v in out.variables.values():
            v.encoding = {}
        out.attrs = attrs
        with no_consolidated_warning():
            out.to_zarr(path, mode="w", zarr_format=plan.options["zarr_version"], consolidated=True,
                        encoding=encoding, compute=True)

    # -- validation ---------------------------------------------------------------------------
    def _open(self, path: Path, raster: bool = False) -> xr.Dataset:
        with no_consolidated_warning():
            # rasters keep nodata as a value with a _FillValue attribute, like rioxarray.open_rasterio
            ds: xr.Dataset = xr.open_zarr(path, chunks={}, consolidated=True, mask_and_scale=not raster)
            return raster_attrs(ds) if raster else ds

    def validate(self, plan: Plan[ZarrState], path: Path) -> Validation:
        src, raster = self._source(plan)
        out = self._open(path, raster=raster is not None).drop_attrs(deep=False)
        vplans = plan.state.regions
        if vplans is None:
            return self._compare(src, out, plan, where=f"{path.name}: ")
        return self._validate_regions(plan, path, src, out, vplans)

    def _validate_regions(self, plan: Plan[ZarrState], path: Path, src: xr.Dataset, out: xr.Dataset,
                          vplans: dict[str, VariablePlan]) -> Validation:
        """Data written region by region were compared value by value in each task
        (:func:`.shards.write_region`: every stored value read back equals the source's).  Here:
        coordinates and small variables in full, the packing that decodes the stored values,
        and decoded windows of single files located by their coordinate values."""
        where = f"{path.name}: "
        others = [str(v) for v in src.data_vars if v not in vplans and v != "spatial_ref"]
        how = self._compare(src, out, plan, where, variables=others)
        with no_consolidated_warning():
            stored = xr.open_zarr(path, chunks={}, consolidated=True, mask_and_scale=False, decode_times=False)
        parts = list(zip(plan.files, plan.state.parts or [], strict=True))
        n = 16 if plan.validate == "full" else 4
        for i, (name, vp) in enumerate(vplans.items()):
            var = stored[name]
            on_disk = xr.Variable((), 0, encoding={**{k: var.attrs[k] for k in var.attrs if k in _KEEP},
                                                   "dtype": var.dtype})
            expected = packing(parts[0][1][name].variable) if vp.raw else None
            if expected is not None and packing(on_disk) != expected:
                raise ValidationError(f"{where}{name}: stored packing {dict(packing(on_disk))} differs from the "
                                      f"source's {dict(expected)}")
            inner = var.encoding.get("chunks") or var.shape
            window = dict(zip(map(str, var.dims), inner, strict=True))
            compare_file_samples(name, parts, out[name], window, n=n, seed=i, where=where)
        return how

    def _compare(self, src: xr.Dataset, out: xr.Dataset, plan: Plan[ZarrState], where: str,
                 variables: list[str] | None = None) -> Validation:
        how = compare_datasets(src, out, variables=variables, sample=plan.validate == "sample", where=where)
        for name in src.data_vars:
            for key in ("units", "standard_name", "long_name"):
                if src[name].attrs.get(key) != out[name].attrs.get(key):
                    raise ValidationError(f"{where}{name}: attribute {key!r} differs from the source")
        tdim = _time_dim(src)
        if tdim and src[tdim].encoding.get("calendar") and out[tdim].encoding.get("calendar") != \
                src[tdim].encoding.get("calendar"):
            raise ValidationError(f"{where}{tdim}: calendar differs from the source")
        return how

    # -- incremental ----------------------------------------------------------------------------
    def append(self, plan: Plan[ZarrState], path: Path, previous: Representation) -> Appended | None:
        # deferred: zarr costs ~0.3 s at `convert --help`; only an append needs it
        import zarr

        if plan.options["zarr_version"] != 3 or plan.entry.format != "netcdf":
            return None
        group: Any = zarr.open_group(str(path), mode="r+")  # zarr types its members as arrays or groups
        recorded = int(group.attrs.get(TIME_ATTR, -1))
        existing = self._open(path)
        tdim = _time_dim(existing)
        if tdim is None or recorded < 0:
            return None
        if existing.sizes[tdim] != recorded:  # an interrupted append: roll back to the last good length
            for name in list(group.array_keys()):
                arr = group[name]
                dims = arr.attrs.get("_ARRAY_DIMENSIONS") or (arr.metadata.dimension_names or ())
                if tdim in dims:
                    shape = list(arr.shape)
                    shape[list(dims).index(tdim)] = recorded
                    arr.resize(tuple(shape))
            zarr.consolidate_metadata(str(path))
            existing = self._open(path)
        new, _ = self._source(plan, plan.new_files)
        if float(new[tdim].min().values.astype("datetime64[ns]").astype("i8")) <= \
                float(existing[tdim].max().values.astype("datetime64[ns]").astype("i8")):
            return None  # new files interleave with old ones: rebuild
        for c in new.coords:
            if c != tdim and c in existing.coords and not np.array_equal(new[c].values, existing[c].values):
                return None
        if set(new.data_vars) != set(existing.data_vars):
            return None
        # align dask chunks with existing shards: first chunk fills the last partial shard
        shard_t = None
        for name in new.data_vars:
            enc = existing[name].encoding
            shard = enc.get("shards") or enc.get("chunks")
            if shard and tdim in existing[name].dims:
                shard_t = int(shard[existing[name].dims.index(tdim)])
        n_new = new.sizes[tdim]
        if shard_t:
            first = shard_t - (recorded % shard_t) if recorded % shard_t else shard_t
            sizes = [min(first, n_new)]
            while sum(sizes) < n_new:
                sizes.append(min(shard_t, n_new - sum(sizes)))
            new = new.chunk({tdim: tuple(sizes)})
        for v in new.variables.values():
            v.encoding = {}
        new.attrs = dict(existing.attrs)  # keep the store's global attributes (those of the first files)
        with no_consolidated_warning():
            _one_char_dims(new).drop_vars([c for c in new.coords if tdim not in new[c].dims]).to_zarr(
                path, mode="a", append_dim=tdim, consolidated=True, compute=True)
        out = self._open(path).isel({tdim: slice(recorded, None)})
        how = self._compare(new, out, plan, where=f"{path.name} (appended): ")
        group = zarr.open_group(str(path), mode="r+")
        group.attrs[TIME_ATTR] = recorded + n_new
        zarr.consolidate_metadata(str(path))
        return Appended(validation=how, files=len(plan.new_files))

    def representation_format(self, plan: Plan[ZarrState], path: Path) -> str:
        return f"zarr{plan.options['zarr_version']}"

    def representation_options(self, plan: Plan[ZarrState], path: Path) -> dict[str, Any]:
        return {"consolidated": True}  # a raster opens as the Dataset it was read as: nothing more to record
