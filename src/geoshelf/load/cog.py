"""Opening a COG representation lazily: a mosaic of tiles, or fields stacked along time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..catalog.model import Entry, Representation
from ..errors import GeoshelfError
from .original import open_geotiff


def open_cog_representation(entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
    """COGs from tiles -> the same mosaic the original loader gives; from NetCDF -> a time stack."""
    files = sorted(str(p) for p in Path(entry.resolve(rep.path)).glob("*.tif"))
    if not files:
        raise GeoshelfError(f"{rep.path}: no COG files")
    if rep.options.get("source_format") != "netcdf":
        return open_geotiff(files, chunks=chunks, **kwargs)
    arrays = []
    for f in files:
        da = open_geotiff([f], chunks=chunks, masked=True, **kwargs).squeeze("band", drop=True)
        stamp = Path(f).stem.rsplit("_", 1)[-1]
        t = np.datetime64("NaT", "ns") if stamp == "none" else np.datetime64(
            f"{stamp[:13]}:{stamp[13:15]}:{stamp[15:17]}" if len(stamp) >= 17 else stamp)
        arrays.append(da.expand_dims(time=[t]))
    return xr.concat(arrays, dim="time")
