"""Picking the 2-D field a quicklook shows: one variable, one time step, the first of any other dimension."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..catalog import Entry
from ..errors import GeoshelfError

_Y = ("lat", "latitude", "y", "rlat", "nlat", "j")
_X = ("lon", "longitude", "x", "rlon", "nlon", "i")
#: Quicklooks never read more than this many values (larger fields are strided).
MAX_VALUES = 4_000_000


def _as_dataset(obj: Any) -> Any:
    # deferred: xarray costs ~0.7 s at server start-up; only a field view of an opened entry needs it
    import xarray as xr

    if isinstance(obj, xr.DataArray):
        return obj.to_dataset(name=obj.name or "band_data")
    if not isinstance(obj, xr.Dataset):
        raise GeoshelfError("a table has no map to show")
    return obj


def time_labels(entry: Entry, ds: Any | None = None) -> list[str]:
    """The entry's time steps as short ISO strings (empty without a time dimension)."""
    ds = _as_dataset(entry.to_dask()) if ds is None else ds
    if "time" not in ds.dims or "time" not in ds.coords:
        return []
    return [str(np.datetime_as_string(v, unit="s")) if isinstance(v, np.datetime64) else str(v)[:19]
            for v in ds["time"].values]


def variable_dims(entry: Entry) -> dict[str, list[str]]:
    """Each variable's dimensions (opens the entry lazily)."""
    ds = _as_dataset(entry.to_dask())
    return {str(k): [str(d) for d in v.dims] for k, v in ds.data_vars.items()}


def pick_field(entry: Entry, variable: str | None, index: int = 0) -> tuple[Any, str | None]:
    """(a computed 2-D DataArray y x x, the time label) for a quicklook; GeoshelfError when there is none."""
    ds = _as_dataset(entry.to_dask())
    names = [v for v in ds.data_vars if v != "spatial_ref"]
    if not names:
        raise GeoshelfError(f"{entry.name}: no variable to show")
    var = variable if variable is not None else names[0]
    if var not in ds.data_vars:
        raise GeoshelfError(f"{entry.name}: no variable {var!r} (variables: {', '.join(map(str, names))})")
    da = ds[var]
    ydim = next((d for d in da.dims if str(d) in _Y), None)
    xdim = next((d for d in da.dims if str(d) in _X), None)
    if ydim is None or xdim is None:
        if da.ndim < 2:
            raise GeoshelfError(f"{entry.name}: {var!r} has no two spatial dimensions to draw")
        ydim, xdim = da.dims[-2], da.dims[-1]
    label = None
    for dim in da.dims:
        if dim in (ydim, xdim):
            continue
        n = int(da.sizes[dim])
        i = min(max(int(index), 0), n - 1) if dim == "time" else 0
        if dim == "time" and "time" in da.coords:
            v = da["time"].values[i]
            label = str(np.datetime_as_string(v, unit="s")) if isinstance(v, np.datetime64) else str(v)[:19]
        da = da.isel({dim: i})
    step = 1
    while (da.sizes[ydim] // step) * (da.sizes[xdim] // step) > MAX_VALUES:
        step *= 2
    if step > 1:
        da = da.isel({ydim: slice(None, None, step), xdim: slice(None, None, step)})
    return da.transpose(ydim, xdim).compute(), label
