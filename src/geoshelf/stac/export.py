"""``geoshelf stac export OUT/``: the catalog as a static STAC catalog.

Layout: a root STAC Catalog; a child Catalog per included (team) catalog; a Collection per entry
with one Item holding every representation of the entry as an asset (Zarr, kerchunk references,
COG, Parquet, the original files), each with its media type, roles and the keyword arguments
xarray needs to open it (the xarray-assets extension).  Collections and Items carry the datacube
extension (dimensions with extents, variables with their dimensions and units), ``proj:code``,
bboxes in -180..180 (split at the antimeridian where needed) and the temporal extent.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pystac

from ..atomic import replace_directory
from ..catalog import Catalog, Entry
from ..catalog.paths import is_url
from ..errors import GeoshelfError
from .extent import geometry, overall_bbox, parse_datetime, stac_bboxes

DATACUBE = "https://stac-extensions.github.io/datacube/v2.2.0/schema.json"
PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
XARRAY = "https://stac-extensions.github.io/xarray-assets/v1.0.0/schema.json"
#: Written into the root catalog so a later export may replace the directory (and nothing else).
MARKER = "geoshelf:export"
#: Entries with more original files than this list them as one count, not as assets.
MAX_SOURCE_ASSETS = 100

MEDIA_TYPES: dict[str, str] = {
    "zarr": "application/vnd+zarr",
    "references-json": "application/json",
    "references-parquet": "application/vnd.apache.parquet",
    "cog": pystac.MediaType.COG,
    "parquet": "application/vnd.apache.parquet",
    "netcdf": "application/netcdf",
    "geotiff": pystac.MediaType.GEOTIFF,
    "csv": "text/csv",
    "grib": "application/wmo-GRIB2",
}


@dataclass(kw_only=True)
class ExportSummary:
    """What an export wrote."""

    root: Path
    collections: int = 0
    items: int = 0
    assets: int = 0
    #: Entries exported from catalog metadata only (their data could not be opened), with the reason.
    metadata_only: dict[str, str] = field(default_factory=dict)


# -- datacube --------------------------------------------------------------------------------------

def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        text = value.isoformat()
    else:
        text = str(np.datetime_as_string(np.datetime64(value, "s")))
    return text[:19] + "Z"


def _axis(name: str, coord: Any) -> str | None:
    std = str(coord.attrs.get("standard_name", ""))
    axis = str(coord.attrs.get("axis", "")).upper()
    if name in ("lon", "longitude", "x") or std in ("longitude", "projection_x_coordinate") or axis == "X":
        return "x"
    if name in ("lat", "latitude", "y") or std in ("latitude", "projection_y_coordinate") or axis == "Y":
        return "y"
    if axis == "Z" or coord.attrs.get("positive") in ("up", "down"):
        return "z"
    return None


def datacube_fields(obj: Any, entry: Entry) -> dict[str, Any]:
    """``cube:dimensions`` and ``cube:variables`` of an opened xarray object."""
    # deferred: xarray costs ~0.7 s at server start-up (serve.stacapi imports this); only opened entries reach here
    import xarray as xr

    ds = obj.to_dataset(name=obj.name or "band_data") if isinstance(obj, xr.DataArray) else obj
    dims: dict[str, Any] = {}
    for name in ds.dims:
        coord = ds[name] if name in ds.coords else None
        dim: dict[str, Any] = {}
        if coord is not None and coord.size and (np.issubdtype(coord.dtype, np.datetime64) or coord.dtype == object):
            try:
                dim = {"type": "temporal", "extent": [_iso(coord.values.min()), _iso(coord.values.max())]}
            except (TypeError, ValueError):
                dim = {}
        elif coord is not None and coord.size and np.issubdtype(coord.dtype, np.number):
            axis = _axis(str(name), coord)
            lo, hi = float(coord.min()), float(coord.max())
            if axis in ("x", "y"):
                dim = {"type": "spatial", "axis": axis, "extent": [lo, hi]}
                if entry.crs:
                    dim["reference_system"] = _epsg(entry.crs) or entry.crs
            elif axis == "z":
                dim = {"type": "spatial", "axis": "z", "extent": [lo, hi]}
            else:
                dim = {"type": "other", "extent": [lo, hi]}
            if coord.attrs.get("units"):
                dim["unit"] = str(coord.attrs["units"])
            if coord.size <= 1000 and axis not in ("x", "y"):
                dim["values"] = [float(v) for v in coord.values]
        if not dim:
            dim = {"type": "other", "description": f"{int(ds.sizes[name])} positions"}
        dims[str(name)] = dim
    variables: dict[str, Any] = {}
    for name, var in ds.data_vars.items():
        if name == "spatial_ref":
            continue
        v: dict[str, Any] = {"dimensions": [str(d) for d in var.dims], "type": "data"}
        if var.attrs.get("units"):
            v["unit"] = str(var.attrs["units"])
        if var.attrs.get("long_name"):
            v["description"] = str(var.attrs["long_name"])
        variables[str(name)] = v
    for name in ds.coords:
        if name not in ds.dims and name != "spatial_ref":
            variables[str(name)] = {"dimensions": [str(d) for d in ds[name].dims], "type": "auxiliary"}
    return {"cube:dimensions": dims, "cube:variables": variables}


def _epsg(crs: str) -> int | None:
    text = crs.strip().upper()
    if text.startswith("EPSG:") and text[5:].isdigit():
        return int(text[5:])
    return None


# -- assets ---------------------------------------------------------------------------------------------

def _href(entry: Entry, path: str) -> str:
    resolved = entry.resolve(path)
    return resolved if is_url(resolved) else os.path.abspath(resolved)


def representation_assets(entry: Entry) -> dict[str, pystac.Asset]:
    """One asset per converted representation, with media type, roles and xarray open arguments."""
    out: dict[str, pystac.Asset] = {}
    for rep in entry.representations:
        href = _href(entry, rep.path)
        extra: dict[str, Any] = {"geoshelf:format": rep.format or rep.kind}
        if rep.provenance is not None:
            extra["geoshelf:validation"] = rep.provenance.validation
            if rep.provenance.finished:
                extra["geoshelf:created"] = rep.provenance.finished
        if rep.kind == "zarr":
            media, roles = MEDIA_TYPES["zarr"], ["data", "zarr"]
            extra["xarray:open_kwargs"] = {"engine": "zarr", "chunks": {},
                                           "consolidated": bool(rep.options.get("consolidated", True))}
        elif rep.kind == "references":
            store = str(rep.options.get("store", "json"))
            media, roles = MEDIA_TYPES[f"references-{store}"], ["references", "index"]
            source = entry.resolve(entry.original.path)
            protocol = source.split("://", 1)[0] if "://" in source else "file"
            # kerchunk's xarray engine: storage_options go to the reference file system
            extra["xarray:open_kwargs"] = {"engine": "kerchunk", "chunks": {},
                                           "storage_options": {"remote_protocol": protocol}}
        elif rep.kind == "cog":  # a directory of COG files (tiles, or one field per time step)
            tifs = sorted(Path(href).glob("*.tif")) if not is_url(href) else []
            for tif in tifs[:MAX_SOURCE_ASSETS]:
                key = "cog" if len(tifs) == 1 else f"cog-{tif.stem}"
                out[key] = pystac.Asset(href=str(tif), media_type=MEDIA_TYPES["cog"], roles=["data"],
                                        title=f"{entry.name}: COG {tif.name}",
                                        extra_fields={**extra, "xarray:open_kwargs": {"engine": "rasterio",
                                                                                      "chunks": {}}})
            continue
        elif rep.kind == "parquet":
            media, roles = MEDIA_TYPES["parquet"], ["data"]
        else:  # a third-party target: say what it is, without guessing how to open it
            media, roles = "application/octet-stream", ["data"]
        out[rep.kind] = pystac.Asset(href=href, media_type=media, roles=roles,
                                     title=f"{entry.name}: {rep.kind} ({rep.format or rep.kind})",
                                     extra_fields=extra)
    return out


def source_assets(entry: Entry, files: list[str]) -> dict[str, pystac.Asset]:
    """The original files as assets (role ``source``), up to :data:`MAX_SOURCE_ASSETS`."""
    if len(files) > MAX_SOURCE_ASSETS:
        return {}
    media = MEDIA_TYPES.get(entry.format, "application/octet-stream")
    out: dict[str, pystac.Asset] = {}
    width = len(str(len(files)))
    for i, f in enumerate(files):
        extra: dict[str, Any] = {}
        if entry.format == "netcdf":
            engine = (entry.args.get("xarray_kwargs") or {}).get("engine")
            extra["xarray:open_kwargs"] = {"chunks": {}, **({"engine": engine} if engine else {})}
        elif entry.format == "geotiff":
            extra["xarray:open_kwargs"] = {"engine": "rasterio", "chunks": {}}
        key = "source" if len(files) == 1 else f"source-{i:0{width}d}"
        out[key] = pystac.Asset(href=_href(entry, f), media_type=media, roles=["data", "source"],
                                title=os.path.basename(f), extra_fields=extra)
    return out


# -- items and collections ------------------------------------------------------------------------------

def _when(entry: Entry, files: list[str]) -> tuple[_dt.datetime | None, _dt.datetime | None, _dt.datetime | None]:
    """(datetime, start, end) of an entry: its time range, else the newest modification time of its files."""
    if entry.time_range:
        start, end = parse_datetime(entry.time_range[0]), parse_datetime(entry.time_range[1])
        if start and end:
            return None, start, end
    mtimes = [os.stat(f).st_mtime for f in files if not is_url(f) and os.path.exists(f)]
    stamp = _dt.datetime.fromtimestamp(max(mtimes), _dt.UTC) if mtimes else \
        _dt.datetime.now(_dt.UTC)
    return stamp.replace(microsecond=0), None, None


def entry_collection(qualified: str, entry: Entry, summary: ExportSummary) -> pystac.Collection:
    """The STAC Collection (with its one Item) of an entry."""
    try:
        files = entry.source_files(must_exist=False)
    except GeoshelfError:
        files = []
    cube: dict[str, Any] = {}
    try:
        obj = entry.to_dask()
        if hasattr(obj, "dims") or hasattr(obj, "data_vars"):
            cube = datacube_fields(obj, entry)
    except GeoshelfError as exc:
        summary.metadata_only[qualified] = str(exc)
    bbox = entry.bbox or (-180.0, -90.0, 180.0, 90.0)
    dt, start, end = _when(entry, files)
    item_id = qualified
    props: dict[str, Any] = {"title": entry.description or entry.name}
    if entry.description:
        props["description"] = entry.description
    if entry.crs:
        props["proj:code"] = entry.crs if ":" in entry.crs else f"EPSG:{entry.crs}"
    props.update(cube)
    if entry.facets:
        props["geoshelf:facets"] = dict(entry.facets)
    props["geoshelf:files"] = entry.files
    props["geoshelf:bytes"] = entry.bytes
    if entry.tags:
        props["keywords"] = list(entry.tags)
    item = pystac.Item(id=item_id, geometry=geometry(bbox) if entry.bbox else None,
                       bbox=overall_bbox(bbox) if entry.bbox else None, datetime=dt,
                       start_datetime=start, end_datetime=end, properties=props)
    extensions = [XARRAY]
    if cube:
        extensions.append(DATACUBE)
    if entry.crs:
        extensions.append(PROJECTION)
    item.stac_extensions = extensions
    for key, asset in {**representation_assets(entry), **source_assets(entry, files)}.items():
        item.add_asset(key, asset)
    summary.assets += len(item.assets)
    parts = stac_bboxes(bbox)
    # split at the antimeridian: the whole longitude range first (validators check that the other boxes
    # lie inside the first one, which a west > east box defeats), then the two precise boxes
    spatial = [list(parts[0])] if len(parts) == 1 else [[-180.0, bbox[1], 180.0, bbox[3]]] + [list(b) for b in parts]
    temporal = [[start, end]] if start else [[dt, dt]]
    coll = pystac.Collection(
        id=qualified, description=entry.description or f"geoshelf entry {qualified}",
        title=entry.description or entry.name,
        extent=pystac.Extent(pystac.SpatialExtent(spatial), pystac.TemporalExtent(temporal)),
        license=entry.license or "other", keywords=list(entry.tags) or None,
        extra_fields={k: v for k, v in cube.items()},
    )
    coll.stac_extensions = [DATACUBE] if cube else []
    if entry.contact:
        coll.providers = [pystac.Provider(name=entry.contact, roles=[pystac.ProviderRole.HOST])]
    coll.add_item(item)
    summary.collections += 1
    summary.items += 1
    return coll


def _walk(cat: Catalog, prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """(kind, qualified name, object): entries and included catalogs, in file order."""
    for name in cat:
        item = cat[name]
        yield ("catalog" if isinstance(item, Catalog) else "entry"), prefix + name, item


def build(cat: Catalog, summary: ExportSummary, prefix: str = "") -> pystac.Catalog:
    """The STAC tree of a geoshelf catalog (included catalogs become child catalogs)."""
    root = pystac.Catalog(id=cat.name if not prefix else prefix.rstrip("."),
                          description=cat.description or f"geoshelf catalog {cat.path.name}",
                          title=cat.description or cat.name)
    for kind, qualified, obj in _walk(cat, prefix):
        if kind == "catalog":
            root.add_child(build(obj, summary, qualified + "."))
        else:
            root.add_child(entry_collection(qualified, obj, summary))
    return root


def _check_output(out: Path) -> None:
    """OUT must not exist, be empty, or hold an earlier geoshelf export (nothing else is replaced)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise GeoshelfError(f"{out}: exists and is not a directory; choose another output")
    if not any(out.iterdir()):
        return
    root = out / "catalog.json"
    try:
        marked = json.loads(root.read_text()).get(MARKER) is True
    except (OSError, ValueError):
        marked = False
    if not marked:
        raise GeoshelfError(f"{out}: exists and is not a geoshelf STAC export; refusing to replace it "
                            "(choose a new directory)")


def export_stac(cat: Catalog, out: str | os.PathLike[str]) -> ExportSummary:
    """Write ``cat`` as a self-contained static STAC catalog into ``out`` (replaced atomically)."""
    target = Path(out).absolute()
    _check_output(target)
    summary = ExportSummary(root=target / "catalog.json")
    tree = build(cat, summary)
    tree.extra_fields[MARKER] = True
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        tree.normalize_hrefs(str(partial))
        tree.save(catalog_type=pystac.CatalogType.SELF_CONTAINED, dest_href=str(partial))
        replace_directory(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return summary
