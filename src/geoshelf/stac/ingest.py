"""``geoshelf stac import URL|PATH``: shelve the NetCDF, GeoTIFF/COG and Zarr assets of a static STAC catalog.

Each data asset of each Item becomes an entry (named after the Item, plus the asset key when the
Item has several data assets), scanned like ``geoshelf add`` does (metadata only is read).  Other
assets (thumbnails, metadata, reference files) are skipped.  A STAC catalog is untrusted input like
a catalog: only the files its assets name are read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pystac

from ..catalog import Catalog, add_entry, check_name
from ..catalog.paths import is_url
from ..errors import CatalogError, GeoshelfError, NameClashError, SourceError, one_line
from ..scan import scan

#: What an asset holds, from its media type (first) or its file name.
_KINDS = (
    ("zarr", ("application/vnd+zarr", "application/vnd.zarr"), (".zarr",)),
    ("netcdf", ("application/netcdf", "application/x-netcdf", "application/x-hdf5"), (".nc", ".nc4", ".cdf", ".h5")),
    ("geotiff", ("image/tiff; application=geotiff", "image/tiff"), (".tif", ".tiff")),
)


@dataclass(kw_only=True)
class ImportSummary:
    """Entries added, and assets skipped with the reason."""

    added: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def asset_kind(asset: pystac.Asset) -> str | None:
    """"zarr", "netcdf" or "geotiff" for a data asset geoshelf can shelve; None otherwise."""
    roles = set(asset.roles or [])
    if roles and not roles & {"data", "zarr", "source"}:
        return None  # thumbnails, overviews, metadata, references/index ...
    media = (asset.media_type or "").lower().replace(" ", "")
    for kind, medias, _suffixes in _KINDS:
        if any(media.startswith(m.replace(" ", "")) for m in medias):
            return kind
    if not media:
        name = asset.href.rstrip("/").lower()
        for kind, _medias, suffixes in _KINDS:
            if name.endswith(suffixes):
                return kind
    return None


def entry_name(item_id: str, key: str | None, prefix: str = "") -> str:
    """An entry name from an Item id (and asset key): invalid characters become ``_``."""
    raw = prefix + item_id + (f"-{key}" if key else "")
    name = re.sub(r"[^A-Za-z0-9_-]", "_", raw)
    if not name or not name[0].isalpha():
        name = "s_" + name
    return check_name(name[:200])


def _items(obj: pystac.STACObject) -> Iterator[pystac.Item]:
    if isinstance(obj, pystac.Item):
        yield obj
    elif isinstance(obj, pystac.Catalog):
        yield from obj.get_items(recursive=True)


def import_stac(source: str, catalog_path: str | os.PathLike[str], *, prefix: str = "",
                tags: tuple[str, ...] = ()) -> ImportSummary:
    """Add an entry to ``catalog_path`` for every shelvable asset of the STAC catalog/collection/item at ``source``."""
    try:
        root = pystac.read_file(source)
    except Exception as exc:  # noqa: BLE001 - pystac raises many kinds on bad input
        raise SourceError(f"{source}: not a readable STAC catalog, collection or item: "
                          f"{one_line(exc, 200)}") from None
    cat_path = Path(catalog_path).absolute()
    summary = ImportSummary()
    existing = set(Catalog(cat_path)) if cat_path.exists() else set()
    for item in _items(root):
        data = {k: a for k, a in item.assets.items() if asset_kind(a)}
        for key, asset in data.items():
            href = asset.get_absolute_href() or asset.href
            where = f"{item.id}/{key}"
            try:
                name = entry_name(item.id, key if len(data) > 1 else None, prefix)
            except CatalogError as exc:
                summary.skipped.append((where, str(exc)))
                continue
            if name in existing:
                summary.skipped.append((where, f"an entry named {name!r} exists already"))
                continue
            path = href[len("file://"):] if href.startswith("file://") else href
            if not is_url(path):
                path = os.path.normpath(path)
            facets = {"stac_item": item.id}
            if item.collection_id:
                facets["stac_collection"] = item.collection_id
            description = str(item.properties.get("title") or item.properties.get("description") or
                              asset.title or item.id)
            try:
                entry = scan([path], name, catalog_dir=str(cat_path.parent), description=description,
                             tags=list(tags), facets=facets)
                add_entry(cat_path, entry)
            except NameClashError as exc:
                summary.skipped.append((where, str(exc)))
                continue
            except GeoshelfError as exc:
                summary.skipped.append((where, str(exc)))
                continue
            existing.add(name)
            summary.added.append(name)
    return summary
