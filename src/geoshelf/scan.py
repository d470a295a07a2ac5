"""Scanning source files into a catalog :class:`Entry`: format, variables, dims, time
range, bounding box, CRS, sizes and fingerprint.  Opens metadata only."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .catalog.locate import storage_options_for
from .catalog.model import FORMAT_DRIVERS, Entry
from .catalog.paths import (
    compact_urlpath,
    expand,
    fingerprint,
    has_glob,
    is_url,
    relativize,
    stat_files,
    visible_files,
)
from .catalog.remote import with_timeouts
from .catalog.trust import check_storage_options
from .config import SITE_CONFIG, read_config, user_config_path
from .errors import SourceError
from .load.formats import family, sniff
from .load.locks import HDF5_LOCK
from .load.original import GRIB_BACKEND_KWARGS, open_original


def collect_files(paths: Sequence[str],
                  storage_options: dict[str, Any] | None = None) -> tuple[list[str], str | list[str]]:
    """Expand files, globs and directories; return (files, urlpath to store)."""
    files: list[str] = []
    stored: list[str] = []
    for p in paths:
        p = p if is_url(p) else os.path.expanduser(p)  # the user's own paths: ~ means their home
        if not is_url(p) and os.path.isdir(p) and not sniff_is_zarr(p):
            inside = visible_files(p)
            if not inside:
                raise SourceError(f"{p}: directory has no files")
            files.extend(inside)
            continue
        if not is_url(p) and not has_glob(p) and not os.path.exists(p):
            raise SourceError(f"{p}: no such file or directory")
        found = expand(p, os.getcwd(), storage_options, expand_user=True)
        files.extend(found)
        if has_glob(p):
            stored.append(p if is_url(p) else os.path.abspath(p))
    files = sorted(dict.fromkeys(files))
    if not files:
        raise SourceError(f"{' '.join(paths)}: no files found")
    if stored and len(stored) == len(paths):
        urlpath: str | list[str] = stored[0] if len(stored) == 1 else stored
    else:
        urlpath = compact_urlpath(files)
    return files, urlpath


def sniff_is_zarr(path: str) -> bool:
    return any(os.path.exists(os.path.join(path, m)) for m in ("zarr.json", ".zgroup"))


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat()[:19]
    return str(np.datetime_as_string(np.datetime64(value, "s")))


#: Global attributes recorded as search facets by default (``facets:`` in the user or site config
#: replaces the list).  CF, CMIP and common archive conventions.
DEFAULT_FACETS: tuple[str, ...] = (
    "institution", "institution_id", "source", "source_id", "model", "model_id", "experiment",
    "experiment_id", "member", "member_id", "variant_label", "realization", "frequency", "table_id",
    "project", "project_id", "activity_id", "mip_era", "product", "domain", "grid_label", "platform",
    "sensor", "processing_level",
)
#: Longer attribute values are not facets (free text such as a history belongs elsewhere).
MAX_FACET_CHARS = 200


def facet_names() -> tuple[str, ...]:
    """The global attributes recorded as facets: ``facets:`` from the user config, then the site's,
    else the defaults."""
    for cfg in (user_config_path(), SITE_CONFIG):
        value = read_config(cfg).get("facets")
        if value is not None:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SourceError(f"{cfg}: 'facets' must be a list of attribute names")
            return tuple(value)
    return DEFAULT_FACETS


def _facet_value(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = str(value).strip()
        return text if text and len(text) <= MAX_FACET_CHARS else None
    return None


def describe(obj: Any, facets: Sequence[str] | None = None) -> dict[str, Any]:
    """Variables (with long_name / standard_name / units), facets from global attributes, dims,
    time range, bbox and CRS of an opened xarray object."""
    out: dict[str, Any] = {}
    ds = obj.to_dataset(name=obj.name or "band_data") if isinstance(obj, xr.DataArray) else obj
    out["variables"] = [str(v) for v in ds.data_vars if v != "spatial_ref"]
    vattrs: dict[str, dict[str, str]] = {}
    for v in out["variables"]:
        picked = {k: str(ds[v].attrs[k]) for k in ("long_name", "standard_name", "units")
                  if isinstance(ds[v].attrs.get(k), str) and ds[v].attrs[k].strip()}
        if picked:
            vattrs[v] = picked
    out["variable_attrs"] = vattrs
    found: dict[str, str] = {}
    for key in facet_names() if facets is None else facets:
        if key in ds.attrs:
            value = _facet_value(ds.attrs[key])
            if value is not None:
                found[key] = value
    out["facets"] = found
    out["dims"] = {str(k): int(v) for k, v in ds.sizes.items()}
    time = next((ds[c] for c in ds.coords if c == "time" or ds[c].attrs.get("axis") == "T"
                 or ds[c].attrs.get("standard_name") == "time"), None)
    if time is not None and time.size and (np.issubdtype(time.dtype, np.datetime64) or time.dtype == object):
        vals = time.values
        out["time_range"] = (_iso(vals.min()), _iso(vals.max()))
    crs = None
    try:
        crs = ds.rio.crs
    except Exception:  # noqa: BLE001 - rioxarray not applicable
        crs = None
    lat = next((ds[c] for c in ("lat", "latitude") if c in ds.coords), None)
    lon = next((ds[c] for c in ("lon", "longitude") if c in ds.coords), None)
    if lat is not None and lon is not None and lat.size and lon.size:
        out["bbox"] = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
        out["crs"] = "EPSG:4326"
    elif "x" in ds.coords and "y" in ds.coords and crs is not None:
        res_x = float(abs(ds.x[1] - ds.x[0])) if ds.x.size > 1 else 0.0
        res_y = float(abs(ds.y[1] - ds.y[0])) if ds.y.size > 1 else 0.0
        w, e = float(ds.x.min()) - res_x / 2, float(ds.x.max()) + res_x / 2
        s, n = float(ds.y.min()) - res_y / 2, float(ds.y.max()) + res_y / 2
        try:
            # deferred: pyproj costs ~60 ms; only entries with a CRS need it
            from pyproj import Transformer

            t = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
            lons, lats = t.transform([w, e, w, e], [s, s, n, n])
            out["bbox"] = (min(lons), min(lats), max(lons), max(lats))
        except Exception:  # noqa: BLE001 - no transform: keep native bounds
            out["bbox"] = (w, s, e, n)
        out["crs"] = crs.to_string()
    return out


def describe_table(df: Any) -> dict[str, Any]:
    """Columns, row count, time range and bbox of a (dask) DataFrame of point data."""
    out: dict[str, Any] = {"variables": [str(c) for c in df.columns]}
    pdf = df.compute() if hasattr(df, "compute") else df
    out["dims"] = {"index": len(pdf)}
    tcol = next((c for c in pdf.columns if str(c).lower() in ("time", "date", "datetime")), None)
    if tcol is not None and len(pdf):
        t = pd.to_datetime(pdf[tcol], errors="coerce")
        out["time_range"] = (t.min().isoformat()[:19], t.max().isoformat()[:19])
    lat = next((c for c in pdf.columns if str(c).lower() in ("lat", "latitude")), None)
    lon = next((c for c in pdf.columns if str(c).lower() in ("lon", "longitude")), None)
    if lat and lon and len(pdf):
        out["bbox"] = (float(pdf[lon].min()), float(pdf[lat].min()), float(pdf[lon].max()), float(pdf[lat].max()))
        out["crs"] = "EPSG:4326"
    return out


def _netcdf_groups(path: str) -> list[str]:
    """Names of the top-level groups of a NetCDF4 file (none for NetCDF3 or on any error)."""
    try:
        # deferred: netCDF4 costs ~0.15 s; only NetCDF4 groups need it
        import netCDF4

        with HDF5_LOCK, netCDF4.Dataset(path) as nc:
            return sorted(nc.groups)
    except Exception:  # noqa: BLE001 - only a hint for the message
        return []


def check_decodable(ds: Any, path: str) -> None:
    """Refuse variables that no reader can decode (found in real files): a dimension used twice
    (xarray cannot index it, values come out wrong) or a non-numeric ``scale_factor``/``add_offset``."""
    for name, var in ds.variables.items():
        problem = None
        if len(set(var.dims)) != len(var.dims):
            problem = f"uses a dimension twice ({', '.join(map(str, var.dims))}), which xarray cannot index"
        for key in ("scale_factor", "add_offset"):
            value = var.encoding.get(key, var.attrs.get(key))
            if problem is None and value is not None and np.asarray(value).dtype.kind not in "iuf":
                problem = f"has {key} {value!r}, not a number (CF), so its values cannot be decoded"
        if problem:
            raise SourceError(f"{path}: variable {name!r} {problem}: leave it out first, e.g. "
                              f"xarray.open_dataset(path, drop_variables=[{str(name)!r}]).to_netcdf(new_path)")


def _opener_args(fmt: str, kinds: dict[str, str], files: list[str], urlpath: str | list[str]) -> dict[str, Any]:
    """The entry's ``args`` for opening its files as intake-xarray will (engine, combine options)."""
    args: dict[str, Any] = {}
    if fmt == "netcdf":
        netcdf_kinds = set(kinds.values())
        remote = any(is_url(f) for f in files)
        engine = (("h5netcdf" if remote else "netcdf4") if netcdf_kinds == {"netcdf4"}
                  else "scipy" if netcdf_kinds == {"netcdf3"} else None)
        args["chunks"] = {}
        xkw: dict[str, Any] = {}
        if engine:
            xkw["engine"] = engine
        if len(files) > 1 or not isinstance(urlpath, str) or has_glob(urlpath):  # intake uses open_mfdataset
            xkw.update(combine="by_coords", data_vars="minimal", coords="minimal", compat="override")
        args["xarray_kwargs"] = xkw
    elif fmt == "grib":
        args["chunks"] = {}
        # intake-xarray passes these to xarray: cfgrib then writes no .idx file beside the source
        args["xarray_kwargs"] = {"engine": "cfgrib", "backend_kwargs": dict(GRIB_BACKEND_KWARGS),
                                 "decode_timedelta": True}
        if len(files) > 1 or not isinstance(urlpath, str) or has_glob(urlpath):
            args["xarray_kwargs"].update(combine="by_coords", data_vars="minimal", coords="minimal",
                                         compat="override")
    elif fmt == "geotiff":
        args["chunks"] = {}
    return args


def _describe_files(files: list[str], fmt: str, storage_options: dict[str, Any] | None,
                    progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    """Open the files (metadata only) and describe them; refuses NetCDF that does not decode or keeps its
    data in groups."""
    obj = open_original(files, fmt, storage_options=storage_options, progress=progress)
    meta = describe_table(obj) if fmt in ("csv", "parquet") else describe(obj)
    if fmt == "netcdf":
        check_decodable(obj, files[0])
    if fmt == "netcdf" and not meta.get("variables"):
        groups = _netcdf_groups(files[0]) if not is_url(files[0]) else []
        if groups:
            raise SourceError(f"{files[0]}: no data variables in the root group (its data is in groups: "
                              f"{', '.join(groups)}); geoshelf catalogs the root group only: extract a group first, "
                              "e.g. xarray.open_dataset(path, group=NAME).to_netcdf(...)")
    return meta


def scan(paths: Sequence[str], name: str, *, catalog_dir: str | None = None, description: str = "",
         tags: Sequence[str] = (), storage_options: dict[str, Any] | None = None,
         progress: Callable[[int, int], None] | None = None, **fields: Any) -> Entry:
    """Scan files/globs/directories into a new :class:`Entry` (metadata only is read).

    ``progress(done, total)`` is called as files are opened (long scans of thousands of files).

    ``storage_options`` are stored in the entry; options from the user's config (where
    credentials belong) are used to read but never written to the catalog.
    """
    stored_options = storage_options
    if stored_options:  # they go into a shared catalog: what a catalog may hold, never a credential
        check_storage_options(str(paths[0]) if paths else "", stored_options, "--storage-option")
    if paths:
        storage_options = with_timeouts(str(paths[0]),
                                        {**storage_options_for(str(paths[0])), **(storage_options or {})})
    files, urlpath = collect_files(paths, storage_options)
    kinds = {f: sniff(f, storage_options) for f in files}
    families = {family(k) for k in kinds.values()}
    if len(families) > 1:
        raise SourceError(f"{files[0]}: mixed formats in one entry ({', '.join(sorted(families))}); "
                          "add each format as its own entry")
    fmt = families.pop()
    args = _opener_args(fmt, kinds, files, urlpath)
    if stored_options:
        args["storage_options"] = dict(stored_options)
    meta = _describe_files(files, fmt, storage_options, progress)
    stats = stat_files(files, storage_options)
    if isinstance(urlpath, list):
        stored_urlpath: str | list[str] = [relativize(u, catalog_dir) for u in urlpath]
    else:
        stored_urlpath = relativize(urlpath, catalog_dir)
    return Entry(
        name=name,
        description=description,
        driver=FORMAT_DRIVERS.get(fmt, fmt),
        urlpath=stored_urlpath,
        format=fmt,
        args=args,
        variables=meta.get("variables", []),
        variable_attrs=meta.get("variable_attrs", {}),
        facets={**meta.get("facets", {}), **fields.pop("facets", {})},
        dims=meta.get("dims", {}),
        time_range=meta.get("time_range"),
        bbox=meta.get("bbox"),
        crs=meta.get("crs"),
        bytes=sum(s.size for s in stats),
        files=len(files),
        fingerprint=fingerprint(stats),
        tags=list(tags),
        catalog_dir=catalog_dir,
        **fields,
    )
