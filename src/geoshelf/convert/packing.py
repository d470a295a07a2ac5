"""Whether CF packing (``scale_factor``, ``add_offset``) unpacks the same once stored as JSON.

CF unpacks values in the type of their packing attributes, and xarray does so: ``int16`` values
with a ``float32`` scale factor decode to ``float32`` (-165 * 0.01f = -1.65f = -1.649999976).  Zarr
attributes and kerchunk references are JSON, whose numbers every reader reads back as float64;
the same integers then decode in float64, to other values (-1.649999963).  Whether that happens is
decided here by xarray's own decoding of both forms of the attributes (so int32 values, which xarray
unpacks to float64 whatever the attribute type, are not affected).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

KEYS = ("scale_factor", "add_offset")


def _unpacked_dtype(stored: np.dtype, attrs: dict[str, Any]) -> np.dtype:
    var = xr.Variable((), np.zeros((), stored), attrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decoded: xr.Variable = xr.conventions.decode_cf_variable("v", var, decode_times=False)
    dtype: np.dtype = np.dtype(str(decoded.dtype))
    return dtype


def _scalar(value: Any) -> Any:
    """A one-element attribute as the numpy scalar xarray's decoding sees (its type decides the dtype)."""
    arr = np.asarray(value)
    return arr.reshape(-1)[0] if arr.size == 1 and arr.dtype.kind in "iuf" else value


def json_exact_packing(stored: Any, attrs: Mapping[str, Any]) -> bool:
    """True when values stored as ``stored`` with the packing attributes ``attrs`` (typed, as the
    source holds them) unpack to the same dtype, hence the same values, when the attributes are
    read back from JSON as Python numbers."""
    packing = {k: _scalar(attrs[k]) for k in KEYS if attrs.get(k) is not None}
    if not packing or stored is None:
        return True
    dtype = np.dtype(stored)
    if dtype.kind not in "iuf":
        return True
    try:
        as_json = {k: np.asarray(v).tolist() for k, v in packing.items()}
        return _unpacked_dtype(dtype, packing) == _unpacked_dtype(dtype, as_json)
    except (TypeError, ValueError):  # not numbers: refused elsewhere (scan.check_decodable)
        return True


__all__ = ["json_exact_packing"]
