"""Opening a COG representation lazily: a mosaic of tiles, or fields stacked along time."""

from __future__ import annotations

import urllib.parse
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import xarray as xr

from ..catalog.model import Entry, Representation
from ..catalog.paths import is_url
from ..errors import GeoshelfError
from .listed import listed_urls
from .original import open_geotiff


def open_cog_representation(entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> xr.Dataset:
    """COGs from tiles -> the same mosaic Dataset the original loader gives; from NetCDF -> the
    variable's fields stacked along time, as a Dataset holding that variable (``NAME_STAMP.tif``)."""
    files = cog_files(entry, rep)
    if not files:
        raise GeoshelfError(f"{rep.path}: no COG files")
    if rep.options.get("source_format") != "netcdf":
        return open_geotiff(files, chunks=chunks, **kwargs)
    fields: dict[str, list[xr.DataArray]] = {}
    for f in files:
        name, stamp = PurePosixPath(urllib.parse.unquote(f)).stem.rsplit("_", 1)
        da = open_geotiff([f], chunks=chunks, **kwargs)["band_data"].squeeze("band", drop=True)
        t = np.datetime64("NaT", "ns") if stamp == "none" else np.datetime64(
            f"{stamp[:13]}:{stamp[13:15]}:{stamp[15:17]}" if len(stamp) >= 17 else stamp)
        fields.setdefault(name, []).append(da.expand_dims(time=[t]))
    return xr.Dataset({name: xr.concat(arrays, dim="time") for name, arrays in fields.items()})


def cog_files(entry: Entry, rep: Representation) -> list[str]:
    """The COG files of a representation: those its ``files`` option lists (how a served catalog
    names them: a URL has no directory listing), else every ``*.tif`` of its local directory."""
    root = entry.resolve(rep.path)
    if is_url(root):
        return listed_urls(rep, root, "COG")
    names = rep.options.get("files")
    if names:
        return [str(Path(root) / n) for n in names]
    return sorted(str(p) for p in Path(root).glob("*.tif"))
