"""Opening a Zarr representation lazily (consolidated metadata: one read)."""

from __future__ import annotations

import warnings
from typing import Any

import xarray as xr

from ..catalog.model import Entry, Representation
from ..errors import GeoshelfError


def open_zarr_representation(entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
    """The Zarr store as a lazily chunked Dataset (a DataArray for rasters)."""
    path = entry.resolve(rep.path)
    options = dict(rep.options)
    raster = options.pop("raster_variable", None)
    consolidated = options.pop("consolidated", None)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Consolidated metadata.*")
            if raster:
                kwargs.setdefault("mask_and_scale", False)  # nodata stays a value, as rioxarray gives it
            ds = xr.open_zarr(path, chunks=chunks if chunks is not None else {}, consolidated=consolidated,
                              storage_options=entry.options_for(path) if "://" in path else None, **kwargs)
    except (FileNotFoundError, OSError, ValueError, KeyError) as exc:
        raise GeoshelfError(f"{path}: cannot open Zarr representation of {entry.name!r}: {exc}") from None
    ds.attrs.pop("geoshelf_time_length", None)
    if raster:
        da = ds[raster]
        if "spatial_ref" in ds.coords:
            da = da.assign_coords(spatial_ref=ds["spatial_ref"])
        return da
    return ds
